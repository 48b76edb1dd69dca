"""Storyboarder: shots, keyframes and scenes from one pass over the video."""

from __future__ import annotations

from pathlib import Path

from langgraph.runtime import Runtime

from lvas.graph.context import Context, context_of
from lvas.graph.state import LVASState
from lvas.nodes.common import timed
from lvas.tools.common.paths import relative_to_run
from lvas.tools.common.types import Scene, Shot, Storyboard
from lvas.tools.video.storyboard import build_storyboard, storyboard_key


@timed("storyboarder")
def storyboarder(state: LVASState, runtime: Runtime[Context]) -> LVASState:
    """Detect cuts and dissolves, pick keyframes, measure each shot, and form scenes."""
    settings = context_of(runtime).storyboard_settings()
    run_dir = state["run_dir"]
    folder = Path(run_dir) / "analysis" / storyboard_key(state["video"], settings)
    board = build_storyboard(state["video"], folder, settings)

    def rel(path: str) -> str:
        return relative_to_run(run_dir, path)

    shots: list[Shot] = [
        {**shot, "keyframe": rel(shot["keyframe"]),
         "keyframes": [rel(k) for k in shot["keyframes"]], "sharpest": rel(shot["sharpest"])}
        for shot in board["shots"]
    ]
    scenes: list[Scene] = [{**scene, "keyframes": [rel(k) for k in scene.get("keyframes", [])]}
                           for scene in board["scenes"]]
    storyboard: Storyboard = {
        "duration": board["duration"],
        "fps": board["fps"],
        "cuts": board["cuts"],
        "shots": shots,
        "motion_envelope": rel(board["motion_envelope"]),
        "envelope_rate": board["envelope_rate"],
    }
    return {"storyboard": storyboard, "scenes": scenes, "warnings": board["warnings"]}
