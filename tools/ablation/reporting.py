"""Which columns an ablation table shows, with units and which way is better.

The registry gives each metric its keys and one unit string; the table needs each key's unit and
direction to mark better and worse. Directions follow the metrics' definitions (docs/metrics.md):
distances, divergences, offsets, dropouts, seam ratios and costs are better lower; IS, ImageBind,
CLAP and onset F1 better higher; the signed sync lag is better near 0; integrated loudness is
better at the study's target. Spreads (``*_std``) stay in ``results.jsonl``, not in the table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lvas.tools.ablation.table import MetricColumn
from lvas.tools.evaluation.registry import metrics_for_name

_DIRECTIONS: tuple[tuple[str, str | None], ...] = (
    (r"_std$", None),
    (r"^(fd|kl)_", "lower"),
    (r"^(desync_s|dropout_\w+|seam_\w+|true_peak_dbtp|\w+_per_min)$", "lower"),
    (r"^(is_\w+|ib_score|clap_score|sync_onset_f1)$", "higher"),
    (r"^sync_lag_s$", "abs-lower"),
    (r"^integrated_lufs$", "target"),
)


def direction_of(key: str) -> str | None:
    """Which way a metric key is better ("lower", "higher", "abs-lower", "target", None)."""
    for pattern, direction in _DIRECTIONS:
        if re.search(pattern, key):
            return direction
    return None


def _units(unit: str, keys: Sequence[str]) -> list[str]:
    """Each key's unit, short enough for a column header ("nats² (64 log-mel bands)" ->
    "nats²"; the full definitions are in docs/metrics.md)."""
    parts = [p.strip() for p in unit.split(";")]
    parts = parts if len(parts) == len(keys) else [unit] * len(keys)
    return [p.split(" (")[0] if len(p) > 12 else p for p in parts]


def metric_columns(metric_names: Sequence[str], *, loudness_target: float = -23.0
                   ) -> list[MetricColumn]:
    """The table's columns for the study's metrics (registry names), in the plan's order."""
    columns: list[MetricColumn] = []
    for name in metric_names:
        for metric in metrics_for_name(name):
            for key, unit in zip(metric.keys, _units(metric.unit, metric.keys), strict=True):
                if key.endswith("_std") or any(c.key == key for c in columns):
                    continue
                direction = direction_of(key)
                columns.append(MetricColumn(
                    key=key, metric=metric.name, unit=unit, direction=direction,
                    target=loudness_target if direction == "target" else None))
    return columns
