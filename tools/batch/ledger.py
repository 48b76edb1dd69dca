"""The batch's ledger, ``OUTDIR/batch.jsonl``: what became of every video, kept across runs.

One JSON object per line, appended and never rewritten: a video's records say it ``started``,
then ``done`` (output, timings, warnings, model usage) or ``failed`` (its error). Each record is
one ``write`` followed by ``fsync``, so a crash or a kill loses at most the line being written,
and :meth:`Ledger.latest` ignores such a torn last line (the next record first cuts it off).
Records are keyed by :meth:`BatchItem.key`, so a rerun of the same command skips what is done,
and ledgers of different batches in one folder do not disturb each other.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from lvas.tools.common.errors import LVASInputError


class BatchItem(Protocol):
    """What the ledger needs of a batch's video (``lvas.graph.batch_manifest.BatchItem``)."""

    @property
    def video(self) -> str: ...

    @property
    def output(self) -> str: ...

    def key(self) -> str: ...


Item = TypeVar("Item", bound=BatchItem)

LEDGER_NAME = "batch.jsonl"
STATUSES = ("started", "done", "failed")


class Ledger:
    """Append-only JSON Lines record of a batch (usually ``OUTDIR/batch.jsonl``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._tail_checked = False

    def record(self, item: BatchItem, status: str, **fields: Any) -> dict[str, Any]:
        """Append one record for ``item`` (key, video, output, status, UTC time, ``fields``)
        and make it durable before returning it."""
        if status not in STATUSES:
            raise ValueError(f"unknown ledger status {status!r}; one of {', '.join(STATUSES)}")
        record: dict[str, Any] = {
            "key": item.key(),
            "video": item.video,
            "output": item.output,
            "status": status,
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        clash = sorted(set(fields) & {"key", "status"})
        if clash:  # what the ledger's own reading depends on
            raise ValueError(f"ledger fields {clash} are set by the ledger itself")
        record.update(fields)  # e.g. the output the run actually wrote
        line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode()
        if not self._tail_checked:
            line = self._mend_tail() + line
            self._tail_checked = True
        created = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            written = os.write(fd, line)  # one write: records never interleave
            while written < len(line):  # a short write (signals, a full disk): finish the line
                written += os.write(fd, line[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:  # the new name itself must survive a crash too
            _fsync_folder(self.path.parent)
        return record

    def latest(self) -> dict[str, dict[str, Any]]:
        """The last record of every key. A torn or unparsable last line (a kill mid-write) is
        ignored; a bad line before it raises LVASInputError naming it."""
        latest: dict[str, dict[str, Any]] = {}
        lines = self._lines()
        for number, text in lines:
            record = _parse(text)
            if record is None:
                if number == lines[-1][0]:
                    break
                raise LVASInputError(
                    f"{self.path} line {number}: not a ledger record ({text[:80]!r}). The "
                    "file was edited or damaged: fix or delete that line (its video is then "
                    "dubbed again), or give the batch a new output folder."
                )
            latest[record["key"]] = record
        return latest

    def pending(
        self, items: Iterable[Item], *, retry_failed: bool
    ) -> tuple[list[Item], list[dict[str, Any]]]:
        """Split ``items`` into those still to run (never recorded, ``started`` without an end,
        ``failed`` when ``retry_failed``, ``done`` whose output is gone) and the latest records
        of those skipped."""
        latest = self.latest()
        to_run: list[Item] = []
        skipped: list[dict[str, Any]] = []
        for item in items:
            record = latest.get(item.key())
            status = record["status"] if record else None
            if record is not None and (
                (status == "done" and Path(item.output).is_file())
                or (status == "failed" and not retry_failed)
            ):
                skipped.append(record)
            else:
                to_run.append(item)
        return to_run, skipped

    def _lines(self) -> list[tuple[int, str]]:
        """Non-blank lines with their numbers (1-based); none when there is no ledger yet."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        text = data.decode("utf-8", errors="replace")
        return [(n, line) for n, line in enumerate(text.split("\n"), 1) if line.strip()]

    def _mend_tail(self) -> bytes:
        """Before this ledger's first record: cut off a torn last line, which would otherwise
        sit in the middle of the file, or end a whole one that lost only its newline. Returns
        what must precede the new record."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return b""
        if size == 0:
            return b""
        data = self.path.read_bytes()
        if data.endswith(b"\n"):
            start = data.rstrip(b"\n").rfind(b"\n") + 1
            if _parse(data[start:].decode("utf-8", errors="replace")) is not None:
                return b""
        else:
            start = data.rfind(b"\n") + 1
            if _parse(data[start:].decode("utf-8", errors="replace")) is not None:
                return b"\n"
        os.truncate(self.path, start)
        return b""


def _parse(text: str) -> dict[str, Any] | None:
    """A ledger record, or None for a line that is not one."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        return None
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("key"), str)
        or record.get("status") not in STATUSES
    ):
        return None
    return record


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform whose folders cannot be opened (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
