"""The persistent Chroma collection of sound labels: where it lives, when to (re)build it, and how.

A build is embedded into a collection under a temporary name and swapped in only when complete,
under a file lock, so two processes starting at once, or a build killed half-way, never leave a
half-filled collection that looks valid.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from lvas.retrieval_index.embeddings import PACKAGED, get_embedder
from lvas.retrieval_index.knowledge import LabelRecord, data_fingerprint, load_knowledge_base
from lvas.retrieval_index.retriever import LabelIndex
from lvas.tools.common.paths import default_cache_dir

COLLECTION = "lvas_sound_labels"
_BUILD_PREFIX = f"{COLLECTION}__build_"
SCHEMA_VERSION = "2"  # bump when the stored metadata layout changes (2: several views a label)
_BATCH = 256
_LOCK_TIMEOUT_S = 600.0

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()
_vectors: dict[str, list[list[float]]] = {}
_vectors_lock = threading.Lock()
_default_index: LabelIndex | None = None
_default_lock = threading.Lock()


@dataclass(frozen=True)
class IndexInfo:
    """What a build (or the decision not to build) produced."""

    collection: str
    count: int
    content_hash: str
    rebuilt: bool
    seconds: float
    path: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def content_hash(model_id: str) -> str:
    """Hash of everything that determines the collection's contents: data, rules, model."""
    parts = f"schema-{SCHEMA_VERSION}\n{data_fingerprint()}\n{model_id}"
    return hashlib.sha256(parts.encode()).hexdigest()


def _client(chroma_dir: Path) -> Any:
    import chromadb
    from chromadb.config import Settings

    key = str(chroma_dir.resolve())
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            chroma_dir.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(
                path=key, settings=Settings(anonymized_telemetry=False, allow_reset=False)
            )
            _clients[key] = client
        return client


def _get_collection(client: Any, name: str) -> Any | None:
    from chromadb.errors import NotFoundError

    try:
        # embedding_function=None: vectors are always passed in, never computed by Chroma.
        return client.get_collection(name, embedding_function=None)
    except (NotFoundError, ValueError):
        return None


def _is_current(collection: Any | None, wanted_hash: str) -> bool:
    if collection is None:
        return False
    meta = collection.metadata or {}
    return meta.get("content_hash") == wanted_hash and collection.count() == meta.get("count", -1)


def _label_count(collection: Any) -> int:
    """Labels in a collection (each label is stored as several views)."""
    meta = collection.metadata or {}
    return int(meta.get("labels", collection.count()))


def _metadata(record: LabelRecord, view: str) -> dict[str, Any]:
    return {
        "record_id": record.id,
        "view": view,
        "label": record.label,
        "source": record.source,
        "category": record.category,
        "ancestors": " > ".join(record.ancestors),
        "layer": record.layer,
        "speech": record.speech,
        "music": record.music,
        "family": record.family,
        "scenarios": ",".join(record.scenarios),
        "links": " | ".join(record.links),
        "aliases": "; ".join(record.aliases),
    }


