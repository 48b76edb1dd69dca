"""The offline default: recipes per sound family, no model, no GPU, any length in one pass."""

from __future__ import annotations

from pathlib import Path

from lvas.tools.generation.base import (
    GenerationRequest,
    GeneratorCapabilities,
    SequentialBatchMixin,
)


class ProceduralGenerator(SequentialBatchMixin):
    """Renders a request with the recipe of its family, varied by its seed."""

    name = "procedural"
    version = "1"

    def __init__(self, sample_rate: int = 48000) -> None:
        self.capabilities = GeneratorCapabilities(
            video_to_audio=False, text_to_audio=True, sample_rate=sample_rate
        )

    @property
    def sample_rate(self) -> int:
        return self.capabilities.sample_rate

    def render(self, request: GenerationRequest, out_path: Path) -> Path:
        from lvas.tools.generation.procedural import render_to_wav

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
