"""Designer: a sound design per scene, and its review of the Synthesizer's label choices."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Send

from graph.context import Context, context_of
from graph.state import ClipTask, LVASState
from nodes.common import in_run, timed
from tools.analysis import motion_onsets
from tools.planners import get_planner

EVENTS_PER_SECOND = 0.5


@timed("designer")
def design_sounds(state: LVASState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Beds and events for every scene, events placed on the picture's motion onsets."""
    ctx = context_of(runtime)
    planner = get_planner(ctx.chat_backend)
    storyboard = state["storyboard"]
    envelope = str(in_run(state["run_dir"], storyboard["motion_envelope"]))
    designs: dict[str, Any] = {}
    for scene in state.get("scenes", []):
        length = scene["end"] - scene["start"]
        onsets = motion_onsets(
            envelope,
            storyboard["envelope_rate"],
            scene["start"],
            scene["end"],
            max_count=max(1, int(length * EVENTS_PER_SECOND)),
        )
        script = state.get("scripts", {}).get(scene["id"], {})
        designs[scene["id"]] = planner.design_scene(
            scene, script, state.get("prompt"), onsets, ctx.seed
        )
    return {"designs": designs, "label_round": 0, "label_final": False}


@timed("design_review")
def review_labels(state: LVASState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Judge each label choice; a rejected label is excluded and retrieval runs again."""
    ctx = context_of(runtime)
    planner = get_planner(ctx.chat_backend)
    round_number = state.get("label_round", 0) + 1
    designs = {key: {**d, "sounds": [dict(s) for s in d["sounds"]]}
               for key, d in state.get("designs", {}).items()}
    choices = state.get("label_choices", {})
    reviews: list[dict[str, Any]] = []
    all_final = True
    for design in designs.values():
        for sound in design["sounds"]:
            choice = choices.get(sound["id"])
            if choice is None:
                continue
            final, reason = planner.review_label(sound, choice, state.get("prompt"))
            review: dict[str, Any] = {
                "round": round_number, "sound_id": sound["id"], "label": choice["label"],
                "final": final, "reason": reason,
            }
            if not final:
                all_final = False
                if choice["label"] and choice["label"] not in sound["excluded_labels"]:
                    sound["excluded_labels"] = [*sound["excluded_labels"], choice["label"]]
            reviews.append(review)
    capped = round_number >= ctx.max_label_rounds
    return {
        "designs": designs,
        "label_reviews": reviews,
        "label_round": round_number,
        "label_final": all_final or capped,
    }


def route_after_label_review(
    state: LVASState,
) -> list[Send] | Literal["synthesizer", "mixer"]:
    """Retrieve again until the Designer is satisfied; then render every sound in parallel."""
    if not state.get("label_final"):
        return "synthesizer"
    tasks = [
        Send("generate_clip", ClipTask(sound=sound, choice=state["label_choices"][sound["id"]],
                                       run_dir=state["run_dir"]))
        for design in state.get("designs", {}).values()
        for sound in design["sounds"]
        if sound["id"] in state.get("label_choices", {})
    ]
    return tasks or "mixer"