def _entries(records: list[LabelRecord]) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, text, metadata) of every view of every record, in a stable order."""
    return [
        (f"{r.id}#{view}", text, _metadata(r, view)) for r in records for view, text in r.views
    ]


def _embed_documents(texts: list[str], wanted_hash: str, embedding_model: str) -> list[list[float]]:
    """View vectors, remembered per content hash so a forced rebuild in the same process
    (or a build into a second cache directory) does not embed identical text twice."""
    with _vectors_lock:
        cached = _vectors.get(wanted_hash)
    if cached is not None and len(cached) == len(texts):
        return cached
    vectors = get_embedder(embedding_model).embed(texts)
    with _vectors_lock:
        _vectors.clear()  # keep one set: ~4 MB for the default knowledge base
        _vectors[wanted_hash] = vectors
    return vectors


def _build_collection(client: Any, wanted_hash: str, model_id: str, embedding_model: str) -> int:
    """Embed every view of every record into a fresh collection and swap it in under the final
    name; returns the number of labels."""
    records = load_knowledge_base()
    entries = _entries(records)
    vectors = _embed_documents([text for _, text, _ in entries], wanted_hash, embedding_model)
    tmp_name = f"{_BUILD_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}"
    tmp = client.create_collection(
        tmp_name,
        configuration={"hnsw": {"space": "cosine"}},
        metadata={
            "content_hash": wanted_hash,
            "model_id": model_id,
            "count": len(entries),
            "labels": len(records),
            "built_at": time.time(),
        },
        embedding_function=None,
    )
    try:
        for start in range(0, len(entries), _BATCH):
            chunk = entries[start : start + _BATCH]
            tmp.add(
                ids=[e[0] for e in chunk],
                embeddings=vectors[start : start + _BATCH],
                documents=[e[1] for e in chunk],
                metadatas=[e[2] for e in chunk],
            )
        if _get_collection(client, COLLECTION) is not None:
            client.delete_collection(COLLECTION)
        tmp.modify(name=COLLECTION)
    except BaseException:
        _drop(client, tmp_name)
        raise
    return len(records)


def _drop(client: Any, name: str) -> None:
    try:
        client.delete_collection(name)
    except Exception:  # noqa: BLE001 - best-effort cleanup of a temporary collection
        pass


def _drop_stale_builds(client: Any) -> None:
    """Remove temporary collections left by builds that were killed (we hold the lock)."""
    for entry in client.list_collections():
        name = entry if isinstance(entry, str) else entry.name
        if name.startswith(_BUILD_PREFIX):
            _drop(client, name)


def _ensure(
    cache_dir: str | Path | None, force: bool, embedding_model: str
) -> tuple[Any, IndexInfo, str]:
    started = time.perf_counter()
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    chroma_dir = root / "chroma"
    embedder = get_embedder(embedding_model)
    wanted = content_hash(embedder.model_id)
    client = _client(chroma_dir)

    def info(count: int, rebuilt: bool) -> IndexInfo:
        return IndexInfo(
            collection=COLLECTION,
            count=count,
            content_hash=wanted,
            rebuilt=rebuilt,
            seconds=round(time.perf_counter() - started, 3),
            path=str(chroma_dir),
        )

    if not force:
        current = _get_collection(client, COLLECTION)
        if _is_current(current, wanted):
            return client, info(_label_count(current), False), embedding_model
    with FileLock(str(root / "chroma.lock"), timeout=_LOCK_TIMEOUT_S):
        current = _get_collection(client, COLLECTION)
        if not force and _is_current(current, wanted):  # another process built it meanwhile
            return client, info(_label_count(current), False), embedding_model
        _drop_stale_builds(client)
        count = _build_collection(client, wanted, embedder.model_id, embedding_model)
    return client, info(count, True), embedding_model


def build_index(
    cache_dir: str | Path | None = None, *, force: bool = False, embedding_model: str = PACKAGED
) -> IndexInfo:
    """Build the label collection if it is missing, stale or ``force`` is set; say what happened."""
    return _ensure(cache_dir, force, embedding_model)[1]


def open_index(
    cache_dir: str | Path | None = None, *, force: bool = False, embedding_model: str = PACKAGED
) -> LabelIndex:
    """The label index under ``cache_dir``, built first when needed."""
    client, info, model = _ensure(cache_dir, force, embedding_model)
    return LabelIndex(
        lambda: _get_collection(client, COLLECTION), get_embedder(model), info
    )


def default_index() -> LabelIndex:
    """The process-wide index in the default cache directory (built on first use)."""
    global _default_index
    with _default_lock:
        if _default_index is None:
            _default_index = open_index()
        return _default_index


def index_status(
    cache_dir: str | Path | None = None, *, embedding_model: str = PACKAGED
) -> dict[str, Any]:
    """Whether the index exists and is current, without building it or loading the model."""
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    chroma_dir = root / "chroma"
    if not chroma_dir.exists():
        return {"ready": False, "path": str(chroma_dir),
                "detail": f"not built yet at {chroma_dir} (built on first use or by "
                          "'lvas index build')"}
    collection = _get_collection(_client(chroma_dir), COLLECTION)
    if collection is None:
        return {"ready": False, "path": str(chroma_dir), "detail": f"no collection in {chroma_dir}"}
    current = _is_current(collection, content_hash(get_embedder(embedding_model).model_id))
    count = _label_count(collection)
    state = "current" if current else "stale (rebuilt on next use)"
    return {"ready": current, "path": str(chroma_dir), "count": count,
            "detail": f"{count} labels, {state}, at {chroma_dir}"}
