"""Synthesizer: map each designed sound onto a label from the Chroma knowledge base."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.context import Context, context_of
from graph.state import LVASState
from nodes.common import timed
from retrieval_index import open_index
from tools import offline_planner


@timed("synthesizer")
def choose_labels(state: LVASState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Retrieve candidates for every sound and pick the best one the Designer has not refused."""
    ctx = context_of(runtime)
    index = open_index(ctx.index_dir or None, embedding_model=ctx.embedding_model)
    sounds = [s for d in state.get("designs", {}).values() for s in d["sounds"]]
    previous = state.get("label_choices", {})
    finals = {r["sound_id"] for r in state.get("label_reviews", []) if r["final"]}
    todo = [s for s in sounds if s["id"] not in finals or s["id"] not in previous]
    round_number = state.get("label_round", 0)
    fetch = ctx.label_candidates + max(len(s["excluded_labels"]) for s in todo) if todo else 0
    hits_per_sound = index.search_many([s["query"] for s in todo], k=fetch) if todo else []
    choices = {key: value for key, value in previous.items()
               if key in {s["id"] for s in sounds}}
    for sound, hits in zip(todo, hits_per_sound, strict=True):
        context_text = f"{sound['description']} {state.get('prompt', '')}"
        usable = [h for h in hits if h.label not in sound["excluded_labels"]]
        voiced_ok = offline_planner.wants_voices(context_text)
        music_ok = offline_planner.wants_music(context_text)
        preferred = [h for h in usable if (voiced_ok or not h.speech) and (music_ok or not h.music)]
        best = (preferred or usable or hits)[0] if hits else None
        choices[sound["id"]] = {
            "sound_id": sound["id"],
            "query": sound["query"],
            "label": best.label if best else "",
            "source": best.source if best else "",
            "family": best.family if best else "room_tone",
            "score": round(float(best.score), 4) if best else 0.0,
            "speech": bool(best.speech) if best else False,
            "music": bool(best.music) if best else False,
            "candidates": [
                {"label": h.label, "source": h.source, "score": round(float(h.score), 4),
                 "family": h.family}
                for h in hits[: ctx.label_candidates]
            ],
            "round": round_number,
        }
    return {"label_choices": choices}
