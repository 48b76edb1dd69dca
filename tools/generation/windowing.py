"""Long requests through short-window backends: overlapping windows joined with equal-power fades.

Models such as MMAudio render a few seconds well and drift or fail beyond that. A scene of any
length (0.1 s to hours) is cut into equal, overlapping windows; each window is rendered as its
own request (same text and conditioning, its own span of the video, a seed derived from the
request's), and the windows are joined while streaming to disk, so memory and temporary disk
stay at a few windows however long the scene.

The join is an equal-power crossfade (sin/cos): independent renders of a bed are uncorrelated,
so their powers add, and sin² + cos² = 1 keeps the level flat through every join, where a
linear fade would dip by 3 dB in the middle.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf

from lvas.tools.audio.audio_io import open_wav_writer
from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.paths import atomic_path
from lvas.tools.generation.base import AudioGenerator, GenerationRequest

FOREGROUND_CROSSFADE = 0.1
"""Seconds of crossfade between windows of a foreground request (beds fade over the overlap).

Foreground windows hold discrete events, and two windows render an event that falls in their
overlap twice, in two different takes. A long fade would sound both takes at once (a flam, or
comb filtering when they nearly align); a short fade at the middle of the overlap takes each
attack from one window only and still hides the switch (100 ms is far above the few
milliseconds a click needs). Each window still gets the overlap as lead-in context.
"""
_SHORT_TOLERANCE = 0.02  # seconds a window file may fall short before it counts as broken
_READ_BLOCK = 1 << 16  # frames per read while copying a window's body


@dataclass(frozen=True)
class Window:
    """One window of a long request, in seconds from the start of the request.

    ``own_start``/``own_end`` is the part this window stands for: the owned parts of all
    windows tile ``[0, duration)`` exactly. The crossfade with the previous window is
    ``fade_in`` seconds long and centred on ``own_start`` (with the next: ``fade_out``,
    centred on ``own_end``); both lie inside the overlap of the two windows.
    """

    index: int
    start: float
    end: float
    fade_in: float
    fade_out: float
    own_start: float
    own_end: float

    @property
    def duration(self) -> float:
        return self.end - self.start

    def gain(self, t: np.ndarray | float) -> np.ndarray:
        """Equal-power weight of this window at times ``t``: squares of all windows sum to 1."""
        t = np.asarray(t, dtype=np.float64)
        g = np.where((t >= self.own_start) & (t < self.own_end), 1.0, 0.0)
        if self.fade_in > 0:
            u = (t - (self.own_start - self.fade_in / 2)) / self.fade_in
            inside = (u >= 0) & (u < 1)
            g = np.where(inside, np.sin(0.5 * np.pi * u), g)
        if self.fade_out > 0:
            u = (t - (self.own_end - self.fade_out / 2)) / self.fade_out
            inside = (u >= 0) & (u < 1)
            g = np.where(inside, np.cos(0.5 * np.pi * u), g)
        return g


def _check_seconds(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise LVASInputError(f"{name} must be a finite number of seconds, got {value}.")
    return value


def plan_windows(
    duration: float, window: float, overlap: float, *, crossfade: float | None = None
) -> list[Window]:
    """Equal windows no longer than ``window`` that overlap by ``overlap`` and cover ``duration``.

    A request no longer than ``window`` is one window. A longer one gets
    ``n = ceil((duration - overlap) / (window - overlap))`` windows of length
    ``(duration + (n - 1) * overlap) / n`` (at most ``window``): the first starts at 0, the
    last ends exactly at ``duration``, so no window is longer than the model renders well and
    no more audio than needed is rendered. ``crossfade`` (default: the whole overlap) is the
    length of each join, centred in its overlap, and never more than the step between window
    starts (which only binds when the overlap is more than half the window). An overlap of 0
    butt-joins the windows, end to start with no fade (the "hard joins" of an ablation).
    """
    duration = _check_seconds("duration", duration)
    window = _check_seconds("window", window)
    overlap = _check_seconds("overlap", overlap)
    if duration <= 0:
        raise LVASInputError(f"duration must be more than 0 seconds, got {duration}.")
    if overlap < 0:
        raise LVASInputError(f"overlap must be 0 seconds or more, got {overlap}.")
    if window <= overlap:
        raise LVASInputError(
            f"window ({window} s) must be longer than the overlap ({overlap} s); "
            "shorten the overlap or use a longer window."
        )
    fade = overlap if crossfade is None else _check_seconds("crossfade", crossfade)
    if not 0 <= fade <= overlap:
        raise LVASInputError(f"crossfade must lie in [0, overlap={overlap}] seconds, got {fade}.")
    if duration <= window:
        return [Window(0, 0.0, duration, 0.0, 0.0, 0.0, duration)]
    n = math.ceil((duration - overlap) / (window - overlap))
    length = (duration + (n - 1) * overlap) / n
    step = length - overlap
    # When the overlap is more than half a window, a window's two fades would overlap each
    # other; keeping each fade within one step leaves at most two windows sounding at once.
    fade = min(fade, step)
    starts = [i * step for i in range(n)]
    ends = [min(s + length, duration) for s in starts]
    ends[-1] = duration
    # Each boundary is computed once and shared by both neighbours, so the owned parts tile.
    bounds = [0.0] + [(starts[i + 1] + ends[i]) / 2 for i in range(n - 1)] + [duration]
    return [
        Window(
            index=i,
            start=starts[i],
            end=ends[i],
            fade_in=fade if i > 0 else 0.0,
            fade_out=fade if i < n - 1 else 0.0,
            own_start=bounds[i],
            own_end=bounds[i + 1],
        )
        for i in range(n)
    ]


def derive_seed(seed: int, *parts: object) -> int:
    """A 32-bit seed for a part of a request (a window, a retry), stable across processes."""
    payload = repr((int(seed), *parts)).encode()
    return int(hashlib.sha256(payload).hexdigest()[:8], 16)


@dataclass(frozen=True)
class _Frames:
    """A window in frames: its span, and the crossfades with its neighbours."""

    start: int
    end: int
    fade_in: tuple[int, int]  # [lo, hi) shared with the previous window's fade_out
    fade_out: tuple[int, int]


def _frames(windows: Sequence[Window], sample_rate: int) -> list[_Frames]:
    sr = int(sample_rate)
    spans = [(round(w.start * sr), round(w.end * sr)) for w in windows]
    fades = []
    done = 0  # end of the previous fade: fades never overlap, whatever the rounding did
    for i in range(len(windows) - 1):
        w = windows[i]
        lo = round((w.own_end - w.fade_out / 2) * sr)
        hi = round((w.own_end + w.fade_out / 2) * sr)
        # Inside both windows, and after the previous fade.
        lo = max(lo, spans[i + 1][0], done)
        hi = max(min(hi, spans[i][1]), lo)
        fades.append((lo, hi))
        done = hi
    out = []
    for i, (s, e) in enumerate(spans):
        fin = fades[i - 1] if i > 0 else (s, s)
        fout = fades[i] if i < len(spans) - 1 else (e, e)
        out.append(_Frames(s, e, fin, fout))
    return out


def equal_power_fades(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(fade_out, fade_in) over ``n`` frames, sampled at frame centres: out² + in² = 1."""
    u = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1)
    return np.cos(0.5 * np.pi * u), np.sin(0.5 * np.pi * u)


