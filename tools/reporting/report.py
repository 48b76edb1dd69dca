"""One self-contained HTML page that shows what a run made and why.

The page carries its pictures as base64 PNGs and its style inline, so it can be mailed or
archived on its own. Its markup lives in Jinja2 templates (``templates/``) with autoescaping
on, so every caption, label and warning that came from a user or a model is escaped by the
engine rather than by hand; this module only turns the run's data into the text the page
shows. The pictures come from :mod:`lvas.tools.reporting.plots`, the soundtrack's analysis
from :mod:`lvas.tools.reporting.spectrogram`.
"""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from lvas.tools.common.paths import atomic_path
from lvas.tools.reporting.plots import (
    LAYER_COLOURS,
    LAYERS,
    as_float,
    format_clock,
    render_spectrogram,
    render_timeline,
)
from lvas.tools.reporting.spectrogram import Spectrogram, compute_spectrogram

_OPEN_TABLE_ROWS = 200  # longer tables start folded
_LOUDNESS_NAMES = {
    "integrated_lufs": ("integrated loudness (soundtrack.wav)", "LUFS"),
    "true_peak_db": ("true peak (soundtrack.wav)", "dBTP"),
    "delivered_lufs": ("integrated loudness (as encoded in the video)", "LUFS"),
    "delivered_peak_db": ("true peak (as encoded in the video)", "dBTP"),
    "delivery_trim_db": ("trim applied to the encoded track", "dB"),
    "target_lufs": ("target", "LUFS"),
}


