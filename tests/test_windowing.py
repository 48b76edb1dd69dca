"""Long-scene windowing: the plan covers every request exactly, and joins are seamless."""

from __future__ import annotations

import math
import random
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lvas.tools.common.errors import LVASInputError
from lvas.tools.generation.base import GenerationRequest, GeneratorCapabilities
from lvas.tools.generation.windowing import (
    FOREGROUND_CROSSFADE,
    Window,
    derive_seed,
    equal_power_fades,
    plan_windows,
    render_windowed,
)

EPS = 1e-9


# --- the plan ------------------------------------------------------------------------------------

def _power_at(windows: Sequence[Window], t: np.ndarray) -> np.ndarray:
    """Sum of squared gains at ``t`` over the windows near each point (the others are zero)."""
    owners = np.searchsorted([w.own_start for w in windows], t, side="right") - 1
    total = np.zeros(len(t))
    for offset in (-2, -1, 0, 1, 2):
        near = owners + offset
        for j in np.unique(near[(near >= 0) & (near < len(windows))]):
            pick = near == j
            total[pick] += windows[j].gain(t[pick]) ** 2
    return total


def check_plan(windows: list[Window], duration: float, window: float, overlap: float,
               rng: np.random.Generator, samples: int = 400) -> None:
    n = len(windows)
    if duration <= window:
        assert n == 1
    else:
        assert n == math.ceil((duration - overlap) / (window - overlap))
    assert [w.index for w in windows] == list(range(n))
    assert windows[0].start == 0.0 and windows[-1].end == duration
    lengths = [w.duration for w in windows]
    assert max(lengths) <= window + EPS * max(window, 1)
    assert max(lengths) - min(lengths) <= EPS * max(duration, 1)
    for a, b in zip(windows, windows[1:], strict=False):
        assert b.start > a.start
        assert a.end - b.start >= overlap - EPS * max(duration, 1)  # no gaps, enough overlap
        assert a.fade_out == b.fade_in <= overlap + EPS
        # The join lies inside both windows.
        assert a.own_end - a.fade_out / 2 >= b.start - EPS * max(duration, 1)
        assert a.own_end + a.fade_out / 2 <= a.end + EPS * max(duration, 1)
    # The owned parts tile [0, duration): nothing missing, nothing counted twice.
    assert windows[0].own_start == 0.0 and windows[-1].own_end == duration
    for a, b in zip(windows, windows[1:], strict=False):
        assert a.own_end == b.own_start
    assert all(w.own_end > w.own_start for w in windows)
    assert math.isclose(sum(w.own_end - w.own_start for w in windows), duration, rel_tol=1e-9)
    # Equal power: the squared weights of all windows sum to one everywhere.
    t = np.concatenate([
        rng.uniform(0, duration, samples),
        [0.0, np.nextafter(duration, 0)],
        [w.own_start for w in windows[: samples // 4]],
        [w.own_end - w.fade_out / 4 for w in windows[: samples // 4]],
    ])
    t = t[(t >= 0) & (t < duration)]
    np.testing.assert_allclose(_power_at(windows, t), 1.0, atol=1e-9)
    # A window weighs nothing outside its own span.
    w = windows[min(1, n - 1)]
    outside = np.array([w.start - 0.01, w.end + 0.01, w.start - 1.0, w.end + 1.0])
    assert np.all(w.gain(outside) == 0.0)


@pytest.mark.parametrize(
    "duration", [0.1, 8.0, 8.0 + 1e-9, 8.001, 60.0, 3600.0, 36000.0], ids=lambda d: f"{d:g}s"
)
def test_plan_covers_each_duration(duration):
    windows = plan_windows(duration, 8.0, 1.0)
    check_plan(windows, duration, 8.0, 1.0, np.random.default_rng(0))


def test_plan_short_requests_are_one_window():
    assert plan_windows(0.1, 8, 1) == [Window(0, 0.0, 0.1, 0.0, 0.0, 0.0, 0.1)]
    assert len(plan_windows(8.0, 8, 1)) == 1
    assert len(plan_windows(8.0 + 1e-9, 8, 1)) == 2


def test_plan_sweep_seeded():
    """Property sweep: random durations (10 ms to a day), windows, overlaps and crossfades."""
    pyrng = random.Random(1234)
    rng = np.random.default_rng(1234)
    checked = {"fade_out": 0, "fade_in": 0}
    for _ in range(300):
        window = pyrng.uniform(0.5, 60.0)
        overlap = pyrng.choice([0.0, pyrng.uniform(0.0, 0.95 * window)])
        duration = 10 ** pyrng.uniform(-2, 5)
        crossfade = pyrng.choice([None, pyrng.uniform(0.0, overlap)])
        windows = plan_windows(duration, window, overlap, crossfade=crossfade)
        check_plan(windows, duration, window, overlap, rng, samples=40)
        if len(windows) > 1:
            fade = overlap if crossfade is None else crossfade
            assert windows[0].fade_out <= fade + EPS
            checked["fade_out"] += 1
        if len(windows) > 2 and crossfade is None and overlap <= windows[0].duration / 2:
            assert windows[1].fade_in == overlap  # beds fade over the whole overlap
            checked["fade_in"] += 1
    assert min(checked.values()) >= 20, checked  # the sweep reaches both properties


def test_plan_large_overlap_keeps_two_windows_at_most():
    windows = plan_windows(100.0, 8.0, 6.0)
    check_plan(windows, 100.0, 8.0, 6.0, np.random.default_rng(1))
    for w in windows[1:-1]:
        assert w.own_start + w.fade_in / 2 <= w.own_end - w.fade_out / 2 + EPS


@pytest.mark.parametrize(
    ("duration", "window", "overlap", "match"),
    [
        (0.0, 8, 1, "duration"),
        (-1.0, 8, 1, "duration"),
        (float("nan"), 8, 1, "duration"),
        (float("inf"), 8, 1, "duration"),
        (10.0, 1, 1, "longer than the overlap"),
        (10.0, 0.5, 1, "longer than the overlap"),
        (10.0, 8, -0.1, "overlap"),
    ],
)
def test_plan_rejects_bad_input(duration, window, overlap, match):
    with pytest.raises(LVASInputError, match=match):
        plan_windows(duration, window, overlap)


def test_plan_rejects_crossfade_longer_than_overlap():
    with pytest.raises(LVASInputError, match="crossfade"):
        plan_windows(30, 8, 1, crossfade=1.5)


def test_equal_power_fades_sum_to_one():
    fade_out, fade_in = equal_power_fades(1000)
    np.testing.assert_allclose(fade_out**2 + fade_in**2, 1.0)
    assert fade_out[0] > 0.99 and fade_in[-1] > 0.99
    assert np.all(np.diff(fade_in) > 0)


def test_derive_seed_is_stable_and_distinct():
    seeds = [derive_seed(42, "window", i) for i in range(1000)]
    assert len(set(seeds)) == 1000
    assert seeds == [derive_seed(42, "window", i) for i in range(1000)]
    assert all(0 <= s < 2**32 for s in seeds)
    assert derive_seed(43, "window", 0) != seeds[0]


# --- rendering through a fake backend -----------------------------------------------------------

class FakeGenerator:
    """Implements the generator protocol; each window carries known content keyed by its seed.

    ``noise``: white noise at RMS 0.1; ``sine``: a 50 Hz sine whose phase depends on the seed.
    """

    name = "fake"
    version = "1"

    def __init__(self, sample_rate: int = 8000, window_seconds: float | None = 8.0,
                 max_batch: int = 1, content: str = "noise", channels: int = 1,
                 fail_after: int | None = None, short_by: int = 0) -> None:
        self.capabilities = GeneratorCapabilities(
            video_to_audio=True, text_to_audio=True, sample_rate=sample_rate,
            window_seconds=window_seconds, max_batch=max_batch,
        )
        self.content = content
        self.channels = channels
        self.fail_after = fail_after
        self.short_by = short_by
        self.single: list[GenerationRequest] = []
        self.batches: list[list[GenerationRequest]] = []
        self.paths: list[Path] = []

    def audio(self, request: GenerationRequest) -> np.ndarray:
        sr = self.capabilities.sample_rate
        n = round(request.duration * sr)
        rng = np.random.default_rng(request.seed)
        if self.content == "noise":
            x = 0.1 * rng.standard_normal(n)
        else:
            phase = rng.uniform(0, 2 * np.pi)
            x = 0.5 * np.sin(2 * np.pi * 50 * np.arange(n) / sr + phase)
        return np.repeat(x[:, None], self.channels, axis=1) if self.channels > 1 else x

    def _write(self, request: GenerationRequest, out_path: Path) -> Path:
        sf.write(out_path, self.audio(request)[: max(round(request.duration
                 * self.capabilities.sample_rate) - self.short_by, 1)],
                 self.capabilities.sample_rate, subtype="FLOAT")
        self.paths.append(Path(out_path))
        return Path(out_path)

    def render(self, request: GenerationRequest, out_path: Path) -> Path:
        self.single.append(request)
        return self._write(request, out_path)

    def render_batch(self, requests, out_paths):
        assert len(requests) == len(out_paths) <= self.capabilities.max_batch
        if self.fail_after is not None and len(self.batches) >= self.fail_after:
            raise RuntimeError("backend fell over")
        self.batches.append(list(requests))
        return [self._write(r, Path(p)) for r, p in zip(requests, out_paths, strict=True)]

    @property
    def window_requests(self) -> list[GenerationRequest]:
        return [r for batch in self.batches for r in batch]


def _request(duration: float, **kw) -> GenerationRequest:
    return GenerationRequest(text="rain on a tin roof", duration=duration, seed=7, family="rain",
                             **kw)


def _read(path: Path) -> tuple[np.ndarray, int]:
    data, sr = sf.read(path, dtype="float64")
    return data, sr


@pytest.mark.parametrize("duration", [0.1, 7.99, 8.0, 8.0001, 8.3, 17.3, 61.7])
def test_output_length_is_exact(tmp_path, duration):
    gen = FakeGenerator()
    out = render_windowed(gen, _request(duration), tmp_path / "out.wav")
    assert sf.info(out).frames == round(duration * 8000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]  # temp files are gone
    if duration <= 8.0:
        assert len(gen.single) == 1 and not gen.batches  # fits: rendered in one call
    else:
        assert not gen.single and len(gen.window_requests) == len(plan_windows(duration, 8, 1))


def test_backend_without_window_renders_in_one_call(tmp_path):
    gen = FakeGenerator(window_seconds=None)
    render_windowed(gen, _request(30.0), tmp_path / "out.wav")
    assert len(gen.single) == 1 and gen.single[0].duration == 30.0 and not gen.batches


def test_window_argument_forces_and_never_exceeds_the_backend_limit(tmp_path):
    gen = FakeGenerator(window_seconds=None)
    render_windowed(gen, _request(30.0), tmp_path / "a.wav", window=8.0)
    assert len(gen.window_requests) == len(plan_windows(30.0, 8, 1))
    gen = FakeGenerator(window_seconds=8.0)
    render_windowed(gen, _request(30.0), tmp_path / "b.wav", window=20.0)
    assert max(r.duration for r in gen.window_requests) <= 8.0


def test_window_requests_get_spans_onsets_and_seeds(tmp_path):
    onsets = (0.5, 6.9, 7.5, 12.0, 29.9)
    req = _request(30.0, layer="foreground", video_span=(100.0, 130.0), onsets=onsets,
                   negative_text="speech", video_path="/videos/a.mp4", intensity=0.7)
    gen = FakeGenerator(max_batch=2)
    render_windowed(gen, req, tmp_path / "out.wav")
    windows = plan_windows(30.0, 8.0, 1.0, crossfade=FOREGROUND_CROSSFADE)
    got = gen.window_requests
    assert len(got) == len(windows) == 5
    for w, r in zip(windows, got, strict=True):
        assert (r.text, r.family, r.layer, r.negative_text, r.video_path, r.intensity) == (
            req.text, req.family, req.layer, req.negative_text, req.video_path, req.intensity)
        assert r.video_span[0] == pytest.approx(100.0 + w.start, abs=1 / 8000)
        assert r.video_span[1] == pytest.approx(100.0 + w.end, abs=1 / 8000)
        assert r.duration == pytest.approx(w.duration, abs=1 / 8000)
        assert r.seed == derive_seed(req.seed, "window", w.index)
        expected = [t - w.start for t in onsets if w.start <= t < w.end]
        assert list(r.onsets) == pytest.approx(expected, abs=1 / 8000)
        assert all(0 <= t < r.duration for t in r.onsets)
    assert len({r.seed for r in got}) == len(got)
    # Same request, same window seeds.
    again = FakeGenerator(max_batch=2)
    render_windowed(again, req, tmp_path / "again.wav")
    assert [r.seed for r in again.window_requests] == [r.seed for r in got]


def test_request_without_video_span_keeps_none(tmp_path):
    gen = FakeGenerator()
    render_windowed(gen, _request(20.0), tmp_path / "out.wav")
    assert all(r.video_span is None for r in gen.window_requests)


@pytest.mark.parametrize(("duration", "max_batch", "sizes"),
                         [(60.0, 3, [3, 3, 3]), (68.0, 3, [3, 3, 3, 1]), (20.0, 8, [3])])
def test_batches_respect_max_batch(tmp_path, duration, max_batch, sizes):
    gen = FakeGenerator(max_batch=max_batch)
    render_windowed(gen, _request(duration), tmp_path / "out.wav")
    assert [len(b) for b in gen.batches] == sizes
    seeds = [r.seed for r in gen.window_requests]
    assert seeds == [derive_seed(7, "window", i) for i in range(sum(sizes))]  # in order


def test_temp_windows_live_beside_output_and_are_removed(tmp_path):
    out_dir = tmp_path / "clips"
    gen = FakeGenerator(max_batch=2)
    render_windowed(gen, _request(40.0), out_dir / "bed.wav")
    assert gen.paths and all(p.parent.parent == out_dir for p in gen.paths)
    assert all(p.parent.name.startswith(".bed.windows-") for p in gen.paths)
    assert not any(p.exists() for p in gen.paths)
    assert [p.name for p in out_dir.iterdir()] == ["bed.wav"]


def test_failure_leaves_no_output_and_no_temp_files(tmp_path):
    gen = FakeGenerator(fail_after=2)
    with pytest.raises(RuntimeError, match="fell over"):
        render_windowed(gen, _request(60.0), tmp_path / "out.wav")
    assert list(tmp_path.iterdir()) == []


def test_window_much_shorter_than_promised_is_an_error(tmp_path):
    gen = FakeGenerator(short_by=4000)  # half a second missing from every window
    with pytest.raises(RuntimeError, match="short"):
        render_windowed(gen, _request(20.0), tmp_path / "out.wav")
    assert list(tmp_path.iterdir()) == []


def test_window_a_few_frames_short_is_padded(tmp_path):
    gen = FakeGenerator(short_by=3)
    out = render_windowed(gen, _request(20.0), tmp_path / "out.wav")
    assert sf.info(out).frames == 20 * 8000


def test_stereo_windows_stay_stereo(tmp_path):
    gen = FakeGenerator(channels=2)
    out = render_windowed(gen, _request(20.0), tmp_path / "out.wav")
    info = sf.info(out)
    assert (info.channels, info.frames) == (2, 20 * 8000)


def _join_regions(duration: float, sr: int, fade: float | None = None) -> list[tuple[int, int]]:
    windows = plan_windows(duration, 8.0, 1.0, crossfade=fade)
    return [(round((w.own_end - w.fade_out / 2) * sr), round((w.own_end + w.fade_out / 2) * sr))
            for w in windows[:-1]]


def test_bed_joins_keep_the_level(tmp_path):
    """Uncorrelated noise windows of equal level: the envelope stays flat through every join."""
    sr, duration = 16000, 60.0
    gen = FakeGenerator(sample_rate=sr, content="noise")
    x, _ = _read(render_windowed(gen, _request(duration), tmp_path / "out.wav"))
    frame = sr // 10  # 100 ms
    env = 20 * np.log10(np.sqrt(np.mean(x[: len(x) // frame * frame].reshape(-1, frame) ** 2,
                                        axis=1)))
    reference = float(np.median(env))
    joins = _join_regions(duration, sr)
    assert len(joins) == 8
    at_joins = []
    for lo, hi in joins:
        at_joins.extend(env[lo // frame : hi // frame])
    at_joins = np.array(at_joins)
    assert at_joins.min() > reference - 1.0, "dropout at a join"
    assert at_joins.max() < reference + 1.0
    # In the middle of each join both windows weigh cos²=sin²=1/2: a linear fade would sit
    # 3 dB down there; equal power keeps the mean level.
    assert abs(float(np.mean(at_joins)) - reference) < 0.3


@pytest.mark.parametrize("layer", ["background", "foreground"])
def test_joins_have_no_discontinuity(tmp_path, layer):
    sr, duration = 8000, 40.0
    gen = FakeGenerator(sample_rate=sr, content="sine")
    x, _ = _read(render_windowed(gen, _request(duration, layer=layer), tmp_path / "out.wav"))
    assert len(x) == duration * sr
    jumps = np.abs(np.diff(x))
    fade = None if layer == "background" else FOREGROUND_CROSSFADE
    joins = _join_regions(duration, sr, fade)
    in_join = np.zeros(len(jumps), bool)
    for lo, hi in joins:
        in_join[max(lo - 2, 0) : hi + 2] = True
    inside = jumps[~in_join].max()
    # Two equal-amplitude sines crossfaded with equal power can reach sqrt(2) times one sine's
    # slope (when they happen to be in phase); a hard cut between them jumps far more.
    assert jumps[in_join].max() <= math.sqrt(2) * inside * 1.01
    windows = plan_windows(duration, 8.0, 1.0)
    reqs = gen.window_requests
    hard_cuts = []
    for w, a, b in zip(windows, reqs, reqs[1:], strict=False):
        t = w.own_end
        hard_cuts.append(abs(gen.audio(a)[round((t - w.start) * sr)]
                             - gen.audio(b)[round((t - windows[w.index + 1].start) * sr)]))
    assert max(hard_cuts) > 5 * inside  # the check would catch a hard cut


def test_one_hour_renders_exactly_in_flat_memory(tmp_path):
    """An hour at 8 kHz is 115 MB as float32; the join holds a few windows at most."""
    sr, duration = 8000, 3600.0
    gen = FakeGenerator(sample_rate=sr, max_batch=4)
    tracemalloc.start()
    try:
        out = render_windowed(gen, _request(duration), tmp_path / "hour.wav")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    full = duration * sr * 4
    assert sf.info(out).frames == duration * sr
    assert peak < full / 20, f"peak Python allocation {peak / 1e6:.1f} MB"
    assert [p.name for p in tmp_path.iterdir()] == ["hour.wav"]
    # Spot-check the stitched audio: the end is the last window's end.
    windows = plan_windows(duration, 8.0, 1.0)
    last = gen.audio(gen.window_requests[-1])
    with sf.SoundFile(out) as f:
        f.seek(f.frames - 1000)
        tail = f.read(1000, dtype="float64")
    np.testing.assert_allclose(tail, last[-1000:], atol=1e-6)
    assert len(gen.window_requests) == len(windows)
