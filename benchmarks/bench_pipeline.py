"""Benchmark: the offline pipeline end to end on long 720p H.264 videos.

For each source (default: the cockatoo clip looped by stream copy, and Big Buck Bunny re-encoded
to 720p H.264 at 24 fps and looped), runs in turn, ``--repeats`` times:

1. decoding the video alone (``ffmpeg -i X -map 0:v:0 -f null -``, the project's ffmpeg);
2. ``lvas dub`` in a fresh process (this checkout, and ``--baseline-lvas`` when given), with
   progress lines time-stamped as they arrive, so each node's span on the wall clock is known.

Each install's label index is built first and not timed (a dub builds it on first use, once
per machine and index version).

It prints the wall and CPU time (user + system, child processes included) of each, their ratio
to decoding alone (budget: 1.5x), the least wall clock the dub's CPU allows on this
machine's cores, the load average around each run, the time per node (the
node's own summed seconds from ``--json``, and its span on the wall clock), and the work beside
its overhead, measured inline on this checkout's last run: pure synthesis of the run's clips
(the procedural backend rendering the same requests), the mix arithmetic (``mix_to_wav`` on the
same clips), the AAC encode alone (``ffmpeg -i soundtrack.wav -c:a aac -b:a 192k -f null -``
with the mux's coder, ``fast``, and with FFmpeg's default, ``twoloop``, for reference), the mux
and the delivered-audio measurement (its ffmpeg decode, a child process, included).

    python benchmarks/bench_pipeline.py [--minutes 10] [--sources cockatoo,bbb24]
        [--baseline-lvas /tmp/b14/venv/bin/lvas] [--repeats 1] [--work DIR] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared/media"
sys.path.insert(0, str(ROOT))

from lvas.tools.common.ffmpeg import ffmpeg_exe, run_ffmpeg  # noqa: E402
from lvas.tools.video.probe import probe_video  # noqa: E402

# name -> (source file, re-encode to 720p H.264 at this rate first; None: loop by stream copy)
SOURCES: dict[str, tuple[str, float | None]] = {
    "cockatoo": ("cockatoo.mp4", None),
    "bbb24": ("big_buck_bunny_0_30.webm", 24.0),
    "bbb25": ("big_buck_bunny_0_30.webm", 25.0),
    "city30": ("kivy_cityCC0.mpg", 29.97),
}
BUDGET = 1.5  # whole dub / decoding alone


def make_long_video(name: str, minutes: float, work: Path) -> Path:
    """The source looped to ``minutes`` (re-encoded once to 720p H.264 when it must be)."""
    file, fps = SOURCES[name]
    out = work / f"{name}-{minutes:g}min.mp4"
    if out.exists():
        return out
    source = MEDIA / file
    if fps is not None:
        short = work / f"{name}-720p.mp4"
        run_ffmpeg(["-y", "-i", str(source), "-map", "0:v:0", "-vf",
                    f"scale=1280:720,fps={fps}", "-c:v", "libx264", "-preset", "veryfast",
                    "-crf", "23", "-pix_fmt", "yuv420p", str(short)])
        source = short
    run_ffmpeg(["-y", "-stream_loop", "-1", "-i", str(source), "-map", "0:v:0", "-c", "copy",
                "-t", f"{minutes * 60:.3f}", str(out)])
    return out


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _cores() -> int:
    """The CPUs this process may run on (an affinity mask or a container can allow fewer than
    the machine has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def time_decode(video: Path) -> dict[str, Any]:
    load = _load()
    cpu, started = _children_cpu(), time.perf_counter()
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(video), "-map", "0:v:0", "-f", "null",
                    "-"], check=True)
    return {"wall": time.perf_counter() - started, "cpu": _children_cpu() - cpu,
            "load": f"{load} -> {_load()}"}


def ready_label_index(lvas: list[str]) -> None:
    """Build the install's label index before anything is timed. A dub builds it on first use
    (about 35 s of both cores, once per machine and index version), which would otherwise land
    in the first repeat on a fresh machine, or on the first run of a baseline whose index
    differs, and say nothing about a dub's own speed."""
    started = time.perf_counter()
    done = subprocess.run([*lvas, "index", "build"], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"{' '.join(lvas)} index build failed:\n{done.stderr[-2000:]}")
    print(f"  label index of {' '.join(lvas)}: ready in {time.perf_counter() - started:.1f} s "
          "(not timed)")


