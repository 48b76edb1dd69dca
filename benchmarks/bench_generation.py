"""Benchmark: audio generation — procedural speed on one core, windowing overhead, peak memory.

(a) The procedural synthesizer renders ``--seconds`` of every family, as a bed (stereo, as the
backend renders beds) and as an event layer (mono), into 48 kHz WAV files, pinned to one CPU
with one thread per math library; speed is a multiple of real time (audio seconds per CPU
second; wall shown beside it), per family and overall. Target: at least 50x real time for every
family and layer. Beside each bed: its floor (how far its quietest 0.4 s window falls under its
median, target <= 20 dB) and its inter-channel correlation (1: mono in two channels).
(b) The cost of long-scene windowing: a ``--window-minutes`` bed rendered by the procedural
generator wrapped to claim ``window_seconds=8`` (1 s overlap), against the time spent inside the
generator itself; the difference is the join (reading, crossfading, writing), shown as a share
of the render time and as seconds per hour of audio, beside the one-pass render of the same bed.
(c) A dub's clips on every core: ``--clips`` sounds like those of a ten-minute offline dub
(beds of 4-16 s, some compound, and footsteps and impacts at given onsets) rendered as the
generator node renders them (8 s windows, checked takes), from as many threads as LangGraph
runs, in this process alone and through the shared pool of render workers
(``procedural_workers``, started afresh each time), in turn ``--repeats`` times: the span on
the wall clock, the CPU of this process and of the workers, and whether every clip has the
same bytes both ways. Not pinned: it uses the CPUs this process may run on.
(d) Peak RSS of this process.

    python benchmarks/bench_generation.py [--seconds 60] [--families rain,wind] [--repeats 2]
        [--window-minutes 10] [--clips 100] [--json]
"""

from __future__ import annotations

import os

# One thread per math library. Thread pools size themselves when numpy/scipy are first
# imported, so these come before any import that pulls them in; (a) and (b) also pin this
# process to one CPU (``_one_core``), (c) uses them all.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator, Sequence  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import replace  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lvas.tools.generation import procedural_workers  # noqa: E402
from lvas.tools.generation.base import GenerationRequest  # noqa: E402
from lvas.tools.generation.procedural import RECIPE_FAMILIES, window_levels  # noqa: E402
from lvas.tools.generation.procedural_backend import ProceduralGenerator  # noqa: E402
from lvas.tools.generation.verify import render_verified  # noqa: E402
from lvas.tools.generation.windowing import plan_windows, render_windowed  # noqa: E402

