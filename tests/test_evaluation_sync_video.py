"""Sync on a real video: flashes the Storyboarder sees, clicks the soundtrack plays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lvas.tools.common.ffmpeg import run_ffmpeg
from lvas.tools.evaluation.sync import motion_envelope_of_video, sync_metric

SR = 16000
SECONDS = 12.0
FLASHES = (0.8, 2.1, 3.0, 4.6, 5.9, 7.0, 8.3, 9.2, 10.4)  # each lasts 0.4 s


def _flash_video(path: Path) -> Path:
    on = "+".join(f"between(t,{t},{t + 0.4 - 0.001})" for t in FLASHES)
    run_ffmpeg(["-y", "-f", "lavfi", "-i", f"color=c=black:s=160x120:r=25:d={SECONDS}",
                "-vf", f"drawbox=x=40:y=30:w=80:h=60:c=white:t=fill:enable='{on}'",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)])
    return path


def _clicks(path: Path, shift: float) -> Path:
    rng = np.random.default_rng(2)
    audio = 0.002 * rng.standard_normal(int(SECONDS * SR))
    burst = rng.standard_normal(400) * np.exp(-np.arange(400) / 80.0)
    for t in [x + d for x in FLASHES for d in (0.0, 0.4)]:
        i = int(round((t + shift) * SR))
        if 0 <= i < len(audio) - len(burst):
            audio[i:i + len(burst)] += 0.5 * burst
    sf.write(path, audio, SR, subtype="FLOAT")
    return path


@pytest.mark.parametrize("shift", [0.24, -0.16])
def test_sync_measures_a_shifted_soundtrack_of_a_real_video(tmp_path: Path, shift: float
                                                            ) -> None:
    motion = motion_envelope_of_video(_flash_video(tmp_path / "flash.mp4"))
    assert len(motion) == pytest.approx(SECONDS * 25, abs=2)
    aligned = sync_metric(_clicks(tmp_path / "a.wav", 0.0), motion).overall
    shifted = sync_metric(_clicks(tmp_path / "b.wav", shift), motion).overall
    assert aligned.lag_seconds == pytest.approx(0.0, abs=0.08)
    assert shifted.lag_seconds == pytest.approx(shift, abs=0.08)
    assert aligned.onset_f1 is not None and aligned.onset_f1 > 0.8
