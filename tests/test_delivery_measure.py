"""Measuring the delivered (encoded) soundtrack: the same levels as the decoded audio read at
once, with the meters fed in long blocks rather than one codec frame at a time."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from lvas.tools.audio.audio_io import write_wav
from lvas.tools.audio.loudness import LoudnessMeter, TruePeakMeter
from lvas.tools.common.ffmpeg import run_ffmpeg
from lvas.tools.delivery import measure

SR = 48000


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s of stereo noise with a level ramp and a few peaks, encoded to AAC in an MP4."""
    folder = tmp_path_factory.mktemp("delivered")
    rng = np.random.default_rng(3)
    t = np.arange(20 * SR) / SR
    x = 0.05 * rng.standard_normal((len(t), 2)) * (1 + 0.8 * np.sin(2 * np.pi * 0.2 * t))[:, None]
    x[SR * 7 : SR * 7 + 40] = 0.9  # a burst late enough that the screen must let it through
    wav = write_wav(folder / "mix.wav", x, SR)
    out = folder / "delivered.m4a"
    run_ffmpeg(["-y", "-i", str(wav), "-c:a", "aac", "-b:a", "192k", str(out)])
    return out


def _decoded_at_once(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="fltp")
        pieces = [
            out.to_ndarray()
            for frame in container.decode(audio=0)
            for out in resampler.resample(frame)
        ]
    return np.concatenate(pieces, axis=1).T.astype(np.float64)


def test_delivered_levels_match_the_whole_decoded_track(encoded: Path) -> None:
    audio = _decoded_at_once(encoded)
    loud, peak = LoudnessMeter(SR, 2), TruePeakMeter(2)
    loud.add(audio)
    peak.add(audio)
    got = measure.measure_delivered_audio(encoded)
    assert (got.sample_rate, got.channels) == (SR, 2)
    assert got.true_peak_db == peak.peak_db()  # a maximum: exact however it is cut
    assert got.integrated_lufs == pytest.approx(loud.integrated(), abs=1e-9)
    assert got.true_peak_db > -2.0  # the burst was found


def test_meters_are_fed_long_blocks_not_codec_frames(encoded: Path, monkeypatch) -> None:
    """Fed one AAC frame (1,024 samples) at a time, the meters' set-up per call cost several
    times the decode on a long soundtrack."""
    sizes: list[int] = []
    real_add = LoudnessMeter.add

    def counting_add(self: LoudnessMeter, block: np.ndarray) -> None:
        sizes.append(len(block))
        real_add(self, block)

    monkeypatch.setattr(LoudnessMeter, "add", counting_add)
    measure.measure_delivered_audio(encoded)
    assert sum(sizes) >= 20 * SR
    assert len(sizes) <= 8  # 20 s: a handful of blocks, not ~940 codec frames
    assert min(sizes[:-1], default=measure._METER_FRAMES) >= 4 * SR
