"""The persistent Chroma collection of sound labels: where it lives, when to (re)build it, and how.

A build is embedded into a collection under a temporary name and swapped in only when complete,
under a file lock, so two processes starting at once, or a build killed half-way, never leave a
half-filled collection that looks valid.

Searching needs every view vector in memory (scoring is a matrix product over all of them), and
reading them back from Chroma takes seconds, plus a second to import it. So the views are also
saved once as a NumPy file named by the collection's content hash (``label_views/``), and the
build exports the embedding model to ONNX for queries (``onnx_embedder``): a search in a fresh
process then imports neither Chroma nor torch. Chroma stays the store the views come from.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from lvas.retrieval_index.embeddings import (
    PACKAGED,
    Embedder,
    TextEmbedder,
    get_embedder,
    resolve_model,
)
from lvas.retrieval_index.knowledge import LabelRecord, data_fingerprint, load_knowledge_base
from lvas.retrieval_index.onnx_embedder import (
    export_onnx,
    export_status,
    load_onnx_embedder,
    needs_export,
    onnx_folder,
)
from lvas.retrieval_index.retriever import LabelIndex, Views
from lvas.tools.common.paths import atomic_path, default_cache_dir

COLLECTION = "lvas_sound_labels"
_BUILD_PREFIX = f"{COLLECTION}__build_"
SCHEMA_VERSION = "2"  # bump when the stored metadata layout changes (2: several views a label)
_BATCH = 256
_LOCK_TIMEOUT_S = 600.0

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()
_vectors: dict[str, list[list[float]]] = {}
_vectors_lock = threading.Lock()
_default_indexes: dict[tuple[str, str], LabelIndex] = {}
_default_lock = threading.Lock()
_views: dict[str, Views] = {}
_views_lock = threading.Lock()
_opened = 0  # indexes opened by this process (open_index calls that finished)
_PROBE_STEP = 150  # every 150th view text also checks the ONNX export (about 65 texts)


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


def _build_collection(client: Any, wanted_hash: str, model_id: str, embedding_model: str
                      ) -> tuple[int, list[str]]:
    """Embed every view of every record into a fresh collection and swap it in under the final
    name; returns the number of labels and a sample of the texts (to check an ONNX export)."""
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
    return len(records), [text for _, text, _ in entries[::_PROBE_STEP]]


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
    root = default_cache_dir(cache_dir)
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
        count, sample = _build_collection(client, wanted, embedder.model_id, embedding_model)
        _save_views(_get_collection(client, COLLECTION), _views_path(root, wanted))
    # The torch model is loaded now: the one moment a query-model export costs little.
    _export_query_model(root, embedder, sample)
    return client, info(count, True), embedding_model


# --- views saved for fast loading ------------------------------------------------------------


def _views_path(root: Path, wanted_hash: str) -> Path:
    return root / "label_views" / f"{wanted_hash[:24]}.npz"


def _save_views(collection: Any, path: Path) -> Views:
    """Read every view from the collection once and save it beside it, named by its hash."""
    views = Views.from_collection_get(collection.get(include=["embeddings", "metadatas"]))
    meta = json.dumps({"record_ids": views.record_ids, "metadatas": views.metadatas,
                       "view_names": views.view_names}, ensure_ascii=False)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, matrix=views.matrix, view_label=views.view_label,
                 meta=np.frombuffer(meta.encode("utf-8"), dtype=np.uint8))
    for old in path.parent.glob("*.npz"):  # views of older contents are never read again
        if old != path:
            old.unlink(missing_ok=True)
    with _views_lock:
        _views[str(path)] = views
    return views


def _load_views(path: Path) -> Views | None:
    """The views saved at ``path`` (once per process), or None when missing or unreadable."""
    with _views_lock:
        views = _views.get(str(path))
    if views is not None:
        return views
    try:
        with np.load(path, allow_pickle=False) as saved:
            meta = json.loads(saved["meta"].tobytes().decode("utf-8"))
            views = Views(meta["record_ids"], meta["metadatas"], meta["view_names"],
                          saved["view_label"].astype(np.int64), saved["matrix"])
    except (OSError, ValueError, KeyError):
        return None
    if not (len(views.view_names) == len(views.view_label) == len(views.matrix)):
        return None
    with _views_lock:
        _views[str(path)] = views
    return views


def _export_query_model(root: Path, embedder: Embedder, sample: list[str] | None = None
                        ) -> None:
    """Export the model to ONNX for queries unless done (or failed with these packages)."""
    folder = onnx_folder(root, embedder.model_id)
    if needs_export(folder, embedder.model_id):
        export_onnx(embedder, folder, sample or ())


def _query_embedder(root: Path, embedder: Embedder) -> TextEmbedder:
    """The ONNX export of the model for queries where there is one (made now, once, for an
    index built before exports existed), else the torch model."""
    _export_query_model(root, embedder)
    return load_onnx_embedder(onnx_folder(root, embedder.model_id), embedder) or embedder


def index_is_ready(cache_dir: str | Path | None = None, *,
                   embedding_model: str = PACKAGED) -> bool:
    """Whether the index of the current labels is built and saved (cheap: no model, no
    Chroma), so a caller can announce the one-time build before it starts."""
    _, model_id = resolve_model(embedding_model)
    return _views_path(default_cache_dir(cache_dir), content_hash(model_id)).is_file()


def build_index(
    cache_dir: str | Path | None = None, *, force: bool = False, embedding_model: str = PACKAGED
) -> IndexInfo:
    """Build the label collection if it is missing, stale or ``force`` is set, and the query
    model's ONNX export if it is missing; say what happened."""
    info = _ensure(cache_dir, force, embedding_model)[1]
    _export_query_model(default_cache_dir(cache_dir), get_embedder(embedding_model))
    return info


