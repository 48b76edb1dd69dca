"""From a plan as written to the variants LVAS runs: parts, replacements and metrics mapped.

Plans come from people and from other tools, so their words vary ("semantic scene segmentation
by the Storyboarder", "the scene splitter"). A part matches a component by its name or an
alias first, then by meaning: the cosine similarity of the packaged sentence-embedding model's
vectors for the plan's words and each of the component's phrases, which must clear
``PART_THRESHOLD`` and beat the runner-up by ``MARGIN``. Replacements match the component's
alternatives the same way. Anything that does not clear the bar is refused — a plan written
for another system's parts must not run as some unrelated LVAS variant — with the nearest
matches and the registry listed, so the author can reword it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lvas.tools.ablation.components import COMPONENTS, Alternative, Component
from lvas.tools.ablation.plan import Ablation
from lvas.tools.common.errors import LVASInputError

Embed = Callable[[Sequence[str]], Sequence[Sequence[float]]]

PART_THRESHOLD = 0.55
"""Least cosine similarity between a part's words and a component phrase when they share a
content word; with no word in common it must reach ``CLEAR_MATCH``. (all-MiniLM-L6-v2 puts
paraphrases of a part at 0.55-0.95 and parts of other systems — a reward model, a vocoder, an
optical-flow estimator — at 0.25-0.55; tests/test_ablation_mapping.py holds both kinds.)"""
CLEAR_MATCH = 0.65
ALTERNATIVE_THRESHOLD = 0.45
MARGIN = 0.04
"""A match by meaning must beat the second-best component by this much, or it is ambiguous."""
FULL = "full"

_NUMBER = re.compile(
    r"(\d+(?:\.\d+)?)\s*-?\s*(s|sec|secs|seconds?|min|mins|minutes?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Variant:
    """One system to run over every video: the full system or one ablation's alternative."""

    slug: str
    ablation: str
    component: str
    action: str  # FULL, REMOVE or REPLACE
    alternative: str
    written_as: str  # the plan's words for the part (and the replacement)
    settings: dict[str, Any]
    matched_by: str = ""  # "name", "alias" or "meaning 0.71"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Study:
    """A mapped plan: the variants (the full system first) and the metric names asked."""

    variants: list[Variant]
    metric_names: list[str]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"variants": [v.to_dict() for v in self.variants],
                "metric_names": self.metric_names, "notes": self.notes}


_GENERIC = frozenset(
    "a an the of by for to in on and or with from at as into its their his her it this that "
    "model models module modules component components part parts step steps stage stages "
    "system lvas agent's using use used based".split())


_MODEL_INTERNALS = frozenset((
    "tokenizer token encoder decoder vae latent loss objective discriminator attention adapter "
    "lora pretraining finetuning augmentation scheduler reward critic optimizer layer "
    "regularization dropout reasoning chain vocoder unet distillation quantization weight "
    "backbone embedding head router expert codebook").split())
"""Words of a network's internals (another system's parts): a part naming one is refused
unless the component's own phrases use the word too, however close the rest of the wording
("visual tokenizer" is not the Scriptwriter's vision input)."""


def _words(text: str) -> set[str]:
    """Content words, cut to five letters so 'segmentation'/'segments' and 'crossfades'/
    'crossfading' meet."""
    return {w[:5] for w in re.findall(r"[a-z0-9]+", text.casefold()) if w not in _GENERIC
            and len(w) > 1}


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.casefold())


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:48] or "ablation"


