"""Onset-strength envelopes at 25 Hz (audio and picture) and the peak picking both share.

The sync metric compares *when things start*: in the sound, spectral flux (the summed rise of
40 log-mel bands between consecutive 80 ms frames, one frame every 40 ms); in the picture, the
rise of the Storyboarder's motion envelope (float32, 25 Hz, ``motion.npy``). Both are sampled on
the same 25 Hz grid, frame ``i`` at ``i / 25`` s, so they can be cross-correlated directly.
"""

from __future__ import annotations

import os

import numpy as np

from lvas.tools.audio.audio_io import wav_info
from lvas.tools.evaluation.logmel import LogMelFrames
from lvas.tools.evaluation.streaming import iter_mono

RATE = 25.0
"""Frames per second of both onset envelopes (the motion envelope's own rate)."""
N_MELS = 40
PICK_RADIUS = 2  # frames: a peak is the largest value within +-80 ms
PICK_STDS = 1.0  # ... and exceeds the envelope's mean by this many standard deviations


def audio_onset_envelope(path: str | os.PathLike[str], block_seconds: float = 10.0
                         ) -> np.ndarray:
    """Spectral flux of the file at 25 Hz (natural-log power units, summed over bands).

    Frames are centred on ``i / 25`` s (80 ms Hann windows); only the 25 numbers per second of
    the envelope are kept while the audio streams past.
    """
    sr = wav_info(path).sample_rate
    hop = int(round(sr / RATE))
    frames = LogMelFrames(sr, 2 * hop, hop, N_MELS, centre=True)
    previous: np.ndarray | None = None  # the last frame of the previous block
    parts: list[np.ndarray] = []
    for block in iter_mono(path, block_seconds):
        mel = frames.add(block)
        if not len(mel):
            continue
        if previous is None:
            parts.append(np.zeros(1))  # the first frame has nothing to rise from
            previous = mel[0]
            mel = mel[1:]
        steps = np.diff(np.vstack([previous[None, :], mel]), axis=0)
        parts.append(np.clip(steps, 0.0, None).sum(axis=1))
        if len(mel):
            previous = mel[-1]
    return np.concatenate(parts) if parts else np.zeros(0)


def motion_onset_envelope(motion: np.ndarray) -> np.ndarray:
    """Rise of the motion envelope: ``max(0, m[i] - m[i-1])`` after light smoothing."""
    m = np.asarray(motion, dtype=np.float64)
    if len(m) >= 3:  # single-frame noise should not count as a start of motion
        m = np.convolve(m, [0.25, 0.5, 0.25], mode="same")
    return np.clip(np.diff(m, prepend=m[:1]), 0.0, None)


def pick_onsets(strength: np.ndarray) -> np.ndarray:
    """Onset times (s): local maxima within +-2 frames above mean + 1 std of the envelope.

    The threshold is taken over the whole envelope, so quiet scenes are judged against the
    whole video's activity rather than their own noise.
    """
    x = np.asarray(strength, dtype=np.float64)
    if len(x) < 3 or not np.any(x > 0):
        return np.zeros(0)
    floor = float(x.mean() + PICK_STDS * x.std())
    padded = np.pad(x, PICK_RADIUS, constant_values=-np.inf)
    window = np.lib.stride_tricks.sliding_window_view(padded, 2 * PICK_RADIUS + 1)
    is_peak = (x >= window.max(axis=1)) & (x > floor) & (x > 0)
    # Plateaus: keep the first frame of equal neighbours only.
    is_peak[1:] &= ~(is_peak[:-1] & (x[1:] == x[:-1]))
    return np.flatnonzero(is_peak) / RATE
