"""Distribution metrics pooled over a variant's videos, as the field reports FD and IS.

A Fréchet distance or an inception score describes a set of sounds, not one: the paper's table
gives FD over its whole benchmark. The study's rows hold each video's own value (over that
video's windows), which the bootstrap table averages; this adds, for every variant, the value
over all its videos' windows at once. Features come from the cache the rows were scored with,
so pooling extracts nothing again.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lvas.tools.common.paths import atomic_path
from lvas.tools.evaluation.items import EvalItem
from lvas.tools.evaluation.registry import metrics_for_name
from lvas.tools.evaluation.scoring import score_items

Pooled = dict[str, dict[str, tuple[float | None, str]]]
"""variant -> metric key -> (value, how it was aggregated or why it is missing)."""


def pooled_values(rows: Sequence[Mapping[str, Any]], variants: Sequence[str],
                  metric_names: Sequence[str], references: Mapping[str, str], *,
                  cache_dir: Path) -> Pooled:
    """Each variant's set metrics over all its scored videos; ``references`` maps a video id to
    its reference (an audio file or a video with its own audio)."""
    metrics = [m for name in metric_names for m in metrics_for_name(name)
               if m.compute_set is not None]
    metrics = list({m.name: m for m in metrics}.values())
    if not metrics:
        return {}
    pooled: Pooled = {}
    for variant in variants:
        items = [EvalItem(str(r["video"]), Path(str(r["output"])),
                          Path(references[str(r["video"])]) if references.get(str(r["video"]))
                          else None, run_dir=Path(str(r["run_dir"])))
                 for r in rows if r.get("variant") == variant and r.get("status") == "ok"]
        if not items:
            continue
        result = score_items(items, metrics, cache_dir=cache_dir)
        pooled[variant] = {}
        for metric in metrics:
            reasons = [s.status.get(metric.name, "") for s in result.items]
            status = next((r for r in reasons if r and r != "ok"),
                          result.set_status.get(metric.name, ""))
            for key in metric.keys:
                value = result.aggregate.get(key)
                how = value.aggregation if value is not None and value.value is not None \
                    else status
                pooled[variant][key] = (value.value if value is not None else None, how)
    return pooled


def render_pooled(pooled: Pooled, variants: Sequence[str]) -> str:
    """The Markdown section added to ``table.md``."""
    keys = list(dict.fromkeys(k for v in variants for k in pooled.get(v, {})
                              if not k.endswith("_std")))
    if not keys:
        return ""
    lines = ["", "### Pooled over the videos", "",
             "Distribution metrics over all of a variant's videos at once (how the field "
             "reports FD and IS), beside the per-video means above.", "",
             "| Variant | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    notes: dict[str, str] = {}
    for variant in variants:
        cells = []
        for key in keys:
            value, how = pooled.get(variant, {}).get(key, (None, "not scored"))
            cells.append("n/a" if value is None else f"{value:.4g}")
            if value is None:
                notes.setdefault(key, how)
            else:
                notes.setdefault(f"{key} ", how)
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"- {key.strip()}: {how}" for key, how in notes.items()]
    return "\n".join(lines) + "\n"


def write_pooled(pooled: Pooled, variants: Sequence[str], folder: Path) -> Path | None:
    """Append the pooled section to ``table.md`` and write ``pooled.csv``; both atomically."""
    section = render_pooled(pooled, variants)
    if not section:
        return None
    table = folder / "table.md"
    text = table.read_text(encoding="utf-8") if table.is_file() else ""
    with atomic_path(table) as tmp:
        tmp.write_text(text + section, encoding="utf-8")
    out = folder / "pooled.csv"
    with atomic_path(out) as tmp, tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["variant", "key", "value", "aggregation"])
        for variant in variants:
            for key, (value, how) in pooled.get(variant, {}).items():
                writer.writerow([variant, key, "" if value is None else value, how])
    return out
