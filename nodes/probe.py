"""Probe: check the input video (or plan) and fix where this run writes.

It also applies ``Context.use_prompt``: off, the run's prompt is emptied here, before any role
reads it, so every role plans as if none was given; a warning records what was ignored.

A plan made from a cut-off file records the picture's real end (the Storyboarder measured it);
rendering it checks that this file's video data still stops there and goes by the same end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from lvas.graph.context import Context, context_of
from lvas.graph.state import LVASState
from lvas.nodes.common import timed
from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.ffmpeg import ffmpeg_exe
from lvas.tools.common.limits import check_run_inputs
from lvas.tools.common.paths import can_create_in, check_output_path
from lvas.tools.delivery.muxing import check_output_container, default_output_path
from lvas.tools.generation.options import check_run_backends
from lvas.tools.planning.narration import read_narration
from lvas.tools.planning.plan_file import Plan, load_plan
from lvas.tools.video.probe import (
    VideoInfo,
    end_tolerance,
    picture_ends_early,
    picture_info,
    probe_video,
    short_picture_warning,
    video_packet_span,
)
from lvas.tools.video.scenes import check_segmentation


@timed("probe")
def probe(state: LVASState, runtime: Runtime[Context]) -> LVASState:
    """Fail fast on a bad video, plan or output before any expensive work starts."""
    ctx = context_of(runtime)
    update: LVASState = {"review_round": 0, "label_round": 0}
    check_segmentation(ctx.segmentation, ctx.segment_seconds)
    if not state.get("plan_only"):
        check_run_backends(ctx)
        ffmpeg_exe()  # a broken LVAS_FFMPEG is refused here, not at the mux after all the work
    if not ctx.use_prompt and state.get("prompt"):
        update["prompt"] = ""
        update["warnings"] = [f"use_prompt is off: the prompt {state['prompt']!r} was "
                              "ignored (planned as if none was given)"]
    video = (state.get("video") or "").strip()
    plan: Plan | None = None
    if state.get("plan"):
        plan = load_plan(state["plan"])
        video = video or plan["video"]
        update["video"] = video
    if not video:
        raise LVASInputError("No input video given; pass the path of a video file.")
    info = probe_video(video)
    video_info = info.to_dict()
    duration = info.duration
    if plan is not None:
        picture = planned_picture_end(info, float(plan["storyboard"]["duration"]))
        if picture is not None:
            video_info, warning = picture
            duration = float(video_info["duration"])
            update["warnings"] = [*update.get("warnings", []), warning]
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
        lines = read_narration(state["narration"], duration=duration)
        update["narration_lines"] = [line.to_dict() for line in lines]
    make_run_dir(run_dir)
    update["video_info"] = video_info
    update["run_dir"] = str(run_dir.resolve())
    return update


def planned_picture_end(info: VideoInfo, planned: float) -> tuple[dict[str, Any], str] | None:
    """The run's ``video_info`` and its warning when a plan says the picture ends at
    ``planned``, clearly before the duration ``info`` states, and this file's video packets
    indeed stop there (a demux pass, no decoding); None otherwise (a plan made for a whole
    file, or a cut-off plan given the whole file: rendering then refuses the mismatch)."""
    if not picture_ends_early(planned, info.duration, info.fps):
        return None
    span = video_packet_span(info.path)
    if abs(span.end - planned) > end_tolerance(info.fps):
        return None
    warning = short_picture_warning(info.path, info.duration, planned,
                                    stream_duration=span.stream_duration, fps=info.fps)
    return picture_info(info.to_dict(), planned), warning


def make_run_dir(run_dir: Path) -> None:
    """Create the run folder, or say clearly why it cannot be (before any work is done)."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LVASInputError(f"Run folder {run_dir} cannot be created ({exc.strerror}); choose "
                             "another --work-dir (or -o).") from None
    if not can_create_in(run_dir):
        raise LVASInputError(f"Run folder {run_dir} is not writable; choose another --work-dir.")
