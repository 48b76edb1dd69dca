"""Get the run's sound backend ready while the video is still being decoded.

The Storyboarder's decode leaves part of a core idle (the decoder's threads cannot fill two),
while the renders that follow it keep every core busy. What a backend must do before its first
render (the procedural backend's worker process imports numpy and scipy: about a second of
CPU) is cheaper in that idle time than in front of the renders.
"""

from __future__ import annotations

from typing import Any

from lvas.tools.generation.options import generator_backend


def start_backend_early(ctx: Any, audio_seconds: float) -> None:
    """Start what the run's backend will need for about ``audio_seconds`` of sound, in the
    background. Only the procedural backend has such a step (its render workers, which start
    only for a long run's worth of audio); a model backend loads its weights at its first
    render, as before."""
    if generator_backend(ctx) != "procedural":
        return
    from lvas.tools.generation.procedural_workers import shared_pool

    shared_pool().expect(audio_seconds)
