"""Measure the audio as delivered: after AAC/Opus encoding, not only the WAV that went in.

Lossy encoders reshape the waveform, so the encoded soundtrack's true peak can sit a few tenths
of a dB above the master's. The mixer measures the muxed file and trims it when needed, so
what a viewer gets meets the loudness rules too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from lvas.tools.audio.loudness import LoudnessMeter, TruePeakMeter


@dataclass(frozen=True)
class DeliveredLevels:
    integrated_lufs: float
    true_peak_db: float
    sample_rate: int
    channels: int


def measure_delivered_audio(path: str | Path, stream_index: int = 0) -> DeliveredLevels:
    """Integrated loudness and true peak of an audio stream of a media file, decoded in
    frames (memory does not grow with the file's length)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[stream_index]
        resampler = av.AudioResampler(format="fltp")
        loud: LoudnessMeter | None = None
        peak: TruePeakMeter | None = None
        rate = channels = 0
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                data = out.to_ndarray().astype(np.float64).T  # (frames, channels)
                if loud is None or peak is None:
                    rate, channels = out.sample_rate, data.shape[1]
                    loud, peak = LoudnessMeter(rate, channels), TruePeakMeter(channels)
                loud.add(data)
                peak.add(data)
    if loud is None or peak is None:
        return DeliveredLevels(-math.inf, -math.inf, 0, 0)
    return DeliveredLevels(loud.integrated(), peak.peak_db(), rate, channels)
