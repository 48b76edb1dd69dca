"""Routers and fan-outs: every conditional edge of the workflow, in one place.

A router reads state (and the run's caps from ``Context``) and names the next node, or returns
one ``Send`` per scene or sound to fan the work out. Role modules hold no routing.
"""

from __future__ import annotations

from typing import Literal

from langgraph.runtime import Runtime
from langgraph.types import Send

from lvas.graph.context import Context, context_of
from lvas.graph.state import ClipTask, LVASState, SceneTask
from lvas.tools.common.types import LabelChoice
from lvas.tools.planning.bed_carry import carry_beds
from lvas.tools.planning.narration import line_as_sound
from lvas.tools.video.shot_bursts import scene_shots


def route_after_probe(state: LVASState) -> Literal["load_plan", "storyboarder"]:
    """A run given a plan renders it; otherwise the Storyboarder starts planning."""
    return "load_plan" if state.get("plan") else "storyboarder"

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
                video=state.get("video_info", {}).get("path") or state.get("video", ""),
                shots=scene_shots(scene, state.get("storyboard", {}).get("shots", [])),
            ),
        )
        for scene in state.get("scenes", [])
        if wanted is None or scene["id"] in wanted
    ]

def fan_out_scenes(state: LVASState) -> list[Send]:
    """Conditional edge after the overview: write every scene's script in parallel."""
    return scene_tasks(state)

def route_after_review(
    state: LVASState, runtime: Runtime[Context]
) -> list[Send] | Literal["designer"]:
    """Back to the Scriptwriter for merged scenes, unless the cap is reached; straight on to
    the Designer when the run has no discussion-correction (``review_scripts`` off)."""
    ctx = context_of(runtime)
    pending = state.get("rescript") or []
    if ctx.review_scripts and pending and state.get("review_round", 0) < ctx.max_review_rounds:
        return scene_tasks(state, pending)
    return "designer"

def route_after_label_review(state: LVASState) -> Literal["synthesizer", "write_plan"]:
    """Retrieve again until the Designer is satisfied (or the cap), then write the plan."""
    return "write_plan" if state.get("label_final") else "synthesizer"

def route_to_generation(
    state: LVASState, runtime: Runtime[Context]
) -> list[Send] | Literal["mixer", "__end__"]:
    """Stop after the plan when only a plan was asked for; else render every sound."""
    if state.get("plan_only"):
        return "__end__"
    return clip_tasks(state, carry=context_of(runtime).carry_beds) or "mixer"

def clip_tasks(state: LVASState, *, carry: bool = True) -> list[Send]:
    """One Send per sound to render, and one per narration line, to render them in parallel
    (the generator leaves narration silent unless the run voices it). With ``carry``, beds of
    one label in consecutive scenes become one continuous sound."""
    choices = state.get("label_choices", {})
    video = state.get("video_info", {}).get("path") or state.get("video", "")
    sounds = [sound for design in state.get("designs", {}).values()
              for sound in design["sounds"]
              if sound["id"] in choices and choices[sound["id"]].get("label")]
    if carry:
        sounds, _ = carry_beds(sounds, {s["id"]: choices[s["id"]]["label"] for s in sounds})
    tasks = [
        Send("generate_clip", ClipTask(sound=sound, choice=choices[sound["id"]],
                                       run_dir=state["run_dir"], video=video))
        for sound in sounds
    ]
    for line in state.get("narration_lines", []):
        sound = line_as_sound(line)
        choice: LabelChoice = {
            "sound_id": sound["id"], "query": "", "label": "narration", "source": "",
            "family": "speech", "score": 0.0, "speech": True, "music": False,
            "candidates": [], "round": 0, "voice": line.get("voice", ""),
        }
        tasks.append(Send("generate_clip", ClipTask(sound=sound, choice=choice,
                                                    run_dir=state["run_dir"], video=video)))
    return tasks
