"""ITU-R BS.1770 loudness and true peak, measured block by block.

Both meters keep their filter state between calls to ``add`` so a soundtrack of any length can
be measured while it streams past, with memory that grows only by one number per 100 ms.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal
from scipy.ndimage import maximum_filter1d

_ABSOLUTE_GATE = -70.0
_RELATIVE_GATE = -10.0
_BLOCK_SECONDS = 0.4
_HOP_SECONDS = 0.1  # 75 % overlap between 400 ms gating blocks


def k_weighting_sos(sample_rate: int) -> np.ndarray:
    """BS.1770 K-weighting (high shelf then RLB high-pass) as second-order sections.

    The analogue prototypes are mapped with the bilinear transform so that any sample rate
    gets the filter the standard tabulates for 48 kHz.
    """
    fs = float(sample_rate)
    # Stage 1: high shelf, about +4 dB above ~1.7 kHz (models the head's acoustic effect).
    gain_db, q, fc = 3.999843853973347, 0.7071752369554196, 1681.974450955533
    k = math.tan(math.pi * fc / fs)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf_b = [
        (vh + vb * k / q + k * k) / a0,
        2.0 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
    ]
    shelf_a = [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    # Stage 2: second-order high-pass near 38 Hz (the revised low-frequency B curve).
    q, fc = 0.5003270373238773, 38.13547087602444
    k = math.tan(math.pi * fc / fs)
    a0 = 1.0 + k / q + k * k
    hp_b = [1.0, -2.0, 1.0]
    hp_a = [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf_b + shelf_a, hp_b + hp_a], dtype=np.float64)


def _as_2d(block: np.ndarray, channels: int) -> np.ndarray:
    x = np.asarray(block, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != channels:
        raise ValueError(f"expected a block of shape (frames, {channels}), got {x.shape}")
    return x


class LoudnessMeter:
    """Integrated loudness (LUFS) of a signal fed in blocks of any size."""

    def __init__(
        self, sample_rate: int, channels: int, weights: tuple[float, ...] | None = None
    ) -> None:
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self._weights = np.asarray(weights if weights else (1.0,) * self.channels)
        if self._weights.shape != (self.channels,):
            raise ValueError("one channel weight per channel is needed")
        self._sos = k_weighting_sos(self.sample_rate)
        self._zi = np.zeros((self._sos.shape[0], 2, self.channels))
        self._hop = max(int(round(_HOP_SECONDS * self.sample_rate)), 1)
        self._partial = np.zeros(self.channels)  # sum of squares of the unfinished hop
        self._partial_n = 0
        self._hops: list[np.ndarray] = []  # per-hop weighted mean square, summed over channels

    def add(self, block: np.ndarray) -> None:
        """Feed the next ``(frames, channels)`` (or mono ``(frames,)``) block."""
        x = _as_2d(block, self.channels)
        if not len(x):
            return
        y, self._zi = signal.sosfilt(self._sos, x, axis=0, zi=self._zi)
        sq = y * y
        pos = 0
        need = self._hop - self._partial_n
        if len(sq) < need:
            self._partial += sq.sum(axis=0)
            self._partial_n += len(sq)
            return
        first = self._partial + sq[:need].sum(axis=0)
        sums = [first[None, :]]
        pos = need
        full = (len(sq) - pos) // self._hop
        if full:
            body = sq[pos : pos + full * self._hop].reshape(full, self._hop, self.channels)
            sums.append(body.sum(axis=1))
            pos += full * self._hop
        hop_sums = np.concatenate(sums) / self._hop
        self._hops.append(hop_sums @ self._weights)
        self._partial = sq[pos:].sum(axis=0)
        self._partial_n = len(sq) - pos

    def hop_powers(self) -> np.ndarray:
        """Weighted mean square of every complete 100 ms hop so far (short-term loudness and
        the loudness range are built from these)."""
        return np.concatenate(self._hops) if self._hops else np.zeros(0)

    def block_powers(self) -> np.ndarray:
        """Weighted mean square of every complete 400 ms gating block so far."""
        hops = self.hop_powers()
        per_block = int(round(_BLOCK_SECONDS / _HOP_SECONDS))
        if len(hops) < per_block:
            return np.zeros(0)
        window = np.lib.stride_tricks.sliding_window_view(hops, per_block)
        return window.mean(axis=1)

    def integrated(self, gain: float = 1.0) -> float:
        """Gated integrated loudness in LUFS; ``-inf`` for silence or less than 400 ms.

        With ``gain``, the loudness of the same signal scaled by that linear gain: the
        weighting filters are linear, so each block's power scales by ``gain ** 2`` and the
        gates are applied to the scaled powers (the mixer's second pass reads its loudness
        this way when its limiter left the pass-one mix untouched)."""
        power = self.block_powers()
        if gain != 1.0:
            power = power * (gain * gain)
        if not len(power):
            return -math.inf
        with np.errstate(divide="ignore"):
            loud = -0.691 + 10.0 * np.log10(power)
        kept = power[loud > _ABSOLUTE_GATE]
        if not len(kept):
            return -math.inf
        relative = -0.691 + 10.0 * math.log10(kept.mean()) + _RELATIVE_GATE
        with np.errstate(divide="ignore"):
            kept = kept[-0.691 + 10.0 * np.log10(kept) > relative]
        if not len(kept):
            return -math.inf
        return float(-0.691 + 10.0 * math.log10(kept.mean()))


def _frame_peak(x: np.ndarray) -> np.ndarray:
    """Largest absolute value across channels, per frame (a column loop: numpy reduces a
    short last axis slowly)."""
    env = np.abs(x[:, 0])
    for c in range(1, x.shape[1]):
        np.maximum(env, np.abs(x[:, c]), out=env)
    return env


def _oversampling_phases(factor: int, taps_per_phase: int) -> np.ndarray:
    taps = signal.firwin(factor * taps_per_phase, 0.9 / factor, window=("kaiser", 8.0))
    taps *= factor / taps.sum()
    return taps.reshape(taps_per_phase, factor).T.copy()  # (phase, taps)


class TruePeakMeter:
    """Peak of the signal oversampled 4x (BS.1770 annex 2), fed in blocks.

    Each polyphase branch of the interpolation filter runs with carried state, so the result
    does not depend on how the signal was cut into blocks.
    """

    FACTOR = 4
    TAPS_PER_PHASE = 12

    def __init__(self, channels: int) -> None:
        self.channels = int(channels)
        self._phases = _oversampling_phases(self.FACTOR, self.TAPS_PER_PHASE)
        # No interpolated sample can exceed the input's peak times this factor.
        self._bound = float(np.abs(self._phases).sum(axis=1).max())
        self._tail = np.zeros((self.TAPS_PER_PHASE - 1, self.channels))
        self.peak = 0.0  # linear

    @property
    def delay(self) -> int:
        """How many input samples the interpolated signal lags the input."""
        return self.TAPS_PER_PHASE // 2

    @property
    def bound(self) -> float:
        """Worst-case gain of the interpolator: no oversampled sample exceeds the input's
        sample peak times this, so callers can skip stretches that cannot reach a threshold."""
        return self._bound

    def envelope(self, block: np.ndarray, only_above: float = 0.0) -> np.ndarray:
        """Per-frame peak over the oversampled channels (lagging by ``delay`` frames).

        Where even the worst-case interpolation could not pass ``only_above``, the plain
        sample peak is returned and the oversampling is skipped (it cannot matter there).
        """
        x = _as_2d(block, self.channels)
        if not len(x):
            return np.zeros(0)
        ext = np.concatenate([self._tail, x])
        self._tail = ext[len(ext) - (self.TAPS_PER_PHASE - 1) :]
        taps = self.TAPS_PER_PHASE
        ext_peak = _frame_peak(ext)
        env = ext_peak[taps - 1 :].copy()
        if float(ext_peak.max()) * self._bound <= only_above:
            todo = np.zeros(0, dtype=np.intp)  # nothing here can reach the threshold
        else:
            reach = maximum_filter1d(ext_peak, taps + 1, origin=-(taps // 2))
            todo = np.flatnonzero(reach[: len(x)] * self._bound > only_above)
        if len(todo) > len(x) // 8:  # busy block: filter everything
            for c in range(self.channels):
                for phase in self._phases:
                    y = np.convolve(ext[:, c], phase, mode="valid")
                    np.maximum(env, np.abs(y), out=env)
        elif len(todo):  # only the few frames that could pass the threshold
            windows = ext[todo[:, None] + np.arange(taps)]  # (frames, taps, channels)
            y = np.einsum("ftc,pt->fcp", windows, self._phases[:, ::-1])
            env[todo] = np.maximum(env[todo], np.abs(y).max(axis=(1, 2)))
        self.peak = max(self.peak, float(env.max()))
        return env

    def add(self, block: np.ndarray) -> None:
        self.envelope(block, only_above=self.peak)

    def peak_db(self) -> float:
        return 20.0 * math.log10(self.peak) if self.peak > 0 else -math.inf


def sample_peak_db(audio: np.ndarray) -> float:
    """Largest absolute sample in dBFS (``-inf`` for silence)."""
    peak = float(np.max(np.abs(audio))) if np.size(audio) else 0.0
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """One-shot convenience over :class:`LoudnessMeter`."""
    x = np.asarray(audio)
    meter = LoudnessMeter(sample_rate, 1 if x.ndim == 1 else x.shape[1])
    meter.add(x)
    return meter.integrated()