SPEED_TARGET = 50.0
FLOOR_TARGET_DB = 20.0
SAMPLE_RATE = 48000
WINDOW = 8.0
OVERLAP = 1.0
LAYERS = (("background", "bed"), ("foreground", "events"))


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def _one_core() -> Iterator[None]:
    """Pin this process to one CPU for a measurement, and give the others back after it."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, cpus)


class _Say:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, text: str = "") -> None:
        if not self.quiet:
            print(text, flush=True)


# --- (a) procedural speed ----------------------------------------------------------------------


def synthesis_speed(
    families: Sequence[str], seconds: float, repeats: int, work: Path, say: _Say
) -> dict[str, dict[str, dict[str, float]]]:
    """Best-of-``repeats`` wall and CPU time of rendering each family and layer to a WAV file."""
    gen = ProceduralGenerator(sample_rate=SAMPLE_RATE)
    for family in families:  # warm-up: imports, filter design caches, page cache
        gen.render(GenerationRequest(family, 0.5, 0, family=family), work / "warm.wav")
    results: dict[str, dict[str, dict[str, float]]] = {}
    say(
        f"{'family':<10} {'bed x RT':>10} {'(wall)':>8} {'events x RT':>12} {'(wall)':>8} "
        f"{'floor dB':>9} {'L/R corr':>9}"
    )
    for family in families:
        row: dict[str, dict[str, float]] = {}
        for layer, short in LAYERS:
            request = GenerationRequest(
                f"{family} {short}", seconds, seed=1, family=family, layer=layer
            )
            walls, cpus = [], []
            for _ in range(repeats):
                start = _clock()
                gen.render(request, work / f"{family}-{short}.wav")
                wall, cpu = _since(start)
                walls.append(wall)
                cpus.append(cpu)
            row[short] = {
                "wall_s": min(walls),
                "cpu_s": min(cpus),
                "x_realtime": seconds / max(min(cpus), 1e-9),
                "x_realtime_wall": seconds / max(min(walls), 1e-9),
            }
        bed_audio, sr = sf.read(work / f"{family}-bed.wav", dtype="float64", always_2d=True)
        db = 20 * np.log10(window_levels(bed_audio, sr) + 1e-12)
        row["bed"]["floor_drop_db"] = float(np.median(db) - db.min())
        row["bed"]["channels"] = int(bed_audio.shape[1])
        row["bed"]["correlation"] = (
            float(np.corrcoef(bed_audio[:, 0], bed_audio[:, 1])[0, 1])
            if bed_audio.shape[1] == 2
            else 1.0
        )
        results[family] = row
        bed, ev = row["bed"], row["events"]
        flag = "" if min(bed["x_realtime"], ev["x_realtime"]) >= SPEED_TARGET else "  < target"
        if bed["floor_drop_db"] > FLOOR_TARGET_DB:
            flag += "  floor missed"
        say(
            f"{family:<10} {bed['x_realtime']:9.0f}x {bed['x_realtime_wall']:7.0f}x "
            f"{ev['x_realtime']:11.0f}x {ev['x_realtime_wall']:7.0f}x "
            f"{bed['floor_drop_db']:9.1f} {bed['correlation']:9.2f}{flag}"
        )
    return results


# --- (b) windowing overhead --------------------------------------------------------------------


class _TimedWindowed:
    """The procedural generator claiming a model's window; counts time spent inside it."""

    name = "procedural-windowed"
    version = ProceduralGenerator.version

    def __init__(self, inner: ProceduralGenerator, window: float) -> None:
        self.inner = inner
        self.capabilities = replace(inner.capabilities, window_seconds=window, max_batch=4)
        self.wall = 0.0
        self.cpu = 0.0
        self.rendered_seconds = 0.0

    def render(self, request: GenerationRequest, out_path: Path) -> Path:
        start = _clock()
        try:
            return self.inner.render(request, out_path)
        finally:
            wall, cpu = _since(start)
            self.wall += wall
            self.cpu += cpu
            self.rendered_seconds += request.duration

    def render_batch(self, requests, out_paths):
        return [self.render(r, Path(p)) for r, p in zip(requests, out_paths, strict=True)]


def windowing_overhead(family: str, minutes: float, work: Path, say: _Say) -> dict[str, float]:
    """Time ``render_windowed`` adds on top of the generator's own time, for one long bed."""
    duration = minutes * 60.0
    request = GenerationRequest(f"{family} bed", duration, seed=3, family=family)
    inner = ProceduralGenerator(sample_rate=SAMPLE_RATE)
    start = _clock()
    inner.render(request, work / "one-pass.wav")
    one_wall, one_cpu = _since(start)
    (work / "one-pass.wav").unlink()
    gen = _TimedWindowed(inner, WINDOW)
    start = _clock()
    render_windowed(gen, request, work / "windowed.wav", overlap=OVERLAP)
    total_wall, total_cpu = _since(start)
    (work / "windowed.wav").unlink()
    windows = len(plan_windows(duration, WINDOW, OVERLAP))
    over_wall, over_cpu = total_wall - gen.wall, total_cpu - gen.cpu
    hours = duration / 3600.0
    stats = {
        "family": family,
        "duration_s": duration,
        "windows": windows,
        "rendered_s": gen.rendered_seconds,
        "one_pass_wall_s": one_wall,
        "one_pass_cpu_s": one_cpu,
        "generator_wall_s": gen.wall,
        "generator_cpu_s": gen.cpu,
        "total_wall_s": total_wall,
        "total_cpu_s": total_cpu,
        "overhead_wall_s": over_wall,
        "overhead_cpu_s": over_cpu,
        "overhead_pct": 100.0 * over_cpu / max(gen.cpu, 1e-9),
        "overhead_pct_wall": 100.0 * over_wall / max(gen.wall, 1e-9),
        "overhead_s_per_audio_hour": over_cpu / hours,
        "overhead_wall_s_per_audio_hour": over_wall / hours,
    }
    say(
        f"{family} bed, {minutes:g} min in {windows} windows of <= {WINDOW:g} s "
        f"({OVERLAP:g} s overlap): {gen.rendered_seconds:.0f} s rendered "
        f"(+{100 * (gen.rendered_seconds / duration - 1):.1f} % for the overlaps)"
    )
    say(f"  one pass (no windows)    wall {one_wall:7.2f} s   cpu {one_cpu:7.2f} s")
    say(f"  windowed, total          wall {total_wall:7.2f} s   cpu {total_cpu:7.2f} s")
    say(f"    inside the generator   wall {gen.wall:7.2f} s   cpu {gen.cpu:7.2f} s")
    say(
        f"    join overhead          wall {over_wall:7.2f} s   cpu {over_cpu:7.2f} s   "
        f"= {stats['overhead_pct']:.1f} % of render time, "
        f"{stats['overhead_s_per_audio_hour']:.1f} s per audio hour (cpu)"
    )
    return stats


