"""Batch progress: counts, throughput, time left from the parallelism observed, and the
summary at the end. A settable clock stands in for the wall clock, so figures are exact."""

from __future__ import annotations

import json

import pytest

from lvas.tools.batch.progress import BatchProgress, Throughput, format_duration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _done(key: str, **fields: object) -> dict:
    return {"key": key, "video": f"/lib/{key}.mp4", "status": "done", **fields}


def _failed(key: str, error: str, **fields: object) -> dict:
    return {"key": key, "video": f"/lib/{key}.mp4", "status": "failed", "error": error, **fields}


def test_counts_follow_starts_and_ends() -> None:
    clock = Clock()
    progress = BatchProgress(total=6, skipped=1, clock=clock)
    assert (progress.done, progress.failed, progress.in_flight, progress.remaining) == (0, 0, 0, 5)
    for key in "abc":
        progress.started(key)
    clock.now += 10
    progress.finished(_done("a", duration=60.0))
    progress.finished(_failed("b", "corrupt"))
    assert (progress.done, progress.failed, progress.in_flight, progress.remaining) == (1, 1, 1, 3)
    with pytest.raises(ValueError, match="done or failed"):
        progress.finished({"key": "c", "status": "started"})


def test_throughput_counts_dubbed_videos_over_wall_time() -> None:
    clock = Clock()
    progress = BatchProgress(total=3, clock=clock)
    assert progress.throughput() == Throughput(0.0, 0.0)
    progress.started("a")
    progress.started("b")
    progress.started("c")
    clock.now += 600.0
    progress.finished(_done("a", duration=60.0))
    progress.finished(_done("b", duration=120.0))
    progress.finished(_failed("c", "boom", duration=999.0))  # a failure dubs nothing
    speed = progress.throughput()
    assert speed.videos_per_hour == pytest.approx(12.0)  # 2 videos in 10 minutes
    assert speed.video_minutes_per_minute == pytest.approx(0.3)  # 3 video-minutes in 10


def test_eta_for_one_worker() -> None:
    clock = Clock()
    progress = BatchProgress(total=3, clock=clock)
    progress.started("a")
    assert progress.eta_seconds() is None  # nothing finished: no estimate yet
    clock.now += 50
    progress.finished(_done("a"))
    progress.started("b")
    assert progress.eta_seconds() == pytest.approx(100.0)  # two more of 50 s, one at a time
    clock.now += 20
    assert progress.eta_seconds() == pytest.approx(80.0)  # b is 20 s along


def test_eta_for_two_workers_uses_the_parallelism_observed() -> None:
    clock = Clock()
    progress = BatchProgress(total=4, clock=clock)
    progress.started("a")
    progress.started("b")
    clock.now += 100
    progress.finished(_done("a"))
    progress.started("c")
    # Two in progress on average: b is due now, c and d (queued) take 100 s side by side.
    assert progress.eta_seconds() == pytest.approx(100.0)
    clock.now += 5
    progress.finished(_done("b"))
    progress.started("d")
    progress.finished(_done("c"))
    progress.finished(_done("d"))
    assert progress.remaining == 0 and progress.eta_seconds() == 0.0


def test_a_record_finished_without_a_start_uses_its_own_seconds() -> None:
    clock = Clock()
    progress = BatchProgress(total=3, clock=clock)
    clock.now += 30
    progress.finished(_done("a", seconds=30.0))
    assert progress.eta_seconds() == pytest.approx(60.0)


def test_line() -> None:
    clock = Clock()
    progress = BatchProgress(total=23, skipped=3, clock=clock)
    progress.started("x")
    clock.now += 2.5
    assert progress.line() == "[   2.5 s] 0/20 done, 0 failed, 1 in flight, 3 skipped"
    for key in "abcdef":
        progress.started(key)
    clock.now += 1800 - 2.5
    for key in "abcde":
        progress.finished(_done(key))
    progress.finished(_failed("f", "no"))
    # Seven ran side by side for ~30 min: the 13 queued take about two more such rounds.
    assert progress.line() == (
        "[1800.0 s] 5/20 done, 1 failed, 1 in flight, 3 skipped, 10.0 videos/h, ETA 56 min"
    )


