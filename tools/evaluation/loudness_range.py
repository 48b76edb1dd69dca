"""Loudness of a whole soundtrack: integrated LUFS, loudness range (LRA) and true peak.

Integrated loudness and true peak come from the mixer's own meters
(:mod:`lvas.tools.audio.loudness`), so the evaluation and the mastering agree. LRA follows
EBU Tech 3342: short-term loudness (3 s windows, K-weighted, here every 100 ms), an absolute
gate at -70 LUFS, a relative gate 20 LU under the power mean of what passed, then the spread
between the 10th and the 95th percentile (numpy's linear interpolation). Units: LUFS, LU, dBTP.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lvas.tools.audio.audio_io import wav_info
from lvas.tools.audio.loudness import LoudnessMeter, TruePeakMeter
from lvas.tools.evaluation.streaming import iter_blocks

_HOP_SECONDS = 0.1
_SHORT_TERM_HOPS = 30  # 3 s
_ABSOLUTE_GATE = -70.0
_RELATIVE_GATE = -20.0


def short_term_loudness(meter: LoudnessMeter) -> np.ndarray:
    """Short-term loudness (LUFS, 3 s windows) every 100 ms, from the meter's 100 ms powers:
    one K-weighting pass serves the integrated loudness and the loudness range."""
    hops = meter.hop_powers()
    if len(hops) < _SHORT_TERM_HOPS:
        return np.zeros(0)
    power = np.lib.stride_tricks.sliding_window_view(hops, _SHORT_TERM_HOPS).mean(axis=1)
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(power)


def loudness_range(short_term_lufs: np.ndarray) -> float:
    """EBU Tech 3342 LRA (LU) from short-term loudness values; 0 when nothing passes."""
    kept = short_term_lufs[short_term_lufs > _ABSOLUTE_GATE]
    if not len(kept):
        return 0.0
    relative = 10.0 * math.log10(float(np.mean(10.0 ** (kept / 10.0)))) + _RELATIVE_GATE
    kept = kept[kept > relative]
    if not len(kept):
        return 0.0
    low, high = np.percentile(kept, [10.0, 95.0])
    return float(high - low)


@dataclass(frozen=True)
class LoudnessReport:
    integrated_lufs: float
    range_lu: float
    true_peak_dbtp: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure_loudness(path: str | os.PathLike[str], block_seconds: float = 10.0
                     ) -> LoudnessReport:
    """Integrated loudness, LRA and true peak of an audio file, in one streaming pass."""
    info = wav_info(path)
    meter = LoudnessMeter(info.sample_rate, info.channels)
    peak = TruePeakMeter(info.channels)
    for block in iter_blocks(path, block_seconds):
        meter.add(block)
        peak.add(block)
    return LoudnessReport(meter.integrated(), loudness_range(short_term_loudness(meter)),
                          peak.peak_db())
