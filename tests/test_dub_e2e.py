"""End to end: ``lvas dub`` on generated videos gives a dubbed video with the video untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.audio_checks import (
    decode_audio,
    ebur128_levels,
    rms_db,
    video_duration,
    video_packets_digest,
)
from tests.videos import make_avi_mpeg4, make_cut_video, make_mpeg_ps, make_webm

CUTS = (2.0, 4.0, 6.0)


def _lvas(*args: str, cache_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "LVAS_CACHE_DIR": str(cache_dir)}
    return subprocess.run(
        [sys.executable, "-m", "lvas.graph.cli", *args], capture_output=True, text=True, env=env,
        timeout=600,
    )


@pytest.fixture(scope="module")
def dubbed(tmp_path_factory, label_cache_dir):
    root = tmp_path_factory.mktemp("dub")
    video = make_cut_video(root / "cuts.mp4", [2.0, 2.0, 2.0, 2.0])
    out = root / "cuts.out.mp4"
    result = _lvas("dub", str(video), "-o", str(out), "--work-dir", str(root / "run"),
                   "--seed", "1", "--json", cache_dir=label_cache_dir)
    assert result.returncode == 0, result.stderr
    return video, out, root / "run", json.loads(result.stdout), result


def test_dub_writes_video_with_identical_video_stream(dubbed):
    video, out, _, summary, _ = dubbed
    assert Path(summary["output"]) == out.resolve() and out.exists()
    assert video_packets_digest(out) == video_packets_digest(video)


def test_soundtrack_lasts_as_long_as_the_video(dubbed):
    video, out, _, _, _ = dubbed
    samples, rate = decode_audio(out)
    assert abs(len(samples) / rate - video_duration(video)) <= 0.05


def test_soundtrack_is_audible_in_every_scene(dubbed):
    _, out, run_dir, _, _ = dubbed
    plan = json.loads((run_dir / "plan.json").read_text())
    samples, rate = decode_audio(out)
    assert plan["scenes"], "the plan has scenes"
    assert plan["scenes"][0]["start"] == 0.0
    for scene in plan["scenes"]:
        piece = samples[int(scene["start"] * rate): int(scene["end"] * rate)]
        assert rms_db(piece) > -45.0, scene["id"]


def test_run_dir_holds_soundtrack_and_plan(dubbed):
    _, _, run_dir, summary, _ = dubbed
    assert (run_dir / "soundtrack.wav").exists()
    plan = json.loads((run_dir / "plan.json").read_text())
    for key in ("storyboard", "scenes", "overview", "scripts", "designs", "label_choices"):
        assert plan[key], key
    cuts = plan["storyboard"]["cuts"]
    assert len(cuts) == len(CUTS)
    assert all(abs(a - b) <= 0.1 for a, b in zip(cuts, CUTS, strict=True))
    sound_ids = {s["id"] for d in plan["designs"].values() for s in d["sounds"]}
    assert sound_ids == set(plan["label_choices"])
    assert summary["scenes"] == len(plan["scenes"])


def test_run_dir_keeps_the_summary_that_run_cost_reads(dubbed):
    from lvas.tools.evaluation.cost import run_cost

    _, _, run_dir, summary, _ = dubbed
    kept = json.loads((run_dir / "summary.json").read_text())
    assert kept == summary
    assert kept["gpu_seconds"] == 0.0  # the procedural synthesizer never uses a GPU
    cost = run_cost(run_dir)
    assert cost.wall_seconds == summary["seconds"] and cost.gpu_seconds == 0.0
    assert cost.per_minute["wall_seconds"] == pytest.approx(
        summary["seconds"] / (plan_duration(run_dir) / 60.0))
    assert not cost.missing or all("llm_usage" in m for m in cost.missing)


def plan_duration(run_dir: Path) -> float:
    return float(json.loads((run_dir / "plan.json").read_text())["video_info"]["duration"])


def test_deliverables_meet_loudness_and_peak_rules(dubbed):
    import soundfile as sf

    _, out, run_dir, summary, _ = dubbed
    master = run_dir / "soundtrack.wav"
    assert sf.info(master).samplerate == 48000 and sf.info(master).channels == 2
    lufs, peak = ebur128_levels(master)  # FFmpeg's meter, not the mixer's own
    assert abs(lufs + 23.0) <= 0.5 and peak <= -1.0
    lufs, peak = ebur128_levels(out)
    assert abs(lufs + 23.0) <= 1.0 and peak <= -1.0  # as encoded (AAC), not only the WAV
    assert summary["true_peak_db"] <= -1.0


def test_stems_sum_to_the_soundtrack(dubbed):
    import soundfile as sf

    _, _, run_dir, summary, _ = dubbed
    assert set(summary["stems"]) >= {"background", "foreground"}
    master, _ = sf.read(run_dir / "soundtrack.wav")
    total = sum(sf.read(path)[0] for path in summary["stems"].values())
    assert np.max(np.abs(total - master)) < 1e-3


def test_report_and_editor_timeline_are_delivered(dubbed):
    import opentimelineio as otio

    _, _, run_dir, summary, _ = dubbed
    plan = json.loads((run_dir / "plan.json").read_text())
    timeline = otio.adapters.read_from_file(summary["timeline"])
    names = [track.name for track in timeline.tracks]
    assert names[:2] == ["Video", "Mix"] and "Stem: background" in names
    assert [m.name for m in timeline.tracks.markers] == [s["id"] for s in plan["scenes"]]
    page = Path(summary["report"]).read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") >= 1 and "Warnings" in page
    assert 'class="tl-mark' in page and 'src="thumbnails/scene-0000.jpg"' in page


def test_progress_is_reported_per_node(dubbed):
    stderr = dubbed[4].stderr
    for title in ("Storyboarder", "Scriptwriter", "Designer", "Synthesizer", "mixer", "report"):
        assert title in stderr
    # Every progress line says what its step did: no "Synthesizer (labels):  (10.12 s)".
    steps = [line for line in stderr.splitlines() if line.startswith("[")]
    assert steps
    for line in steps:
        title, _, rest = line.partition("]")[2].partition(":")
        assert rest.strip() and not rest.strip().startswith("("), line


@pytest.fixture(scope="module")
def formats_root(tmp_path_factory):
    return tmp_path_factory.mktemp("formats")


# Each case is a whole dub in a fresh interpreter (about 12 s on 2 cores). MPEG-PS, whose
# output changes container, stays in the default tier; muxing into every container is
# covered quickly by tests/test_muxing.py, so the rest of the matrix runs under -m slow.
@pytest.mark.parametrize(
    ("maker", "name", "expected_suffix"),
    [
        pytest.param(make_webm, "clip.webm", ".webm", marks=pytest.mark.slow),
        pytest.param(make_avi_mpeg4, "clip.avi", ".avi", marks=pytest.mark.slow),
        (make_mpeg_ps, "clip.mpg", ".mkv"),
        pytest.param(make_cut_video, "clip.ts", ".ts", marks=pytest.mark.slow),
    ],
)
def test_default_output_for_other_containers(maker, name, expected_suffix, formats_root,
                                             label_cache_dir):
    video = maker(formats_root / name, (2.5, 2.5))
    result = _lvas("dub", str(video), "--json", "-q", cache_dir=label_cache_dir)
    assert result.returncode == 0, result.stderr
    out = Path(json.loads(result.stdout)["output"])
    assert out.parent == video.parent.resolve() and out.suffix == expected_suffix
    assert out.name.startswith("clip.dubbed")
    assert video_packets_digest(out) == video_packets_digest(video)
    samples, rate = decode_audio(out)
    assert abs(len(samples) / rate - video_duration(video)) <= 0.05
    assert rms_db(samples) > -45.0


def test_prompt_changes_the_soundtrack(tmp_path, label_cache_dir):
    from lvas.graph.context import Context
    from lvas.graph.runner import run_pipeline

    video = make_cut_video(tmp_path / "v.mp4", [3.0, 3.0])
    spectra, flatness, tonal = {}, {}, {}
    for name, prompt in (("rain", "heavy rain pouring down"), ("birds", "birds chirping")):
        ctx = Context(run_dir=str(tmp_path / name), index_dir=str(label_cache_dir), seed=2)
        final = run_pipeline({"video": str(video), "output": str(tmp_path / f"{name}.mp4"),
                              "prompt": prompt}, ctx)
        beds = [c for c in final["label_choices"].values() if c["sound_id"].endswith("bed0")]
        assert all(c["family"] == name for c in beds), beds
        samples, rate = decode_audio(tmp_path / f"{name}.mp4")
        spectrum = np.abs(np.fft.rfft(samples[: rate * 4]))
        spectra[name] = spectrum / spectrum.sum()
        power, freqs = _frame_spectra(samples, rate)
        # Rain is broadband noise: flat across the 1.5-8 kHz band. Birdsong is tonal: narrow
        # peaks well above the rest of that band in many frames (over the bed's floor of air
        # and leaves, which keeps it from falling silent between calls).
        band = power[:, (freqs > 1500) & (freqs < 8000)]
        flatness[name] = float(np.median(np.exp(np.log(band).mean(1)) / band.mean(1)))
        tonal[name] = float(np.mean(10 * np.log10(band.max(1) / np.median(band, 1)) > 25))
    assert np.abs(spectra["rain"] - spectra["birds"]).sum() > 0.2
    assert flatness["rain"] > 0.5 and flatness["rain"] > flatness["birds"], flatness
    assert tonal["birds"] > 0.2 > tonal["rain"], tonal


def _frame_spectra(samples: np.ndarray, rate: int, n: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Power spectra of half-overlapping Hann frames of the mono downmix."""
    mono = samples.mean(axis=1) if samples.ndim > 1 else samples
    frames = np.lib.stride_tricks.sliding_window_view(mono, n)[:: n // 2] * np.hanning(n)
    return np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-12, np.fft.rfftfreq(n, 1 / rate)


def test_same_seed_gives_the_same_soundtrack(tmp_path, label_cache_dir):
    from lvas.graph.context import Context
    from lvas.graph.runner import run_pipeline

    video = make_cut_video(tmp_path / "v.mp4", [2.0, 2.0])
    digests = []
    for run in ("a", "b"):
        ctx = Context(run_dir=str(tmp_path / run), index_dir=str(label_cache_dir), seed=5)
        run_pipeline({"video": str(video), "output": str(tmp_path / f"{run}.mp4")}, ctx)
        digests.append((tmp_path / run / "soundtrack.wav").read_bytes())
    assert digests[0] == digests[1]
