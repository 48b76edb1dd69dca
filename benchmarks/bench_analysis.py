"""Benchmark: the Storyboarder's shot analysis — speed, memory and cut accuracy.

Speed and memory on a long 720p H.264 real-footage video (a clip from ../shared/media looped
with stream copy): wall time of ``analyze_video`` in a fresh process, of decoding alone
(``ffmpeg -i X -f null -``) and of PySceneDetect's own CLI with default settings, measured
alternately because the machine is noisy; peak RSS on a 5- and a 30-minute input. Accuracy:
precision/recall/F1 of the cuts (within two frames) on generated videos with known cuts.

Frame rates: ``--fps-set`` re-encodes the source (libx264, 720p) to 24, 25 and 29.97 fps loops
of ``--fps-minutes`` and, for each, times the whole ``lvas scenes`` process (start-up included)
against decoding alone (``ffmpeg -f null`` and a PyAV decode loop, each in its own process),
alternating, and prints the ratios with the CPU time (user + system) of each beside the wall
time and the load average. ``--baseline-lvas PATH`` adds another install's ``lvas`` (the code
before a change) to the same alternation.

    python benchmarks/bench_analysis.py [--minutes 5] [--long-minutes 30] [--repeats 3]
        [--source ../shared/media/cockatoo.mp4] [--skip-long] [--work DIR]
    python benchmarks/bench_analysis.py --fps-set [--fps-minutes 2] [--repeats 2]
        [--baseline-lvas /tmp/b14/venv/bin/lvas] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lvas.tools.common.ffmpeg import ffmpeg_exe, run_ffmpeg  # noqa: E402

RATIO_TARGET = 1.25
RSS_TARGET_MB = 400.0
RSS_GROWTH_TARGET = 0.10
F1_TARGET = 0.95


# --- inputs ------------------------------------------------------------------------------------

def make_long_video(source: Path, seconds: float, out: Path) -> Path:
    """Loop ``source``'s video stream with stream copy (no re-encoding) until it lasts ``seconds``.

    An existing ``out`` is reused, so a kept ``--work`` folder makes reruns cheap.
    """
    if out.exists():
        return out
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    run_ffmpeg(["-y", "-stream_loop", "-1", "-i", str(source), "-map", "0:v:0", "-c", "copy",
                "-t", f"{seconds:.3f}", str(tmp)])
    os.replace(tmp, out)
    return out


# --- one measurement each ----------------------------------------------------------------------

def child_main(video: str, out_dir: str) -> None:
    """``--child`` mode: analyse one video in this fresh process and print one JSON line.

    Peak RSS is this process's own (RUSAGE_SELF), so nothing the parent did is counted.
    """
    started = time.perf_counter()
    from lvas.tools.video.analysis import analyze_video

    imported = time.perf_counter()
    result = analyze_video(video, out_dir)
    done = time.perf_counter()
    print(json.dumps({
        "import_s": imported - started,
        "analyze_s": done - imported,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_maxrss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "duration": result.duration,
        "frames_decoded": result.frames_decoded,
        "frames_skipped": result.frames_skipped,
        "cuts": len(result.cuts),
        "shots": len(result.shots),
    }))


def run_analysis(video: Path, work: Path) -> dict[str, float]:
    """Analyse ``video`` in a fresh interpreter; adds ``wall_s``, the whole process's wall time."""
    out_dir = Path(tempfile.mkdtemp(prefix="analysis-", dir=work))
    try:
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", str(video), str(out_dir)],
            capture_output=True, text=True, cwd=ROOT, check=False,
        )
        wall = time.perf_counter() - started
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    if proc.returncode != 0:
        sys.exit(f"analysis of {video} failed:\n{proc.stderr[-3000:]}")
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    stats["wall_s"] = wall
    return stats


