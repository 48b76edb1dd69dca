"""Storyboarder: shots, keyframes and scenes from one pass over the video."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from graph.context import Context, context_of
from graph.state import LVASState
from nodes.common import timed
from tools.analysis import analyze_video
from tools.paths import content_hash, file_fingerprint, relative_to_run
from tools.scenes import scenes_from_shots


@timed("storyboarder")
def storyboarder(state: LVASState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Detect shots, pick keyframes, measure light, colour and motion, and form scenes."""
    ctx = context_of(runtime)
    run_dir = state["run_dir"]
    key = content_hash(file_fingerprint(state["video"]), ctx.detector, ctx.cut_threshold)
    analysis = analyze_video(
        state["video"],
        Path(run_dir) / "analysis" / key,
        detector=ctx.detector,
        threshold=ctx.cut_threshold or None,
    )
    shots = []
    for shot in analysis.shots:
        record = shot.to_dict() if hasattr(shot, "to_dict") else dict(vars(shot))
        record["keyframe"] = relative_to_run(run_dir, record["keyframe"])
        shots.append(record)
    scenes = scenes_from_shots(
        shots, duration=analysis.duration, min_scene_seconds=ctx.min_scene_seconds
    )
    storyboard = {
        "duration": analysis.duration,
        "fps": analysis.fps,
        "cuts": list(analysis.cuts),
        "shots": shots,
        "motion_envelope": relative_to_run(run_dir, analysis.envelope_path),
        "envelope_rate": analysis.envelope_rate,
    }
    return {"storyboard": storyboard, "scenes": scenes, "warnings": list(analysis.warnings)}
