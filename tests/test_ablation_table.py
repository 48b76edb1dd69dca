"""The ablation study's report: bootstrap intervals, paired marks, table.md, table.csv and the
bar chart, from result rows in the form ``results.jsonl`` holds them."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lvas.tools.ablation.bootstrap import bootstrap_mean, cell_rng
from lvas.tools.ablation.chart import relative_mode, write_chart
from lvas.tools.ablation.records import append_line, read_lines
from lvas.tools.ablation.table import (
    CSV_FIELDS,
    MARK,
    MetricColumn,
    render_markdown,
    summarize,
    write_tables,
)
from lvas.tools.common.errors import LVASInputError

FD = MetricColumn("fd_logmel", "fd-logmel", "nats²", "lower")
LAG = MetricColumn("sync_lag_s", "sync", "s", "abs-lower")
F1 = MetricColumn("sync_onset_f1", "sync", "0-1", "higher")
LUFS = MetricColumn("integrated_lufs", "loudness", "LUFS", "target", -23.0)
PASST = MetricColumn("fd_passt", "fd-passt", "", "lower")
WEIGHTS = "needs weights: put the PaSST checkpoint in LVAS_EVAL_WEIGHTS"

META = {
    "full": ("", "", "FULL", ""),
    "scene-segmentation/fixed-chunks-10s": ("Replace Scene Segmentation", "scene-segmentation",
                                            "REPLACE", "fixed-chunks"),
    "discussion-correction/no-review": ("Remove Discussion-Correction",
                                        "discussion-correction", "REMOVE", "no-review"),
}


def row(variant: str, video: str, status: str = "ok", error: str | None = None,
        **metrics: Any) -> dict[str, Any]:
    ablation, part, action, alternative = META.get(variant, ("", "", "REPLACE", "x"))
    out: dict[str, Any] = {
        "variant": variant, "ablation": ablation, "part": part, "action": action,
        "alternative": alternative, "video": video, "video_path": f"/videos/{video}.mp4",
        "seed": 7, "status": status, "error": error, "seconds": 1.5,
        "run_dir": f"/runs/{video}", "output": f"/runs/{video}/out.mp4",
        "metric_status": {"fd-logmel": "ok", "sync": "ok", "loudness": "ok",
                          "fd-passt": WEIGHTS},
        "fd_passt": None,
    }
    out.update(metrics)
    return out


def study(shift: float = 0.0, n: int = 6, spread: float = 5.0) -> list[dict[str, Any]]:
    """Full system and one variant over ``n`` videos that differ a lot from each other; the
    variant's FD is the full system's plus ``shift`` on every video."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(n):
        base = 20.0 + spread * i
        lag = float(rng.normal(0.0, 0.02))
        rows.append(row("full", f"v{i}", fd_logmel=base, sync_lag_s=lag, sync_onset_f1=0.6,
                        integrated_lufs=-23.0 + 0.1 * i))
        rows.append(row("scene-segmentation/fixed-chunks-10s", f"v{i}",
                        fd_logmel=base + shift + float(rng.normal(0.0, 0.05)) * bool(shift),
                        sync_lag_s=-lag, sync_onset_f1=0.6,
                        integrated_lufs=-23.0 + 0.1 * i))
    return rows


VARIANTS = ["full", "scene-segmentation/fixed-chunks-10s"]


def test_bootstrap_is_deterministic_for_a_seed():
    data = np.array([1.0, 4.0, 2.5, 9.0, 3.0])
    a = bootstrap_mean(data, cell_rng(0, "v", "k"), n_boot=500)
    b = bootstrap_mean(data, cell_rng(0, "v", "k"), n_boot=500)
    c = bootstrap_mean(data, cell_rng(1, "v", "k"), n_boot=500)
    assert a == b
    assert a is not None and c is not None and (a.lo, a.hi) != (c.lo, c.hi)
    assert a.mean == pytest.approx(3.9) and a.lo < a.mean < a.hi
    assert a.lo >= data.min() and a.hi <= data.max()


