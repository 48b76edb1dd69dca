"""Stream clips onto a timeline, normalise loudness and limit peaks, in two passes.

Pass 1 sums every track block by block into a temporary float WAV while measuring integrated
loudness; pass 2 applies the gain that reaches the target and a look-ahead limiter, and writes
the final PCM WAV. Memory depends on the block length, never on the length of the video.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.ndimage import minimum_filter1d
from scipy.signal import resample_poly

from tools.audio_io import open_wav_writer
from tools.errors import LVASInputError
from tools.loudness import LoudnessMeter, TruePeakMeter
from tools.paths import atomic_path

LAYERS = ("background", "foreground")
_LIMITER_MARGIN_DB = 0.05  # aim just under the ceiling so 16-bit rounding cannot cross it
_SMOOTH_SECONDS = 0.005  # each of the two boxcar stages of the limiter's gain


@dataclass(frozen=True)
class MixTrack:
    """A mono or stereo clip placed at ``start`` seconds on the timeline."""

    path: str
    start: float
    gain_db: float = 0.0
    fade_in: float = 0.0
    fade_out: float = 0.0
    layer: str = "background"
    pan: float = 0.0  # -1 left .. +1 right


@dataclass(frozen=True)
class MixReport:
    path: str
    duration: float
    sample_rate: int
    channels: int
    integrated_lufs: float
    peak_db: float
    gain_applied_db: float

    def to_dict(self) -> dict:
        """Plain data for state and JSON: non-finite levels (silence) become ``None``."""
        out = asdict(self)
        for key in ("integrated_lufs", "peak_db", "gain_applied_db"):
            if not math.isfinite(out[key]):
                out[key] = None
        return out


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


class _TrackReader:
    """Reads a track's frames at the mix rate, resampling statelessly by aligned chunks."""

    def __init__(self, track: MixTrack, sample_rate: int, channels: int) -> None:
        path = Path(track.path)
        if not path.is_file():
            raise LVASInputError(f"Mix track {track.path!r} does not exist; render it first.")
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
        self.src_rate = int(info.samplerate)
        self.src_frames = int(info.frames)
        g = math.gcd(int(sample_rate), self.src_rate)
        self.up, self.down = int(sample_rate) // g, self.src_rate // g
        self.length = -(-self.src_frames * self.up // self.down)  # frames at the mix rate
        self.offset = int(round(track.start * sample_rate))  # timeline frame of the first one
        half = 10 * max(self.up, self.down) / self.up + 2  # resample_poly's reach, input frames
        self.pad = self.down * math.ceil(half / self.down)
        self.matrix = _pan_matrix(track.pan, int(info.channels), channels)
        self.matrix = self.matrix * 10 ** (track.gain_db / 20)
        self.fade_in = int(round(track.fade_in * sample_rate))
        self.fade_out = int(round(track.fade_out * sample_rate))
        self._file: sf.SoundFile | None = None

    @property
    def end(self) -> int:
        return self.offset + self.length

    def _source(self, lo: int, hi: int) -> np.ndarray:
        """Source frames ``[lo, hi)``, silence outside the file."""
        if self._file is None:
            self._file = sf.SoundFile(self.path)
        out = np.zeros((hi - lo, self._file.channels))
        a, b = max(lo, 0), min(hi, self.src_frames)
        if b > a:
            self._file.seek(a)
            out[a - lo : b - lo] = self._file.read(b - a, dtype="float64", always_2d=True)
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
            y = resample_poly(self._source(a - self.pad, b + self.pad), self.up, self.down, axis=0)
            skip = self.pad * self.up // self.down + first - a * self.up // self.down
            data = y[skip : skip + n]
        out = data @ self.matrix
        idx = first + np.arange(n)
        if self.fade_in > 0 and first < self.fade_in:
            out *= np.sin(0.5 * np.pi * np.clip(idx / self.fade_in, 0, 1))[:, None]
        if self.fade_out > 0 and first + n > self.length - self.fade_out:
            out *= np.sin(0.5 * np.pi * np.clip((self.length - idx) / self.fade_out, 0, 1))[:, None]
        return out

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _Limiter:
    """Look-ahead peak limiter with smooth gain and a provable ceiling.

    Gain is the running minimum of the needed reduction over a window, smoothed by two short
    boxcars; the audio is delayed by the window so every peak is already covered when it
    plays. Peaks are detected on the 4x oversampled signal, so the ceiling holds for true
    peak too (up to the interpolator's own accuracy).
    """

    def __init__(self, ceiling: float, sample_rate: int, channels: int) -> None:
        self.ceiling = ceiling
        self.smooth = max(int(_SMOOTH_SECONDS * sample_rate), 1)
        self.detector = TruePeakMeter(channels)
        window = 2 * self.smooth + self.detector.delay + 2
        self.window = window + (1 - window % 2)  # odd, for a causal minimum filter
        self.delay = self.window - 1
        self._need_tail = np.ones(self.window - 1)
        self._min_tail = np.ones(self.smooth - 1)
        self._box_tail = np.ones(self.smooth - 1)
        self._audio_tail = np.zeros((self.delay, channels))

    @staticmethod
    def _boxcar(tail: np.ndarray, x: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        ext = np.concatenate([tail, x])
        csum = np.concatenate([[0.0], np.cumsum(ext)])
        return (csum[size:] - csum[:-size]) / size, ext[len(ext) - (size - 1) :]

    def process(self, x: np.ndarray) -> np.ndarray:
        """Limit ``x`` (frames, channels); the output lags the input by ``delay`` frames."""
        env = self.detector.envelope(x, only_above=self.ceiling)
        need = np.ones(len(x))
        loud = env > self.ceiling
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
        audio = np.concatenate([self._audio_tail, x])
        self._audio_tail = audio[len(audio) - self.delay :]
        return audio[: len(x)] * gain[:, None]


def _temp_beside(path: Path, tag: str) -> Path:
    return path.with_name(f".{path.stem}.{uuid.uuid4().hex[:10]}.{tag}.wav")


def mix_to_wav(
    tracks: Sequence[MixTrack],
    duration: float,
    out_path: str | os.PathLike[str],
    *,
    sample_rate: int = 48000,
    channels: int = 2,
    loudness_target: float = -23.0,
    peak_ceiling_db: float = -1.0,
    block_seconds: float = 10.0,
    subtype: str = "PCM_24",
) -> MixReport:
    """Mix ``tracks`` into a WAV of exactly ``round(duration * sample_rate)`` frames.

    The mix is brought to ``loudness_target`` LUFS (BS.1770, gated) and limited so its
    true peak stays at or below ``peak_ceiling_db``. A silent mix stays silent and reports
    ``-inf``. Written under a temporary name and renamed when complete.
    """
    if not (math.isfinite(duration) and duration > 0):
        raise LVASInputError(f"Mix duration must be a positive number of seconds, got {duration}.")
    if channels not in (1, 2):
        raise LVASInputError(f"Mixes are mono or stereo; got channels={channels}.")
    if subtype not in ("PCM_16", "PCM_24"):
        raise LVASInputError(f"Final mix subtype must be PCM_16 or PCM_24, got {subtype!r}.")
    if not block_seconds > 0:
        raise LVASInputError("block_seconds must be positive.")
    sr = int(sample_rate)
    total = int(round(duration * sr))
    block = max(int(block_seconds * sr), 1)
    target = Path(out_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    readers = sorted((_TrackReader(t, sr, channels) for t in tracks), key=lambda r: r.offset)
    stage = _temp_beside(target, "pass1")
    try:
        meter = LoudnessMeter(sr, channels)
        with open_wav_writer(stage, sr, channels, "FLOAT", frames_hint=total) as raw:
            _pass_one(readers, total, block, channels, meter, raw)
        integrated = meter.integrated()
        gain_db = loudness_target - integrated if math.isfinite(integrated) else 0.0
        final_lufs, peak_db = _pass_two(
            stage, target, total, block, sr, channels, 10 ** (gain_db / 20),
            10 ** ((peak_ceiling_db - _LIMITER_MARGIN_DB) / 20), subtype,
        )
    finally:
        for reader in readers:
            reader.close()
        if stage.exists():
            stage.unlink()
    return MixReport(
        path=str(target),
        duration=total / sr,
        sample_rate=sr,
        channels=channels,
        integrated_lufs=final_lufs,
        peak_db=peak_db,
        gain_applied_db=gain_db,
    )


def _pass_one(readers: list[_TrackReader], total: int, block: int, channels: int,
              meter: LoudnessMeter, raw: sf.SoundFile) -> None:
    pending = list(readers)  # sorted by offset
    active: list[_TrackReader] = []
    for b0 in range(0, total, block):
        b1 = min(b0 + block, total)
        while pending and pending[0].offset < b1:
            active.append(pending.pop(0))
        buf = np.zeros((b1 - b0, channels))
        still = []
        for reader in active:
            t0, t1 = max(b0, reader.offset), min(b1, reader.end)
            if t1 > t0:
                buf[t0 - b0 : t1 - b0] += reader.read(t0 - reader.offset, t1 - t0)
            if reader.end > b1:
                still.append(reader)
            else:
                reader.close()
        active = still
        meter.add(buf)
        raw.write(buf.astype(np.float32))


def _pass_two(stage: Path, target: Path, total: int, block: int, sr: int, channels: int,
              gain: float, ceiling: float, subtype: str) -> tuple[float, float]:
    limiter = _Limiter(ceiling, sr, channels)
    meter = LoudnessMeter(sr, channels)
    peak = TruePeakMeter(channels)
    to_skip = limiter.delay  # the limiter's first outputs are its pre-roll
    with atomic_path(target) as tmp:
        with sf.SoundFile(stage) as src, open_wav_writer(
            tmp, sr, channels, subtype, frames_hint=total
        ) as out:

            def emit(y: np.ndarray) -> None:
                nonlocal to_skip
                if to_skip:
                    cut = min(to_skip, len(y))
                    y, to_skip = y[cut:], to_skip - cut
                if len(y):
                    y = np.clip(y, -1.0, 1.0)
                    meter.add(y)
                    peak.add(y)
                    out.write(y)

            while True:
                x = src.read(block, dtype="float64", always_2d=True)
                if not len(x):
                    break
                emit(limiter.process(x * gain))
            emit(limiter.process(np.zeros((limiter.delay, channels))))
    return meter.integrated(), peak.peak_db()
