"""Backends by name. Factories import their heavy modules only when called, so listing the
registry or running offline never imports torch models, diffusers or MMAudio.

Checks take the run's settings they depend on (the device, a program or model path) as
arguments, from the backend's constructor options (``lvas.tools.generation.options``); nothing
here reads the environment.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lvas.tools.common.errors import LVASInputError
from lvas.tools.generation.base import AudioGenerator


@dataclass(frozen=True)
class BackendEntry:
    """A registered backend: how to build it and how to tell whether it can run here."""

    name: str
    factory: str  # "module:callable", imported lazily
    available: str  # "module:callable" returning (bool, reason): can it run if asked for?
    # "module:callable" for whether ``auto`` may pick it (a model backend asked for by name
    # may run on the CPU, but ``auto`` takes it only where it is practical: on a GPU).
    auto_available: str = ""
    # Constructor options that ``available`` / ``auto_available`` take as keyword arguments.
    check_options: tuple[str, ...] = ()
    auto_options: tuple[str, ...] = ()

    def load(self) -> Callable[..., AudioGenerator]:
        return _resolve(self.factory)

    def check(self, options: Mapping[str, Any] | None = None, *, for_auto: bool = False
              ) -> tuple[bool, str]:
        """Whether it can run here with ``options`` (its constructor options), and why not."""
        use_auto = for_auto and bool(self.auto_available)
        spec = self.auto_available if use_auto else self.available
        wanted = self.auto_options if use_auto else self.check_options
        given = {name: options[name] for name in wanted if options and name in options}
        try:
            return _resolve(spec)(**given)
        except Exception as exc:  # noqa: BLE001 - a broken optional backend is "not available"
            return False, f"check failed: {exc}"


def _resolve(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def _always() -> tuple[bool, str]:
    return True, "built in"


_REGISTRY: dict[str, BackendEntry] = {}
# ``auto`` takes the first available backend in this order: best quality first.
AUTO_ORDER: list[str] = []


def register(entry: BackendEntry, *, auto_rank: int | None = None) -> None:
    """Add a backend; ``auto_rank`` places it in the ``auto`` order (None: never auto)."""
    _REGISTRY[entry.name] = entry
    if auto_rank is not None and entry.name not in AUTO_ORDER:
        AUTO_ORDER.insert(min(auto_rank, len(AUTO_ORDER)), entry.name)


register(
    BackendEntry("procedural", "lvas.tools.generation.procedural_backend:ProceduralGenerator",
                 "lvas.tools.generation.registry:_always"),
    auto_rank=0,
)
register(
    BackendEntry("stable-audio", "lvas.tools.generation.diffusers_backend:stable_audio",
                 "lvas.tools.generation.diffusers_backend:stable_audio_available",
                 "lvas.tools.generation.diffusers_backend:stable_audio_auto_available",
                 check_options=("model",), auto_options=("device", "model")),
    auto_rank=0,
)
register(
    BackendEntry("audioldm2", "lvas.tools.generation.diffusers_backend:audioldm2",
                 "lvas.tools.generation.diffusers_backend:audioldm2_available",
                 "lvas.tools.generation.diffusers_backend:audioldm2_auto_available",
                 check_options=("model",), auto_options=("device", "model")),
    auto_rank=1,
)
register(
    BackendEntry("mmaudio", "lvas.tools.generation.mmaudio_backend:MMAudioGenerator",
                 "lvas.tools.generation.mmaudio_backend:mmaudio_available",
                 check_options=("device",)),
    auto_rank=0,
)
# Text-to-speech voices narration only when a run asks for it: never picked by ``auto``.
register(BackendEntry("espeak", "lvas.tools.generation.tts:EspeakTTS",
                      "lvas.tools.generation.tts:espeak_available",
                      check_options=("executable",)))
register(BackendEntry("vits", "lvas.tools.generation.tts:TransformersTTS",
                      "lvas.tools.generation.tts:tts_available", check_options=("model",)))
# ``lvas batch`` sends every video's sounds to a pool of Ray actors serving one of the backends
# above: available only in a Ray job that started the pool, never picked by ``auto``.
register(BackendEntry("ray-pool", "lvas.tools.batch.generator_pool:RayPoolGenerator",
                      "lvas.tools.batch.generator_pool:pool_available", check_options=("actors",)))


def backend_names() -> list[str]:
    """Every registered backend, available here or not."""
    return list(_REGISTRY)


BackendOptions = Mapping[str, Mapping[str, Any]]
"""Constructor options per backend name (``options.all_generator_options`` makes them)."""


def backend_status(options: BackendOptions | None = None) -> dict[str, tuple[bool, str]]:
    """Whether each backend can run on this machine with its ``options``, and why not."""
    options = options or {}
    return {name: entry.check(options.get(name)) for name, entry in _REGISTRY.items()}


def available_generators(options: BackendOptions | None = None) -> list[str]:
    """Backends that can run on this machine, best first (``auto`` takes the first)."""
    options = options or {}
    return [name for name in AUTO_ORDER
            if _REGISTRY[name].check(options.get(name), for_auto=True)[0]]


def check_backend(name: str, options: Mapping[str, Any] | None = None) -> None:
    """Refuse, before any work, a backend that is unknown or cannot run on this machine with
    ``options`` (its constructor options: the device, a program or model to use)."""
    if name == "auto":
        return
    entry = _REGISTRY.get(name)
    if entry is None:
        raise LVASInputError(
            f"Unknown generator backend {name!r}; choose one of: auto, {', '.join(_REGISTRY)}."
        )
    ok, reason = entry.check(options)
    if not ok:
        raise LVASInputError(
            f"Generator backend {name!r} cannot run here: {reason}. "
            "Run 'lvas doctor' to see what is available, or choose 'procedural'."
        )


def get_generator(
    name: str = "auto", *, sample_rate: int = 48000, **options: Any
) -> AudioGenerator:
    """The generator called ``name``; ``auto`` gives the best one this machine can run with
    default settings (a run resolves ``auto`` with its own: ``options.generator_backend``)."""
    if name == "auto":
        name = available_generators()[0]
    check_backend(name, options)
    return _REGISTRY[name].load()(sample_rate=sample_rate, **options)
