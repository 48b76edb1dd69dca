"""Long audio cut into the windows the model metrics score, streamed and resampled.

Every model metric scores a file as av-benchmark scores a clip of ``CLIP_SECONDS`` (its
``--audio_length=10``): windows start every 10 s; when the file does not end on a window
boundary and at least ``MIN_TAIL_SECONDS`` are left over, one more window ends at the file's
end (overlapping the one before), so the whole file is scored with full windows. A file
shorter than 10 s (but at least ``MIN_TAIL_SECONDS`` long) is one window holding all of it,
which each model then pads as av-benchmark does (PaSST with zeros to 10 s, CLAP by repeating).

The file is read block by block (soundfile), mixed to mono (mean of the channels) and, when
its rate is not the model's, resampled with soxr's streaming resampler (``ResampleStream``,
quality "HQ"): it keeps its filter state across blocks, so the result does not depend on the
block size and memory stays at a window or two, whatever the file's length. av-benchmark
resamples with torchaudio's windowed sinc (not installed here: it would bring a torch of its
own); the two differ only near the Nyquist frequency, and files already at the model's rate
pass through untouched.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from lvas.tools.evaluation.streaming import iter_mono

CLIP_SECONDS = 10.0
MIN_TAIL_SECONDS = 1.0


@dataclass(frozen=True)
class Window:
    """One window: where it starts in the file (seconds) and its mono samples (float32)."""

    start: float
    samples: np.ndarray


def window_starts(total: int, length: int, min_tail: int) -> list[int]:
    """Start of each window (in samples) over a signal of ``total`` samples."""
    if total < max(min_tail, 1):
        return []
    if total <= length:
        return [0]
    starts = list(range(0, total - length + 1, length))
    if total - (starts[-1] + length) >= min_tail:
        starts.append(total - length)
    return starts


class _Resampler:
    """soxr's streaming resampler, or nothing when the rates agree."""

    def __init__(self, rate_in: int, rate_out: int) -> None:
        self._stream = None
        if rate_in != rate_out:
            import soxr

            self._stream = soxr.ResampleStream(rate_in, rate_out, 1, dtype="float32",
                                               quality="HQ")

    def __call__(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        block = np.ascontiguousarray(block, dtype=np.float32)
        if self._stream is None:
            return block
        return np.asarray(self._stream.resample_chunk(block, last=last), dtype=np.float32)


def planned_windows(path: str | os.PathLike[str], rate: int,
                    length_seconds: float = CLIP_SECONDS, max_seconds: float | None = None,
                    ) -> list[tuple[int, int]]:
    """(start, length) in samples at ``rate`` of each window of the file (its first
    ``max_seconds`` when given), known before reading it."""
    import soundfile as sf

    info = sf.info(str(path))
    total = int(round(info.frames * rate / info.samplerate))
    if max_seconds is not None:
        total = min(total, int(round(max_seconds * rate)))
    length = int(round(length_seconds * rate))
    starts = window_starts(total, length, int(round(MIN_TAIL_SECONDS * rate)))
    return [(s, min(length, total - s)) for s in starts]


def iter_windows(path: str | os.PathLike[str], rate: int, length_seconds: float = CLIP_SECONDS,
                 *, max_seconds: float | None = None, block_seconds: float = 10.0,
                 ) -> Iterator[Window]:
    """The file's windows at ``rate``, in order, read and resampled block by block.

    The resampler's output can end a sample or two short of ``frames · rate / rate_in``; a
    window reaching past it is completed with zeros.
    """
    import soundfile as sf

    plan = planned_windows(path, rate, length_seconds, max_seconds)
    if not plan:
        return
    resample = _Resampler(int(sf.info(str(path)).samplerate), rate)
    buf = np.zeros(0, dtype=np.float32)
    buf_start = 0  # sample index of buf[0]
    todo = list(plan)

    def chunks() -> Iterator[np.ndarray]:
        for block in iter_mono(path, block_seconds):
            yield resample(block)
            if buf_start + len(buf) >= todo[-1][0] + todo[-1][1]:
                return  # past the last window (a file cut by max_seconds)
        yield resample(np.zeros(0, dtype=np.float32), last=True)

    for chunk in chunks():
        buf = np.concatenate([buf, chunk]) if len(buf) else chunk
        while todo and buf_start + len(buf) >= todo[0][0] + todo[0][1]:
            start, length = todo.pop(0)
            lo = start - buf_start
            yield Window(start / rate, buf[lo:lo + length].copy())
        if not todo:
            return
        drop = todo[0][0] - buf_start
        if drop > 0:
            buf, buf_start = buf[drop:], buf_start + drop
    for start, length in todo:
        lo = start - buf_start
        piece = buf[max(lo, 0):lo + length]
        yield Window(start / rate, np.concatenate(
            [piece, np.zeros(length - len(piece), dtype=np.float32)]))


def remove_dc(samples: np.ndarray) -> np.ndarray:
    """The window minus its mean, as av-benchmark's loader does for a whole clip."""
    x = np.asarray(samples, dtype=np.float32)
    return (x - np.float32(x.mean(dtype=np.float64))).astype(np.float32)
