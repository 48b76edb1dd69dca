"""Benchmark: label retrieval from designer-style descriptions — accuracy, latency, build time.

Scores the shipped hybrid index (``retrieval_index.open_index(...).search``) against a plain
embedding search over the 836 label names with the same packaged model, on the hand-written set
in ``benchmarks/data/retrieval_eval.jsonl``. The dev split may be used for tuning; the test split
is the held-out figure, so its misses are never printed.

    python benchmarks/bench_retrieval.py [--split test|dev|all] [--cache DIR] [--k 5]
        [--show-misses] [--skip-build] [--torch-queries]

Queries are embedded as shipped, by the model's ONNX export; ``--torch-queries`` embeds them
with the torch model instead, to check that both give the same figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EVAL_FILE = ROOT / "benchmarks" / "data" / "retrieval_eval.jsonl"
VGGSOUND_CSV = ROOT / "retrieval_index" / "data" / "vggsound_stat.csv"
AUDIOSET_CSV = ROOT / "retrieval_index" / "data" / "audioset_class_labels_indices_527.csv"

TOP1_TARGET = 0.80
TOP5_TARGET = 0.93
P95_TARGET_MS = 20.0
SPLITS = ("dev", "test")


@dataclass(frozen=True)
class EvalItem:
    """One description and the exact label names that count as a correct answer."""

    id: str
    split: str
    description: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class MethodResult:
    """Ranked label names per item, and the seconds each single query took."""

    name: str
    ranked: list[list[str]]
    seconds: list[float]


# --- data --------------------------------------------------------------------------------------

def load_eval(path: Path = EVAL_FILE, split: str = "test") -> list[EvalItem]:
    """Items of ``split`` ("dev", "test" or "all") from the JSON-lines evaluation file."""
    items = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            if split in ("all", row["split"]):
                items.append(EvalItem(row["id"], row["split"], row["description"],
                                      tuple(row["labels"])))
    return items


def label_names() -> list[str]:
    """The 309 VGGSound and 527 AudioSet label names, as the vocabularies spell them."""
    with VGGSOUND_CSV.open(encoding="utf-8", newline="") as fh:
        vgg = [row[0] for row in csv.reader(fh) if row]
    with AUDIOSET_CSV.open(encoding="utf-8", newline="") as fh:
        audioset = [row["display_name"] for row in csv.DictReader(fh)]
    return vgg + audioset


# --- methods -----------------------------------------------------------------------------------

def _timed(items: Sequence[EvalItem], query: Callable[[str], list[str]], name: str,
           ) -> MethodResult:
    query(items[0].description + " warm-up")  # load the model, fill caches, before timing
    ranked, seconds = [], []
    for item in items:
        started = time.perf_counter()
        ranked.append(query(item.description))
        seconds.append(time.perf_counter() - started)
    return MethodResult(name, ranked, seconds)


def run_baseline(items: Sequence[EvalItem], k: int) -> MethodResult:
    """Plain search: cosine between the description and each bare label name, nothing else."""
    import numpy as np

    from lvas.retrieval_index.embeddings import get_embedder

    embedder = get_embedder("packaged")
    names = label_names()
    matrix = np.asarray(embedder.embed(names), dtype=np.float32)

    def query(text: str) -> list[str]:
        vector = np.asarray(embedder.embed([text])[0], dtype=np.float32)
        scores = matrix @ vector
        best = np.argsort(-scores, kind="stable")[:k]
        return [names[i] for i in best]

    return _timed(items, query, "baseline")


def run_lvas(items: Sequence[EvalItem], k: int, cache: str | None, *,
             onnx_queries: bool = True) -> MethodResult:
    """The shipped hybrid index, one ``search`` call per description."""
    from lvas.graph.context import Context
    from lvas.retrieval_index import open_index

    index = open_index(cache or Context().index_dir or None, onnx_queries=onnx_queries)
    print(f"LVAS queries embedded with {index.embedder.engine}", file=sys.stderr)
    return _timed(items, lambda text: [h.label for h in index.search(text, k)], "LVAS")


def cold_build_seconds(cache_parent: str | None = None) -> tuple[float, float]:
    """(process wall, build_index() wall) of a forced build into an empty directory, in a fresh
    Python process, so the model load and imports are counted as a first run would pay them."""
    code = (
        "import sys, time, json\n"
        "t0 = time.perf_counter()\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from lvas.retrieval_index import build_index\n"
        "info = build_index(sys.argv[1], force=True)\n"
        "print(json.dumps({'seconds': time.perf_counter() - t0, 'count': info.count}))\n"
    )
    with tempfile.TemporaryDirectory(prefix="lvas-bench-index-", dir=cache_parent) as tmp:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code, tmp], capture_output=True, text=True,
                              check=False, cwd=ROOT)
        wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"cold build failed:\n{done.stderr[-2000:]}")
    inner = json.loads(done.stdout.strip().splitlines()[-1])
    return wall, float(inner["seconds"])


# --- scoring -----------------------------------------------------------------------------------

def hit_at(item: EvalItem, ranked: Sequence[str], n: int) -> bool:
    """Whether any acceptable label is among the first ``n`` results."""
    wanted = set(item.labels)
    return any(label in wanted for label in ranked[:n])


def accuracy(items: Sequence[EvalItem], result: MethodResult, n: int) -> float:
    return sum(hit_at(it, r, n) for it, r in zip(items, result.ranked, strict=True)) / len(items)


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    """Nearest-rank percentile in milliseconds (no interpolation: a real observed latency)."""
    ordered = sorted(seconds)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1] * 1000


# --- report ------------------------------------------------------------------------------------

def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report(items: Sequence[EvalItem], results: Sequence[MethodResult], k: int, split: str,
           build: tuple[float, float] | None) -> None:
    print(f"\n== accuracy and latency (split={split}, n={len(items)}, k={k}) ==")
    stats = {}
    for res in results:
        s = stats[res.name] = {
            "top1": accuracy(items, res, 1),
            "topk": accuracy(items, res, k),
            "p50": percentile_ms(res.seconds, 50),
            "p95": percentile_ms(res.seconds, 95),
        }
        print(f"{res.name:<9} top-1 {s['top1']:.3f}  top-{k} {s['topk']:.3f}  "
              f"p50 {s['p50']:.1f} ms  p95 {s['p95']:.1f} ms  (single queries, after warm-up)")
    if build is not None:
        print(f"cold build (fresh process, forced, empty dir): {build[0]:.1f} s wall "
              f"({build[1]:.1f} s from import to built index)")

    lvas, base = stats["LVAS"], stats["baseline"]
    print(f"\n== summary (split={split}, n={len(items)}) ==")
    print(f"{'figure':<20}{'target':>10}{'LVAS':>10}{'':>8}{'baseline':>10}")
    print(f"{'top-1 accuracy':<20}{'>= 0.80':>10}{lvas['top1']:>10.3f}"
          f"{_verdict(lvas['top1'] >= TOP1_TARGET):>8}{base['top1']:>10.3f}")
    if k == 5:
        print(f"{'top-5 accuracy':<20}{'>= 0.93':>10}{lvas['topk']:>10.3f}"
              f"{_verdict(lvas['topk'] >= TOP5_TARGET):>8}{base['topk']:>10.3f}")
    else:
        print(f"{f'top-{k} accuracy':<20}{'(k!=5)':>10}{lvas['topk']:>10.3f}{'':>8}"
              f"{base['topk']:>10.3f}")
    print(f"{'p95 latency (ms)':<20}{'<= 20':>10}{lvas['p95']:>10.1f}"
          f"{_verdict(lvas['p95'] <= P95_TARGET_MS):>8}{base['p95']:>10.1f}")
    if build is not None:
        print(f"{'cold build (s)':<20}{'-':>10}{build[0]:>10.1f}")


def show_misses(items: Sequence[EvalItem], result: MethodResult) -> None:
    misses = [(it, r) for it, r in zip(items, result.ranked, strict=True) if not hit_at(it, r, 1)]
    print(f"\n== LVAS top-1 misses on dev ({len(misses)}) ==")
    for item, ranked in misses:
        mark = "top-5 hit" if hit_at(item, ranked, 5) else "no top-5 hit"
        print(f"[{item.id}] {item.description}\n    expected: {' | '.join(item.labels)}\n"
              f"    got:      {' | '.join(ranked[:3])}   ({mark})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=(*SPLITS, "all"), default="test")
    parser.add_argument("--cache", default=None,
                        help="index cache directory (default: LVAS_CACHE_DIR, ~/.cache/lvas)")
    parser.add_argument("--k", type=int, default=5, help="results per query (default 5)")
    parser.add_argument("--show-misses", action="store_true",
                        help="print LVAS misses (dev split only: test stays held out)")
    parser.add_argument("--skip-build", action="store_true",
                        help="do not measure the cold build (saves about a minute)")
    parser.add_argument("--torch-queries", action="store_true",
                        help="embed LVAS's queries with the torch model, not its ONNX export")
    args = parser.parse_args(argv)
    if args.show_misses and args.split != "dev":
        parser.error("--show-misses is only allowed with --split dev: the test split is held out")
    if args.k < 1:
        parser.error("--k must be at least 1")

    items = load_eval(split=args.split)
    if not items:
        parser.error(f"no items in split {args.split!r} of {EVAL_FILE}")
    lvas = run_lvas(items, args.k, args.cache, onnx_queries=not args.torch_queries)
    base = run_baseline(items, args.k)
    build = None if args.skip_build else cold_build_seconds()
    report(items, [lvas, base], args.k, args.split, build)
    if args.show_misses:
        show_misses(items, lvas)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
