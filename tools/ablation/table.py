"""The ablation study's table: each metric's mean per variant, its bootstrap interval, and
the paired difference from the full system.

Input is the study's result rows (one per variant and video, as ``results.jsonl`` holds them);
output is a :class:`Summary`, written as ``table.md`` for people and ``table.csv`` (one line
per variant and metric) for analysis. A cell is marked (†) when the 95 % bootstrap interval of
the mean paired difference from the full system, over the videos both ran, excludes 0: the
videos differ far more from each other than the variants do, so pairing is what makes a small
study able to show a difference. Whether the full system's mean lies outside the variant's own
interval (the unpaired reading) is kept in the CSV too.

Failed runs are counted and listed, never averaged in; a metric that could not run here
("needs weights: ...") shows as n/a with its reason, once per metric.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lvas.tools.ablation.bootstrap import Interval, bootstrap_mean, cell_rng, check_settings
from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.paths import atomic_path

DIRECTIONS = ("lower", "higher", "target", "abs-lower")
"""How a metric's value reads: lower or higher is better, nearer ``target`` is better, or
nearer 0 either way (a signed lag: its absolute value is summarised)."""
MARK = "†"
NO_RUN = "—"
NOT_AVAILABLE = "n/a"
CSV_FIELDS = ("variant", "ablation", "part", "action", "alternative", "metric", "key", "unit",
              "direction", "statistic", "n", "mean", "lo", "hi", "n_paired", "diff_mean",
              "diff_lo", "diff_hi", "reference_mean", "marked", "reference_outside", "better",
              "note")


@dataclass(frozen=True)
class MetricColumn:
    """One metric key of the table: its registry metric (``metric_status`` is keyed by the
    metric's name), unit and the direction in which it is better."""

    key: str
    metric: str = ""
    unit: str = ""
    direction: str | None = None  # one of DIRECTIONS, or None where no value is better
    target: float | None = None  # the value aimed at, for direction "target"

    def __post_init__(self) -> None:
        if not self.key:
            raise LVASInputError("A metric column needs a key (e.g. 'fd_logmel').")
        if self.direction is not None and self.direction not in DIRECTIONS:
            raise LVASInputError(f"Metric {self.key!r}: direction {self.direction!r} is not one "
                                 f"of {', '.join(DIRECTIONS)} (or None).")

    @classmethod
    def of(cls, item: str | MetricColumn | Mapping[str, Any]) -> MetricColumn:
        """A column from a key, a column, or a mapping with the same fields (``name`` is
        read as ``metric``), as graph state holds it."""
        if isinstance(item, MetricColumn):
            return item
        if isinstance(item, str):
            return cls(item)
        if isinstance(item, Mapping):
            target = item.get("target")
            return cls(str(item.get("key") or ""),
                       str(item.get("metric") or item.get("name") or ""),
                       str(item.get("unit") or ""), item.get("direction") or None,
                       None if target is None else float(target))
        raise LVASInputError(f"A metric column is a key, a MetricColumn or a mapping, not "
                             f"{type(item).__name__}.")

    @property
    def statistic(self) -> str:
        """What the cells average: the value, or its absolute value for a signed lag."""
        return "mean |x|" if self.direction == "abs-lower" else "mean"

    def arrow(self) -> str:
        """↓, ↑, →t or |x|↓: the direction as the header shows it."""
        if self.direction == "lower":
            return "↓"
        if self.direction == "higher":
            return "↑"
        if self.direction == "abs-lower":
            return "|x|↓"
        if self.direction == "target":
            return f"→{self.target:g}" if self.target is not None else "→target"
        return ""


@dataclass(frozen=True)
class Cell:
    """One variant's summary of one metric key.

    ``mean``/``lo``/``hi``: over the variant's ``n`` videos with a value. ``diff_*``: the mean
    paired difference (variant − full) over the ``n_paired`` videos both have, with
    ``reference_mean`` the full system's mean over those same videos. ``marked``: the paired
    interval excludes 0. ``reference_outside``: the full system's own mean lies outside
    [lo, hi]. ``better``: for a marked cell of a metric with a direction, whether the variant
    is the better one."""

    variant: str
    key: str
    n: int
    mean: float | None = None
    lo: float | None = None
    hi: float | None = None
    n_paired: int = 0
    diff_mean: float | None = None
    diff_lo: float | None = None
    diff_hi: float | None = None
    reference_mean: float | None = None
    marked: bool = False
    reference_outside: bool = False
    better: bool | None = None
    all_positive: bool = False  # every value of the variant and of its paired full values > 0
    note: str = ""


@dataclass(frozen=True)
class VariantInfo:
    """A row of the table: the variant, what it changes, and how its runs went."""

    slug: str
    ablation: str = ""
    part: str = ""
    action: str = ""
    alternative: str = ""
    runs: int = 0
    failures: tuple[tuple[str, str], ...] = ()  # (video, error) of each failed run

    @property
    def change(self) -> str:
        """What the variant changes, in a few words ('' for the full system)."""
        if self.action == "REMOVE":
            return f"remove {self.part}" + (f" ({self.alternative})" if self.alternative else "")
        if self.action == "REPLACE":
            return f"{self.part} → {self.alternative}"
        if self.action and self.action != "FULL":
            return f"{self.action} {self.part} {self.alternative}".strip()
        return ""


@dataclass(frozen=True)
class Summary:
    """Everything the table and the chart show, computed once from the rows."""

    reference: str
    variants: tuple[VariantInfo, ...]  # the full system first, then plan order
    columns: tuple[MetricColumn, ...]
    cells: Mapping[tuple[str, str], Cell]
    videos: tuple[str, ...]
    not_computed: Mapping[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    """Per key: (reason, number of successful runs without a value for that reason)."""
    ignored_variants: tuple[str, ...] = ()  # rows of variants not in the study
    n_boot: int = 2000
    seed: int = 0
    level: float = 0.95

    def cell(self, variant: str, key: str) -> Cell:
        return self.cells[(variant, key)]

    def records(self) -> list[dict[str, Any]]:
        """One dict per variant and metric key, in table order: the rows of ``table.csv``."""
        out = []
        for info in self.variants:
            for column in self.columns:
                c = self.cells[(info.slug, column.key)]
                out.append({
                    "variant": info.slug, "ablation": info.ablation, "part": info.part,
                    "action": info.action, "alternative": info.alternative,
                    "metric": column.metric, "key": column.key, "unit": column.unit,
                    "direction": column.direction or "", "statistic": column.statistic,
                    "n": c.n, "mean": c.mean, "lo": c.lo, "hi": c.hi, "n_paired": c.n_paired,
                    "diff_mean": c.diff_mean, "diff_lo": c.diff_lo, "diff_hi": c.diff_hi,
                    "reference_mean": c.reference_mean, "marked": c.marked,
                    "reference_outside": c.reference_outside, "better": c.better,
                    "note": c.note,
                })
        return out


def _number(value: Any) -> float | None:
    """A finite float from a row's value; None for None, NaN, infinities and non-numbers."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _missing_reason(row: Mapping[str, Any], column: MetricColumn) -> str:
    """Why an ok run has no value for ``column``: its metric's status, or that none was kept."""
    status = row.get("metric_status")
    said = [str(status[name]) for name in (column.metric, column.key)
            if name and isinstance(status, Mapping) and status.get(name)]
    trouble = [s for s in said if s != "ok"]
    if trouble:
        return trouble[0]
    return "no value (the metric ran; undefined for this soundtrack)" if said else \
        "no value recorded"


def _is_ok(row: Mapping[str, Any]) -> bool:
    return str(row.get("status", "")).lower() == "ok"


def _better(column: MetricColumn, diff: float, reference_mean: float) -> bool | None:
    """Whether a variant that differs from the full system by ``diff`` is the better one."""
    if column.direction in ("lower", "abs-lower"):
        return diff < 0
    if column.direction == "higher":
        return diff > 0
    if column.direction == "target" and column.target is not None:
        return abs(reference_mean + diff - column.target) < abs(reference_mean - column.target)
    return None


def _variant_info(slug: str, rows: Sequence[Mapping[str, Any]]) -> VariantInfo:
    first = rows[0] if rows else {}
    failures = tuple((str(r.get("video", "")), str(r.get("error") or r.get("status") or
                                                     "failed"))
                     for r in rows if not _is_ok(r))
    return VariantInfo(slug, str(first.get("ablation") or ""), str(first.get("part") or ""),
                       str(first.get("action") or ""), str(first.get("alternative") or ""),
                       len(rows), failures)


def summarize(rows: Iterable[Mapping[str, Any]], variants: Sequence[str],
              metric_keys: Sequence[str | MetricColumn | Mapping[str, Any]], *,
              reference: str = "full", n_boot: int = 2000, seed: int = 0,
              level: float = 0.95) -> Summary:
    """Per variant and metric key: the mean over videos with its bootstrap interval
    (videos resampled, seeded), and the paired difference from ``reference`` with its
    interval; failed rows are counted and left out, missing values noted with their reason.

    ``variants`` are slugs in plan order; the reference comes first whatever its place.
    A later row for the same (variant, video) replaces an earlier one (a rerun)."""
    check_settings(n_boot, level)
    columns: list[MetricColumn] = []
    for item in metric_keys:
        column = MetricColumn.of(item)
        if all(c.key != column.key for c in columns):
            columns.append(column)
    order = [reference, *(v for v in dict.fromkeys(variants) if v != reference)]

    latest: dict[tuple[str, str], Mapping[str, Any]] = {}
    ignored: list[str] = []
    for row in rows:
        slug = str(row.get("variant", ""))
        if slug not in order:
            if slug not in ignored:
                ignored.append(slug)
            continue
        latest[(slug, str(row.get("video", "")))] = row
    videos = tuple(dict.fromkeys(video for _slug, video in latest))
    by_variant: dict[str, list[Mapping[str, Any]]] = {slug: [] for slug in order}
    for (slug, _video), row in latest.items():
        by_variant[slug].append(row)
    infos = tuple(_variant_info(slug, by_variant[slug]) for slug in order)

    # values[slug][key][video]: the summarised value (|x| for abs-lower keys)
    values: dict[str, dict[str, dict[str, float]]] = {}
    missing: dict[tuple[str, str], Counter[str]] = {}
    for slug in order:
        values[slug] = {}
        for column in columns:
            found: dict[str, float] = {}
            reasons: Counter[str] = Counter()
            for row in by_variant[slug]:
                if not _is_ok(row):
                    continue
                number = _number(row.get(column.key))
                if number is None:
                    reasons[_missing_reason(row, column)] += 1
                    continue
                found[str(row.get("video", ""))] = (abs(number) if column.direction ==
                                                    "abs-lower" else number)
            values[slug][column.key] = found
            missing[(slug, column.key)] = reasons

    cells: dict[tuple[str, str], Cell] = {}
    for column in columns:
        ref_values = values[reference][column.key]
        ref_interval = _interval(ref_values.values(), seed, reference, column.key, "mean",
                                 n_boot, level)
        for info in infos:
            cells[(info.slug, column.key)] = _cell(
                info, column, values[info.slug][column.key], ref_values, ref_interval,
                missing[(info.slug, column.key)], reference, seed, n_boot, level)

    not_computed: dict[str, tuple[tuple[str, int], ...]] = {}
    for column in columns:
        total: Counter[str] = Counter()
        for slug in order:
            total.update(missing[(slug, column.key)])
        if total:
            not_computed[column.key] = tuple(total.most_common())
    return Summary(reference, infos, tuple(columns), cells, videos, not_computed,
                   tuple(ignored), int(n_boot), int(seed), float(level))


def _interval(values: Iterable[float], seed: int, variant: str, key: str, what: str,
              n_boot: int, level: float) -> Interval | None:
    return bootstrap_mean(list(values), cell_rng(seed, variant, key, what), n_boot=n_boot,
                          level=level)


def _cell(info: VariantInfo, column: MetricColumn, own: Mapping[str, float],
          ref_values: Mapping[str, float], ref_interval: Interval | None,
          reasons: Counter[str], reference: str, seed: int, n_boot: int,
          level: float) -> Cell:
    ok_runs = info.runs - len(info.failures)
    notes = []
    if info.runs == 0:
        notes.append("not run")
    elif ok_runs == 0:
        notes.append(f"all {info.runs} runs failed")
    elif not own:
        notes.append("n/a: " + "; ".join(reasons))
    elif reasons:
        notes.append(f"{sum(reasons.values())} of {ok_runs} runs without a value: "
                     + "; ".join(reasons))
    interval = _interval(own.values(), seed, info.slug, column.key, "mean", n_boot, level)
    if interval is None:
        return Cell(info.slug, column.key, 0, note="; ".join(notes))
    if info.slug == reference:
        return Cell(info.slug, column.key, interval.n, interval.mean, interval.lo, interval.hi,
                    all_positive=min(own.values()) > 0, note="; ".join(notes))
    shared = [video for video in own if video in ref_values]
    if not shared:
        notes.append("no video with a full-system value to compare")
        return Cell(info.slug, column.key, interval.n, interval.mean, interval.lo, interval.hi,
                    note="; ".join(notes))
    diff = _interval([own[v] - ref_values[v] for v in shared], seed, info.slug, column.key,
                     "diff", n_boot, level)
    assert diff is not None  # shared is not empty
    ref_mean = float(np.mean([ref_values[v] for v in shared]))
    marked = diff.n >= 2 and diff.excludes(0.0)
    outside = (ref_interval is not None and interval.n >= 2
               and interval.excludes(ref_interval.mean))
    return Cell(info.slug, column.key, interval.n, interval.mean, interval.lo, interval.hi,
                n_paired=diff.n, diff_mean=diff.mean, diff_lo=diff.lo, diff_hi=diff.hi,
                reference_mean=ref_mean, marked=marked, reference_outside=outside,
                better=_better(column, diff.mean, ref_mean) if marked else None,
                all_positive=min(own.values()) > 0 and min(ref_values[v] for v in shared) > 0,
                note="; ".join(notes))


# ---- writing -------------------------------------------------------------------------------


def _decimals(numbers: Iterable[float | None]) -> int:
    """Decimals that give the column's largest value three significant digits."""
    finite = [abs(x) for x in numbers if x is not None and math.isfinite(x) and x != 0]
    if not finite:
        return 2
    return int(min(6, max(0, 2 - math.floor(math.log10(max(finite))))))


def _fmt(value: float | None, decimals: int) -> str:
    if value is None:
        return ""
    text = f"{value:.{decimals}f}"
    return "0" + text[2:] if text.startswith("-0") and float(text) == 0 else text  # no "-0.00"


def _escape(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("|", "\\|")).strip()


def column_header(column: MetricColumn) -> str:
    """The column's name as the table heads it: key, unit and direction."""
    name = _escape(f"|{column.key}|" if column.direction == "abs-lower" else column.key)
    unit = f" ({_escape(column.unit)})" if column.unit else ""
    arrow = "↓" if column.direction == "abs-lower" else column.arrow()
    return name + unit + (f" {arrow}" if arrow else "")


def cell_text(summary: Summary, variant: str, column: MetricColumn, decimals: int) -> str:
    """``mean [lo, hi]`` with its mark, the count where fewer videos had a value, or why not."""
    c = summary.cell(variant, column.key)
    if c.n == 0 or c.mean is None:
        runs = next(i for i in summary.variants if i.slug == variant)
        if runs.runs == 0 or runs.runs == len(runs.failures):
            return NO_RUN
        return NOT_AVAILABLE
    text = f"{_fmt(c.mean, decimals)} [{_fmt(c.lo, decimals)}, {_fmt(c.hi, decimals)}]"
    if c.marked:
        text += f" {MARK}"
    if c.n < len(summary.videos):
        text += f" (n={c.n})"
    return text


def render_markdown(summary: Summary) -> str:
    """``table.md``: the variants (full system first) by the metrics, then the footnotes."""
    pct = f"{summary.level * 100:g} %"
    head = ["Variant", "Change", *(column_header(c) for c in summary.columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---", "---"] + [
        "---:" for _ in summary.columns]) + "|"]
    decimals = {c.key: _decimals(x for cell in (summary.cell(i.slug, c.key)
                                                for i in summary.variants)
                                 for x in (cell.mean, cell.lo, cell.hi))
                for c in summary.columns}
    for info in summary.variants:
        name = f"**{_escape(info.slug)}**" if info.slug == summary.reference else _escape(
            info.slug)
        row = [name, _escape(info.change or ("LVAS in full" if info.slug == summary.reference
                                             else ""))]
        row += [cell_text(summary, info.slug, c, decimals[c.key]) for c in summary.columns]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines += [f"- {note}" for note in footnotes(summary, pct)]
    return "\n".join(lines) + "\n"


def footnotes(summary: Summary, pct: str | None = None) -> list[str]:
    """The table's notes: method, marks, directions, videos, failures, metrics not computed."""
    pct = pct or f"{summary.level * 100:g} %"
    n_videos = len(summary.videos)
    notes = [
        f"Each cell: the mean over videos [{pct} bootstrap percentile interval of the mean: "
        f"{summary.n_boot} resamples of the videos with replacement, seed {summary.seed}].",
        f"{MARK}: the mean paired difference from the full system ({summary.reference}), "
        f"variant − full over the videos both have a value for, has a {pct} bootstrap interval "
        "that excludes 0 (a difference the interval does not cover). table.csv gives that "
        "difference and its interval (diff_mean, diff_lo, diff_hi), and whether the full "
        "system's mean lies outside the variant's own interval (reference_outside).",
    ]
    used = {c.direction for c in summary.columns}
    meaning = {"lower": "↓ lower is better", "higher": "↑ higher is better",
               "abs-lower": "|x| ↓ the mean of the absolute value, nearer 0 is better (a signed "
                            "lag)",
               "target": "→t nearer t is better"}
    if used - {None}:
        notes.append("; ".join(meaning[d] for d in DIRECTIONS if d in used) + ".")
    listed = ", ".join(_escape(v) for v in summary.videos[:12]) + (", ..." if n_videos > 12
                                                                   else "")
    notes.append(f"Videos: {n_videos}" + (f" ({listed})" if n_videos else "")
                 + "; (n=k) marks a cell computed over fewer videos.")
    if n_videos == 1:
        notes.append("With one video an interval is the value itself and nothing is marked; "
                     "run more videos for intervals.")
    failures = [(i.slug, video, error) for i in summary.variants for video, error in i.failures]
    if failures:
        shown = "; ".join(f"{slug} on {video}: {_escape(error)[:160]}"
                          for slug, video, error in failures[:20])
        more = f"; and {len(failures) - 20} more" if len(failures) > 20 else ""
        notes.append(f"Failed runs, left out of the means ({len(failures)}): {shown}{more}.")
    else:
        notes.append("Failed runs: none.")
    all_failed = [i.slug for i in summary.variants if i.runs and i.runs == len(i.failures)]
    if all_failed:
        notes.append(f"{NO_RUN}: no successful run ({', '.join(all_failed)}).")
    not_run = [i.slug for i in summary.variants if i.runs == 0]
    if not_run:
        notes.append(f"{NO_RUN}: not run yet ({', '.join(not_run)}).")
    for key, reasons in summary.not_computed.items():
        said = "; ".join(f"{_escape(reason)} ({count} run{'s' if count != 1 else ''})"
                         for reason, count in reasons)
        notes.append(f"{NOT_AVAILABLE if _all_missing(summary, key) else 'Missing values'} "
                     f"for {key}: {said}.")
    if summary.ignored_variants:
        notes.append("Rows of variants outside this study were ignored: "
                     + ", ".join(summary.ignored_variants) + ".")
    return notes


def _all_missing(summary: Summary, key: str) -> bool:
    return all(summary.cell(i.slug, key).n == 0 for i in summary.variants)


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return value


def write_tables(summary: Summary, out_dir: str | Path) -> dict[str, Path]:
    """Write ``table.md`` and ``table.csv`` (tidy: one line per variant and metric key) into
    ``out_dir``, each atomically; returns their paths as ``table_md`` and ``table_csv``."""
    folder = Path(out_dir).expanduser()
    if folder.exists() and not folder.is_dir():
        raise LVASInputError(f"{folder} is a file; give a folder for the ablation tables.")
    folder.mkdir(parents=True, exist_ok=True)
    md, table_csv = folder / "table.md", folder / "table.csv"
    with atomic_path(md) as tmp:
        tmp.write_text(render_markdown(summary), encoding="utf-8")
    with atomic_path(table_csv) as tmp:
        with tmp.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
            writer.writeheader()
            for record in summary.records():
                writer.writerow({k: _csv_value(v) for k, v in record.items()})
    return {"table_md": md, "table_csv": table_csv}
