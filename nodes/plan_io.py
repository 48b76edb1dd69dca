"""The plan between planning and rendering: written after the Designer's last review, and read
back when a run renders a plan a person may have edited."""

from __future__ import annotations

from pathlib import Path

from langgraph.runtime import Runtime

from lvas.graph.context import Context, context_of
from lvas.graph.state import LVASState
from lvas.nodes.common import timed
from lvas.retrieval_index import default_index
from lvas.retrieval_index.knowledge import load_knowledge_base
from lvas.retrieval_index.label_sources import VOICED_FAMILIES, family_of_text
from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.paths import relative_to_run, write_json
from lvas.tools.common.types import Artifacts, LabelChoice, Sound
from lvas.tools.llm.accounting import summarize_usage
from lvas.tools.planning.plan_file import Plan, build_plan, load_plan, write_plan


@timed("write_plan")
def write_plan_node(state: LVASState, runtime: Runtime[Context]) -> LVASState:
    """Save the plan (and what its model calls cost) before any audio is rendered."""
    ctx = context_of(runtime)
    run_dir = Path(state["run_dir"])
    plan = build_plan(state, seed=ctx.seed)
    path = write_plan(run_dir / "plan.json", plan)
    if state.get("plan_output"):
        write_plan(state["plan_output"], plan)
    write_json(run_dir / "llm_usage.json", {
        "summary": summarize_usage(state.get("llm_usage", []), **ctx.usage_prices()),
        "calls": state.get("llm_usage", []),
    })
    artifacts: Artifacts = {"plan": relative_to_run(run_dir, path)}
    if state.get("plan_output"):
        artifacts["plan_output"] = state["plan_output"]
    return {"artifacts": artifacts}


@timed("load_plan")
def load_plan_node(state: LVASState, runtime: Runtime[Context]) -> LVASState:
    """Fill the state from a plan file, re-deriving what a person's edits may have changed."""
    ctx = context_of(runtime)
    plan = load_plan(state["plan"])
    duration = float(state["video_info"]["duration"])
    if abs(float(plan["storyboard"]["duration"]) - duration) > 0.25:
        raise LVASInputError(
            f"Plan {state['plan']} was made for a {plan['storyboard']['duration']:.2f} s video, "
            f"but {state['video']} lasts {duration:.2f} s; render it with its own video or "
            "make a new plan."
        )
    update: LVASState = {"scenes": plan["scenes"], "label_choices": _resolve_labels(plan, ctx),
                         "storyboard": {**plan["storyboard"], "duration": duration},
                         "label_final": True}
    if "overview" in plan:
        update["overview"] = plan["overview"]
    if "scripts" in plan:
        update["scripts"] = plan["scripts"]
    if "designs" in plan:
        update["designs"] = plan["designs"]
    if plan.get("narration") and not state.get("narration_lines"):
        # a narration file given with the render replaces the plan's lines
        update["narration_lines"] = [
            {"id": line["id"], "start": float(line["start"]),
             "end": min(float(line["end"]), duration), "text": line["text"],
             "voice": line.get("voice", "")}
            for line in plan["narration"]
        ]
    if plan.get("prompt") and not state.get("prompt"):
        update["prompt"] = plan["prompt"]
    return update


def _description_choice(sound: Sound, choice: LabelChoice) -> LabelChoice:
    """A plan made with ``label_source="description"``: the sound's (possibly edited)
    description is its prompt, and its family follows from the words, as when it was made."""
    family = family_of_text(sound["description"], sound["layer"])
    return {**choice, "sound_id": sound["id"], "label": sound["description"], "family": family,
            "source": "description", "speech": family in VOICED_FAMILIES,
            "music": family == "music", "query": sound["description"], "score": 0.0,
            "candidates": [], "round": choice.get("round", 0)}


def _resolve_labels(plan: Plan, ctx: Context) -> dict[str, LabelChoice]:
    """Each sound's label as the knowledge base knows it; a sound with no label is retrieved
    from its description, an unknown label is an error that suggests near ones. The family
    (which recipe renders it) always follows the label, so editing the label is enough."""
    records = {r.label.lower(): r for r in load_knowledge_base()}
    index = None
    choices: dict[str, LabelChoice] = {}
    for design in plan.get("designs", {}).values():
        for sound in design["sounds"]:
            choice = (plan.get("label_choices", {}).get(sound["id"])
                      or LabelChoice(sound_id=sound["id"]))
            label = (choice.get("label") or "").strip()
            if choice.get("source") == "description":
                # label_source="description": the Designer's words are the prompt, not a label
                choices[sound["id"]] = _description_choice(sound, choice)
                continue
            if label and label.lower() not in records:
                index = index or default_index(ctx.index_dir or None, ctx.embedding_model)
                near = ", ".join(f"'{h.label}'" for h in index.search(label, k=3))
                raise LVASInputError(
                    f"Sound {sound['id']}: label '{label}' is not in the label index; "
                    f"nearest are {near} (see 'lvas labels search')."
                )
            if not label:
                index = index or default_index(ctx.index_dir or None, ctx.embedding_model)
                # a person who removed the label speaks through the description
                hits = index.search(sound["description"], k=1)
                if not hits:
                    continue
                label = hits[0].label
            record = records[label.lower()]
            choices[sound["id"]] = {
                **choice, "sound_id": sound["id"], "label": record.label,
                "family": record.family, "source": record.source,
                "speech": record.speech, "music": record.music,
                "query": choice.get("query") or sound.get("query") or sound["description"],
                "score": float(choice.get("score") or 0.0),
                "candidates": choice.get("candidates", []), "round": choice.get("round", 0),
            }
    return choices
