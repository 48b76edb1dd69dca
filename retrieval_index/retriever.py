"""Hybrid label search: multi-view cosine similarity re-ranked with a lexical-overlap bonus.

Each label is stored in Chroma as several short texts ("views": its name, a gloss, everyday
aliases, its usual context). A query is scored against all views of a label at once, in memory:
the best-matching view carries most of the score, the rest add a little, so "a hound baying in
the distance" can meet "dog baying" through its alias while "dog barking" still wins on its
name. Dense similarity finds paraphrases; the lexical bonus keeps exact label words from being
out-ranked by near neighbours ("dog barking" -> "dog barking", not "dog howling").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lvas.retrieval_index.embeddings import TextEmbedder
from lvas.retrieval_index.knowledge import (
    LAYERS,
    SCENARIOS,
    SITUATION_VIEW,
    SOURCES,
    TERM_VIEW,
    view_kind,
)
from lvas.retrieval_index.text import stems
from lvas.tools.common.errors import LVASInputError

LEXICAL_WEIGHT = 0.05  # share of query words found in the label, scaled into cosine units
ALIAS_LEXICAL_WEIGHT = 0.05  # share of query words found in the label's aliases
EXACT_BONUS = 0.05  # the query is the label itself
BEST_VIEW_WEIGHT = 0.6  # the best-matching view of a label ...
# ... plus their weighted mean. A lone alias ("term") may be the best view but stays out of the
# mean, so a label with many aliases is not pulled towards whatever they have in common.
VIEW_WEIGHTS = {"name": 1.0, "gloss": 1.0, "alias": 1.0, "context": 0.6, TERM_VIEW: 0.0,
                SITUATION_VIEW: 0.0}
_MIN_CANDIDATES = 40
_OVERFETCH = 8
_VECTOR_CACHE_SIZE = 4096
_SNAPSHOTS_KEPT = 2

@dataclass(frozen=True)
class LabelHit:
    """One retrieved label with its score (higher is better) and synthesis metadata."""

    label: str
    source: str
    score: float
    category: str
    family: str
    layer: str
    speech: bool
    music: bool
    id: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def lexical_overlap(query: str, label: str) -> float:
    """Fraction of the query's content words (stemmed) that occur in the label."""
    wanted = set(stems(query, drop_stopwords=True))
    if not wanted:
        return 0.0
    return len(wanted & set(stems(label))) / len(wanted)


@dataclass(frozen=True)
class Views:
    """Every stored text ("view") of every label, as a search needs it from the collection.

    Labels are in order of their first view; ``metadatas`` holds each label's metadata (that
    of its first view), ``view_label`` the label of each view and ``matrix`` its unit vector.
    """

    record_ids: list[str]
    metadatas: list[dict[str, Any]]
    view_names: list[str]
    view_label: np.ndarray  # (views,) int64, index into record_ids
    matrix: np.ndarray  # (views, dim) float32

    @classmethod
    def from_collection_get(cls, got: dict[str, Any]) -> Views:
        """From ``collection.get(include=["embeddings", "metadatas"])``, in its order."""
        ids: list[str] = []
        metas: list[dict[str, Any]] = []
        where: dict[str, int] = {}
        view_label, view_names = [], []
        for raw_id, m in zip(got["ids"], got["metadatas"], strict=True):
            rid = str(m.get("record_id") or raw_id)
            if rid not in where:
                where[rid] = len(ids)
                ids.append(rid)
                metas.append(dict(m))
            view_label.append(where[rid])
            view_names.append(str(m.get("view", "name")))
        return cls(ids, metas, view_names, np.asarray(view_label, dtype=np.int64),
                   np.asarray(got["embeddings"], dtype=np.float32))


@dataclass
class _Snapshot:
    """Every view vector of a collection, grouped by label, held in memory for fast scoring."""

    ids: list[str]
    metas: list[dict[str, Any]]
    matrix: np.ndarray  # (views, dim), unit rows
    view_label: np.ndarray  # (views,) index into ids
    view_weight: np.ndarray  # (views,) weight of each view in a label's mean
    weight_sum: np.ndarray  # (labels,)
    label_stems: list[frozenset[str]]
    label_norm: list[str]
    alias_stems: list[frozenset[str]]
    layer: np.ndarray
    speech: np.ndarray
    music: np.ndarray
    source: np.ndarray
    scenarios: list[frozenset[str]]