def test_a_summary_is_reproducible_and_a_cell_does_not_move_when_the_study_grows():
    rows = study(shift=3.0)
    first = summarize(rows, VARIANTS, [FD], n_boot=400, seed=11)
    again = summarize(rows, VARIANTS, [FD], n_boot=400, seed=11)
    assert first.cells == again.cells
    more = rows + [row("discussion-correction/no-review", f"v{i}", fd_logmel=30.0 + i)
                   for i in range(6)]
    bigger = summarize(more, VARIANTS + ["discussion-correction/no-review"], [F1, FD],
                       n_boot=400, seed=11)
    key = ("scene-segmentation/fixed-chunks-10s", "fd_logmel")
    assert bigger.cells[key] == first.cells[key]


def test_a_clear_paired_difference_is_marked_even_when_the_videos_differ_more():
    summary = summarize(study(shift=1.0, spread=5.0), VARIANTS, [FD], n_boot=1000)
    cell = summary.cell("scene-segmentation/fixed-chunks-10s", "fd_logmel")
    assert cell.marked and cell.better is False  # lower is better: +1 is worse
    assert cell.n == cell.n_paired == 6
    assert cell.diff_lo is not None and cell.diff_mean is not None and cell.diff_hi is not None
    assert 0.9 < cell.diff_lo < cell.diff_mean < cell.diff_hi < 1.1
    # the unpaired reading cannot see it: the full mean sits inside the variant's interval
    assert not cell.reference_outside
    assert cell.reference_mean == pytest.approx(summary.cell("full", "fd_logmel").mean)
    line = next(ln for ln in render_markdown(summary).splitlines()
                if ln.startswith("| scene-segmentation/"))
    assert MARK in line


def test_identical_values_are_not_marked():
    summary = summarize(study(shift=0.0), VARIANTS, [FD, F1, LUFS])
    for key in ("fd_logmel", "sync_onset_f1", "integrated_lufs"):
        cell = summary.cell("scene-segmentation/fixed-chunks-10s", key)
        assert (cell.diff_mean, cell.diff_lo, cell.diff_hi) == (0.0, 0.0, 0.0)
        assert not cell.marked and cell.better is None
    assert MARK + " " not in render_markdown(summary).split("\n\n")[0]
    f1 = summary.cell("full", "sync_onset_f1")
    assert f1.lo == f1.mean == f1.hi == 0.6  # equal values: the value, no float noise


def test_a_signed_lag_is_summarised_by_its_absolute_value():
    rows = [row("full", "a", sync_lag_s=-0.1), row("full", "b", sync_lag_s=0.1)]
    summary = summarize(rows, ["full"], [LAG])
    assert summary.cell("full", "sync_lag_s").mean == pytest.approx(0.1)
    assert "\\|sync_lag_s\\| (s) ↓" in render_markdown(summary)


def test_one_video_gives_the_value_as_its_interval_and_no_mark():
    rows = [row("full", "only", fd_logmel=10.0),
            row("scene-segmentation/fixed-chunks-10s", "only", fd_logmel=50.0)]
    summary = summarize(rows, VARIANTS, [FD])
    cell = summary.cell("scene-segmentation/fixed-chunks-10s", "fd_logmel")
    assert (cell.n, cell.mean, cell.lo, cell.hi) == (1, 50.0, 50.0, 50.0)
    assert cell.diff_mean == cell.diff_lo == cell.diff_hi == 40.0
    assert not cell.marked and not cell.reference_outside
    assert "With one video an interval is the value itself" in render_markdown(summary)


