"""Bootstrap intervals of a mean over videos, seeded per cell so a table is reproducible.

An ablation study has a handful of videos, so the interval of a metric's mean comes from
resampling the videos themselves (the percentile bootstrap): no assumption about the metric's
distribution, and the same method for every metric. Each cell draws from its own generator,
seeded by the study's seed and the cell's names, so a cell's interval does not change when a
metric or a variant is added to the study.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lvas.tools.common.errors import LVASInputError

_MAX_DRAWS = 1 << 20
"""Resampled values held at once (n_boot × n videos is drawn in blocks of at most this)."""


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` values and its bootstrap percentile interval [lo, hi]."""

    n: int
    mean: float
    lo: float
    hi: float

    def excludes(self, value: float) -> bool:
        """True when ``value`` lies strictly outside [lo, hi]."""
        return value < self.lo or value > self.hi


def check_settings(n_boot: int, level: float) -> None:
    """Refuse a resample count or a confidence level that gives no interval."""
    if int(n_boot) < 1:
        raise LVASInputError(f"n_boot={n_boot}: give at least 1 bootstrap resample (2000 is "
                             "usual).")
    if not 0.0 < float(level) < 1.0:
        raise LVASInputError(f"level={level}: give the interval's coverage as a fraction "
                             "between 0 and 1 (0.95 for 95 %).")


def cell_rng(seed: int, *names: str) -> np.random.Generator:
    """A generator for one cell: the study's seed and stable hashes of the cell's names."""
    words = [zlib.crc32(name.encode("utf-8")) for name in names]
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *words]))


def bootstrap_mean(values: Sequence[float] | np.ndarray, rng: np.random.Generator, *,
                   n_boot: int = 2000, level: float = 0.95) -> Interval | None:
    """The mean of ``values`` and the percentile interval of the mean over ``n_boot``
    resamples with replacement; None for no values.

    One value gives the value itself as the interval, and equal values give that value, so
    float noise never reads as a difference."""
    check_settings(n_boot, level)
    data = np.asarray(values, dtype=np.float64).ravel()
    if data.size == 0:
        return None
    if not np.all(np.isfinite(data)):
        raise ValueError("bootstrap_mean takes finite values only; drop missing ones first")
    mean = float(data.mean())
    if data.size == 1 or float(np.ptp(data)) == 0.0:
        value = float(data[0])
        return Interval(int(data.size), value, value, value)
    n = data.size
    block = max(1, _MAX_DRAWS // n)
    means = np.empty(int(n_boot), dtype=np.float64)
    for start in range(0, int(n_boot), block):
        stop = min(int(n_boot), start + block)
        picks = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = data[picks].mean(axis=1)
    tail = (1.0 - float(level)) / 2.0
    lo, hi = np.quantile(means, [tail, 1.0 - tail])
    # the percentile interval holds the sample mean unless n_boot is tiny; keep it so
    return Interval(int(n), mean, min(float(lo), mean), max(float(hi), mean))
