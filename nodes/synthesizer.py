"""Synthesizer: map each designed sound onto a label from the Chroma knowledge base.

``Context.label_source`` replaces the retrieval for ablations: ``description`` names each sound
by the Designer's own words (no index is opened), ``random`` by a seeded random label of its
layer (see ``lvas.retrieval_index.label_sources``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from langgraph.runtime import Runtime

from lvas.graph.context import Context, context_of
from lvas.graph.state import LVASState
from lvas.nodes.common import log_update, new_log, planner_for, timed
from lvas.retrieval_index import default_index
from lvas.retrieval_index.label_sources import VOICED_FAMILIES, family_of_text, random_label
from lvas.retrieval_index.retriever import LabelHit
from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.types import LabelCandidate, LabelChoice, SceneDesign, Sound


def _candidate(hit: LabelHit) -> LabelCandidate:
    """What the plan keeps of a retrieved label (its score rounded for reading)."""
    return {"label": hit.label, "source": hit.source, "score": round(hit.score, 4),
            "family": hit.family, "category": hit.category, "layer": hit.layer,
            "speech": hit.speech, "music": hit.music}


def _described(sound: Sound, round_number: int) -> LabelChoice:
    """The sound named by its description: the text is the prompt, the family that renders it
    comes from the knowledge base's family rules read as free text."""
    text = sound["description"]
    family = family_of_text(text, sound["layer"])
    return {"sound_id": sound["id"], "query": text, "label": text, "source": "description",
            "family": family, "score": 0.0, "speech": family in VOICED_FAMILIES,
            "music": family == "music", "candidates": [], "round": round_number}


def _random(sound: Sound, seed: int, round_number: int) -> LabelChoice:
    """A random label of the sound's layer, drawn by the run's seed and the sound's id."""
    record = random_label(sound["layer"], seed, sound["id"])
    return {"sound_id": sound["id"], "query": sound.get("query") or sound["description"],
            "label": record.label, "source": record.source, "family": record.family,
            "score": 0.0, "speech": record.speech, "music": record.music, "candidates": [],
            "round": round_number}


@timed("synthesizer")
def choose_labels(state: LVASState, runtime: Runtime[Context]) -> LVASState:
    """Retrieve candidates for every sound still open and let the planner pick among them
    (or, for an ablation, name them without retrieval: ``Context.label_source``)."""
    ctx = context_of(runtime)
    if ctx.label_source != "retrieved":
        round_number = state.get("label_round", 0)
        sounds = [s for d in state.get("designs", {}).values() for s in d["sounds"]]
        if ctx.label_source == "description":
            return {"label_choices": {s["id"]: _described(s, round_number) for s in sounds}}
        if ctx.label_source == "random":
            return {"label_choices": {s["id"]: _random(s, ctx.seed, round_number)
                                      for s in sounds}}
        raise LVASInputError(f"label_source {ctx.label_source!r} is unknown; use 'retrieved', "
                             "'description' or 'random'.")
    planner = planner_for(ctx)
    log = new_log()
    index = default_index(ctx.index_dir or None, ctx.embedding_model)  # once per process
    designs = state.get("designs", {})
    previous = state.get("label_choices", {})
    finals = {r["sound_id"] for r in state.get("label_reviews", []) if r["final"]}
    sounds = [s for d in designs.values() for s in d["sounds"]]
    todo = [s for s in sounds if s["id"] not in finals or s["id"] not in previous]
    fetch = ctx.label_candidates + max((len(s["excluded_labels"]) for s in todo), default=0)
    hits = index.search_many([s["query"] for s in todo], k=fetch) if todo else []
    candidates = {
        sound["id"]: [_candidate(hit) for hit in found
                      if hit.label not in sound["excluded_labels"]][: ctx.label_candidates]
        for sound, found in zip(todo, hits, strict=True)
    }

    def select(design: SceneDesign) -> dict[str, LabelCandidate | None]:
        wanted = {s["id"] for s in design["sounds"]} & candidates.keys()
        if not wanted:
            return {}
        subset: SceneDesign = {**design,
                               "sounds": [s for s in design["sounds"] if s["id"] in wanted]}
        return planner.select_labels(subset, {k: candidates[k] for k in wanted},
                                     state.get("prompt"), log)

    with ThreadPoolExecutor(max_workers=max(1, ctx.llm_max_concurrency)) as pool:
        picks = {k: v for result in pool.map(select, designs.values()) for k, v in result.items()}
    round_number = state.get("label_round", 0)
    choices: dict[str, LabelChoice] = {k: v for k, v in previous.items()
                                       if k in {s["id"] for s in sounds}}
    for sound in todo:
        best = picks.get(sound["id"])
        choices[sound["id"]] = {
            "sound_id": sound["id"],
            "query": sound["query"],
            "label": best["label"] if best else "",
            "source": best["source"] if best else "",
            "family": best["family"] if best else "",
            "score": float(best["score"]) if best else 0.0,
            "speech": bool(best["speech"]) if best else False,
            "music": bool(best["music"]) if best else False,
            "candidates": candidates[sound["id"]],
            "round": round_number,
        }
    return {"label_choices": choices, **log_update(log)}
