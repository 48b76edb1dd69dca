"""What a scored file holds, and its soundtrack as a file the metrics can stream.

Every metric reads audio with ``soundfile``. A WAV, FLAC, Ogg or AIFF file is read as it is; any
other file (a dubbed video, an MP3, an M4A) has its soundtrack, the default audio stream (else
the first), decoded with PyAV frame by frame into a float WAV at its own sample rate and
channel count, so memory stays flat in the file's length and nothing is resampled. A video's
soundtrack is placed on its picture's clock (a stream that starts late is preceded by silence),
as a player would play it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import soundfile as sf
from av.stream import Disposition

from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.paths import atomic_path

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts",
                  ".mts", ".m2ts", ".wmv", ".flv", ".3gp", ".ogv", ".vob", ".mxf", ".dv", ".f4v",
                  ".asf", ".m2v", ".y4m", ".nut", ".h264", ".264", ".hevc", ".h265")
"""File name endings of videos (case ignored): what ``lvas eval`` and ``lvas batch`` look for in a
folder. Raw elementary streams (.h264, .hevc) and DVD/broadcast files (.vob, .mxf) dub too."""
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aif",
                  ".aiff", ".wma", ".caf", ".w64")
MEDIA_SUFFIXES = VIDEO_SUFFIXES + AUDIO_SUFFIXES
"""File name endings a folder of items is searched for (case ignored)."""

_SOUNDFILE_FORMATS = {"WAV", "WAVEX", "RF64", "W64", "FLAC", "OGG", "AIFF", "CAF"}
"""Containers libsndfile reads exactly (frame counts included): used without decoding."""


@dataclass(frozen=True)
class MediaInfo:
    """What the evaluation needs to know about a file before scoring it."""

    path: Path
    audio_stream: int | None  # index among the file's audio streams: the default, else the first
    sample_rate: int
    channels: int
    has_picture: bool  # a real video stream (cover art of an audio file does not count)
    duration: float | None

    @property
    def has_audio(self) -> bool:
        return self.audio_stream is not None


def probe_media(path: str | os.PathLike[str]) -> MediaInfo:
    """Streams of ``path``; bad input (missing, a folder, not media) raises LVASInputError."""
    p = Path(path).expanduser()
    if not p.exists():
        raise LVASInputError(f"{p} does not exist; check the path.")
    if p.is_dir():
        raise LVASInputError(f"{p} is a directory, not a video or audio file.")
    try:
        with av.open(str(p), metadata_errors="ignore") as container:
            audio = list(container.streams.audio)
            chosen = next((i for i, s in enumerate(audio) if s.disposition & Disposition.default),
                          0 if audio else None)
            picture = any(not (s.disposition & Disposition.attached_pic)
                          for s in container.streams.video)
            duration = container.duration / av.time_base if container.duration else None
            rate = channels = 0
            if chosen is not None:
                rate, channels = int(audio[chosen].rate or 0), int(audio[chosen].channels or 0)
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise LVASInputError(f"{p} is not a video or audio file LVAS can read ({exc}).") from None
    return MediaInfo(p, chosen, rate, channels, picture, duration)


def readable_directly(path: str | os.PathLike[str]) -> bool:
    """Whether ``soundfile`` reads the file exactly, so it needs no decoding."""
    try:
        return sf.info(str(path)).format in _SOUNDFILE_FORMATS
    except (sf.LibsndfileError, RuntimeError, OSError):
        return False


def decode_soundtrack(info: MediaInfo, out_wav: str | os.PathLike[str]) -> Path:
    """The file's soundtrack as a float32 WAV at its own rate and channels, written atomically.

    Raises LVASInputError when the file has no audio stream or nothing decodes from it.
    """
    if info.audio_stream is None:
        raise LVASInputError(f"{info.path} has no audio stream to score.")
    out = Path(out_wav)
    frames = 0
    with atomic_path(out) as tmp:
        writer: sf.SoundFile | None = None
        try:
            with av.open(str(info.path), metadata_errors="ignore") as container:
                stream = container.streams.audio[info.audio_stream]
                origin = _picture_start(container)
                lead: float | None = None  # seconds the sound starts after the picture
                skip = 0  # samples still to drop: sound from before the picture starts
                resampler = av.AudioResampler(format="fltp")  # planar float, same rate and layout
                for frame in container.decode(stream):
                    if lead is None:
                        lead = (frame.time - origin) if origin is not None and \
                            frame.time is not None else 0.0
                    for piece in resampler.resample(frame):
                        data = piece.to_ndarray().astype(np.float32).T  # (frames, channels)
                        if writer is None:
                            writer = sf.SoundFile(str(tmp), "w", samplerate=piece.sample_rate,
                                                  channels=data.shape[1], subtype="FLOAT",
                                                  format="WAV")
                            skip = _lead_in(writer, data.shape[1], lead, piece.sample_rate)
                        if skip:
                            dropped = min(skip, len(data))
                            data, skip = data[dropped:], skip - dropped
                        writer.write(data)
                        frames += len(data)
        except av.error.FFmpegError as exc:
            raise LVASInputError(f"The audio of {info.path} cannot be decoded ({exc}).") from None
        finally:
            if writer is not None:
                writer.close()
        if frames == 0:
            raise LVASInputError(f"The audio stream of {info.path} holds no samples.")
    return out


def _picture_start(container: av.container.InputContainer) -> float | None:
    """When the picture starts (its first timestamp), or None for a file without one."""
    for stream in container.streams.video:
        if stream.disposition & Disposition.attached_pic:
            continue
        if stream.start_time is not None and stream.time_base is not None:
            return float(stream.start_time * stream.time_base)
        return 0.0
    return None


def _lead_in(writer: sf.SoundFile, channels: int, lead: float, rate: int) -> int:
    """Put the soundtrack on the picture's clock: a stream that starts ``lead`` seconds after
    the picture (an offset in the container, as ``-itsoffset`` writes) is preceded by that much
    silence; for one that starts before it, the number of samples to drop. Sync metrics then
    measure the offset a player plays, which decoding alone would hide."""
    shift = int(round(lead * rate))
    if shift > 0:
        writer.write(np.zeros((shift, channels), dtype=np.float32))
    return max(-shift, 0)


def soundtrack_file(info: MediaInfo, work_dir: str | os.PathLike[str], name: str) -> Path:
    """A file the metrics can stream: ``info.path`` itself when soundfile reads it, else its
    soundtrack decoded to ``work_dir/name.wav``."""
    if info.audio_stream is None:
        raise LVASInputError(f"{info.path} has no audio stream to score.")
    if not info.has_picture and readable_directly(info.path):
        return info.path
    return decode_soundtrack(info, Path(work_dir) / f"{name}.wav")