def test_failed_rows_and_missing_values_are_counted_and_left_out():
    rows = study(shift=0.0, n=4)
    rows.append(row("discussion-correction/no-review", "v0", status="failed",
                    error="RuntimeError: the generator ran out of memory"))
    rows.append(row("discussion-correction/no-review", "v1", status="failed",
                    error="ffmpeg: broken pipe", fd_logmel=99.0))
    rows[2]["fd_logmel"] = None  # full on v1: a value the metric could not give
    rows[2]["metric_status"] = {**rows[2]["metric_status"], "fd-logmel": "ValueError: silent"}
    rows[4]["fd_logmel"] = float("nan")  # full on v2
    variants = [*VARIANTS, "discussion-correction/no-review"]
    summary = summarize(rows, variants, [FD, F1])

    full = summary.cell("full", "fd_logmel")
    assert full.n == 2 and full.mean == pytest.approx((20.0 + 35.0) / 2)
    assert "2 of 4 runs without a value" in full.note and "ValueError: silent" in full.note
    fixed = summary.cell("scene-segmentation/fixed-chunks-10s", "fd_logmel")
    assert fixed.n == 4 and fixed.n_paired == 2  # paired only over the videos both have
    removed = next(i for i in summary.variants if i.slug == "discussion-correction/no-review")
    assert removed.runs == 2 and len(removed.failures) == 2
    cell = summary.cell("discussion-correction/no-review", "fd_logmel")
    assert cell.n == 0 and cell.mean is None and "all 2 runs failed" in cell.note  # not 99.0

    md = render_markdown(summary)
    table, notes = md.split("\n\n", 1)
    assert "| discussion-correction/no-review |" in table
    assert table.splitlines()[-1].count("—") == 2  # no successful run: a dash per metric
    assert "(n=2)" in table.splitlines()[2]  # full's FD over 2 of 4 videos
    assert "Failed runs, left out of the means (2)" in notes
    assert "the generator ran out of memory" in notes and "broken pipe" in notes
    assert ("Missing values for fd_logmel: ValueError: silent (1 run); no value (the metric "
            "ran; undefined for this soundtrack) (1 run)") in notes


def test_a_metric_without_weights_is_na_with_its_reason_once():
    summary = summarize(study(shift=2.0), VARIANTS, [FD, PASST])
    md = render_markdown(summary)
    table, notes = md.split("\n\n", 1)
    body = table.splitlines()[2:]
    assert all(line.rstrip(" |").endswith("n/a") for line in body)
    assert md.count(WEIGHTS) == 1
    assert f"n/a for fd_passt: {WEIGHTS} (12 runs)" in notes
    assert summary.cell("full", "fd_passt").note == f"n/a: {WEIGHTS}"


