"""benchmarks/bench_quality.py: the scoring half, on a synthetic run directory.

The benchmark's dubbing half runs ``lvas dub`` on real clips (minutes); here a run directory
is written by hand — a mix, a background stem with a 1 s dead gap in its first bed, a plan
with two scenes and their beds, a motion envelope — so that what the script computes can be
checked against values known by construction, and its JSON and side-by-side outputs read back.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
RATE = 48_000


def _load_bench():
    spec = importlib.util.spec_from_file_location(
        "bench_quality", ROOT / "benchmarks" / "bench_quality.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_quality"] = module
    spec.loader.exec_module(module)
    return module


bq = _load_bench()

BURSTS = (0.4, 2.4, 3.6, 4.8)  # seconds: loud noise bursts, each on a motion spike


def _make_run(root: Path, events: bool = True) -> Path:
    """A run of two scenes; with ``events``, a foreground sound whose bursts (its own stem)
    sit on the motion spikes, half of them 0.2 s late."""
    run = root / "clip.lvas"
    (run / "stems").mkdir(parents=True)
    (run / "analysis").mkdir()
    rng = np.random.default_rng(0)
    n = 6 * RATE
    bed = 0.05 * rng.standard_normal(n)
    bed[1 * RATE : 2 * RATE] = 0.0  # a bed that falls dead for one second
    mix = bed.copy()
    for t in BURSTS:
        i = int(t * RATE)
        mix[i : i + RATE // 20] += 0.5 * rng.standard_normal(RATE // 20)
    sf.write(run / "stems" / "stem_background.wav", np.stack([bed, bed], 1), RATE, subtype="FLOAT")
    if events:
        hits = np.zeros(n)
        for k, t in enumerate(BURSTS):
            i = int((t + 0.2 * (k % 2)) * RATE)
            hits[i : i + RATE // 20] += 0.5 * rng.standard_normal(RATE // 20)
        sf.write(
            run / "stems" / "stem_foreground.wav", np.stack([hits, hits], 1), RATE, subtype="FLOAT"
        )
    sf.write(run / "soundtrack.wav", np.stack([mix, mix], 1), RATE, subtype="FLOAT")
    motion = np.full(150, 0.01, dtype=np.float32)
    for t in BURSTS:
        motion[int(round(t * 25))] = 1.0
    np.save(run / "analysis" / "motion.npy", motion)

    def sound(scene: str, layer: str, start: float, end: float) -> dict:
        onsets = [t for t in BURSTS if start <= t < end] if layer == "foreground" else []
        return {
            "id": f"{scene}-{layer}",
            "scene_id": scene,
            "layer": layer,
            "description": layer,
            "start": start,
            "end": end,
            "onsets": onsets if events else [],
        }

    plan = {
        "video": str(root / "clip.mp4"),
        "storyboard": {"motion_envelope": "analysis/motion.npy", "envelope_rate": 25},
        "scenes": [
            {"id": "scene-000", "start": 0.0, "end": 3.0},
            {"id": "scene-001", "start": 3.0, "end": 6.0},
        ],
        "designs": {
            "scene-000": {
                "sounds": [
                    sound("scene-000", "background", 0.0, 3.0),
                    sound("scene-000", "foreground", 0.0, 3.0),
                ]
            },
            "scene-001": {"sounds": [sound("scene-001", "background", 3.0, 6.0)]},
        },
    }
    (run / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    return run


def test_score_run_measures_what_was_built(tmp_path):
    figures = bq.score_run(_make_run(tmp_path))

    assert set(figures) >= {key for key, *_ in bq.FIGURES}
    assert figures["duration_s"] == pytest.approx(6.0)
    assert figures["scenes"] == 2
    # the dead second is one dropout, in the mix and in the bed stem
    for prefix in ("", "bed_"):
        assert figures[f"{prefix}dropout_count"] == 1
        assert figures[f"{prefix}dropout_total_s"] == pytest.approx(1.0)
        assert figures[f"{prefix}dropout_longest_s"] == pytest.approx(1.0)
    # 0.4 s windows every 0.1 s: 27 per 3 s bed; 7 of the first bed's lie wholly in the gap
    assert figures["bed_spans"] == 2
    assert figures["bed_floor_share"] == pytest.approx(7 / 54)
    assert figures["bed_deepest_drop_db"] > 80.0  # down to the -120 dBFS floor
    # white noise: the share above 1 kHz is the band's share of the spectrum
    assert figures["bed_hf_share"] == pytest.approx(23 / 24, abs=0.01)
    # the project's own metrics are wired: the scene boundary and the motion envelope are read
    assert figures["seam_level_jump_db_ratio"] is not None
    assert figures["sync_lag_s"] is not None
    assert 0.0 <= figures["sync_onset_f1"] <= 1.0
    assert figures["sync_correlation"] > 0.2  # the mix's bursts are on the motion spikes
    # the events stem alone: 2 onsets planned in scene 0; two of its four bursts on the spikes,
    # two 0.2 s late (outside the 100 ms tolerance)
    assert figures["event_onsets"] == 2
    assert figures["event_onset_f1"] == pytest.approx(0.5)
    assert figures["event_correlation"] is not None and figures["event_lag_s"] is not None


def test_without_events_the_events_figures_are_empty(tmp_path):
    figures = bq.score_run(_make_run(tmp_path, events=False))
    assert figures["event_onsets"] == 0
    assert figures["event_lag_s"] is None and figures["event_onset_f1"] is None
    assert figures["sync_onset_f1"] is not None  # the mix is still scored


def test_hf_share_of_a_low_tone_is_near_zero(tmp_path):
    path = tmp_path / "tone.wav"
    t = np.arange(3 * RATE) / RATE
    sf.write(path, 0.3 * np.sin(2 * np.pi * 200.0 * t), RATE, subtype="FLOAT")
    assert bq.hf_share(path) < 0.01


def test_bed_floor_without_drops(tmp_path):
    path = tmp_path / "steady.wav"
    sf.write(path, 0.1 * np.random.default_rng(1).standard_normal(4 * RATE), RATE, subtype="FLOAT")
    floor = bq.bed_floor(path, [(0.0, 4.0)])
    assert floor["share"] == 0.0
    assert floor["deepest_db"] < 3.0


def test_cli_writes_json_and_compares(tmp_path, capsys):
    run = _make_run(tmp_path)
    out = tmp_path / "figures.json"
    assert bq.main(["--score", str(run), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "beds (background stem)" in printed and "clip.lvas" in printed

    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["videos"]["clip.lvas"]["figures"]["bed_spans"] == 2
    assert result["mean"]["dropout_count"] == 1

    assert bq.main(["--compare", str(out), str(out)]) == 0
    printed = capsys.readouterr().out
    assert "clip.lvas" in printed and "mean" in printed
    assert "bed_floor_share" in printed and "+0" in printed


def test_the_set_names_its_videos_once():
    names = [v.name for v in bq.QUALITY_SET]
    assert len(names) == len(set(names))
    assert {"cockatoo", "big_buck_bunny", "kivy_city"} <= set(names)
