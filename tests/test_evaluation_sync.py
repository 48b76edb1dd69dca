"""The weight-free sync metric recovers a known shift of a soundtrack, with its sign."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lvas.tools.evaluation.sync import onset_f1, sync_metric

SR = 16000
SECONDS = 30.0


def _onset_times(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.uniform(0.5, 1.4, 60)) + 0.5
    return times[times < SECONDS - 1.5]


def _motion(times: np.ndarray) -> np.ndarray:
    """25 Hz envelope: each movement starts at an onset and fades over half a second."""
    env = np.full(int(SECONDS * 25), 0.01, dtype=np.float32)
    for t in times:
        i = int(round(t * 25))
        env[i:i + 12] += np.exp(-np.arange(len(env[i:i + 12])) / 4.0).astype(np.float32)
    return env


def _clicks(path: Path, times: np.ndarray, shift: float) -> Path:
    rng = np.random.default_rng(1)
    audio = 0.002 * rng.standard_normal(int(SECONDS * SR))
    burst = rng.standard_normal(int(0.03 * SR)) * np.exp(-np.arange(int(0.03 * SR)) / 80.0)
    for t in times + shift:
        i = int(round(t * SR))
        if 0 <= i < len(audio) - len(burst):
            audio[i:i + len(burst)] += 0.5 * burst
    sf.write(path, audio, SR, subtype="FLOAT")
    return path


@pytest.mark.parametrize("shift", [0.24, -0.16, 0.0])
def test_sync_recovers_a_known_shift_and_its_sign(tmp_path: Path, shift: float) -> None:
    times = _onset_times(7)
    report = sync_metric(_clicks(tmp_path / "a.wav", times, shift), _motion(times),
                         scenes=[(0.0, 12.0), (12.0, 30.0)])
    assert report.overall.lag_seconds is not None
    assert report.overall.lag_seconds == pytest.approx(shift, abs=0.08)
    assert not report.overall.lag_at_edge
    for scene in report.scenes:
        assert scene.lag_seconds == pytest.approx(shift, abs=0.08)
    assert report.overall.onset_f1 is not None
    if shift == 0.0:
        assert report.overall.onset_f1 > 0.9
    else:  # 160 ms and more is outside the +-100 ms tolerance
        assert report.overall.onset_f1 < 0.3


def test_sync_does_not_depend_on_the_block_size(tmp_path: Path) -> None:
    times = _onset_times(3)
    path = _clicks(tmp_path / "b.wav", times, 0.12)
    a = sync_metric(path, _motion(times), block_seconds=10.0)
    b = sync_metric(path, _motion(times), block_seconds=0.77)
    assert a == b


def test_onset_f1_counts_one_to_one_matches() -> None:
    ref = np.array([1.0, 2.0, 3.0])
    assert onset_f1(ref, np.array([1.05, 2.2, 3.0, 3.02])) == pytest.approx(2 * 2 / 7)
    assert onset_f1(np.zeros(0), np.zeros(0)) is None
    assert onset_f1(ref, np.zeros(0)) == 0.0
