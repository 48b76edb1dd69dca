"""Benchmark: a catalogue of short videos, sequential ``lvas dub`` calls against ``lvas batch``.

Makes ``--videos`` short videos (5-10 s) in a work folder: real clips cut from
``../shared/media`` (cockatoo.mp4, big_buck_bunny_0_30.webm, kivy_cityCC0.mpg, at different
offsets, each in its own container) and a few generated ones (``tests/videos.make_cut_video``);
without the media folder, all of them are generated, and the benchmark says so. Then, on the
same machine and alternating the order between ``--repeats``:

(a) one ``lvas dub`` process per video, one after the other, as a user's shell loop would run
    them (``-q --json``, the same ``--seed``);
(b) ``lvas batch VIDEOS -o OUT --json`` on a local Ray instance (the same ``--seed``).

It prints the wall time of each, the throughput (videos per hour, video-minutes per wall
minute), the batch/sequential speed-up, the model loads (the generator pool's ``loads`` and the
label index loads per worker process from the batch's records), the peak memory per worker
(``worker_peak_rss_mb`` per pid; each sequential process's own from ``os.wait4``) and of the
whole process tree (sampled from /proc every second, in both modes), the generator pool's batch
fill, where the batch's start-up went (Ray and the pool until the first video was submitted,
and until its worker began), the load average before and after each run, the ffmpeg used, and
whether the soundtracks (``soundtrack.wav``) of both modes are byte-identical.

    python benchmarks/bench_batch.py [--videos 20] [--repeats 1] [--seed 0] [--work DIR]
        [--max-in-flight N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared/media"
sys.path.insert(0, str(ROOT))

from lvas.graph.batch_manifest import default_output  # noqa: E402
from lvas.tools.common.ffmpeg import ffmpeg_exe, run_ffmpeg  # noqa: E402
from lvas.tools.video.probe import probe_video  # noqa: E402
from tests.videos import make_cut_video  # noqa: E402

# source file, its length in seconds, how a cut of it is written (suffix, encoder arguments)
CLIPS: list[tuple[str, float, str, list[str]]] = [
    (
        "cockatoo.mp4",
        14.0,
        ".mp4",
        [
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "23",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
        ],
    ),
    (
        "big_buck_bunny_0_30.webm",
        30.0,
        ".webm",
        [
            "-c:v",
            "libvpx",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-b:v",
            "1M",
            "-c:a",
            "libopus",
            "-b:a",
            "96k",
        ],
    ),
    (
        "kivy_cityCC0.mpg",
        7.6,
        ".mpg",
        ["-c:v", "mpeg2video", "-q:v", "4", "-c:a", "mp2", "-b:a", "192k"],
    ),
]
GENERATED_EVERY = 7  # one video in seven is generated (tests/videos.make_cut_video)
GENERATED_SUFFIXES = (".mp4", ".mkv", ".avi")
SAMPLE_EVERY = 1.0  # seconds between /proc samples of a run's process tree


# -- the videos -------------------------------------------------------------------------------


def make_videos(n: int, folder: Path) -> tuple[list[Path], bool]:
    """``n`` short videos in ``folder`` (kept when already there); whether real media was used."""
    folder.mkdir(parents=True, exist_ok=True)
    real = all((MEDIA / name).is_file() for name, *_ in CLIPS)
    videos: list[Path] = []
    for i in range(n):
        seconds = 5.0 + (i * 7) % 6  # 5..10 s
        if real and (i + 1) % GENERATED_EVERY:
            name, length, suffix, codec = CLIPS[i % len(CLIPS)]
            seconds = min(seconds, length - 0.5)
            room = length - seconds - 0.2
            offset = round((i * 2.7) % room, 2) if room > 0 else 0.0
            out = folder / f"{i:02d}-{Path(name).stem}-{offset:g}s{suffix}"
            if not out.exists():
                part = out.with_name(out.stem + ".part" + suffix)
                run_ffmpeg(
                    [
                        "-y",
                        "-ss",
                        f"{offset}",
                        "-i",
                        str(MEDIA / name),
                        "-t",
                        f"{seconds}",
                        "-map",
                        "0:v:0",
                        "-map",
                        "0:a:0?",
                        *codec,
                        str(part),
                    ]
                )
                part.rename(out)
        else:
            suffix = GENERATED_SUFFIXES[i % len(GENERATED_SUFFIXES)]
            cuts = [seconds * share for share in (0.3, 0.45, 0.25)]
            out = folder / f"{i:02d}-generated{suffix}"
            if not out.exists():
                part = out.with_name(out.stem + ".part" + suffix)
                codec = {".mp4": "libx264", ".mkv": "libx264", ".avi": "mpeg4"}[suffix]
                make_cut_video(part, cuts, codec=codec, size=(640, 360), with_audio=True)
                part.rename(out)
        videos.append(out)
    return videos, real


# -- measuring --------------------------------------------------------------------------------


def _load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def _lvas() -> list[str]:
    script = Path(sys.executable).with_name("lvas")
    return [str(script)] if script.exists() else [sys.executable, "-m", "lvas.graph.cli"]


class TreeSampler:
    """Peak RSS of a process and its descendants, sampled from /proc: the peak of their sum,
    and each process's own peak with its title (Ray names its workers ``ray::...``)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_total_mb = 0.0
        self.per_pid: dict[int, tuple[str, float]] = {}
        # pid -> (own user + system ticks, its reaped children's, parent pid, last sample seen)
        self.cpu: dict[int, tuple[int, int, int, int]] = {}
        self._samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY):
            self.sample()

    def sample(self) -> None:
        parents: dict[int, int] = {}
        rss: dict[int, float] = {}
        ticks: dict[int, tuple[int, int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as f:
                    stat = f.read()
                fields = stat[stat.rindex(")") + 2 :].split()
                parents[int(entry)] = int(fields[1])
                rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
                ticks[int(entry)] = (
                    int(fields[11]) + int(fields[12]),
                    int(fields[13]) + int(fields[14]),
                )
            except (OSError, ValueError, IndexError):
                continue
        tree = {self.pid}
        grew = True
        while grew:
            grew = False
            for pid, parent in parents.items():
                if parent in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        total = 0.0
        self._samples += 1
        for pid in tree:
            mb = rss.get(pid, 0.0)
            own, reaped = ticks.get(pid, (0, 0))
            self.cpu[pid] = (own, reaped, parents.get(pid, 0), self._samples)
            total += mb
            if mb > self.per_pid.get(pid, ("", 0.0))[1]:
                self.per_pid[pid] = (_title(pid), mb)
        self.peak_total_mb = max(self.peak_total_mb, total)

    def cpu_seconds(self) -> float:
        """User + system CPU of the tree, as last sampled: each process's own and its reaped
        children's (short-lived ffmpeg calls), less what a child seen here had used when its
        parent reaped it (counted in both). A lower bound: up to a second of the end of each
        process that no sampled parent reaped is missed."""
        total = sum(own + reaped for own, reaped, _, _ in self.cpu.values())
        for own, reaped, parent, last in self.cpu.values():
            if parent in self.cpu and last < self.cpu[parent][3]:
                total -= own + reaped
        return total / os.sysconf("SC_CLK_TCK")

    def by_title(self) -> dict[str, tuple[int, float, float]]:
        """Process title -> (how many such processes, the largest one's peak RSS in MB, their
        own CPU seconds as last sampled)."""
        found: dict[str, tuple[int, float, float]] = {}
        tick = os.sysconf("SC_CLK_TCK")
        for pid, (title, mb) in self.per_pid.items():
            count, peak, cpu = found.get(title, (0, 0.0, 0.0))
            own = self.cpu.get(pid, (0, 0, 0, 0))[0] / tick
            found[title] = (count + 1, max(peak, mb), cpu + own)
        return found


def _title(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [w.decode(errors="replace") for w in raw if w]
    if not words:
        return "?"
    if words[0].startswith("ray::"):
        return words[0].split()[0].split(".")[0]
    names = [Path(w).name for w in words[:3]]
    if names[0].startswith("python") and len(names) > 1:
        return " ".join(names[1:3])
    return names[0]


@dataclass
class Finished:
    """How a command ended: exit code, wall seconds, its stdout, and from ``os.wait4`` its peak
    RSS (MB: the largest process of its tree that was reaped) and CPU seconds (user + system,
    with every descendant reaped in its tree); ``sampler`` saw its process tree meanwhile."""

    code: int
    wall: float
    out: str
    peak_rss_mb: float
    cpu: float
    sampler: TreeSampler


def _run(cmd: list[str], log: Path) -> Finished:
    """Run ``cmd`` with its stderr going to ``log``."""
    started = time.perf_counter()
    with open(log, "w", encoding="utf-8") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT)
        sampler = TreeSampler(proc.pid)
        out_parts: list[str] = []
        reader = threading.Thread(
            target=lambda: out_parts.append(proc.stdout.read() if proc.stdout else "")
        )
        reader.start()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        reader.join()
        sampler.stop()
    return Finished(
        proc.returncode,
        time.perf_counter() - started,
        "".join(out_parts),
        usage.ru_maxrss / 1024.0,
        usage.ru_utime + usage.ru_stime,
        sampler,
    )


def _output_for(video: Path, outdir: Path) -> Path:
    """Where ``lvas batch`` puts a video's output (``<stem>.dubbed<ext>``, the extension
    ``lvas dub`` picks), used for the sequential calls too, so both modes name their runs alike."""
    return default_output(video, Path(video.name), outdir)


def run_sequential(videos: list[Path], outdir: Path, seed: int) -> dict[str, Any]:
    """One ``lvas dub`` process per video, one after the other."""
    shutil.rmtree(outdir, ignore_errors=True)
    outdir.mkdir(parents=True)
    load_before = os.getloadavg()
    started = time.perf_counter()
    runs = []
    peak_tree = sampled_cpu = 0.0
    for video in videos:
        log = outdir / f"{video.stem}.log"
        done = _run(
            [
                *_lvas(),
                "dub",
                str(video),
                "-o",
                str(_output_for(video, outdir)),
                "--seed",
                str(seed),
                "-q",
                "--json",
            ],
            log,
        )
        if done.code != 0:
            sys.exit(f"lvas dub {video} failed ({done.code}); see {log}")
        summary = json.loads(done.out)
        peak_tree = max(peak_tree, done.sampler.peak_total_mb)
        sampled_cpu += done.sampler.cpu_seconds()
        runs.append(
            {
                "video": str(video),
                "wall": done.wall,
                "in_run": summary["seconds"],
                "peak_rss_mb": done.peak_rss_mb,
                "cpu": done.cpu,
                "soundtrack": summary["soundtrack"],
                "sounds": summary["sounds"],
            }
        )
    return {
        "mode": "sequential",
        "wall": time.perf_counter() - started,
        "runs": runs,
        "peak_tree_mb": peak_tree,
        "cpu": sum(r["cpu"] for r in runs),
        "cpu_how": f"os.wait4 of each process; sampled from /proc {sampled_cpu:.1f} s",
        "load": (load_before, os.getloadavg()),
    }


def run_batch(
    videos: list[Path], outdir: Path, seed: int, max_in_flight: int | None
) -> dict[str, Any]:
    """``lvas batch VIDEOS -o OUT --json`` on a local Ray instance."""
    shutil.rmtree(outdir, ignore_errors=True)
    outdir.mkdir(parents=True)
    load_before = os.getloadavg()
    launched = time.time()
    cmd = [*_lvas(), "batch", *map(str, videos), "-o", str(outdir), "--seed", str(seed), "--json"]
    if max_in_flight:
        cmd += ["--max-in-flight", str(max_in_flight)]
    log = outdir.with_name(outdir.name + ".log")
    done = _run(cmd, log)
    if done.code != 0:
        sys.exit(f"lvas batch failed ({done.code}); see {log}")
    return {
        "mode": "batch",
        "wall": done.wall,
        "summary": json.loads(done.out),
        "cpu": done.sampler.cpu_seconds(),
        "cpu_how": "sampled from /proc every second, Ray's processes included (os.wait4 sees "
        f"only {done.cpu:.1f} s: the command does not reap Ray's workers)",
        "sampler": done.sampler,
        "peak_tree_mb": done.sampler.peak_total_mb,
        "startup": _startup(outdir, launched),
        "load": (load_before, os.getloadavg()),
    }


def _startup(outdir: Path, launched: float) -> dict[str, float]:
    """Seconds from the command's launch until the first video was submitted (interpreter,
    imports, Ray's start and the generator pool) and until the first worker began it."""
    firsts: dict[str, float] = {}
    for line in (outdir / "batch.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("status") == "started" and "submitted" not in firsts:
            firsts["submitted"] = datetime.fromisoformat(record["time"]).timestamp() - launched
    began = []
    for log in (outdir / ".lvas-batch").glob("*/attempts.jsonl"):
        for line in log.read_text(encoding="utf-8").splitlines():
            began.append(json.loads(line)["time"])
    if began:
        firsts["first_worker_began"] = min(began) - launched
    return firsts


# -- reporting --------------------------------------------------------------------------------


def _sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _throughput(n: int, video_seconds: float, wall: float) -> str:
    return f"{n / wall * 3600:.0f} videos/h, {video_seconds / wall:.3f} video-min per wall-min"


def _loads(pair: tuple[tuple[float, ...], tuple[float, ...]]) -> str:
    before, after = pair
    return "/".join(f"{v:.2f}" for v in before) + " -> " + "/".join(f"{v:.2f}" for v in after)


def _cpu_line(run: dict[str, Any], n: int, video_seconds: float) -> str:
    cpu = run["cpu"]
    return (
        f"    CPU (user + system, the whole process tree; {run['cpu_how']}): {cpu:.1f} s, "
        f"{cpu / n:.1f} s per video, {cpu / (video_seconds / 60):.0f} s per video-minute"
    )


def report_sequential(run: dict[str, Any], n: int, video_seconds: float) -> None:
    runs = run["runs"]
    overhead = [r["wall"] - r["in_run"] for r in runs]
    print(
        f"  sequential lvas dub: wall {run['wall']:.1f} s, "
        f"{_throughput(n, video_seconds, run['wall'])}; load {_loads(run['load'])}"
    )
    print(
        f"    per process: wall {min(r['wall'] for r in runs):.1f}-"
        f"{max(r['wall'] for r in runs):.1f} s (mean {run['wall'] / n:.1f}), of which outside "
        f"the graph run (interpreter, imports, start-up) mean {sum(overhead) / n:.1f} s"
    )
    print(_cpu_line(run, n, video_seconds))
    print(
        f"    model loads: {n} processes, each loading its own generator and label index "
        f"(one of each per video)"
    )
    print(
        f"    peak RSS per process (os.wait4): max {max(r['peak_rss_mb'] for r in runs):.0f} "
        f"MB, mean {sum(r['peak_rss_mb'] for r in runs) / n:.0f} MB; process tree peak "
        f"(sampled) {run['peak_tree_mb']:.0f} MB"
    )


def report_batch(run: dict[str, Any], n: int, video_seconds: float) -> None:
    summary = run["summary"]
    videos = summary.get("videos", [])
    done = [v for v in videos if v.get("status") == "done"]
    print(
        f"  lvas batch: wall {run['wall']:.1f} s, {_throughput(n, video_seconds, run['wall'])}"
        f"; load {_loads(run['load'])}"
    )
    print(
        f"    done {len(done)}/{n}; inside run_batch {summary.get('wall_seconds', 0):.1f} s; "
        f"first video submitted at {run['startup'].get('submitted', float('nan')):.1f} s, "
        f"first worker began at {run['startup'].get('first_worker_began', float('nan')):.1f} s"
        " after launch"
    )
    per_video = [float(v.get("seconds", 0.0)) for v in done]
    if per_video:
        print(
            f"    per video in its worker: {min(per_video):.1f}-{max(per_video):.1f} s "
            f"(mean {sum(per_video) / len(per_video):.1f}); sum {sum(per_video):.1f} s over "
            f"{run['wall']:.1f} s of wall"
        )
    print(_cpu_line(run, n, video_seconds))
    workers: dict[int, dict[str, float]] = {}
    for v in done:
        w = workers.setdefault(int(v.get("pid", 0)), {"videos": 0, "index": 0, "rss": 0.0})
        w["videos"] += 1
        w["index"] = max(w["index"], int(v.get("index_loads_in_worker", 0)))
        w["rss"] = max(w["rss"], float(v.get("worker_peak_rss_mb", 0.0)))
    for pid, w in sorted(workers.items()):
        print(
            f"    worker pid {pid}: {w['videos']:.0f} videos, label index loads "
            f"{w['index']:.0f}, peak RSS {w['rss']:.0f} MB"
        )
    for actor in summary.get("generator_pool", []):
        print(
            f"    generator {actor.get('name')} (pid {actor.get('pid')}, "
            f"{actor.get('backend')} on {actor.get('device')}): loads {actor.get('loads')}, "
            f"requests {actor.get('requests')}, batches {actor.get('batches')}, mean batch "
            f"fill {float(actor.get('mean_batch_fill', 0)):.0%} of max_batch "
            f"{actor.get('max_batch')}, busy {float(actor.get('busy_seconds', 0)):.1f} s"
        )
    titles = run["sampler"].by_title()
    listed = sorted(titles.items(), key=lambda kv: -kv[1][2])
    print(
        f"    process tree peak (sampled) {run['peak_tree_mb']:.0f} MB; its processes by CPU "
        "(count, largest peak RSS, own CPU s): "
        + ", ".join(
            f"{t} x{c} {mb:.0f} MB {cpu:.1f} s"
            for t, (c, mb, cpu) in listed
            if cpu >= 0.1 or mb >= 50
        )
    )


def compare_soundtracks(seq: dict[str, Any], batch: dict[str, Any], shown: int = 3) -> None:
    by_video = {v["video"]: v for v in batch["summary"].get("videos", [])}
    same = 0
    lines = []
    for r in seq["runs"]:
        record = by_video.get(r["video"])
        if record is None or not record.get("run_dir"):
            lines.append(f"    {Path(r['video']).name}: missing from the batch")
            continue
        a, b = _sha(r["soundtrack"]), _sha(Path(record["run_dir"]) / "soundtrack.wav")
        same += a == b
        if len(lines) < shown or a != b:
            lines.append(
                f"    {Path(r['video']).name}: sequential {a[:16]} batch {b[:16]} "
                f"{'identical' if a == b else 'DIFFERENT'}"
            )
    print(f"  soundtrack.wav byte-identical in both modes: {same}/{len(seq['runs'])}")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", help="folder to keep the videos and outputs in (reused)")
    parser.add_argument("--max-in-flight", type=int, help="passed to lvas batch")
    args = parser.parse_args()

    work = Path(args.work or tempfile.mkdtemp(prefix="lvas-bench-batch-"))
    work.mkdir(parents=True, exist_ok=True)
    ff = ffmpeg_exe()
    version = subprocess.run([ff, "-version"], capture_output=True, text=True).stdout
    videos, real = make_videos(args.videos, work / "videos")
    seconds = [probe_video(v).duration for v in videos]
    video_seconds = sum(seconds)
    print(
        f"bench_batch: {len(videos)} videos, {sum(seconds):.1f} s of video "
        f"({min(seconds):.1f}-{max(seconds):.1f} s each), "
        f"{'cut from ' + str(MEDIA) + ' plus generated' if real else 'ALL GENERATED: '}"
        f"{'' if real else str(MEDIA) + ' not found'}"
    )
    print(
        f"  {len(os.sched_getaffinity(0))} CPUs, load {_load()}; ffmpeg {ff}: "
        f"{version.splitlines()[0] if version else '?'}"
    )
    for i in range(args.repeats):
        order = ("sequential", "batch") if i % 2 == 0 else ("batch", "sequential")
        runs: dict[str, dict[str, Any]] = {}
        for mode in order:
            if mode == "sequential":
                runs[mode] = run_sequential(videos, work / "sequential", args.seed)
            else:
                runs[mode] = run_batch(videos, work / "batch", args.seed, args.max_in_flight)
        print(f"repeat {i + 1}/{args.repeats} (order: {' then '.join(order)}):")
        report_sequential(runs["sequential"], len(videos), video_seconds)
        report_batch(runs["batch"], len(videos), video_seconds)
        speedup = runs["sequential"]["wall"] / runs["batch"]["wall"]
        print(f"  speed-up batch/sequential: {speedup:.2f}x (wall)")
        compare_soundtracks(runs["sequential"], runs["batch"])
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
