"""Loudness metering, WAV helpers and the streaming two-pass mixer."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from lvas.tools.audio.audio_io import read_wav_block, wav_info, write_wav
from lvas.tools.audio.loudness import (
    LoudnessMeter,
    TruePeakMeter,
    integrated_loudness,
    k_weighting_sos,
    sample_peak_db,
)
from lvas.tools.audio.mixing import (
    LAYERS,
    LOUDNESS_PRESETS,
    DuckingSettings,
    MixReport,
    MixTrack,
    loudness_target_for,
    mix_to_wav,
)
from lvas.tools.audio.wav_stream import WavWriter
from lvas.tools.common.errors import LVASInputError
from lvas.tools.generation.procedural import render_to_wav

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


# --- layers, ducking, presets, stems ---------------------------------------------------


def _speech_like(seconds: float, seed: int, sr: int = SR) -> np.ndarray:
    """Amplitude-modulated noise bursts: syllables at ~4 Hz, words with short pauses."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    syllables = np.maximum(np.sin(2 * np.pi * 4.0 * t), 0.0) ** 0.5
    words = (np.sin(2 * np.pi * 0.7 * t) > -0.6).astype(float)
    return 0.15 * rng.standard_normal(len(t)) * (0.15 + 0.85 * syllables * words)


def _tone_event(seconds: float, freq: float, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return 0.5 * np.sin(2 * np.pi * freq * t) * np.exp(-4.0 * t) * np.minimum(t / 0.005, 1.0)


@pytest.fixture(scope="module")
def material(tmp_path_factory) -> list[MixTrack]:
    """8 s of two noise beds crossfading, tone events at two rates, and a speech-like layer."""
    folder = tmp_path_factory.mktemp("material")
    beds = [_wav(folder, f"bed{i}.wav", _noise(5.0, 2, seed=i)) for i in (1, 2)]
    ping = _wav(folder, "ping.wav", _tone_event(0.6, 1200.0))
    thud = _wav(folder, "thud.wav", _tone_event(0.8, 150.0, 22050), 22050)
    voice = _wav(folder, "voice.wav", _speech_like(2.5, seed=3))
    return [
        MixTrack(beds[0], 0.0, fade_out=1.0),
        MixTrack(beds[1], 4.0, fade_in=1.0, fade_out=0.5),
        *(MixTrack(ping, s, gain_db=-2.0, layer="foreground", pan=0.5) for s in (1.0, 4.5, 6.5)),
        *(MixTrack(thud, s, layer="foreground") for s in (2.5, 7.0)),
        MixTrack(voice, 2.0, layer="speech"),
        MixTrack(voice, 5.5, gain_db=-3.0, layer="speech"),
    ]


def _read(path) -> np.ndarray:
    return sf.read(path, dtype="float64", always_2d=True)[0]


def _rms_db(x: np.ndarray) -> float:
    return 10 * math.log10(np.mean(np.square(x)))


@pytest.mark.parametrize("preset", list(LOUDNESS_PRESETS))
def test_presets_reach_their_loudness_under_the_true_peak_ceiling(tmp_path, material, preset):
    out = tmp_path / "mix.wav"
    report = mix_to_wav(material, 8.0, out, loudness_target=preset, block_seconds=2.3)
    y = _read(out)
    target = LOUDNESS_PRESETS[preset]
    assert abs(integrated_loudness(y, SR) - target) <= 0.5
    meter = TruePeakMeter(2)
    meter.add(y)
    assert meter.peak_db() <= -1.0
    assert report.peak_db <= -1.0 and abs(report.integrated_lufs - target) <= 0.5


def test_loudness_target_for_names_and_numbers():
    assert loudness_target_for("ebu-r128") == -23.0
    assert loudness_target_for(" Web ") == -16.0
    assert loudness_target_for("streaming") == -14.0
    assert loudness_target_for(-18) == -18.0 and loudness_target_for("-20.5") == -20.5
    with pytest.raises(LVASInputError, match="ebu-r128.*web.*streaming"):
        loudness_target_for("podcast")
    for bad in (5.0, float("nan"), "-inf", True, None):
        with pytest.raises(LVASInputError):
            loudness_target_for(bad)


def test_stems_add_up_to_the_mix(tmp_path, material):
    stems = tmp_path / "stems"
    stems.mkdir()
    (stems / "stem_bogus.wav").write_bytes(b"kept: not ours")
    out = tmp_path / "out" / "mix.wav"
    # Loud enough that the limiter works: its gain must reach the stems too.
    report = mix_to_wav(material, 8.0, out, loudness_target=-10.0, block_seconds=1.7,
                        stems_dir=stems)
    assert set(report.stems) == set(LAYERS)
    assert sorted(p.name for p in stems.iterdir()) == [
        "stem_background.wav", "stem_bogus.wav", "stem_foreground.wav", "stem_speech.wav"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["mix.wav"]  # stages removed
    y = _read(out)
    parts = {layer: _read(path) for layer, path in report.stems.items()}
    for layer, part in parts.items():
        assert sf.info(report.stems[layer]).subtype == "FLOAT"
        assert part.shape == y.shape
        assert report.stem_peak_db[layer] == pytest.approx(20 * np.log10(np.abs(part).max()))
    total = sum(parts.values())
    assert np.abs(total - y).max() < 1e-3
    assert np.abs(total - y).max() < 1e-5  # in fact only PCM_24 rounding apart
    assert report.gain_applied_db > 0 and report.peak_db == pytest.approx(-1.05, abs=0.05)
    # A later mix without speech removes the stale speech stem so the set still sums up.
    mix_to_wav(material[:2], 3.0, out, stems_dir=stems)
    assert sorted(p.name for p in stems.iterdir()) == ["stem_background.wav", "stem_bogus.wav"]
    np.testing.assert_allclose(_read(stems / "stem_background.wav"), _read(out), atol=1e-6)


def _bed_and_voice(tmp_path, bed: np.ndarray) -> list[MixTrack]:
    voice = _wav(tmp_path, "voice.wav", _speech_like(2.0, seed=5))
    return [MixTrack(_wav(tmp_path, "bed.wav", bed), 0.0), MixTrack(voice, 3.0, layer="speech")]


@pytest.mark.parametrize("enabled", [True, False])
def test_beds_duck_under_speech(tmp_path, enabled):
    bed = 0.05 * np.random.default_rng(4).standard_normal((8 * SR, 2))
    tracks = _bed_and_voice(tmp_path, bed)
    report = mix_to_wav(tracks, 8.0, tmp_path / "mix.wav", stems_dir=tmp_path / "stems",
                        ducking=DuckingSettings(enabled=enabled))
    b = _read(report.stems["background"])
    during = _rms_db(b[int(3.3 * SR) : int(4.9 * SR)])
    before, after = _rms_db(b[1 * SR : int(2.8 * SR)]), _rms_db(b[6 * SR : 8 * SR])
    if enabled:
        assert before - during >= 6.0 and after - during >= 6.0
        assert report.ducking_db == pytest.approx(-9.0, abs=0.1)
    else:
        assert abs(before - during) < 0.3 and report.ducking_db == 0.0


def test_duck_is_continuous_and_starts_before_the_word(tmp_path):
    bed = np.full((8 * SR, 1), 0.05)  # a constant bed: its stem is the gain curve itself
    report = mix_to_wav(_bed_and_voice(tmp_path, bed), 8.0, tmp_path / "mix.wav", channels=1,
                        stems_dir=tmp_path / "stems", block_seconds=0.77)
    gain = _read(report.stems["background"])[:, 0]
    gain /= gain[SR]
    gain_db = 20 * np.log10(gain)
    assert np.abs(np.diff(gain)).max() < 2e-3  # no step: a click would jump by ~0.6
    assert gain_db.min() == pytest.approx(-9.0, abs=0.2)
    assert gain_db[int(2.9 * SR)] > -0.5  # still open 100 ms ahead of the word
    assert gain_db[3 * SR] < -4.5  # mostly down when the word starts (look-ahead)
    assert gain_db[int(5.0 * SR) + int(0.5 * SR)] > -3.0  # released within ~0.5 s
    assert abs(gain_db[7 * SR]) < 0.1


def test_beds_make_room_for_strong_foreground_events(tmp_path):
    rng = np.random.default_rng(6)
    bed = _wav(tmp_path, "bed.wav", 0.05 * rng.standard_normal((6 * SR, 2)))
    event = _wav(tmp_path, "event.wav", 0.05 * rng.standard_normal(SR))
    tracks = [MixTrack(bed, 0.0), MixTrack(event, 1.0, layer="foreground"),
              MixTrack(event, 3.5, gain_db=20.0, layer="foreground")]
    report = mix_to_wav(tracks, 6.0, tmp_path / "mix.wav", stems_dir=tmp_path / "stems")
    b = _read(report.stems["background"])
    quiet = _rms_db(b[int(0.2 * SR) : int(0.9 * SR)])
    same_level = quiet - _rms_db(b[int(1.3 * SR) : int(1.9 * SR)])
    much_louder = quiet - _rms_db(b[int(3.8 * SR) : int(4.4 * SR)])
    assert 3.0 <= same_level <= 4.3  # as deep as the 4 dB cap allows
    assert much_louder < 0.3  # the event already stands out: the bed stays


def test_bed_crossfade_has_no_click_and_keeps_the_level(tmp_path):
    t = np.arange(5 * SR) / SR
    low = _wav(tmp_path, "low.wav", 0.2 * np.sin(2 * np.pi * 220 * t))
    high = _wav(tmp_path, "high.wav", 0.2 * np.sin(2 * np.pi * 330 * t + 1.0))
    voice = _wav(tmp_path, "voice.wav", _speech_like(1.5, seed=7))
    # Speech right after the crossfade: the beds go through the ducker's look-ahead delay.
    tracks = [MixTrack(low, 0.0, fade_out=1.0, pan=-0.2), MixTrack(high, 4.0, fade_in=1.0),
              MixTrack(voice, 5.3, layer="speech")]
    report = mix_to_wav(tracks, 8.0, tmp_path / "mix.wav", stems_dir=tmp_path / "stems",
                        block_seconds=0.5)
    b = _read(report.stems["background"])
    jumps = np.abs(np.diff(b, axis=0)).max(axis=1)
    boundary = jumps[int(3.9 * SR) : int(5.1 * SR)].max()
    inside = max(jumps[1 * SR : 3 * SR].max(), jumps[int(5.1 * SR) : int(5.2 * SR)].max())
    # Equal-power sum of two sines: its slope can reach sqrt(220^2 + 330^2) / 330 = 1.2 times
    # the faster bed's; a click (a step) would be many times that.
    assert boundary <= 1.3 * inside
    steady = _rms_db(b[1 * SR : 3 * SR])
    for mid in (4.25, 4.5, 4.75):  # uncorrelated beds: equal power keeps the level
        assert abs(_rms_db(b[int(mid * SR) - 2400 : int(mid * SR) + 2400]) - steady) < 0.5
    assert _rms_db(b[int(5.6 * SR) : int(6.6 * SR)]) - steady < -6.0  # then the duck


def test_mono_mix_with_stems(tmp_path, material):
    report = mix_to_wav(material, 8.0, tmp_path / "mix.wav", channels=1,
                        loudness_target="web", stems_dir=tmp_path / "stems", subtype="PCM_16")
    y = _read(report.path)
    assert y.shape == (8 * SR, 1) and report.channels == 1
    assert abs(integrated_loudness(y, SR) - (-16.0)) <= 0.5
    total = sum(_read(p) for p in report.stems.values())
    assert total.shape == y.shape and np.abs(total - y).max() < 1e-3  # PCM_16 rounding


def test_16k_and_44k_sources_mix_into_48k(tmp_path):
    def tone(freq, sr, seconds=1.0):
        t = np.arange(int(seconds * sr)) / sr
        return 0.3 * np.sin(2 * np.pi * freq * t)

    a = _wav(tmp_path, "a16.wav", tone(1000.0, 16000), 16000)
    b = _wav(tmp_path, "b44.wav", np.stack([tone(3000.0, 44100)] * 2, axis=1), 44100)
    tracks = [MixTrack(a, 0.5), MixTrack(b, 2.0, layer="foreground")]
    out = tmp_path / "mix.wav"
    mix_to_wav(tracks, 4.0, out, block_seconds=0.33)
    y = _read(out)
    assert sf.info(out).samplerate == SR and len(y) == 4 * SR
    loud = np.flatnonzero(np.abs(y[:, 0]) > 1e-3)
    assert abs(loud[0] / SR - 0.5) < 0.002 and abs(loud[-1] / SR - 3.0) < 0.002
    for (lo, hi), freq in (((0.6, 1.4), 1000.0), ((2.1, 2.9), 3000.0)):
        seg = y[int(lo * SR) : int(hi * SR), 0]
        spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
        assert np.fft.rfftfreq(len(seg), 1 / SR)[spectrum.argmax()] == pytest.approx(freq, abs=2)
    assert np.abs(y[int(1.6 * SR) : int(1.9 * SR)]).max() < 1e-4  # nothing between them


def test_bad_layer_ducking_and_stems_folder_are_reported(tmp_path):
    path = _wav(tmp_path, "x.wav", np.zeros(SR))
    with pytest.raises(LVASInputError, match="layer"):
        mix_to_wav([MixTrack(path, 0.0, layer="music")], 1.0, tmp_path / "m.wav")
    with pytest.raises(LVASInputError, match="depth"):
        mix_to_wav([], 1.0, tmp_path / "m.wav", ducking=DuckingSettings(speech_depth_db=6.0))
    with pytest.raises(LVASInputError, match="attack"):
        mix_to_wav([], 1.0, tmp_path / "m.wav", ducking=DuckingSettings(attack=0.0))
    with pytest.raises(LVASInputError, match="preset"):
        mix_to_wav([], 1.0, tmp_path / "m.wav", loudness_target="loud")
    with pytest.raises(LVASInputError, match="Stems folder"):
        mix_to_wav([], 1.0, tmp_path / "m.wav", stems_dir=path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.wav"]


def test_heavy_limiting_still_reaches_the_target(material, tmp_path):
    # At -8 LUFS the limiter takes most of a loudness unit away; a second pass asks it back.
    report = mix_to_wav(material, 8.0, tmp_path / "mix.wav", loudness_target=-8.0)
    y = _read(report.path)
    assert abs(integrated_loudness(y, SR) - (-8.0)) <= 0.5
    meter = TruePeakMeter(2)
    meter.add(y)
    assert meter.peak_db() <= -1.0


@pytest.mark.parametrize(("subtype", "channels", "frames", "rf64"), [
    ("PCM_24", 1, 4801, False),  # odd data size: a pad byte ends the chunk
    ("PCM_16", 2, 4800, False),
    ("FLOAT", 2, 4800, True),
])
def test_wav_writer_output_reads_back_in_libsndfile_and_ffmpeg(tmp_path, subtype, channels,
                                                                frames, rf64):
    from lvas.tools.audio.wav_stream import WavWriter, WriteBehind
    from lvas.tools.common.ffmpeg import run_ffmpeg

    x = np.random.default_rng(9).uniform(-0.99, 0.99, (frames, channels))
    x[:3] = [[1.0] * channels, [-1.0] * channels, [0.0] * channels]
    path = tmp_path / "w.wav"
    with WriteBehind() as behind, WavWriter(path, SR, channels, subtype, frames, behind,
                                            rf64=rf64) as w:
        for i in range(0, frames, 1000):
            w.write(x[i : i + 1000])
    info = sf.info(path)
    assert (info.frames, info.channels, info.samplerate, info.subtype) == (
        frames, channels, SR, subtype)
    assert info.format == ("RF64" if rf64 else "WAV")
    y = _read(path)
    step = {"PCM_16": 2.0**-15, "PCM_24": 2.0**-23, "FLOAT": 1e-7}[subtype]
    assert np.abs(y - x).max() <= step  # full scale saturates one step below +1
    raw = tmp_path / "w.f32"
    run_ffmpeg(["-y", "-i", str(path), "-f", "f32le", "-acodec", "pcm_f32le", str(raw)])
    decoded = np.fromfile(raw, dtype="<f4").reshape(-1, channels)
    np.testing.assert_allclose(decoded, y, atol=1e-7)


def test_wav_header_switches_to_rf64_past_4_gib():
    from lvas.tools.audio.wav_stream import _wav_header

    small = _wav_header(1000, SR, 2, "PCM_24")
    assert small[:4] == b"RIFF" and small[8:12] == b"WAVE"
    big = _wav_header(600_000_000, SR, 2, "FLOAT")  # 4.8 GB of samples
    assert big[:4] == b"RF64" and big[12:16] == b"ds64"
    riff, data, frames = np.frombuffer(big[20:44], dtype="<u8")
    assert data == 600_000_000 * 8 and frames == 600_000_000 and riff == len(big) - 8 + data


@pytest.mark.parametrize(("subtype", "dtype", "shift"), [("PCM_16", "<i2", 0),
                                                         ("PCM_24", "<i4", 8)])
def test_pcm_wavs_are_byte_for_byte_what_libsndfile_writes(tmp_path, subtype, dtype, shift):
    # The mix rounds to the nearest step. Integers pass through libsndfile unconverted, so its
    # file of the rounded integers is the reference for ours.
    x = np.random.default_rng(3).uniform(-1.1, 1.1, (999, 2))
    ours = tmp_path / "ours.wav"
    with WavWriter(ours, SR, 2, subtype, len(x)) as wav:
        wav.write(x.astype(np.float32))
    full = 2.0 ** (15 if subtype == "PCM_16" else 23)
    ints = np.clip(np.rint(x.astype(np.float32) * full), -full, full - 1).astype(dtype) << shift
    sf.write(tmp_path / "ref.wav", ints, SR, subtype=subtype, format="WAV")
    assert ours.read_bytes() == (tmp_path / "ref.wav").read_bytes()


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
def test_clips_keep_the_bytes_soundfile_gave_them(tmp_path, subtype):
    # Generated clips (speech is 16-bit) were written by soundfile before LVAS wrote its own
    # WAVs; write_wav quantises float samples the same way, half steps and overloads included.
    rng = np.random.default_rng(5)
    edges = np.array([1.5, 2.5, -1.5, -0.5, 16383.5]) / 32768
    x = np.concatenate([rng.uniform(-1.3, 1.3, 4000), edges, [1.0, -1.0, 0.99999]])
    x = np.stack([x, x[::-1]], axis=1).astype(np.float32)
    ours = write_wav(tmp_path / "ours.wav", x, SR, subtype=subtype)
    sf.write(tmp_path / "ref.wav", x, SR, subtype=subtype, format="WAV")
    assert ours.read_bytes() == (tmp_path / "ref.wav").read_bytes()


def test_float_wavs_carry_no_timestamp(tmp_path):
    # libsndfile stamps a float WAV's PEAK chunk with the time; these bytes depend on the
    # samples alone, so a clip's content hash is the same on every run.
    from lvas.tools.audio.wav_stream import _wav_header

    x = np.random.default_rng(4).uniform(-1, 1, (777, 1)).astype(np.float32)
    path = write_wav(tmp_path / "f.wav", x, 22050, subtype="FLOAT")
    assert path.read_bytes() == _wav_header(777, 22050, 1, "FLOAT") + x.astype("<f4").tobytes()
    assert b"PEAK" not in path.read_bytes()[:100]


@pytest.mark.parametrize("hint", [0, 10, 5000])
def test_a_wrong_frame_hint_is_corrected_on_close(tmp_path, hint):
    from lvas.tools.audio.audio_io import open_wav_writer

    x = np.random.default_rng(5).uniform(-0.9, 0.9, 1001).astype(np.float32)
    path = tmp_path / "h.wav"
    with open_wav_writer(path, SR, 1, "PCM_24", frames_hint=hint) as wav:
        wav.write(x[:500])
        wav.write(x[500:])
    assert wav.frames_written == 1001
    assert path.stat().st_size == 44 + 3 * 1001 + 1  # the odd data chunk is padded
    assert sf.info(path).frames == 1001
    np.testing.assert_allclose(_read(path)[:, 0], x, atol=2.0**-23)


def test_wav_writer_refuses_blocks_of_another_width(tmp_path):
    from lvas.tools.audio.wav_stream import WavWriter

    with WavWriter(tmp_path / "w.wav", SR, 2, "FLOAT", 10) as wav:
        with pytest.raises(ValueError, match="2 channel"):
            wav.write(np.zeros(10, dtype=np.float32))
        wav.write(np.zeros((10, 2), dtype=np.float32))


@pytest.mark.parametrize("where", ["lvas.tools.audio.sources:TrackReader.read",  # pass 1
                                   "lvas.tools.audio.limiter:Limiter.gain"])  # pass 2
def test_a_failing_mix_leaves_no_files_behind(tmp_path, material, monkeypatch, where):
    import importlib

    module, attr = where.split(":")
    cls, name = attr.split(".")
    owner = getattr(importlib.import_module(module), cls)
    original = getattr(owner, name)
    calls = 0

    def failing(self, *args):
        nonlocal calls
        calls += 1
        if calls > 3:
            raise OSError("disk went away")
        return original(self, *args)

    monkeypatch.setattr(owner, name, failing)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="disk went away"):
        mix_to_wav(material, 8.0, out / "mix.wav", stems_dir=out / "stems", block_seconds=1.0)
    assert [p.name for p in out.rglob("*") if p.is_file()] == []


def test_screened_true_peak_matches_the_plain_meter():
    from lvas.tools.audio.limiter import ScreenedPeaks

    rng = np.random.default_rng(11)
    t = np.arange(6 * SR) / SR
    # Quiet noise and loud intersample-peaking bursts: inside a block, across a block edge,
    # ending exactly at one (the next block's first peaks hang on the frames before it) and
    # starting exactly at one after a quiet block (its history must have been kept up).
    x = 0.02 * rng.standard_normal((len(t), 2))
    edge = 7001
    for lo, hi in ((33600, 36000), (14 * edge - 1200, 14 * edge + 1200),
                   (20 * edge - 2400, 20 * edge), (30 * edge, 30 * edge + 2400)):
        # At 12 kHz and this phase the samples only reach 0.45, under the 0.5 threshold.
        x[lo:hi] += 0.64 * np.sin(2 * np.pi * 12000 * t[lo:hi] + np.pi / 4)[:, None]
    plain, screened = TruePeakMeter(2), ScreenedPeaks(2)
    threshold = 0.5
    limiter_plain, limiter_screened = TruePeakMeter(2), ScreenedPeaks(2)
    for i in range(0, len(x), edge):
        block = x[i : i + edge]
        plain.add(block)
        screened.envelope(block)
        a = limiter_plain.envelope(block, only_above=threshold)
        b = limiter_screened.envelope(block, only_above=threshold)
        np.testing.assert_array_equal(a > threshold, b > threshold)
        np.testing.assert_allclose(b[b > threshold], a[b > threshold])
    assert screened.peak_db() == plain.peak_db()
    assert plain.peak_db() > 20 * np.log10(0.6)  # the intersample peaks were found


def test_block_length_does_not_change_the_result(tmp_path, material):
    # Ducker, delay lines, limiter and resamplers all carry their state across blocks.
    a = mix_to_wav(material, 8.0, tmp_path / "a.wav", block_seconds=0.013,
                   stems_dir=tmp_path / "a", loudness_target=-12.0)
    b = mix_to_wav(material, 8.0, tmp_path / "b.wav", block_seconds=10.0,
                   stems_dir=tmp_path / "b", loudness_target=-12.0)
    assert a.ducking_db < -3.0  # the ducker did work
    np.testing.assert_allclose(_read(a.path), _read(b.path), atol=1e-6)
    for layer in LAYERS:
        np.testing.assert_allclose(_read(a.stems[layer]), _read(b.stems[layer]), atol=1e-6)


# --- the order of the passes (issue 14: the mixer's time on long videos) -----------------


def test_the_soundtrack_is_complete_before_the_stems_are_written(tmp_path, material):
    """So the mixer node can start the mux (a child process) while the stems are written."""
    seen = {}

    def soundtrack_done(path):
        seen["path"] = path
        seen["bytes"] = path.read_bytes()
        seen["stems"] = sorted(p.name for p in (tmp_path / "stems").iterdir())

    report = mix_to_wav(material, 8.0, tmp_path / "mix.wav", stems_dir=tmp_path / "stems",
                        loudness_target=-10.0, on_soundtrack=soundtrack_done)
    assert seen["path"] == tmp_path / "mix.wav" and seen["bytes"][:4] == b"RIFF"
    assert not [name for name in seen["stems"] if name.startswith("stem_")]
    assert (tmp_path / "mix.wav").read_bytes() == seen["bytes"]  # final when announced
    total = sum(_read(path) for path in report.stems.values())
    assert np.abs(total - _read(report.path)).max() < 1e-5  # the limiter reached the stems


def test_stems_are_written_once_however_often_pass_two_runs(tmp_path, material, monkeypatch):
    """Pass two runs again when the limiter takes loudness away; the stems wait for its
    last run instead of being rewritten by each."""
    import lvas.tools.audio.mixing as mixing

    opened: list[str] = []

    class Counting(WavWriter):
        def __init__(self, path, *args, **kwargs):
            opened.append(Path(path).name)
            super().__init__(path, *args, **kwargs)

    monkeypatch.setattr(mixing, "WavWriter", Counting)
    mix_to_wav(material, 8.0, tmp_path / "mix.wav", stems_dir=tmp_path / "stems",
               loudness_target=-8.0)
    soundtrack_runs = sum(name.startswith(".mix.") for name in opened)
    assert soundtrack_runs >= 2  # the limiter bit: pass two ran again
    stems = [name for name in opened if "stem_" in name]
    assert sorted(stems) == sorted(set(stems)) and len(stems) == len(LAYERS)


def _metered_frames(monkeypatch) -> list[int]:
    sizes: list[int] = []
    real_add = LoudnessMeter.add

    def counting_add(self, block):
        sizes.append(len(block))
        real_add(self, block)

    monkeypatch.setattr(LoudnessMeter, "add", counting_add)
    return sizes


def test_pass_two_is_not_metered_where_the_limiter_is_idle(tmp_path, material, monkeypatch):
    """Untouched by the limiter, the soundtrack is pass one's mix times the gain: its
    loudness follows from pass one's meter, without a second metering pass."""
    sizes = _metered_frames(monkeypatch)
    report = mix_to_wav(material, 8.0, tmp_path / "mix.wav", loudness_target=-30.0)
    assert report.peak_db < -6.0  # far under the ceiling: the limiter never acted
    assert sum(sizes) == 8 * SR  # pass one's meter only
    monkeypatch.undo()
    assert report.integrated_lufs == pytest.approx(integrated_loudness(_read(report.path), SR),
                                                   abs=1e-4)
    assert report.integrated_lufs == pytest.approx(-30.0, abs=1e-6)


def test_pass_two_meters_from_the_start_once_the_limiter_acts_late(tmp_path):
    """The limiter first acts in the last seconds: pass two's meter, made then, is fed the
    output before it too, so the loudness is the whole output's."""
    rng = np.random.default_rng(8)
    x = 0.05 * rng.standard_normal((9 * SR, 2))
    x[int(7.5 * SR) : int(7.6 * SR)] *= 16.0  # a burst the limiter must catch
    track = MixTrack(_wav(tmp_path, "bed.wav", x), 0.0)
    report = mix_to_wav([track], 9.0, tmp_path / "mix.wav", loudness_target=-16.0,
                        block_seconds=1.0)
    assert report.peak_db == pytest.approx(-1.05, abs=0.05)  # limited
    y = _read(report.path)
    assert report.integrated_lufs == pytest.approx(integrated_loudness(y, SR), abs=1e-4)
