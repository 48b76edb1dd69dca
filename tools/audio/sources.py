"""The mixer's sources: a clip placed on the timeline, read block by block at the mix rate.

A ``TrackReader`` resamples on the fly, statelessly, by chunks aligned to the resampling
ratio, so reading a track in blocks gives the same frames as resampling the whole file; it
then pans, scales and fades them. Nothing here knows about ducking, mastering or output files.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import soundfile as sf
from scipy.signal import firwin, resample_poly

from lvas.tools.common.errors import LVASInputError

LAYERS = ("background", "foreground", "speech")


@dataclass(frozen=True)
class MixTrack:
    """A mono or stereo clip placed at ``start`` seconds on the timeline, in one layer."""

    path: str
    start: float
    gain_db: float = 0.0
    fade_in: float = 0.0
    fade_out: float = 0.0
    layer: str = "background"
    pan: float = 0.0  # -1 left .. +1 right


def _pan_matrix(pan: float, src_channels: int, out_channels: int) -> np.ndarray:
    """(src, out) gains: equal-power pan for mono, balance for stereo, plain downmix to mono."""
    theta = (min(max(pan, -1.0), 1.0) + 1.0) * math.pi / 4
    if out_channels == 1:
        return np.full((src_channels, 1), 1.0 / src_channels)
    if src_channels == 2:
        return np.diag([min(1.0, math.sqrt(2) * math.cos(theta)),
                        min(1.0, math.sqrt(2) * math.sin(theta))])
    mono = np.full((src_channels, 1), 1.0 / src_channels)
    return mono @ np.array([[math.cos(theta), math.sin(theta)]])


# Channel mixing works column by column: numpy broadcasts over a 2-wide last axis slowly, and
# a BLAS matrix product on (frames, 2) arrays stalls on thread hand-offs on small machines.


def scale_rows(x: np.ndarray, gain: np.ndarray) -> None:
    """``x[i, :] *= gain[i]`` in place (public: the mixer's ducking and limiting use it too)."""
    for c in range(x.shape[1]):
        x[:, c] *= gain


def _apply_matrix(data: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``data @ matrix`` for a (src, out) channel matrix; may reuse ``data``'s memory."""
    src, dst = matrix.shape
    if src == dst and not np.any(matrix - np.diag(np.diag(matrix))):
        for c in range(src):  # diagonal: balance and gain, in place
            if matrix[c, c] != 1.0:
                data[:, c] *= matrix[c, c]
        return data
    out = np.empty((len(data), dst), dtype=np.float32)
    for o in range(dst):
        np.multiply(data[:, 0], matrix[0, o], out=out[:, o])
        for c in range(1, src):
            out[:, o] += data[:, c] * matrix[c, o]
    return out


@functools.lru_cache(maxsize=16)
def _resampling_taps(up: int, down: int) -> np.ndarray:
    """resample_poly's own default filter, designed once per ratio rather than per block."""
    rate = max(up, down)
    taps = firwin(2 * 10 * rate + 1, 1.0 / rate, window=("kaiser", 5.0)).astype(np.float32)
    taps.flags.writeable = False  # shared between readers (resample_poly works on a copy)
    return taps


class TrackReader:
    """Reads a track's frames at the mix rate, resampling statelessly by aligned chunks.

    Public: the mixer (tools/mixing.py) opens one per track and sums what they read.
    """

    def __init__(self, track: MixTrack, sample_rate: int, channels: int) -> None:
        path = Path(track.path)
        if not path.is_file():
            raise LVASInputError(f"Mix track {track.path!r} does not exist; render it first.")
        if track.layer not in LAYERS:
            raise LVASInputError(
                f"Mix track {track.path!r} has layer {track.layer!r}; use one of {LAYERS}."
            )
        for name in ("start", "gain_db", "fade_in", "fade_out", "pan"):
            if not math.isfinite(getattr(track, name)):
                raise LVASInputError(f"Mix track {track.path!r} has a non-finite {name}.")
        if track.fade_in < 0 or track.fade_out < 0:
            raise LVASInputError(f"Mix track {track.path!r}: fades must be >= 0 seconds.")
        try:
            info = sf.info(str(path))
        except RuntimeError as exc:
            raise LVASInputError(f"Mix track {track.path!r} is not a readable audio file.") from exc
        self.path = str(path)
        self.layer = track.layer
        self.src_rate = int(info.samplerate)
        self._pcm16 = info.subtype == "PCM_16"
        self.src_frames = int(info.frames)
        g = math.gcd(int(sample_rate), self.src_rate)
        self.up, self.down = int(sample_rate) // g, self.src_rate // g
        self.length = -(-self.src_frames * self.up // self.down)  # frames at the mix rate
        self.offset = int(round(track.start * sample_rate))  # timeline frame of the first one
        half = 10 * max(self.up, self.down) / self.up + 2  # resample_poly's reach, input frames
        self.pad = self.down * math.ceil(half / self.down)
        self.taps = _resampling_taps(self.up, self.down) if self.up != self.down else None
        matrix = _pan_matrix(track.pan, int(info.channels), channels) * 10 ** (track.gain_db / 20)
        self.matrix = matrix.astype(np.float32)
        self.fade_in = int(round(track.fade_in * sample_rate))
        self.fade_out = int(round(track.fade_out * sample_rate))
        self._file: sf.SoundFile | None = None

    @property
    def end(self) -> int:
        return self.offset + self.length

    def _frames(self, n: int) -> np.ndarray:
        """The next ``n`` frames as float32 (16-bit PCM is read as integers and scaled here:
        the same values as libsndfile's conversion, at a quarter of the cost)."""
        assert self._file is not None
        if self._pcm16:
            data = self._file.read(n, dtype="int16", always_2d=True).astype(np.float32)
            data *= np.float32(1.0 / 32768.0)
            return data
        return self._file.read(n, dtype="float32", always_2d=True)

    def _source(self, lo: int, hi: int) -> np.ndarray:
        """Source frames ``[lo, hi)``, silence outside the file."""
        if self._file is None:
            self._file = sf.SoundFile(self.path)
        a, b = max(lo, 0), min(hi, self.src_frames)
        if a == lo and b == hi:
            self._file.seek(a)
            return self._frames(b - a)
        out = np.zeros((hi - lo, self._file.channels), dtype=np.float32)
        if b > a:
            self._file.seek(a)
            out[a - lo : b - lo] = self._frames(b - a)
        return out

    def read(self, first: int, n: int) -> np.ndarray:
        """Frames ``[first, first + n)`` of this track at the mix rate, panned and faded."""
        if self.up == self.down:
            data = self._source(first, first + n)
        else:
            # Chunk edges on multiples of ``down`` input frames map to whole output frames;
            # padding on both sides makes the chunk equal to resampling the whole file.
            a = self.down * (first // self.up)
            b = self.down * -(-(first + n) // self.up)
            # cast: scipy-stubs leave out the array form of ``window`` that scipy documents.
            y = resample_poly(self._source(a - self.pad, b + self.pad), self.up, self.down,
                              axis=0, window=cast(Any, self.taps))
            skip = self.pad * self.up // self.down + first - a * self.up // self.down
            data = y[skip : skip + n]
        out = _apply_matrix(data, self.matrix)
        if self.fade_in > 0 and first < self.fade_in:
            k = min(n, self.fade_in - first)
            ramp = (first + np.arange(k)) / self.fade_in
            scale_rows(out[:k], np.sin(0.5 * np.pi * ramp).astype(np.float32))
        if self.fade_out > 0 and first + n > self.length - self.fade_out:
            k = max(0, self.length - self.fade_out - first)  # rows before the fade starts
            ramp = np.clip((self.length - first - np.arange(k, n)) / self.fade_out, 0, 1)
            scale_rows(out[k:], np.sin(0.5 * np.pi * ramp).astype(np.float32))
        return out

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
