"""``lvas eval``: score dubbed videos or soundtracks, or list the metrics and whether they run.

Bad input (a missing file, an unreadable manifest, a file without audio, an unknown metric,
outputs that exist) is found before any scoring starts and ends with exit 2 and a message;
nothing is written then. ``-o`` gets ``metrics.csv`` and ``metrics.json`` only when the whole
set was scored.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lvas.tools.common.errors import LVASInputError

if TYPE_CHECKING:
    from lvas.tools.evaluation.items import EvalItem
    from lvas.tools.evaluation.metric import Metric


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``eval`` subcommand to ``lvas``'s subparsers."""
    p = subparsers.add_parser(
        "eval", help="score dubbed videos or soundtracks (lvas eval --list shows the metrics)",
        description="Score dubbed videos or audio files, with or without reference audio, over "
        "one file, a folder, or a manifest (.csv/.jsonl with columns video, reference, "
        "category, text).")
    p.add_argument("path", nargs="?",
                   help="a dubbed video or audio file, a folder of them, or a manifest")
    p.add_argument("--reference", metavar="PATH",
                   help="reference audio: a file (audio, or a video whose own track is used), "
                   "or a folder paired by file stem (clip.dubbed.mp4 <- clip.mp4)")
    p.add_argument("--metrics", metavar="A,B,...",
                   help="metrics by name, alias or family (FD, KL, IS, IB-score, DeSync, CLAP, "
                   "sync, seams, coherence, ...; default: every metric)")
    p.add_argument("-o", "--output", metavar="DIR",
                   help="folder for metrics.csv and metrics.json (default: none written)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace metrics.csv/metrics.json already in the output folder")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    p.add_argument("--list", action="store_true",
                   help="list every metric, its unit and inputs, and whether it runs here")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_eval)
    return p


def _split(names: str) -> list[str]:
    return [n.strip() for n in names.split(",") if n.strip()]


def _print_listing(as_json: bool) -> None:
    from lvas.tools.evaluation.registry import COMPOSITES, FAMILIES, metric_listing

    listing = metric_listing()
    if as_json:
        print(json.dumps({"metrics": listing,
                          "families": {f: list(n) for f, n in FAMILIES.items()},
                          "composites": {c: {"metrics": list(m), "aliases": list(a), "why": w}
                                         for c, (m, a, w) in COMPOSITES.items()}}, indent=2))
        return
    ready = sum(1 for m in listing if m["runs_here"])
    print(f"{len(listing)} metrics, {ready} can run here.")
    for family in ("weight-free", "model"):
        members = [m for m in listing if m["family"] == family]
        print(f"\n{family} metrics ({len(members)}):")
        if not members:
            print("  none registered")
        for m in members:
            mark = "ok" if m["runs_here"] else "--"
            print(f"  {mark} {m['name']}: {m['description']}")
            print(f"       unit: {m['unit']}; keys: {', '.join(m['keys'])}")
            print(f"       inputs: {', '.join(m['inputs'])}")
            print(f"       aggregation: {m['aggregation']}")
            if not m["runs_here"]:
                print(f"       cannot run here: {m['status']}")
    print("\nfamily names: " + "; ".join(f"{words[0]} = every {f}-* metric"
                                         for f, words in FAMILIES.items()))
    for name, (parts, _aliases, why) in COMPOSITES.items():
        print(f"{name} = {' + '.join(parts)}: {why}")


def _selected(names: str | None) -> tuple[list[Metric], dict[str, str]]:
    from lvas.tools.evaluation.registry import ALL_METRICS, resolve_known_metric_names

    if not names:
        return list(ALL_METRICS), {}
    wanted = _split(names)
    if not wanted:
        raise LVASInputError("--metrics is empty; give names such as sync,seams,FD "
                             "(`lvas eval --list` shows them).")
    resolved = resolve_known_metric_names(wanted)
    if not resolved.found:
        raise LVASInputError(
            "No metric to compute: " + "; ".join(
                f"{name} is not applicable to video-to-audio ({why})"
                for name, why in resolved.not_applicable.items()) + ".")
    return resolved.found, resolved.not_applicable


def _check_items(items: Sequence[EvalItem]) -> None:
    """Every item and reference exists and holds audio: else one message naming them all."""
    from lvas.tools.evaluation.media import probe_media

    problems: list[str] = []
    for item in items:
        for role, path in (("file", item.video), ("reference", item.reference)):
            if path is None:
                continue
            try:
                if not probe_media(path).has_audio:
                    problems.append(f"{role} {path} has no audio stream")
            except LVASInputError as exc:
                problems.append(f"{role} {exc}")
    if problems:
        shown = problems[:10] + ([f"... and {len(problems) - 10} more"]
                                 if len(problems) > 10 else [])
        raise LVASInputError("Cannot score:\n  " + "\n  ".join(shown)
                             + "\nScore dubbed videos or audio files; references need audio.")


def cmd_eval(args: argparse.Namespace) -> int:
    """Score the items and print the table (or JSON); write the outputs when asked."""
    from lvas.graph.context import Context
    from lvas.tools.common.paths import default_cache_dir
    from lvas.tools.evaluation.items import collect_items
    from lvas.tools.evaluation.results import (
        check_output_dir,
        format_notes,
        format_table,
        write_outputs,
    )
    from lvas.tools.evaluation.scoring import score_items

    if args.list:
        _print_listing(args.json)
        return 0
    if not args.path:
        raise LVASInputError("Give a dubbed video, an audio file, a folder or a manifest to "
                             "score (or --list to see the metrics).")
    metrics, not_applicable = _selected(args.metrics)
    if args.output:
        check_output_dir(args.output, overwrite=args.overwrite)
    items = collect_items(args.path, args.reference)
    _check_items(items)
    for name, why in not_applicable.items():
        _err(f"lvas: {name} is not applicable to video-to-audio: {why}")
    unpaired = [i.id for i in items if i.reference is None]
    if args.reference and unpaired and Path(args.reference).is_dir():
        _err(f"lvas: no reference named like {', '.join(unpaired[:5])}"
             f"{' ...' if len(unpaired) > 5 else ''} in {args.reference}")
    ctx = Context()
    result = score_items(items, metrics, cache_dir=default_cache_dir(ctx.index_dir),
                         storyboard_settings=ctx.storyboard_settings(),
                         progress=None if args.quiet else (lambda m: _err(f"lvas: {m}")))
    result = dataclasses.replace(result, not_applicable=not_applicable)
    written = write_outputs(result, args.output, overwrite=args.overwrite) if args.output else {}
    if args.json:
        document = result.to_dict()
        document["outputs"] = {k: str(v) for k, v in written.items()}
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    width = shutil.get_terminal_size((120, 24)).columns
    print("\n".join(format_table(result, width)))
    print()
    print("\n".join(format_notes(result)))
    if written:
        _err(f"lvas: wrote {written['csv']} and {written['json']}")
    return 0