# --- (c) a dub's clips on every core ---------------------------------------------------------

_BEDS = ("wind", "room_tone", "rain", "birds", "traffic", "crowd", "water", "insects")
_COMPOUND = ("heavy rain and rolling thunder", "a busy street with traffic and footsteps")
_EVENTS = ("footsteps", "impact")


def dub_like_requests(count: int) -> list[GenerationRequest]:
    """Sounds like those of a ten-minute offline dub: about four beds (4-16 s, padded as the
    node pads them; some compound) to one event layer with onsets. Fixed by a seed."""
    rng = np.random.default_rng(14)
    out = []
    for i in range(count):
        duration = round(float(rng.uniform(4.0, 16.0)), 4)
        if i % 5 == 4:
            family = _EVENTS[i % len(_EVENTS)]
            onsets = tuple(round(float(t), 3) for t in np.sort(rng.uniform(0, duration, 6)))
            out.append(
                GenerationRequest(
                    f"{family} on gravel",
                    duration,
                    seed=1000 + i,
                    family=family,
                    layer="foreground",
                    onsets=onsets,
                )
            )
        else:
            family = _BEDS[i % len(_BEDS)]
            text = _COMPOUND[i % 2] if i % 7 == 3 else family.replace("_", " ")
            family = (
                "rain"
                if text.startswith("heavy")
                else ("traffic" if text.startswith("a busy") else family)
            )
            out.append(GenerationRequest(text, duration, seed=1000 + i, family=family))
    return out


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _render_all(
    requests: Sequence[GenerationRequest], folder: Path, threads: int
) -> dict[str, float]:
    """Render every request as the generator node does, from ``threads`` threads."""
    gen = ProceduralGenerator(sample_rate=SAMPLE_RATE)
    render = partial(render_windowed, window=WINDOW, overlap=OVERLAP)
    folder.mkdir(parents=True, exist_ok=True)
    start, kids = _clock(), _children_cpu()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(
            pool.map(
                lambda ir: render_verified(gen, ir[1], folder / f"{ir[0]:04d}.wav", render=render),
                enumerate(requests),
            )
        )
    wall, cpu = _since(start)
    procedural_workers.shared_pool().close()  # the workers exit and their CPU is counted
    return {"wall_s": wall, "cpu_s": cpu, "workers_cpu_s": _children_cpu() - kids}


def _digests(folder: Path) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.wav"))]