_snapshots: dict[Hashable, _Snapshot] = {}
_snapshots_lock = threading.Lock()


def _cached_snapshot(key: Hashable | None, load_views: Callable[[], Views]) -> _Snapshot:
    """The snapshot for ``key`` (one collection at one content hash), built once per process:
    a run opens the index for every node that searches."""
    if key is None:
        return _snapshot(load_views())
    with _snapshots_lock:
        snap = _snapshots.get(key)
    if snap is None:
        snap = _snapshot(load_views())
        with _snapshots_lock:
            if len(_snapshots) >= _SNAPSHOTS_KEPT:
                _snapshots.clear()
            _snapshots[key] = snap
    return snap


def _snapshot(views: Views) -> _Snapshot:
    """Scoring arrays for ``views``: view weights, per-label stems, flags and filters."""
    metas = views.metadatas
    labels = views.view_label
    weights = np.asarray([VIEW_WEIGHTS.get(view_kind(v), 1.0) for v in views.view_names],
                         dtype=np.float32)
    return _Snapshot(
        ids=list(views.record_ids),
        metas=metas,
        matrix=views.matrix,
        view_label=labels,
        view_weight=weights,
        weight_sum=np.bincount(labels, weights=weights,
                               minlength=len(views.record_ids)).astype(np.float32),
        label_stems=[frozenset(stems(str(m["label"]))) for m in metas],
        label_norm=[" ".join(stems(str(m["label"]))) for m in metas],
        alias_stems=[frozenset(stems(str(m.get("aliases", "")))) for m in metas],
        layer=np.asarray([str(m["layer"]) for m in metas]),
        speech=np.asarray([bool(m["speech"]) for m in metas]),
        music=np.asarray([bool(m["music"]) for m in metas]),
        source=np.asarray([str(m["source"]) for m in metas]),
        scenarios=[frozenset(filter(None, str(m.get("scenarios", "")).split(","))) for m in metas],
    )


def _mask(
    snap: _Snapshot,
    layer: str | None,
    allow_speech: bool,
    allow_music: bool,
    source: str | None,
    scenario: str | None,
) -> np.ndarray | None:
    """Labels that pass the filters (None: all of them)."""
    if layer is not None and layer not in LAYERS:
        raise LVASInputError(f"layer must be one of {LAYERS} or None, not {layer!r}")
    if source is not None and source not in SOURCES:
        raise LVASInputError(f"source must be one of {SOURCES} or None, not {source!r}")
    if scenario is not None and scenario not in SCENARIOS:
        raise LVASInputError(
            f"scenario must be one of {sorted(SCENARIOS)} or None, not {scenario!r}"
        )
    keep = np.ones(len(snap.ids), dtype=bool)
    if layer == "both":
        keep &= snap.layer == "both"
    elif layer is not None:  # a "both" label serves either layer
        keep &= (snap.layer == layer) | (snap.layer == "both")
    if not allow_speech:
        keep &= ~snap.speech
    if not allow_music:
        keep &= ~snap.music
    if source is not None:
        keep &= snap.source == source
    if scenario is not None:
        keep &= np.asarray([scenario in s for s in snap.scenarios], dtype=bool)
    return None if keep.all() else keep


def dense_scores(snap: _Snapshot, vector: np.ndarray) -> np.ndarray:
    """Per-label similarity: the best view, blended with the weighted mean of all views."""
    sims = snap.matrix @ vector
    best = np.full(len(snap.ids), -1.0, dtype=np.float32)
    np.maximum.at(best, snap.view_label, sims)
    mean = np.bincount(snap.view_label, weights=sims * snap.view_weight, minlength=len(snap.ids))
    mean = mean / np.maximum(snap.weight_sum, 1e-6)
    return BEST_VIEW_WEIGHT * best + (1.0 - BEST_VIEW_WEIGHT) * mean.astype(np.float32)


