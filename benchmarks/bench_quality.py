"""Benchmark: the offline default's soundtracks, scored with the project's weight-free metrics.

Dubs a fixed set of videos (the three real clips of ``../shared/media`` and a few made at run
time with ffmpeg into a temporary folder) with the offline default (offline planner,
procedural generator) and a fixed seed, through a given ``lvas`` executable, then scores every
soundtrack with the metrics of *this* checkout's ``lvas.tools.evaluation`` (dropouts, seams,
sync, as ``lvas eval`` computes them), plus two figures the issue judges the default by:

- **bed floor**: in each scene's bed span of the background stem, the share of 0.4 s windows
  (every 0.1 s) more than 20 dB under the span's median 0.4 s level, and the deepest drop
  (median minus the lowest window, levels floored at -120 dBFS);
- **spectral balance**: the share of the mix's energy above 1 kHz;
- **events against the picture**: how many event onsets the plan has, and the sync metric of
  the foreground (events) stem alone. The mix's lag and onset F1 compare *every* audio onset
  with the picture's motion onsets: where a plan has no events, the beds' own texture (a gust,
  a passing car, the first frame of sound) makes them, so they say nothing about sync there;
  the correlation at the mix's lag is printed beside it to tell a found alignment from chance.

The same script measures an older install by pointing ``--lvas`` at its console script, so
"before" and "after" are scored by the same code:

    python benchmarks/bench_quality.py [--lvas PATH] [--seed 0] [--json OUT.json]
        [--only NAME,...] [--work DIR] [--media ../shared/media] [--cache DIR]
    python benchmarks/bench_quality.py --score RUN_DIR [RUN_DIR ...] [--json OUT.json]
    python benchmarks/bench_quality.py --compare BEFORE.json AFTER.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lvas.tools.audio.audio_io import wav_info  # noqa: E402
from lvas.tools.common.paths import file_sha256, write_json  # noqa: E402
from lvas.tools.evaluation.dropouts import THRESHOLD_DB, window_levels_db  # noqa: E402
from lvas.tools.evaluation.metric import MetricInputs  # noqa: E402
from lvas.tools.evaluation.registry import get_metric  # noqa: E402
from lvas.tools.evaluation.run_records import read_run  # noqa: E402
from lvas.tools.evaluation.streaming import HopMeans, iter_blocks, iter_mono  # noqa: E402
from lvas.tools.evaluation.sync import sync_metric  # noqa: E402

FLOOR_WINDOW_SECONDS = 0.4
FLOOR_HOP_SECONDS = 0.1
FLOOR_DROP_DB = 20.0
LEVEL_FLOOR_DB = -120.0
HF_SPLIT_HZ = 1000.0
HF_FRAME = 8192
SEED = 0

# --------------------------------------------------------------------------- the fixed set


@dataclass(frozen=True)
class SetVideo:
    """One video of the fixed set: how to get it, what to tell ``lvas dub``, and why it is in."""

    name: str
    why: str
    make: Callable[[Path, Path], Path]  # (work folder, media folder) -> video
    prompt: str | None = None


def _media(file: str) -> Callable[[Path, Path], Path]:
    return lambda work, media: media / file


def _loop(file: str, seconds: float) -> Callable[[Path, Path], Path]:
    def make(work: Path, media: Path) -> Path:
        from lvas.tools.common.ffmpeg import run_ffmpeg

        out = work / f"{Path(file).stem}_loop{seconds:g}{Path(file).suffix}"
        if not out.exists():
            run_ffmpeg(
                [
                    "-y",
                    "-stream_loop",
                    "-1",
                    "-i",
                    str(media / file),
                    "-map",
                    "0:v:0",
                    "-c",
                    "copy",
                    "-t",
                    f"{seconds:.3f}",
                    str(out),
                ]
            )
        return out

    return make


def _foliage(seconds: float) -> Callable[[Path, Path], Path]:
    """A long, green, textured shot with a slow moving shape: the "birds over a 79 s scene"
    case of the issue (a bed held for a long time with few events)."""

    def make(work: Path, media: Path) -> Path:
        from lvas.tools.common.ffmpeg import run_ffmpeg

        out = work / f"foliage_{seconds:g}s.mp4"
        if not out.exists():
            graph = (
                f"color=c=0x2e7d32:s=640x360:r=25:d={seconds},noise=alls=28:allf=u[bg];"
                "color=c=0x1b4d1f:s=120x160:r=25[leaf];"
                "[bg][leaf]overlay=x='mod(t*12,640)':y=120:shortest=1,format=yuv420p"
            )
            run_ffmpeg(
                [
                    "-y",
                    "-f",
                    "lavfi",
                    "-i",
                    graph,
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-t",
                    f"{seconds}",
                    str(out),
                ]
            )
        return out

    return make


def _cuts(durations: Sequence[float]) -> Callable[[Path, Path], Path]:
    def make(work: Path, media: Path) -> Path:
        from tests.videos import make_cut_video

        out = work / f"multicut_{len(durations)}.mp4"
        if not out.exists():
            make_cut_video(out, durations, size=(640, 360))
        return out

    return make


QUALITY_SET: tuple[SetVideo, ...] = (
    SetVideo("cockatoo", "real 720p H.264, 14 s: a bird close-up", _media("cockatoo.mp4")),
    SetVideo(
        "big_buck_bunny",
        "real VP8 animation, 30 s, several shots",
        _media("big_buck_bunny_0_30.webm"),
    ),
    SetVideo("kivy_city", "real MPEG-2, 7.6 s: a city", _media("kivy_cityCC0.mpg")),
    SetVideo(
        "cockatoo_loop75",
        "the cockatoo looped to 75 s: long beds and windows",
        _loop("cockatoo.mp4", 75.0),
    ),
    SetVideo("foliage_80", "generated green textured shot, 80 s: one long bed", _foliage(80.0)),
    SetVideo(
        "multicut_20",
        "generated, 6 shots with hard cuts in 20 s (tests/videos recipe)",
        _cuts((3.0, 2.0, 4.0, 2.5, 3.5, 5.0)),
    ),
    SetVideo(
        "storm_prompt",
        "the cockatoo with the prompt 'heavy rain pouring and rolling thunder': a compound scene",
        _media("cockatoo.mp4"),
        prompt="heavy rain pouring and rolling thunder",
    ),
)

# --------------------------------------------------------------------------- the figures

# (key, column heading, format, meaning); the order is the tables' order.
MIX_FIGURES: tuple[tuple[str, str, str, str], ...] = (
    ("duration_s", "dur s", "{:.1f}", "soundtrack length (s)"),
    ("scenes", "scenes", "{:.0f}", "scenes in the plan"),
    (
        "dropout_count",
        "drop n",
        "{:.0f}",
        "mix dropouts: runs of 100 ms windows > 30 dB under the median",
    ),
    ("dropout_total_s", "drop s", "{:.1f}", "mix dropouts: total seconds"),
    ("dropout_longest_s", "longest", "{:.1f}", "mix dropouts: longest (s)"),
    (
        "seam_level_jump_db_ratio",
        "seam lvl",
        "{:.2f}",
        "seams: level jump ratio (boundary / inside)",
    ),
    ("seam_spectral_change_db_ratio", "seam spec", "{:.2f}", "seams: spectral change ratio"),
    ("seam_click_ratio", "seam clk", "{:.2f}", "seams: click ratio"),
    ("sync_lag_s", "lag s", "{:+.2f}", "sync: lag (s, + = audio late)"),
    ("sync_onset_f1", "onset F1", "{:.2f}", "sync: onset F1 at +-100 ms"),
    ("sync_correlation", "corr", "{:.2f}", "sync: correlation of the envelopes at that lag"),
    ("hf_share", "HF>1k", "{:.3f}", "share of the mix's energy above 1 kHz"),
)
BED_FIGURES: tuple[tuple[str, str, str, str], ...] = (
    ("bed_spans", "beds", "{:.0f}", "bed spans measured (scenes with a background sound)"),
    ("bed_dropout_count", "drop n", "{:.0f}", "bed stem dropouts: runs (100 ms, 30 dB)"),
    ("bed_dropout_total_s", "drop s", "{:.1f}", "bed stem dropouts: total seconds"),
    ("bed_dropout_longest_s", "longest", "{:.1f}", "bed stem dropouts: longest (s)"),
    (
        "bed_floor_share",
        "floor<20dB",
        "{:.3f}",
        "share of 0.4 s windows > 20 dB under their bed's median",
    ),
    ("bed_deepest_drop_db", "deepest dB", "{:.1f}", "deepest 0.4 s drop under a bed's median (dB)"),
    ("bed_hf_share", "HF>1k", "{:.3f}", "share of the bed stem's energy above 1 kHz"),
)
EVENT_FIGURES: tuple[tuple[str, str, str, str], ...] = (
    ("event_onsets", "onsets", "{:.1f}", "event onsets in the plan (foreground sounds)"),
    ("event_lag_s", "lag s", "{:+.2f}", "events stem sync: lag (s)"),
    ("event_onset_f1", "onset F1", "{:.2f}", "events stem sync: onset F1 at +-100 ms"),
    ("event_correlation", "corr", "{:.2f}", "events stem sync: correlation at that lag"),
)
FIGURES = MIX_FIGURES + BED_FIGURES + EVENT_FIGURES


def _runs(mask: np.ndarray) -> tuple[int, int]:
    """(number of runs of True, longest run) in a boolean array."""
    if not mask.any():
        return 0, 0
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return len(starts), int((ends - starts).max())


def dropout_figures(path: Path) -> dict[str, float]:
    """The dropouts metric's windows (100 ms, 30 dB under the median or digitally silent),
    counted as runs: how many dropouts, how long in all, the longest."""
    levels = window_levels_db(path)
    if not len(levels):
        return {"count": 0.0, "total_s": 0.0, "longest_s": 0.0}
    low = np.isneginf(levels) | (levels < float(np.median(levels)) - THRESHOLD_DB)
    count, longest = _runs(low)
    return {"count": float(count), "total_s": float(low.sum()) * 0.1, "longest_s": longest * 0.1}


def sliding_levels_db(
    path: Path, window: float = FLOOR_WINDOW_SECONDS, hop: float = FLOOR_HOP_SECONDS
) -> np.ndarray:
    """RMS level (dBFS, floored at -120) of ``window``-long stretches every ``hop`` seconds of
    the mono mix; entry i covers [i * hop, i * hop + window)."""
    sr = wav_info(path).sample_rate
    hops = HopMeans(max(int(round(hop * sr)), 1))
    parts = [hops.add(block * block) for block in iter_mono(path)]
    power = np.concatenate(parts) if parts else np.zeros(0)
    k = max(int(round(window / hop)), 1)
    if len(power) < k:
        return np.zeros(0)
    mean = np.convolve(power, np.ones(k) / k, mode="valid")
    return 10.0 * np.log10(np.maximum(mean, 10.0 ** (LEVEL_FLOOR_DB / 10.0)))


def bed_floor(
    path: Path, spans: Sequence[tuple[float, float]], drop_db: float = FLOOR_DROP_DB
) -> dict[str, float | None]:
    """Windows more than ``drop_db`` under their own bed's median, pooled over the spans, and
    the deepest drop of any span (median minus its lowest window)."""
    levels = sliding_levels_db(path)
    below = total = 0
    deepest: float | None = None
    for start, end in spans:
        first = math.ceil(start / FLOOR_HOP_SECONDS - 1e-9)
        last = math.floor((end - FLOOR_WINDOW_SECONDS) / FLOOR_HOP_SECONDS + 1e-9)
        span = levels[max(first, 0) : min(last + 1, len(levels))]
        if not len(span):
            continue
        median = float(np.median(span))
        below += int((span < median - drop_db).sum())
        total += len(span)
        drop = median - float(span.min())
        deepest = drop if deepest is None else max(deepest, drop)
    return {"share": below / total if total else None, "deepest_db": deepest}


def hf_share(path: Path, split_hz: float = HF_SPLIT_HZ, frame: int = HF_FRAME) -> float | None:
    """Share of the mono mix's energy above ``split_hz`` (Hann-windowed frames, DC left out);
    None for a silent file."""
    sr = wav_info(path).sample_rate
    freqs = np.fft.rfftfreq(frame, 1.0 / sr)
    high_bins, used = freqs > split_hz, freqs > 0
    window = np.hanning(frame)
    high = total = 0.0
    carry = np.zeros(0)
    for block in iter_blocks(path):
        x = np.concatenate([carry, block.mean(axis=1)])
        full = len(x) // frame
        if full:
            spec = np.abs(np.fft.rfft(x[: full * frame].reshape(full, frame) * window, axis=1)) ** 2
            high += float(spec[:, high_bins].sum())
            total += float(spec[:, used].sum())
        carry = x[full * frame :]
    if len(carry):  # the last partial frame, zero-padded
        spec = np.abs(np.fft.rfft(np.pad(carry, (0, frame - len(carry))) * window)) ** 2
        high += float(spec[high_bins].sum())
        total += float(spec[used].sum())
    return high / total if total > 0 else None


def bed_spans(plan: dict[str, Any]) -> list[tuple[float, float]]:
    """One span per scene that has background sounds: from the first one's start to the last
    one's end (compound beds overlap and are heard together)."""
    spans = []
    for design in (plan.get("designs") or {}).values():
        beds = [s for s in design.get("sounds", []) if s.get("layer") == "background"]
        if beds:
            spans.append((min(float(s["start"]) for s in beds), max(float(s["end"]) for s in beds)))
    return sorted(spans)


