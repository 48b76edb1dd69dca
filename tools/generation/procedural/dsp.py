"""Streaming building blocks for the procedural recipes.

Everything here is a function of *absolute* sample position, or keeps its own state between
calls, so a recipe rendered in blocks of any size gives the same samples as one rendered in a
single call. Randomness comes in fixed chunks keyed by ``(seed, stream, chunk index)``, never
from a generator whose position depends on how the caller cut the blocks.
"""

from __future__ import annotations

import zlib
from functools import lru_cache
from typing import Literal

import numpy as np
from scipy import signal

CHUNK = 1 << 15  # random samples per keyed chunk
_CTRL_CHUNK = 256  # control points per keyed chunk
_GRID = 32  # samples between exact evaluations of a control curve
_UNIFORM_TO_UNIT = 12.0**0.5  # a uniform value on [-1/2, 1/2) has variance 1/12


def stable_key(text: str) -> int:
    """A process-independent integer for a name (Python's ``hash`` is salted per process)."""
    return zlib.crc32(text.encode("utf-8"))


def keyed_rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in key])


class Chunked:
    """A random signal over absolute sample positions, built from keyed chunks."""

    def __init__(self, seed: int, stream: int, kind: str = "normal", density: float = 0.0):
        self._key = (seed, stream)
        self._kind = kind
        self._density = float(density)
        self._cache: dict[int, np.ndarray] = {}

    def _chunk(self, index: int) -> np.ndarray:
        hit = self._cache.get(index)
        if hit is not None:
            return hit
        rng = keyed_rng(*self._key, index)
        if self._kind == "normal":
            # White noise of unit variance drawn uniform: a third of the cost of numpy's normal
            # ziggurat (a fifth of the synthesis went to drawing noise), and every recipe
            # filters it, which leaves the same flat spectrum and, past the filter, the same
            # Gaussian amplitudes.
            data = rng.random(CHUNK)
            data -= 0.5
            data *= _UNIFORM_TO_UNIT
        else:  # sparse impulses with heavy-tailed amplitudes (drops, crackles)
            count = rng.binomial(CHUNK, min(self._density, 1.0))
            data = np.zeros(CHUNK)
            amps = rng.pareto(2.5, count) + 0.3
            data[rng.integers(0, CHUNK, count)] = amps * rng.choice((-1.0, 1.0), count)
        if len(self._cache) > 3:
            self._cache.pop(min(self._cache))
        self._cache[index] = data
        return data

    def read(self, start: int, n: int) -> np.ndarray:
        first, last = start // CHUNK, (start + n - 1) // CHUNK
        if n <= 0:
            return np.zeros(0)
        parts = [self._chunk(i) for i in range(first, last + 1)]
        data = parts[0] if len(parts) == 1 else np.concatenate(parts)
        off = start - first * CHUNK
        return data[off : off + n]


