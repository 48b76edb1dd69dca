"""What to score: one file, a folder of files, or a manifest, each item with its reference.

A manifest is CSV (a header row) or JSON Lines (one object per line), with ``video``
(required: a dubbed video or an audio file), ``reference`` (optional: audio, or a video whose
own audio track is the reference, as the field's benchmarks use the input video's original
audio), ``category`` and ``text`` (optional: what the sound should be, for CLAP). Relative
paths are taken from the manifest's folder. ``--reference DIR`` pairs each item with the file
of the same stem in DIR; a stem with dotted parts falls back to shorter ones
(``clip.dubbed.mp4`` pairs with ``clip.wav`` or ``clip.mp4``).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from lvas.tools.common.errors import LVASInputError
from lvas.tools.evaluation.media import AUDIO_SUFFIXES, MEDIA_SUFFIXES

MANIFEST_SUFFIXES = (".csv", ".jsonl", ".ndjson")
MANIFEST_COLUMNS = ("video", "reference", "category", "text")


@dataclass(frozen=True)
class EvalItem:
    """One file to score. ``id`` is unique within a set (the file's name, numbered on clashes);
    ``run_dir`` is the dub's run directory when it is not beside the file (found there
    otherwise)."""

    id: str
    video: Path
    reference: Path | None = None
    category: str | None = None
    text: str | None = None
    run_dir: Path | None = None


def is_manifest(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in MANIFEST_SUFFIXES


def media_in_folder(folder: str | os.PathLike[str]) -> list[Path]:
    """The video and audio files directly inside ``folder``, sorted by name (hidden files and
    unfinished ``.part`` files skipped)."""
    root = Path(folder)
    return sorted(p for p in root.iterdir()
                  if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES
                  and not p.name.startswith(".") and ".part" not in p.suffixes)


def _cell(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _path(value: str, base: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _rows_of_csv(path: Path) -> Iterable[tuple[int, dict[str, object]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = [str(f or "").strip().lower() for f in (reader.fieldnames or [])]
        if "video" not in fields:
            raise LVASInputError(
                f"Manifest {path} has no 'video' column; its first line must name the columns "
                f"({', '.join(MANIFEST_COLUMNS)}; only video is required).")
        for row in reader:
            yield reader.line_num, {str(k or "").strip().lower(): v for k, v in row.items()}


def _rows_of_jsonl(path: Path) -> Iterable[tuple[int, dict[str, object]]]:
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LVASInputError(f"Manifest {path}, line {number}: not JSON ({exc.msg}); "
                                     "write one object per line, e.g. "
                                     '{"video": "clip.mp4", "reference": "clip.wav"}.') from None
            if not isinstance(row, dict):
                raise LVASInputError(f"Manifest {path}, line {number}: expected an object with "
                                     "a 'video' key.")
            yield number, {str(k).strip().lower(): v for k, v in row.items()}


def read_manifest(path: str | os.PathLike[str]) -> list[EvalItem]:
    """The items of a CSV or JSON Lines manifest (paths checked later, when probed)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise LVASInputError(f"Manifest {p} does not exist or is not a file.")
    base = p.parent
    rows = _rows_of_csv(p) if p.suffix.lower() == ".csv" else _rows_of_jsonl(p)
    entries: list[tuple[Path, Path | None, str | None, str | None]] = []
    try:
        for number, row in rows:
            if not any(_cell(v) for v in row.values()):
                continue
            video = _cell(row.get("video"))
            if video is None:
                raise LVASInputError(f"Manifest {p}, line {number}: the video is missing.")
            reference = _cell(row.get("reference"))
            entries.append((_path(video, base), _path(reference, base) if reference else None,
                            _cell(row.get("category")), _cell(row.get("text"))))
    except UnicodeDecodeError:
        raise LVASInputError(f"Manifest {p} is not UTF-8 text.") from None
    except csv.Error as exc:
        raise LVASInputError(f"Manifest {p} is not readable CSV ({exc}).") from None
    if not entries:
        raise LVASInputError(f"Manifest {p} lists no videos.")
    return _with_ids(entries)


def _with_ids(entries: Sequence[tuple[Path, Path | None, str | None, str | None]]
              ) -> list[EvalItem]:
    taken: dict[str, int] = {}
    items = []
    for video, reference, category, text in entries:
        name = video.name
        taken[name] = taken.get(name, 0) + 1
        item_id = name if taken[name] == 1 else f"{name}#{taken[name]}"
        items.append(EvalItem(item_id, video, reference, category, text))
    return items


def read_video_list(source: str | os.PathLike[str]) -> list[EvalItem]:
    """The items of a folder (its media files) or a manifest; one file is one item."""
    p = Path(source).expanduser()
    if is_manifest(p):
        return read_manifest(p)
    if p.is_dir():
        files = media_in_folder(p)
        if not files:
            raise LVASInputError(f"Folder {p} holds no video or audio files "
                                 f"({', '.join(MEDIA_SUFFIXES[:6])}, ...).")
        return _with_ids([(f, None, None, None) for f in files])
    if not p.exists():
        raise LVASInputError(f"{p} does not exist; give a video, an audio file, a folder or a "
                             "manifest (.csv or .jsonl).")
    return _with_ids([(p, None, None, None)])


def _stems(name: str) -> list[str]:
    """``clip.dubbed.mp4`` -> [``clip.dubbed``, ``clip``]: the candidates a reference may use."""
    parts = Path(name).stem.split(".")
    return [stem for n in range(len(parts), 0, -1) if (stem := ".".join(parts[:n]))]


def pair_references(items: Sequence[EvalItem], reference: str | os.PathLike[str] | None
                    ) -> list[EvalItem]:
    """Fill in each item's missing reference from ``reference``: a file (one item only) or a
    folder paired by file stem. An item no file pairs with keeps no reference."""
    if reference is None:
        return list(items)
    ref = Path(reference).expanduser()
    if not ref.exists():
        raise LVASInputError(f"Reference {ref} does not exist; give an audio file, a video, "
                             "or a folder of them named like the scored files.")
    if ref.is_file():
        if len(items) > 1:
            raise LVASInputError(
                f"Reference {ref} is one file but {len(items)} items are scored; give a folder "
                "of references named like them, or a manifest with a reference column.")
        return [replace(item, reference=item.reference or ref) for item in items]
    by_stem: dict[str, Path] = {}
    for f in media_in_folder(ref):
        # an audio file wins over a video of the same stem: it is the reference itself
        if f.stem not in by_stem or (f.suffix.lower() in AUDIO_SUFFIXES
                                     and by_stem[f.stem].suffix.lower() not in AUDIO_SUFFIXES):
            by_stem[f.stem] = f
    paired = []
    for item in items:
        match = item.reference
        if match is None:
            for stem in _stems(item.video.name):
                found = by_stem.get(stem)
                if found is not None and found.resolve() != item.video.resolve():
                    match = found
                    break
        paired.append(replace(item, reference=match))
    return paired


def collect_items(path: str | os.PathLike[str],
                  reference: str | os.PathLike[str] | None = None) -> list[EvalItem]:
    """The items ``lvas eval PATH [--reference REF]`` scores."""
    return pair_references(read_video_list(path), reference)
