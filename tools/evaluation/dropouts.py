"""Dropouts: where the soundtrack falls far below its own typical level.

A soundtrack that goes dead (a missing clip, a gap between windows) is what a viewer hears as
a fault. The level is the RMS of consecutive, non-overlapping 100 ms windows of the mono mix;
a window more than ``threshold_db`` (30 dB) under the median window level, or digitally silent,
is a dropout. Units:
``share`` is a fraction of the complete windows (0–1), ``longest_seconds`` and
``total_seconds`` are seconds. Only the 10 numbers per second of window levels are kept.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lvas.tools.audio.audio_io import wav_info
from lvas.tools.evaluation.streaming import HopMeans, iter_mono

WINDOW_SECONDS = 0.1
THRESHOLD_DB = 30.0


@dataclass(frozen=True)
class DropoutReport:
    share: float
    longest_seconds: float
    total_seconds: float
    median_db: float
    windows: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def window_levels_db(path: str | os.PathLike[str], window_seconds: float = WINDOW_SECONDS,
                     block_seconds: float = 10.0) -> np.ndarray:
    """RMS in dBFS of each complete window (``-inf`` for digital silence)."""
    sr = wav_info(path).sample_rate
    hops = HopMeans(max(int(round(window_seconds * sr)), 1))
    parts = [hops.add(block * block) for block in iter_mono(path, block_seconds)]
    power = np.concatenate(parts) if parts else np.zeros(0)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(power)


def _longest_run(mask: np.ndarray) -> int:
    if not mask.any():
        return 0
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max())


def dropouts(path: str | os.PathLike[str], threshold_db: float = THRESHOLD_DB,
             window_seconds: float = WINDOW_SECONDS, block_seconds: float = 10.0
             ) -> DropoutReport:
    """Share of the file (and longest stretch) more than ``threshold_db`` under its median."""
    levels = window_levels_db(path, window_seconds, block_seconds)
    if not len(levels):
        return DropoutReport(0.0, 0.0, 0.0, -np.inf, 0)
    median = float(np.median(levels))
    # Digital silence is always a dropout, also when it is the median (a mostly dead file).
    low = np.isneginf(levels) | (levels < median - threshold_db)
    return DropoutReport(
        share=float(low.mean()),
        longest_seconds=_longest_run(low) * window_seconds,
        total_seconds=float(low.sum()) * window_seconds,
        median_db=median,
        windows=len(levels),
    )
