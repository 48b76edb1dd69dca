"""Benchmark: the streaming mixer — speed, peak memory and mastering accuracy on a long mix.

Generates (not timed) ``--minutes`` of six lanes into WAV files: two beds (one long file, and
one made of one-minute clips crossfading), a 44.1 kHz ambience that must be resampled, two
foreground lanes of many short events (tones and noise hits, some at 22.05 kHz), and one speech
lane of amplitude-modulated noise lines. Then ``mix_to_wav`` runs in a fresh process with
ducking on and stems written, ``--repeats`` times: wall time of the call, multiple of real
time (target >= 100x), peak RSS, and the same mix on a ``--short-minutes`` timeline to show
that memory does not grow with length. Finally the output is checked, block by block:
loudness and true peak measured again from the file, and the largest difference between the
mix and the sum of its stems.

    python benchmarks/bench_mixing.py [--minutes 10] [--short-minutes 2] [--repeats 3]
        [--target -23] [--block-seconds 10] [--work DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lvas.tools.audio.loudness import LoudnessMeter, TruePeakMeter  # noqa: E402

SPEED_TARGET = 100.0
SR = 48000
CHUNK = 10.0  # seconds generated at a time, so the inputs never sit in memory whole


# --- inputs ------------------------------------------------------------------------------------

def _write_noise(path: Path, seconds: float, sr: int, channels: int, seed: int, cutoff: float,
                 rms: float) -> str:
    """Low-passed noise with a slow level drift, streamed to a PCM_16 WAV (like a bed)."""
    rng = np.random.default_rng(seed)
    sos = signal.butter(2, cutoff, fs=sr, output="sos")
    zi = np.zeros((sos.shape[0], 2, channels))
    n, done = int(round(seconds * sr)), 0
    with sf.SoundFile(path, "w", samplerate=sr, channels=channels, subtype="PCM_16") as f:
        while done < n:
            k = min(int(CHUNK * sr), n - done)
            x, zi = signal.sosfilt(sos, rng.standard_normal((k, channels)), axis=0, zi=zi)
            t = (done + np.arange(k)) / sr
            x *= (rms * 2.2 * (1.0 + 0.3 * np.sin(2 * np.pi * t / 37.0)))[:, None]
            f.write(np.clip(x, -1, 1))
            done += k
    return str(path)


def _event(kind: int, sr: int, seed: int) -> np.ndarray:
    """A short event: a decaying tone, a noise hit or a chirp (0.2 to 1.5 s)."""
    rng = np.random.default_rng(seed)
    length = 0.2 + 1.3 * rng.random()
    t = np.arange(int(length * sr)) / sr
    decay = np.exp(-t * (3 + 10 * rng.random())) * np.minimum(t / 0.004, 1.0)
    if kind == 0:
        x = np.sin(2 * np.pi * (200 + 1500 * rng.random()) * t)
    elif kind == 1:
        x = rng.standard_normal(len(t))
    else:
        x = np.sin(2 * np.pi * (300 * t + 900 * t * t))
    return 0.5 * x * decay


def _speech_line(seconds: float, seed: int) -> np.ndarray:
    """Speech-like noise: 4 Hz syllables grouped in words with pauses."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    syllables = np.maximum(np.sin(2 * np.pi * (3.5 + rng.random()) * t), 0.0) ** 0.5
    words = (np.sin(2 * np.pi * 0.6 * t + rng.random()) > -0.5).astype(float)
    x = signal.sosfilt(signal.butter(2, [150, 4000], "bandpass", fs=SR, output="sos"),
                       rng.standard_normal(len(t)))
    return 0.3 * x * (0.1 + 0.9 * syllables * words)