def window_requests(
    request: GenerationRequest, windows: Sequence[Window], sample_rate: int
) -> list[GenerationRequest]:
    """One request per window: the same conditioning, the window's span, onsets and seed."""
    out = []
    for w, f in zip(windows, _frames(windows, sample_rate), strict=True):
        t0, t1 = f.start / sample_rate, f.end / sample_rate
        span = None
        if request.video_span is not None:
            v0 = float(request.video_span[0])
            span = (v0 + t0, v0 + t1)
        onsets = tuple(
            round(t - t0, 6) for t in request.onsets if t0 <= t < t1 and math.isfinite(t)
        )
        out.append(
            replace(
                request,
                duration=(f.end - f.start) / sample_rate,
                seed=derive_seed(request.seed, "window", w.index),
                video_span=span,
                onsets=onsets,
            )
        )
    return out


def _batches(items: list, size: int) -> Iterator[list]:
    size = max(int(size), 1)
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _Joiner:
    """Appends windows to a WAV stream, crossfading each head with the previous tail."""

    def __init__(self, path: Path, sample_rate: int, total: int) -> None:
        self.path = path
        self.sr = int(sample_rate)
        self.total = total
        self.writer: sf.SoundFile | None = None
        self.channels = 0
        self.written = 0
        self.tail: np.ndarray | None = None  # previous window's frames in the next fade

    def _open(self, channels: int) -> sf.SoundFile:
        if self.writer is None:
            self.channels = channels
            self.writer = open_wav_writer(
                self.path, self.sr, channels, "FLOAT", frames_hint=self.total
            )
        return self.writer

    def _fit(self, data: np.ndarray) -> np.ndarray:
        if data.shape[1] == self.channels:
            return data
        if data.shape[1] == 1:
            return np.repeat(data, self.channels, axis=1)
        return data.mean(axis=1, keepdims=True) if self.channels == 1 else data[:, : self.channels]

    def add(self, source: Path, frames: _Frames, index: int) -> None:
        with sf.SoundFile(source) as f:
            if f.samplerate != self.sr:
                raise RuntimeError(
                    f"window {index} came back at {f.samplerate} Hz, but the generator "
                    f"promised {self.sr} Hz"
                )
            need = frames.end - frames.start
            short = need - f.frames
            if short > max(int(_SHORT_TOLERANCE * self.sr), 1):
                raise RuntimeError(
                    f"window {index} came back {short / self.sr:.3f} s short "
                    f"({f.frames} of {need} frames)"
                )
            writer = self._open(f.channels)

            def read(lo: int, hi: int) -> np.ndarray:
                """Frames [lo, hi) of the request, from this window; past its end: silence."""
                out = np.zeros((hi - lo, self.channels), dtype=np.float32)
                a, b = lo - frames.start, min(hi - frames.start, f.frames)
                if b > a:
                    f.seek(a)
                    out[: b - a] = self._fit(f.read(b - a, dtype="float32", always_2d=True))
                return out

            lo, hi = frames.fade_in
            if self.tail is not None and hi > lo:
                fade_out, fade_in = equal_power_fades(hi - lo)
                head = read(lo, hi)
                mixed = self.tail * fade_out[:, None] + head * fade_in[:, None]
                writer.write(mixed.astype(np.float32))
                self.written += hi - lo
            self.tail = None
            body_end = frames.fade_out[0]
            pos = self.written
            while pos < body_end:
                n = min(_READ_BLOCK, body_end - pos)
                writer.write(read(pos, pos + n))
                pos += n
            self.written = pos
            lo, hi = frames.fade_out
            if hi > lo:
                self.tail = read(lo, hi)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def render_windowed(
    generator: AudioGenerator,
    request: GenerationRequest,
    out_path: Path,
    *,
    window: float | None = None,
    overlap: float = 1.0,
) -> Path:
    """Render ``request`` into ``out_path``, in windows when the backend needs them.

    ``window`` defaults to the backend's ``window_seconds`` (and never exceeds it). Requests
    that fit, and backends that take any length, go straight to ``render``. Otherwise windows
    are rendered ``max_batch`` at a time into a temporary folder beside ``out_path`` and joined
    as they come, so only one batch of window files exists at once; the output has exactly
    ``round(duration * sample_rate)`` frames.
    """
    out_path = Path(out_path)
    caps = generator.capabilities
    limit = caps.window_seconds
    if window is None:
        window = limit
    elif limit is not None:
        window = min(float(window), float(limit))
    if window is None or request.duration <= window:
        return generator.render(request, out_path)
    sr = int(caps.sample_rate)
    crossfade = None if request.layer == "background" else min(overlap, FOREGROUND_CROSSFADE)
    windows = plan_windows(request.duration, window, overlap, crossfade=crossfade)
    frames = _frames(windows, sr)
    requests = window_requests(request, windows, sr)
    total = round(request.duration * sr)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out_path.stem}.windows-", dir=out_path.parent))
    try:
        with atomic_path(out_path) as tmp:
            joiner = _Joiner(tmp, sr, total)
            try:
                for batch in _batches(list(range(len(windows))), caps.max_batch):
                    paths = [scratch / f"window-{i:06d}.wav" for i in batch]
                    got = generator.render_batch([requests[i] for i in batch], paths)
                    for i, path in zip(batch, got, strict=True):
                        joiner.add(Path(path), frames[i], i)
                        Path(path).unlink(missing_ok=True)
            finally:
                joiner.close()
            if joiner.written != total:  # the plan ends exactly at the request's end
                raise RuntimeError(f"joined {joiner.written} frames, expected {total}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out_path
