"""Scriptwriter: a whole-video description, then one script per scene (fanned out)."""

from __future__ import annotations

from langgraph.runtime import Runtime

from lvas.graph.context import Context, context_of
from lvas.graph.state import LVASState, SceneTask
from lvas.nodes.common import log_update, new_log, planner_for, timed, with_absolute_keyframes


@timed("scriptwriter")
def write_overview(state: LVASState, runtime: Runtime[Context]) -> LVASState:
    """Describe the whole video first, so each scene is written knowing the story."""
    log = new_log()
    scenes = [with_absolute_keyframes(s, state["run_dir"]) for s in state.get("scenes", [])]
    overview = planner_for(context_of(runtime)).describe_video(scenes, state.get("prompt"), log)
    return {"overview": overview, **log_update(log)}


@timed("write_scene_script")
def write_scene_script(state: SceneTask, runtime: Runtime[Context]) -> LVASState:
    """Script of one scene: background, entities, actions and a caption of what is visible.

    ``state`` is the scene's ``Send`` payload (LangGraph's node protocol names it so)."""
    log = new_log()
    scene = with_absolute_keyframes(state["scene"], state["run_dir"])
    script = planner_for(context_of(runtime)).describe_scene(
        scene, state["overview"], state["prompt"], log
    )
    return {"scripts": {state["scene"]["id"]: script}, **log_update(log)}
