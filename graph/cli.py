"""The ``lvas`` command line.

Exit codes: 0 success, 2 bad input or usage (a clear message, no traceback), 1 internal error.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, NoReturn

from lvas.graph.cli_ablate import register as register_ablate
from lvas.graph.cli_batch import register as register_batch
from lvas.graph.cli_eval import register as register_eval
from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.limits import MAX_PROMPT_CHARS, check_prompt

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2


def _print_err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _context(args: argparse.Namespace):
    from lvas.graph.context import Context

    values: dict[str, Any] = {"seed": args.seed, "overwrite": args.overwrite,
                              "keep_original_audio": getattr(args, "keep_original_audio", False)}
    if args.work_dir:
        values["run_dir"] = str(Path(args.work_dir).expanduser())
    for option in ("chat_backend", "llm_model", "llm_base_url", "generator_backend",
                   "generator_model", "generation_steps", "device"):
        if getattr(args, option, None):
            values[option] = getattr(args, option)
    if getattr(args, "loudness", None) is not None:
        from lvas.tools.audio.mixing import loudness_target_for

        values["loudness_target"] = loudness_target_for(args.loudness)
    if getattr(args, "mono", False):
        values["channels"] = "mono"
    if getattr(args, "no_ducking", False):
        values["duck_beds"] = False
    for assignment in getattr(args, "set", None) or []:
        name, value = context_setting(assignment)
        values[name] = value
    if getattr(args, "tts", None):
        values["narration"] = args.tts
    elif getattr(args, "narration", None):
        values["narration"] = "auto"  # a narration file asks for a voice
    return Context(**values)


def context_setting(assignment: str) -> tuple[str, Any]:
    """``NAME=VALUE`` for any Context field, the value read as the field's type: how a run
    selects the alternatives ablation studies compare (``--set segmentation=fixed``)."""
    import typing
    from dataclasses import fields

    from lvas.graph.context import Context

    name, sep, raw = assignment.partition("=")
    name = name.strip().replace("-", "_")
    known = {f.name: f for f in fields(Context)}
    if not sep or name not in known:
        raise LVASInputError(f"--set {assignment!r}: write NAME=VALUE with NAME one of the run's "
                             f"settings: {', '.join(sorted(known))}.")
    kind = typing.get_type_hints(Context)[name]
    raw = raw.strip()
    try:
        if kind is bool:
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError
            return name, raw.lower() in ("true", "1", "yes", "on")
        if kind in (int, float):
            return name, kind(raw)
    except ValueError:
        wanted = {bool: "true or false", int: "a whole number"}.get(kind, "a number")
        raise LVASInputError(f"--set {name}={raw!r}: expected {wanted}.") from None
    choices = typing.get_args(kind)
    if choices and raw not in choices:
        raise LVASInputError(f"--set {name}={raw!r}: choose one of {', '.join(choices)}.")
    return name, raw


def _run(args: argparse.Namespace, inputs: dict[str, Any], doing: str) -> dict[str, Any]:
    """Run the graph with a progress line per node; print and return the summary."""
    from lvas.tools.llm.accounting import format_usage

    summary, usage = run_command(args, inputs, doing)
    if args.json:
        print(json.dumps(summary, indent=2))
        return summary
    for warning in summary["warnings"]:
        _print_err(f"warning: {warning}")
    if usage["total"]["calls"]:
        _print_err("lvas: model calls")
        for line in format_usage(usage):
            _print_err(line)
    print(summary["output"])
    _print_err(f"lvas: {summary['scenes']} scene(s), {summary['sounds']} sound(s) rendered, "
               f"{summary['seconds']} s; run directory {summary['run_dir']}")
    if summary["report"]:
        _print_err(f"lvas: report {summary['report']}; editor timeline {summary['timeline']}")
    return summary


def run_command(args: argparse.Namespace, inputs: dict[str, Any], doing: str, *,
                checkpoint_dir: str | Path | None = None
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the graph for a parsed command (progress lines unless ``--quiet``) and return its
    summary and model usage, printing nothing else: ``lvas dub`` prints them, ``lvas batch``
    records them.

    ``checkpoint_dir`` keeps this run's checkpoints apart (default: the cache directory)."""
    from lvas.graph.runner import describe_update, gpu_seconds, write_run_summary
    from lvas.tools.llm.accounting import summarize_usage

    counts: Counter = Counter()

    ctx = _context(args)

    def progress(node: str, update: dict[str, Any], elapsed: float) -> None:
        if not args.quiet:
            _print_err(f"[{elapsed:6.1f} s]{describe_update(node, update, counts)}")
        if node == "probe":  # the inputs are checked: a refusal never waits for the build
            _build_index_if_needed(ctx, quiet=args.quiet)

    started = time.perf_counter()
    if not args.quiet:
        _print_err(f"lvas: {doing}")
    if getattr(args, "resume", False):  # a resumed run may not pass the probe again
        _build_index_if_needed(ctx, quiet=args.quiet)
    final = _run_resumable(args, inputs, ctx, progress, checkpoint_dir=checkpoint_dir)
    artifacts = final.get("artifacts", {})
    run_dir = Path(final["run_dir"])
    usage = summarize_usage(final.get("llm_usage", []), **ctx.usage_prices())
    summary = {
        "output": artifacts.get("output") or artifacts.get("plan_output"),
        "run_dir": str(run_dir),
        "soundtrack": str(run_dir / artifacts["soundtrack"]) if "soundtrack" in artifacts
        else None,
        "plan": str(run_dir / artifacts["plan"]) if "plan" in artifacts else None,
        "report": str(run_dir / artifacts["report"]) if "report" in artifacts else None,
        "timeline": str(run_dir / artifacts["timeline"]) if "timeline" in artifacts else None,
        "stems": {layer: str(run_dir / path)
                  for layer, path in artifacts.get("stems", {}).items()},
        "true_peak_db": artifacts.get("peak_db"),
        "scenes": len(final.get("scenes", [])),
        "sounds": len(final.get("clips", {})),
        "loudness_lufs": artifacts.get("loudness_lufs"),
        "llm_usage": usage["total"],
        "warnings": final.get("warnings", []),
        "timings": final.get("timings", {}),
        "seconds": round(time.perf_counter() - started, 2),
        "gpu_seconds": round(gpu_seconds(final, ctx), 3),
    }
    write_run_summary(run_dir, summary)
    return summary, usage


