"""The label search as a LangChain tool, so a chat model can look up sound labels itself."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import tool

from lvas.retrieval_index.store import default_index


def _settings() -> Any:
    """The run's context when called inside a graph run, else the defaults (``Context()``)."""
    from langgraph.runtime import get_runtime

    from lvas.graph.context import Context, context_of

    try:
        return context_of(get_runtime())
    except RuntimeError:  # called outside a graph run
        return Context()


@tool
def search_sound_labels(query: str, k: int = 5) -> list[dict]:
    """Find sound labels (from VGGSound and AudioSet) that match a sound description.

    Args:
        query: a short plain description of one sound, e.g. "heavy rain on a roof".
        k: how many labels to return, best first (1-50).

    Returns a list of {label, source, score, category, family, layer, speech, music, id};
    layer is background, foreground or both; speech/music flag voices and music.
    """
    k = max(1, min(int(k), 50))
    ctx = _settings()
    index = default_index(ctx.index_dir or None, ctx.embedding_model)
    return [hit.to_dict() for hit in index.search(query, k)]
