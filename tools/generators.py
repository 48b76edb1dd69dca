"""Audio generators behind one small protocol, chosen by name from a registry.

Nodes ask for a generator by the name in the run's context; they never know which backend
serves them. ``auto`` picks the best backend that can run on this machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from tools.errors import LVASInputError


@dataclass(frozen=True)
class GenerationRequest:
    """What to render: a labelled sound for a span of the video."""

    text: str
    family: str
    duration: float
    seed: int
    layer: str = "background"
    onsets: tuple[float, ...] = ()
    negative_text: str = "music"
    video_span: tuple[float, float] | None = None
    intensity: float = 1.0

    def key(self) -> dict:
        """The fields that decide the audio, for naming the file by its inputs."""
        return asdict(self)


class AudioGenerator(Protocol):
    name: str
    version: str
    sample_rate: int

    def render(self, request: GenerationRequest, out_path: Path) -> Path:
        """Render one request into a WAV file at ``out_path`` (written atomically)."""
        ...


class ProceduralGenerator:
    """The offline synthesizer: recipes per sound family, no model and no GPU."""

    name = "procedural"
    version = "1"

    def __init__(self, sample_rate: int = 48000) -> None:
        self.sample_rate = sample_rate

    def render(self, request: GenerationRequest, out_path: Path) -> Path:
        from tools.procedural import render_to_wav

        return render_to_wav(
            out_path,
            request.family,
            request.duration,
            sample_rate=self.sample_rate,
            seed=request.seed,
            layer=request.layer,
            onsets=request.onsets,
            intensity=request.intensity,
        )


_FACTORIES: dict[str, Callable[[int], AudioGenerator]] = {
    "procedural": ProceduralGenerator,
}
_AUTO_ORDER = ("procedural",)


def available_generators() -> list[str]:
    """Backends registered in this installation, best first."""
    return [name for name in _AUTO_ORDER if name in _FACTORIES]


def get_generator(name: str = "auto", *, sample_rate: int = 48000) -> AudioGenerator:
    """The generator called ``name``; ``auto`` gives the best one this machine can run."""
    if name == "auto":
        name = available_generators()[0]
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise LVASInputError(
            f"Unknown generator backend {name!r}; choose one of: auto, {', '.join(_FACTORIES)}."
        ) from None
    return factory(sample_rate)
