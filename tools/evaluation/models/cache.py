"""Per-file model features kept on disk, so distribution metrics pool them without re-running
a model: one ``.npz`` per (file content, model, weights, preprocessing version).

The key hashes the file's bytes (not its path or date), so a copied or re-rendered identical
file hits the cache and an edited one misses it. Writes are atomic; an unreadable entry is
recomputed and replaced.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Mapping
from typing import Any, cast

import numpy as np

from lvas.tools.common.paths import atomic_path, content_hash
from lvas.tools.evaluation.models import settings

Features = dict[str, np.ndarray]


def cached(kind: str, parts: Mapping[str, Any], compute: Callable[[], Features]) -> Features:
    """``compute()``'s arrays, from ``<cache>/<kind>/<hash of parts>.npz`` when there."""
    key = content_hash(dict(parts), length=24)
    path = settings.cache_dir() / kind / f"{key}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except (OSError, ValueError, zipfile.BadZipFile):
            pass  # a damaged entry: computed again below and replaced
    features = compute()
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **cast(dict[str, Any], features))
    return features