def _build_index_if_needed(ctx: Any, *, quiet: bool) -> None:
    """Build the label index before the run, saying so: the first run on a machine spends
    about a minute on it, which would otherwise pass in silence inside the Synthesizer."""
    from lvas.retrieval_index.store import build_index, index_is_ready

    if index_is_ready(ctx.index_dir or None, embedding_model=ctx.embedding_model):
        return
    if not quiet:
        _print_err("lvas: building the sound-label index (once per machine and label set; "
                   "about a minute on 2 cores)...")
    info = build_index(ctx.index_dir or None, embedding_model=ctx.embedding_model)
    if not quiet:
        _print_err(f"lvas: label index ready: {info.count} labels in {info.seconds:.0f} s")


def _run_resumable(args: argparse.Namespace, inputs: dict[str, Any], ctx: Any,
                   progress: Any, *, checkpoint_dir: str | Path | None = None) -> dict[str, Any]:
    """Run with every step checkpointed; with ``--resume``, go on from where the same command
    stopped (a fresh run otherwise, replacing that command's old checkpoints)."""
    from lvas.graph.builder import compile_graph
    from lvas.graph.resume import keep_final_checkpoint, open_checkpointer, resumable, thread_id_for
    from lvas.graph.runner import run_pipeline
    from lvas.tools.common.paths import default_cache_dir

    cache_dir = Path(checkpoint_dir) if checkpoint_dir else default_cache_dir(ctx.index_dir)
    thread = thread_id_for(inputs, ctx)
    config = {"configurable": {"thread_id": thread}}
    with open_checkpointer(cache_dir) as saver:
        graph = compile_graph(checkpointer=saver)
        start: dict[str, Any] | None = inputs
        if getattr(args, "resume", False):
            if resumable(graph, config):
                if not args.quiet:
                    _print_err("lvas: resuming the run this command started before")
                start = None
            elif not args.quiet:
                _print_err("lvas: no unfinished run of this command to resume; starting afresh")
        if start is not None:
            saver.delete_thread(thread)
        final = run_pipeline(start, ctx, graph=graph, config=config, progress=progress)
        keep_final_checkpoint(saver, thread)  # --resume after a kill at exit has nothing to redo
        return final


