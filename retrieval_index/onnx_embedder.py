"""Query embeddings on ONNX Runtime: the sentence model without torch when searching.

A label search embeds a handful of short queries, but importing sentence-transformers (with
torch and transformers) takes ten seconds or more before the first one. The index build has
the torch model loaded anyway, so it exports the same network, with its mean pooling and
normalisation, to ONNX once, into the cache folder; searches then run that file on ONNX
Runtime with the model's own fast tokenizer (``tokenizers``), in a fraction of a second.

An export is used only after it has matched the torch model on a set of texts (every vector
component within ``TOLERANCE``). Where exporting fails (the ``onnx`` package missing, a model
it cannot trace or that does not match), searches stay on torch; the reason is kept in
``export.json`` and the export is tried again only once the installed packages change.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import warnings
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from filelock import FileLock

from lvas.retrieval_index.embeddings import Embedder
from lvas.tools.common.paths import atomic_path, write_json

TOLERANCE = 1e-5
"""Largest difference allowed between an ONNX and a torch vector component (both unit length;
float rounding alone gives about 3e-7)."""
MODEL_FILE = "model.onnx"
STATUS_FILE = "export.json"
_EXPORT_VERSION = "1"  # bump when the exported graph changes
_PROBE_TEXTS = (
    "dog barking",
    "a hound baying in the distance",
    "heavy rain on a tin roof, distant thunder",
    "wind",
    "",
    "Engine knocking; car passing by at 60 km/h!",
    "people whispering in a quiet library while pages turn",
    " ".join(["a long description that is cut at the model's length limit"] * 40),
)
_loaded: dict[str, OnnxEmbedder] = {}
_loaded_lock = threading.Lock()


def onnx_folder(cache_root: Path, model_id: str) -> Path:
    """Where the export of ``model_id`` lives under a cache folder."""
    return cache_root / "onnx" / hashlib.sha256(model_id.encode()).hexdigest()[:16]


def _environment() -> dict[str, str | None]:
    """Package versions an export depends on: a failed export is retried when they change."""
    versions: dict[str, str | None] = {"export": _EXPORT_VERSION}
    for name in ("torch", "onnx", "onnxruntime", "sentence-transformers", "transformers"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def export_status(folder: Path) -> dict[str, Any] | None:
    """The record of the last export into ``folder``, or None when there was none."""
    try:
        return json.loads((folder / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _usable(status: dict[str, Any] | None, folder: Path, model_id: str) -> bool:
    return bool(status and status.get("ok") and status.get("model_id") == model_id
                and (status.get("environment") or {}).get("export") == _EXPORT_VERSION
                and (folder / MODEL_FILE).is_file())


def needs_export(folder: Path, model_id: str) -> bool:
    """True when no usable export exists and trying one could succeed (never tried for this
    model, or tried with other package versions)."""
    status = export_status(folder)
    if _usable(status, folder, model_id):
        return False
    return not (status and status.get("model_id") == model_id
                and status.get("environment") == _environment())


def _pooled(transformer: Any, inputs: Sequence[str]) -> Any:
    """The transformer followed by mean pooling over real tokens and L2 normalisation (what
    sentence-transformers computes for this kind of model), as one traceable module."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            named = dict(zip(inputs, tensors, strict=True))
            tokens = self.transformer(**named)[0]
            mask = named["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return Pooled().eval()


def _export(model: Any, path: Path) -> tuple[list[str], int]:
    """Write ``model`` (a loaded SentenceTransformer) to ``path``; returns its input names and
    the token limit its tokenizer truncates at."""
    import inspect

    import torch

    transformer = model[0].auto_model
    accepted = inspect.signature(transformer.forward).parameters
    inputs = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in accepted]
    # A padded batch of two, so the graph is traced through the attention mask.
    example = model.tokenizer(["a dog barks twice in the yard", "rain"], padding=True,
                              return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in inputs}
    axes["embedding"] = {0: "batch"}
    # The TorchScript exporter traces exactly this module; newer torch defaults to another.
    legacy: dict[str, Any] = (
        {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {})
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about Python branches on shapes
        torch.onnx.export(
            _pooled(transformer, inputs), tuple(example[n] for n in inputs), str(path),
            input_names=inputs, output_names=["embedding"], dynamic_axes=axes,
            opset_version=17, **legacy,
        )
    return inputs, int(model.max_seq_length)


def export_onnx(embedder: Embedder, folder: Path, texts: Sequence[str] = ()) -> dict[str, Any]:
    """Export ``embedder``'s model into ``folder`` and check it against torch on ``texts``
    (plus a few fixed ones); returns the status written to ``export.json``."""
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    status: dict[str, Any] = {"model_id": embedder.model_id, "environment": _environment(),
                              "ok": False}
    with FileLock(str(folder / "export.lock"), timeout=600):
        try:
            tokenizer_file = embedder.model_path / "tokenizer.json"
            if not tokenizer_file.is_file():
                raise ValueError(f"{embedder.model_path} has no tokenizer.json")
            model = embedder.load_model()
            with atomic_path(folder / MODEL_FILE) as tmp:
                inputs, max_length = _export(model, tmp)
                status.update(inputs=inputs, max_length=max_length)
                probe = list(dict.fromkeys([*_PROBE_TEXTS, *texts]))
                onnx = OnnxEmbedder(tmp, tokenizer_file, embedder.model_id, inputs, max_length)
                diff = _max_difference(onnx.embed(probe), embedder.embed(probe))
                status["max_abs_diff"] = diff
                if not diff <= TOLERANCE:
                    raise ValueError(f"ONNX and torch vectors differ by {diff:.2e} "
                                     f"(more than {TOLERANCE:g})")
            status["ok"] = True
        except Exception as exc:  # noqa: BLE001 - any failure leaves searches on torch
            (folder / MODEL_FILE).unlink(missing_ok=True)
            status["reason"] = f"{type(exc).__name__}: {exc}"
        status["seconds"] = round(time.perf_counter() - started, 2)
        write_json(folder / STATUS_FILE, status)
    with _loaded_lock:
        _loaded.pop(str(folder), None)
    return status


def _max_difference(a: list[list[float]], b: list[list[float]]) -> float:
    import numpy as np

    return float(np.max(np.abs(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32))))


