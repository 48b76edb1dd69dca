"""Audio–picture synchrony without model weights: lag and onset F1, per scene and overall.

Two numbers per span (a scene, or the whole video):

- ``lag_seconds`` (s, signed, positive = the audio is late): the shift within +-1 s that
  maximises the normalised cross-correlation of the audio onset envelope with the picture's
  motion-onset envelope (:mod:`onsets`), refined between 40 ms frames by a parabola through
  the peak and its neighbours. ``None`` when either envelope is flat over the span;
  ``lag_at_edge`` marks a best lag at the +-1 s limit (no alignment found inside the range).
- ``onset_f1`` (0–1): peak-picked audio onsets matched one-to-one to motion onsets within
  +-100 ms, without compensating the lag. ``None`` when neither side has an onset.

The overall values use the whole video; per-scene values only the scene's motion onsets
(the audio envelope may reach across the scene's edges by the lag).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lvas.tools.evaluation.onsets import (
    RATE,
    audio_onset_envelope,
    motion_onset_envelope,
    pick_onsets,
)

MAX_LAG_SECONDS = 1.0
TOLERANCE_SECONDS = 0.1


@dataclass(frozen=True)
class SyncSpan:
    start: float
    end: float
    lag_seconds: float | None
    correlation: float | None
    lag_at_edge: bool  # the best lag is the search's limit: no alignment found within +-1 s
    onset_f1: float | None
    audio_onsets: int
    motion_onsets: int


@dataclass(frozen=True)
class SyncReport:
    overall: SyncSpan
    scenes: list[SyncSpan] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _normalised(x: np.ndarray) -> np.ndarray | None:
    std = float(x.std())
    return (x - x.mean()) / std if std > 1e-12 else None


def best_lag(motion: np.ndarray, audio: np.ndarray, start: int, end: int,
             max_lag: int) -> tuple[float, float] | None:
    """(lag in frames, correlation) maximising ``sum motion[i] * audio[i + lag]`` over i in
    [start, end); both envelopes are normalised over the span they use."""
    m = _normalised(motion[start:end])
    if m is None:
        return None
    lo, hi = max(0, start - max_lag), min(len(audio), end + max_lag)
    a = _normalised(audio[lo:hi])
    if a is None:
        return None
    padded = np.pad(a, (max_lag, max_lag))
    lags = np.arange(-max_lag, max_lag + 1)
    scores = np.empty(len(lags))
    for k, lag in enumerate(lags):
        seg = padded[start - lo + max_lag + lag : start - lo + max_lag + lag + len(m)]
        scores[k] = float(m[: len(seg)] @ seg) / len(m)
    k = int(np.argmax(scores))
    shift = 0.0
    if 0 < k < len(scores) - 1:  # parabolic refinement between frames
        left, mid, right = scores[k - 1], scores[k], scores[k + 1]
        denom = left - 2.0 * mid + right
        if denom < 0:
            shift = float(np.clip(0.5 * (left - right) / denom, -0.5, 0.5))
    return float(lags[k]) + shift, float(scores[k])


def onset_f1(reference: np.ndarray, estimated: np.ndarray,
             tolerance: float = TOLERANCE_SECONDS) -> float | None:
    """F-measure of one-to-one matches within ``tolerance`` (greedy, closest pairs first)."""
    if not len(reference) and not len(estimated):
        return None
    if not len(reference) or not len(estimated):
        return 0.0
    dist = np.abs(reference[:, None] - estimated[None, :])
    pairs = sorted(zip(*np.nonzero(dist <= tolerance), strict=True),
                   key=lambda p: float(dist[p]))
    used_r: set[int] = set()
    used_e: set[int] = set()
    for r, e in pairs:
        if r not in used_r and e not in used_e:
            used_r.add(int(r))
            used_e.add(int(e))
    matched = len(used_r)
    return 2.0 * matched / (len(reference) + len(estimated))


def _span(motion: np.ndarray, audio: np.ndarray, motion_times: np.ndarray,
          audio_times: np.ndarray, start: float, end: float) -> SyncSpan:
    a, b = int(round(start * RATE)), min(int(round(end * RATE)), len(motion))
    found = best_lag(motion, audio, a, b, int(round(MAX_LAG_SECONDS * RATE))) if b > a else None
    ref = motion_times[(motion_times >= start) & (motion_times < end)]
    est = audio_times[(audio_times >= start) & (audio_times < end)]
    return SyncSpan(
        start=start, end=end,
        lag_seconds=None if found is None else found[0] / RATE,
        correlation=None if found is None else found[1],
        lag_at_edge=found is not None and abs(found[0]) >= MAX_LAG_SECONDS * RATE - 1e-9,
        onset_f1=onset_f1(ref, est), audio_onsets=len(est), motion_onsets=len(ref),
    )


def sync_metric(audio_path: str | os.PathLike[str], motion: np.ndarray,
                scenes: Sequence[tuple[float, float]] = (), block_seconds: float = 10.0
                ) -> SyncReport:
    """Lag and onset F1 of a soundtrack against a 25 Hz motion envelope, overall and per scene.

    ``scenes`` are (start, end) seconds; without them only the overall span is reported.
    """
    audio = audio_onset_envelope(audio_path, block_seconds)
    motion_on = motion_onset_envelope(motion)
    n = min(len(audio), len(motion_on))
    audio, motion_on = audio[:n], motion_on[:n]
    audio_times, motion_times = pick_onsets(audio), pick_onsets(motion_on)
    overall = _span(motion_on, audio, motion_times, audio_times, 0.0, n / RATE)
    spans = [_span(motion_on, audio, motion_times, audio_times, s, e) for s, e in scenes]
    return SyncReport(overall, spans)


def motion_envelope_of_video(video: str | os.PathLike[str]) -> np.ndarray:
    """The Storyboarder's 25 Hz motion envelope of a video that has no run directory.

    Runs the same decode pass as a dub (:func:`lvas.tools.video.analysis.analyze_video`) into
    a temporary folder.
    """
    from lvas.tools.video.analysis import analyze_video

    with tempfile.TemporaryDirectory(prefix="lvas-eval-") as tmp:
        result = analyze_video(video, tmp)
        return np.load(Path(result.envelope_path)).astype(np.float32)
