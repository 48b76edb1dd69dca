"""Benchmark: the offline pipeline end to end on a long 720p video.

Loops a real clip (stream copy, no re-encoding) to the wanted length, runs ``lvas dub`` on it
in a fresh process, and prints wall time, real-time factor, peak memory and per-node time.
Budget (DESIGN §8): a 10-minute 720p video in under a minute on 2 cores.

    python benchmarks/bench_pipeline.py [--minutes 10] [--source ../shared/media/cockatoo.mp4]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lvas.tools.common.ffmpeg import run_ffmpeg  # noqa: E402
from lvas.tools.video.probe import probe_video  # noqa: E402


def make_long_video(source: Path, minutes: float, out: Path) -> Path:
    """Loop ``source`` with stream copy until it lasts ``minutes``."""
    run_ffmpeg(["-y", "-stream_loop", "-1", "-i", str(source), "-map", "0:v:0", "-c", "copy",
                "-t", f"{minutes * 60:.3f}", str(out)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--source", default=str(ROOT.parent / "shared/media/cockatoo.mp4"))
    parser.add_argument("--keep", help="folder to keep the video and run in")
    args = parser.parse_args()

    work = Path(args.keep or tempfile.mkdtemp(prefix="lvas-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    video = make_long_video(Path(args.source), args.minutes, work / "long.mp4")
    info = probe_video(video)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "lvas.graph.cli", "dub", str(video),
         "-o", str(work / "long.out.mp4"),
         "--overwrite", "--work-dir", str(work / "run"), "--json", "-q"],
        capture_output=True, text=True, cwd=ROOT,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"lvas dub failed:\n{result.stderr}")
    summary = json.loads(result.stdout)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"video            {info.duration:8.1f} s  {info.width}x{info.height} {info.video_codec}")
    print(f"scenes / sounds  {summary['scenes']} / {summary['sounds']}")
    print(f"wall             {wall:8.1f} s  (budget 60 s for 10 min)")
    print(f"real-time factor {info.duration / wall:8.1f} x")
    print(f"peak RSS         {peak_mb:8.0f} MB")
    for node, seconds in sorted(summary["timings"].items(), key=lambda kv: -kv[1]):
        print(f"  {node:<20} {seconds:8.2f} s")


if __name__ == "__main__":
    main()
