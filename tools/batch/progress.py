"""How a batch is going: counts, throughput, time left, and the summary at the end.

:class:`BatchProgress` is told when a video starts and what its ledger record says when it ends
(``"duration"``: the video's seconds, ``"seconds"``: the wall seconds it took, ``"sounds"``,
``"warnings"``, ``"error"``). Time left follows Little's law: videos still to finish times the
mean wall time per finished video, divided by the parallelism observed so far (the mean number
of videos in progress), so it holds for one worker or a cluster without being told which.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

_VIDEO_COLUMN = 48
_ERROR_COLUMN = 60


class Throughput(NamedTuple):
    """Finished videos per wall hour, and minutes of video dubbed per wall minute."""

    videos_per_hour: float
    video_minutes_per_minute: float


class BatchProgress:
    """Running counts of one batch invocation. ``total`` counts every item of the batch,
    ``skipped`` those the ledger says need no work this time."""

    def __init__(
        self, total: int, skipped: int = 0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.total = total
        self.skipped = skipped
        self._clock = clock
        self._created = clock()
        self._first_start: float | None = None
        self._in_flight: dict[str, float] = {}
        self._walls: list[float] = []  # wall seconds of each finished video, as seen here
        self._done = 0
        self._failed = 0
        self._video_seconds = 0.0
        self._finished: set[str] = set()

    def started(self, key: str) -> None:
        now = self._clock()
        if self._first_start is None:
            self._first_start = now
        self._in_flight[key] = now

    def finished(self, record: Mapping[str, Any]) -> None:
        """Count a ``done`` or ``failed`` ledger record."""
        status = record.get("status")
        if status not in ("done", "failed"):
            raise ValueError(f"a finished video's record has status done or failed, not {status!r}")
        key = str(record.get("key"))
        now = self._clock()
        began = self._in_flight.pop(key, None)
        wall = now - began if began is not None else float(record.get("seconds") or 0.0)
        if self._first_start is None:
            self._first_start = now - wall
        self._walls.append(max(wall, 0.0))
        self._finished.add(key)
        if status == "done":
            self._done += 1
            self._video_seconds += float(record.get("duration") or 0.0)
        else:
            self._failed += 1

    @property
    def done(self) -> int:
        return self._done

    @property
    def failed(self) -> int:
        return self._failed

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def remaining(self) -> int:
        """Videos of this invocation not finished yet, those in flight included."""
        return max(self.total - self.skipped - self._done - self._failed, 0)

    def elapsed(self) -> float:
        """Wall seconds since the batch began (this object was made)."""
        return max(self._clock() - self._created, 0.0)

    def throughput(self) -> Throughput:
        """Dubbed (done) videos over the wall time so far."""
        elapsed = self.elapsed()
        if elapsed <= 0:
            return Throughput(0.0, 0.0)
        return Throughput(self._done * 3600.0 / elapsed, self._video_seconds / elapsed)

    def eta_seconds(self) -> float | None:
        """Seconds until every video has finished; None until one has."""
        if not self._walls:
            return None
        if self.remaining == 0:
            return 0.0
        now = self._clock()
        mean = sum(self._walls) / len(self._walls)
        ages = [now - began for began in self._in_flight.values()]
        start = self._first_start if self._first_start is not None else self._created
        span = now - start
        busy = sum(self._walls) + sum(ages)  # video-seconds in progress since the first start
        parallelism = max(1.0, busy / span if span > 0 else float(len(ages)))
        queued = max(self.remaining - len(ages), 0)
        work = queued * mean + sum(max(mean - age, 0.0) for age in ages)
        return work / parallelism

    def line(self) -> str:
        """One terminal line: ``[  12.3 s] 5/20 done, 1 failed, 2 in flight, 14.2 videos/h,
        ETA 3 min`` (skipped videos are named, and not counted in the 20)."""
        parts = [
            f"[{self.elapsed():6.1f} s] {self._done}/{self.total - self.skipped} done",
            f"{self._failed} failed",
            f"{self.in_flight} in flight",
        ]
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        if self._done:
            parts.append(f"{self.throughput().videos_per_hour:.1f} videos/h")
        eta = self.eta_seconds()
        if eta is not None and self.remaining:
            parts.append(f"ETA {format_duration(eta)}")
        return ", ".join(parts)

    def summary_table(self, records: Sequence[Mapping[str, Any]]) -> str:
        """A fixed-width table of ``records`` (one per video: video, status, seconds, sounds,
        warnings, the error's first line), a totals line, then each failure's whole error.
        Records this invocation did not finish are marked ``(earlier)``."""
        names = _video_names([str(r.get("video", "")) for r in records])
        rows = [("video", "status", "seconds", "sounds", "warnings", "error")]
        for record, name in zip(records, names, strict=True):
            status = str(record.get("status", "?"))
            if str(record.get("key")) not in self._finished and status in ("done", "failed"):
                status += " (earlier)"
            first = str(record.get("error") or "").strip().splitlines()[:1]
            rows.append(
                (
                    _clip_left(name, _VIDEO_COLUMN),
                    status,
                    _number(record.get("seconds")),
                    _count(record.get("sounds")),
                    _count(record.get("warnings")),
                    _clip(first[0], _ERROR_COLUMN) if first else "",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        numeric = {2, 3, 4}
        lines = [
            "  ".join(
                cell.rjust(w) if i in numeric else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
            for row in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.append("")
        lines.append(self._totals(records))
        failures = [
            (name, r) for name, r in zip(names, records, strict=True) if r.get("status") == "failed"
        ]
        if failures:
            lines += ["", f"Failed ({len(failures)}):"]
            for name, record in failures:
                error = str(record.get("error") or "no error recorded").strip()
                lines.append(f"  {name}:")
                lines += [f"    {text}" for text in error.splitlines()]
        return "\n".join(lines)

    def summary(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The end of the batch for ``--json``: counts, throughput and every video's record."""
        counts = {
            status: sum(1 for r in records if r.get("status") == status)
            for status in ("done", "failed", "started")
        }
        speed = self.throughput()
        return {
            "counts": {
                "videos": len(records),
                **counts,
                "skipped": self.skipped,
                "finished_now": len(self._finished),
            },
            "elapsed_seconds": round(self.elapsed(), 3),
            "throughput": {
                "videos_per_hour": round(speed.videos_per_hour, 3),
                "video_minutes_per_minute": round(speed.video_minutes_per_minute, 3),
            },
            "videos": [dict(record) for record in records],
        }

    def _totals(self, records: Sequence[Mapping[str, Any]]) -> str:
        done = sum(1 for r in records if r.get("status") == "done")
        failed = sum(1 for r in records if r.get("status") == "failed")
        earlier = sum(
            1
            for r in records
            if str(r.get("key")) not in self._finished and r.get("status") in ("done", "failed")
        )
        speed = self.throughput()
        text = f"{len(records)} videos: {done} done, {failed} failed"
        if earlier:
            text += f" ({earlier} from an earlier run)"
        return (
            f"{text}; {format_duration(self.elapsed())}, "
            f"{speed.videos_per_hour:.1f} videos/h, "
            f"{speed.video_minutes_per_minute:.2f} video-minutes per minute"
        )


def format_duration(seconds: float) -> str:
    """``40 s``, ``3 min``, ``2 h 05 min``: as precise as a person reading a progress line
    needs."""
    seconds = max(seconds, 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _video_names(videos: Sequence[str]) -> list[str]:
    """Each video's path relative to the folder they all share (the name when alone)."""
    if not videos:
        return []
    try:
        root = os.path.commonpath([os.path.dirname(v) for v in videos])
    except ValueError:  # relative and absolute paths mixed, or several drives
        return list(videos)
    return [os.path.relpath(v, root) if root else v for v in videos]


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _clip_left(text: str, width: int) -> str:
    """Keep a path's end (the file name) when it must be shortened."""
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def _number(value: Any) -> str:
    return f"{float(value):.1f}" if isinstance(value, int | float) else "-"


def _count(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple | dict):
        return str(len(value))
    return "-"
