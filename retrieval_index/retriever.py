"""Hybrid label search: Chroma cosine similarity re-ranked with a lexical-overlap bonus.

Dense similarity finds paraphrases ("downpour" -> Rain); the lexical bonus keeps exact label words
from being out-ranked by near neighbours ("dog barking" -> "dog barking", not "dog howling").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from retrieval_index.embeddings import Embedder
from retrieval_index.knowledge import LAYERS, SOURCES
from retrieval_index.text import stems
from tools.errors import LVASInputError

LEXICAL_WEIGHT = 0.15  # share of query words found in the label, scaled into cosine units
EXACT_BONUS = 0.05  # the query is the label itself
_MIN_CANDIDATES = 40
_OVERFETCH = 8
_VECTOR_CACHE_SIZE = 4096


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


def _where(
    layer: str | None, allow_speech: bool, allow_music: bool, source: str | None
) -> dict[str, Any] | None:
    if layer is not None and layer not in LAYERS:
        raise LVASInputError(f"layer must be one of {LAYERS} or None, not {layer!r}")
    if source is not None and source not in SOURCES:
        raise LVASInputError(f"source must be one of {SOURCES} or None, not {source!r}")
    clauses: list[dict[str, Any]] = []
    if layer == "both":
        clauses.append({"layer": "both"})
    elif layer is not None:  # a "both" label serves either layer
        clauses.append({"layer": {"$in": [layer, "both"]}})
    if not allow_speech:
        clauses.append({"speech": False})
    if not allow_music:
        clauses.append({"music": False})
    if source is not None:
        clauses.append({"source": source})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _rerank(query: str, ids: list[str], metas: list[dict], dists: list[float], k: int) -> list:
    norm_query = " ".join(stems(query))
    hits = []
    for id_, meta, dist in zip(ids, metas, dists, strict=True):
        label = str(meta["label"])
        score = 1.0 - float(dist) + LEXICAL_WEIGHT * lexical_overlap(query, label)
        if norm_query and norm_query == " ".join(stems(label)):
            score += EXACT_BONUS
        hits.append(
            LabelHit(
                label=label,
                source=str(meta["source"]),
                score=round(score, 6),
                category=str(meta["category"]),
                family=str(meta["family"]),
                layer=str(meta["layer"]),
                speech=bool(meta["speech"]),
                music=bool(meta["music"]),
                id=id_,
            )
        )
    hits.sort(key=lambda h: (-h.score, h.label))
    return hits[:k]


class LabelIndex:
    """Search over the persistent label collection; cheap to call many times."""

    def __init__(self, collection_getter: Callable[[], Any], embedder: Embedder, info: Any):
        self._get_collection = collection_getter
        self._collection = collection_getter()
        self.embedder = embedder
        self._vector_cache: dict[str, list[float]] = {}
        self._cache_lock = threading.Lock()
        self.info = info

    @property
    def count(self) -> int:
        """Number of labels in the collection."""
        return int(self._call(lambda c: c.count()))

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
    ) -> list[LabelHit]:
        """Best ``k`` labels for ``query``, best first, after the filters."""
        return self.search_many(
            [query],
            k,
            layer=layer,
            allow_speech=allow_speech,
            allow_music=allow_music,
            source=source,
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
    ) -> list[list[LabelHit]]:
        """``search`` for several queries, embedded in one batch and queried in one call."""
        if isinstance(queries, str):
            raise TypeError("search_many() takes a sequence of queries, not a single string")
        if k < 1:
            raise LVASInputError(f"k must be at least 1, not {k}")
        queries = [str(q) for q in queries]
        if not queries:
            return []
        where = _where(layer, allow_speech, allow_music, source)
        results: list[list[LabelHit]] = [[] for _ in queries]
        live = [i for i, q in enumerate(queries) if q.strip()]  # a blank query finds nothing
        if not live:
            return results
        vectors = self._embed_queries([queries[i] for i in live])
        n = min(self.count, max(_MIN_CANDIDATES, k * _OVERFETCH))
        raw = self._query(vectors, n, where)
        for row, i in enumerate(live):
            results[i] = _rerank(
                queries[i], raw["ids"][row], raw["metadatas"][row], raw["distances"][row], k
            )
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

    def _query(self, vectors: list[list[float]], n: int, where: dict | None) -> dict:
        return self._call(
            lambda c: c.query(
                query_embeddings=vectors,
                n_results=n,
                where=where,
                include=["metadatas", "distances"],
            )
        )

    def _call(self, fn: Callable[[Any], Any]) -> Any:
        try:
            return fn(self._collection)
        except Exception:
            # Another process may have swapped in a rebuilt collection: look it up once more.
            fresh = self._get_collection()
            if fresh is None:
                raise
            self._collection = fresh
            return fn(fresh)
