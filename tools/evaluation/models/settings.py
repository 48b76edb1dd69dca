"""Where the model metrics find their weights, keep their features, and run.

Read from the environment at call time (``lvas eval`` and ablations set nothing else):

- ``LVAS_EVAL_WEIGHTS``: a folder holding each model's weights under the file names of
  :data:`WEIGHTS` (see docs/metrics.md).
- ``LVAS_EVAL_DOWNLOAD=1``: fetch missing weights into that folder (or the cache's
  ``eval-weights``) from where their authors publish them; off by default, so nothing is
  downloaded unless asked.
- ``LVAS_EVAL_CACHE``: the per-file feature cache; default ``<LVAS_CACHE_DIR or
  ~/.cache/lvas>/eval-features``.
- ``LVAS_DEVICE``: the torch device (default: cuda where torch sees it, else cpu).

Nothing here imports torch or a model package: ``availability`` answers from the file system
and ``importlib.util.find_spec``.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lvas.tools.common.paths import content_hash, default_cache_dir, file_sha256

ENV_WEIGHTS = "LVAS_EVAL_WEIGHTS"
ENV_DOWNLOAD = "LVAS_EVAL_DOWNLOAD"
ENV_CACHE = "LVAS_EVAL_CACHE"
ENV_DEVICE = "LVAS_DEVICE"

EVAL_EXTRA = "pip install 'lvas-agent[eval]'"


@dataclass(frozen=True)
class WeightsSpec:
    """One model's weights: the name they go by in ``LVAS_EVAL_WEIGHTS`` and their source.

    ``hub_id`` marks a Hugging Face model: ``filename`` is then a folder (``save_pretrained``
    or a snapshot of the hub repository), and the hub's own cache is also looked in.
    """

    model: str
    filename: str
    url: str
    hub_id: str | None = None


WEIGHTS: dict[str, WeightsSpec] = {
    "vggish": WeightsSpec(
        "vggish", "vggish-10086976.pth",
        "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth"),
    "panns": WeightsSpec(
        "panns", "Cnn14_16k_mAP=0.438.pth",
        "https://zenodo.org/record/3987831/files/Cnn14_16k_mAP%3D0.438.pth"),
    "passt": WeightsSpec(
        "passt", "passt-s-f128-p16-s10-ap.476-swa.pt",
        "https://github.com/kkoutini/PaSST/releases/download/v0.0.1-audioset/"
        "passt-s-f128-p16-s10-ap.476-swa.pt"),
    "clap": WeightsSpec(
        "clap", "larger_clap_general", "https://huggingface.co/laion/larger_clap_general",
        hub_id="laion/larger_clap_general"),
    "imagebind": WeightsSpec(
        "imagebind", "imagebind_huge.pth",
        "https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth"),
    "synchformer": WeightsSpec(
        "synchformer", "synchformer_state_dict.pth",
        "https://github.com/hkchengrex/MMAudio/releases/download/v0.1/"
        "synchformer_state_dict.pth"),
}


class WeightsMissing(RuntimeError):
    """A model's weights are neither in ``LVAS_EVAL_WEIGHTS`` nor allowed to be fetched."""


def weights_dir() -> Path | None:
    value = os.environ.get(ENV_WEIGHTS, "").strip()
    return Path(value).expanduser() if value else None


def download_allowed() -> bool:
    return os.environ.get(ENV_DOWNLOAD, "").strip().lower() in {"1", "true", "yes", "on"}


def cache_dir() -> Path:
    value = os.environ.get(ENV_CACHE, "").strip()
    if value:
        return Path(value).expanduser()
    return default_cache_dir(os.environ.get("LVAS_CACHE_DIR")) / "eval-features"


def device() -> str:
    """``LVAS_DEVICE``, else cuda where torch sees a GPU, else cpu."""
    value = os.environ.get(ENV_DEVICE, "").strip()
    if value:
        return value
    from lvas.tools.common.gpu import cuda_available

    return "cuda" if cuda_available() else "cpu"


def _download_dir() -> Path:
    return weights_dir() or default_cache_dir(os.environ.get("LVAS_CACHE_DIR")) / "eval-weights"


def how_to_get(spec: WeightsSpec) -> str:
    """The instruction "needs weights" messages give."""
    where = f"${ENV_WEIGHTS}" if weights_dir() is None else str(weights_dir())
    if spec.hub_id:
        return (f"save {spec.hub_id} (Hugging Face) as the folder {where}/{spec.filename}, "
                f"or set {ENV_DOWNLOAD}=1 to let transformers fetch it")
    return (f"download {spec.url} to {where}/{spec.filename}, or set {ENV_DOWNLOAD}=1 "
            "to fetch it there")


def _hub_cached(hub_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - transformers brings huggingface_hub
        return False
    found = try_to_load_from_cache(hub_id, "config.json")
    return isinstance(found, str)


def local_weights(spec: WeightsSpec) -> Path | None:
    """The weights file (or folder) in ``LVAS_EVAL_WEIGHTS``, if it is there."""
    folder = weights_dir()
    if folder is None:
        return None
    path = folder / spec.filename
    if spec.hub_id:
        return path if (path / "config.json").is_file() else None
    return path if path.is_file() else None


def weights_status(spec: WeightsSpec) -> str | None:
    """None when the weights can be had here, else "needs weights: <how>"."""
    if local_weights(spec) is not None or download_allowed():
        return None
    if spec.hub_id and _hub_cached(spec.hub_id):
        return None
    return f"needs weights: {how_to_get(spec)}"


def resolve_weights(spec: WeightsSpec) -> str:
    """A path (or, for a hub model already cached or allowed to download, its id) to load.

    Downloads only with ``LVAS_EVAL_DOWNLOAD=1``; otherwise raises :class:`WeightsMissing`
    with the instruction.
    """
    found = local_weights(spec)
    if found is not None:
        return str(found)
    if spec.hub_id and (download_allowed() or _hub_cached(spec.hub_id)):
        return spec.hub_id
    if not download_allowed():
        raise WeightsMissing(f"{spec.model}: needs weights: {how_to_get(spec)}")
    import torch

    from lvas.tools.common.paths import atomic_path

    target = _download_dir() / spec.filename
    with atomic_path(target) as tmp:
        torch.hub.download_url_to_file(spec.url, str(tmp), progress=False)
    return str(target)


def package_status(modules: tuple[str, ...], how: str = EVAL_EXTRA) -> str | None:
    """None when every module can be imported, else "needs package: <how>"."""
    missing = [m for m in modules if not _findable(m)]
    if not missing:
        return None
    return f"needs package: {how} (missing: {', '.join(missing)})"


def _findable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@cache
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(path)


def file_digest(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes (20 hex digits), computed once per process and file version."""
    p = Path(path).resolve()
    st = p.stat()
    return _sha256_of(str(p), st.st_size, st.st_mtime_ns)[:20]


def weights_identity(source: str) -> str:
    """What identifies loaded weights in the feature cache: the file's sha256 (computed once
    per process and file version), a folder's config and weight files' hashes, or a hub id."""
    path = Path(source)
    if path.is_file():
        return file_digest(path)
    if path.is_dir():
        parts = [f"{item.name}:{file_digest(item)}" for item in sorted(path.iterdir())
                 if item.is_file() and item.suffix in {".json", ".safetensors", ".bin", ".pt",
                                                       ".pth", ".txt"}]
        return content_hash(parts, length=20)
    return source
