"""Seams rise when the mixer's crossfades are removed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lvas.tools.audio.ducking import DuckingSettings
from lvas.tools.audio.mixing import mix_to_wav
from lvas.tools.audio.sources import MixTrack
from lvas.tools.evaluation.seams import control_points, seams

SR = 48000
SCENE = 4.0
SCENES = 4


def _clip(path: Path, kind: int, seconds: float) -> Path:
    """Alternating beds: loud broadband noise, and a quiet low tone over a little noise."""
    rng = np.random.default_rng(kind)
    n = int(round(seconds * SR))
    t = np.arange(n) / SR
    if kind == 0:
        audio = 0.3 * rng.standard_normal(n)
    else:
        audio = 0.05 * np.sin(2 * np.pi * 220 * t) + 0.002 * rng.standard_normal(n)
    sf.write(path, audio, SR, subtype="FLOAT")
    return path


def _mix(tmp: Path, crossfade: float) -> Path:
    """Beds placed as the Synthesizer places them: padded by half the crossfade each side."""
    pad = crossfade / 2.0
    tracks = []
    for k in range(SCENES):
        start, end = max(0.0, k * SCENE - pad), min(SCENES * SCENE, (k + 1) * SCENE + pad)
        clip = _clip(tmp / f"clip{k}_{crossfade}.wav", k % 2, end - start)
        tracks.append(MixTrack(path=str(clip), start=start, fade_in=crossfade if k else 0.0,
                               fade_out=crossfade))
    out = tmp / f"mix_{crossfade}.wav"
    mix_to_wav(tracks, SCENES * SCENE, out, sample_rate=SR, channels=1,
               ducking=DuckingSettings(enabled=False))
    return out


def test_seams_rise_when_crossfades_are_removed(tmp_path: Path) -> None:
    cuts = [SCENE * k for k in range(1, SCENES)]
    soft = seams(_mix(tmp_path, 0.5), cuts)
    hard = seams(_mix(tmp_path, 0.0), cuts)
    assert len(hard.boundaries) == 3 and len(hard.controls) == 4
    for key in ("level_jump_db", "spectral_change_db"):
        assert hard.boundary_mean[key] > 1.5 * soft.boundary_mean[key]
        assert hard.ratio[key] is not None and soft.ratio[key] is not None
        assert hard.ratio[key] > soft.ratio[key]
        assert hard.ratio[key] > 5.0  # a hard cut stands far out of the scenes' own changes
    # Inside the scenes both mixes are the same sound.
    assert hard.control_mean["level_jump_db"] == pytest.approx(
        soft.control_mean["level_jump_db"], abs=0.2)


def test_a_click_at_a_boundary_is_found(tmp_path: Path) -> None:
    t = np.arange(8 * SR) / SR
    audio = 0.1 * np.sin(2 * np.pi * 300 * t)
    audio[4 * SR:] += 0.2  # a DC step: a click, with no level change worth a scene
    path = tmp_path / "click.wav"
    sf.write(path, audio, SR, subtype="FLOAT")
    report = seams(path, [4.0])
    assert report.boundaries[0].click > 5.0
    assert max(p.click for p in report.controls) < 1.5
    same = seams(path, [4.0], block_seconds=0.33)  # streaming: any block size, same result
    for a, b in zip(same.boundaries + same.controls, report.boundaries + report.controls,
                    strict=True):
        assert a.time == b.time
        assert a.level_jump_db == pytest.approx(b.level_jump_db, abs=1e-9)
        assert a.spectral_change_db == pytest.approx(b.spectral_change_db, abs=1e-9)
        assert a.click == pytest.approx(b.click, rel=1e-6)


def test_control_points_sit_in_the_middle_of_long_enough_scenes() -> None:
    assert control_points([2.0, 2.5, 6.0], 10.0) == [1.0, 4.25, 8.0]
