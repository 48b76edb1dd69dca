"""Synthesizer: map each designed sound onto a label from the Chroma knowledge base."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from langgraph.runtime import Runtime

from lvas.graph.context import Context, context_of
from lvas.graph.state import LVASState
from lvas.nodes.common import log_update, new_log, planner_for, timed
from lvas.retrieval_index import open_index
from lvas.retrieval_index.retriever import LabelHit
from lvas.tools.common.types import LabelCandidate, LabelChoice, SceneDesign


def _candidate(hit: LabelHit) -> LabelCandidate:
    """What the plan keeps of a retrieved label (its score rounded for reading)."""
    return {"label": hit.label, "source": hit.source, "score": round(hit.score, 4),
            "family": hit.family, "category": hit.category, "layer": hit.layer,
            "speech": hit.speech, "music": hit.music}


@timed("synthesizer")
def choose_labels(state: LVASState, runtime: Runtime[Context]) -> LVASState:
    """Retrieve candidates for every sound still open and let the planner pick among them."""
    ctx = context_of(runtime)
    planner = planner_for(ctx)
    log = new_log()
    index = open_index(ctx.index_dir or None, embedding_model=ctx.embedding_model)
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
