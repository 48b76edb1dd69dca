"""From a run's settings to one backend's constructor options.

Each backend takes only the options it understands; keeping the mapping here means the run's
context stays one flat form (what Studio shows) and no backend knows about it. The context is
also the only place that reads the environment (LVAS_DEVICE, LVAS_TTS_MODEL, ...): backends and
their availability checks get every setting from here, as arguments.
"""

from __future__ import annotations

from typing import Any

from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.paths import default_cache_dir

MODEL_BACKENDS = ("mmaudio", "stable-audio", "audioldm2")
TTS_BACKENDS = ("espeak", "vits")


# Backend -> (context field -> constructor argument); an empty (falsy) field is left to the
# backend's own default.
_OPTION_NAMES: dict[str, dict[str, str]] = {
    "mmaudio": {"generator_model": "variant", "generation_steps": "steps",
                "cfg_strength": "cfg_strength", "device": "device"},
    "stable-audio": {"generator_model": "model", "generation_steps": "steps",
                     "cfg_strength": "guidance_scale", "device": "device"},
    "audioldm2": {"generator_model": "model", "generation_steps": "steps",
                  "cfg_strength": "guidance_scale", "device": "device"},
    "espeak": {"espeak_path": "executable"},
    "vits": {"device": "device", "tts_model": "model"},
}
# Options that say where a backend finds its files, not how it sounds: left out of clip names.
_LOCATION_OPTIONS = frozenset({"weights_dir", "executable"})


def generator_options(ctx: Any, name: str) -> dict[str, Any]:
    """Constructor options of backend ``name`` from the run context ``ctx``."""
    options = {arg: getattr(ctx, field) for field, arg in _OPTION_NAMES.get(name, {}).items()
               if getattr(ctx, field)}
    if name == "mmaudio":
        options["window_seconds"] = ctx.window_seconds
        options["weights_dir"] = ctx.mmaudio_weights or str(
            default_cache_dir(ctx.index_dir) / "mmaudio")
    return options


def sound_options(ctx: Any, name: str) -> dict[str, Any]:
    """The options of backend ``name`` that shape its sound: part of every clip's name, so a
    clip is rendered anew when they change and reused when only a folder moved."""
    return {k: v for k, v in generator_options(ctx, name).items()
            if k not in _LOCATION_OPTIONS}


def all_generator_options(ctx: Any) -> dict[str, dict[str, Any]]:
    """Constructor options of every registered backend, for its availability checks."""
    from lvas.tools.generation.registry import backend_names

    return {name: generator_options(ctx, name) for name in backend_names()}


def generator_backend(ctx: Any) -> str:
    """The backend that renders this run's sounds: ``ctx.generator_backend``, with ``auto``
    resolved to the best one this machine can run with the run's settings (its device)."""
    if ctx.generator_backend != "auto":
        return str(ctx.generator_backend)
    from lvas.tools.generation.registry import available_generators

    return available_generators(all_generator_options(ctx))[0]


def check_run_backends(ctx: Any) -> None:
    """Refuse, before any work, a generator or voice named by the run that cannot run here
    with the run's settings (``auto`` always finds one; a missing ``auto`` voice is a warning
    later, not an error)."""
    from lvas.tools.generation.registry import check_backend

    for name in (ctx.generator_backend, ctx.narration):
        if name not in ("auto", "off"):
            check_backend(name, generator_options(ctx, name))


def narration_backend(setting: str, options: dict[str, dict[str, Any]] | None = None
                      ) -> str | None:
    """The text-to-speech backend for a run's ``narration`` setting (None: not voiced).

    ``auto`` takes espeak-ng when it is installed, else a VITS model when one is configured,
    else None (the run goes on and its warnings say how to get a voice); a backend named
    explicitly must be there. ``options`` are the backends' constructor options
    (:func:`all_generator_options`), which say which program or model to look for.
    """
    if setting == "off":
        return None
    if setting != "auto":
        if setting not in TTS_BACKENDS:
            raise LVASInputError(f"Unknown narration backend {setting!r}; choose one of: off, "
                                 f"auto, {', '.join(TTS_BACKENDS)}.")
        return setting
    from lvas.tools.generation.registry import backend_status

    status = backend_status(options)
    for name in TTS_BACKENDS:
        if status.get(name, (False, ""))[0]:
            return name
    return None


NO_VOICE_HINT = ("install espeak-ng (apt-get install espeak-ng, brew install espeak-ng) or set "
                 "tts_model (LVAS_TTS_MODEL) to a local VITS model")
