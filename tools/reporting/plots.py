"""The report's picture: the spectrogram with its loudness curve, drawn by matplotlib into PNG
bytes, and the layer colours and time formats the page shares with it.

The plot's time axis spans a fixed share of the picture's width (``_LEFT`` to ``_RIGHT``), the
share the page's HTML timeline gives its tracks, so on the page their time axes line up.
matplotlib is imported only when a picture is drawn: importing this module stays cheap.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
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


def time_step(duration: float, target_ticks: int = 12) -> float:
    """A round step between labelled times, at most ``target_ticks`` of them over ``duration``."""
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
    step = time_step(duration)
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


def load_matplotlib() -> None:
    """Import what :func:`_figure` and the plots use, ahead of the first picture (about 0.5 s),
    where a caller has a core to spare."""
    _time_axis(_figure(1.0).add_subplot(), 1.0)


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def as_float(value: Any, default: float = 0.0) -> float:
    """``value`` as a finite float, else ``default``: plans come from users and models."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return out if math.isfinite(out) else default


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