def event_onsets(plan: dict[str, Any]) -> int:
    """Onsets of the plan's foreground sounds: the events placed on the picture."""
    return sum(
        len(s.get("onsets") or [])
        for design in (plan.get("designs") or {}).values()
        for s in design.get("sounds", [])
        if s.get("layer") == "foreground"
    )


def sync_figures(
    mix: Path, motion: Any, scenes: Sequence[tuple[float, float]], plan: dict[str, Any]
) -> dict[str, float | None]:
    """The correlation behind the mix's lag, and the sync metric of the events stem alone
    (None where the plan has no events or the run wrote no foreground stem)."""
    figures: dict[str, float | None] = {
        "sync_correlation": None,
        "event_onsets": float(event_onsets(plan)),
        "event_lag_s": None,
        "event_onset_f1": None,
        "event_correlation": None,
    }
    if motion is None:
        return figures
    figures["sync_correlation"] = sync_metric(mix, motion, scenes).overall.correlation
    events = mix.parent / "stems" / "stem_foreground.wav"
    if figures["event_onsets"] and events.is_file():
        overall = sync_metric(events, motion, scenes).overall
        figures.update(
            event_lag_s=overall.lag_seconds,
            event_onset_f1=overall.onset_f1,
            event_correlation=overall.correlation,
        )
    return figures