def open_index(
    cache_dir: str | Path | None = None, *, force: bool = False, embedding_model: str = PACKAGED,
    onnx_queries: bool = True,
) -> LabelIndex:
    """The label index under ``cache_dir`` (default ~/.cache/lvas), built first when needed.

    Queries are embedded by the model's ONNX export when there is one; ``onnx_queries=False``
    keeps them on the torch model (to compare the two).
    """
    started = time.perf_counter()
    root = default_cache_dir(cache_dir)
    embedder = get_embedder(embedding_model)
    wanted = content_hash(embedder.model_id)
    path = _views_path(root, wanted)
    views = None if force else _load_views(path)
    if views is None:
        client, info, _ = _ensure(root, force, embedding_model)
        # A build has just saved them; an index built before views were saved gets them now.
        views = _load_views(path) or _save_views(_get_collection(client, COLLECTION), path)
    else:
        info = IndexInfo(collection=COLLECTION, count=len(views.record_ids), content_hash=wanted,
                         rebuilt=False, seconds=round(time.perf_counter() - started, 3),
                         path=str(root / "chroma"))
    found = views
    queries = _query_embedder(root, embedder) if onnx_queries else embedder
    global _opened
    _opened += 1
    return LabelIndex(lambda: found, queries, info, key=(str(path), wanted))


def index_loads() -> int:
    """How many times this process opened a label index (loading its query model): a batch
    worker should open it once, however many videos it dubs."""
    return _opened


def default_index(cache_dir: str | Path | None = None, embedding_model: str = PACKAGED
                  ) -> LabelIndex:
    """One index per cache folder and model for the whole process (built on first use)."""
    key = (str(default_cache_dir(cache_dir)), embedding_model)
    with _default_lock:
        if key not in _default_indexes:
            _default_indexes[key] = open_index(cache_dir, embedding_model=embedding_model)
        return _default_indexes[key]


def query_engine(cache_dir: str | Path | None = None, embedding_model: str = PACKAGED) -> str:
    """What embeds queries under ``cache_dir``: ONNX Runtime or torch, and why (no model is
    loaded)."""
    from lvas.retrieval_index.embeddings import resolve_model

    _, model_id = resolve_model(embedding_model)
    status = export_status(onnx_folder(default_cache_dir(cache_dir), model_id))
    if status is None or status.get("model_id") != model_id:
        return "queries on torch until the ONNX export (made on next use)"
    if status.get("ok"):
        return "queries on ONNX Runtime"
    return f"queries on torch (ONNX export failed: {status.get('reason', 'unknown')})"


def index_status(
    cache_dir: str | Path | None = None, *, embedding_model: str = PACKAGED
) -> dict[str, Any]:
    """Whether the index exists and is current, without building it or loading the model."""
    from lvas.retrieval_index.embeddings import resolve_model

    root = default_cache_dir(cache_dir)
    chroma_dir = root / "chroma"
    if not chroma_dir.exists():
        return {"ready": False, "path": str(chroma_dir),
                "detail": f"not built yet at {chroma_dir} (built on first use or by "
                          "'lvas index build')"}
    wanted = content_hash(resolve_model(embedding_model)[1])
    engine = query_engine(cache_dir, embedding_model)
    views = _load_views(_views_path(root, wanted))
    if views is not None:  # saved only from a current, complete collection
        count = len(views.record_ids)
        return {"ready": True, "path": str(chroma_dir), "count": count,
                "detail": f"{count} labels, current, at {chroma_dir}; {engine}"}
    collection = _get_collection(_client(chroma_dir), COLLECTION)
    if collection is None:
        return {"ready": False, "path": str(chroma_dir), "detail": f"no collection in {chroma_dir}"}
    current = _is_current(collection, wanted)
    count = _label_count(collection)
    state = "current" if current else "stale (rebuilt on next use)"
    return {"ready": current, "path": str(chroma_dir), "count": count,
            "detail": f"{count} labels, {state}, at {chroma_dir}; {engine}"}
