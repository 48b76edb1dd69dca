"""Labels without a search: what stands in for retrieval when an ablation replaces it.

Two alternatives to the Synthesizer's retrieval (``Context.label_source``):

- ``description``: the Designer's own words are the generation prompt. A model backend reads
  the text; the procedural synthesizer needs a recipe family, which ``family_of_text`` finds
  with the knowledge base's own family rules (the keyword rules that give every label its
  family), read as free text: the family named first wins, a longer phrase before a shorter
  one at the same word, and a description that names none gets its layer's neutral recipe
  (``room_tone`` for a bed, ``impact`` for an event). No embedding, no index: the point of the
  ablation is a run without the knowledge base.
- ``random``: a label drawn from the vocabulary the index is built from, among those that suit
  the sound's layer (a "both" label suits either) and carry neither voices nor music (the
  Designer's default, which asks for them only when the picture or the prompt does; drawing
  them too would make the baseline mostly instruments). The draw hashes the run's seed and the
  sound's id, so it is the same in every process and changes with the seed.
"""

from __future__ import annotations

import hashlib
from functools import cache

from lvas.retrieval_index.knowledge import (
    _FAMILY_OVERRIDES,
    _FAMILY_RULES_STEMMED,
    LabelRecord,
    Phrase,
    _phrases,
    load_knowledge_base,
)
from lvas.retrieval_index.text import stems
from lvas.tools.common.errors import LVASInputError

LAYER_DEFAULT_FAMILY = {"background": "room_tone", "foreground": "impact"}
"""The recipe of a description that names no sound the rules know, by the sound's layer."""

_SUITS = {"background": ("background", "both"), "foreground": ("foreground", "both")}


@cache
def _text_rules() -> tuple[tuple[str, Phrase], ...]:
    """Every family phrase, with the multi-word label overrides as phrases of their own (a
    "wind chime" in a sentence is a bell, though "wind" comes first)."""
    rules = [(family, phrase) for family, phrases in _FAMILY_RULES_STEMMED for phrase in phrases]
    overrides = [(family, phrase) for label, family in _FAMILY_OVERRIDES.items()
                 if " " in label and not any(c in label for c in ",()'")
                 for phrase in _phrases(label)]
    return tuple(overrides + rules)


def family_of_text(text: str, layer: str) -> str:
    """The procedural recipe family of free text (a sound's description), by the knowledge
    base's family rules: the earliest mention wins, a longer phrase first at the same word."""
    if layer not in LAYER_DEFAULT_FAMILY:
        raise LVASInputError(f"layer must be 'background' or 'foreground', not {layer!r}.")
    key = text.strip().lower()
    if key in _FAMILY_OVERRIDES:
        return _FAMILY_OVERRIDES[key]
    words = stems(text)
    best: tuple[int, int, int] | None = None
    found = ""
    for order, (family, phrase) in enumerate(_text_rules()):
        n = len(phrase)
        for at in range(len(words) - n + 1):
            if all(words[at + j] in phrase[j] for j in range(n)):
                rank = (at, -n, order)
                if best is None or rank < best:
                    best, found = rank, family
                break
    return found or LAYER_DEFAULT_FAMILY[layer]


VOICED_FAMILIES = frozenset({"speech", "crowd"})
"""Families whose recipes carry voices: a described sound of one is flagged as speech."""


@cache
def _vocabulary() -> tuple[LabelRecord, ...]:
    """The labels the index is built from (VGGSound and AudioSet), in a fixed order."""
    return tuple(sorted(load_knowledge_base(), key=lambda r: r.id))


@cache
def layer_labels(layer: str) -> tuple[LabelRecord, ...]:
    """Labels that suit ``layer`` and carry neither voices nor music, in a fixed order."""
    if layer not in _SUITS:
        raise LVASInputError(f"layer must be 'background' or 'foreground', not {layer!r}.")
    return tuple(r for r in _vocabulary()
                 if r.layer in _SUITS[layer] and not r.speech and not r.music)


def random_label(layer: str, seed: int, key: str) -> LabelRecord:
    """A label of ``layer`` drawn by the run's ``seed`` and the sound's ``key`` (its id):
    the same in every process, another with another seed."""
    pool = layer_labels(layer)
    digest = hashlib.sha256(f"random-label\0{int(seed)}\0{key}".encode()).digest()
    return pool[int.from_bytes(digest[:8], "big") % len(pool)]
