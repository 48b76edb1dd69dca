"""The procedural synthesizer: lengths, levels, determinism, character, timing, streaming."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from lvas.tools.generation.procedural import (
    RECIPE_FAMILIES,
    iter_blocks,
    render_sound,
    render_to_wav,
)

SR = 48000
EXPECTED_FAMILIES = (
    "rain", "water", "wind", "thunder", "fire", "engine", "traffic", "crowd", "speech", "birds",
    "insects", "animal", "footsteps", "impact", "explosion", "machine", "bell", "alarm", "music",
    "whoosh", "hum", "room_tone",
)


def _db(x: float) -> float:
    return 20 * np.log10(max(x, 1e-12))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


def _spectrum(x: np.ndarray, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    power = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(len(x)))) ** 2
    return np.fft.rfftfreq(len(x), 1 / sr), power


def _flatness(x: np.ndarray) -> float:
    _, p = _spectrum(x)
    p = p[1:] + 1e-20
    return float(np.exp(np.mean(np.log(p))) / np.mean(p))


def _fraction_below(x: np.ndarray, hz: float) -> float:
    f, p = _spectrum(x)
    return float(p[f < hz].sum() / p.sum())


def test_families_are_the_shared_vocabulary():
    assert RECIPE_FAMILIES == EXPECTED_FAMILIES


def test_unknown_family_names_the_valid_ones():
    with pytest.raises(ValueError, match="rain.*room_tone"):
        render_sound("laser", 1.0)


@pytest.mark.parametrize("family", EXPECTED_FAMILIES)
def test_bed_length_finite_and_level(family):
    x = render_sound(family, 3.0, SR, seed=3)
    assert x.dtype == np.float32 and x.shape == (3 * SR,)
    assert np.isfinite(x).all()
    assert np.max(np.abs(x)) < 1.0
    assert abs(_db(_rms(x)) - (-20.0)) <= 2.0


IMPULSIVE = ("thunder", "birds", "animal", "footsteps", "impact", "explosion", "machine", "bell",
             "whoosh")


@pytest.mark.parametrize("family", EXPECTED_FAMILIES)
def test_foreground_peaks_and_onsets(family):
    onsets = [0.5, 3.0, 5.5]
    x = render_sound(family, 7.0, SR, seed=2, layer="foreground", onsets=onsets)
    assert x.shape == (7 * SR,) and np.isfinite(x).all()
    assert abs(_db(float(np.max(np.abs(x)))) - (-3.0)) <= 2.0
    assert np.max(np.abs(x[: int(0.5 * SR)])) == 0.0  # nothing before the first event
    assert _rms(x[int(0.5 * SR) : int(0.9 * SR)]) > 0.01
    # Dropping the middle onset changes nothing before it and the sound right after it.
    without = render_sound(family, 7.0, SR, seed=2, layer="foreground", onsets=[0.5, 5.5])
    i = int(3.0 * SR)
    np.testing.assert_array_equal(x[:i], without[:i])
    assert np.abs(x[i : i + int(0.1 * SR)] - without[i : i + int(0.1 * SR)]).max() > 0.01
    if family in IMPULSIVE:  # hits and calls: the energy jumps at every onset
        for t in onsets:
            i = int(t * SR)
            before = _rms(x[i - int(0.3 * SR) : i - int(0.02 * SR)])
            after = _rms(x[i : i + int(0.4 * SR)])
            assert after > 2.0 * before, (family, t, before, after)


def test_lengths_at_other_rates():
    for sr in (16000, 22050, 44100):
        for layer in ("background", "foreground"):
            x = render_sound("bell", 1.2345, sr, seed=0, layer=layer)
            assert len(x) == round(1.2345 * sr) and np.isfinite(x).all()
    assert len(render_sound("rain", 0.0)) == 0


def test_deterministic_by_seed_and_different_across_seeds():
    for family in ("rain", "speech", "birds", "music"):
        a = render_sound(family, 2.0, SR, seed=7)
        b = render_sound(family, 2.0, SR, seed=7)
        c = render_sound(family, 2.0, SR, seed=8)
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, c)


def test_foreground_without_onsets_places_events_itself():
    x = render_sound("impact", 6.0, SR, seed=1, layer="foreground")
    assert _db(float(np.max(np.abs(x)))) > -5.0
    assert np.array_equal(x, render_sound("impact", 6.0, SR, seed=1, layer="foreground"))


def test_onsets_outside_the_clip_are_ignored_and_late_events_truncated():
    silent = render_sound("bell", 2.0, SR, layer="foreground", onsets=[-1.0, 2.0, 9.0])
    assert not silent.any()
    late = render_sound("bell", 2.0, SR, layer="foreground", onsets=[1.9])
    assert len(late) == 2 * SR and np.abs(late[int(1.9 * SR) :]).max() > 0.3


def test_intensity_changes_level_and_density():
    loud = render_sound("rain", 3.0, SR, seed=1, intensity=1.0)
    soft = render_sound("rain", 3.0, SR, seed=1, intensity=0.5)
    assert _db(_rms(soft)) == pytest.approx(_db(_rms(loud)) - 3.0, abs=1.0)
    assert not render_sound("rain", 1.0, SR, intensity=0.0).any()
    sparse = render_sound("footsteps", 10.0, SR, seed=1, intensity=0.5)
    dense = render_sound("footsteps", 10.0, SR, seed=1, intensity=1.5)

    def steps(x):
        env = np.abs(x).reshape(-1, 480).max(axis=1)
        return int(np.sum((env[1:] > 0.3) & (env[:-1] <= 0.3)))

    assert steps(dense) > steps(sparse)


def test_families_differ_spectrally():
    rain = render_sound("rain", 2.0, SR, seed=1)
    # The birdsong itself (its events: a bed of birds also holds the leaves and air under it).
    birds = render_sound("birds", 2.0, SR, seed=1, layer="foreground", onsets=[0.1, 0.9])
    hum = render_sound("hum", 2.0, SR, seed=1)
    thunder = render_sound("thunder", 2.0, SR, seed=1, layer="foreground", onsets=[0.1])
    insects = render_sound("insects", 2.0, SR, seed=1)
    # Rain is broadband noise, birdsong is tonal: their spectral flatness is far apart.
    assert _flatness(rain) > 10 * _flatness(birds)
    assert _fraction_below(hum, 400) > 0.95
    assert _fraction_below(thunder, 500) > 0.9
    assert _fraction_below(insects, 2500) < 0.2
    assert _fraction_below(rain, 1000) < 0.3
    f, p = _spectrum(birds)
    assert p[(f > 1500) & (f < 9000)].sum() / p.sum() > 0.8


@pytest.mark.parametrize("family", EXPECTED_FAMILIES)
def test_block_size_does_not_change_the_samples(family):
    # Filter state, phases and random streams carry across blocks: a small block grid gives
    # the same signal as the default one, so joins are seamless.
    whole = render_sound(family, 3.0, SR, seed=5)
    small = np.concatenate(list(iter_blocks(family, 3.0, SR, seed=5, block_seconds=0.37)))
    np.testing.assert_allclose(small, whole, atol=2e-5)


def test_render_to_wav_streams_the_same_samples(tmp_path):
    duration = 13.3  # past the 10 s calibration head and several internal blocks
    path = render_to_wav(tmp_path / "bed.wav", "wind", duration, SR, seed=4)
    data, sr = sf.read(path, dtype="float32")
    assert sr == SR and data.shape == (round(duration * SR),)
    np.testing.assert_array_equal(data, render_sound("wind", duration, SR, seed=4))
    assert [p.name for p in tmp_path.iterdir()] == ["bed.wav"]
    # No click where internal blocks join: the largest sample step stays typical.
    steps = np.abs(np.diff(data))
    joins = [int(k * 2.0 * SR) for k in range(1, 6)]
    assert max(steps[j - 1] for j in joins) < 4 * np.percentile(steps, 99.9)


def test_render_to_wav_foreground_pcm24(tmp_path):
    path = render_to_wav(tmp_path / "hits.wav", "impact", 3.0, 22050, seed=1,
                         layer="foreground", onsets=[0.5, 2.0], subtype="PCM_24")
    info = sf.info(path)
    assert info.samplerate == 22050 and info.frames == round(3.0 * 22050)
    assert info.subtype == "PCM_24"


def test_filter_designs_are_made_once_and_each_caller_gets_its_own_copy():
    """Recipes, floors and every window of a long clip ask for the same few filters: each is
    designed once per process, and a caller that changes its copy changes no other."""
    from scipy import signal

    from lvas.tools.generation.procedural import dsp

    dsp._butter.cache_clear()
    first = dsp.bandpass(250, 900, SR)
    first[0, 0] = 123.0
    again = dsp.bandpass(250, 900, SR)
    assert dsp._butter.cache_info().hits == 1
    assert again.flags.writeable and again[0, 0] != 123.0
    np.testing.assert_array_equal(
        again, signal.butter(1, [250.0, 900.0], "bandpass", fs=SR, output="sos"))
    np.testing.assert_array_equal(
        dsp.lowpass(1e6, SR), signal.butter(2, 0.45 * SR, "lowpass", fs=SR, output="sos"))


def _plain_soft_limit(x: np.ndarray) -> np.ndarray:
    from lvas.tools.generation.procedural.render import _CEIL, _KNEE

    mag = np.abs(x)
    over = mag > _KNEE
    x = x.copy()
    x[over] = np.sign(x[over]) * (
        _KNEE + (_CEIL - _KNEE) * np.tanh((mag[over] - _KNEE) / (_CEIL - _KNEE)))
    return x


def test_level_and_saturator_shortcuts_give_the_plain_formulas_exactly():
    """The renderer skips work where the answer is known (no sample at the knee, a stereo
    level measured column by column): the samples must be those of the plain formulas."""
    from lvas.tools.generation.procedural import render

    rng = np.random.default_rng(3)
    quiet = rng.standard_normal((5 * SR, 2)) * 0.05
    peaky = quiet.copy()
    peaky[::4800] = 1.5
    peaky[7, 1] = np.nan
    for x in (quiet, peaky, quiet[:, 0], peaky[:, 1], np.zeros((0, 2))):
        np.testing.assert_array_equal(render._soft_limit(x), _plain_soft_limit(x))
    n = round(render.FLOOR_WINDOW * SR)
    power = np.mean(quiet**2, axis=1)[: (len(quiet) // n) * n]
    plain = np.sqrt(power.reshape(-1, n).mean(axis=1))
    np.testing.assert_array_equal(render.window_levels(quiet, SR), plain)
    clicks = quiet[:, :1] + (np.arange(5 * SR)[:, None] % 500 == 0)  # the saturator bites
    for head in (quiet, clicks):
        target = 10 ** (render.BED_RMS_DBFS / 20)
        gain = first = target / float(np.sqrt(np.mean(head**2)))
        for _ in range(4):
            got = float(np.sqrt(np.mean(_plain_soft_limit(head * gain) ** 2)))
            if got <= 0 or abs(got / target - 1) < 0.02:
                break
            gain = min(gain * target / got, 4.0 * first)
        assert render._bed_gain(head) == gain
