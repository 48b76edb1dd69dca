"""Discussion-correction: the Storyboarder reviews the Scriptwriter's scene scripts.

One pass over the scenes in order; each is compared with the scene before it and with the
whole-video description, then kept, merged into the previous scene, or corrected. Merged
scenes go back to the Scriptwriter until nothing changes or the round cap is reached.

With ``Context.review_scripts`` off the loop is removed: the node passes through (no planner
call, no note, no merge or correction, so the Scriptwriter's first descriptions stand) and the
router goes straight on to the Designer. The node stays in the graph so its shape is the same
for every run; a trace shows it with an empty update.
"""

from __future__ import annotations

from typing import cast

from langgraph.runtime import Runtime

from lvas.graph.context import Context, context_of
from lvas.graph.state import LVASState
from lvas.nodes.common import log_update, new_log, planner_for, timed, with_absolute_keyframes
from lvas.tools.common.types import ReviewNote, Scene, SceneScript
from lvas.tools.video.scenes import merge_scenes


@timed("review")
def review_scripts(state: LVASState, runtime: Runtime[Context]) -> LVASState:
    """Merge continuous neighbours and correct captions; record every decision."""
    ctx = context_of(runtime)
    if not ctx.review_scripts:
        return {"rescript": []}
    planner = planner_for(ctx)
    log = new_log()
    run_dir = state["run_dir"]
    round_number = state.get("review_round", 0) + 1
    scripts = dict(state.get("scripts", {}))
    script_updates: dict[str, SceneScript | None] = {}  # None retires a merged scene's script
    notes: list[ReviewNote] = []
    scenes: list[Scene] = []
    rescript: list[str] = []
    for scene in state.get("scenes", []):
        script = scripts.get(scene["id"])
        if script is None:
            scenes.append(scene)
            continue
        previous = scenes[-1] if scenes else None
        previous_script = scripts.get(previous["id"]) if previous else None
        action, reason, corrected = planner.review_pair(
            with_absolute_keyframes(previous, run_dir) if previous else None, previous_script,
            with_absolute_keyframes(scene, run_dir), script, state.get("overview", ""),
            state.get("prompt"), log,
        )
        note: ReviewNote = {
            "round": round_number, "scene_id": scene["id"], "action": action, "reason": reason
        }
        if action == "merge" and previous is not None:
            scenes[-1] = merge_scenes(previous, scene)
            note["into"] = previous["id"]
            script_updates[scene["id"]] = None
            scripts.pop(scene["id"], None)
            if previous["id"] not in rescript:
                rescript.append(previous["id"])
        else:
            scenes.append(scene)
            if corrected is not None:
                script_updates[scene["id"]] = corrected
                scripts[scene["id"]] = corrected
        notes.append(note)
    for index, scene in enumerate(scenes):
        scene["index"] = index
    return {
        "scenes": scenes,
        "scripts": cast(dict[str, SceneScript], script_updates),  # merge_by_key drops the Nones
        "review_notes": notes,
        "review_round": round_number,
        "rescript": rescript,
        **log_update(log),
    }
