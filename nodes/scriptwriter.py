"""Scriptwriter: a whole-video description, then one script per scene (fanned out)."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Send

from graph.context import Context, context_of
from graph.state import LVASState, SceneTask
from nodes.common import log_update, new_log, planner_for, timed, with_absolute_keyframes


@timed("scriptwriter")
def write_overview(state: LVASState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Describe the whole video first, so each scene is written knowing the story."""
    log = new_log()
    scenes = [with_absolute_keyframes(s, state["run_dir"]) for s in state.get("scenes", [])]
    overview = planner_for(context_of(runtime)).describe_video(scenes, state.get("prompt"), log)
    return {"overview": overview, **log_update(log)}


def scene_tasks(state: LVASState, scene_ids: list[str] | None = None) -> list[Send]:
    """One Send per scene to the per-scene Scriptwriter; all scenes unless ids are given."""
    wanted = set(scene_ids) if scene_ids is not None else None
    return [
        Send(
            "write_scene_script",
            SceneTask(
                scene=scene,
                overview=state.get("overview", ""),
                prompt=state.get("prompt", ""),
                run_dir=state["run_dir"],
                review_round=state.get("review_round", 0),
            ),
        )
        for scene in state.get("scenes", [])
        if wanted is None or scene["id"] in wanted
    ]


def fan_out_scenes(state: LVASState) -> list[Send]:
    """Conditional edge after the overview: write every scene's script in parallel."""
    return scene_tasks(state)


@timed("write_scene_script")
def write_scene_script(task: SceneTask, runtime: Runtime[Context]) -> dict[str, Any]:
    """Script of one scene: background, entities, actions and a caption of what is visible."""
    log = new_log()
    scene = with_absolute_keyframes(task["scene"], task["run_dir"])
    script = planner_for(context_of(runtime)).describe_scene(
        scene, task["overview"], task["prompt"], log
    )
    return {"scripts": {task["scene"]["id"]: script}, **log_update(log)}
