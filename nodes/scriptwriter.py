"""Scriptwriter: a whole-video description, then one script per scene (fanned out).

With ``Context.vision_input`` off the Scriptwriter works blind: its planner is built without
vision and the scenes reach it without keyframes (and, from the Storyboarder, without colour
and light), so its captions come from the scenes' timing and motion and the prompt alone.

With vision, the offline planner is given each scene's visual evidence
(``lvas.tools.video.evidence``: sky, texture, motion, flicker... from the scene's keyframes and
one short burst of small frames), measured here, per scene, so a merged scene is measured anew.
"""

from __future__ import annotations

from typing import cast

from langgraph.runtime import Runtime

from lvas.graph.context import Context, context_of
from lvas.graph.state import LVASState, SceneTask
from lvas.nodes.common import log_update, new_log, timed, with_absolute_keyframes
from lvas.tools.common.types import Scene, SeenScene
from lvas.tools.planning.registry import Planner, get_planner
from lvas.tools.video.evidence import scene_evidence


def scriptwriter_planner(ctx: Context) -> Planner:
    """The run's planner, seeing the keyframes only when the run has vision input."""
    return get_planner(ctx.chat_backend, chat=ctx.chat_settings(), vision=ctx.vision_input)


def scene_for_scriptwriter(scene: Scene, run_dir: str, ctx: Context) -> Scene:
    """A scene as the Scriptwriter gets it: keyframes it can open, or none without vision."""
    if not ctx.vision_input:
        return {**scene, "keyframes": []}
    return with_absolute_keyframes(scene, run_dir)


@timed("scriptwriter")
def write_overview(state: LVASState, runtime: Runtime[Context]) -> LVASState:
    """Describe the whole video first, so each scene is written knowing the story."""
    ctx = context_of(runtime)
    log = new_log()
    scenes = [scene_for_scriptwriter(s, state["run_dir"], ctx) for s in state.get("scenes", [])]
    overview = scriptwriter_planner(ctx).describe_video(scenes, state.get("prompt"), log)
    return {"overview": overview, **log_update(log)}


@timed("write_scene_script")
def write_scene_script(state: SceneTask, runtime: Runtime[Context]) -> LVASState:
    """Script of one scene: background, entities, actions and a caption of what is visible.

    ``state`` is the scene's ``Send`` payload (LangGraph's node protocol names it so)."""
    ctx = context_of(runtime)
    log = new_log()
    scene = scene_for_scriptwriter(state["scene"], state["run_dir"], ctx)
    planner = scriptwriter_planner(ctx)
    if ctx.vision_input and planner.name == "offline":
        scene = with_evidence(scene, state.get("video") or None)
    script = planner.describe_scene(scene, state["overview"], state["prompt"], log)
    return {"scripts": {state["scene"]["id"]: script}, **log_update(log)}


def with_evidence(scene: Scene, video: str | None) -> SeenScene:
    """The scene with its measured visual evidence, for the offline planner to choose from."""
    features = scene_evidence(
        scene.get("keyframes", []), video, float(scene["start"]), float(scene["end"])
    )
    seen = cast(SeenScene, dict(scene))
    if features:
        seen["evidence"] = features
    return seen
