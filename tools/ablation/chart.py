"""The ablation study's bar chart: each metric of each variant relative to the full system.

One panel per metric key, one horizontal bar per variant (horizontal so long variant names
stay readable however many there are). A bar is the variant's mean paired difference from the
full system over the videos both have, drawn as a ratio (variant / full) where the metric is
on a ratio scale — positive values in a linear unit — and as the difference otherwise: levels
in dB or LUFS, signed lags, values near or below 0, metrics with a target. Error bars are the
bootstrap interval of that paired difference, so a bar whose interval misses the full
system's line is exactly a cell the table marks. matplotlib is imported only here, and drawn
by Agg without pyplot, so nothing opens a window and notebooks keep their own backend.
"""

from __future__ import annotations

import math
import re
import textwrap
from pathlib import Path
from typing import Any, Literal

from lvas.tools.ablation.table import NO_RUN, MetricColumn, Summary
from lvas.tools.common.paths import atomic_path

_LOG_UNIT = re.compile(r"(?<![a-z])(db\w*|lufs|lu|lkfs)(?![a-z])", re.IGNORECASE)
"""Units of a logarithmic scale: a ratio of two such values means nothing, their difference
does."""
_DPI = 110
_PANEL_IN = 3.4
_LABEL_CHARS = 24
COLOURS = {"better": "#2a9d8f", "worse": "#e76f51", "differs": "#457b9d", "covers": "#b8bec6"}
_LEGEND = {"better": "better than full (interval excludes it)",
           "worse": "worse than full (interval excludes it)",
           "differs": "differs from full (no better direction)",
           "covers": "interval covers the full system"}


def relative_mode(summary: Summary, column: MetricColumn) -> Literal["ratio", "difference"]:
    """How ``column`` is drawn against the full system: a ratio only where every value drawn
    is positive and the unit is linear; a difference otherwise."""
    if column.direction in ("abs-lower", "target") or _LOG_UNIT.search(column.unit):
        return "difference"
    reference = summary.cell(summary.reference, column.key)
    drawn = [summary.cell(i.slug, column.key) for i in summary.variants
             if i.slug != summary.reference]
    drawn = [c for c in drawn if c.n_paired > 0]
    if not drawn or not reference.all_positive or not all(c.all_positive for c in drawn):
        return "difference"
    return "ratio"


def _label(slug: str) -> str:
    """A variant's name wrapped for the axis: the part, then the alternative on its own line."""
    pieces = slug.split("/", 1)
    lines: list[str] = []
    for i, piece in enumerate(pieces):
        text = piece + ("/" if i < len(pieces) - 1 else "")
        lines += textwrap.wrap(text, _LABEL_CHARS, break_on_hyphens=True) or [text]
    return "\n".join(lines)


def _kind(marked: bool, better: bool | None) -> str:
    if not marked:
        return "covers"
    if better is None:
        return "differs"
    return "better" if better else "worse"


def _axis_label(column: MetricColumn, mode: str) -> str:
    name = f"|{column.key}|" if column.direction == "abs-lower" else column.key
    if mode == "ratio":
        return "variant / full (same videos)"
    unit = f" ({column.unit})" if column.unit else ""
    return textwrap.fill(f"variant − full, {name}{unit}", 44)


