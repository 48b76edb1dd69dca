"""The batch ledger: one durable JSON line per event, the last record of each video wins, a
line torn by a kill is ignored and cut off, and a rerun knows what is left to do."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lvas.graph.batch_manifest import BatchItem
from lvas.tools.batch.ledger import Ledger
from lvas.tools.common.errors import LVASInputError


def _item(tmp_path: Path, name: str, prompt: str | None = None) -> BatchItem:
    return BatchItem(
        video=str(tmp_path / "in" / f"{name}.mp4"),
        output=str(tmp_path / "out" / f"{name}.dubbed.mp4"),
        prompt=prompt,
    )


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_record_appends_one_line_per_event(tmp_path: Path) -> None:
    path = tmp_path / "out" / "batch.jsonl"  # its folder does not exist yet
    ledger = Ledger(path)
    a, b = _item(tmp_path, "a"), _item(tmp_path, "b", prompt="rain")
    before = datetime.now(UTC)

    first = ledger.record(a, "started")
    second = ledger.record(b, "started")
    done = ledger.record(
        a,
        "done",
        seconds=12.5,
        duration=30.0,
        warnings=["short picture"],
        sounds=4,
        output="/elsewhere/a.mkv",
    )
    failed = ledger.record(b, "failed", error="Boom\n  in node mixer")

    lines = path.read_text().split("\n")
    assert lines[-1] == "" and len(lines) == 5  # four whole lines
    assert _records(path) == [first, second, done, failed]
    assert first == {
        "key": a.key(),
        "video": a.video,
        "output": a.output,
        "status": "started",
        "time": first["time"],
    }
    stamp = datetime.fromisoformat(first["time"])
    assert stamp.tzinfo is not None and stamp.utcoffset().total_seconds() == 0
    assert before.replace(microsecond=0) <= stamp <= datetime.now(UTC)
    assert done["output"] == "/elsewhere/a.mkv"  # what the run wrote, when it says so
    assert (done["seconds"], done["warnings"], done["sounds"]) == (12.5, ["short picture"], 4)

    latest = Ledger(path).latest()  # a new reader, as a rerun is
    assert set(latest) == {a.key(), b.key()}
    assert latest[a.key()]["status"] == "done"
    assert latest[b.key()]["error"] == "Boom\n  in node mixer"


def test_record_refuses_what_would_corrupt_the_ledger(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "batch.jsonl")
    with pytest.raises(ValueError, match="unknown ledger status"):
        ledger.record(_item(tmp_path, "a"), "finished")
    with pytest.raises(ValueError, match="key"):
        ledger.record(_item(tmp_path, "a"), "done", key="x")
    assert not (tmp_path / "batch.jsonl").exists()


def test_no_ledger_yet_is_empty(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "batch.jsonl")
    items = [_item(tmp_path, "a"), _item(tmp_path, "b")]
    assert ledger.latest() == {}
    assert ledger.pending(items, retry_failed=False) == (items, [])


def test_a_torn_last_line_is_ignored_then_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    a, b, c = (_item(tmp_path, n) for n in "abc")
    writer = Ledger(path)
    writer.record(a, "done", seconds=1.0)
    writer.record(b, "started")
    whole = path.read_bytes()
    torn = json.dumps({"key": b.key(), "status": "done", "note": "é" * 20}).encode()
    path.write_bytes(whole + torn[: len(torn) // 2 + 1])  # a kill in the middle of a write

    rerun = Ledger(path)
    assert {k: r["status"] for k, r in rerun.latest().items()} == {
        a.key(): "done",
        b.key(): "started",
    }
    rerun.record(c, "started")  # the first record of the rerun mends the tail first
    assert path.read_bytes().startswith(whole)
    assert [r["key"] for r in _records(path)] == [a.key(), b.key(), c.key()]
    rerun.record(b, "done")
    assert {k: r["status"] for k, r in Ledger(path).latest().items()} == {
        a.key(): "done",
        b.key(): "done",
        c.key(): "started",
    }


def test_a_whole_last_record_without_its_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    a, b = _item(tmp_path, "a"), _item(tmp_path, "b")
    Ledger(path).record(a, "done")
    path.write_bytes(path.read_bytes().rstrip(b"\n"))  # cut just before the newline

    ledger = Ledger(path)
    assert ledger.latest()[a.key()]["status"] == "done"
    ledger.record(b, "failed", error="x")
    assert [(r["key"], r["status"]) for r in _records(path)] == [
        (a.key(), "done"),
        (b.key(), "failed"),
    ]


def test_a_damaged_last_line_with_a_newline_is_also_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    a, b = _item(tmp_path, "a"), _item(tmp_path, "b")
    Ledger(path).record(a, "done")
    with open(path, "ab") as handle:
        handle.write(b'{"key": "0123", "stat\n\n')
    ledger = Ledger(path)
    assert list(ledger.latest()) == [a.key()]
    ledger.record(b, "done")
    assert [r["key"] for r in _records(path)] == [a.key(), b.key()]


def test_a_bad_line_before_the_end_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    a, b = _item(tmp_path, "a"), _item(tmp_path, "b")
    ledger = Ledger(path)
    ledger.record(a, "done")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "", "oops, edited by hand", lines[0]]) + "\n")
    with pytest.raises(LVASInputError) as exc:
        Ledger(path).latest()
    message = str(exc.value)
    assert f"{path} line 3" in message and "oops" in message and "delete that line" in message

    # A line that is JSON but not a record counts as damaged too.
    path.write_text(json.dumps({"key": a.key(), "status": "paused"}) + "\n" + lines[0] + "\n")
    with pytest.raises(LVASInputError, match="line 1"):
        Ledger(path).pending([a, b], retry_failed=False)


def test_pending_says_what_a_rerun_must_do(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    never, started, failed, done, gone, done_again = (
        _item(tmp_path, n) for n in ("never", "started", "failed", "done", "gone", "again")
    )
    ledger = Ledger(tmp_path / "out" / "batch.jsonl")
    for item in (started, failed, done, gone, done_again):
        ledger.record(item, "started")
    ledger.record(failed, "failed", error="corrupt")
    for item in (done, gone):
        ledger.record(item, "done")
        Path(item.output).write_bytes(b"video")
    Path(gone.output).unlink()  # someone deleted the output since
    ledger.record(done_again, "done")
    Path(done_again.output).write_bytes(b"video")
    ledger.record(done_again, "started")  # an earlier done, then a newer run began again

    items = [never, started, failed, done, gone, done_again]
    to_run, skipped = ledger.pending(items, retry_failed=False)
    assert to_run == [never, started, gone, done_again]
    assert [(r["key"], r["status"]) for r in skipped] == [
        (failed.key(), "failed"),
        (done.key(), "done"),
    ]
    assert skipped[0]["error"] == "corrupt"

    to_run, skipped = ledger.pending(items, retry_failed=True)
    assert to_run == [never, started, failed, gone, done_again]
    assert [r["key"] for r in skipped] == [done.key()]


def test_records_are_kept_per_item_so_batches_can_share_a_folder(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    ledger = Ledger(tmp_path / "out" / "batch.jsonl")
    other = _item(tmp_path, "other")
    ledger.record(other, "done")
    Path(other.output).write_bytes(b"video")
    ours = [_item(tmp_path, "a"), _item(tmp_path, "a", prompt="wind")]  # a changed prompt
    assert ledger.pending(ours, retry_failed=False) == (ours, [])
    ledger.record(ours[0], "done")
    Path(ours[0].output).write_bytes(b"video")
    # The same output with another prompt is new work: the key covers the prompt.
    assert ledger.pending(ours, retry_failed=False)[0] == [ours[1]]


_WRITER = """
import resource, signal, sys
from lvas.tools.batch.ledger import Ledger
from lvas.graph.batch_manifest import BatchItem
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it; the kernel's default kills
ledger = Ledger(sys.argv[1])
for n in range(1, 100):
    item = BatchItem(video=f"/in/{n}.mp4", output=f"/out/{n}.dubbed.mp4")
    ledger.record(item, "done", payload="x" * 100_000)
"""


def test_a_writer_killed_inside_a_write_leaves_a_ledger_the_next_run_can_use(
    tmp_path: Path,
) -> None:
    """The kernel stops the writer part-way through its fourth record (the file-size limit, as
    a full disk would) and kills it with SIGXFSZ: a real torn line."""
    path = tmp_path / "batch.jsonl"
    limit = 350_000  # three and a half records of ~100 kB
    child = subprocess.run(
        [sys.executable, "-c", _WRITER, str(path), str(limit)], capture_output=True, check=False
    )
    assert child.returncode == -signal.SIGXFSZ, child.stderr.decode()[-2000:]
    data = path.read_bytes()
    assert len(data) == limit and data.count(b"\n") == 3 and not data.endswith(b"\n")

    ledger = Ledger(path)
    survivors = ledger.latest()
    assert len(survivors) == 3
    extra = BatchItem(video="/in/extra.mp4", output="/out/extra.dubbed.mp4")
    ledger.record(extra, "started")
    records = _records(path)  # every line parses: nothing torn is left in the middle
    assert [r["key"] for r in records] == [*survivors, extra.key()]
    assert [r["video"] for r in records[:3]] == ["/in/1.mp4", "/in/2.mp4", "/in/3.mp4"]
