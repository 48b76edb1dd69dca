"""``lvas ablate`` end to end: two variants over two generated videos with the procedural
generator, the tables, resuming after a SIGKILL, and refusals with exit 2."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.videos import make_cut_video, make_webm

PLAN = """\
<html><body><h2>Why these ablations</h2><p>Do crossfades earn their place?</p>
<pre>
### Ablation 1: Remove crossfades
- **Ablated Part**: crossfades between scenes and generation windows
- **Action**: REPLACE
- **Replacement**:
  - butt joins with no overlap
- **Metrics**: seams, FAD-free, dropouts, loudness, FID
</pre></body></html>
"""


def _lvas(*args: str, cache_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "LVAS_CACHE_DIR": str(cache_dir)}
    return subprocess.run([sys.executable, "-m", "lvas.graph.cli", *args], capture_output=True,
                          text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two short videos with cuts: a WebM (VP8) with its own audio, which is its reference,
    and a silent MP4."""
    folder = tmp_path_factory.mktemp("study-videos")
    make_webm(folder / "alpha.webm", [2.0, 2.0])
    make_cut_video(folder / "beta.mp4", [2.5, 2.5])
    return folder


@pytest.fixture(scope="module")
def study(videos: Path, label_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[Path, subprocess.CompletedProcess]:
    plan = tmp_path_factory.mktemp("plan") / "crossfades.html"
    plan.write_text(PLAN, encoding="utf-8")
    folder = tmp_path_factory.mktemp("study") / "out"
    result = _lvas("ablate", str(plan), "--videos", str(videos), "-o", str(folder),
                   "--seed", "5", "--generator", "procedural", cache_dir=label_cache_dir)
    assert result.returncode == 0, result.stderr
    return folder, result


def test_every_variant_and_video_gives_one_scored_row(study: tuple[Path, Any]) -> None:
    folder, _ = study
    rows = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    pairs = sorted((r["variant"], r["video"]) for r in rows)
    assert pairs == [("full", "alpha"), ("full", "beta"),
                     ("window-crossfades/hard-joins", "alpha"),
                     ("window-crossfades/hard-joins", "beta")]
    for row in rows:
        assert row["status"] == "ok" and row["seed"] == 5
        assert row["dropout_share"] is not None and row["integrated_lufs"] is not None
        assert row["seam_level_jump_db_ratio"] is not None
        assert Path(row["output"]).is_file()
        assert Path(row["output"]).suffix == (".webm" if row["video"] == "alpha" else ".mp4")
    # The video with its own audio is its reference; the silent one has none to compare with.
    by_video = {(r["variant"], r["video"]): r for r in rows}
    assert by_video[("full", "alpha")]["fd_logmel"] > 0
    assert by_video[("full", "beta")]["fd_logmel"] is None
    assert by_video[("full", "beta")]["metric_status"]["fd-logmel"].startswith("needs reference")


def test_the_variant_runs_with_its_settings_and_the_same_seed(study: tuple[Path, Any]) -> None:
    folder, _ = study
    record = json.loads((folder / "study.json").read_text())
    variant = next(v for v in record["variants"] if v["component"] == "window-crossfades")
    assert variant["settings"] == {"window_overlap_seconds": 0.0, "crossfade_seconds": 0.0}
    assert record["seed"] == 5
    assert record["not_applicable"]["FID"]
    summaries = list((folder / "runs").glob("*/*.lvas/summary.json"))
    assert len(summaries) == 4


def test_a_variant_is_what_a_normal_run_with_its_settings_gives(
        study: tuple[Path, Any], videos: Path, label_cache_dir: Path, tmp_path: Path) -> None:
    folder, _ = study
    dub = _lvas("dub", str(videos / "beta.mp4"), "-o", str(tmp_path / "beta.mp4"), "--seed", "5",
                "--generator", "procedural", "--set", "window_overlap_seconds=0",
                "--set", "crossfade_seconds=0", "--json", cache_dir=label_cache_dir)
    assert dub.returncode == 0, dub.stderr
    alone = Path(json.loads(dub.stdout)["soundtrack"]).read_bytes()
    in_study = folder / "runs" / "window-crossfades_hard-joins" / "beta.lvas" / "soundtrack.wav"
    assert in_study.read_bytes() == alone


def test_later_variants_reuse_the_analysis_and_unchanged_clips(study: tuple[Path, Any]) -> None:
    folder, _ = study
    runs = {(r["variant"], r["video"]): r for r in
            map(json.loads, (folder / "runs.jsonl").read_text().splitlines())}
    assert runs[("full", "alpha")]["reused_files"] == 0
    assert runs[("window-crossfades/hard-joins", "alpha")]["reused_files"] > 0
    first, later = (sorted((folder / "runs" / v / "alpha.lvas" / "analysis").rglob(
        "analysis.json"))[0] for v in ("full", "window-crossfades_hard-joins"))
    assert first.stat().st_ino == later.stat().st_ino  # one decode pass per video


def test_tables_and_chart_are_written(study: tuple[Path, Any]) -> None:
    folder, result = study
    table = (folder / "table.md").read_text()
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert lines[1].startswith("| **full**") and "hard-joins" in lines[2]
    assert "bootstrap" in table and result.stdout.strip().startswith("| Variant")
    with (folder / "table.csv").open(newline="") as handle:
        cells = list(csv.DictReader(handle))
    assert {c["variant"] for c in cells} == {"full", "window-crossfades/hard-joins"}
    assert {"seam_level_jump_db_ratio", "dropout_share", "fd_logmel"} <= {c["key"] for c in cells}
    assert (folder / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # FD pooled over each variant's videos, as the field reports it: here over the one video
    # with a reference, equal to that video's own value.
    assert "Pooled over the videos" in table
    with (folder / "pooled.csv").open(newline="") as handle:
        pooled = {(r["variant"], r["key"]): r for r in csv.DictReader(handle)}
    rows = {(r["variant"], r["video"]): r for r in
            map(json.loads, (folder / "results.jsonl").read_text().splitlines())}
    assert float(pooled[("full", "fd_logmel")]["value"]) == pytest.approx(
        rows[("full", "alpha")]["fd_logmel"], rel=1e-6)


def test_a_rerun_resumes_without_dubbing_again(study: tuple[Path, Any], videos: Path,
                                               label_cache_dir: Path) -> None:
    folder, _ = study
    before = (folder / "runs.jsonl").read_text()
    again = _lvas("ablate", str(folder / "plan.md"), "--videos", str(videos), "-o",
                  str(folder), "--seed", "5", "--generator", "procedural",
                  cache_dir=label_cache_dir)
    assert again.returncode == 0, again.stderr
    assert "resumed" in again.stderr and "dubbed" not in again.stderr
    assert (folder / "runs.jsonl").read_text() == before


def test_a_killed_study_resumes_without_redoing_finished_pairs(
        videos: Path, label_cache_dir: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan.md"
    plan.write_text("### Ablation 1\n- **Ablated Part**: loudness normalisation\n"
                    "- **Action**: REMOVE\n- **Metrics**: dropouts\n", encoding="utf-8")
    folder = tmp_path / "study"
    args = [sys.executable, "-m", "lvas.graph.cli", "ablate", str(plan), "--videos",
            str(videos), "-o", str(folder), "--generator", "procedural"]
    env = {**os.environ, "LVAS_CACHE_DIR": str(label_cache_dir)}
    with subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                          env=env) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            if ": dubbed in" in line:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    first = [json.loads(line) for line in (folder / "runs.jsonl").read_text().splitlines()]
    assert 1 <= len(first) < 4
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    runs = [json.loads(line) for line in (folder / "runs.jsonl").read_text().splitlines()]
    assert len(runs) == 4  # the pairs finished before the kill were not dubbed again
    assert len({(r["variant"], r["video"]) for r in runs}) == 4
    assert result.stderr.count(": dubbed in") == 4 - len(first)
    rows = (folder / "results.jsonl").read_text().splitlines()
    assert len({(json.loads(r)["variant"], json.loads(r)["video"]) for r in rows}) == 4


def test_a_plan_for_another_system_is_refused_with_the_registry(
        videos: Path, label_cache_dir: Path, tmp_path: Path) -> None:
    plan = tmp_path / "other.yaml"
    plan.write_text("ablations:\n  - name: no reward model\n"
                    "    ablated_part: the reward model of the RLHF stage\n"
                    "    action: REMOVE\n    metrics: [FD]\n", encoding="utf-8")
    result = _lvas("ablate", str(plan), "--videos", str(videos), "-o", str(tmp_path / "s"),
                   cache_dir=label_cache_dir)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "not a part of LVAS" in result.stderr and "scene-segmentation" in result.stderr
    assert not (tmp_path / "s").exists()  # nothing half-written


def test_a_folder_holding_another_study_is_not_overwritten(
        study: tuple[Path, Any], videos: Path, label_cache_dir: Path, tmp_path: Path) -> None:
    folder, _ = study
    plan = tmp_path / "other.md"
    plan.write_text("### A\n- **Ablated Part**: ducking\n- **Action**: REMOVE\n"
                    "- **Metrics**: dropouts\n", encoding="utf-8")
    result = _lvas("ablate", str(plan), "--videos", str(videos), "-o", str(folder),
                   cache_dir=label_cache_dir)
    assert result.returncode == 2 and "another ablation study" in result.stderr
    assert (folder / "table.md").is_file()


def test_list_shows_every_component_and_its_settings(label_cache_dir: Path) -> None:
    from lvas.tools.ablation.components import COMPONENTS

    listed = _lvas("ablate", "--list", cache_dir=label_cache_dir)
    assert listed.returncode == 0
    for comp in COMPONENTS:
        assert comp.name in listed.stdout
        for alt in comp.alternatives:
            assert alt.name in listed.stdout
    data = json.loads(_lvas("ablate", "--list", "--json", cache_dir=label_cache_dir).stdout)
    assert [c["component"] for c in data["components"]] == [c.name for c in COMPONENTS]
    assert data["presets"] == ["paper-table-1"]


def test_the_paper_preset_maps_and_asks_for_the_paper_columns(label_cache_dir: Path) -> None:
    from lvas.tools.ablation.mapping import Matcher, map_plan, packaged_embed
    from lvas.tools.ablation.plan import parse_plan
    from lvas.tools.ablation.presets import PAPER_TABLE_1
    from lvas.tools.evaluation.registry import resolve_metric_names

    study = map_plan(parse_plan(PAPER_TABLE_1), Matcher(packaged_embed(str(label_cache_dir))))
    assert [v.slug for v in study.variants] == ["full", "agents/chunk-baseline-10s"]
    baseline = study.variants[1].settings
    assert baseline["segmentation"] == "fixed" and baseline["segment_seconds"] == 10.0
    resolved = resolve_metric_names(study.metric_names)
    assert not resolved.unknown and not resolved.not_applicable
    names = {m.name for m in resolved.found}
    assert {"fd-vggish", "fd-panns", "fd-passt", "kl-panns", "kl-passt", "is-panns",
            "is-passt", "imagebind", "desync", "sync", "seams"} <= names