def _headline(metric: str, inputs: MetricInputs) -> dict[str, float | None]:
    found = get_metric(metric)
    assert found is not None, metric
    try:
        return dict(found.compute(inputs))
    except ValueError:  # the metric's own "needs ..." (no scenes, no motion): no value
        return {key: None for key in found.keys}


def score_run(run_dir: str | os.PathLike[str]) -> dict[str, float | None]:
    """Every figure of one dub's run directory: its ``soundtrack.wav`` (the mix), its
    background stem and its plan (scenes, motion envelope, beds), scored by this checkout."""
    root = Path(run_dir)
    records = read_run(root)
    if records is None:
        raise ValueError(f"{root} has no readable plan.json: not a run directory")
    mix = root / "soundtrack.wav"
    info = wav_info(mix)
    inputs = MetricInputs(
        soundtrack=mix, motion=records.motion, scenes=records.scenes, run_dir=root
    )
    figures: dict[str, float | None] = {
        "duration_s": info.frames / info.sample_rate,
        "scenes": float(len(records.scenes)),
    }
    drops = dropout_figures(mix)
    figures.update(
        {
            "dropout_count": drops["count"],
            "dropout_total_s": drops["total_s"],
            "dropout_longest_s": drops["longest_s"],
        }
    )
    figures.update(_headline("dropouts", inputs))
    figures.update(_headline("seams", inputs))
    figures.update(_headline("sync", inputs))
    figures.update(sync_figures(mix, records.motion, records.scenes, records.plan))
    figures["hf_share"] = hf_share(mix)
    bed = root / "stems" / "stem_background.wav"
    spans = bed_spans(records.plan)
    figures["bed_spans"] = float(len(spans))
    if bed.is_file():
        bed_drops = dropout_figures(bed)
        floor = bed_floor(bed, spans)
        figures.update(
            {
                "bed_dropout_count": bed_drops["count"],
                "bed_dropout_total_s": bed_drops["total_s"],
                "bed_dropout_longest_s": bed_drops["longest_s"],
                "bed_floor_share": floor["share"],
                "bed_deepest_drop_db": floor["deepest_db"],
                "bed_hf_share": hf_share(bed),
            }
        )
    return figures


