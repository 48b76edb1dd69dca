"""Measure the audio as delivered: after AAC/Opus encoding, not only the WAV that went in.

Lossy encoders reshape the waveform, so the encoded soundtrack's true peak can sit a few tenths
of a dB above the master's. The mixer measures the muxed file and trims it when needed, so
what a viewer gets meets the loudness rules too.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import av
import numpy as np

from lvas.tools.audio.limiter import ScreenedPeaks
from lvas.tools.audio.loudness import LoudnessMeter
from lvas.tools.common.ffmpeg import FFmpegError, ffmpeg_exe


@dataclass(frozen=True)
class DeliveredLevels:
    integrated_lufs: float
    true_peak_db: float
    sample_rate: int
    channels: int


_METER_FRAMES = 1 << 18  # about 5 s at 48 kHz: the meters' per-call cost is paid per block


def measure_delivered_audio(path: str | Path, stream_index: int = 0) -> DeliveredLevels:
    """Integrated loudness and true peak of an audio stream of a media file, decoded in
    blocks (memory does not grow with the file's length).

    ffmpeg decodes it in a child process, so the decode runs beside the meters (on another
    core where there is one) and its edit list is honoured: the encoder's priming and
    padding are not measured. The samples arrive interleaved in blocks of ``_METER_FRAMES``,
    as the meters take them: fed one codec frame at a time, the filters' set-up per call cost
    several times the decode on a long soundtrack. The true peak is screened
    (``ScreenedPeaks``: the plain meter's result, with the oversampling skipped where the
    peak so far cannot be reached).
    """
    with av.open(str(path)) as container:  # the stream's format, read from its header
        stream = container.streams.audio[stream_index]
        rate, channels = int(stream.rate or 0), int(stream.channels or 0)
    if rate < 1 or channels < 1:  # a header that does not say: nothing to read it as
        return DeliveredLevels(-math.inf, -math.inf, 0, 0)
    return _metered(["-i", str(path), "-map", f"0:a:{stream_index}"], rate, channels, path)


def measure_encoded_stream(stream: IO[bytes], rate: int, channels: int) -> DeliveredLevels:
    """Integrated loudness and true peak of the encoded soundtrack read from ``stream``, a
    Matroska stream of it (the mux's second output, ``muxing.mux_soundtrack``'s tap) read
    while the mux is still encoding: the measurement runs beside the encode rather than after
    it. Metered as :func:`measure_delivered_audio` meters a file, at ``rate`` and
    ``channels``. Matroska carries no edit list: where its muxer writes no codec delay either
    (FFmpeg before 7, for AAC), the encoder's priming (1,024 samples) is metered too, which
    moves a half-minute clip's gated loudness by under 0.02 LU and its true peak not at all."""
    return _metered(["-f", "matroska", "-i", "pipe:0", "-map", "0:a:0"], rate, channels,
                    "the encoded soundtrack", stdin=stream)


def _metered(source: list[str], rate: int, channels: int, what: object,
             stdin: IO[bytes] | None = None) -> DeliveredLevels:
    """The meters fed by an ffmpeg child decoding ``source`` (its input arguments)."""
    loud, peak = LoudnessMeter(rate, channels), ScreenedPeaks(channels)
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error",
           *(["-nostdin"] if stdin is None else []), *source,
           "-ac", str(channels), "-ar", str(rate), "-f", "f32le", "-"]
    frames = 0
    with tempfile.TemporaryFile() as errors:  # a file: a full stderr pipe would stall ffmpeg
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdout is not None
        try:
            while chunk := proc.stdout.read(_METER_FRAMES * channels * 4):
                data = np.frombuffer(chunk, dtype="<f4").reshape(-1, channels)
                loud.add(data)
                peak.envelope(data)
                frames += len(data)
        finally:
            proc.stdout.close()
            if proc.poll() is None and not _finished(proc):
                proc.kill()
            returncode = proc.wait()
        if returncode != 0:
            errors.seek(0)
            tail = errors.read().decode("utf-8", "replace")[-2000:]
            raise FFmpegError(f"ffmpeg could not decode the audio of {what}", tail, returncode)
    if not frames:
        return DeliveredLevels(-math.inf, -math.inf, 0, 0)
    return DeliveredLevels(loud.integrated(), peak.peak_db(), rate, channels)


def _finished(proc: subprocess.Popen[bytes]) -> bool:
    """Whether ffmpeg ends by itself within a moment (it has written everything)."""
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return False
    return True
