"""Benchmark: how long ``lvas`` takes to start, against Python itself and an ``import torch``.

Each figure is the median wall time of ``--repeats`` runs, every run a fresh process, the
commands taken in turn within each round so that a busy moment of the machine spreads over all
of them. ``python -c pass`` and ``python -c "import torch"`` are measured in the same rounds,
so the figures also read as ratios on a noisy machine.

    python benchmarks/bench_startup.py [--repeats 5] [--cache DIR] [--json]

The label search is measured warm: the index (and its ONNX query model) is built first if it
is missing, untimed (about 35 s on 2 cores the first time).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGETS_S = {"lvas --help": 1.0, "lvas doctor": 1.0, "lvas labels search": 3.0}


def lvas_command() -> str:
    """The ``lvas`` script next to this Python (the venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("lvas")
    found = str(beside) if beside.exists() else shutil.which("lvas")
    if not found:
        raise SystemExit("lvas is not installed here; run: pip install -e .")
    return found


def commands(lvas: str) -> dict[str, list[str]]:
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import torch'": [sys.executable, "-c", "import torch"],
        "lvas --help": [lvas, "--help"],
        "lvas doctor": [lvas, "doctor"],
        "lvas labels search": [lvas, "labels", "search", "dog barking"],
    }


def run_once(argv: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one fresh process; a failing command stops the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def measure(repeats: int, env: dict[str, str]) -> dict[str, list[float]]:
    todo = commands(lvas_command())
    times: dict[str, list[float]] = {name: [] for name in todo}
    for _ in range(repeats):
        for name, argv in todo.items():
            times[name].append(run_once(argv, env))
    return times


def report(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    medians = {name: statistics.median(values) for name, values in times.items()}
    python, torch = medians["python -c pass"], medians["python -c 'import torch'"]
    rows = {}
    print(f"\n{'command':<28}{'median s':>10}{'best s':>9}{'x python':>10}{'x torch':>9}"
          f"{'target':>9}")
    for name, values in times.items():
        median = medians[name]
        target = TARGETS_S.get(name)
        verdict = "" if target is None else f"< {target:g} s " + (
            "ok" if median < target else "MISSED")
        print(f"{name:<28}{median:>10.3f}{min(values):>9.3f}{median / python:>10.1f}"
              f"{median / torch:>9.2f}  {verdict}")
        rows[name] = {"median_s": round(median, 4), "best_s": round(min(values), 4),
                      "runs": len(values), "x_python": round(median / python, 2),
                      "x_torch_import": round(median / torch, 3)}
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per command (default 5)")
    parser.add_argument("--cache", help="cache folder (LVAS_CACHE_DIR; default: yours)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.cache:
        env["LVAS_CACHE_DIR"] = str(Path(args.cache).expanduser())
    print("warming up: the label index and its query model (built now if missing)...",
          file=sys.stderr, flush=True)
    run_once([lvas_command(), "labels", "search", "warm up"], env)
    rows = report(measure(max(1, args.repeats), env))
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
