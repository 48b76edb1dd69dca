"""``lvas ablate``: run an ablation plan over videos with the ablation graph; list the parts."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from lvas.tools.common.errors import LVASInputError


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _print_registry(as_json: bool) -> None:
    from lvas.tools.ablation.components import registry_listing
    from lvas.tools.ablation.presets import PRESETS

    listing = registry_listing()
    if as_json:
        print(json.dumps({"components": listing, "presets": list(PRESETS)}, indent=2))
        return
    print("Components an ablation plan can name (REMOVE runs the alternative marked *):")
    for comp in listing:
        print(f"\n{comp['component']}  [{comp['stage']}]")
        print(f"  {comp['description']}")
        print(f"  also written as: {', '.join(comp['aliases'][:6])}, ...")
        for alt in comp["alternatives"]:
            mark = "*" if alt["name"] == comp["remove"] else " "
            settings = ", ".join(f"{k}={v!r}" for k, v in alt["settings"].items())
            param = f" (a number in the replacement sets {alt['parameter']})" \
                if alt["parameter"] else ""
            print(f"  {mark} {alt['name']}: {alt['description']}{param}")
            print(f"      Context: {settings}")
        if comp["notes"]:
            print(f"  note: {comp['notes']}")
    print(f"\nPresets: {', '.join(PRESETS)} (lvas ablate --preset NAME --videos DIR)")


def _describe(node: str, update: dict[str, Any]) -> str | None:
    if node == "prepare_study":
        study = update.get("study", {})
        lines = [f"  study: {len(study.get('variants', []))} system(s) x "
                 f"{len(study.get('videos', []))} video(s), metrics "
                 f"{', '.join(study.get('metrics', [])) or 'none'}"]
        lines += [f"  note: {n}" for n in update.get("notes", [])]
        return "\n".join(lines)
    if node == "run_variant":
        run = (update.get("runs") or [{}])[0]
        state = "dubbed" if run.get("status") == "ok" else f"FAILED ({run.get('error')})"
        return f"  {run.get('variant')} x {run.get('video')}: {state} in {run.get('seconds')} s"
    if node == "score_run":
        row = (update.get("rows") or [{}])[0]
        missing = {k: v for k, v in (row.get("metric_status") or {}).items() if v != "ok"}
        extra = f" ({len(missing)} metric(s) not computed)" if missing else ""
        return f"  scored {row.get('variant')} x {row.get('video')}{extra}"
    if node == "write_table":
        return f"  table: {update.get('outputs', {}).get('table_md')}"
    return None


def cmd_ablate(args: argparse.Namespace) -> int:
    """Run the study; print the table (or the registry with ``--list``)."""
    from lvas.graph.ablation import compile_ablation_graph
    from lvas.graph.context import Context

    if args.list:
        _print_registry(args.json)
        return 0
    if not args.plan and not args.preset:
        raise LVASInputError("Give an ablation plan file, or --preset paper-table-1 "
                             "(`lvas ablate --list` shows what a plan can name).")
    if args.plan and args.preset:
        raise LVASInputError("Give either a plan file or --preset, not both.")
    if not args.videos:
        raise LVASInputError("Give the videos with --videos DIR or --videos MANIFEST.csv/.jsonl.")
    if args.jobs < 1:
        raise LVASInputError("--jobs must be at least 1.")
    name = args.preset or Path(args.plan).stem
    folder = Path(args.output or f"ablation-{name}").expanduser()
    inputs: dict[str, Any] = {"videos": args.videos, "output_dir": str(folder),
                              "seed": args.seed, "overwrite": args.overwrite}
    inputs.update({"preset": args.preset} if args.preset else {"plan": args.plan})
    values: dict[str, Any] = {"seed": args.seed}
    for option in ("generator_backend", "chat_backend", "device"):
        if getattr(args, option, None):
            values[option] = getattr(args, option)
    ctx = Context(**values)
    graph = compile_ablation_graph()
    started = time.perf_counter()
    final: dict[str, Any] = {}
    if not args.quiet:
        _err(f"lvas: ablation study into {folder}")
    for mode, chunk in graph.stream(inputs, context=ctx, stream_mode=["updates", "values"],
                                    config={"max_concurrency": args.jobs}):
        if mode == "values":
            final = chunk
            continue
        for node, update in chunk.items():
            line = _describe(node, update or {})
            if line and not args.quiet:
                _err(f"[{time.perf_counter() - started:7.1f} s]{line}")
    outputs = final.get("outputs", {})
    if args.json:
        print(json.dumps({"outputs": outputs, "notes": final.get("notes", []),
                          "seconds": round(time.perf_counter() - started, 2)}, indent=2))
        return 0
    table = outputs.get("table_md")
    if table and Path(table).is_file():
        print(Path(table).read_text(encoding="utf-8"))
    _err(f"lvas: results in {outputs.get('folder')} (table.md, table.csv, results.jsonl, "
         "chart.png)")
    return 0


def register(sub: Any) -> None:
    """Add ``ablate`` to the ``lvas`` command line."""
    p = sub.add_parser("ablate", help="run an ablation plan of LVAS's own parts over videos")
    p.add_argument("plan", nargs="?", help="the plan: Markdown (bare or HTML), YAML or JSON")
    p.add_argument("--videos", help="a folder of videos, or a CSV/JSONL manifest "
                   "(video, reference, category, text)")
    p.add_argument("-o", "--output", help="study folder (default: ablation-<plan name>); "
                   "rerunning into it resumes")
    p.add_argument("--preset", help="a plan that ships with LVAS: paper-table-1")
    p.add_argument("--seed", type=int, default=0, help="seed of every variant (default: 0)")
    p.add_argument("--jobs", type=int, default=1, help="pairs dubbed at once (default: 1)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a different study already in the folder")
    p.add_argument("--generator", dest="generator_backend",
                   choices=["auto", "procedural", "mmaudio", "stable-audio", "audioldm2"],
                   help="audio backend of every variant (default: auto)")
    p.add_argument("--chat-backend", choices=["auto", "offline", "openai"],
                   help="who plans in every variant (default: auto)")
    p.add_argument("--device", help="torch device for model generators")
    p.add_argument("--list", action="store_true", help="list the components and alternatives")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_ablate)
