"""Designer: a sound design per scene, and its review of the Synthesizer's label choices."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import cast

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from lvas.graph.context import Context, context_of
from lvas.graph.state import LVASState
from lvas.nodes.common import (
    in_run,
    log_update,
    new_log,
    planner_for,
    timed,
    with_absolute_keyframes,
)
from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.types import LabelReview, Scene, SceneDesign, SceneScript
from lvas.tools.planning.offline import prompt_warnings
from lvas.tools.planning.sound_caps import cap_designs
from lvas.tools.video.analysis import motion_onsets

EVENTS_PER_SECOND = 0.5


def _approved_scripts(state: LVASState, ctx: Context) -> dict[str, SceneScript]:
    """Pause for a person's approval when asked; their edits replace the scripts."""
    scripts = dict(state.get("scripts", {}))
    if not ctx.pause_after_script:
        return {}
    edits = interrupt({
        "question": "Approve or edit the scene scripts, then resume (with edited scripts, "
                    "keyed by scene id, or nothing to approve them as they are).",
        "scenes": state.get("scenes", []),
        "scripts": scripts,
    })
    if isinstance(edits, dict):
        edited = edits.get("scripts", edits)
        # a person's edits replace values of the script's own keys
        return {k: cast(SceneScript, {**scripts[k], **v}) for k, v in edited.items()
                if k in scripts and isinstance(v, dict)}
    return {}


def _unscripted(scene: Scene) -> SceneScript:
    """The script of a scene the Scriptwriter never wrote: planners fall back on the picture."""
    return {"scene_id": scene["id"], "background": "", "entities": [], "actions": [],
            "caption": "", "author": ""}


@timed("designer")
def design_sounds(state: LVASState, runtime: Runtime[Context]) -> LVASState:
    """Beds and events for every scene, events placed on the picture's motion onsets; the
    run's caps on sounds per scene and per minute apply whoever designed them, and the run's
    warnings say what a cap or a long prompt left out."""
    ctx = context_of(runtime)
    edited = _approved_scripts(state, ctx)
    scripts = {**state.get("scripts", {}), **edited}
    planner = planner_for(ctx)
    log = new_log()
    storyboard = state["storyboard"]
    envelope = str(in_run(state["run_dir"], storyboard["motion_envelope"]))

    def design(scene: Scene) -> tuple[str, SceneDesign]:
        length = scene["end"] - scene["start"]
        onsets = motion_onsets(envelope, storyboard["envelope_rate"], scene["start"],
                               scene["end"], max_count=max(1, int(length * EVENTS_PER_SECOND)))
        return scene["id"], planner.design_scene(
            with_absolute_keyframes(scene, state["run_dir"]),
            scripts.get(scene["id"]) or _unscripted(scene), state.get("prompt"), onsets,
            ctx.seed, log,
        )

    with ThreadPoolExecutor(max_workers=max(1, ctx.llm_max_concurrency)) as pool:
        designs = dict(pool.map(design, state.get("scenes", [])))
    if ctx.design_layers == "background":
        designs = {key: background_only(d) for key, d in designs.items()}
    elif ctx.design_layers != "multi":
        raise LVASInputError(f"design_layers {ctx.design_layers!r} is unknown; use 'multi' or "
                             "'background'.")
    scenes = state.get("scenes", [])
    designs, capped = cap_designs(designs, scenes, float(storyboard["duration"]))
    warnings = capped
    if planner.name == "offline":  # its sounds are the prompt's phrases, one for one
        positions = [int(s.get("index", n)) for n, s in enumerate(scenes)]
        warnings = [*prompt_warnings(state.get("prompt"), positions), *capped]
    update: LVASState = {"designs": designs, "label_round": 0, "label_final": False,
                         **log_update(log)}
    if warnings:
        update["warnings"] = [*update.get("warnings", []), *warnings]
    if edited:
        update["scripts"] = edited
    return update


def background_only(design: SceneDesign) -> SceneDesign:
    """One background layer: the scene's bed that covers most of it (the first on a tie), no
    foreground events; a design without a bed keeps none (the Designer left it bare)."""
    beds = [s for s in design["sounds"] if s["layer"] == "background"]
    kept = max(beds, key=lambda s: float(s["end"]) - float(s["start"]), default=None)
    dropped = len(design["sounds"]) - (1 if kept else 0)
    out: SceneDesign = {**design, "sounds": [kept] if kept else []}
    if dropped:
        note = f"Background layer only: {dropped} other sound(s) left out."
        out["reasoning"] = f"{design.get('reasoning', '')} {note}".strip()
    return out


@timed("design_review")
def review_labels(state: LVASState, runtime: Runtime[Context]) -> LVASState:
    """Judge the label choices of each scene; a rejected label is excluded, its query may be
    rewritten, and retrieval runs again until all are final or the cap is reached.

    Without the loop (``Context.review_labels`` off) the first retrieval is final at once, and
    so are labels that were not retrieved (``label_source`` 'description' or 'random'): there
    is no search for a review to steer. No verdict is recorded and no model is called."""
    ctx = context_of(runtime)
    if not ctx.review_labels or ctx.label_source != "retrieved":
        return {"label_round": state.get("label_round", 0) + 1, "label_final": True}
    planner = planner_for(ctx)
    log = new_log()
    round_number = state.get("label_round", 0) + 1
    designs: dict[str, SceneDesign] = {key: {**d, "sounds": [s.copy() for s in d["sounds"]]}
                                       for key, d in state.get("designs", {}).items()}
    choices = state.get("label_choices", {})
    finals = {r["sound_id"] for r in state.get("label_reviews", []) if r["final"]}

    def judge(design: SceneDesign) -> dict[str, tuple[bool, str, str | None]]:
        pending = {s["id"]: choices[s["id"]] for s in design["sounds"]
                   if s["id"] in choices and s["id"] not in finals}
        return planner.review_labels(design, pending, state.get("prompt"), log) if pending else {}

    with ThreadPoolExecutor(max_workers=max(1, ctx.llm_max_concurrency)) as pool:
        verdicts = [v for result in pool.map(judge, designs.values()) for v in result.items()]
    by_id = {s["id"]: s for d in designs.values() for s in d["sounds"]}
    reviews: list[LabelReview] = []
    for sound_id, (final, reason, new_query) in verdicts:
        sound = by_id[sound_id]
        label = choices[sound_id]["label"]
        review: LabelReview = {"round": round_number, "sound_id": sound_id, "label": label,
                               "final": final, "reason": reason}
        if not final:
            if label and label not in sound["excluded_labels"]:
                sound["excluded_labels"] = [*sound["excluded_labels"], label]
            if new_query:
                sound["query"] = new_query
                review["new_query"] = new_query
        reviews.append(review)
    all_final = all(final for _, (final, _, _) in verdicts)
    return {
        "designs": designs,
        "label_reviews": reviews,
        "label_round": round_number,
        "label_final": all_final or round_number >= ctx.max_label_rounds,
        **log_update(log),
    }
