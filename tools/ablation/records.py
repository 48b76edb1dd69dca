"""The files of an ablation study's folder, written so a kill loses at most the pair in flight.

``study.json`` fixes what the folder holds (the mapped variants, the videos, the seed, the
metrics); a later run into the same folder resumes only when it is the same study, and refuses
(exit 2) otherwise, so nothing a user made is overwritten without ``overwrite``. ``runs.jsonl``
records each (variant, video) pair dubbed, ``results.jsonl`` each pair scored: one JSON object
per line, appended and flushed to disk at once; a line cut short by a kill is ignored on reading.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from filelock import FileLock

from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.paths import write_json

STUDY_FILE = "study.json"
RUNS_FILE = "runs.jsonl"
RESULTS_FILE = "results.jsonl"
_OWN_FILES = (STUDY_FILE, RUNS_FILE, RESULTS_FILE, "plan.md", "table.md", "table.csv",
              "chart.png", "outputs.json", "pooled.csv", "runs", "shared", "features")
_lock = threading.Lock()


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The complete JSON lines of ``path`` (none when it does not exist)."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:  # the last line of a killed run
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def append_line(path: Path, row: dict[str, Any]) -> None:
    """Append one JSON line, durably; safe from threads and processes sharing the folder."""
    data = json.dumps(row, ensure_ascii=False, default=_plain) + "\n"
    with _lock, FileLock(str(path) + ".lock"):
        with path.open("a", encoding="utf-8") as handle:
            if handle.tell() and not _ends_with_newline(path):
                handle.write("\n")  # close a line a kill cut short
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def latest_by_pair(rows: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The last line for each (variant, video): a rerun's line replaces an earlier one."""
    return {(str(r.get("variant")), str(r.get("video"))): r for r in rows}


def open_study_folder(folder: Path, study: dict[str, Any], *, overwrite: bool) -> bool:
    """Make ``folder`` hold ``study``; True when it already did (a resume).

    A folder holding another study, or files that are not a study's, is refused unless
    ``overwrite`` is set, in which case the previous study's own files are removed first."""
    folder = folder.expanduser()
    if folder.exists() and not folder.is_dir():
        raise LVASInputError(f"Output {folder} is a file; give a folder for the study (-o).")
    existing = folder / STUDY_FILE
    if existing.is_file():
        try:
            before = json.loads(existing.read_text(encoding="utf-8"))
        except ValueError:
            before = None
        if before == study:
            return True
        if not overwrite:
            raise LVASInputError(
                f"{folder} holds another ablation study (a different plan, videos, seed or "
                "settings); choose another -o, or pass --overwrite to replace it.")
    elif folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise LVASInputError(f"{folder} exists and is not an ablation study folder; choose an "
                             "empty or new folder for -o (or pass --overwrite).")
    if folder.is_dir() and overwrite:
        for name in _OWN_FILES:
            target = folder / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    write_json(existing, study)
    return False