def mean_figures(videos: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """Each figure's mean over the videos that have a value for it."""
    out: dict[str, float | None] = {}
    for key, *_ in FIGURES:
        values = [
            v["figures"][key]
            for v in videos.values()
            if v.get("figures") and v["figures"].get(key) is not None
        ]
        out[key] = float(np.mean(values)) if values else None
    return out


# --------------------------------------------------------------------------- dubbing


def default_lvas() -> str:
    """The ``lvas`` console script of the running interpreter's environment."""
    beside = Path(sys.executable).with_name("lvas")
    return str(beside) if beside.exists() else shutil.which("lvas") or "lvas"


def _output_suffix(video: Path) -> str:
    """The input's container where ``lvas dub`` writes it, else Matroska (an MPEG-PS input
    cannot be written back as .mpg); the soundtrack scored is the run's WAV either way."""
    suffix = video.suffix.lower()
    return suffix if suffix in {".mp4", ".mov", ".mkv", ".webm"} else ".mkv"


def dub(
    lvas: str, video: Path, out: Path, seed: int, prompt: str | None, env: dict[str, str]
) -> tuple[Path, float, dict[str, Any]]:
    """Run the offline default on ``video``; (run directory, wall seconds, --json summary)."""
    run_dir = out.with_name(out.name.split(".")[0] + ".lvas")
    cmd = [
        lvas,
        "dub",
        str(video),
        "-o",
        str(out),
        "--work-dir",
        str(run_dir),
        "--seed",
        str(seed),
        "--chat-backend",
        "offline",
        "--generator",
        "procedural",
        "--overwrite",
        "--json",
        "-q",
    ]
    if prompt:
        cmd += ["--prompt", prompt]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"lvas dub exited {done.returncode}: {done.stderr.strip()[-800:]}")
    return run_dir, wall, json.loads(done.stdout)


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def run_set(
    lvas: str, media: Path, work: Path, seed: int, only: set[str] | None, cache: str | None
) -> dict[str, Any]:
    """Dub and score every video of the set; one failing video is recorded, not fatal."""
    env = dict(os.environ)
    if cache:
        env["LVAS_CACHE_DIR"] = cache
    videos: dict[str, dict[str, Any]] = {}
    for item in QUALITY_SET:
        if only and item.name not in only:
            continue
        entry: dict[str, Any] = {"why": item.why, "prompt": item.prompt}
        try:
            video = item.make(work, media)
            entry["video"] = str(video)
            out = work / "dubs" / f"{item.name}.dubbed{_output_suffix(video)}"
            out.parent.mkdir(parents=True, exist_ok=True)
            run_dir, wall, summary = dub(lvas, video, out, seed, item.prompt, env)
            entry.update(
                dub_seconds=round(wall, 2),
                sounds=summary.get("sounds"),
                warnings=summary.get("warnings", []),
                soundtrack_sha256=file_sha256(run_dir / "soundtrack.wav"),
                figures=score_run(run_dir),
            )
            print(f"  {item.name:16s} dubbed in {wall:5.1f} s", file=sys.stderr)
        except Exception as exc:  # noqa: BLE001 - a benchmark reports and goes on
            entry["error"] = f"{type(exc).__name__}: {exc}"
            print(f"  {item.name:16s} FAILED: {entry['error']}", file=sys.stderr)
        videos[item.name] = entry
    return {
        "lvas": lvas,
        "seed": seed,
        "profile": "offline planner + procedural generator",
        "load_average": _load(),
        "videos": videos,
        "mean": mean_figures(videos),
    }


