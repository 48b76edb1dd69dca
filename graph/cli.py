"""The ``lvas`` command line.

Exit codes: 0 success, 2 bad input or usage (a clear message, no traceback), 1 internal error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tools.errors import LVASInputError

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2


def _print_err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _context(args: argparse.Namespace):
    from graph.context import Context

    values: dict[str, Any] = {"seed": args.seed, "overwrite": args.overwrite}
    if args.work_dir:
        values["run_dir"] = str(Path(args.work_dir).expanduser())
    return Context(**values)


def cmd_dub(args: argparse.Namespace) -> int:
    from graph.runner import describe_update, run_pipeline

    inputs: dict[str, Any] = {"video": args.video}
    if args.output:
        inputs["output"] = args.output
    if args.prompt:
        inputs["prompt"] = args.prompt
    counts: Counter = Counter()

    def progress(node: str, update: dict[str, Any], elapsed: float) -> None:
        if not args.quiet:
            _print_err(f"[{elapsed:6.1f} s]{describe_update(node, update, counts)}")

    started = time.perf_counter()
    if not args.quiet:
        _print_err(f"lvas: dubbing {args.video}")
    final = run_pipeline(inputs, _context(args), progress=progress)
    artifacts = final.get("artifacts", {})
    summary = {
        "output": artifacts.get("output"),
        "run_dir": final.get("run_dir"),
        "soundtrack": str(Path(final["run_dir"]) / artifacts["soundtrack"]),
        "plan": str(Path(final["run_dir"]) / artifacts["plan"]),
        "scenes": len(final.get("scenes", [])),
        "sounds": len(final.get("clips", {})),
        "loudness_lufs": artifacts.get("loudness_lufs"),
        "warnings": final.get("warnings", []),
        "seconds": round(time.perf_counter() - started, 2),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for warning in summary["warnings"]:
            _print_err(f"warning: {warning}")
        print(summary["output"])
        _print_err(f"lvas: {summary['scenes']} scene(s), {summary['sounds']} sound(s), "
                   f"{summary['loudness_lufs']} LUFS, {summary['seconds']} s; "
                   f"plan and soundtrack in {summary['run_dir']}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from tools.demo_video import make_demo_video

    folder = Path(args.dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    video = folder / "demo.mp4"
    if not video.exists():
        make_demo_video(video)
        _print_err(f"lvas: made a demo video at {video}")
    args.video, args.output = str(video), str(folder / "demo.dubbed.mp4")
    args.overwrite = True
    return cmd_dub(args)


def cmd_doctor(args: argparse.Namespace) -> int:
    from graph.doctor import run_checks

    report = run_checks()
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    print(f"Python {report['python']}")
    for check in report["checks"]:
        mark = "ok " if check["ok"] else "-- "
        print(f"  {mark}{check['name']:<16} {check['detail']}")
    profile = report["auto_profile"]
    print("auto profile: " + ", ".join(f"{k}: {v}" for k, v in profile.items()))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lvas", description="Give a silent video a synchronized soundtrack."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add_run_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--prompt", help="sound direction, e.g. 'rain on a tin roof, thunder'")
        p.add_argument("--work-dir", help="run directory (default: <output>.lvas next to it)")
        p.add_argument("--seed", type=int, default=0, help="seed for every random choice")
        p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")

    dub = sub.add_parser("dub", help="dub a video with a generated soundtrack")
    dub.add_argument("video", help="input video file")
    dub.add_argument("-o", "--output", help="output video (default: <input>.dubbed.<ext>)")
    dub.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_run_options(dub)
    dub.set_defaults(func=cmd_dub)

    demo = sub.add_parser("demo", help="make a short demo video locally and dub it")
    demo.add_argument("--dir", default="lvas-demo", help="folder for the demo (default: lvas-demo)")
    add_run_options(demo)
    demo.set_defaults(func=cmd_demo)

    doctor = sub.add_parser("doctor", help="show what this machine can run")
    doctor.add_argument("--json", action="store_true", help="machine-readable report")
    doctor.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lvas`` console script."""
    try:
        from dotenv import load_dotenv

        load_dotenv(override=False)
    except ImportError:  # pragma: no cover - python-dotenv is a dependency
        pass
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except LVASInputError as exc:
        _print_err(f"lvas: error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _print_err("lvas: interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence for users
        if os.environ.get("LVAS_DEBUG"):
            raise
        _print_err(f"lvas: internal error: {type(exc).__name__}: {exc}\n"
                   "Set LVAS_DEBUG=1 to see the traceback, and please report it.")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
