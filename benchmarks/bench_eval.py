"""Weight-free metrics: speed as a multiple of real time on one core, and memory flat in length.

Each metric runs in a fresh process pinned to one core (``taskset`` where available), on a
synthetic 48 kHz stereo soundtrack (noise and a tone, with a motion envelope and 20 s scenes)
of 1 and of 10 minutes; the process's peak RSS is reported for both, so memory that grows with
the video's length shows as a difference. Budget (issue 12): every metric at >= 50x real time.

    python benchmarks/bench_eval.py [--minutes 1 10] [--keep DIR] [--skip-ablation]
        [--media ../shared/media]

Then the wall time of a three-variant ablation (full system plus three variants) on two 30 s
videos (Big Buck Bunny's first 30 s, and the cockatoo clip looped to 30 s by stream copy), with
the offline profile, against a plain ``lvas dub`` of each video measured in the same run: the
ratio says what a study costs beyond dubbing each video once per system. The label index is
built before timing; the scene-analysis cache is emptied before the study, so its first
variant analyses each video as a plain dub does and the others reuse that analysis.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 48_000
METRICS = ("sync", "seams", "dropouts", "fd-logmel statistics", "loudness")
BUDGET_X = 50.0

_WORKER = r"""
import json, resource, sys, time
import numpy as np
from lvas.tools.evaluation.dropouts import dropouts
from lvas.tools.evaluation.frechet import log_mel_stats
from lvas.tools.evaluation.loudness_range import measure_loudness
from lvas.tools.evaluation.seams import seams
from lvas.tools.evaluation.sync import sync_metric

name, path, motion_path, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
motion = np.load(motion_path)
scenes = [(s, min(s + 20.0, seconds)) for s in np.arange(0.0, seconds, 20.0)]
cuts = [s for s, _ in scenes[1:]]
run = {
    "sync": lambda: sync_metric(path, motion, scenes),
    "seams": lambda: seams(path, cuts),
    "dropouts": lambda: dropouts(path),
    "fd-logmel statistics": lambda: log_mel_stats([path]),
    "loudness": lambda: measure_loudness(path),
}[name]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
run()
wall = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"wall": wall, "rss_before_mb": before / 1024, "peak_mb": peak / 1024}))
"""


def make_soundtrack(folder: Path, minutes: float) -> tuple[Path, Path, float]:
    """A soundtrack written block by block, and its 25 Hz motion envelope."""
    seconds = minutes * 60.0
    path = folder / f"soundtrack-{minutes:g}min.wav"
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", RATE, 2, "PCM_24") as out:
        for start in np.arange(0.0, seconds, 10.0):
            n = int(round(min(10.0, seconds - start) * RATE))
            t = start + np.arange(n) / RATE
            tone = 0.1 * np.sin(2 * np.pi * 440.0 * t)[:, None]
            out.write(0.1 * rng.standard_normal((n, 2)) + tone)
    motion = folder / f"motion-{minutes:g}min.npy"
    np.save(motion, np.abs(np.random.default_rng(1).standard_normal(int(seconds * 25)))
            .astype(np.float32))
    return path, motion, seconds


def run_metric(name: str, soundtrack: Path, motion: Path, seconds: float) -> dict[str, float]:
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    result = subprocess.run([*pin, sys.executable, "-c", _WORKER, name, str(soundtrack),
                             str(motion), str(seconds)],
                            capture_output=True, text=True, check=True)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


ABLATION_PLAN = """\
### Ablation 1: Remove Discussion-Correction
- **Ablated Part**: discussion and correction between the Storyboarder and the Scriptwriter
- **Action**: REMOVE
- **Metrics**: seams, sync, dropouts, FAD-free, loudness

### Ablation 2: Replace Scene Segmentation
- **Ablated Part**: semantic scene segmentation by the Storyboarder
- **Action**: REPLACE
- **Replacement**:
  - fixed 10-second chunks
- **Metrics**: seams, sync

### Ablation 3: Remove crossfades
- **Ablated Part**: window overlap and crossfades
- **Action**: REMOVE
- **Metrics**: seams
"""


def _lvas(args: list[str], cache: Path) -> float:
    """Wall seconds of one ``lvas`` command in a fresh process."""
    env = {**os.environ, "LVAS_CACHE_DIR": str(cache)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lvas.graph.cli", *args], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def bench_ablation(folder: Path, media: Path) -> None:
    """A three-variant study on two 30 s videos against plain dubs of the same videos."""
    from lvas.retrieval_index import build_index
    from lvas.tools.common.ffmpeg import ffmpeg_exe

    videos = folder / "videos"
    videos.mkdir(exist_ok=True)
    shutil.copy(media / "big_buck_bunny_0_30.webm", videos / "bbb.webm")
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-stream_loop", "2", "-i",
                    str(media / "cockatoo.mp4"), "-t", "30", "-c", "copy",
                    str(videos / "cockatoo30.mp4")], check=True)
    cache = folder / "cache"
    build_index(cache)
    plan = folder / "plan.md"
    plan.write_text(ABLATION_PLAN, encoding="utf-8")
    dubs = {v.name: _lvas(["dub", str(v), "-o", str(folder / f"dub-{v.name}"),
                            "--generator", "procedural", "--chat-backend", "offline", "-q",
                            "--overwrite"], cache)
            for v in sorted(videos.iterdir())}
    shutil.rmtree(cache / "scenes", ignore_errors=True)
    wall = _lvas(["ablate", str(plan), "--videos", str(videos), "-o", str(folder / "study"),
                  "--generator", "procedural", "--chat-backend", "offline", "-q"], cache)
    rows = (folder / "study" / "results.jsonl").read_text().splitlines()
    systems = len(json.loads((folder / "study" / "study.json").read_text())["variants"])
    video_seconds = 30.0 * len(dubs)
    print(f"ablation: {systems} systems (full + {systems - 1} variants) x {len(dubs)} videos of "
          f"30 s, offline profile, {len(rows)} scored pairs")
    for name, seconds in dubs.items():
        print(f"  plain lvas dub {name:16s} {seconds:6.1f} s")
    print(f"  whole study {wall:6.1f} s = {wall / sum(dubs.values()):.2f}x the plain dubs of "
          f"both videos ({systems} systems would be {systems}x without shared caches); "
          f"{systems * video_seconds / wall:.1f}x real time over the "
          f"{systems * video_seconds:.0f} s of video dubbed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--keep", type=Path, help="folder for the synthetic files (kept)")
    parser.add_argument("--skip-ablation", action="store_true", help="metrics only")
    parser.add_argument("--media", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "media")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="lvas-bench-eval-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        files = {m: make_soundtrack(folder, m) for m in args.minutes}
        longest = max(args.minutes)
        print(f"weight-free metrics, one core, 48 kHz stereo; speed on the {longest:g}-minute "
              f"file, peak RSS per length (budget >= {BUDGET_X:.0f}x real time)")
        worst = float("inf")
        for name in METRICS:
            rows = {m: run_metric(name, *files[m]) for m in args.minutes}
            speed = files[longest][2] / rows[longest]["wall"]
            worst = min(worst, speed)
            memory = ", ".join(f"{m:g} min {rows[m]['peak_mb']:.0f} MB" for m in args.minutes)
            print(f"  {name:22s} {speed:7.0f}x real time   peak RSS: {memory}")
        print(f"slowest metric: {worst:.0f}x real time "
              f"({'meets' if worst >= BUDGET_X else 'misses'} the {BUDGET_X:.0f}x budget)")
        if not args.skip_ablation:
            bench_ablation(folder, args.media)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
