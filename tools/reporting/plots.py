"""The report's pictures: the timeline of scenes and cues, and the spectrogram with its
loudness curve, drawn by matplotlib into PNG bytes.

Both share one figure width and the same horizontal margins, so on the page their time axes
line up. matplotlib is imported only when a picture is drawn: importing this module stays
cheap.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from lvas.tools.reporting.spectrogram import Spectrogram

LAYERS = ("background", "foreground", "speech")
LAYER_COLOURS = {"background": "#4c72b0", "foreground": "#dd8452", "speech": "#55a868"}

_FIG_WIDTH_IN = 16.0
_DPI = 100
# Same horizontal margins on every time plot, so timeline and spectrogram line up on the page.
_LEFT, _RIGHT = 0.075, 0.915
# One spectrogram column per pixel of the plot's time axis.
PLOT_COLUMNS = round((_RIGHT - _LEFT) * _FIG_WIDTH_IN * _DPI)
_MAX_SCENE_LABELS = 150
_MAX_CUE_LABELS = 300
_MAX_LANES = 3  # overlapping cues of one layer share at most this many sub-rows


def _time_step(duration: float, target_ticks: int = 12) -> float:
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if duration / step <= target_ticks:
            return float(step)
    return 3600.0 * math.ceil(duration / 3600.0 / target_ticks)


def format_clock(seconds: float, decimals: int = 0) -> str:
    """``m:ss`` (or ``h:mm:ss``) with optional decimals, for axes and tables."""
    if not math.isfinite(seconds):
        return str(seconds)
    sign = "-" if seconds < 0 else ""
    seconds = round(abs(seconds), decimals)
    whole = int(seconds)
    frac = f"{seconds - whole:.{decimals}f}"[1:] if decimals else ""
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{sign}{h}:{m:02d}:{s:02d}{frac}"
    return f"{sign}{m}:{s:02d}{frac}"


def _time_axis(ax: Any, duration: float) -> None:
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    ax.set_xlim(0.0, max(duration, 1e-3))
    step = _time_step(duration)
    ax.xaxis.set_major_locator(MultipleLocator(step))
    if duration >= 120.0:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: format_clock(x)))
        ax.set_xlabel("time (m:ss)" if duration < 3600 else "time (h:mm:ss)")
    else:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:g}"))
        ax.set_xlabel("time (s)")


def _figure(height_in: float) -> Any:
    """A figure drawn by Agg without touching pyplot's global backend (safe in notebooks)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(_FIG_WIDTH_IN, height_in), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def _fit_label(text: str, width_px: float, char_px: float) -> str:
    """The label cut to the room it has ('' when not even a few letters fit)."""
    room = int(width_px // char_px)
    if room < 4:
        return ""
    return text if len(text) <= room else text[: room - 1] + "…"


def _lanes(cues: list[tuple[float, float]]) -> list[int]:
    """Greedy sub-row per cue so overlapping cues of one layer stay visible side by side."""
    ends: list[float] = []
    lanes = []
    for start, end in cues:
        free = next((i for i, e in enumerate(ends) if e <= start + 1e-9), None)
        if free is None:
            if len(ends) < _MAX_LANES:
                free = len(ends)
                ends.append(end)
            else:
                free = int(np.argmin(ends))
        ends[free] = max(ends[free], end)
        lanes.append(free)
    return lanes


def as_float(value: Any, default: float = 0.0) -> float:
    """``value`` as a finite float, else ``default``: plans come from users and models."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return out if math.isfinite(out) else default


def render_timeline(scenes: Sequence[Mapping[str, Any]], sounds: Sequence[Mapping[str, Any]],
                    duration: float) -> bytes:
    """PNG of scenes (shaded spans) over cue bars, one row per layer; labels only where they fit."""
    fig = _figure(3.4)
    fig.subplots_adjust(left=_LEFT, right=_RIGHT, top=0.97, bottom=0.16)
    ax = fig.add_subplot(1, 1, 1)
    _time_axis(ax, duration)
    px_per_s = PLOT_COLUMNS / max(duration, 1e-3)
    font = 7.0
    char_px = 0.62 * font * _DPI / 72.0
    nlayers = len(LAYERS)
    scene_row = nlayers  # the strip above the layers holds scene ids

    spans = [(as_float(s.get("start")), as_float(s.get("end"))) for s in scenes]
    shaded = [(a, max(b - a, 0.0)) for i, (a, b) in enumerate(spans) if i % 2 == 0]
    plain = [(a, max(b - a, 0.0)) for i, (a, b) in enumerate(spans) if i % 2 == 1]
    ax.broken_barh(shaded, (0, nlayers + 0.6), facecolors="#e6e6e6", edgecolor="none", zorder=0)
    ax.broken_barh(plain, (0, nlayers + 0.6), facecolors="#f7f7f7", edgecolor="none", zorder=0)
    # The strip holds nothing else, so an id may run past a narrow scene; ids never overlap,
    # which on a crowded timeline leaves every few scenes' id as a landmark.
    budget, last_end = _MAX_SCENE_LABELS, -math.inf
    for scene, (a, _b) in zip(scenes, spans, strict=True):
        label = str(scene.get("id", ""))[:24]
        x0 = a * px_per_s
        if budget <= 0 or not label or x0 < last_end + 2 * char_px:
            continue
        ax.plot([a, a], [scene_row, scene_row + 0.12], color="#555555", linewidth=0.6)
        ax.text(a + 1.0 / px_per_s, scene_row + 0.3, label, fontsize=font, va="center",
                ha="left", clip_on=True, color="#333333", parse_math=False)
        last_end, budget = x0 + len(label) * char_px, budget - 1

    cue_budget = _MAX_CUE_LABELS
    for row, layer in enumerate(LAYERS):
        cues = sorted(
            (s for s in sounds if s.get("layer") == layer),
            key=lambda s: (as_float(s.get("start")), as_float(s.get("end"))),
        )
        spans = [(as_float(c.get("start")), as_float(c.get("end"))) for c in cues]
        lanes = _lanes(spans)
        nlanes = max(lanes, default=0) + 1
        height = 0.8 / nlanes
        colour = LAYER_COLOURS[layer]
        by_lane: dict[int, list[tuple[float, float]]] = {}
        for lane, (a, b) in zip(lanes, spans, strict=True):
            # At least one pixel wide, so a short cue on a long video still shows.
            by_lane.setdefault(lane, []).append((a, max(b - a, 1.0 / px_per_s)))
        label_end = dict.fromkeys(range(nlanes), -math.inf)
        for lane, bars in by_lane.items():
            y = row + 0.1 + lane * height
            ax.broken_barh(bars, (y, height * 0.9), facecolors=colour, edgecolor="white",
                           linewidth=0.3, alpha=0.85, zorder=2)
        for cue, lane, (a, b) in zip(cues, lanes, spans, strict=True):
            if cue_budget <= 0:
                break
            x0 = a * px_per_s
            if x0 < label_end[lane] + char_px:
                continue
            text = str(cue.get("label") or cue.get("description") or cue.get("id") or "")
            label = _fit_label(text, (b - a) * px_per_s - 3, char_px)
            if not label:
                continue
            y = row + 0.1 + (lane + 0.45) * height
            ax.text(a + 2.0 / px_per_s, y, label, fontsize=font if nlanes == 1 else font - 1,
                    va="center", ha="left", color="white", clip_on=True, zorder=3,
                    parse_math=False)  # a '$' in a model's label is not TeX
            label_end[lane] = x0 + len(label) * char_px
            cue_budget -= 1

    ax.set_ylim(0, nlayers + 0.6)
    ax.set_yticks([i + 0.5 for i in range(nlayers)] + [scene_row + 0.3])
    ax.set_yticklabels(list(LAYERS) + ["scenes"], fontsize=8)
    ax.tick_params(axis="y", length=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if not sounds:
        ax.text(0.5, 0.45, "no sounds designed", transform=ax.transAxes, ha="center",
                color="#777777")
    return _png(fig)


def render_spectrogram(spec: Spectrogram, duration: float,
                       loudness: Mapping[str, Any] | None = None) -> bytes:
    """PNG of the log-frequency spectrogram with the loudness curve beneath, on one time axis."""
    fig = _figure(4.6)
    fig.subplots_adjust(left=_LEFT, right=_RIGHT, top=0.97, bottom=0.12, hspace=0.08)
    grid = fig.add_gridspec(2, 1, height_ratios=(3.0, 1.2))
    ax = fig.add_subplot(grid[0])
    axl = fig.add_subplot(grid[1], sharex=ax)
    vmax = float(np.max(spec.db)) if spec.db.size else 0.0
    vmax = max(vmax, -100.0)
    lo, hi = np.log10(spec.freq_edges[0]), np.log10(spec.freq_edges[-1])
    image = ax.imshow(
        spec.db, origin="lower", aspect="auto", cmap="magma", interpolation="antialiased",
        extent=(0.0, max(spec.duration, 1e-3), lo, hi), vmin=vmax - 90.0, vmax=vmax,
    )
    ticks = [f for f in (50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)
             if spec.freq_edges[0] <= f <= spec.freq_edges[-1]]
    ax.set_yticks([math.log10(f) for f in ticks])
    ax.set_yticklabels([f"{f // 1000}k" if f >= 1000 else str(f) for f in ticks], fontsize=8)
    ax.set_ylabel("frequency (Hz)")
    ax.tick_params(axis="x", labelbottom=False)
    cax = fig.add_axes((_RIGHT + 0.01, 0.42, 0.008, 0.5))
    bar = fig.colorbar(image, cax=cax)
    bar.set_label("dB re full scale", fontsize=8)
    bar.ax.tick_params(labelsize=7)

    times = (np.arange(len(spec.lufs)) + 0.5) * spec.column_seconds
    axl.plot(times, spec.lufs, color="#333333", linewidth=0.8, label="loudness")
    for key, style, name in (("target_lufs", "--", "target"),
                             ("integrated_lufs", ":", "integrated")):
        value = as_float((loudness or {}).get(key), math.nan)
        if math.isfinite(value):
            axl.axhline(value, linestyle=style, color="#c44e52", linewidth=0.9,
                        label=f"{name} {value:.1f}".replace("-", "−"))
    finite = spec.lufs[spec.lufs > -70.0]
    floor = float(np.percentile(finite, 2)) - 6.0 if len(finite) else -70.0
    top = float(finite.max()) + 3.0 if len(finite) else 0.0
    axl.set_ylim(max(floor, -70.0), max(top, -10.0))
    unit = "LUFS" if spec.k_weighted else "dBFS"
    axl.set_ylabel(f"{unit}\n({spec.loudness_window:.1f} s)", fontsize=8)
    axl.grid(True, axis="y", linewidth=0.3)
    axl.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False,
               handlelength=1.5)
    _time_axis(axl, duration)
    return _png(fig)