def _panel(ax: Any, summary: Summary, column: MetricColumn, slugs: list[str]) -> set[str]:
    """Draw one metric's bars; returns the colour kinds it used."""
    name = f"|{column.key}|" if column.direction == "abs-lower" else column.key
    arrow = "↓" if column.direction == "abs-lower" else column.arrow()
    ax.set_title(textwrap.fill(f"{name} {arrow}".strip(), 40), fontsize=9)
    ax.tick_params(labelsize=7)
    cells = [summary.cell(slug, column.key) for slug in slugs]
    reference = summary.cell(summary.reference, column.key)
    if all(c.n == 0 for c in [reference, *cells]):
        reasons = summary.not_computed.get(column.key, ())
        return _message(ax, f"n/a: {reasons[0][0] if reasons else 'no value'}")
    if not slugs:
        return _message(ax, "only the full system ran: nothing to compare")
    mode = relative_mode(summary, column)
    line = 1.0 if mode == "ratio" else 0.0
    ax.axvline(line, color="#333333", linewidth=1.0, zorder=3)
    ax.set_xlabel(_axis_label(column, mode), fontsize=7)
    used: set[str] = set()
    ends = [line]
    for y, c in enumerate(cells):
        if c.n_paired == 0 or c.diff_mean is None or c.diff_lo is None or c.diff_hi is None:
            ax.text(line, y, "  n/a" if c.n else f"  {NO_RUN}", va="center", fontsize=7,
                    color="#777777")
            continue
        scale = 1.0 / c.reference_mean if mode == "ratio" and c.reference_mean else 1.0
        value = line + c.diff_mean * scale
        lo, hi = line + c.diff_lo * scale, line + c.diff_hi * scale
        kind = _kind(c.marked, c.better)
        used.add(kind)
        ax.barh(y, value - line, left=line, height=0.6, color=COLOURS[kind], zorder=2)
        ax.errorbar(value, y, xerr=[[max(value - lo, 0.0)], [max(hi - value, 0.0)]],
                    fmt="none", ecolor="#222222", elinewidth=0.9, capsize=2.5, zorder=4)
        ends += [value, lo, hi]
    low, high = min(ends), max(ends)
    pad = 0.08 * (high - low) or (0.05 if mode == "ratio" else 1e-3 + 0.05 * abs(line))
    ax.set_xlim(low - pad, high + pad)  # room on both sides of the full system's line
    ax.grid(axis="x", color="#e4e4e4", linewidth=0.6, zorder=0)
    return used


def _message(ax: Any, text: str) -> set[str]:
    """A panel with nothing to draw says why."""
    ax.text(0.5, 0.5, textwrap.fill(text, 40), transform=ax.transAxes, ha="center",
            va="center", fontsize=7, color="#555555")
    ax.set_xticks([])
    return set()


def write_chart(summary: Summary, out_path: str | Path) -> Path:
    """Draw every metric of every variant relative to the full system into a PNG, written
    atomically; returns its path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    slugs = [i.slug for i in summary.variants if i.slug != summary.reference]
    columns = list(summary.columns)
    n_panels = max(1, len(columns))
    ncols = 1 if n_panels == 1 else 2 if n_panels <= 4 else 3
    nrows = math.ceil(n_panels / ncols)
    labels = [_label(slug) for slug in slugs]
    lines_per_label = max((label.count("\n") + 1 for label in labels), default=1)
    slot_in = 0.16 + 0.13 * lines_per_label
    row_in = slot_in * max(1, len(slugs)) + 1.3
    label_in = 0.3 + 0.062 * max((len(line) for lb in labels for line in lb.split("\n")),
                                 default=4)
    width_in = label_in + ncols * _PANEL_IN
    fig = Figure(figsize=(width_in, nrows * row_in + 0.9), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
    used: set[str] = set()
    for index, ax in enumerate(axes.flat):
        if index >= len(columns):
            if columns:
                ax.set_visible(False)
            continue
        used |= _panel(ax, summary, columns[index], slugs)
    first = axes[0][0]
    if slugs:
        first.set_yticks(range(len(slugs)), labels)
        first.set_ylim(len(slugs) - 0.5, -0.5)  # the first variant on top, as in the table
    else:
        first.set_yticks([])
    if not columns:
        _message(first, "no metrics were asked: nothing to compare")
    pct = f"{summary.level * 100:g} %"
    fig.suptitle(textwrap.fill(
        f"Each metric against the full system ({summary.reference}); error bars: {pct} "
        "bootstrap interval of the paired difference over videos", int(width_in * 11)),
        fontsize=9)
    if used:
        order = [k for k in COLOURS if k in used]
        fig.legend(handles=[Patch(color=COLOURS[k], label=_LEGEND[k]) for k in order],
                   loc="outside lower center", ncols=min(2, len(order)), fontsize=7,
                   frameon=False)
    out = Path(out_path).expanduser()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=_DPI)
    return out