def time_dub(lvas: list[str], video: Path, run_dir: Path, seed: int) -> dict[str, Any]:
    """One ``lvas dub`` in a fresh process; progress lines stamped as they arrive."""
    shutil.rmtree(run_dir, ignore_errors=True)
    load = _load()
    cpu, started = _children_cpu(), time.perf_counter()
    proc = subprocess.Popen(
        [*lvas, "dub", str(video), "-o", str(run_dir.with_suffix(".mp4")), "--overwrite",
         "--work-dir", str(run_dir), "--seed", str(seed), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    lines: list[tuple[float, str]] = []

    def read_progress() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append((time.perf_counter() - started, line.rstrip()))

    reader = threading.Thread(target=read_progress)
    reader.start()
    out = proc.stdout.read() if proc.stdout else ""
    proc.wait()
    reader.join()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit("lvas dub failed:\n" + "\n".join(text for _, text in lines[-30:]))
    summary = json.loads(out)
    return {"wall": wall, "cpu": _children_cpu() - cpu, "load": f"{load} -> {_load()}",
            "summary": summary, "spans": _spans(lines, summary.get("timings", {})),
            "run_dir": run_dir}


def _spans(lines: list[tuple[float, str]], timings: dict[str, float]) -> dict[str, float]:
    """Wall-clock seconds from the end of the previous node's lines to a node's last line.

    A progress line names its node by its title; a node that fans out prints one line per
    task, so its span runs from the line before its first to its last."""
    from lvas.graph.runner import NODE_TITLES

    titles = {node: NODE_TITLES.get(node, node) for node in timings}
    owner: list[tuple[float, str]] = []
    for t, text in lines:
        for node, title in titles.items():
            if title and title in text:
                owner.append((t, node))
                break
    spans: dict[str, float] = {}
    previous_end = 0.0
    i = 0
    while i < len(owner):
        node = owner[i][1]
        j = i
        while j + 1 < len(owner) and owner[j + 1][1] == node:
            j += 1
        spans[node] = spans.get(node, 0.0) + owner[j][0] - previous_end
        previous_end = owner[j][0]
        i = j + 1
    return spans


# --- the work beside the overhead, measured inline --------------------------------------------


def _final_clips(run_dir: Path) -> tuple[dict[str, Any], float] | None:
    """The finished run's clips and duration, from the CLI's checkpoint file."""
    from lvas.graph.resume import open_checkpointer
    from lvas.tools.common.paths import default_cache_dir

    with open_checkpointer(default_cache_dir()) as saver:
        for tup in saver.list(None):
            values = tup.checkpoint.get("channel_values", {})
            if values.get("run_dir") == str(run_dir) and values.get("clips"):
                return values["clips"], float(values["storyboard"]["duration"])
    return None


def inline_work(run: dict[str, Any], video: Path, seed: int) -> dict[str, float]:
    """CPU seconds of the work itself: synthesis, mix, AAC encode, mux, measurement."""
    from lvas.graph.context import Context
    from lvas.nodes.mixer import _track
    from lvas.tools.audio.mixing import DuckingSettings, mix_to_wav
    from lvas.tools.common.paths import content_hash
    from lvas.tools.delivery.measure import measure_delivered_audio
    from lvas.tools.delivery.muxing import mux_soundtrack
    from lvas.tools.generation import GenerationRequest
    from lvas.tools.generation.procedural_backend import ProceduralGenerator

    run_dir: Path = run["run_dir"]
    found = _final_clips(run_dir)
    if found is None:
        return {}
    clips, duration = found
    plan = json.loads((run_dir / "plan.json").read_text(encoding="utf-8"))
    onsets = {s["id"]: s.get("onsets", []) for d in plan["designs"].values()
              for s in d["sounds"]}
    ctx = Context(seed=seed)
    work: dict[str, float] = {}
    scratch = Path(tempfile.mkdtemp(prefix="lvas-bench-work-"))
    try:
        gen = ProceduralGenerator(ctx.sample_rate)
        cpu = _self_cpu()
        for i, clip in enumerate(clips.values()):
            start = float(clip["start"])
            request = GenerationRequest(
                text="", family=clip["family"], duration=float(clip["duration"]),
                seed=int(content_hash(ctx.seed, clip["sound_id"], length=8), 16),
                layer=clip["layer"],
                onsets=tuple(round(t - start, 4) for t in onsets.get(clip["sound_id"], [])))
            gen.render(request, scratch / f"{i}.wav")
            (scratch / f"{i}.wav").unlink()
        work["synthesis"] = _self_cpu() - cpu
        work["clip_seconds"] = sum(float(c["duration"]) for c in clips.values())
        tracks = [_track(clip, run_dir, ctx) for clip in clips.values()]
        cpu = _self_cpu() + _children_cpu()
        mix_to_wav(tracks, duration, scratch / "mix.wav", sample_rate=ctx.sample_rate,
                   loudness_target=ctx.loudness_target, peak_ceiling_db=ctx.true_peak_ceiling,
                   ducking=DuckingSettings(enabled=ctx.duck_beds,
                                           speech_depth_db=ctx.duck_depth_db),
                   stems_dir=scratch / "stems")
        work["mix"] = _self_cpu() + _children_cpu() - cpu
        for key, coder in (("aac_encode", "fast"), ("aac_twoloop", "twoloop")):
            cpu = _children_cpu()
            subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(run_dir / "soundtrack.wav"),
                            "-c:a", "aac", "-b:a", "192k", "-aac_coder", coder, "-f", "null",
                            "-"], check=True)
            work[key] = _children_cpu() - cpu
        cpu = _children_cpu() + _self_cpu()
        muxed = mux_soundtrack(video, run_dir / "soundtrack.wav", scratch / "out.mp4",
                               overwrite=True)
        work["mux"] = _children_cpu() + _self_cpu() - cpu
        cpu = _children_cpu() + _self_cpu()
        measure_delivered_audio(muxed)
        work["measure"] = _children_cpu() + _self_cpu() - cpu
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return work