def pool_speed(count: int, repeats: int, work: Path, say: _Say) -> dict[str, float | int | bool]:
    """The same clips rendered in this process alone and through the shared pool, in turn
    ``repeats`` times (the shorter span of each counts), each pool pass starting its workers."""
    requests = dub_like_requests(count)
    audio = sum(r.duration for r in requests)
    cpus = procedural_workers.usable_cpus()
    threads = min(32, (os.cpu_count() or 1) + 4)  # what LangGraph's executor runs
    ProceduralGenerator().render(
        GenerationRequest("rain", 0.5, 0, family="rain"), work / "warm.wav"
    )  # imports, here, before either pass
    say(
        f"{count} clips, {audio:.0f} s of audio, from {threads} threads; {cpus} usable CPU(s), "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    results: dict[str, dict[str, float]] = {}
    for _ in range(repeats):
        for name, workers in (("this process", 0), ("shared pool", cpus - 1)):
            procedural_workers._POOL = procedural_workers.RenderPool(workers)
            folder = work / name.replace(" ", "-")
            shutil.rmtree(folder, ignore_errors=True)
            r = _render_all(requests, folder, threads)
            if name not in results or r["wall_s"] < results[name]["wall_s"]:
                results[name] = r
            say(
                f"  {name:<13} span {r['wall_s']:6.2f} s   cpu here {r['cpu_s']:6.2f} s   "
                f"workers {r['workers_cpu_s']:6.2f} s   ({audio / r['wall_s']:.0f}x real time "
                f"on the wall clock)   load average {os.getloadavg()[0]:.2f}"
            )
    procedural_workers._POOL = None
    same = _digests(work / "this-process") == _digests(work / "shared-pool")
    alone, shared = results["this process"], results["shared pool"]
    ratio = alone["wall_s"] / max(shared["wall_s"], 1e-9)
    verdict = "byte-identical" if same else "DIFFER"
    say(f"  best span alone / best span with the pool: {ratio:.2f}x; clips {verdict}")
    return {
        "clips": count,
        "audio_s": audio,
        "threads": threads,
        "cpus": cpus,
        "alone_wall_s": alone["wall_s"],
        "alone_cpu_s": alone["cpu_s"],
        "pool_wall_s": shared["wall_s"],
        "pool_cpu_s": shared["cpu_s"],
        "pool_workers_cpu_s": shared["workers_cpu_s"],
        "span_ratio": ratio,
        "identical": same,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds",
        type=float,
        default=60.0,
        help="audio seconds per family and layer (default 60)",
    )
    parser.add_argument(
        "--families",
        default=",".join(RECIPE_FAMILIES),
        help="comma-separated families (default: all 22)",
    )
    parser.add_argument("--repeats", type=int, default=2, help="best of N per measurement")
    parser.add_argument(
        "--window-minutes",
        type=float,
        default=10.0,
        help="length of the windowed bed in (b); 0 skips it",
    )
    parser.add_argument("--window-family", default="rain")
    parser.add_argument(
        "--clips",
        type=int,
        default=100,
        help="clips of a dub rendered in (c), here alone and through the pool; 0 skips it",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args()
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = sorted(set(families) - set(RECIPE_FAMILIES))
    if unknown or not families:
        parser.error(f"unknown families {unknown}; choose from {', '.join(RECIPE_FAMILIES)}")
    if args.window_family not in RECIPE_FAMILIES:
        parser.error(f"unknown --window-family {args.window_family!r}")
    if args.seconds <= 0 or args.repeats < 1 or args.window_minutes < 0 or args.clips < 0:
        parser.error("--seconds must be > 0, --repeats >= 1, --window-minutes and --clips >= 0")
    say = _Say(args.json)

    work = Path(tempfile.mkdtemp(prefix="lvas-bench-gen-"))
    pool = None
    try:
        with _one_core():
            pinned = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
            procedural_workers._POOL = procedural_workers.RenderPool(0)  # all in this process
            say(
                f"== (a) procedural synthesis on one core: {args.seconds:g} s per family and "
                f"layer, {SAMPLE_RATE} Hz, best of {args.repeats} =="
            )
            say("   (x RT = audio seconds per CPU second; wall-clock figure beside it)")
            speed = synthesis_speed(families, args.seconds, args.repeats, work, say)
            rss_a = _maxrss_mb()
            window = None
            if args.window_minutes > 0:
                say("\n== (b) windowing overhead ==")
                window = windowing_overhead(args.window_family, args.window_minutes, work, say)
        if args.clips > 0:
            say("\n== (c) a dub's clips on every core: this process alone, then the pool ==")
            pool = pool_speed(args.clips, args.repeats, work / "pool", say)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rss = _maxrss_mb()

    audio = args.seconds * len(families) * len(LAYERS)
    cpu = sum(r[layer]["cpu_s"] for r in speed.values() for _, layer in LAYERS)
    wall = sum(r[layer]["wall_s"] for r in speed.values() for _, layer in LAYERS)
    per = {(f, layer): r[layer]["x_realtime"] for f, r in speed.items() for _, layer in LAYERS}
    slowest = min(per, key=per.get)
    overall = audio / max(cpu, 1e-9)
    slow = sorted(f"{f}/{layer}" for (f, layer), x in per.items() if x < SPEED_TARGET)
    floors = {f: r["bed"]["floor_drop_db"] for f, r in speed.items()}
    worst_floor = max(floors, key=floors.get)
    corr = {f: r["bed"]["correlation"] for f, r in speed.items()}
    summary = {
        "threads": 1,
        "cpus": pinned,
        "seconds": args.seconds,
        "sample_rate": SAMPLE_RATE,
        "overall_x_realtime": overall,
        "overall_x_realtime_wall": audio / max(wall, 1e-9),
        "slowest": {"family": slowest[0], "layer": slowest[1], "x_realtime": per[slowest]},
        "below_target": slow,
        "worst_floor": {"family": worst_floor, "drop_db": floors[worst_floor]},
        "correlation_median": float(np.median(list(corr.values()))),
        "families": speed,
        "windowing": window,
        "pool": pool,
        "peak_rss_mb": rss,
        "peak_rss_after_speed_mb": rss_a,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    ok = "ok" if not slow else "MISSED"
    print("\n== summary ==")
    print(
        f"procedural speed, overall     {overall:.0f}x real time on one core "
        f"(wall {summary['overall_x_realtime_wall']:.0f}x)"
    )
    print(
        f"procedural speed, slowest     {per[slowest]:.0f}x ({slowest[0]} {slowest[1]}) "
        f"(target >= {SPEED_TARGET:.0f}x for every family)  {ok}"
        + (f"  below: {', '.join(slow)}" if slow else "")
    )
    print(
        f"bed floor, worst             {floors[worst_floor]:.1f} dB under the median "
        f"({worst_floor}) (target <= {FLOOR_TARGET_DB:.0f} dB)  "
        f"{'ok' if floors[worst_floor] <= FLOOR_TARGET_DB else 'MISSED'}"
    )
    print(
        f"stereo beds, L/R correlation median {summary['correlation_median']:.2f}, "
        f"max {max(corr.values()):.2f} ({max(corr, key=corr.get)}: point sources stay near 1)"
    )
    if window:
        print(
            f"windowing overhead            {window['overhead_pct']:.1f} % of render time, "
            f"{window['overhead_s_per_audio_hour']:.1f} s per audio hour "
            f"(wall {window['overhead_pct_wall']:.1f} %, "
            f"{window['overhead_wall_s_per_audio_hour']:.1f} s/h); overlaps re-render "
            f"{100 * (window['rendered_s'] / window['duration_s'] - 1):.1f} % more audio"
        )
    if pool:
        print(
            f"a dub's clips, pool           span {pool['span_ratio']:.2f}x shorter than in this "
            f"process alone ({pool['alone_wall_s']:.2f} -> {pool['pool_wall_s']:.2f} s, "
            f"{pool['cpus']} CPU(s)), CPU {pool['alone_cpu_s']:.2f} -> "
            f"{pool['pool_cpu_s'] + pool['pool_workers_cpu_s']:.2f} s, clips "
            f"{'byte-identical' if pool['identical'] else 'DIFFER'}"
        )
    print(f"peak RSS                      {rss:.0f} MB (after (a): {rss_a:.0f} MB)")


if __name__ == "__main__":
    main()
