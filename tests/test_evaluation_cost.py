"""The cost metric reads a run directory's own records and divides by the video's minutes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lvas.tools.evaluation.cost import run_cost


def _run_dir(tmp: Path, usage: bool = True) -> Path:
    run = tmp / "out.lvas"
    run.mkdir()
    (run / "plan.json").write_text(json.dumps(
        {"lvas_plan_version": 1, "video_info": {"duration": 90.0}}), encoding="utf-8")
    if usage:
        (run / "llm_usage.json").write_text(json.dumps({"summary": {"roles": {}, "total": {
            "calls": 6, "cached": 1, "tokens_in": 1200, "tokens_out": 300, "latency_s": 4.0}},
            "calls": []}), encoding="utf-8")
    return run


def test_cost_per_minute_from_the_run_records(tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"seconds": 45.0, "timings": {"mixer": 1.0}}),
                       encoding="utf-8")
    report = run_cost(_run_dir(tmp_path), summary)
    assert report.video_minutes == pytest.approx(1.5)
    assert report.per_minute["model_calls"] == pytest.approx(4.0)
    assert report.per_minute["tokens"] == pytest.approx(1000.0)
    assert report.per_minute["wall_seconds"] == pytest.approx(30.0)
    assert report.gpu_seconds is None and report.per_minute["gpu_seconds"] is None
    assert any("GPU" in note for note in report.missing)


def test_cost_without_usage_or_summary_says_what_is_missing(tmp_path: Path) -> None:
    report = run_cost(_run_dir(tmp_path, usage=False), {"gpu_seconds": 12.0})
    assert report.model_calls == 0 and report.wall_seconds is None
    assert report.per_minute["gpu_seconds"] == pytest.approx(8.0)
    assert len(report.missing) == 2