@cache
def _environment() -> jinja2.Environment:
    """The templates shipped in this package; HTML templates are autoescaped."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("lvas.tools.reporting"),
        autoescape=jinja2.select_autoescape(),
        undefined=jinja2.StrictUndefined,  # a misspelt field fails loudly, not as ""
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _num(value: Any, fmt: str = "{:.2f}") -> str:
    if value is None or value == "":
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return ""
    if math.isinf(number):
        return "−∞" if number < 0 else "∞"
    return fmt.format(number)


def _time(value: Any) -> str:
    number = as_float(value, math.nan)
    return format_clock(number, 2) if math.isfinite(number) else ""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _link(target: str, base: Path) -> dict[str, str]:
    """A relative, URL-quoted link; absolute paths become relative to the report's folder."""
    path = str(target)
    if os.path.isabs(path):
        try:
            path = os.path.relpath(path, base)
        except ValueError:  # another drive on Windows: keep it absolute
            return {"href": Path(path).as_uri(), "text": str(target)}
    return {"href": quote(path.replace(os.sep, "/")), "text": str(target)}


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("lvas-agent")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _b64(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")


def _soundtrack(soundtrack: Path | None, span: float,
                loudness: Mapping[str, Any] | None) -> tuple[dict | None, float]:
    """The Soundtrack section's data, and the time span widened to the soundtrack's length."""
    if soundtrack is None:
        return None, span
    try:
        spec: Spectrogram = compute_spectrogram(soundtrack)
    except (OSError, RuntimeError, ValueError) as exc:  # soundfile's errors derive from these
        return {"path": str(soundtrack), "error": str(exc)}, span
    span = max(span, spec.duration)
    return {
        "error": "",
        "png": _b64(render_spectrogram(spec, span, loudness)),
        "sample_rate": spec.sample_rate,
        "duration": format_clock(spec.duration, 2),
        "window": f"{spec.loudness_window:.1f}",
        "unit": "K-weighted, LUFS" if spec.k_weighted else "unweighted, dBFS",
    }, span


def _sound_rows(sounds: Sequence[Mapping[str, Any]],
                clips: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Cues in time order (layers in their usual order at equal starts), with the backend
    that rendered each one's clip."""
    backend = {str(c.get("sound_id")): c.get("backend", "") for c in clips}
    order = {layer: i for i, layer in enumerate(LAYERS)}
    rows = []
    for s in sorted(sounds, key=lambda s: (as_float(s.get("start")),
                                           order.get(str(s.get("layer", "")), 9))):
        layer = str(s.get("layer", ""))
        rows.append({
            "scene": _text(s.get("scene_id")), "layer": layer,
            "colour": LAYER_COLOURS.get(layer, ""),
            "description": _text(s.get("description")), "label": _text(s.get("label")),
            "start": _time(s.get("start")), "end": _time(s.get("end")),
            "volume": _num(s.get("volume_db"), "{:.1f}"),
            "backend": _text(backend.get(str(s.get("id")), "")),
        })
    return rows


def _timings(timings: Mapping[str, float]) -> dict | None:
    if not timings:
        return None
    total_s = sum(as_float(v) for v in timings.values())
    rows = [
        [node, _num(sec, "{:.3f}"), _num(100.0 * as_float(sec) / (total_s or 1.0), "{:.1f}")]
        for node, sec in sorted(timings.items(), key=lambda kv: (-as_float(kv[1]), kv[0]))
    ]
    return {"rows": rows, "total": ["total", _num(total_s, "{:.3f}"),
                                    "100.0" if total_s else ""]}


def _usage(summary: Mapping[str, Any] | None) -> dict | None:
    summary = summary or {}
    roles = summary.get("roles") or {}
    if not roles:
        return None
    cost_key = next((k for k in ("cost_usd", "cost") if any(k in r for r in roles.values())),
                    None)
    header = ["role", "calls", "cached", "tokens in", "tokens out", "latency (s)"]
    keys = ["calls", "cached", "tokens_in", "tokens_out", "latency_s"]
    if cost_key:
        header.append("cost (USD)" if cost_key == "cost_usd" else "cost")
        keys.append(cost_key)
    fmts = {"latency_s": "{:.1f}", "cost_usd": "{:.4f}", "cost": "{:.4f}"}

    def cells(name: str, record: Mapping[str, Any]) -> list[str]:
        return [name] + [_num(record.get(k), fmts.get(k, "{:.0f}")) for k in keys]

    total = dict(summary.get("total") or {})
    if cost_key and cost_key not in total:
        total[cost_key] = sum(as_float(r.get(cost_key)) for r in roles.values())
    return {"header": header, "rows": [cells(role, r) for role, r in sorted(roles.items())],
            "total": cells("total", total)}


def _loudness(loudness: Mapping[str, Any] | None) -> list[list[str]]:
    """Known measures first, in a fixed order, then any others under their own names."""
    loudness = loudness or {}
    rows = []
    for key in [*_LOUDNESS_NAMES, *(k for k in loudness if k not in _LOUDNESS_NAMES)]:
        if key in loudness:
            label, unit = _LOUDNESS_NAMES.get(key, (key, ""))
            rows.append([label, _num(loudness[key], "{:.2f}"), unit])
    return rows


def write_report(
    out_path: Path,
    *,
    title: str,
    video: str,
    duration: float,
    scenes: Sequence[Mapping[str, Any]],
    sounds: Sequence[Mapping[str, Any]],
    clips: Sequence[Mapping[str, Any]],
    soundtrack: Path | None,
    warnings: list[str],
    timings: dict[str, float],
    usage_summary: dict | None,
    loudness: dict | None,
    artifacts: dict[str, str],
    plan_path: str | None,
) -> Path:
    """Write the run's report as one self-contained HTML file (atomically) and return its path.

    Every string that came from the user or a model is escaped by the template engine;
    artifacts are linked relative to the report's folder so the run directory can be moved as
    a whole.
    """
    out_path = Path(out_path)
    base = out_path.parent.resolve()
    ends = [as_float(x.get("end")) for x in [*scenes, *sounds]]
    ends += [as_float(c.get("start")) + as_float(c.get("duration")) for c in clips]
    span = max([as_float(duration), *ends, 0.0])
    soundtrack_section, span = _soundtrack(soundtrack, span, loudness)

    by_start = sorted(scenes, key=lambda s: as_float(s.get("start")))
    page = _environment().get_template("report.html").render(
        title=title,
        meta=[("video", video), ("duration", format_clock(as_float(duration), 2)),
              ("generated", datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")),
              ("LVAS", _version())],
        plan=_link(plan_path, base) if plan_path else None,
        warnings=[str(w) for w in warnings],
        timeline_png=_b64(render_timeline(scenes, sounds, span)),
        soundtrack=soundtrack_section,
        scenes=[[_text(s.get("id")), _time(s.get("start")), _time(s.get("end")),
                 _text(s.get("caption", ""))] for s in by_start],
        sounds=_sound_rows(sounds, clips),
        open_rows=_OPEN_TABLE_ROWS,
        loudness=_loudness(loudness),
        timings=_timings(timings),
        usage=_usage(usage_summary),
        artifacts=[(name, _link(path, base)) for name, path in artifacts.items() if path],
    )
    with atomic_path(out_path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out_path
