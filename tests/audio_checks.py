"""Measurements of delivered media shared by the end-to-end tests."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import av
import numpy as np

from lvas.tools.common.ffmpeg import ffmpeg_exe


def video_packets_digest(path: str | Path) -> tuple[str, int]:
    """SHA-256 over the payloads of the first video stream's packets, and their count."""
    digest = hashlib.sha256()
    count = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            digest.update(bytes(packet))
            count += 1
    return digest.hexdigest(), count


def decode_audio(path: str | Path, *, mono: bool = True) -> tuple[np.ndarray, int]:
    """The first audio stream as float32 samples (mono: the channels' mean; else shaped
    (frames, channels)) and its sample rate."""
    chunks = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        for frame in container.decode(stream):
            data = frame.to_ndarray().astype(np.float32)
            if data.ndim == 2 and not frame.format.is_planar:
                data = data.reshape(-1, frame.layout.nb_channels).T
            if data.ndim == 1:
                data = data[None, :]
            chunks.append(data.mean(axis=0) if mono else data.T)
    return np.concatenate(chunks), rate


def video_duration(path: str | Path) -> float:
    """Duration of the first video stream from its last packet's end time."""
    end = 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        base = float(stream.time_base)
        start = stream.start_time or 0
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            end = max(end, (packet.pts - start + (packet.duration or 0)) * base)
    return end


def rms_db(samples: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    return 20 * np.log10(max(rms, 1e-12))


_EBUR128_SUMMARY = re.compile(
    r"Integrated loudness:\s*I:\s*(?P<lufs>-?[\d.]+|-?inf)\s*LUFS.*?"
    r"True peak:\s*Peak:\s*(?P<peak>-?[\d.]+|-?inf)\s*dBFS",
    re.DOTALL,
)


def ebur128_levels(path: str | Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of the first audio stream of ``path``,
    as FFmpeg's ``ebur128`` filter measures them.

    End-to-end checks grade the delivered loudness with this meter, not LVAS's own: a bug in
    the project's meter would otherwise steer the mix and pass its own inspection. FFmpeg also
    decodes the file itself, so an encoded (AAC, Opus) soundtrack is measured as a player hears
    it. The summary prints one decimal, which is finer than any tolerance the tests use.
    """
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-i", str(path), "-map", "0:a:0",
         "-af", "ebur128=peak=true:framelog=quiet", "-f", "null", "-"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found = _EBUR128_SUMMARY.search(result.stderr)
    assert found, f"no ebur128 summary in ffmpeg's output:\n{result.stderr[-2000:]}"
    return float(found["lufs"]), float(found["peak"])
