"""Pairing a soundtrack's windows with its video's frames, for the audio-visual metrics.

The windows of :mod:`windows` are laid over the shorter of the soundtrack and the video, so
window ``i`` of the sound and of the picture cover the same seconds; at ``fps`` a window
starting at ``t`` for ``L`` seconds takes frames ``round(t·fps)`` onwards, ``int(L·fps)`` of them
(av-benchmark's count for a clip of ``L`` seconds). Frames are read once, in order, and a
window's frames are handed over as soon as all of them have been read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from lvas.tools.evaluation.models.windows import CLIP_SECONDS, planned_windows

T = TypeVar("T")


def common_duration(audio: str | os.PathLike[str], video: str | os.PathLike[str]) -> float:
    """The shorter of the soundtrack's and the video's durations (seconds)."""
    import soundfile as sf

    from lvas.tools.video.probe import probe_video

    info = sf.info(str(audio))
    return min(info.frames / info.samplerate, probe_video(video).duration)


def windows_seconds(audio: str | os.PathLike[str], rate: int, duration: float,
                    ) -> list[tuple[float, float]]:
    """(start, length) in seconds of each window over ``duration`` (the audio's layout at
    ``rate``)."""
    return [(s / rate, n / rate) for s, n in planned_windows(audio, rate, CLIP_SECONDS,
                                                             duration)]


def frame_spans(windows: list[tuple[float, float]], fps: float) -> list[tuple[int, int]]:
    """(first frame index, frame count) of each window at ``fps``."""
    return [(int(round(start * fps)), int(length * fps + 1e-6)) for start, length in windows]


def group_frames(frames: Iterator[T], spans: list[tuple[int, int]],
                 prepare: Callable[[T], Any]) -> Iterator[tuple[int, list[Any]]]:
    """(window index, prepared frames) for each span, in order of their first frames; a
    span the video ends inside gets the frames there are. Only frames that a span not yet
    handed over needs are prepared and kept."""
    pending = sorted(range(len(spans)), key=lambda i: spans[i][0])
    kept: dict[int, Any] = {}
    for index, frame in enumerate(frames):
        if any(spans[i][0] <= index < spans[i][0] + spans[i][1] for i in pending):
            kept[index] = prepare(frame)
        while pending and index >= spans[pending[0]][0] + spans[pending[0]][1] - 1:
            i = pending.pop(0)
            first, count = spans[i]
            yield i, [kept[j] for j in range(first, first + count) if j in kept]
            low = min((spans[k][0] for k in pending), default=index + 1)
            kept = {j: f for j, f in kept.items() if j >= low}
        if not pending:
            return
    for i in pending:
        first, count = spans[i]
        yield i, [kept[j] for j in range(first, first + count) if j in kept]