def _inputs(args: argparse.Namespace, **given: Any) -> dict[str, Any]:
    """The graph's input: what the command fixes, plus the optional inputs that were given.
    The prompt's limit is checked here, before the label index or any folder is touched."""
    check_prompt(getattr(args, "prompt", None))
    optional = {key: getattr(args, key, None) for key in ("prompt", "narration")}
    return {k: v for k, v in {**given, **optional}.items() if v}


def cmd_dub(args: argparse.Namespace) -> int:
    _run(args, _inputs(args, video=args.video, output=args.output), f"dubbing {args.video}")
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    inputs = _inputs(args, video=args.video, plan_only=True, plan_output=args.output)
    _run(args, inputs, f"planning {args.video}")
    return EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    from lvas.tools.planning.plan_file import load_plan

    plan = load_plan(args.plan)  # a clear error before anything starts
    if plan.get("narration") and not args.tts:
        args.tts = "auto"  # the plan's lines were written to be heard
    inputs = _inputs(args, plan=args.plan, output=args.output, video=args.video)
    _run(args, inputs, f"rendering {args.plan}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from lvas.tools.video.demo import make_demo_video

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
    from lvas.graph.context import Context
    from lvas.graph.doctor import run_checks

    report = run_checks(Context())
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    print(f"Python {report['python']}")
    for check in report["checks"]:
        mark = "ok " if check["ok"] else "-- "
        print(f"  {mark}{check['name']:<20} {check['detail']}")
    profile = report["auto_profile"]
    print("auto profile: " + ", ".join(f"{k}: {v}" for k, v in profile.items()))
    return EXIT_OK


def cmd_scenes(args: argparse.Namespace) -> int:
    from lvas.graph.context import Context
    from lvas.tools.common.paths import default_cache_dir
    from lvas.tools.video.probe import probe_video
    from lvas.tools.video.storyboard import StoryboardSettings, build_storyboard, storyboard_key

    probe_video(args.video)
    if args.min_scene_seconds < 0 or args.max_scene_seconds < 0 or args.min_shot_seconds < 0:
        raise LVASInputError("Scene and shot lengths must be zero or positive seconds.")
    settings = StoryboardSettings(
        detector=args.detector, threshold=args.threshold, gradual=not args.no_gradual,
        min_shot_seconds=args.min_shot_seconds, min_scene_seconds=args.min_scene_seconds,
        max_scene_seconds=args.max_scene_seconds, segmentation=args.segmentation,
        segment_seconds=args.segment_seconds,
    )
    if args.segment_seconds <= 0:
        raise LVASInputError("--segment-seconds must be a positive number of seconds.")
    work = (Path(args.work_dir).expanduser() if args.work_dir
            else default_cache_dir(Context().index_dir) / "scenes"
            / storyboard_key(args.video, settings))
    board = build_storyboard(args.video, work, settings)
    report = {
        "video": board["video"],
        "duration": board["duration"],
        "fps": board["fps"],
        "cuts": board["cuts"],
        "scenes": [{k: s[k] for k in ("index", "id", "start", "end", "shots", "keyframes")}
                   for s in board["scenes"]],
        "shots": board["shots"],
        "motion_envelope": board["motion_envelope"],
        "warnings": board["warnings"],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    print(f"{report['video']}: {board['duration']:.2f} s at {board['fps']:.3f} fps, "
          f"{len(board['cuts'])} cut(s), {len(board['scenes'])} scene(s)")
    for scene in board["scenes"]:
        print(f"  scene {scene['index']:3d}  {scene['start']:9.3f} - {scene['end']:9.3f} s  "
              f"shots {scene['shots']}")
    for warning in board["warnings"]:
        _print_err(f"warning: {warning}")
    return EXIT_OK


def cmd_index_build(args: argparse.Namespace) -> int:
    from lvas.graph.context import Context
    from lvas.retrieval_index import build_index

    ctx = Context()
    info = build_index(ctx.index_dir or None, force=args.force,
                       embedding_model=ctx.embedding_model)
    if args.json:
        print(json.dumps(info.to_dict(), indent=2))
    else:
        verb = "built" if info.rebuilt else "already current"
        print(f"label index {verb}: {info.count} labels in {info.path} ({info.seconds:.1f} s)")
    return EXIT_OK


def cmd_labels_search(args: argparse.Namespace) -> int:
    from lvas.graph.context import Context
    from lvas.retrieval_index import open_index

    queries = list(args.query)
    if queries == ["-"]:
        queries = [line.strip() for line in sys.stdin if line.strip()]
    if not queries or not all(q.strip() for q in queries):
        raise LVASInputError("Give at least one non-empty query, or '-' to read them from stdin.")
    if args.k < 1:
        raise LVASInputError("--k must be at least 1.")
    ctx = Context()
    index = open_index(ctx.index_dir or None, embedding_model=ctx.embedding_model)
    results = index.search_many(queries, k=args.k)
    if args.json:
        print(json.dumps([[{"label": h.label, "source": h.source, "score": round(h.score, 4),
                            "category": h.category} for h in hits] for hits in results],
                         indent=2))
        return EXIT_OK
    for query, hits in zip(queries, results, strict=True):
        print(query)
        for hit in hits:
            print(f"  {hit.score:6.3f}  {hit.label}  [{hit.source}, {hit.category}, {hit.family}]")
    return EXIT_OK


def add_output_options(p: argparse.ArgumentParser, *, per_video: bool = True) -> None:
    """Options of every command that renders; ``per_video`` False leaves out those that name
    one video's files or run (``lvas batch`` sets them per video)."""
    if per_video:
        p.add_argument("--work-dir", help="run directory (default: <output>.lvas next to it)")
    p.add_argument("--seed", type=int, default=0, help="seed for every random choice")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    if per_video:
        p.add_argument("--resume", action="store_true",
                       help="go on from where the same command was stopped (killed, crashed)")
        p.add_argument("--narration", metavar="FILE",
                       help="lines to voice: subtitles (.srt, .vtt) or 'START[-END] text' lines")
    p.add_argument("--tts", choices=["off", "auto", "espeak", "vits"],
                   help="voice for narration (default: auto with --narration, else off)")
    p.add_argument("--loudness", metavar="PRESET|LUFS",
                   help="loudness target: ebu-r128 (-23, default), web (-16), "
                   "streaming (-14) or a number in LUFS")
    p.add_argument("--mono", action="store_true", help="a mono soundtrack")
    p.add_argument("--no-ducking", action="store_true",
                   help="do not lower beds under narration and strong events")
    p.add_argument("--generator", dest="generator_backend",
                   choices=["auto", "procedural", "mmaudio", "stable-audio", "audioldm2"],
                   help="audio backend (default: auto = MMAudio on a GPU, else procedural)")
    p.add_argument("--generator-model", help="MMAudio variant or diffusers model id/folder")
    p.add_argument("--steps", dest="generation_steps", type=int,
                   help="sampling steps of model generators (default: the backend's)")
    p.add_argument("--device", help="torch device for model generators and the VITS voice "
                   "(default: LVAS_DEVICE, else CUDA when present)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="any run setting (Context field), e.g. segmentation=fixed, "
                   "segment_seconds=10, review_scripts=false, label_source=random; "
                   "repeatable (docs/ablation.md lists the alternatives)")


def add_run_options(p: argparse.ArgumentParser, *, per_video: bool = True) -> None:
    """The options of ``dub``, ``plan`` and ``demo`` (and, less the per-video ones, ``batch``)."""
    add_output_options(p, per_video=per_video)
    p.add_argument("--prompt", help="sound direction, e.g. 'rain on a tin roof, thunder' "
                   f"(at most {MAX_PROMPT_CHARS:,} characters; README 'Limits')")
    p.add_argument("--chat-backend", choices=["auto", "offline", "openai"],
                   help="who plans: a chat model or the offline planner (default: auto)")
    p.add_argument("--llm-model", help="chat/vision model (default: LVAS_LLM_MODEL)")
    p.add_argument("--llm-base-url",
                   help="OpenAI-compatible endpoint (default: LVAS_LLM_BASE_URL)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lvas", description="Give a silent video a synchronized soundtrack."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    dub = sub.add_parser("dub", help="dub a video with a generated soundtrack")
    dub.add_argument("video", help="input video file")
    dub.add_argument("-o", "--output", help="output video (default: <input>.dubbed.<ext>)")
    dub.add_argument("--overwrite", action="store_true", help="replace an existing output")
    dub.add_argument("--keep-original-audio", action="store_true",
                     help="keep the input's own audio as a second track")
    add_run_options(dub)
    dub.set_defaults(func=cmd_dub)

    plan = sub.add_parser("plan", help="storyboard, script, design and labels, without audio")
    plan.add_argument("video", help="input video file")
    plan.add_argument("-o", "--output", required=True, help="the plan file to write (.json)")
    plan.add_argument("--overwrite", action="store_true", help="replace an existing plan")
    add_run_options(plan)
    plan.set_defaults(func=cmd_plan)

    render = sub.add_parser("render", help="render a (possibly edited) plan into a video")
    render.add_argument("plan", help="plan file from 'lvas plan'")
    render.add_argument("-o", "--output", required=True, help="output video")
    render.add_argument("--video", help="the video, if it moved since the plan was made")
    render.add_argument("--overwrite", action="store_true", help="replace an existing output")
    render.add_argument("--keep-original-audio", action="store_true",
                        help="keep the input's own audio as a second track")
    add_output_options(render)
    render.set_defaults(func=cmd_render, prompt=None)

    demo = sub.add_parser("demo", help="make a short demo video locally and dub it")
    demo.add_argument("--dir", default="lvas-demo", help="folder for the demo (default: lvas-demo)")
    add_run_options(demo)
    demo.set_defaults(func=cmd_demo)

    scenes = sub.add_parser("scenes", help="detect shot cuts and scenes of a video")
    scenes.add_argument("video", help="input video file")
    scenes.add_argument("--json", action="store_true", help="print the storyboard as JSON")
    scenes.add_argument("--work-dir", help="folder for keyframes (default: in the cache)")
    scenes.add_argument("--detector", choices=["content", "adaptive", "histogram"],
                        default="content", help="hard-cut detector (default: content)")
    scenes.add_argument("--threshold", type=float, help="detector threshold (default: its own)")
    scenes.add_argument("--no-gradual", action="store_true",
                        help="do not look for dissolves and fades")
    scenes.add_argument("--min-shot-seconds", type=float, default=0.5,
                        help="ignore cuts closer than this to the previous (default: 0.5)")
    scenes.add_argument("--min-scene-seconds", type=float, default=2.0,
                        help="shots shorter than this join a neighbour (default: 2)")
    scenes.add_argument("--max-scene-seconds", type=float, default=60.0,
                        help="split longer scenes at quiet moments; 0: never (default: 60)")
    scenes.add_argument("--segmentation", choices=["semantic", "fixed", "single", "shots"],
                        default="semantic", help="semantic scenes (default), fixed chunks, "
                        "one scene, or every shot a scene")
    scenes.add_argument("--segment-seconds", type=float, default=10.0,
                        help="chunk length of --segmentation fixed (default: 10)")
    scenes.set_defaults(func=cmd_scenes)

    index = sub.add_parser("index", help="the sound-label index").add_subparsers(
        dest="index_command", required=True)
    build = index.add_parser("build", help="build the Chroma label index if stale")
    build.add_argument("--force", action="store_true", help="rebuild even if current")
    build.add_argument("--json", action="store_true", help="machine-readable report")
    build.set_defaults(func=cmd_index_build)

    labels = sub.add_parser("labels", help="search the sound labels").add_subparsers(
        dest="labels_command", required=True)
    search = labels.add_parser("search", help="best labels for one or more descriptions")
    search.add_argument("query", nargs="+", help="descriptions, or '-' to read lines from stdin")
    search.add_argument("--k", type=int, default=5, help="labels per query (default: 5)")
    search.add_argument("--json", action="store_true", help="machine-readable results")
    search.set_defaults(func=cmd_labels_search)

    doctor = sub.add_parser("doctor", help="show what this machine can run")
    doctor.add_argument("--json", action="store_true", help="machine-readable report")
    doctor.set_defaults(func=cmd_doctor)

    register_eval(sub)
    register_ablate(sub)
    register_batch(sub)
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
    except BrokenPipeError:  # e.g. `lvas scenes X | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # noqa: BLE001 - the last line of defence for users
        if os.environ.get("LVAS_DEBUG"):
            raise
        _print_err(f"lvas: internal error: {type(exc).__name__}: {exc}\n"
                   "Set LVAS_DEBUG=1 to see the traceback, and please report it.")
        return EXIT_INTERNAL


def run() -> NoReturn:
    """The ``lvas`` console script: :func:`main`, then exit without a last garbage collection.

    A dub leaves some 3,000 modules loaded, and the collections at interpreter shutdown walk all
    their objects (about 0.35 s) in a process that is ending anyway. Frozen objects are skipped;
    everything else about shutdown (exit handlers, flushing and closing files) is unchanged.
    Not in :func:`main`, which tests and other Python callers run in a process that goes on.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