class Matcher:
    """Matches words to registry entries by name, alias, then meaning."""

    def __init__(self, embed: Embed) -> None:
        self._embed = embed
        self._vectors: dict[str, np.ndarray] = {}

    def _vector(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            for text, vec in zip(missing, self._embed(missing), strict=True):
                arr = np.asarray(vec, dtype=np.float64)
                self._vectors[text] = arr / (np.linalg.norm(arr) or 1.0)
        return np.stack([self._vectors[t] for t in texts])

    def similarity(self, text: str, phrases: Sequence[str]) -> float:
        """Best cosine similarity of ``text`` with any of ``phrases``."""
        query = self._vector([text])[0]
        return float(np.max(self._vector(list(phrases)) @ query))

    def rank(self, text: str, entries: Sequence[tuple[str, Sequence[str]]]
             ) -> list[tuple[str, float, str]]:
        """(entry, score, how) best first: 1.0 for a name or alias written out."""
        wanted = _key(_strip_role(text))
        words = _words(text)
        ranked = []
        for name, phrases in entries:
            texts = [name.replace("-", " "), *phrases]
            if wanted and wanted in {_key(p) for p in texts}:
                ranked.append((name, 1.0, "name" if wanted == _key(name) else "alias"))
                continue
            score = self.similarity(text, texts)
            vocabulary = set().union(*(_words(p) for p in texts))
            shared = words & vocabulary
            if not shared:  # no word in common: only a clear paraphrase counts
                score = score if score >= CLEAR_MATCH else min(score, PART_THRESHOLD - 0.01)
            internals = {w for w in re.findall(r"[a-z0-9]+", text.casefold())
                         if w in _MODEL_INTERNALS or w.rstrip("s") in _MODEL_INTERNALS}
            if {w[:5] for w in internals} - vocabulary:
                score = min(score, PART_THRESHOLD - 0.01)
            ranked.append((name, score, f"meaning {score:.2f}"))
        return sorted(ranked, key=lambda r: -r[1])


def _strip_role(text: str) -> str:
    """'semantic scene segmentation by the Storyboarder' -> 'semantic scene segmentation': the
    role is context, not the part (every role has several parts)."""
    return re.sub(r"\s+(by|of|in|from)\s+the\s+\w+('s)?$", "", text.strip().rstrip("."),
                  flags=re.IGNORECASE)


def packaged_embed(cache_dir: str | None = None, embedding_model: str = "packaged") -> Embed:
    """The label index's query embedder (the packaged model, ONNX where exported)."""
    from lvas.retrieval_index import open_index

    index = open_index(cache_dir or None, embedding_model=embedding_model)
    return index.embedder.embed


def _component_entries() -> list[tuple[str, Sequence[str]]]:
    return [(c.name, c.texts()[1:]) for c in COMPONENTS]


def _alternative_entries(comp: Component) -> list[tuple[str, Sequence[str]]]:
    return [(a.name, (*a.aliases, a.description)) for a in comp.alternatives]


def parameter_value(text: str, alternative: Alternative) -> float | None:
    """The number a parametric alternative takes from the plan's words, in seconds."""
    if alternative.parameter is None:
        return None
    found = _NUMBER.search(text)
    if not found:
        return None
    value = float(found.group(1)) * (60.0 if found.group(2).lower().startswith("m") else 1.0)
    low, high = alternative.parameter_range
    if not low <= value <= high:
        raise LVASInputError(f"{text!r}: {value:g} s is outside {low:g}-{high:g} s for "
                             f"{alternative.name}.")
    return value


def registry_summary() -> str:
    """The components and their alternatives in a few lines, for refusals."""
    lines = []
    for comp in COMPONENTS:
        actions = (["REMOVE"] if comp.remove else []) + ["REPLACE"]
        alts = ", ".join(a.name for a in comp.alternatives)
        lines.append(f"  {comp.name} ({'/'.join(actions)}): {alts}")
    return "\n".join(lines)


def map_ablation(ablation: Ablation, matcher: Matcher) -> tuple[list[Variant], list[str]]:
    """The variants one ablation runs; problems are returned as messages, not raised, so a
    refusal can list every problem of a plan at once."""
    ranked = matcher.rank(ablation.part, _component_entries())
    best, score, how = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    nearest = ", ".join(f"{n} ({s:.2f})" for n, s, _ in ranked[:3])
    where = f"Ablation {ablation.name!r}"
    if score < PART_THRESHOLD:
        return [], [f"{where}: the ablated part {ablation.part!r} is not a part of LVAS this "
                    f"runner knows (nearest: {nearest})."]
    if score < 1.0 and score - runner_up < MARGIN:
        return [], [f"{where}: the ablated part {ablation.part!r} could mean {ranked[0][0]} "
                    f"or {ranked[1][0]} (nearest: {nearest}); name one of them."]
    comp = next(c for c in COMPONENTS if c.name == best)
    if ablation.action == "REMOVE":
        if comp.remove is None:
            return [], [f"{where}: {comp.name} cannot be removed, only replaced by one of: "
                        f"{', '.join(a.name for a in comp.alternatives)}."]
        alt = comp.alternative(comp.remove)
        return [Variant(f"{comp.name}/{alt.name}", ablation.name, comp.name, "REMOVE",
                        alt.name, ablation.part, dict(alt.settings), how)], []
    variants, problems = [], []
    for text in ablation.replacements:
        alt_ranked = matcher.rank(text, _alternative_entries(comp))
        alt_name, alt_score, alt_how = alt_ranked[0]
        if alt_score < ALTERNATIVE_THRESHOLD:
            near = ", ".join(f"{n} ({s:.2f})" for n, s, _ in alt_ranked[:3])
            problems.append(f"{where}: {text!r} is not an alternative of {comp.name} "
                            f"(its alternatives: {near}).")
            continue
        alt = comp.alternative(alt_name)
        settings = dict(alt.settings)
        try:
            value = parameter_value(text, alt)
        except LVASInputError as exc:
            problems.append(f"{where}: {exc}")
            continue
        slug = f"{comp.name}/{alt.name}"
        if value is not None and alt.parameter:
            settings[alt.parameter] = value
            slug += f"-{value:g}s"
        variants.append(Variant(slug, ablation.name, comp.name, "REPLACE", alt.name,
                                f"{ablation.part} -> {text}", settings,
                                f"part by {how}, replacement by {alt_how}"))
    return variants, problems


def map_plan(ablations: Sequence[Ablation], matcher: Matcher) -> Study:
    """Every ablation's variants after the full system; refuses (``LVASInputError``, exit 2)
    a plan with any part, replacement or action it cannot map, listing what it knows."""
    variants = [Variant(FULL, "", "", "FULL", "", "LVAS in full", {}, "")]
    problems: list[str] = []
    notes: list[str] = []
    for ablation in ablations:
        found, trouble = map_ablation(ablation, matcher)
        problems += trouble
        for variant in found:
            twin = next((v for v in variants if v.settings == variant.settings), None)
            if twin is not None:
                notes.append(f"{variant.written_as!r} ({variant.ablation}) runs the same "
                             f"settings as {twin.slug}; run once.")
                continue
            variants.append(variant)
    if problems:
        raise LVASInputError(
            "Cannot map this ablation plan onto LVAS:\n  - " + "\n  - ".join(problems)
            + "\nLVAS's components (action: alternatives) are:\n" + registry_summary()
            + "\nReword the part or replacement with one of these (`lvas ablate --list` shows "
            "their descriptions and the settings each runs).")
    metric_names = list(dict.fromkeys(m for a in ablations for m in a.metrics))
    return Study(variants, metric_names, notes)
