"""Probe: check the input video (or plan) and fix where this run writes.

It also applies ``Context.use_prompt``: off, the run's prompt is emptied here, before any role
reads it, so every role plans as if none was given; a warning records what was ignored.
"""

from __future__ import annotations

from pathlib import Path

from langgraph.runtime import Runtime

from lvas.graph.context import Context, context_of
from lvas.graph.state import LVASState
from lvas.nodes.common import timed
from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.limits import check_run_inputs
from lvas.tools.common.paths import can_create_in, check_output_path
from lvas.tools.delivery.muxing import check_output_container, default_output_path
from lvas.tools.generation.options import check_run_backends
from lvas.tools.planning.narration import read_narration
from lvas.tools.planning.plan_file import load_plan
from lvas.tools.video.probe import probe_video
from lvas.tools.video.scenes import check_segmentation


@timed("probe")
def probe(state: LVASState, runtime: Runtime[Context]) -> LVASState:
    """Fail fast on a bad video, plan or output before any expensive work starts."""
    ctx = context_of(runtime)
    update: LVASState = {"review_round": 0, "label_round": 0}
    check_segmentation(ctx.segmentation, ctx.segment_seconds)
    if not state.get("plan_only"):
        check_run_backends(ctx)
    if not ctx.use_prompt and state.get("prompt"):
        update["prompt"] = ""
        update["warnings"] = [f"use_prompt is off: the prompt {state['prompt']!r} was "
                              "ignored (planned as if none was given)"]
    video = (state.get("video") or "").strip()
    if state.get("plan"):
        recorded = load_plan(state["plan"])["video"]
        video = video or recorded
        update["video"] = video
    if not video:
        raise LVASInputError("No input video given; pass the path of a video file.")
    info = probe_video(video)
    check_run_inputs(state.get("prompt"), video, info.duration, ctx.max_video_seconds)
    if state.get("plan_only"):
        target = state.get("plan_output") or str(Path(video).with_suffix(".plan.json"))
        if not target.endswith(".json"):
            raise LVASInputError(f"Plan output {target} should end in .json.")
        out = check_output_path(target, video=video, overwrite=ctx.overwrite)
        update["plan_output"] = str(out.resolve())
    else:
        output = state.get("output") or str(default_output_path(video, info))
        out = check_output_path(output, video=video, overwrite=ctx.overwrite)
        if not state.get("output") and not out.name.startswith(f"{Path(video).stem}.dubbed."):
            update["warnings"] = [*update.get("warnings", []),
                                  f"{Path(video).stem}.dubbed{out.suffix} already exists next "
                                  f"to the input: writing {out} instead (-o names the output)"]
        check_output_container(out, info)
        update["output_path"] = str(out.resolve())
    run_dir = Path(ctx.run_dir).expanduser() if ctx.run_dir else out.with_name(
        out.name.removesuffix(".json").removesuffix(out.suffix) + ".lvas")
    if state.get("narration"):  # read before anything is created: a refusal leaves nothing
        lines = read_narration(state["narration"], duration=info.duration)
        update["narration_lines"] = [line.to_dict() for line in lines]
    make_run_dir(run_dir)
    update["video_info"] = info.to_dict()
    update["run_dir"] = str(run_dir.resolve())
    return update


def make_run_dir(run_dir: Path) -> None:
    """Create the run folder, or say clearly why it cannot be (before any work is done)."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LVASInputError(f"Run folder {run_dir} cannot be created ({exc.strerror}); choose "
                             "another --work-dir (or -o).") from None
    if not can_create_in(run_dir):
        raise LVASInputError(f"Run folder {run_dir} is not writable; choose another --work-dir.")