def test_table_md_has_the_full_system_first_units_directions_and_footnotes(tmp_path):
    rows = study(shift=1.0) + [row("discussion-correction/no-review", f"v{i}",
                                   fd_logmel=20.0 + 5.0 * i, sync_lag_s=0.0,
                                   sync_onset_f1=0.6, integrated_lufs=-23.0)
                               for i in range(6)]
    variants = ["scene-segmentation/fixed-chunks-10s", "discussion-correction/no-review",
                "full"]  # plan order; the full system goes first whatever its place
    paths = write_tables(summarize(rows, variants, [FD, LAG, F1, LUFS, PASST]), tmp_path)
    assert set(paths) == {"table_md", "table_csv"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv", "table.md"]
    md = paths["table_md"].read_text(encoding="utf-8")
    lines = md.splitlines()
    assert lines[0] == ("| Variant | Change | fd_logmel (nats²) ↓ | \\|sync_lag_s\\| (s) ↓ | "
                        "sync_onset_f1 (0-1) ↑ | integrated_lufs (LUFS) →-23 | fd_passt ↓ |")
    assert lines[1].count("|") == lines[0].count("|") - lines[0].count("\\|")
    slugs = [ln.split("|")[1].strip() for ln in lines[2:5]]
    assert slugs == ["**full**", "scene-segmentation/fixed-chunks-10s",
                     "discussion-correction/no-review"]
    assert "scene-segmentation → fixed-chunks" in lines[3]
    assert "remove discussion-correction (no-review)" in lines[4]
    assert "95 % bootstrap percentile interval of the mean: 2000 resamples" in md
    assert f"{MARK}: the mean paired difference from the full system" in md
    assert "Videos: 6 (v0, v1, v2, v3, v4, v5)" in md
    assert "Failed runs: none." in md


def test_table_csv_is_tidy_and_parses(tmp_path):
    summary = summarize(study(shift=1.0), VARIANTS, [FD, PASST])
    path = write_tables(summary, tmp_path)["table_csv"]
    with path.open(encoding="utf-8", newline="") as handle:
        records = list(csv.DictReader(handle))
    assert tuple(records[0]) == CSV_FIELDS
    assert [(r["variant"], r["key"]) for r in records] == [
        ("full", "fd_logmel"), ("full", "fd_passt"),
        ("scene-segmentation/fixed-chunks-10s", "fd_logmel"),
        ("scene-segmentation/fixed-chunks-10s", "fd_passt")]
    fixed = records[2]
    assert fixed["marked"] == "true" and fixed["better"] == "false"
    assert fixed["action"] == "REPLACE" and fixed["unit"] == "nats²" and fixed["n"] == "6"
    assert float(fixed["lo"]) < float(fixed["mean"]) < float(fixed["hi"])
    assert float(fixed["diff_lo"]) > 0
    assert records[0]["diff_mean"] == "" and records[0]["marked"] == "false"
    assert records[3]["mean"] == "" and records[3]["note"] == f"n/a: {WEIGHTS}"


def test_rows_read_back_from_results_jsonl_give_the_same_summary(tmp_path):
    rows = study(shift=1.0)
    rows.append(row("full", "v0", fd_logmel=1000.0))  # a rerun's line replaces the first
    results = tmp_path / "results.jsonl"
    for r in rows:
        append_line(results, r)
    read = summarize(read_lines(results), VARIANTS, [FD])
    assert read.cell("full", "fd_logmel").n == 6
    assert read.cell("full", "fd_logmel").mean == pytest.approx((1000.0 + 25 + 30 + 35 + 40
                                                                 + 45) / 6)
    assert read.cells == summarize(rows, VARIANTS, [FD]).cells


def test_columns_come_from_keys_and_mappings_and_bad_settings_are_refused():
    plain = summarize(study(), VARIANTS, ["fd_logmel", {"key": "sync_lag_s", "name": "sync",
                                                        "unit": "s",
                                                        "direction": "abs-lower"}])
    assert [c.key for c in plain.columns] == ["fd_logmel", "sync_lag_s"]
    assert plain.columns[1] == MetricColumn("sync_lag_s", "sync", "s", "abs-lower")
    with pytest.raises(LVASInputError, match="direction"):
        MetricColumn("x", direction="smaller")
    with pytest.raises(LVASInputError, match="n_boot"):
        summarize(study(), VARIANTS, [FD], n_boot=0)
    with pytest.raises(LVASInputError, match="level"):
        summarize(study(), VARIANTS, [FD], level=95)


def test_each_metric_is_drawn_as_a_ratio_or_a_difference_by_its_scale():
    summary = summarize(study(shift=1.0), VARIANTS, [FD, LAG, LUFS, F1])
    assert relative_mode(summary, FD) == "ratio"
    assert relative_mode(summary, F1) == "ratio"
    assert relative_mode(summary, LAG) == "difference"  # a lag near 0
    assert relative_mode(summary, LUFS) == "difference"  # a logarithmic unit
    negative = [row(v, f"v{i}", delta=float(i - 2)) for v in VARIANTS for i in range(4)]
    column = MetricColumn("delta", unit="s")
    assert relative_mode(summarize(negative, VARIANTS, [column]), column) == "difference"


def _png(path: Path) -> np.ndarray:
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    return image


def test_the_chart_renders_one_metric(tmp_path):
    summary = summarize(study(shift=1.0), VARIANTS, [FD])
    out = write_chart(summary, tmp_path / "chart.png")
    assert out == tmp_path / "chart.png"
    image = _png(out)
    assert image[..., :3].std() > 0.05  # something is drawn, not a blank canvas
    assert [p.name for p in tmp_path.iterdir()] == ["chart.png"]  # no temp file left


def test_the_chart_renders_many_metrics_and_variants(tmp_path):
    rows = study(shift=1.0)
    variants = list(VARIANTS)
    for k in range(9):
        slug = f"label-retrieval-with-a-long-component-name/random-label-of-layer-{k}"
        variants.append(slug)
        rows += [row(slug, f"v{i}", fd_logmel=20.0 + 5 * i + k, sync_lag_s=0.01 * k,
                     sync_onset_f1=0.5, integrated_lufs=-22.0) for i in range(6)]
    rows.append(row(variants[-1], "v9", status="failed", error="boom"))
    summary = summarize(rows, variants, [FD, LAG, F1, LUFS, PASST])
    small = _png(write_chart(summarize(rows, variants[:2], [FD]), tmp_path / "one.png"))
    large = _png(write_chart(summary, tmp_path / "many.png"))
    assert large.shape[0] > small.shape[0] and large.shape[1] > small.shape[1]


def test_the_chart_renders_with_only_the_full_system(tmp_path):
    rows = [row("full", "v0", fd_logmel=3.0)]
    _png(write_chart(summarize(rows, ["full"], [FD, PASST]), tmp_path / "c.png"))

