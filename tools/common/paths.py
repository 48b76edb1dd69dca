"""Paths and files of a run: atomic writes, content hashes and output checks."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lvas.tools.common.errors import LVASInputError


def default_cache_dir(folder: str | Path | None = None) -> Path:
    """The cache folder (label index, model replies, scene analyses): ``folder``, expanded,
    else ~/.cache/lvas.

    The run's setting comes from ``Context.index_dir`` (where LVAS_CACHE_DIR is read), so every
    caller passes it here rather than this function looking at the environment.
    """
    value = str(folder).strip() if folder is not None else ""
    return Path(value).expanduser() if value else Path.home() / ".cache" / "lvas"


def content_hash(*parts: Any, length: int = 16) -> str:
    """Stable short hash of JSON-able parts, used to name artifacts by what made them."""
    payload = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()[:length]


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hash of a file's bytes, read in chunks so large files stay out of memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_fingerprint(path: str | Path) -> str:
    """Cheap identity of a file (path, size, mtime) for reusing analysis of the same input."""
    stat = Path(path).stat()
    return content_hash(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


def partial_path(final: str | Path, tag: str = "") -> Path:
    """A fresh hidden name beside ``final`` for work in progress towards it (``tag`` tells
    several apart): the one naming :func:`remove_partials` knows, so what a killed process left
    half-written is swept when the run that goes on has finished."""
    final = Path(final)
    stem = f"{final.stem}.{tag}" if tag else final.stem
    return final.with_name(f".{stem}.{uuid.uuid4().hex[:12]}.part{final.suffix}")


@contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it into place only on success."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    # A fresh name rather than mkstemp: the file is then created with the user's umask.
    tmp = partial_path(final)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


_PARTIAL = re.compile(
    r"^\.(?P<stem>.+)\.(?:[0-9a-f]{12}\.part|windows-[A-Za-z0-9_]+)(?P<suffix>\.[^.]*)?$")
"""Names of work in progress: :func:`partial_path`'s and the windowed renderer's scratch folders."""


def remove_partials(folder: str | Path, stem: str | None = None) -> list[Path]:
    """Delete work in progress a killed process left in ``folder`` (hidden ``.*.part.*`` files
    and ``.*.windows-*`` scratch folders), only those of ``stem`` when given. Call it where no
    other writer can be at work on them (after a stage's renders have all finished)."""
    removed: list[Path] = []
    root = Path(folder)
    if not root.is_dir():
        return removed
    for path in root.iterdir():
        found = _PARTIAL.match(path.name)
        if not found or (stem is not None and found.group("stem") != stem):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def remove_partials_under(folder: str | Path) -> list[Path]:
    """:func:`remove_partials` in ``folder`` and every folder below it: what a run killed
    anywhere (a take, a mix stage, a report, an analysis file) left half-written."""
    root = Path(folder)
    removed = remove_partials(root)
    if root.is_dir():
        for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
            removed += remove_partials_under(sub)
    return removed


def write_json(path: str | Path, data: Any) -> Path:
    """Write JSON atomically, so a reader never sees half a file."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return Path(path)


def relative_to_run(run_dir: str | Path, path: str | Path) -> str:
    """Path as stored in state: relative to the run directory when it lies inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path(run_dir).resolve()))
    except ValueError:
        return str(path)


def check_output_path(output: str | Path, *, video: str | Path, overwrite: bool) -> Path:
    """Refuse outputs that would destroy the input or a user's file, or cannot be written."""
    out = Path(output).expanduser()
    if out.exists() and out.is_dir():
        raise LVASInputError(
            f"Output {out} is a directory; give a file name such as {out / 'out.mp4'}."
        )
    if out.resolve() == Path(video).expanduser().resolve():
        raise LVASInputError(f"Output {out} is the input video; choose another -o.")
    if out.exists() and not overwrite:
        raise LVASInputError(
            f"Output {out} already exists; pass --overwrite to replace it or choose another -o."
        )
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise LVASInputError(
            f"Output folder {parent} does not exist; create it or choose another -o."
        )
    if not can_create_in(parent, like=out.name):
        raise LVASInputError(f"Output folder {parent} is not writable; choose another -o.")
    return out


def can_create_in(folder: str | Path, like: str = "write-check") -> bool:
    """Whether a file can really be created in ``folder``. Permission bits are not enough:
    root passes every access check, yet /proc, read-only mounts and full disks refuse.

    The file tried is named as work in progress towards ``like`` (:func:`partial_path`), so
    one a process killed mid-check leaves behind is swept with that file's other partials
    when the run goes on (the output's, or the run folder's)."""
    name = partial_path(Path(folder) / like)
    try:
        handle = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError:
        return False
    os.close(handle)
    os.unlink(name)
    return True