def test_format_duration() -> None:
    assert [format_duration(s) for s in (-1, 0, 40.4, 89, 91, 185, 5369, 5400, 7500)] == [
        "0 s",
        "0 s",
        "40 s",
        "89 s",
        "2 min",
        "3 min",
        "89 min",
        "1 h 30 min",
        "2 h 05 min",
    ]


def _finished_batch() -> tuple[BatchProgress, list[dict]]:
    clock = Clock()
    progress = BatchProgress(total=4, skipped=1, clock=clock)
    for key in ("intro", "storm", "broken"):
        progress.started(key)
    clock.now += 120
    records = [
        _done("intro", seconds=40.04, duration=30.0, sounds=7, warnings=["short picture"]),
        _done("storm", seconds=118.5, duration=90.0, sounds=12, warnings=[]),
        _failed(
            "broken",
            "Traceback (most recent call last):\n  File x\nValueError: "
            + "a very long explanation of what went wrong " * 3,
            seconds=1.25,
        ),
        {**_failed("old", "probe: not a video"), "video": "/lib/sub/old.mp4"},  # skipped
    ]
    for record in records[:3]:
        progress.finished(record)
    return progress, records


def test_summary_table() -> None:
    progress, records = _finished_batch()
    table = progress.summary_table(records)
    lines = table.splitlines()
    header, rule = lines[0], lines[1]
    assert header.split() == ["video", "status", "seconds", "sounds", "warnings", "error"]
    assert set(rule.replace(" ", "")) == {"-"}
    rows = lines[2:6]
    assert [row.split()[:2] for row in rows] == [
        ["intro.mp4", "done"],
        ["storm.mp4", "done"],
        ["broken.mp4", "failed"],
        ["sub/old.mp4", "failed"],
    ]
    assert "(earlier)" in rows[3] and "(earlier)" not in "".join(rows[:3])
    # Fixed width: every column starts where its header does; numbers are right-aligned.
    status_at, error_at = header.index("status"), header.index("error")
    seconds_end = header.index("seconds") + len("seconds")
    for row in rows:
        assert row[status_at - 2 : status_at] == "  " and row[status_at] != " "
    assert rows[0][:seconds_end].endswith("40.0") and rows[1][:seconds_end].endswith("118.5")
    assert rows[0].split()[3:5] == ["7", "1"] and rows[1].split()[3:5] == ["12", "0"]
    assert rows[2][error_at:] == "Traceback (most recent call last):"
    assert rows[3][error_at:] == "probe: not a video"
    assert lines[7] == (
        "4 videos: 2 done, 2 failed (1 from an earlier run); 2 min, "
        "60.0 videos/h, 1.00 video-minutes per minute"
    )
    failures = table.split("Failed (2):\n", 1)[1]
    assert failures.startswith(
        "  broken.mp4:\n    Traceback (most recent call last):\n"
        "      File x\n    ValueError: a very long explanation"
    )
    assert records[2]["error"].splitlines()[-1].strip() in failures  # the whole error
    assert "  sub/old.mp4:\n    probe: not a video" in failures


def test_a_long_first_error_line_is_clipped_in_the_table_only() -> None:
    clock = Clock()
    progress = BatchProgress(total=1, clock=clock)
    error = "E" * 200
    table = progress.summary_table([_failed("x", error)])
    row = table.splitlines()[2]
    assert row.endswith("E…") and len(row) < 120
    assert f"    {error}" in table.splitlines()


def test_summary_for_json() -> None:
    progress, records = _finished_batch()
    summary = json.loads(json.dumps(progress.summary(records)))
    assert summary["counts"] == {
        "videos": 4,
        "done": 2,
        "failed": 2,
        "started": 0,
        "skipped": 1,
        "finished_now": 3,
    }
    assert summary["elapsed_seconds"] == 120.0
    assert summary["throughput"] == {"videos_per_hour": 60.0, "video_minutes_per_minute": 1.0}
    assert summary["videos"] == records