class OnnxEmbedder:
    """Unit-length sentence vectors from an exported model, one text per run.

    Texts are embedded one at a time, never padded into a batch: a query's vector then does
    not depend on what it was asked with, and short queries cost only their own tokens.
    Runs on one thread, like the torch path for small batches, which also keeps results the
    same on machines with different core counts.
    """

    def __init__(self, model_file: Path, tokenizer_file: Path, model_id: str,
                 inputs: Sequence[str], max_length: int) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: no notes about graph fusions
        self._session = onnxruntime.InferenceSession(str(model_file), options,
                                                     providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=int(max_length))
        self._inputs = list(inputs)
        self.model_id = model_id
        self.engine = "onnxruntime"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts``; each vector has unit length (cosine = dot product)."""
        import numpy as np

        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not a single string")
        vectors = []
        for text in texts:
            encoding = self._tokenizer.encode(text)
            fields = {"input_ids": encoding.ids, "attention_mask": encoding.attention_mask,
                      "token_type_ids": encoding.type_ids}
            feed = {name: np.asarray([fields[name]], dtype=np.int64) for name in self._inputs}
            vectors.append(self._session.run(None, feed)[0][0].astype(np.float32).tolist())
        return vectors


def load_onnx_embedder(folder: Path, embedder: Embedder) -> OnnxEmbedder | None:
    """The checked export of ``embedder``'s model in ``folder`` (loaded once per process), or
    None when there is none."""
    key = str(folder)
    with _loaded_lock:
        found = _loaded.get(key)
        if found is not None and found.model_id == embedder.model_id:
            return found
    status = export_status(folder)
    if not _usable(status, folder, embedder.model_id):
        return None
    assert status is not None
    onnx = OnnxEmbedder(folder / MODEL_FILE, embedder.model_path / "tokenizer.json",
                        embedder.model_id, status["inputs"], status["max_length"])
    with _loaded_lock:
        _loaded[key] = onnx
    return onnx
