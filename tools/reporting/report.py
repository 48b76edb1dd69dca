"""One self-contained HTML page that shows what a run made and why.

The page carries its pictures as base64 PNGs and its style inline, so it can be mailed or
archived on its own. The soundtrack's spectrogram is computed block by block into a fixed
number of time columns, so a two-hour mix costs the same memory as a two-minute one.
matplotlib is imported only when a picture is drawn: importing this module stays cheap.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from lvas.tools.common.paths import atomic_path

LAYERS = ("background", "foreground", "speech")
LAYER_COLOURS = {"background": "#4c72b0", "foreground": "#dd8452", "speech": "#55a868"}

_FIG_WIDTH_IN = 16.0
_DPI = 100
# Same horizontal margins on every time plot, so timeline and spectrogram line up on the page.
_LEFT, _RIGHT = 0.075, 0.915
# One spectrogram column per pixel of the plot's time axis.
_PLOT_COLUMNS = round((_RIGHT - _LEFT) * _FIG_WIDTH_IN * _DPI)
_MAX_SCENE_LABELS = 150
_MAX_CUE_LABELS = 300
_MAX_LANES = 3  # overlapping cues of one layer share at most this many sub-rows
_OPEN_TABLE_ROWS = 200  # longer tables start folded


# --------------------------------------------------------------------------- spectrogram


@dataclass(frozen=True)
class Spectrogram:
    """A soundtrack reduced to what the report draws.

    ``db`` is ``(rows, columns)``: mean power of the FFT bins in each band, in dB where a
    full-scale sine centred on a bin reads 0, rows log-spaced between
    ``freq_edges``; ``lufs`` is the loudness of each column averaged over ``loudness_window``
    seconds (K-weighted, channels summed as BS.1770 does).
    """

    duration: float
    sample_rate: int
    db: np.ndarray
    freq_edges: np.ndarray
    lufs: np.ndarray
    loudness_window: float
    k_weighted: bool
    blocks_read: int

    @property
    def column_seconds(self) -> float:
        return self.duration / self.db.shape[1] if self.db.size else 0.0


def _fft_size(sample_rate: int) -> int:
    """About 40 ms of audio, a power of two: fine enough in time and in frequency."""
    return max(256, 1 << math.ceil(math.log2(max(sample_rate, 1) * 0.04)))


class _Bands:
    """Averages FFT bins into log-spaced bands: a cumulative sum, no matrix product.

    (A dense band matrix would need BLAS, whose thread start-up costs more than the work for
    the small products made here.) Bands narrower than a bin interpolate their two neighbours.
    """

    def __init__(self, freqs: np.ndarray, edges: np.ndarray) -> None:
        self.lo = np.searchsorted(freqs, edges[:-1], "left")
        self.hi = np.searchsorted(freqs, edges[1:], "left")
        self.ranged = self.hi > self.lo
        centre = np.sqrt(edges[:-1] * edges[1:])
        right = np.clip(np.searchsorted(freqs, centre), 1, len(freqs) - 1)
        self.left, self.right = right - 1, right
        self.frac = (centre - freqs[self.left]) / (freqs[self.right] - freqs[self.left])

    def __call__(self, power: np.ndarray) -> np.ndarray:
        """``(frames, bins)`` power to ``(frames, bands)``."""
        csum = np.zeros((len(power), power.shape[1] + 1))
        np.cumsum(power, axis=1, out=csum[:, 1:])
        width = np.maximum(self.hi - self.lo, 1)
        ranged = (csum[:, self.hi] - csum[:, self.lo]) / width
        interp = power[:, self.left] * (1 - self.frac) + power[:, self.right] * self.frac
        return np.where(self.ranged, ranged, interp)


def compute_spectrogram(
    path: str | os.PathLike[str],
    *,
    columns: int = _PLOT_COLUMNS,
    rows: int = 160,
    frames_per_column: int = 8,
    block_frames: int = 1 << 17,
    max_freq: float = 20000.0,
) -> Spectrogram:
    """Average STFT power into at most ``columns`` time columns, reading ``block_frames`` at a time.

    Long files are sampled: at most ``frames_per_column`` FFT frames land in each column, so the
    FFT work is bounded however long the file; memory holds one block plus the columns. The
    picture shows the channels' mean power. The loudness curve takes each column's exact energy
    (every sample, channels summed with equal weight) and K-weights it by the ratio that the
    K-filter's response gives on that column's FFT frames: an overview for the eye, not a
    meter (the mix's integrated loudness is measured by :mod:`lvas.tools.audio.loudness`).
    """
    import soundfile as sf
    from scipy import signal
    from scipy.ndimage import uniform_filter1d

    from lvas.tools.audio.loudness import k_weighting_sos

    with sf.SoundFile(str(path)) as f:
        sr, channels, total = int(f.samplerate), int(f.channels), int(f.frames)
        n_fft = _fft_size(sr)
        half = n_fft // 2
        ncols = int(max(1, min(columns, total // half)))
        hop = max(half, total // (ncols * frames_per_column))
        window = np.hanning(n_fft + 1)[:-1]  # periodic Hann: constant sum at 50 % overlap
        freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
        f_hi = min(max_freq, sr / 2.0)
        f_lo = min(max(20.0, 2.0 * sr / n_fft), f_hi / 2.0)
        edges = np.geomspace(f_lo, f_hi, rows + 1)
        bands = _Bands(freqs, edges)
        # One-sided spectrum: every bin but DC and Nyquist stands for two (Parseval).
        one_sided = np.full(len(freqs), 2.0)
        one_sided[0] = one_sided[-1] = 1.0
        k_weighted = sr >= 8000  # the filter's 1.7 kHz shelf needs the band below Nyquist
        gain = one_sided
        if k_weighted:
            _, response = signal.sosfreqz(k_weighting_sos(sr), worN=freqs, fs=sr)
            gain = one_sided * np.abs(response) ** 2
        sine_scale = (window.sum() / 2.0) ** 2  # a full-scale sine then reads 0 dB

        power = np.zeros((ncols, rows))
        counts = np.zeros(ncols)
        k_sampled = np.zeros(ncols)  # K-weighted and plain power of the FFT frames: their
        plain_sampled = np.zeros(ncols)  # ratio turns each column's exact energy into LUFS
        energy = np.zeros(ncols)  # sum of squares over every sample and channel
        samples = np.zeros(ncols)

        def add_frames(buf: np.ndarray, buf_start: int, starts: np.ndarray) -> None:
            view = np.lib.stride_tricks.sliding_window_view(buf, n_fft, axis=0)  # (n, ch, fft)
            spec = np.fft.rfft(view[starts - buf_start] * window, axis=-1)
            pw = spec.real**2 + spec.imag**2  # (frames, channels, bins)
            cols = np.minimum((starts + half) * ncols // max(total, 1), ncols - 1)
            first = np.flatnonzero(np.diff(cols, prepend=-1))  # cols never decrease
            where = cols[first]
            power[where] += np.add.reduceat(bands(pw.mean(axis=1) / sine_scale), first, axis=0)
            k_sampled[where] += np.add.reduceat(np.einsum("fcb,b->f", pw, gain), first)
            plain_sampled[where] += np.add.reduceat(np.einsum("fcb,b->f", pw, one_sided), first)
            counts[where] += np.diff(np.append(first, len(cols)))

        buf = np.zeros((0, channels), dtype=np.float32)
        buf_start = next_start = 0
        blocks = pos = 0
        while True:
            data = f.read(block_frames, dtype="float32", always_2d=True)
            if not len(data):
                break
            blocks += 1
            # Every sample's energy, per column: cheap, and exact however sparse the FFTs are.
            c0, c1 = pos * ncols // total, (pos + len(data) - 1) * ncols // total
            cuts = [-(-c * total // ncols) - pos for c in range(c0 + 1, c1 + 1)]
            idx = np.array([0, *cuts], dtype=np.intp)
            energy[c0 : c1 + 1] += np.add.reduceat(np.einsum("fc,fc->f", data, data), idx)
            samples[c0 : c1 + 1] += np.diff(np.append(idx, len(data)))
            pos += len(data)
            # Keep only what a frame still needs: the carried tail plus the new block.
            buf = np.concatenate((buf, data)) if len(buf) else data
            last = buf_start + len(buf) - n_fft
            if last >= next_start:
                starts = np.arange(next_start, last + 1, hop)
                for group in np.array_split(starts, -(-len(starts) // 128)):  # bounded memory
                    add_frames(buf, buf_start, group)
                next_start = int(starts[-1]) + hop
            drop = min(next_start - buf_start, len(buf))
            buf, buf_start = buf[drop:], buf_start + drop
        if not counts.any() and total:  # shorter than one FFT frame: zero-pad it
            padded = np.pad(buf, ((0, n_fft - len(buf)), (0, 0)))
            add_frames(padded, buf_start, np.array([buf_start]))

    filled = np.flatnonzero(counts)
    if len(filled):
        power[filled] /= counts[filled, None]
        # Columns no frame fell into borrow their nearest earlier (or first) neighbour.
        if len(filled) < ncols:
            nearest = np.searchsorted(filled, np.arange(ncols), "right") - 1
            nearest = filled[np.clip(nearest, 0, None)]
            power = power[nearest]
            k_sampled, plain_sampled = k_sampled[nearest], plain_sampled[nearest]
    ratio = np.divide(k_sampled, plain_sampled, out=np.ones(ncols), where=plain_sampled > 0)
    loud = energy / np.maximum(samples, 1) * ratio
    column_s = total / sr / ncols if sr else 0.0
    # Smooth short columns to BS.1770's 400 ms momentary window, in power.
    width = max(1, round(0.4 / column_s)) if column_s else 1
    if width > 1:
        loud = uniform_filter1d(loud, width, mode="nearest")
    with np.errstate(divide="ignore"):
        lufs = (-0.691 if k_weighted else 0.0) + 10.0 * np.log10(loud)
    db = power.T  # in place from here: the columns are the largest arrays held
    np.maximum(db, 1e-12, out=db)
    np.log10(db, out=db)
    db *= 10.0
    return Spectrogram(
        duration=total / sr if sr else 0.0,
        sample_rate=sr,
        db=db,
        freq_edges=edges,
        lufs=np.maximum(lufs, -70.0),
        loudness_window=max(width * column_s, column_s),
        k_weighted=k_weighted,
        blocks_read=blocks,
    )


# --------------------------------------------------------------------------- plots


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


def _float(value: Any, default: float = 0.0) -> float:
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
    px_per_s = _PLOT_COLUMNS / max(duration, 1e-3)
    font = 7.0
    char_px = 0.62 * font * _DPI / 72.0
    nlayers = len(LAYERS)
    scene_row = nlayers  # the strip above the layers holds scene ids

    spans = [(_float(s.get("start")), _float(s.get("end"))) for s in scenes]
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
            key=lambda s: (_float(s.get("start")), _float(s.get("end"))),
        )
        spans = [(_float(c.get("start")), _float(c.get("end"))) for c in cues]
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
        value = _float((loudness or {}).get(key), math.nan)
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


# --------------------------------------------------------------------------- HTML

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5em auto;
max-width:1680px;padding:0 1em;color:#222}
h1{margin:0 0 .2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.meta{color:#555}.meta span{margin-right:1.4em}
img{max-width:100%;height:auto;display:block;border:1px solid #eee}
table{border-collapse:collapse;margin:.4em 0;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:600;background:#fafafa}
.warnings{border-left:4px solid #e0a100;background:#fff8e1;padding:.5em 1em}
.warnings.none{border-color:#5a5;background:#f1f8f1}
.layer{display:inline-block;width:.8em;height:.8em;margin-right:.3em;border-radius:2px}
summary{cursor:pointer;color:#335}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: Any, fmt: str = "{:.2f}") -> str:
    if value is None or value == "":
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return _e(value)
    if math.isnan(number):
        return ""
    if math.isinf(number):
        return "−∞" if number < 0 else "∞"
    return _e(fmt.format(number))


def _time(value: Any) -> str:
    number = _float(value, math.nan)
    return _e(format_clock(number, 2)) if math.isfinite(number) else ""


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], numeric: Collection[int] = (),
           total: Sequence[str] | None = None) -> str:
    """Rows are already-escaped cell HTML; ``numeric`` columns align right."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    lines = [f"<table><thead><tr>{head}</tr></thead><tbody>"]
    for row in [*rows, *([total] if total else [])]:
        cells = "".join(
            f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        css = ' class="total"' if total is not None and row is total else ""
        lines.append(f"<tr{css}>{cells}</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _folded(table_html: str, count: int, noun: str) -> str:
    state = " open" if count <= _OPEN_TABLE_ROWS else ""
    return f"<details{state}><summary>{count} {_e(noun)}</summary>\n{table_html}\n</details>"


def _href(target: str, base: Path) -> str:
    """A relative, URL-quoted link; absolute paths become relative to the report's folder."""
    path = str(target)
    if os.path.isabs(path):
        try:
            path = os.path.relpath(path, base)
        except ValueError:  # another drive on Windows: keep it absolute
            return _e(Path(path).as_uri())
    return _e(quote(path.replace(os.sep, "/")))


def _link(target: str | None, base: Path) -> str:
    if not target:
        return ""
    return f'<a href="{_href(target, base)}">{_e(target)}</a>'


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("lvas-agent")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _usage_section(summary: Mapping[str, Any] | None) -> str:
    roles = (summary or {}).get("roles") or {}
    if not roles:
        return "<p>No model calls recorded.</p>"
    cost_key = next((k for k in ("cost_usd", "cost") if any(k in r for r in roles.values())),
                    None)
    header = ["role", "calls", "cached", "tokens in", "tokens out", "latency (s)"]
    keys = ["calls", "cached", "tokens_in", "tokens_out", "latency_s"]
    if cost_key:
        header.append("cost (USD)" if cost_key == "cost_usd" else "cost")
        keys.append(cost_key)
    fmts = {"latency_s": "{:.1f}", "cost_usd": "{:.4f}", "cost": "{:.4f}"}

    def cells(name: str, record: Mapping[str, Any]) -> list[str]:
        return [_e(name)] + [_num(record.get(k), fmts.get(k, "{:.0f}")) for k in keys]

    rows = [cells(role, r) for role, r in sorted(roles.items())]
    total = dict(summary.get("total") or {})
    if cost_key and cost_key not in total:
        total[cost_key] = sum(_float(r.get(cost_key)) for r in roles.values())
    return _table(header, rows, numeric=set(range(1, len(header))), total=cells("total", total))


def _loudness_section(loudness: Mapping[str, Any] | None) -> str:
    if not loudness:
        return "<p>Not measured.</p>"
    names = {"integrated_lufs": ("integrated loudness (soundtrack.wav)", "LUFS"),
             "true_peak_db": ("true peak (soundtrack.wav)", "dBTP"),
             "delivered_lufs": ("integrated loudness (as encoded in the video)", "LUFS"),
             "delivered_peak_db": ("true peak (as encoded in the video)", "dBTP"),
             "delivery_trim_db": ("trim applied to the encoded track", "dB"),
             "target_lufs": ("target", "LUFS")}
    rows = []
    for key in [*names, *(k for k in loudness if k not in names)]:
        if key in loudness:
            label, unit = names.get(key, (key, ""))
            rows.append([_e(label), _num(loudness[key], "{:.2f}"), _e(unit)])
    return _table(["measure", "value", "unit"], rows, numeric={1})


def write_report(
    out_path: Path,
    *,
    title: str,
    video: str,
    duration: float,
    scenes: list[dict],
    sounds: list[dict],
    clips: list[dict],
    soundtrack: Path | None,
    warnings: list[str],
    timings: dict[str, float],
    usage_summary: dict | None,
    loudness: dict | None,
    artifacts: dict[str, str],
    plan_path: str | None,
) -> Path:
    """Write the run's report as one self-contained HTML file (atomically) and return its path.

    Every string that came from the user or a model is escaped; artifacts are linked relative to
    the report's folder so the run directory can be moved as a whole.
    """
    out_path = Path(out_path)
    base = out_path.parent.resolve()
    ends = [_float(x.get("end")) for x in [*scenes, *sounds]]
    ends += [_float(c.get("start")) + _float(c.get("duration")) for c in clips]
    span = max([_float(duration), *ends, 0.0])

    spec_html = "<p>No soundtrack (plan only).</p>"
    spectrogram: Spectrogram | None = None
    if soundtrack is not None:
        try:
            spectrogram = compute_spectrogram(soundtrack)
        except (OSError, RuntimeError, ValueError) as exc:  # soundfile's errors derive from these
            spec_html = f"<p>Could not read the soundtrack {_e(soundtrack)}: {_e(exc)}</p>"
    if spectrogram is not None:
        span = max(span, spectrogram.duration)
        spec_html = _img(render_spectrogram(spectrogram, span, loudness),
                         "spectrogram and loudness of the soundtrack")
        unit = "K-weighted, LUFS" if spectrogram.k_weighted else "unweighted, dBFS"
        spec_html += (
            f'<p class="meta">{spectrogram.sample_rate} Hz, '
            f"{_e(format_clock(spectrogram.duration, 2))}. Loudness curve: "
            f"{spectrogram.loudness_window:.1f} s windows ({unit}), for orientation; the "
            "integrated value in the loudness table is the measurement.</p>"
        )
    timeline_html = _img(render_timeline(scenes, sounds, span), "timeline of scenes and cues")

    by_start = sorted(scenes, key=lambda s: _float(s.get("start")))
    scene_rows = [[_e(s.get("id")), _time(s.get("start")), _time(s.get("end")),
                   _e(s.get("caption", ""))] for s in by_start]
    backend = {str(c.get("sound_id")): c.get("backend", "") for c in clips}
    sound_rows = []
    order = {layer: i for i, layer in enumerate(LAYERS)}
    for s in sorted(sounds, key=lambda s: (_float(s.get("start")), order.get(s.get("layer"), 9))):
        layer = str(s.get("layer", ""))
        swatch = (f'<span class="layer" style="background:{LAYER_COLOURS[layer]}"></span>'
                  if layer in LAYER_COLOURS else "")
        sound_rows.append([
            _e(s.get("scene_id")), swatch + _e(layer), _e(s.get("description")),
            _e(s.get("label")), _time(s.get("start")), _time(s.get("end")),
            _num(s.get("volume_db"), "{:.1f}"), _e(backend.get(str(s.get("id")), "")),
        ])

    if warnings:
        items = "".join(f"<li>{_e(w)}</li>" for w in warnings)
        warn_html = f'<div class="warnings"><ul>{items}</ul></div>'
    else:
        warn_html = '<div class="warnings none">none</div>'

    total_s = sum(_float(v) for v in timings.values())
    timing_rows = [
        [_e(node), _num(sec, "{:.3f}"), _num(100.0 * _float(sec) / (total_s or 1.0), "{:.1f}")]
        for node, sec in sorted(timings.items(), key=lambda kv: (-_float(kv[1]), kv[0]))
    ]
    timing_html = (_table(["node", "seconds", "%"], timing_rows, numeric={1, 2},
                          total=["total", _num(total_s, "{:.3f}"), "100.0" if total_s else ""])
                   + "<p class=\"meta\">Seconds per node, summed over its runs; fanned-out "
                   "nodes run side by side, so the total can exceed the wall-clock time.</p>"
                   if timings else "<p>No timings recorded.</p>")

    artifact_rows = [[_e(name), _link(path, base)] for name, path in artifacts.items() if path]
    artifact_html = (_table(["artifact", "path"], artifact_rows) if artifact_rows
                     else "<p>None.</p>")

    meta = [("video", _e(video)), ("duration", _e(format_clock(_float(duration), 2))),
            ("generated", _e(datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"))),
            ("LVAS", _e(_version()))]
    if plan_path:
        meta.append(("plan", _link(plan_path, base)))
    meta_html = "".join(f"<span><b>{name}:</b> {value}</span>" for name, value in meta)

    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{_STYLE}</style></head>
<body>
<h1>{_e(title)}</h1>
<p class="meta">{meta_html}</p>
<h2>Warnings</h2>
{warn_html}
<h2>Timeline</h2>
{timeline_html}
<h2>Soundtrack</h2>
{spec_html}
<h2>Scenes</h2>
{_folded(_table(["id", "start", "end", "caption"], scene_rows, numeric={1, 2}),
         len(scene_rows), "scenes")}
<h2>Sounds</h2>
{_folded(_table(["scene", "layer", "description", "label", "start", "end", "volume (dB)",
                 "backend"], sound_rows, numeric={4, 5, 6}), len(sound_rows), "sounds")}
<h2>Loudness</h2>
{_loudness_section(loudness)}
<h2>Timings</h2>
{timing_html}
<h2>Model usage</h2>
{_usage_section(usage_summary)}
<h2>Artifacts</h2>
{artifact_html}
</body></html>
"""
    with atomic_path(out_path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out_path
