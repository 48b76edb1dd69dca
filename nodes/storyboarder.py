"""Storyboarder: shots, keyframes and scenes from one pass over the video.

``Context.segmentation`` chooses how the video is cut into scenes (LVAS's semantic scenes, fixed
chunks, one scene, or raw shots; see ``lvas.tools.video.scenes``). With ``Context.vision_input``
off, the scenes it hands on carry no colour or light (``LOOK_KEYS``): no planner downstream
(Scriptwriter, review, Designer) can then read the picture, only the scenes' spans and motion.
"""

from __future__ import annotations

from pathlib import Path

from langgraph.runtime import Runtime

from lvas.graph.context import Context, context_of
from lvas.graph.state import LVASState
from lvas.nodes.common import timed
from lvas.tools.common.paths import relative_to_run
from lvas.tools.common.types import Scene, Shot, Storyboard
from lvas.tools.video.scenes import without_looks
from lvas.tools.video.storyboard import StoryboardSettings, build_storyboard, storyboard_key


def storyboard_settings(ctx: Context) -> StoryboardSettings:
    """The run's shot detection and scene settings, its segmentation included."""
    return ctx.storyboard_settings()


@timed("storyboarder")
def storyboarder(state: LVASState, runtime: Runtime[Context]) -> LVASState:
    """Detect cuts and dissolves, pick keyframes, measure each shot, and form scenes."""
    ctx = context_of(runtime)
    settings = storyboard_settings(ctx)
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
    if not ctx.vision_input:
        scenes = [without_looks(scene) for scene in scenes]
    storyboard: Storyboard = {
        "duration": board["duration"],
        "fps": board["fps"],
        "cuts": board["cuts"],
        "shots": shots,
        "motion_envelope": rel(board["motion_envelope"]),
        "envelope_rate": board["envelope_rate"],
    }
    return {"storyboard": storyboard, "scenes": scenes, "warnings": board["warnings"]}