# --------------------------------------------------------------------------- printing


def _cell(fmt: str, value: Any) -> str:
    return "-" if value is None else fmt.format(value)


def print_tables(result: dict[str, Any]) -> None:
    """The mix table and the beds table: one row per video, then the mean."""
    rows = [(name, v.get("figures")) for name, v in result["videos"].items()]
    rows.append(("mean", result["mean"]))
    for title, figures in (
        ("mix", MIX_FIGURES),
        ("beds (background stem)", BED_FIGURES),
        ("events (foreground stem) against the picture's motion onsets", EVENT_FIGURES),
    ):
        print(f"\n{title}")
        widths = [max(len(h), 8) for _, h, _, _ in figures]
        print(
            f"{'video':18s}"
            + " ".join(f"{h:>{w}s}" for (_, h, _, _), w in zip(figures, widths, strict=True))
        )
        for name, values in rows:
            if values is None:
                print(f"{name:18s}{result['videos'][name].get('error', 'not scored')}")
                continue
            print(
                f"{name:18s}"
                + " ".join(
                    f"{_cell(fmt, values.get(k)):>{w}s}"
                    for (k, _, fmt, _), w in zip(figures, widths, strict=True)
                )
            )
    print()
    for key, _heading, _, meaning in FIGURES:
        print(f"  {key:32s} {meaning}")


