"""Running an audio model over a file's windows, with the per-file feature cache.

Each model module (``vggish``, ``panns``, ``passt``, ``clap``) provides an
:class:`AudioModel`: its rate, the identity of its weights, and ``window_features``, which turns
one window's samples into rows of features (one row per window, or several: VGGish gives one
per 0.96 s example). :func:`audio_features` stacks them for the whole file, with ``window``
(the row's window index) and ``window_start`` (each window's start in seconds).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol

import numpy as np

from lvas.tools.evaluation.models import settings
from lvas.tools.evaluation.models.cache import Features, cached
from lvas.tools.evaluation.models.windows import CLIP_SECONDS, MIN_TAIL_SECONDS, iter_windows


class AudioModel(Protocol):
    """What :func:`audio_features` needs of a model."""

    @property
    def kind(self) -> str:
        """Names the cache folder and the features' origin, e.g. "panns"."""

    @property
    def sample_rate(self) -> int: ...

    @property
    def identity(self) -> str:
        """The weights' identity (a file hash, or "random-<seed>" in tests)."""

    @property
    def version(self) -> int:
        """Bumped when LVAS's preprocessing changes what the features are."""

    @property
    def dims(self) -> Mapping[str, tuple[int, ...]]:
        """Each feature's shape per row."""

    def window_features(self, samples: np.ndarray) -> Features:
        """Rows of features of one window (float32 mono at ``sample_rate``)."""
        ...


def audio_features(model: AudioModel, path: str | os.PathLike[str]) -> Features:
    """The model's features over every window of the file, cached by the file's content."""

    def compute() -> Features:
        rows: dict[str, list[np.ndarray]] = {name: [] for name in model.dims}
        index: list[np.ndarray] = []
        starts: list[float] = []
        for i, window in enumerate(iter_windows(path, model.sample_rate)):
            feats = model.window_features(window.samples)
            count = len(next(iter(feats.values())))
            for name in model.dims:
                rows[name].append(np.asarray(feats[name], dtype=np.float32))
            index.append(np.full(count, i, dtype=np.int32))
            starts.append(window.start)
        out = {name: (np.concatenate(parts) if parts
                      else np.zeros((0, *model.dims[name]), dtype=np.float32))
               for name, parts in rows.items()}
        out["window"] = np.concatenate(index) if index else np.zeros(0, dtype=np.int32)
        out["window_start"] = np.asarray(starts, dtype=np.float64)
        return out

    parts = {"file": settings.file_digest(path), "model": model.kind, "weights": model.identity,
             "version": model.version, "clip": CLIP_SECONDS, "tail": MIN_TAIL_SECONDS}
    return cached(model.kind, parts, compute)


def features_of_files(model: AudioModel, paths: list[str | os.PathLike[str]],
                      name: str) -> np.ndarray:
    """One feature's rows over several files, stacked (the pooled set of a distribution)."""
    parts = [audio_features(model, p)[name] for p in paths]
    if not parts:
        return np.zeros((0, *model.dims[name]), dtype=np.float32)
    return np.concatenate(parts)
