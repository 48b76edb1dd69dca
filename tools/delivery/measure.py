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


_METER_FRAMES = 1 << 18  # about 5 s at 48 kHz: the meters' per-call cost is paid per block


def measure_delivered_audio(path: str | Path, stream_index: int = 0) -> DeliveredLevels:
    """Integrated loudness and true peak of an audio stream of a media file, decoded in
    frames (memory does not grow with the file's length).

    Decoded frames (about 1,024 samples each for AAC) are gathered into blocks of
    ``_METER_FRAMES`` before they reach the meters: fed frame by frame, the filters' set-up
    per call cost several times the decode itself on a long soundtrack.
    """
    with av.open(str(path)) as container:
        stream = container.streams.audio[stream_index]
        resampler = av.AudioResampler(format="fltp")
        meters: tuple[LoudnessMeter, TruePeakMeter] | None = None
        rate = channels = 0
        pending: list[np.ndarray] = []  # (channels, frames) pieces not yet metered
        have = 0

        def flush() -> None:
            nonlocal pending, have
            if pending:
                data = np.concatenate(pending, axis=1).T.astype(np.float64)  # (frames, ch)
                assert meters is not None
                meters[0].add(data)
                meters[1].add(data)
            pending, have = [], 0

        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                data = out.to_ndarray()  # planar: (channels, frames)
                if meters is None:
                    rate, channels = out.sample_rate, data.shape[0]
                    meters = LoudnessMeter(rate, channels), TruePeakMeter(channels)
                pending.append(data)
                have += data.shape[1]
                if have >= _METER_FRAMES:
                    flush()
        flush()
    if meters is None:
        return DeliveredLevels(-math.inf, -math.inf, 0, 0)
    loud, peak = meters
    return DeliveredLevels(loud.integrated(), peak.peak_db(), rate, channels)