def _rank(snap: _Snapshot, query: str, vector: np.ndarray, keep: np.ndarray | None, k: int,
          ) -> list[LabelHit]:
    dense = dense_scores(snap, vector)
    if keep is not None:
        dense = np.where(keep, dense, -np.inf)
    n = min(int(np.isfinite(dense).sum()), max(_MIN_CANDIDATES, k * _OVERFETCH))
    if n <= 0:
        return []
    top = np.argpartition(-dense, n - 1)[:n]
    wanted = set(stems(query, drop_stopwords=True))
    norm_query = " ".join(stems(query))
    hits = []
    for i in top.tolist():
        meta = snap.metas[i]
        score = float(dense[i])
        if wanted:
            score += LEXICAL_WEIGHT * len(wanted & snap.label_stems[i]) / len(wanted)
            score += ALIAS_LEXICAL_WEIGHT * len(wanted & snap.alias_stems[i]) / len(wanted)
        if norm_query and norm_query == snap.label_norm[i]:
            score += EXACT_BONUS
        hits.append(
            LabelHit(
                label=str(meta["label"]),
                source=str(meta["source"]),
                score=round(score, 6),
                category=str(meta["category"]),
                family=str(meta["family"]),
                layer=str(meta["layer"]),
                speech=bool(meta["speech"]),
                music=bool(meta["music"]),
                id=snap.ids[i],
            )
        )
    hits.sort(key=lambda h: (-h.score, h.label))
    return hits[:k]


class LabelIndex:
    """Search over the label collection's views, held in memory; cheap to call many times.

    ``load_views`` gives the collection's views; with a ``key`` (what identifies them, e.g. the
    folder and content hash) they are loaded and prepared once per process. ``embedder``
    embeds the queries: the same model as the collection's documents (its ONNX export when
    there is one).
    """

    def __init__(self, load_views: Callable[[], Views], embedder: TextEmbedder, info: Any, *,
                 key: Hashable | None = None):
        self._snapshot = _cached_snapshot(key, load_views)
        self.embedder = embedder
        self._vector_cache: dict[str, list[float]] = {}
        self._cache_lock = threading.Lock()
        self.info = info

    @property
    def count(self) -> int:
        """Number of labels in the collection."""
        return len(self._snapshot.ids)

    def __len__(self) -> int:
        return self.count

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        layer: str | None = None,
        allow_speech: bool = True,
        allow_music: bool = True,
        source: str | None = None,
        scenario: str | None = None,
    ) -> list[LabelHit]:
        """Best ``k`` labels for ``query``, best first, after the filters; ``scenario`` keeps
        only labels typical of that scenario (see ``knowledge.SCENARIOS``)."""
        return self.search_many(
            [query],
            k,
            layer=layer,
            allow_speech=allow_speech,
            allow_music=allow_music,
            source=source,
            scenario=scenario,
        )[0]

    def search_many(
        self,
        queries: Sequence[str],
        k: int = 5,
        *,
        layer: str | None = None,
        allow_speech: bool = True,
        allow_music: bool = True,
        source: str | None = None,
        scenario: str | None = None,
    ) -> list[list[LabelHit]]:
        """``search`` for several queries, embedded in one batch."""
        if isinstance(queries, str):
            raise TypeError("search_many() takes a sequence of queries, not a single string")
        if k < 1:
            raise LVASInputError(f"k must be at least 1, not {k}")
        queries = [str(q) for q in queries]
        if not queries:
            return []
        snap = self._snapshot
        keep = _mask(snap, layer, allow_speech, allow_music, source, scenario)
        results: list[list[LabelHit]] = [[] for _ in queries]
        live = [i for i, q in enumerate(queries) if q.strip()]  # a blank query finds nothing
        if not live:
            return results
        vectors = self._embed_queries([queries[i] for i in live])
        for vector, i in zip(vectors, live, strict=True):
            results[i] = _rank(snap, queries[i], np.asarray(vector, dtype=np.float32), keep, k)
        return results

    def _embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Embed in one batch, reusing vectors of queries seen before (the Designer's
        generate-retrieve-optimize loop asks the same things again)."""
        with self._cache_lock:
            known = {t: self._vector_cache[t] for t in texts if t in self._vector_cache}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            fresh = dict(zip(missing, self.embedder.embed(missing), strict=True))
            known.update(fresh)
            with self._cache_lock:
                if len(self._vector_cache) + len(fresh) > _VECTOR_CACHE_SIZE:
                    self._vector_cache.clear()
                self._vector_cache.update(fresh)
        return [known[t] for t in texts]
