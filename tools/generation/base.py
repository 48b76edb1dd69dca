"""The generator protocol: what every audio backend takes, promises and returns.

Nodes and the windowing layer talk only to this protocol, so a backend (MMAudio, a diffusers
pipeline, the procedural synthesizer, text-to-speech) can be swapped by name in the run's context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class GenerationRequest:
    """One sound to render: text conditioning, length, seed and, for video-to-audio, a span.

    ``video_path`` and ``video_span`` (seconds from the start of the video) let a video-to-audio
    backend see the picture; text-only backends ignore them. ``onsets`` are seconds from the
    start of the request where visual motion peaks, for backends that place events themselves.
    ``voice`` picks a text-to-speech voice for narration (empty: the backend's default).
    """

    text: str
    duration: float
    seed: int
    family: str = "room_tone"
    layer: str = "background"
    negative_text: str = "music"
    video_path: str | None = None
    video_span: tuple[float, float] | None = None
    onsets: tuple[float, ...] = ()
    intensity: float = 1.0
    voice: str = ""

    def key(self) -> dict:
        """The fields that decide the audio, for naming the file by its inputs."""
        return asdict(self)

    def with_seed(self, seed: int) -> GenerationRequest:
        return replace(self, seed=seed)


@dataclass(frozen=True)
class GeneratorCapabilities:
    """What a backend can do, so callers choose windows, batches and conditioning for it.

    ``window_seconds`` is the longest clip the backend renders well in one call (``None``: any
    length); longer requests are split into overlapping windows by
    ``lvas.tools.generation.windowing``.
    """

    video_to_audio: bool
    text_to_audio: bool
    sample_rate: int
    window_seconds: float | None = None
    max_batch: int = 1
    speech: bool = False
    device: str = "cpu"


@runtime_checkable
class AudioGenerator(Protocol):
    """A backend that renders requests into WAV files (written atomically)."""

    name: str
    version: str

    @property
    def capabilities(self) -> GeneratorCapabilities: ...

    def render(self, request: GenerationRequest, out_path: Path) -> Path:
        """Render one request into a WAV file at ``out_path``."""
        ...

    def render_batch(
        self, requests: Sequence[GenerationRequest], out_paths: Sequence[Path]
    ) -> list[Path]:
        """Render several requests; model backends run them as one batch on the device."""
        ...


class SequentialBatchMixin:
    """``render_batch`` as a loop over ``render``, for backends with nothing to batch."""

    def render_batch(
        self, requests: Sequence[GenerationRequest], out_paths: Sequence[Path]
    ) -> list[Path]:
        if len(requests) != len(out_paths):
            raise ValueError("render_batch needs one output path per request")
        return [self.render(r, Path(p)) for r, p in zip(requests, out_paths, strict=True)]  # type: ignore[attr-defined]
