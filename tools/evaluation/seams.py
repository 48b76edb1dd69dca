"""Seams: how the sound changes at scene boundaries compared with inside scenes.

LVAS-Agent claims seamless transitions; this measures them. At each point (a boundary, or a
control point in the middle of a scene) the 200 ms just before is compared with the 200 ms
just after:

- ``level_jump_db`` (dB): absolute difference of the two windows' RMS levels;
- ``spectral_change_db`` (dB): root-mean-square over 32 mel bands (0–8 kHz, 20 ms frames every
  10 ms) of the difference of the windows' mean log-mel levels;
- ``click`` (ratio): the largest absolute sample-to-sample difference within +-20 ms of the
  point, over the median of the 10 ms maxima of that difference in all measured windows
  (floored at 1e-6): a discontinuity stands out of the signal's own roughness.

Each statistic is averaged over the boundaries and over the control points, and reported with
their ratio (boundary mean / control mean, the control mean floored at 0.1 dB or 0.1 so a
perfectly steady signal does not divide by zero): a hard cut without crossfade scores higher.
Only the 10 ms frames inside the measured windows are kept, so memory follows the number of
scenes, not the video's length.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lvas.tools.audio.audio_io import wav_info
from lvas.tools.evaluation.logmel import LogMelFrames
from lvas.tools.evaluation.streaming import HopMeans, iter_mono

WINDOW_SECONDS = 0.2
CLICK_SECONDS = 0.02
FRAME_SECONDS = 0.01
N_MELS = 32
FMAX_HZ = 8000.0
_FLOOR = 0.1
_CLICK_SCALE_FLOOR = 1e-6
_DB_PER_NEPER = 10.0 / math.log(10.0)  # natural-log power to dB


@dataclass(frozen=True)
class SeamPoint:
    time: float
    level_jump_db: float
    spectral_change_db: float
    click: float


@dataclass(frozen=True)
class SeamReport:
    boundaries: list[SeamPoint]
    controls: list[SeamPoint]
    boundary_mean: dict[str, float]
    control_mean: dict[str, float]
    ratio: dict[str, float | None]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def control_points(boundaries: Sequence[float], duration: float) -> list[float]:
    """The middle of every span between boundaries (and the file's ends) long enough to hold
    both windows with room to spare (four window lengths)."""
    edges = [0.0, *sorted(b for b in boundaries if 0.0 < b < duration), duration]
    return [(a + b) / 2.0 for a, b in zip(edges, edges[1:], strict=False)
            if b - a >= 4 * WINDOW_SECONDS]


class _FrameStore:
    """Keeps the per-10 ms features of the frames some window needs, and no others."""

    def __init__(self, needed: np.ndarray, n_mels: int) -> None:
        self.needed = needed
        self.power = np.full(len(needed), np.nan)
        self.diff = np.full(len(needed), np.nan)
        self.mel = np.full((len(needed), n_mels), np.nan)

    def put(self, target: np.ndarray, first: int, values: np.ndarray) -> None:
        idx = np.arange(first, first + len(values))
        slot = np.searchsorted(self.needed, idx)
        ok = (slot < len(self.needed)) & (self.needed[np.minimum(slot, len(self.needed) - 1)]
                                          == idx)
        target[slot[ok]] = values[ok]

    def rows(self, a: int, b: int) -> np.ndarray:
        return np.arange(np.searchsorted(self.needed, a), np.searchsorted(self.needed, b))


def _point(store: _FrameStore, t: float, scale: float) -> SeamPoint:
    w, c = round(WINDOW_SECONDS / FRAME_SECONDS), round(CLICK_SECONDS / FRAME_SECONDS)
    i = int(round(t / FRAME_SECONDS))
    before, after = store.rows(i - w, i), store.rows(i, i + w)
    level = [10.0 * math.log10(max(float(np.nanmean(store.power[r])), 1e-10))
             for r in (before, after)]
    # Mel frames are 20 ms long: the last one before the point starts 20 ms earlier.
    mel_before = store.mel[store.rows(i - w, i - 1)]
    mel_after = store.mel[after]
    spec = np.nanmean(mel_after, axis=0) - np.nanmean(mel_before, axis=0)
    click = float(np.nanmax(store.diff[store.rows(i - c, i + c)]))
    return SeamPoint(time=t, level_jump_db=abs(level[1] - level[0]),
                     spectral_change_db=float(np.sqrt(np.mean(spec**2))) * _DB_PER_NEPER,
                     click=click / scale)


def _mean(points: list[SeamPoint]) -> dict[str, float]:
    keys = ("level_jump_db", "spectral_change_db", "click")
    if not points:
        return {k: math.nan for k in keys}
    return {k: float(np.mean([getattr(p, k) for p in points])) for k in keys}


def seams(path: str | os.PathLike[str], boundaries: Sequence[float],
          block_seconds: float = 10.0) -> SeamReport:
    """Seam statistics at ``boundaries`` (seconds) and at control points inside the scenes."""
    info = wav_info(path)
    sr, duration = info.sample_rate, info.duration
    margin = WINDOW_SECONDS + FRAME_SECONDS
    cuts = [float(b) for b in sorted(boundaries) if margin <= b <= duration - margin]
    controls = [t for t in control_points(cuts, duration) if margin <= t <= duration - margin]
    w = round(WINDOW_SECONDS / FRAME_SECONDS)
    needed = np.unique(np.concatenate(
        [np.arange(round(t / FRAME_SECONDS) - w, round(t / FRAME_SECONDS) + w)
         for t in cuts + controls] or [np.zeros(0, dtype=np.int64)]).astype(np.int64))
    store = _FrameStore(needed, N_MELS)
    hop = int(round(FRAME_SECONDS * sr))
    powers = HopMeans(hop)
    mels = LogMelFrames(sr, 2 * hop, hop, N_MELS, fmax=FMAX_HZ)
    done_power = done_mel = done_diff = 0
    previous: float | None = None
    carry = np.zeros(0)
    for block in iter_mono(path, block_seconds):
        p = powers.add(block * block)
        store.put(store.power, done_power, p)
        done_power += len(p)
        m = mels.add(block)
        store.put(store.mel, done_mel, m)
        done_mel += len(m)
        d = np.abs(np.diff(block, prepend=block[:1] if previous is None else [previous]))
        previous = float(block[-1]) if len(block) else previous
        d = np.concatenate([carry, d])  # 10 ms maxima of |x[n] - x[n-1]|, carried
        full = len(d) // hop
        carry = d[full * hop:]
        maxima = d[: full * hop].reshape(full, hop).max(axis=1) if full else np.zeros(0)
        store.put(store.diff, done_diff, maxima)
        done_diff += len(maxima)
    measured = store.diff[np.isfinite(store.diff)]
    # Floored at 1e-6 (about -120 dBFS): a mostly silent stretch would otherwise divide by 0.
    scale = max(float(np.median(measured)) if len(measured) else 0.0, _CLICK_SCALE_FLOOR)
    at_cuts = [_point(store, t, scale) for t in cuts]
    at_controls = [_point(store, t, scale) for t in controls]
    b_mean, c_mean = _mean(at_cuts), _mean(at_controls)
    ratio: dict[str, float | None] = {
        k: (b_mean[k] / max(c_mean[k], _FLOOR)
            if at_cuts and at_controls else None) for k in b_mean
    }
    return SeamReport(at_cuts, at_controls, b_mean, c_mean, ratio)
