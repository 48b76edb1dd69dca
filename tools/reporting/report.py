"""One HTML page, in a self-contained folder, that shows what a run made and why.

The page carries its style inline and its plots as base64 PNGs, needs no script and nothing
from the network; it links the run's own files (scene thumbnails written beside it, the mix,
the stems, the delivered video) by relative paths, so the run folder can be moved or archived
whole. Its markup lives in Jinja2 templates (``templates/``) with autoescaping on, so every
caption, label and warning that came from a user or a model is escaped by the engine rather
than by hand; this module only turns the run's data into the text the page shows. The
timeline's marks come from :mod:`lvas.tools.reporting.marks`, thumbnails and players from
:mod:`lvas.tools.reporting.media`, the spectrogram from :mod:`lvas.tools.reporting.plots` and
:mod:`lvas.tools.reporting.spectrogram`.
"""

from __future__ import annotations

import base64
import json
import math
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from lvas.tools.common.paths import atomic_path
from lvas.tools.reporting import marks, media
from lvas.tools.reporting.plots import (
    LAYER_COLOURS,
    LAYERS,
    as_float,
    format_clock,
    render_spectrogram,
)
from lvas.tools.reporting.spectrogram import Spectrogram, soundtrack_spectrogram

_OPEN_TABLE_ROWS = 200  # longer tables start folded
_EAGER_THUMBNAILS = 40  # thumbnails further down the page load when scrolled to
_MAX_EVIDENCE = 12  # evidence items shown per scene
_MAX_EVIDENCE_CHARS = 240
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
    return {"href": media.href(target, base), "text": str(target)}


def _evidence_value(value: Any) -> str:
    if isinstance(value, float):
        return _num(value, "{:.3g}")
    if isinstance(value, (list, tuple)):
        return ", ".join(_evidence_value(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, default=str, ensure_ascii=False)
    return _text(value)


def _evidence(items: Any) -> list[str]:
    """A scene's evidence (the planner's measurements behind its choices) as short lines;
    whatever its items hold, since planners differ in what they measure."""
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes)):
        return []
    lines = []
    for item in items[:_MAX_EVIDENCE]:
        if isinstance(item, Mapping):
            line = "; ".join(f"{k}: {_evidence_value(v)}" for k, v in item.items())
        else:
            line = _evidence_value(item)
        if len(line) > _MAX_EVIDENCE_CHARS:
            line = line[: _MAX_EVIDENCE_CHARS - 1] + "…"
        lines.append(line)
    if len(items) > _MAX_EVIDENCE:
        lines.append(f"… and {len(items) - _MAX_EVIDENCE} more")
    return lines


def _scene_rows(scenes: Sequence[Mapping[str, Any]], root: Path, out_dir: Path
                ) -> list[dict[str, Any]]:
    """Scenes in time order, each with its thumbnail (written beside the report) and evidence."""
    thumbs = media.write_thumbnails(scenes, root, out_dir)
    rows = []
    for i, (scene, thumb) in enumerate(zip(scenes, thumbs, strict=True)):
        rows.append({
            "id": _text(scene.get("id")), "start": _time(scene.get("start")),
            "end": _time(scene.get("end")), "caption": _text(scene.get("caption", "")),
            "thumb": thumb, "lazy": i >= _EAGER_THUMBNAILS,
            "evidence": _evidence(scene.get("evidence")),
        })
    return rows


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
        spec: Spectrogram = soundtrack_spectrogram(soundtrack)
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


def _sound_rows(sounds: Sequence[Mapping[str, Any]], clips: Sequence[Mapping[str, Any]],
                carried: Mapping[str, str]) -> list[dict[str, str]]:
    """Cues in time order (layers in their usual order at equal starts), with the backend
    that rendered each one's clip (or the bed whose clip carries it on)."""
    backend = {str(c.get("sound_id")): c.get("backend", "") for c in clips}
    for bed, into in carried.items():
        if bed != into and into in backend and bed not in backend:
            backend[bed] = f"carried on in {into}"
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
    run_dir: Path | None = None,
    audio: Mapping[str, str | os.PathLike[str]] | None = None,
    output_video: str | os.PathLike[str] | None = None,
    video_codec: str | None = None,
    carried: Mapping[str, str] | None = None,
) -> Path:
    """Write the run's report (atomically) and the scene thumbnails beside it; return its path.

    ``run_dir`` is what the scenes' keyframe paths are relative to (the report's folder by
    default); ``audio`` names the files to play (the mix, then each stem; by default the
    soundtrack alone); ``output_video`` is the delivered video, played on the page when a
    browser can play its container and ``video_codec``; ``carried`` maps a designed bed to the
    sound whose clip carries it on across a cut. Every string that came from the user
    or a model is escaped by the template engine; files are linked relative to the report's
    folder so the run directory can be moved as a whole.
    """
    out_path = Path(out_path)
    base = out_path.parent.resolve()
    ends = [as_float(x.get("end")) for x in [*scenes, *sounds]]
    ends += [as_float(c.get("start")) + as_float(c.get("duration")) for c in clips]
    span = max([as_float(duration), *ends, 0.0])
    soundtrack_section, span = _soundtrack(soundtrack, span, loudness)
    if audio is None:
        audio = {"mix": soundtrack} if soundtrack is not None else {}

    by_start = sorted(scenes, key=lambda s: as_float(s.get("start")))
    scene_rows = _scene_rows(by_start, Path(run_dir) if run_dir else base, base)
    page = _environment().get_template("report.html").render(
        title=title,
        meta=[("video", video), ("duration", format_clock(as_float(duration), 2)),
              ("generated", datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")),
              ("LVAS", _version())],
        plan=_link(plan_path, base) if plan_path else None,
        warnings=[str(w) for w in warnings],
        timeline={"lanes": marks.lanes(sounds, clips, span, carried),
                  "scenes": marks.scene_marks(by_start, span), "ticks": marks.ticks(span),
                  "span": round(span, 4), "unit": "m:ss" if span >= 120 else "s"},
        video=media.video_player(output_video, video_codec, base),
        players=media.audio_players(audio, base),
        soundtrack=soundtrack_section,
        scenes=scene_rows,
        thumbs=any(row["thumb"] for row in scene_rows),
        evidence=any(row["evidence"] for row in scene_rows),
        sounds=_sound_rows(sounds, clips, carried or {}),
        open_rows=_OPEN_TABLE_ROWS,
        loudness=_loudness(loudness),
        timings=_timings(timings),
        usage=_usage(usage_summary),
        artifacts=[(name, _link(path, base)) for name, path in artifacts.items() if path],
    )
    with atomic_path(out_path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out_path