class Control:
    """A smooth random curve (cosine-interpolated normal values at ``rate_hz``)."""

    def __init__(self, seed: int, stream: int, rate_hz: float, sample_rate: int):
        self._key = (seed, stream)
        self._step = sample_rate / float(rate_hz)  # samples between control points

    def _values(self, lo: int, hi: int) -> np.ndarray:
        parts = []
        for c in range(lo // _CTRL_CHUNK, hi // _CTRL_CHUNK + 1):
            parts.append(keyed_rng(*self._key, 1 << 30, c).standard_normal(_CTRL_CHUNK))
        values = np.concatenate(parts)
        off = lo - (lo // _CTRL_CHUNK) * _CTRL_CHUNK
        return values[off : off + hi - lo + 1]

    def _curve(self, positions: np.ndarray) -> np.ndarray:
        pos = positions / self._step
        k = np.floor(pos).astype(np.int64)
        lo, hi = int(k[0]), int(k[-1]) + 1
        vals = self._values(lo, hi)
        w = 0.5 - 0.5 * np.cos(np.pi * (pos - k))
        i = k - lo
        return vals[i] * (1.0 - w) + vals[i + 1] * w

    def read(self, start: int, n: int) -> np.ndarray:
        # Evaluate on an absolute grid every _GRID samples, then interpolate linearly: the
        # curve moves at a few hertz, so this is exact to the ear and several times faster.
        g0, g1 = start // _GRID, (start + n - 1) // _GRID + 1
        grid = np.arange(g0, g1 + 1, dtype=np.float64) * _GRID
        return np.interp(start + np.arange(n, dtype=np.float64), grid, self._curve(grid))


class Filter:
    """Second-order sections with state carried between blocks."""

    def __init__(self, sos: np.ndarray):
        self.sos = sos
        self.zi = np.zeros((sos.shape[0], 2))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y, self.zi = signal.sosfilt(self.sos, x, zi=self.zi)
        return y


def _clamp(freq: float, sample_rate: int) -> float:
    return float(min(max(freq, 10.0), 0.45 * sample_rate))


_Band = Literal["lowpass", "highpass", "bandpass"]


@lru_cache(maxsize=512)
def _butter(order: int, freqs: tuple[float, ...], btype: _Band, sr: int) -> np.ndarray:
    """A Butterworth design, made once per process: recipes, floors and every window of a
    long clip ask for the same few filters again (designing them cost more than filtering
    short clips). Callers get a copy, as scipy wants a writeable one."""
    return signal.butter(order, freqs[0] if len(freqs) == 1 else list(freqs), btype, fs=sr,
                         output="sos")


def lowpass(fc: float, sr: int, order: int = 2) -> np.ndarray:
    return _butter(int(order), (_clamp(fc, sr),), "lowpass", int(sr)).copy()


def highpass(fc: float, sr: int, order: int = 2) -> np.ndarray:
    return _butter(int(order), (_clamp(fc, sr),), "highpass", int(sr)).copy()


def bandpass(lo: float, hi: float, sr: int, order: int = 1) -> np.ndarray:
    lo, hi = _clamp(lo, sr), _clamp(hi, sr)
    if hi <= lo * 1.05:
        lo = hi / 1.1
    return _butter(int(order), (lo, hi), "bandpass", int(sr)).copy()


def resonator(freq: float, q: float, sr: int) -> np.ndarray:
    """A narrow peak at ``freq`` (ringing modes of bells, drops, clanks)."""
    freq = _clamp(freq, sr)
    b, a = signal.iirpeak(freq, q, fs=sr)
    return signal.tf2sos(b, a)


def filt(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """One-shot filtering for self-contained events."""
    return signal.sosfilt(sos, x)


_PINK_B = np.array([0.049922035, -0.095993537, 0.050612699, -0.004408786])
_PINK_A = np.array([1.0, -2.494956002, 2.017265875, -0.522189400])
PINK_SOS = signal.tf2sos(_PINK_B, _PINK_A)


def harmonic_table(amplitudes: list[float] | np.ndarray, size: int = 4096) -> np.ndarray:
    """One cycle of a waveform with the given harmonic amplitudes, for table lookup."""
    phase = np.arange(size) / size
    table = np.zeros(size + 1)
    for k, amp in enumerate(amplitudes, start=1):
        table[:size] += amp * np.sin(2 * np.pi * k * phase)
    table[size] = table[0]
    return table / max(np.max(np.abs(table)), 1e-12)


def lookup(table: np.ndarray, cycles: np.ndarray) -> np.ndarray:
    """Read a wavetable at phase ``cycles`` (any real number), linearly interpolated."""
    size = len(table) - 1
    pos = (cycles - np.floor(cycles)) * size
    i = pos.astype(np.int64)
    frac = pos - i
    return table[i] + (table[i + 1] - table[i]) * frac


class Phase:
    """Running oscillator phase (in cycles) for a time-varying frequency."""

    def __init__(self, start: float = 0.0):
        self.value = float(start)

    def advance(self, freq_hz: np.ndarray, sr: int) -> np.ndarray:
        steps = np.empty(len(freq_hz) + 1)
        steps[0] = self.value
        steps[1:] = freq_hz / sr
        cycles = np.cumsum(steps)[:-1]
        self.value = float(cycles[-1] + freq_hz[-1] / sr) if len(freq_hz) else self.value
        self.value -= np.floor(self.value)
        return cycles


def decay(n: int, sr: int, seconds: float) -> np.ndarray:
    """Exponential decay reaching -60 dB after ``seconds``."""
    return np.exp(-6.9078 * np.arange(n) / (max(seconds, 1e-4) * sr))


def attack_decay(n: int, sr: int, attack: float, release: float) -> np.ndarray:
    """A short raised-cosine attack followed by an exponential decay."""
    env = decay(n, sr, release)
    a = min(max(int(attack * sr), 1), n)
    env[:a] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(a) / a)
    return env


def swell(n: int, sr: int, attack: float, release: float) -> np.ndarray:
    """Attack, sustain, then a raised-cosine release ending at zero."""
    env = np.ones(n)
    a = min(max(int(attack * sr), 1), n)
    r = min(max(int(release * sr), 1), n - a) if n > a else 0
    env[:a] = 0.5 - 0.5 * np.cos(np.pi * np.arange(a) / a)
    if r > 0:
        env[n - r :] = 0.5 + 0.5 * np.cos(np.pi * np.arange(r) / r)
    return env


def chirp(f0: float, f1: float, n: int, sr: int, vibrato_hz: float = 0.0, depth: float = 0.0,
          curve: float = 1.0) -> np.ndarray:
    """A sine sweeping from ``f0`` to ``f1`` (optionally with vibrato)."""
    t = np.arange(n) / max(n - 1, 1)
    freq = f0 + (f1 - f0) * t**curve
    if vibrato_hz:
        freq = freq * (1.0 + depth * np.sin(2 * np.pi * vibrato_hz * np.arange(n) / sr))
    freq = np.clip(freq, 1.0, 0.45 * sr)
    return np.sin(2 * np.pi * np.cumsum(freq) / sr)
