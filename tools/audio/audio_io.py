"""WAV reading and writing that never leaves a half-written file behind.

Writing goes through the one WAV writer (``lvas.tools.audio.wav_stream.WavWriter``: why it is
not soundfile's is said there); reading goes through soundfile. Whole-array writes land under
a temporary name (:func:`lvas.tools.common.paths.atomic_path`) and are renamed only once
complete, so an interrupted run cannot be mistaken for finished work when it resumes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from lvas.tools.audio.wav_stream import SUBTYPES, WavWriter
from lvas.tools.common.paths import atomic_path

__all__ = ["SUBTYPES", "WavInfo", "open_wav_writer", "read_wav_block", "wav_info", "write_wav"]


@dataclass(frozen=True)
class WavInfo:
    """What a WAV file holds, without reading its samples."""

    frames: int
    sample_rate: int
    channels: int
    subtype: str

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def write_wav(
    path: str | os.PathLike[str],
    audio: np.ndarray,
    sample_rate: int,
    subtype: str = "PCM_16",
) -> Path:
    """Write mono ``(frames,)`` or multichannel ``(frames, channels)`` audio atomically."""
    data = np.asarray(audio, dtype=np.float32)
    if data.ndim not in (1, 2):
        raise ValueError(f"audio must be 1-D or 2-D (frames, channels), got shape {data.shape}")
    channels = 1 if data.ndim == 1 else data.shape[1]
    target = Path(path)
    # pcm_floor: a generated clip keeps the quantisation it had when soundfile wrote it.
    with atomic_path(target) as tmp, WavWriter(tmp, int(sample_rate), channels, subtype,
                                               len(data), pcm_floor=True) as wav:
        wav.write(data)
    return target


def open_wav_writer(
    path: str | os.PathLike[str],
    sample_rate: int,
    channels: int,
    subtype: str = "FLOAT",
    *,
    frames_hint: int = 0,
) -> WavWriter:
    """A streaming WAV writer (close it, or use it as a context manager).

    ``frames_hint`` is the number of frames expected: the header is written for it (RF64 when
    plain WAV's 4 GiB would overflow) and corrected on close if the count turns out different.
    """
    return WavWriter(path, sample_rate, channels, subtype, frames_hint)


def read_wav_block(path: str | os.PathLike[str], start_frame: int, frames: int) -> np.ndarray:
    """Frames ``[start_frame, start_frame + frames)`` as float32 ``(frames, channels)``.

    Frames outside the file read as silence, so callers can place clips on a timeline
    without bounds checks.
    """
    frames = max(int(frames), 0)
    with sf.SoundFile(path) as f:
        out = np.zeros((frames, f.channels), dtype=np.float32)
        lo = max(int(start_frame), 0)
        hi = min(int(start_frame) + frames, f.frames)
        if hi > lo:
            f.seek(lo)
            data = f.read(hi - lo, dtype="float32", always_2d=True)
            offset = lo - int(start_frame)
            out[offset : offset + len(data)] = data
    return out


def wav_info(path: str | os.PathLike[str]) -> WavInfo:
    """Frames, rate, channels and subtype of an audio file."""
    info = sf.info(str(path))
    return WavInfo(
        frames=int(info.frames),
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
        subtype=str(info.subtype),
    )