def make_inputs(work: Path, minutes: float) -> list[dict]:
    """Write the six lanes' files into ``work``; return the track list (``MixTrack`` fields)."""
    seconds = minutes * 60
    rng = np.random.default_rng(7)
    tracks: list[dict] = []
    # Lane 1: one long bed. Lane 2: one-minute bed clips with 2 s crossfades.
    bed = _write_noise(work / "bed_long.wav", seconds, SR, 2, 1, 1500.0, 0.1)
    tracks.append(dict(path=bed, start=0.0, gain_db=-3.0, fade_in=1.0, fade_out=2.0))
    clips = [_write_noise(work / f"bed_clip{i}.wav", 62.0, SR, 2, 10 + i, 4000.0, 0.05)
             for i in range(3)]
    for k in range(math.ceil(seconds / 60)):
        tracks.append(dict(path=clips[k % 3], start=60.0 * k, fade_in=2.0 if k else 0.0,
                           fade_out=2.0))
    # Lane 3: a 44.1 kHz ambience, resampled while streaming.
    amb = _write_noise(work / "ambience_44k1.wav", seconds, 44100, 2, 2, 800.0, 0.05)
    tracks.append(dict(path=amb, start=0.0, gain_db=-6.0, fade_in=2.0, fade_out=2.0))
    # Lanes 4 and 5: many short events from a pool of files at 48 and 22.05 kHz.
    pool = []
    for i in range(16):
        rate = SR if i % 2 else 22050
        path = work / f"event{i}.wav"
        sf.write(path, _event(i % 3, rate, 100 + i).astype(np.float32), rate, subtype="FLOAT")
        pool.append(str(path))
    for lane, spacing in enumerate((2.0, 3.3)):
        start = 0.5 + lane
        while start < seconds:
            tracks.append(dict(path=pool[int(rng.integers(len(pool)))], start=start,
                               gain_db=float(rng.uniform(-12, 0)), layer="foreground",
                               pan=float(rng.uniform(-0.8, 0.8))))
            start += spacing * float(rng.uniform(0.5, 1.5))
    # Lane 6: speech lines of 2-5 s with pauses, from eight mono files.
    lines = []
    for i in range(8):
        path = work / f"line{i}.wav"
        sf.write(path, _speech_line(2.0 + 3.0 * i / 7, 200 + i).astype(np.float32), SR,
                 subtype="FLOAT")
        lines.append((str(path), 2.0 + 3.0 * i / 7))
    start = 3.0
    while start < seconds:
        path, length = lines[int(rng.integers(len(lines)))]
        tracks.append(dict(path=path, start=start, layer="speech"))
        start += length + float(rng.uniform(1.0, 8.0))
    return tracks


# --- one measurement ---------------------------------------------------------------------------

def child_main(spec_path: str) -> None:
    """``--child`` mode: one mix in this fresh process; prints one JSON line.

    Peak RSS is this process's own (RUSAGE_SELF), so nothing the parent did is counted.
    """
    spec = json.loads(Path(spec_path).read_text())
    started = time.perf_counter()
    from lvas.tools.audio.mixing import DuckingSettings, MixTrack, mix_to_wav

    rss_imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    imported = time.perf_counter()
    cpu = time.process_time()
    report = mix_to_wav(
        [MixTrack(**t) for t in spec["tracks"]], spec["duration"], spec["out"],
        loudness_target=spec["target"], block_seconds=spec["block_seconds"],
        ducking=DuckingSettings(), stems_dir=spec["stems"],
    )
    done = time.perf_counter()
    print(json.dumps({
        "import_s": imported - started,
        "mix_s": done - imported,
        "mix_cpu_s": time.process_time() - cpu,  # both threads: compute and write-behind
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_after_import_mb": rss_imported,
        "report": report.to_dict(),
    }))


