"""An evaluation's results as a terminal table, ``metrics.csv`` and ``metrics.json``.

``metrics.csv`` has one row per item (no set row, so a reader's own mean is the mean over the
items): ``id``, ``video``, ``reference``, ``category``, ``run_dir``, one column per metric key
(empty where not computed) and one ``status_<metric>`` column per metric. ``metrics.json``
holds the same plus the set row with each key's aggregation, and the notes on each item's
inputs. Both are written under temporary names and renamed, and never replace earlier outputs
unless asked.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path

from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.paths import atomic_path
from lvas.tools.evaluation.scoring import OK, EvalResult

OUTPUT_FILES = ("metrics.csv", "metrics.json")
SET_ROW = "set"
LABEL_WIDTH = 28


def check_output_dir(out_dir: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """Refuse an output folder that is a file or already holds results (unless ``overwrite``);
    checked before scoring, so no time is spent on results that could not be written."""
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise LVASInputError(f"Output {out} is a file; give a folder for "
                             f"{' and '.join(OUTPUT_FILES)}.")
    existing = [name for name in OUTPUT_FILES if (out / name).exists()]
    if existing and not overwrite:
        raise LVASInputError(f"{out} already holds {', '.join(existing)}; pass --overwrite to "
                             "replace them or choose another -o.")
    parent = out if out.exists() else next((p for p in out.parents if p.exists()), Path("."))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise LVASInputError(f"Output folder {parent} is not writable; choose another -o.")
    return out


def csv_columns(result: EvalResult) -> list[str]:
    return (["id", "video", "reference", "category", "run_dir", *result.keys]
            + [f"status_{m.name}" for m in result.metrics])


def _csv_cell(value: object) -> object:
    return "" if value is None else value


def write_outputs(result: EvalResult, out_dir: str | os.PathLike[str], *,
                  overwrite: bool = False) -> dict[str, Path]:
    """Write ``metrics.csv`` and ``metrics.json`` into ``out_dir`` (each atomically)."""
    out = check_output_dir(out_dir, overwrite=overwrite)
    out.mkdir(parents=True, exist_ok=True)
    columns = csv_columns(result)
    written: dict[str, Path] = {}
    with atomic_path(out / "metrics.json") as tmp_json, atomic_path(out / "metrics.csv") as tmp_csv:
        with tmp_csv.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            for score in result.items:
                item = score.item
                row: dict[str, object] = {
                    "id": item.id, "video": str(item.video),
                    "reference": str(item.reference) if item.reference else None,
                    "category": item.category,
                    "run_dir": str(score.run_dir) if score.run_dir else None,
                    **score.values,
                    **{f"status_{name}": status for name, status in score.status.items()},
                }
                writer.writerow({k: _csv_cell(row.get(k)) for k in columns})
        tmp_json.write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n",
                            encoding="utf-8")
    written["csv"], written["json"] = out / "metrics.csv", out / "metrics.json"
    return written


def format_number(value: float | None) -> str:
    """Four significant digits, ``-`` where there is no value."""
    if value is None:
        return "-"
    return f"{value:.4g}"


def _groups(widths: Sequence[int], room: int) -> list[list[int]]:
    """Column indices packed into groups that fit ``room`` characters beside the label."""
    groups: list[list[int]] = []
    used = room + 1
    for i, width in enumerate(widths):
        if not groups or used + 2 + width > room:
            groups.append([])
            used = 0
        groups[-1].append(i)
        used += 2 + width
    return groups


def shown_keys(result: EvalResult) -> list[str]:
    """The keys of the metrics that scored at least one item: the terminal table's columns
    (the others are listed under "not computed", with why)."""
    return [k for m in result.metrics
            if any(s.status.get(m.name) == OK for s in result.items) for k in m.keys]


def format_table(result: EvalResult, width: int = 100) -> list[str]:
    """Rows = items, columns = the computed metrics' keys, then the set row; columns that do
    not fit ``width`` continue in further blocks under the first."""
    keys = shown_keys(result)
    if not keys:
        return ["no metric could be computed for any item (see below)"]
    labels = [s.item.id if len(s.item.id) <= LABEL_WIDTH else s.item.id[:LABEL_WIDTH - 1] + "…"
              for s in result.items] + [SET_ROW]
    label_width = max(len("item"), *(len(x) for x in labels))
    cells = [[format_number(s.values.get(k)) for k in keys] for s in result.items]
    cells.append([format_number(result.aggregate[k].value if k in result.aggregate else None)
                  for k in keys])
    widths = [max(len(k), *(len(row[i]) for row in cells)) for i, k in enumerate(keys)]
    lines: list[str] = []
    for group in _groups(widths, max(width - label_width, 20)):
        if lines:
            lines.append("")
        lines.append(f"{'item':<{label_width}}" + "".join(f"  {keys[i]:>{widths[i]}}"
                                                           for i in group))
        for r, label in enumerate(labels):
            if r == len(labels) - 1:
                lines.append("-" * (label_width + sum(2 + widths[i] for i in group)))
            lines.append(f"{label:<{label_width}}"
                         + "".join(f"  {cells[r][i]:>{widths[i]}}" for i in group))
    return lines


def format_notes(result: EvalResult) -> list[str]:
    """How the set row was made, and every metric not computed for some item, with why
    (metrics sharing a reason and the same items on one line)."""
    shown = set(shown_keys(result))
    lines = ["set row:"]
    for metric in result.metrics:
        if not shown.intersection(metric.keys):
            continue
        labels = sorted({result.aggregate[k].aggregation for k in metric.keys
                         if k in result.aggregate})
        lines.append(f"  {metric.name}: {'; '.join(labels)}")
    total = len(result.items)
    grouped: dict[tuple[str, str], list[str]] = {}
    for metric in result.metrics:
        reasons: dict[str, list[str]] = {}
        for score in result.items:
            status = score.status.get(metric.name, OK)
            if status != OK:
                reasons.setdefault(status, []).append(score.item.id)
        for reason, ids in reasons.items():
            who = "all items" if len(ids) == total else ", ".join(ids)
            grouped.setdefault((reason, who), []).append(metric.name)
        set_status = result.set_status.get(metric.name, OK)
        if set_status != OK and not reasons:
            grouped.setdefault((set_status, "the set row"), []).append(metric.name)
    missing = [f"  {', '.join(names)}: {reason} ({who})"
               for (reason, who), names in grouped.items()]
    missing += [f"  {name}: not applicable: {why}" for name, why in result.not_applicable.items()]
    if missing:
        lines += ["not computed:", *missing]
    return lines