def print_compare(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Each figure before and after, per video and for the mean (over each side's videos)."""
    names = list(before["videos"]) + [n for n in after["videos"] if n not in before["videos"]]
    print(f"before: {before.get('lvas')}  (load {before.get('load_average')})")
    print(f"after:  {after.get('lvas')}  (load {after.get('load_average')})")
    for name in [*names, "mean"]:
        b = before["mean"] if name == "mean" else before["videos"].get(name, {}).get("figures")
        a = after["mean"] if name == "mean" else after["videos"].get(name, {}).get("figures")
        print(f"\n{name}")
        print(f"  {'figure':32s} {'before':>10s} {'after':>10s} {'change':>10s}")
        for key, _, fmt, _ in FIGURES:
            bv = None if b is None else b.get(key)
            av = None if a is None else a.get(key)
            change = "-" if bv is None or av is None else f"{av - bv:+.3g}"
            print(f"  {key:32s} {_cell(fmt, bv):>10s} {_cell(fmt, av):>10s} {change:>10s}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lvas",
        default=default_lvas(),
        help="lvas executable to dub with (default: this environment's)",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument("--only", help="comma-separated names of the set's videos to run")
    parser.add_argument("--media", default=str(ROOT.parent / "shared" / "media"))
    parser.add_argument(
        "--work",
        help="keep generated videos and dubs here (default: a "
        "temporary folder, removed at the end)",
    )
    parser.add_argument("--cache", help="LVAS_CACHE_DIR for the dubs")
    parser.add_argument(
        "--score", nargs="+", metavar="RUN_DIR", help="only score existing run directories"
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        metavar=("BEFORE", "AFTER"),
        help="print two --json results side by side",
    )
    args = parser.parse_args(argv)

    if args.compare:
        before, after = (json.loads(Path(p).read_text(encoding="utf-8")) for p in args.compare)
        print_compare(before, after)
        return 0
    if args.score:
        videos = {Path(d).name: {"figures": score_run(d), "run_dir": str(d)} for d in args.score}
        result = {
            "lvas": None,
            "seed": None,
            "load_average": _load(),
            "videos": videos,
            "mean": mean_figures(videos),
        }
    else:
        work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="lvas-quality-"))
        work.mkdir(parents=True, exist_ok=True)
        only = set(args.only.split(",")) if args.only else None
        print(f"dubbing with {args.lvas}, seed {args.seed}, load {_load()}", file=sys.stderr)
        try:
            result = run_set(args.lvas, Path(args.media), work, args.seed, only, args.cache)
        finally:
            if not args.work:
                shutil.rmtree(work, ignore_errors=True)
        print(
            f"lvas {result['lvas']}  seed {result['seed']}  {result['profile']}  "
            f"load {result['load_average']}"
        )
    print_tables(result)
    if args.json:
        write_json(args.json, result)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
