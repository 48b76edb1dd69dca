"""Weight-free evaluation metrics against closed forms: Fréchet, dropouts, loudness range."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lvas.tools.evaluation.dropouts import dropouts
from lvas.tools.evaluation.frechet import frechet_distance, log_mel_frechet, log_mel_stats
from lvas.tools.evaluation.loudness_range import measure_loudness

SR = 16000


def _write(path: Path, audio: np.ndarray, sr: int = SR) -> Path:
    sf.write(path, audio, sr, subtype="FLOAT")
    return path


def _noise(seconds: float, seed: int, level: float = 0.1) -> np.ndarray:
    return level * np.random.default_rng(seed).standard_normal(int(seconds * SR))


def test_frechet_of_two_gaussians_matches_the_closed_form() -> None:
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, -1.0, 2.5])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = float(np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2))
    got = frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    assert got == pytest.approx(expected, rel=1e-9)
    # A rotation of both covariances changes nothing.
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3)))
    rotated = frechet_distance(q @ mu1, q @ np.diag(var1) @ q.T, q @ mu2, q @ np.diag(var2) @ q.T)
    assert rotated == pytest.approx(expected, rel=1e-6)


def test_frechet_of_identical_sets_is_zero_and_grows_with_a_different_sound(
        tmp_path: Path) -> None:
    a = _write(tmp_path / "a.wav", _noise(3.0, 1))
    b = _write(tmp_path / "b.wav", _noise(3.0, 2))
    t = np.arange(3 * SR) / SR
    tone = _write(tmp_path / "tone.wav", 0.3 * np.sin(2 * np.pi * 440 * t) + _noise(3.0, 3, 0.01))
    assert log_mel_frechet([a], [a]) == pytest.approx(0.0, abs=1e-6)
    same_kind = log_mel_frechet([a], [b])
    assert same_kind < log_mel_frechet([a], [tone])
    stats = log_mel_stats([a, b])
    assert stats.mean.shape == (64,) and stats.cov.shape == (64, 64)


def test_dropouts_find_an_inserted_silence(tmp_path: Path) -> None:
    audio = _noise(10.0, 4)
    audio[int(4.0 * SR):int(5.5 * SR)] = 0.0  # 1.5 s of silence
    audio[int(7.0 * SR):int(7.5 * SR)] *= 10 ** (-40 / 20)  # 0.5 s 40 dB down
    report = dropouts(_write(tmp_path / "d.wav", audio))
    assert report.longest_seconds == pytest.approx(1.5, abs=1e-9)
    assert report.total_seconds == pytest.approx(2.0, abs=1e-9)
    assert report.share == pytest.approx(0.2)
    assert report.median_db == pytest.approx(-20.0, abs=0.5)


def test_loudness_range_of_a_two_level_signal(tmp_path: Path) -> None:
    sr = 48000
    t = np.arange(20 * sr) / sr
    tone = np.sin(2 * np.pi * 1000 * t)
    audio = np.concatenate([0.1 * tone, 0.1 * 10 ** (-10 / 20) * tone])
    report = measure_loudness(_write(tmp_path / "lra.wav", audio, sr))
    assert report.range_lu == pytest.approx(10.0, abs=0.3)
    assert report.true_peak_dbtp == pytest.approx(-20.0, abs=0.1)
    # Integrated: the louder half dominates the power mean, the quieter half is not gated.
    loud = -0.691 + 10 * np.log10(0.5 * 0.01 * 1.0)  # 1 kHz sine, K-weighting ~ +0.7 dB
    assert loud - 3.5 < report.integrated_lufs < loud + 1.5


def test_level_metrics_do_not_depend_on_the_block_size(tmp_path: Path) -> None:
    audio = _noise(25.0, 5) * np.repeat(np.linspace(0.2, 1.0, 25), SR)
    audio[int(12.3 * SR):int(13.1 * SR)] = 0.0
    path = _write(tmp_path / "long.wav", audio)
    a, b = dropouts(path, block_seconds=10.0), dropouts(path, block_seconds=0.37)
    assert a == b
    la, lb = measure_loudness(path, 10.0), measure_loudness(path, 0.53)
    assert la.range_lu == pytest.approx(lb.range_lu, abs=1e-9)
    assert la.integrated_lufs == pytest.approx(lb.integrated_lufs, abs=1e-9)
    sa, sb = log_mel_stats([path], 10.0), log_mel_stats([path], 0.29)
    assert np.allclose(sa.mean, sb.mean) and np.allclose(sa.cov, sb.cov)
