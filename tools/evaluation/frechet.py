"""A Fréchet distance that needs no model weights: Gaussian statistics of log-mel frames.

The field's FD (VGGish, PANNs, PaSST) compares embeddings that need downloaded weights. This
one compares a fixed, documented signal statistic instead, so it runs on every machine: each
frame is 64 log-mel band powers (natural log of power) over 0–8 kHz — the band a 16 kHz signal
holds —, 25 ms Hann window, 10 ms hop. Unit: squared log-power (nats²), summed over the 64
bands; 0 for identical sets. The statistics are accumulated as sums (memory fixed by the band
count, not by the audio's length).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np

from lvas.tools.audio.audio_io import wav_info
from lvas.tools.evaluation.logmel import LogMelFrames
from lvas.tools.evaluation.stats import Gaussian, frechet_distance
from lvas.tools.evaluation.streaming import iter_mono

__all__ = ["Gaussian", "StatsAccumulator", "frechet_distance", "log_mel_frechet", "log_mel_stats"]

N_MELS = 64
WINDOW_SECONDS = 0.025
HOP_SECONDS = 0.010
FMAX_HZ = 8000.0


class StatsAccumulator:
    """Running sum and sum of outer products of feature rows, combined over many files."""

    def __init__(self, dim: int) -> None:
        self._sum = np.zeros(dim)
        self._outer = np.zeros((dim, dim))
        self.count = 0

    def add(self, rows: np.ndarray) -> None:
        if len(rows):
            self._sum += rows.sum(axis=0)
            self._outer += rows.T @ rows
            self.count += len(rows)

    def stats(self) -> Gaussian:
        """Mean and unbiased covariance; needs at least two rows."""
        if self.count < 2:
            raise ValueError("a Fréchet distance needs at least two frames per set")
        mean = self._sum / self.count
        cov = (self._outer - self.count * np.outer(mean, mean)) / (self.count - 1)
        return Gaussian(mean, (cov + cov.T) / 2.0, self.count)


def log_mel_stats(
    paths: Iterable[str | os.PathLike[str]], block_seconds: float = 10.0
) -> Gaussian:
    """Gaussian statistics of the documented log-mel frames over every file in ``paths``."""
    acc = StatsAccumulator(N_MELS)
    for path in paths:
        sr = wav_info(path).sample_rate
        frames = LogMelFrames(sr, int(round(WINDOW_SECONDS * sr)), int(round(HOP_SECONDS * sr)),
                              N_MELS, fmax=FMAX_HZ)
        for block in iter_mono(path, block_seconds):
            acc.add(frames.add(block))
    return acc.stats()


def log_mel_frechet(
    generated: Iterable[str | os.PathLike[str]], reference: Iterable[str | os.PathLike[str]]
) -> float:
    """FD between the log-mel statistics of the generated and the reference files (nats²)."""
    a, b = log_mel_stats(generated), log_mel_stats(reference)
    return frechet_distance(a.mean, a.cov, b.mean, b.cov)
