"""Look-ahead true-peak limiting: the gain that keeps a mix under its ceiling.

``ScreenedPeaks`` is a true-peak meter that skips the stretches that cannot reach its
threshold; ``Limiter`` turns its envelope into a smooth gain curve for audio delayed by
``Limiter.delay`` frames, so several signals (the mix and its stems) can share one curve.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import minimum_filter1d

from lvas.tools.audio.loudness import TruePeakMeter

_SMOOTH_SECONDS = 0.005  # each of the two boxcar stages of the limiter's gain


class ScreenedPeaks:
    """A TruePeakMeter that skips the stretches which cannot reach its threshold.

    ``TruePeakMeter.envelope`` does some work on every frame (a copy, a running maximum) even
    where no interpolated sample could pass the threshold. Here each ~0.25 s stretch whose
    sample peak, and that of the frames just before it, stays at or below the threshold divided
    by the interpolator's worst-case gain only rolls the meter's history forward. The results
    are those of the plain meter; on a mastered soundtrack most stretches are skipped.

    Public: the mixer (tools/mixing.py) meters its output's true peak with it.
    """

    CHUNK = 12000  # frames

    def __init__(self, channels: int) -> None:
        self.meter = TruePeakMeter(channels)
        self.delay = self.meter.delay
        self._bound = self.meter.bound  # no interpolated sample exceeds sample peak x this
        self._keep = self.meter.TAPS_PER_PHASE - 1  # the history the interpolator looks at
        self._tail_peak = 0.0

    def envelope(self, x: np.ndarray, only_above: float | None = None) -> np.ndarray:
        """Like ``TruePeakMeter.envelope``, with 0 where nothing can pass ``only_above``
        (``None``: the running peak, which makes this ``TruePeakMeter.add``)."""
        env = np.zeros(len(x))
        for a in range(0, len(x), self.CHUNK):
            chunk = x[a : a + self.CHUNK]
            peak = float(np.abs(chunk).max())
            threshold = self.meter.peak if only_above is None else only_above
            reach = max(peak, self._tail_peak) * self._bound
            if len(chunk) >= self._keep:
                self._tail_peak = float(np.abs(chunk[-self._keep :]).max())
            else:
                self._tail_peak = max(self._tail_peak, peak)
            if reach <= threshold:
                self.meter.envelope(chunk[-self._keep :], only_above=math.inf)  # history only
            else:
                env[a : a + len(chunk)] = self.meter.envelope(chunk, only_above=threshold)
        return env

    def peak_db(self) -> float:
        return self.meter.peak_db()


class Limiter:
    """Look-ahead peak limiter with smooth gain and a provable ceiling.

    Gain is the running minimum of the needed reduction over a window, smoothed by two short
    boxcars; the audio is delayed by the window so every peak is already covered when it
    plays. Peaks are detected on the 4x oversampled signal, so the ceiling holds for true
    peak too (up to the interpolator's own accuracy). ``gain`` returns the curve for the
    audio delayed by ``delay`` frames, so several signals (the mix and its stems) can share it.

    Public: the mixer's second pass (tools/mixing.py) drives it.
    """

    def __init__(self, ceiling: float, sample_rate: int, channels: int) -> None:
        self.ceiling = ceiling
        self.smooth = max(int(_SMOOTH_SECONDS * sample_rate), 1)
        self.detector = ScreenedPeaks(channels)
        window = 2 * self.smooth + self.detector.delay + 2
        self.window = window + (1 - window % 2)  # odd, for a causal minimum filter
        self.delay = self.window - 1
        self._need_tail = np.ones(self.window - 1)
        self._min_tail = np.ones(self.smooth - 1)
        self._box_tail = np.ones(self.smooth - 1)

    @staticmethod
    def _boxcar(tail: np.ndarray, x: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        ext = np.concatenate([tail, x])
        csum = np.concatenate([[0.0], np.cumsum(ext)])
        return (csum[size:] - csum[:-size]) / size, ext[len(ext) - (size - 1) :]

    def _settled(self) -> bool:
        """True when no reduction is left anywhere in the filters' memory."""
        return all(t.min(initial=1.0) > 1.0 - 1e-9
                   for t in (self._need_tail, self._min_tail, self._box_tail))

    def gain(self, x: np.ndarray) -> np.ndarray:
        """Gain for the ``len(x)`` frames that leave the delay line as ``x`` enters it."""
        env = self.detector.envelope(x, only_above=self.ceiling)
        need = np.ones(len(x))
        loud = env > self.ceiling
        if not loud.any() and self._settled():
            return need  # nothing to limit now or in the pipeline: unity throughout
        need[loud] = self.ceiling / env[loud]
        ext = np.concatenate([self._need_tail, need])
        mins = minimum_filter1d(ext, self.window, mode="nearest", origin=self.window // 2)
        mins = mins[self.window - 1 :]
        self._need_tail = ext[len(ext) - (self.window - 1) :]
        gain, self._min_tail = (
            self._boxcar(self._min_tail, mins, self.smooth) if self.smooth > 1 else (mins, mins[:0])
        )
        gain, self._box_tail = (
            self._boxcar(self._box_tail, gain, self.smooth) if self.smooth > 1 else (gain, gain[:0])
        )
        return gain
