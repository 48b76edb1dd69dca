"""The label search as a LangChain tool, so a chat model can look up sound labels itself."""

from __future__ import annotations

from langchain_core.tools import tool

from lvas.retrieval_index.store import default_index


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
    return [hit.to_dict() for hit in default_index().search(query, k)]
