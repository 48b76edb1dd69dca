"""Scriptwriter: a whole-video description, then one script per scene (fanned out)."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Send

from graph.context import Context, context_of
from graph.state import LVASState, SceneTask
from nodes.common import timed
from tools.planners import get_planner


@timed("scriptwriter")
def write_overview(state: LVASState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Describe the whole video first, so each scene is written knowing the story."""
    planner = get_planner(context_of(runtime).chat_backend)
    overview = planner.describe_video(state.get("scenes", []), state.get("prompt"))
    return {"overview": overview}


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
    script = get_planner(context_of(runtime).chat_backend).describe_scene(task["scene"])
    return {"scripts": {task["scene"]["id"]: script}}
