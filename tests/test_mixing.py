"""Loudness metering, WAV helpers and the streaming two-pass mixer."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from tools.audio_io import read_wav_block, wav_info, write_wav
from tools.errors import LVASInputError
from tools.loudness import (
    LoudnessMeter,
    TruePeakMeter,
    integrated_loudness,
    k_weighting_sos,
    sample_peak_db,
)
from tools.mixing import MixReport, MixTrack, mix_to_wav
from tools.procedural import render_to_wav

SR = 48000


def _noise(seconds: float, channels: int, seed: int = 0, sr: int = SR) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.1 * rng.standard_normal((len(t), channels))
    x *= (1.2 + np.sin(2 * np.pi * 0.3 * t))[:, None]  # level changes, so gating matters
    x[: int(1.5 * sr)] *= 0.01  # a quiet stretch the relative gate must drop
    return x


# --- loudness --------------------------------------------------------------------------


def test_k_weighting_matches_the_standard_at_48k():
    sos = k_weighting_sos(48000)
    np.testing.assert_allclose(sos[0, :3], [1.53512485958697, -2.69169618940638, 1.19839281085285],
                               atol=1e-9)
    np.testing.assert_allclose(sos[0, 4:], [-1.69065929318241, 0.73248077421585], atol=1e-9)
    np.testing.assert_allclose(sos[1, 4:], [-1.99004745483398, 0.99007225036621], atol=1e-9)


@pytest.mark.parametrize("channels", [1, 2])
def test_loudness_meter_matches_pyloudnorm_fed_in_blocks(channels):
    x = _noise(8.0, channels)
    meter = LoudnessMeter(SR, channels)
    for i in range(0, len(x), 7777):  # odd block size: hops straddle block edges
        meter.add(x[i : i + 7777])
    reference = pyloudnorm.Meter(SR).integrated_loudness(x if channels > 1 else x[:, 0])
    assert meter.integrated() == pytest.approx(reference, abs=0.1)
    assert integrated_loudness(x, SR) == pytest.approx(meter.integrated(), abs=1e-9)


def test_loudness_of_silence_and_short_input_is_minus_inf():
    assert integrated_loudness(np.zeros((SR * 2, 2)), SR) == -math.inf
    assert integrated_loudness(np.ones(SR // 10) * 0.1, SR) == -math.inf


def test_true_peak_finds_intersample_peaks():
    t = np.arange(SR) / SR
    x = 0.5 * np.sin(2 * np.pi * 12000 * t + np.pi / 4)  # samples only reach 0.354
    meter = TruePeakMeter(1)
    meter.add(x[:1001])
    meter.add(x[1001:])
    assert sample_peak_db(x) == pytest.approx(20 * np.log10(0.3536), abs=0.01)
    assert meter.peak_db() == pytest.approx(20 * np.log10(0.5), abs=0.2)


# --- audio_io --------------------------------------------------------------------------


def test_write_and_read_blocks(tmp_path):
    x = np.stack([np.linspace(-0.5, 0.5, 1000), np.zeros(1000)], axis=1)
    path = write_wav(tmp_path / "a.wav", x, 16000, subtype="FLOAT")
    info = wav_info(path)
    assert (info.frames, info.sample_rate, info.channels) == (1000, 16000, 2)
    assert info.duration == pytest.approx(1000 / 16000)
    block = read_wav_block(path, 990, 20)  # runs past the end: zero padded
    assert block.shape == (20, 2) and block.dtype == np.float32
    np.testing.assert_allclose(block[:10, 0], x[990:, 0], atol=1e-7)
    assert not block[10:].any()
    assert read_wav_block(path, -5, 10)[:5].sum() == 0
    with pytest.raises(ValueError):
        write_wav(tmp_path / "b.wav", x, 16000, subtype="MP3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]


# --- mixing ----------------------------------------------------------------------------


def _wav(tmp_path, name, audio, sr=SR):
    return str(write_wav(tmp_path / name, audio, sr, subtype="FLOAT"))


def test_mix_of_generated_material_hits_target_and_ceiling(tmp_path):
    bed = render_to_wav(tmp_path / "rain.wav", "rain", 12.0, SR, seed=1)
    hits = render_to_wav(tmp_path / "hits.wav", "impact", 6.0, 22050, seed=2,
                         layer="foreground", onsets=[0.5, 2.0, 4.0])
    tracks = [
        MixTrack(str(bed), 0.0, gain_db=-4.0, fade_in=1.0, fade_out=1.0),
        MixTrack(str(hits), 3.0, gain_db=6.0, layer="foreground", pan=0.3),
    ]
    out = tmp_path / "mix.wav"
    report = mix_to_wav(tracks, 10.0, out, loudness_target=-16.0, peak_ceiling_db=-1.0,
                        block_seconds=1.3)
    data, sr = sf.read(out, dtype="float64")
    assert sr == SR and data.shape == (10 * SR, 2)
    assert sf.info(out).subtype == "PCM_24"
    assert abs(pyloudnorm.Meter(SR).integrated_loudness(data) - (-16.0)) <= 0.5
    assert abs(report.integrated_lufs - (-16.0)) <= 0.5
    assert np.abs(data).max() <= 10 ** (-1.0 / 20)
    assert report.peak_db <= -1.0 + 1e-6
    assert (report.duration, report.sample_rate, report.channels) == (10.0, SR, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hits.wav", "mix.wav", "rain.wav"]


def test_limiter_holds_the_ceiling_without_hard_clipping(tmp_path):
    t = np.arange(4 * SR) / SR
    x = 0.9 * np.sin(2 * np.pi * 220 * t) * (0.2 + 0.8 * (t > 2))  # quiet then loud
    path = _wav(tmp_path, "loud.wav", x)
    out = tmp_path / "mix.wav"
    report = mix_to_wav([MixTrack(path, 0.0)], 4.0, out, channels=1,
                        loudness_target=-6.0, peak_ceiling_db=-3.0, subtype="PCM_16")
    y, _ = sf.read(out)
    ceiling = 10 ** (-3.0 / 20)
    assert np.abs(y).max() <= ceiling
    assert report.peak_db <= -3.0 + 1e-6
    # Smooth gain, no clipping: in both steady halves the output is the input times a constant
    # (a clipped sine would have flattened crests, i.e. a varying ratio there).
    for lo, hi in ((0.5, 1.5), (2.5, 3.5)):
        seg = slice(int(lo * SR), int(hi * SR))
        keep = np.abs(x[seg]) > 0.05
        ratio = y[seg][keep] / x[seg][keep]
        assert np.ptp(ratio) < 2e-3 * ratio.mean()


def test_tracks_land_at_their_start_and_are_cut_at_the_end(tmp_path):
    burst = np.zeros(SR)
    burst[: SR // 10] = 0.5 * np.sin(2 * np.pi * 500 * np.arange(SR // 10) / SR)
    path = _wav(tmp_path, "burst.wav", burst)
    tracks = [MixTrack(path, 1.25), MixTrack(path, 2.5, pan=1.0), MixTrack(path, 3.9)]
    out = tmp_path / "mix.wav"
    mix_to_wav(tracks, 3.95, out, block_seconds=0.7)
    y, _ = sf.read(out)
    assert len(y) == round(3.95 * SR)
    loud = np.flatnonzero(np.abs(y).max(axis=1) > 1e-3)
    assert abs(loud[0] / SR - 1.25) < 0.001
    starts = loud[np.flatnonzero(np.diff(loud) > SR // 5) + 1] / SR
    assert np.allclose(starts, [2.5, 3.9], atol=0.001)
    # Hard right: the second burst is (almost) absent from the left channel.
    seg = slice(int(2.5 * SR), int(2.6 * SR))
    assert np.abs(y[seg, 0]).max() < 1e-3 < np.abs(y[seg, 1]).max()


def test_fades_are_equal_power_and_continuous(tmp_path):
    dc = np.full(3 * SR, 0.2)
    path = _wav(tmp_path, "dc.wav", dc)
    tracks = [
        MixTrack(path, 0.0, fade_in=0.5, fade_out=1.0, pan=-1.0),  # left, fading out 2..3 s
        MixTrack(path, 2.0, fade_in=1.0, pan=1.0),  # right, fading in 2..3 s
    ]
    out = tmp_path / "mix.wav"
    mix_to_wav(tracks, 5.0, out, subtype="PCM_24")
    y, _ = sf.read(out)
    left, right = y[:, 0], y[:, 1]
    level = left[SR]  # steady level between the fades
    t = np.arange(int(0.5 * SR)) / SR
    np.testing.assert_allclose(left[: len(t)], level * np.sin(0.5 * np.pi * t / 0.5), atol=1e-4)
    cross = slice(2 * SR, 3 * SR)
    np.testing.assert_allclose(left[cross] ** 2 + right[cross] ** 2, level**2, rtol=2e-3)
    assert np.abs(np.diff(y, axis=0)).max() < 1e-3  # no steps anywhere


def test_resamples_a_16k_clip_streaming(tmp_path):
    sr_in = 16000
    t = np.arange(2 * sr_in) / sr_in
    path = _wav(tmp_path, "tone16k.wav", 0.3 * np.sin(2 * np.pi * 1000 * t), sr_in)
    a = tmp_path / "a.wav"
    b = tmp_path / "b.wav"
    mix_to_wav([MixTrack(path, 1.0)], 4.0, a, channels=1, block_seconds=0.37, subtype="PCM_24")
    mix_to_wav([MixTrack(path, 1.0)], 4.0, b, channels=1, block_seconds=10.0, subtype="PCM_24")
    ya, _ = sf.read(a)
    yb, _ = sf.read(b)
    assert len(ya) == 4 * SR
    np.testing.assert_allclose(ya, yb, atol=1e-6)  # chunked resampling is seamless
    inner = slice(int(1.1 * SR), int(2.9 * SR))
    tt = np.arange(len(ya))[inner] / SR - 1.0
    expected = np.sin(2 * np.pi * 1000 * tt)
    assert np.abs(ya[inner] / np.abs(ya[inner]).max() - expected).max() < 0.01
    assert np.abs(ya[: int(0.99 * SR)]).max() < 1e-4 and np.abs(ya[int(3.01 * SR) :]).max() < 1e-4


def test_silent_mix_stays_silent(tmp_path):
    out = tmp_path / "quiet.wav"
    report = mix_to_wav([], 2.5, out)
    y, sr = sf.read(out)
    assert y.shape == (int(2.5 * SR), 2) and not y.any()
    assert report.integrated_lufs == -math.inf and report.peak_db == -math.inf
    assert report.gain_applied_db == 0.0
    assert isinstance(report, MixReport) and report.to_dict()["integrated_lufs"] is None


def test_bad_mix_input_is_reported(tmp_path):
    with pytest.raises(LVASInputError, match="does not exist"):
        mix_to_wav([MixTrack(str(tmp_path / "nope.wav"), 0.0)], 1.0, tmp_path / "m.wav")
    with pytest.raises(LVASInputError):
        mix_to_wav([], 0.0, tmp_path / "m.wav")
    with pytest.raises(LVASInputError):
        mix_to_wav([], 1.0, tmp_path / "m.wav", channels=6)
    assert not list(tmp_path.iterdir())