def run_mix(tracks: list[dict], duration: float, work: Path, target: float,
            block_seconds: float) -> dict:
    spec = {"tracks": tracks, "duration": duration, "out": str(work / "mix.wav"),
            "stems": str(work / "stems"), "target": target, "block_seconds": block_seconds}
    spec_path = work / "spec.json"
    spec_path.write_text(json.dumps(spec))
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child",
                           str(spec_path)], capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode != 0:
        sys.exit(f"mix failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_output(report: dict, block_seconds: float = 10.0) -> dict:
    """Loudness and true peak of the written mix, and max |mix - sum of stems|, block by block."""
    meter = LoudnessMeter(report["sample_rate"], report["channels"])
    peak = TruePeakMeter(report["channels"])
    worst = 0.0
    block = int(block_seconds * report["sample_rate"])
    with sf.SoundFile(report["path"]) as mix:
        stems = [sf.SoundFile(p) for p in report["stems"].values()]
        try:
            while True:
                y = mix.read(block, dtype="float64", always_2d=True)
                if not len(y):
                    break
                meter.add(y)
                peak.add(y)
                total = sum(s.read(block, dtype="float64", always_2d=True) for s in stems)
                worst = max(worst, float(np.abs(total - y).max()))
        finally:
            for s in stems:
                s.close()
    return {"lufs": meter.integrated(), "true_peak_db": peak.peak_db(), "stem_sum_error": worst}


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child_main(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--short-minutes", type=float, default=2.0,
                        help="a shorter mix for the memory comparison; 0 skips it")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--target", type=float, default=-23.0, help="loudness target, LUFS")
    parser.add_argument("--block-seconds", type=float, default=10.0)
    parser.add_argument("--work", help="folder for the inputs and outputs (kept); default: temp")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args()
    if args.minutes <= 0 or args.repeats < 1 or args.short_minutes < 0:
        parser.error("--minutes must be > 0, --repeats >= 1, --short-minutes >= 0")

    def say(text: str) -> None:
        if not args.json:
            print(text, flush=True)

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="lvas-bench-mix-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        say(f"== inputs: {args.minutes:g} minutes, six lanes (work {work}) ==")
        started = time.perf_counter()
        tracks = make_inputs(work, args.minutes)
        layers = {}
        for t in tracks:
            layers[t.get("layer", "background")] = layers.get(t.get("layer", "background"), 0) + 1
        say(f"{len(tracks)} tracks ({', '.join(f'{v} {k}' for k, v in layers.items())}), "
            f"generated in {time.perf_counter() - started:.1f} s (not timed)")
        duration = args.minutes * 60

        say(f"\n== mix with ducking and stems, {args.repeats} runs in fresh processes ==")
        runs = []
        for i in range(args.repeats):
            runs.append(run_mix(tracks, duration, work, args.target, args.block_seconds))
            r = runs[-1]
            say(f"  run {i + 1}/{args.repeats}: mix_to_wav {r['mix_s']:.2f} s "
                f"({duration / r['mix_s']:.0f}x real time; CPU {r['mix_cpu_s']:.2f} s), "
                f"peak RSS {r['maxrss_mb']:.0f} MB, load average {os.getloadavg()[0]:.1f}")
        walls = [r["mix_s"] for r in runs]
        rss = [r["maxrss_mb"] for r in runs]
        report = runs[-1]["report"]
        checked = check_output(report)

        short = None
        if args.short_minutes > 0:
            say(f"\n== memory: the same lanes on a {args.short_minutes:g}-minute timeline ==")
            short = run_mix(tracks, args.short_minutes * 60, work, args.target,
                            args.block_seconds)
            say(f"  mix_to_wav {short['mix_s']:.2f} s, peak RSS {short['maxrss_mb']:.0f} MB")
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)

    wall = statistics.median(walls)
    summary = {
        "minutes": args.minutes,
        "tracks": len(tracks),
        "tracks_per_layer": layers,
        "block_seconds": args.block_seconds,
        "mix_s_median": wall,
        "mix_s_best": min(walls),
        "mix_cpu_s_median": statistics.median(r["mix_cpu_s"] for r in runs),
        "load_average_1min": os.getloadavg()[0],
        "import_s": statistics.median(r["import_s"] for r in runs),
        "x_realtime": duration / wall,
        "x_realtime_best": duration / min(walls),
        "peak_rss_mb": max(rss),
        "rss_after_import_mb": runs[-1]["rss_after_import_mb"],
        "short_minutes": args.short_minutes if short else None,
        "short_peak_rss_mb": short["maxrss_mb"] if short else None,
        "target_lufs": args.target,
        "report": report,
        "measured": checked,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print("\n== summary ==")
    print(f"mix_to_wav wall               median {wall:.2f} s   best {min(walls):.2f} s   "
          f"(CPU {summary['mix_cpu_s_median']:.2f} s; "
          f"+ {summary['import_s']:.2f} s imports per process)")
    print(f"real-time factor              {summary['x_realtime']:.0f}x "
          f"(target >= {SPEED_TARGET:.0f}x)  {_verdict(summary['x_realtime'] >= SPEED_TARGET)}  "
          f"[best {summary['x_realtime_best']:.0f}x]")
    line = f"peak RSS                      {max(rss):.0f} MB"
    if short:
        line += (f"  ({args.short_minutes:g} min: {short['maxrss_mb']:.0f} MB; "
                 f"after imports: {summary['rss_after_import_mb']:.0f} MB)")
    print(line)
    print(f"loudness                      {checked['lufs']:.2f} LUFS measured from the file "
          f"(target {args.target:g} ± 0.5)  {_verdict(abs(checked['lufs'] - args.target) <= 0.5)}"
          f"  [report {report['integrated_lufs']:.2f}, gain {report['gain_applied_db']:+.2f} dB]")
    print(f"true peak                     {checked['true_peak_db']:.2f} dBTP (ceiling -1)  "
          f"{_verdict(checked['true_peak_db'] <= -1.0)}")
    print(f"stems vs mix                  max |mix - sum of stems| "
          f"{checked['stem_sum_error']:.1e}  {_verdict(checked['stem_sum_error'] < 1e-3)}")
    print(f"ducking                       deepest {report['ducking_db']:.1f} dB on the beds; "
          "stem peaks " + ", ".join(f"{k} {v:.1f} dBFS"
                                    for k, v in report["stem_peak_db"].items()))


if __name__ == "__main__":
    main()
