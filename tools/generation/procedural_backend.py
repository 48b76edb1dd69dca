"""The offline default: recipes per sound family, no model, no GPU, any length in one pass."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from lvas.tools.generation.base import GenerationRequest, GeneratorCapabilities


class ProceduralGenerator:
    """Renders a request with the recipe of its family, varied by its seed.

    The request's text (its label, or the Designer's description) may name more than its
    family: ``parts_of`` turns it into the families to mix (a thunderstorm is rain and thunder)
    and the surface a step or a hit lands on. Voices join a mix only when the text asks for
    them: the Designer lets a voiced label through only then, and the text is all of the
    Designer's rule that reaches a backend. Beds are stereo (decorrelated), events mono.
    """

    name = "procedural"
    version = "3"  # 2: floors, compounds, surfaces, stereo beds (issue 14); 3: uniform noise
    bed_channels = 2

    def __init__(self, sample_rate: int = 48000) -> None:
        from lvas.tools.generation.procedural_workers import usable_cpus

        # A batch is the windows of one long request (``render_windowed``): rendered at once,
        # one per CPU, they take a long bed (a one-shot scene's) off a single core.
        self.capabilities = GeneratorCapabilities(
            video_to_audio=False, text_to_audio=True, sample_rate=sample_rate,
            max_batch=usable_cpus(),
        )

    @property
    def sample_rate(self) -> int:
        return self.capabilities.sample_rate

    def render(self, request: GenerationRequest, out_path: Path) -> Path:
        """Render in a worker process of the shared pool, or here (``procedural_workers``):
        the same bytes either way."""
        from lvas.tools.generation.procedural_workers import render_clip, shared_pool

        job = partial(
            render_clip,
            str(out_path),
            request.text,
            request.family,
            request.layer,
            duration=request.duration,
            sample_rate=self.sample_rate,
            seed=request.seed,
            onsets=tuple(request.onsets),
            intensity=request.intensity,
            channels=self.bed_channels if request.layer == "background" else 1,
        )
        describe = f"{request.family} ({request.duration:g} s, {request.layer}) for {out_path}"
        return Path(shared_pool().run(job, request.duration, describe))

    def render_batch(
        self, requests: Sequence[GenerationRequest], out_paths: Sequence[Path]
    ) -> list[Path]:
        """Render the requests at once, each through the shared pool (a worker or this
        process's slot, whichever is free): the same bytes as one after another."""
        if len(requests) != len(out_paths):
            raise ValueError("render_batch needs one output path per request")
        if len(requests) <= 1:
            return [self.render(r, Path(p)) for r, p in zip(requests, out_paths, strict=True)]
        with ThreadPoolExecutor(max_workers=len(requests),
                                thread_name_prefix="lvas-procedural-batch") as threads:
            return list(threads.map(self.render, requests, [Path(p) for p in out_paths]))