def run_decode(video: Path) -> float:
    """Wall time of decoding alone with the same ffmpeg binary the project uses."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
           "-i", str(video), "-f", "null", "-"]
    return _timed(cmd, ROOT)


def scenedetect_cmd() -> list[str]:
    """The venv's ``scenedetect`` executable next to this interpreter, else ``-m scenedetect``."""
    exe = Path(sys.executable).parent / "scenedetect"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "scenedetect"]


def run_scenedetect(video: Path, work: Path) -> float:
    """Wall time of ``scenedetect -i X detect-content``: default settings, no output files."""
    return _timed([*scenedetect_cmd(), "-i", str(video), "detect-content"], work)


def _timed(cmd: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{Path(cmd[0]).name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall


FRAME_RATES = ("24", "25", "30000/1001")
"""The frame rates ``--fps-set`` measures (29.97 as ffmpeg's exact fraction)."""

_PYAV_DECODE = """
import sys, av
with av.open(sys.argv[1]) as c:
    s = c.streams.video[0]
    s.thread_type = "AUTO"
    n = sum(1 for _ in c.decode(s))
print(n)
"""


def make_fps_video(source: Path, seconds: float, rate: str, out: Path) -> Path:
    """``source`` looped to ``seconds`` and re-encoded to ``rate`` fps, 720p H.264 (reused)."""
    if out.exists():
        return out
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    run_ffmpeg(["-y", "-stream_loop", "-1", "-i", str(source), "-t", f"{seconds:.3f}", "-an",
                "-vf", f"scale=-2:720,fps={rate}", "-c:v", "libx264", "-preset", "veryfast",
                "-crf", "20", "-pix_fmt", "yuv420p", str(tmp)])
    os.replace(tmp, out)
    return out


def _timed_cpu(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU user+system) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = _timed(cmd, cwd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def fps_set(source: Path, work: Path, minutes: float, repeats: int,
            baseline: str | None) -> list[tuple[str, dict[str, float]]]:
    """Per frame rate: whole-process ``lvas scenes`` against decoding alone, as ratios."""
    lvas = str(Path(sys.executable).parent / "lvas")
    runners: dict[str, Callable[[Path, Path], list[str]]] = {
        "lvas scenes": lambda v, w: [lvas, "scenes", str(v), "--work-dir", str(w)],
        "ffmpeg -f null": lambda v, w: [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel",
                                        "error", "-i", str(v), "-f", "null", "-"],
        "PyAV decode": lambda v, w: [sys.executable, "-c", _PYAV_DECODE, str(v)],
    }
    if baseline:
        runners["baseline lvas scenes"] = (
            lambda v, w: [baseline, "scenes", str(v), "--work-dir", str(w)])
    results = []
    for rate in FRAME_RATES:
        label = {"30000/1001": "29.97"}.get(rate, rate)
        video = make_fps_video(source, minutes * 60, rate,
                               work / f"{source.stem}-{minutes:g}m-{label}fps.mp4")
        walls: dict[str, list[float]] = {k: [] for k in runners}
        cpus: dict[str, list[float]] = {k: [] for k in runners}
        loads = [_load()]
        for _ in range(repeats):
            for name, make_cmd in runners.items():
                out = Path(tempfile.mkdtemp(prefix="scenes-", dir=work))
                try:
                    wall, cpu = _timed_cpu(make_cmd(video, out), ROOT)
                finally:
                    shutil.rmtree(out, ignore_errors=True)
                walls[name].append(wall)
                cpus[name].append(cpu)
            loads.append(_load())
        med = {k: statistics.median(v) for k, v in walls.items()}
        cpu = {k: statistics.median(v) for k, v in cpus.items()}
        print(f"-- {label} fps, {video.name} ({minutes:g} min 720p H.264), "
              f"load {' / '.join(loads)}")
        for name in runners:
            print(f"  {name:<22} wall {med[name]:6.2f} s  CPU {cpu[name]:6.2f} s   "
                  f"/ ffmpeg: wall {med[name] / med['ffmpeg -f null']:.2f}  "
                  f"CPU {cpu[name] / cpu['ffmpeg -f null']:.2f}   "
                  f"/ PyAV: wall {med[name] / med['PyAV decode']:.2f}")
        ratios = {"ratio": med["lvas scenes"] / med["ffmpeg -f null"],
                  "ratio_pyav": med["lvas scenes"] / med["PyAV decode"],
                  "cpu_ratio": cpu["lvas scenes"] / cpu["ffmpeg -f null"]}
        if baseline:
            ratios["baseline"] = med["baseline lvas scenes"] / med["ffmpeg -f null"]
            ratios["baseline_pyav"] = med["baseline lvas scenes"] / med["PyAV decode"]
        results.append((label, ratios))
    return results


# --- reports -----------------------------------------------------------------------------------

def _spread(values: list[float]) -> str:
    return f"median {statistics.median(values):7.2f} s   best {min(values):7.2f} s"


def speed(video: Path, work: Path, repeats: int) -> dict[str, float]:
    """Alternate analysis / decode / scenedetect runs ``repeats`` times; print median and best."""
    walls: dict[str, list[float]] = {"analysis": [], "analyze_video": [], "decode": [],
                                     "scenedetect": []}
    rss: list[float] = []
    last: dict[str, float] = {}
    for i in range(repeats):
        last = run_analysis(video, work)
        walls["analysis"].append(last["wall_s"])
        walls["analyze_video"].append(last["analyze_s"])
        rss.append(last["maxrss_mb"])
        walls["decode"].append(run_decode(video))
        walls["scenedetect"].append(run_scenedetect(video, work))
        print(f"  run {i + 1}/{repeats}: analysis {walls['analysis'][-1]:.2f} s, "
              f"decode {walls['decode'][-1]:.2f} s, scenedetect {walls['scenedetect'][-1]:.2f} s, "
              f"RSS {rss[-1]:.0f} MB", flush=True)
    med = {k: statistics.median(v) for k, v in walls.items()}
    duration = last["duration"]
    print(f"analysis wall (process)     {_spread(walls['analysis'])}")
    print(f"  of which analyze_video()  {_spread(walls['analyze_video'])}")
    print(f"decode alone (ffmpeg null)  {_spread(walls['decode'])}")
    print(f"scenedetect CLI (default)   {_spread(walls['scenedetect'])}")
    print(f"frames decoded / skipped / cuts  {last['frames_decoded']:.0f} / "
          f"{last['frames_skipped']:.0f} / {last['cuts']:.0f}")
    # Paired: each run's ratio to the decode run right after it, which cancels slow load drift.
    paired = statistics.median(
        [a / d for a, d in zip(walls["analysis"], walls["decode"], strict=True)])
    print(f"analysis/decode ratio       median/median {med['analysis'] / med['decode']:.2f}   "
          f"best/best {min(walls['analysis']) / min(walls['decode']):.2f}   "
          f"paired median {paired:.2f}   "
          f"(analyze_video() only: {med['analyze_video'] / med['decode']:.2f})")
    print(f"scenedetect/decode ratio    median/median {med['scenedetect'] / med['decode']:.2f}   "
          f"best/best {min(walls['scenedetect']) / min(walls['decode']):.2f}")
    print(f"real-time factor            {duration / med['analysis']:.1f} x "
          f"({duration:.0f} s of video)")
    print(f"peak RSS of the analysis    median {statistics.median(rss):.0f} MB   "
          f"max {max(rss):.0f} MB")
    if last.get("children_maxrss_mb"):
        print(f"  (its child processes peaked at {last['children_maxrss_mb']:.0f} MB)")
    # Judged: the analysis itself (analyze_video's wall). Interpreter start and library imports
    # (about 0.4 s, once per process whatever the video's length) are shown beside it.
    return {
        "ratio": med["analyze_video"] / med["decode"],
        "ratio_process": med["analysis"] / med["decode"],
        "ratio_best": min(walls["analyze_video"]) / min(walls["decode"]),
        "ratio_paired": statistics.median(
            [a / d for a, d in zip(walls["analyze_video"], walls["decode"], strict=True)]),
        "sd_ratio": med["scenedetect"] / med["decode"],
        "rtf": duration / med["analysis"],
        "rss": max(rss),
        "rss_median": statistics.median(rss),
    }


BFRAMES_ARGS = ("-c:v", "libx264", "-crf", "18", "-bf", "3",
                "-x264-params", "b-pyramid=none:scenecut=0")
"""The evaluation set again with runs of three unreferenced B-frames, which the analysis does
not decode, and cuts on any kind of frame (no scene-cut detection in the encoder)."""


def accuracy(work: Path, *, bframes: bool = False) -> dict[str, object]:
    """Cut precision/recall/F1 (two-frame tolerance) per category and overall."""
    from lvas.tools.common.ffmpeg import run_ffmpeg
    from lvas.tools.video.analysis import analyze_video
    from tests.cut_eval import TOLERANCE, evaluation_set, make_evaluation_set
    from tests.cut_metrics import CutScore, match_cuts

    videos = make_evaluation_set(work / "cut_eval")
    if bframes:
        folder = work / "cut_eval_bframes"
        folder.mkdir(parents=True, exist_ok=True)
        for i, (path, truth, category) in enumerate(videos):
            again = folder / path.name
            if not again.exists():
                run_ffmpeg(["-y", "-i", str(path), *BFRAMES_ARGS, str(again)])
            videos[i] = (again, truth, category)
    totals: dict[str, CutScore] = {}
    print(f"tolerance ±{TOLERANCE * 1000:.0f} ms (2 frames at 25 fps)")
    for (path, truth, category), spec in zip(videos, evaluation_set(), strict=True):
        out_dir = Path(tempfile.mkdtemp(prefix="eval-", dir=work))
        try:
            cuts = analyze_video(path, out_dir).cuts
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
        score = match_cuts(cuts, truth, TOLERANCE)
        totals[category] = totals[category] + score if category in totals else score
        label = f"{category} {spec.fade:.1f} s" if spec.fade else category
        print(f"  {spec.name:<9} {label:<15} cuts {len(truth):2d}  TP {score.true_positives:2d}  "
              f"FP {score.false_positives:2d}  FN {score.false_negatives:2d}  F1 {score.f1:.3f}")
    overall = sum(totals.values(), CutScore.from_counts(0, 0, 0))
    totals["overall"] = overall
    for name, s in totals.items():
        print(f"{name:<10} precision {s.precision:.3f}  recall {s.recall:.3f}  F1 {s.f1:.3f}  "
              f"(TP {s.true_positives}, FP {s.false_positives}, FN {s.false_negatives})")
    return totals


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child_main(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--long-minutes", type=float, default=30.0)
    parser.add_argument("--source", default=str(ROOT.parent / "shared/media/cockatoo.mp4"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-long", action="store_true", help="no 30-minute memory run")
    parser.add_argument("--work", help="folder for the videos (kept and reused); default: temp")
    parser.add_argument("--fps-set", action="store_true",
                        help="only the 24/25/29.97 fps whole-process ratios")
    parser.add_argument("--fps-minutes", type=float, default=2.0)
    parser.add_argument("--baseline-lvas", help="another install's lvas, timed alongside")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    source = Path(args.source)
    if not source.is_file():
        parser.error(f"no such source video: {source}")

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="lvas-bench-an-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.fps_set:
        try:
            print(f"== whole-process lvas scenes against decoding alone (source {source.name}, "
                  f"ffmpeg {ffmpeg_exe()}) ==", flush=True)
            rates = fps_set(source, work, args.fps_minutes, args.repeats, args.baseline_lvas)
        finally:
            if not args.work:
                shutil.rmtree(work, ignore_errors=True)
        print("\n== summary ==")
        for label, r in rates:
            base = (f"   baseline {r['baseline']:.2f} (PyAV {r['baseline_pyav']:.2f})"
                    if "baseline" in r else "")
            print(f"{label:>5} fps  lvas scenes / ffmpeg decode {r['ratio']:.2f} "
                  f"(target <= {RATIO_TARGET}) {_verdict(r['ratio'] <= RATIO_TARGET)}   "
                  f"/ PyAV decode {r['ratio_pyav']:.2f}   CPU {r['cpu_ratio']:.2f}{base}")
        return
    try:
        print(f"== inputs (source {source.name}, work {work}) ==", flush=True)
        short = make_long_video(source, args.minutes * 60,
                                work / f"{source.stem}-{args.minutes:g}m.mp4")
        print(f"{args.minutes:g}-minute video  {short.stat().st_size / 1e6:.1f} MB", flush=True)

        print(f"\n== speed on the {args.minutes:g}-minute video, "
              f"{args.repeats} alternating runs ==", flush=True)
        fast = speed(short, work, args.repeats)

        long_rss = None
        if not args.skip_long:
            print(f"\n== memory on the {args.long_minutes:g}-minute video ==", flush=True)
            long = make_long_video(source, args.long_minutes * 60,
                                   work / f"{source.stem}-{args.long_minutes:g}m.mp4")
            stats = run_analysis(long, work)
            long_rss = stats["maxrss_mb"]
            growth = (long_rss - fast["rss_median"]) / fast["rss_median"]
            print(f"analysis wall               {stats['wall_s']:.1f} s  "
                  f"(real-time factor {stats['duration'] / stats['wall_s']:.1f} x)")
            print(f"peak RSS {args.long_minutes:g} min vs {args.minutes:g} min    "
                  f"{long_rss:.0f} MB vs {fast['rss_median']:.0f} MB  ({growth:+.1%})")

        print("\n== cut accuracy on generated videos ==", flush=True)
        scores = accuracy(work)
        print("\n== cut accuracy, the same videos with B-frames (not decoded) ==", flush=True)
        scores_b = accuracy(work, bframes=True)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)

    print("\n== summary ==")
    print(f"analysis/decode ratio       {fast['ratio']:.2f} (target <= {RATIO_TARGET})  "
          f"{_verdict(fast['ratio'] <= RATIO_TARGET)}  [analyze_video() median/median; "
          f"best/best {fast['ratio_best']:.2f}, paired {fast['ratio_paired']:.2f}; "
          f"whole process incl. start-up {fast['ratio_process']:.2f}]")
    print(f"scenedetect/decode ratio    {fast['sd_ratio']:.2f} (reference: cuts only)")
    print(f"real-time factor            {fast['rtf']:.1f} x")
    print(f"peak RSS ({args.minutes:g} min)            {fast['rss']:.0f} MB "
          f"(target <= {RSS_TARGET_MB:.0f} MB)  {_verdict(fast['rss'] <= RSS_TARGET_MB)}")
    if long_rss is not None:
        growth = (long_rss - fast["rss_median"]) / fast["rss_median"]
        print(f"peak RSS {args.long_minutes:g} vs {args.minutes:g} min        {growth:+.1%} "
              f"(target within {RSS_GROWTH_TARGET:.0%})  "
              f"{_verdict(abs(growth) <= RSS_GROWTH_TARGET)}")
    for name in ("hard", "crossfade", "light"):
        if name in scores:
            print(f"cut F1 {name:<21}{scores[name].f1:.3f}")
    overall = scores["overall"].f1
    print(f"cut F1 overall              {overall:.3f} (target >= {F1_TARGET})  "
          f"{_verdict(overall >= F1_TARGET)}")
    overall_b = scores_b["overall"].f1
    print(f"cut F1 overall, B-frames    {overall_b:.3f} (target >= {F1_TARGET})  "
          f"{_verdict(overall_b >= F1_TARGET)}")


if __name__ == "__main__":
    main()