# --- printing -----------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def report(name: str, video: Path, decodes: list[dict], dubs: dict[str, list[dict]],
           work: dict[str, float]) -> None:
    info = probe_video(video)
    d_wall = _median([d["wall"] for d in decodes])
    d_cpu = _median([d["cpu"] for d in decodes])
    print(f"\n== {name}: {video.name}  {info.duration:.1f} s {info.width}x{info.height} "
          f"{info.video_codec} {info.fps:.3f} fps  (ffmpeg {Path(ffmpeg_exe()).name})")
    for d in decodes:
        print(f"  decode alone        wall {d['wall']:6.1f} s  cpu {d['cpu']:6.1f} s  "
              f"load {d['load']}")
    for label, runs in dubs.items():
        for r in runs:
            s = r["summary"]
            print(f"  dub [{label:<8}]      wall {r['wall']:6.1f} s  cpu {r['cpu']:6.1f} s  "
                  f"load {r['load']}  scenes {s['scenes']} sounds {s['sounds']}")
        wall = _median([r["wall"] for r in runs])
        cpu = _median([r["cpu"] for r in runs])
        ok = "ok" if wall / d_wall <= BUDGET else "MISSED"
        print(f"  dub [{label:<8}] / decode: wall {wall / d_wall:5.2f}x  cpu {cpu / d_cpu:5.2f}x"
              f"  (budget {BUDGET}x wall: {ok})")
        # The least wall clock this much CPU can take here, were every core busy throughout:
        # above the budget, no reordering of the same work can meet it.
        floor = cpu / _cores() / d_wall
        print(f"  dub [{label:<8}] CPU spread over {_cores()} cores: {floor:5.2f}x the "
              f"decode's wall at the least ({'under' if floor <= BUDGET else 'over'} the budget)")
        last = runs[-1]
        print(f"    {'node':<20} {'own s':>8} {'span s':>8}   (own: summed over fan-out tasks;"
              " span: on the wall clock)")
        for node, seconds in sorted(last["summary"]["timings"].items(), key=lambda kv: -kv[1]):
            print(f"    {node:<20} {seconds:8.2f} {last['spans'].get(node, 0.0):8.2f}")
    if work:
        print("  work beside overhead (this checkout's last run; CPU seconds measured inline):")
        timings = dubs["current"][-1]["summary"]["timings"]
        spans = dubs["current"][-1]["spans"]
        gen = timings.get("generate_clip", 0.0)
        seconds = work["clip_seconds"]
        print(f"    synthesis of the {seconds:.0f} s of clips  {work['synthesis']:6.2f} s "
              f"({seconds / max(work['synthesis'], 1e-9):.0f}x real time)  "
              f"generation node: {gen:.2f} s summed, {spans.get('generate_clip', 0.0):.2f} s "
              f"span -> node/synthesis {gen / max(work['synthesis'], 1e-9):.2f}x")
        mixer = timings.get("mixer", 0.0)
        parts = work["mix"] + work["mux"] + work["measure"]
        print(f"    mix_to_wav {work['mix']:6.2f} s  mux {work['mux']:6.2f} s (AAC encode alone "
              f"{work['aac_encode']:.2f} s; twoloop coder {work['aac_twoloop']:.2f} s)  "
              f"delivered measure {work['measure']:6.2f} s  -> parts {parts:.2f} s against the "
              f"mixer node's {mixer:.2f} s wall ({mixer / max(parts, 1e-9):.2f}x; the stems "
              "are written while the mux encodes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sources", default="cockatoo,bbb24",
                        help=f"comma-separated, from: {', '.join(SOURCES)}")
    parser.add_argument("--baseline-lvas", help="another install's lvas, timed in turn")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", help="folder to keep the videos and runs in (reused)")
    parser.add_argument("--skip-inline", action="store_true", help="no inline work figures")
    args = parser.parse_args()

    work = Path(args.work or tempfile.mkdtemp(prefix="lvas-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    installs = {"current": [sys.executable, "-m", "lvas.graph.cli"]}
    if args.baseline_lvas:
        installs["baseline"] = [args.baseline_lvas]
    print(f"bench_pipeline: {args.minutes:g} min per source, {_cores()} CPUs, "
          f"load {_load()}")
    for lvas in installs.values():
        ready_label_index(lvas)
    for name in args.sources.split(","):
        video = make_long_video(name, args.minutes, work)
        decodes: list[dict] = []
        dubs: dict[str, list[dict]] = {label: [] for label in installs}
        for _ in range(args.repeats):
            decodes.append(time_decode(video))
            for label, lvas in installs.items():
                dubs[label].append(time_dub(lvas, video, work / f"run-{name}-{label}",
                                            args.seed))
        extra = {} if args.skip_inline else inline_work(dubs["current"][-1], video, args.seed)
        report(name, video, decodes, dubs, extra)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
