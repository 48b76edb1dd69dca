"""``lvas batch``: dub a catalogue of videos on Ray (a local instance, or a cluster by address)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lvas.tools.common.errors import LVASInputError


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_batch(args: argparse.Namespace) -> int:
    from lvas.graph.batch import SHARED_OPTIONS, BatchSettings, run_batch
    from lvas.graph.batch_manifest import collect_items

    if bool(args.inputs) == bool(args.manifest):
        raise LVASInputError("Give the videos (files or folders) or --manifest FILE, not both "
                             "and not neither: e.g. lvas batch clips/ -o dubbed/.")
    if args.max_in_flight is not None and args.max_in_flight < 1:
        raise LVASInputError("--max-in-flight must be at least 1.")
    if args.gpus_per_model is not None and not 0 < args.gpus_per_model <= 8:
        raise LVASInputError("--gpus-per-model must be a fraction or number of GPUs in (0, 8], "
                             "e.g. 0.5 to share one GPU between two models.")
    outdir = Path(args.output).expanduser().resolve()
    if outdir.exists() and not outdir.is_dir():
        raise LVASInputError(f"{outdir} is a file; -o names the folder for the dubbed videos.")
    _check_settings(args)
    items = collect_items(args.inputs or [], args.manifest, outdir, seed=args.seed)
    settings = BatchSettings(
        outdir=outdir, address=args.address, gpus_per_model=args.gpus_per_model,
        max_in_flight=args.max_in_flight, retry_failed=args.retry_failed,
        generator_backend=args.generator_backend or "auto",
        dub_options={name: getattr(args, name) for name in SHARED_OPTIONS if
                     getattr(args, name, None) not in (None, False, [])},
        use_pool=not args.no_pool,
    )
    echo = (lambda _line: None) if (args.quiet or args.json) else _err
    with _stdout_to_stderr():
        code, summary = run_batch(items, settings, echo=echo, as_json=args.json)
    if args.json:
        print(json.dumps(summary, indent=2))
    return code


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Keep standard output for the result alone: Ray's processes and threads print notices
    (a worker that died, its start-up) there, which would break ``--json`` for a reader.
    The file descriptor itself is pointed at stderr, so the processes Ray starts inherit it."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _check_settings(args: argparse.Namespace) -> None:
    """Refuse bad shared settings before Ray starts (each video would fail the same way)."""
    from lvas.graph.cli import _context
    from lvas.tools.common.limits import check_prompt

    check_prompt(args.prompt)
    probe: dict[str, Any] = {"work_dir": None, "overwrite": args.overwrite}
    namespace = argparse.Namespace(**{**vars(args), **probe})
    _context(namespace)


def register(sub: Any) -> None:
    """Add ``batch`` to the ``lvas`` command's subcommands."""
    from lvas.graph.cli import add_run_options

    p = sub.add_parser(
        "batch", help="dub many videos on Ray (locally, or on a cluster with --address)",
        description="Dub every video of a catalogue: files, folders, or a CSV/JSONL manifest "
        "with per-video output, prompt, narration and options. Each video's run is a Ray "
        "task; all videos share one pool of generator actors (one model per GPU). A rerun of "
        "the same command skips finished videos and resumes unfinished ones.",
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="video files and folders")
    p.add_argument("--manifest", metavar="FILE",
                   help="CSV or JSONL: video, output, prompt, narration, options, seed per row")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                   help="folder for the dubbed videos and the ledger batch.jsonl")
    p.add_argument("--address", help="Ray cluster to join (default: RAY_ADDRESS, else a local "
                   "instance sized to this machine)")
    p.add_argument("--gpus-per-model", type=float, metavar="F",
                   help="GPUs per generator actor (default 1 where there are GPUs; 0.5 puts "
                   "two models on each)")
    p.add_argument("--max-in-flight", type=int, metavar="N",
                   help="videos in progress at once (default: the cluster's CPUs)")
    p.add_argument("--retry-failed", action="store_true",
                   help="run again the videos that failed before (default: skip them)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing outputs that this batch did not make")
    p.add_argument("--keep-original-audio", action="store_true",
                   help="keep each input's own audio as a second track")
    p.add_argument("--no-pool", action="store_true",
                   help="render in each video's own task instead of the shared generator pool")
    add_run_options(p, per_video=False)
    p.set_defaults(func=cmd_batch)
