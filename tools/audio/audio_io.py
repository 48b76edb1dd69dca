"""WAV reading and writing that never leaves a half-written file behind.

Every writer goes through :func:`lvas.tools.common.paths.atomic_path`: the data lands under a
temporary name in the target directory and is renamed only once complete, so an interrupted
run cannot be mistaken for finished work when it resumes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from lvas.tools.common.paths import atomic_path

SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")
_WAV_LIMIT_BYTES = 4_000_000_000


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


def _check_subtype(subtype: str) -> str:
    if subtype not in SUBTYPES:
        raise ValueError(f"Unsupported WAV subtype {subtype!r}; use one of {', '.join(SUBTYPES)}.")
    return subtype


def write_wav(
    path: str | os.PathLike[str],
    audio: np.ndarray,
    sample_rate: int,
    subtype: str = "PCM_16",
) -> Path:
    """Write mono ``(frames,)`` or multichannel ``(frames, channels)`` audio atomically."""
    _check_subtype(subtype)
    data = np.asarray(audio, dtype=np.float32)
    if data.ndim not in (1, 2):
        raise ValueError(f"audio must be 1-D or 2-D (frames, channels), got shape {data.shape}")
    target = Path(path)
    with atomic_path(target) as tmp:
        sf.write(tmp, data, int(sample_rate), subtype=subtype, format="WAV")
    return target


def open_wav_writer(
    path: str | os.PathLike[str],
    sample_rate: int,
    channels: int,
    subtype: str = "FLOAT",
    *,
    frames_hint: int = 0,
) -> sf.SoundFile:
    """A streaming WAV writer; RF64 when ``frames_hint`` says plain WAV's 4 GiB would overflow."""
    _check_subtype(subtype)
    width = {"PCM_16": 2, "PCM_24": 3, "FLOAT": 4}[subtype]
    big = int(frames_hint) * int(channels) * width > _WAV_LIMIT_BYTES
    return sf.SoundFile(
        path,
        mode="w",
        samplerate=int(sample_rate),
        channels=int(channels),
        subtype=subtype,
        format="RF64" if big else "WAV",
    )


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
