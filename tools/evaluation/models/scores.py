"""The model metrics' numbers from cached features: per item and pooled over a set of items.

Each function takes the extractor explicitly (tests pass models with random weights; the
registry passes the ones loaded from ``LVAS_EVAL_WEIGHTS``), reads features through the
per-file cache, and returns None where a number is undefined (too few windows, no pairs).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from lvas.tools.evaluation import stats
from lvas.tools.evaluation.models import settings
from lvas.tools.evaluation.models.av_windows import (
    common_duration,
    frame_spans,
    group_frames,
    windows_seconds,
)
from lvas.tools.evaluation.models.cache import Features, cached
from lvas.tools.evaluation.models.clap import Clap
from lvas.tools.evaluation.models.desync import FPS as SYNC_FPS
from lvas.tools.evaluation.models.desync import (
    FRAME_HOP,
    SEGMENT_FRAMES,
    Sync,
    scored_segments,
    segment_count,
)
from lvas.tools.evaluation.models.desync import SAMPLE_RATE as SYNC_RATE
from lvas.tools.evaluation.models.extract import AudioModel, audio_features
from lvas.tools.evaluation.models.frames import (
    center_crop,
    iter_rgb_frames,
    resize_short_side,
)
from lvas.tools.evaluation.models.imagebind import FPS as IB_FPS
from lvas.tools.evaluation.models.imagebind import SAMPLE_RATE as IB_RATE
from lvas.tools.evaluation.models.imagebind import ImageBind
from lvas.tools.evaluation.models.windows import CLIP_SECONDS, iter_windows

Path = str | os.PathLike[str]
PAIR_TOLERANCE_SECONDS = 0.1  # windows of two files pair up when their starts agree this well


# --- distributions (FD, KL, IS) -------------------------------------------------------------

def _distinct(paths: Sequence[Path]) -> list[Path]:
    """Each file once (by content): a reference shared by several items counts once."""
    seen: dict[str, Path] = {}
    for p in paths:
        seen.setdefault(settings.file_digest(p), p)
    return list(seen.values())


def _rows(model: AudioModel, paths: Sequence[Path], name: str) -> np.ndarray:
    parts = [audio_features(model, p)[name] for p in paths]
    return np.concatenate(parts) if parts else np.zeros((0, *model.dims[name]), np.float32)


def fd(model: AudioModel, generated: Sequence[Path], reference: Sequence[Path],
       name: str = "embedding") -> float | None:
    """FD of the generated files' window features against the (distinct) reference files'."""
    gen, ref = _rows(model, generated, name), _rows(model, _distinct(reference), name)
    if len(gen) < 2 or len(ref) < 2:
        return None
    return stats.frechet_distance_of(gen, ref)


def paired_logits(model: AudioModel, generated: Path, reference: Path,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Logits of the windows the two files both have (same start within 0.1 s)."""
    g, r = audio_features(model, generated), audio_features(model, reference)
    rows_g, rows_r = [], []
    for i, start in enumerate(g["window_start"]):
        j = int(np.argmin(np.abs(r["window_start"] - start))) if len(r["window_start"]) else -1
        if j >= 0 and abs(r["window_start"][j] - start) <= PAIR_TOLERANCE_SECONDS:
            rows_g.append(g["logits"][g["window"] == i])
            rows_r.append(r["logits"][r["window"] == j])
    if not rows_g:
        empty = np.zeros((0, *model.dims["logits"]), np.float32)
        return empty, empty
    return np.concatenate(rows_g), np.concatenate(rows_r)


def kl(model: AudioModel, pairs: Sequence[tuple[Path, Path]]) -> float | None:
    """Mean KL(reference ‖ generated) of the softmax logits over all paired windows."""
    found = [paired_logits(model, g, r) for g, r in pairs]
    gen = [g for g, _ in found if len(g)]
    ref = [r for _, r in found if len(r)]
    if not gen:
        return None
    return stats.kl_softmax(np.concatenate(gen), np.concatenate(ref))


def is_splits(count: int) -> int:
    """Splits for an inception score over ``count`` windows: av-benchmark's 10 when every
    split keeps at least 10 windows, else fewer (one split under 20 windows)."""
    return min(stats.IS_SPLITS, max(1, count // 10))


def inception(model: AudioModel, generated: Sequence[Path]) -> stats.InceptionScore | None:
    """IS of the generated windows' logits (shuffled with seed 2020)."""
    logits = _rows(model, generated, "logits")
    if len(logits) < 2:
        return None
    return stats.inception_score(logits, is_splits(len(logits)), stats.IS_SEED)


# --- CLAP -----------------------------------------------------------------------------------

def clap_cosines(model: Clap, audio: Path, text: str) -> np.ndarray:
    """Cosine of each window's audio embedding with the text's embedding."""
    emb = audio_features(model, audio)["audio"].astype(np.float64)
    txt = model.text_embedding(text).astype(np.float64)
    norms = np.linalg.norm(emb, axis=1) * np.linalg.norm(txt)
    return np.asarray(emb @ txt / np.maximum(norms, 1e-12))


# --- ImageBind ------------------------------------------------------------------------------

def _ms(duration: float) -> int:
    return int(round(duration * 1000))


def imagebind_audio(model: ImageBind, audio: Path, duration: float) -> Features:
    """Per-window ImageBind audio embeddings (cached)."""

    def compute() -> Features:
        rows, starts = [], []
        for w in iter_windows(audio, IB_RATE, CLIP_SECONDS, max_seconds=duration):
            rows.append(model.audio_embedding(w.samples))
            starts.append(w.start)
        return {"audio": np.asarray(rows, np.float32).reshape(len(rows), -1),
                "window_start": np.asarray(starts)}

    parts = {"file": settings.file_digest(audio), "weights": model.identity, "side": "audio",
             "version": model.version, "duration_ms": _ms(duration), "clip": CLIP_SECONDS}
    return cached("imagebind", parts, compute)


def imagebind_video(model: ImageBind, video: Path, windows: list[tuple[float, float]],
                    ) -> Features:
    """Per-window ImageBind video embeddings (cached; NaN rows for windows without two
    frames)."""

    def compute() -> Features:
        spans = frame_spans(windows, IB_FPS)
        rows: list[np.ndarray | None] = [None] * len(windows)
        for i, frames in group_frames(iter_rgb_frames(video, IB_FPS), spans, resize_short_side):
            rows[i] = model.video_embedding(frames)
        dim = next((len(r) for r in rows if r is not None), 0)
        out = np.full((len(windows), dim), np.nan, np.float32)
        for i, r in enumerate(rows):
            if r is not None:
                out[i] = r
        return {"video": out}

    parts = {"file": settings.file_digest(video), "weights": model.identity, "side": "video",
             "version": model.version, "windows": [[round(s, 4), round(n, 4)] for s, n in windows]}
    return cached("imagebind", parts, compute)


def imagebind_cosines(model: ImageBind, audio: Path, video: Path) -> np.ndarray:
    """Cosine of the video and audio embeddings of each window both sides have."""
    duration = common_duration(audio, video)
    windows = windows_seconds(audio, IB_RATE, duration)
    a = imagebind_audio(model, audio, duration)["audio"].astype(np.float64)
    v = imagebind_video(model, video, windows)["video"].astype(np.float64)
    count = min(len(a), len(v))
    a, v = a[:count], v[:count]
    ok = np.isfinite(v).all(axis=1)
    a, v = a[ok], v[ok]
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(v, axis=1)
    return np.asarray((a * v).sum(axis=1) / np.maximum(norms, 1e-12))


# --- DeSync ---------------------------------------------------------------------------------

def _plan(audio: Path, video: Path) -> tuple[float, list[tuple[float, float]], list[list[int]]]:
    duration = common_duration(audio, video)
    windows = windows_seconds(audio, SYNC_RATE, duration)
    segments = [scored_segments(segment_count(int(round(n * SYNC_RATE)), int(n * SYNC_FPS + 1e-6)))
                for _, n in windows]
    return duration, windows, segments


def _stack(parts: list[np.ndarray], windows: list[int]) -> Features:
    if not parts:
        return {"features": np.zeros((0, 1, 1), np.float32), "window": np.zeros(0, np.int32)}
    return {"features": np.concatenate(parts).astype(np.float32),
            "window": np.concatenate([np.full(len(p), w, np.int32)
                                      for p, w in zip(parts, windows, strict=True)])}


def sync_audio(model: Sync, audio: Path, duration: float, segments: list[list[int]],
               ) -> Features:
    """Synchformer audio features of the scored segments of every window (cached)."""

    def compute() -> Features:
        parts, owners = [], []
        for i, w in enumerate(iter_windows(audio, SYNC_RATE, CLIP_SECONDS,
                                           max_seconds=duration)):
            if segments[i]:
                parts.append(model.audio_features(w.samples, segments[i]))
                owners.append(i)
        return _stack(parts, owners)

    parts = {"file": settings.file_digest(audio), "weights": model.identity, "side": "audio",
             "version": model.version, "duration_ms": _ms(duration), "segments": segments}
    return cached("synchformer", parts, compute)


def sync_video(model: Sync, video: Path, windows: list[tuple[float, float]],
               segments: list[list[int]]) -> Features:
    """Synchformer video features of the scored segments of every window (cached); a window
    the video ends inside is left out."""

    def compute() -> Features:
        spans = frame_spans(windows, SYNC_FPS)
        parts, owners = [], []

        def prepare(frame: np.ndarray) -> object:
            return center_crop(resize_short_side(frame))

        for i, frames in group_frames(iter_rgb_frames(video, SYNC_FPS), spans, prepare):
            needed = segments[i][-1] * FRAME_HOP + SEGMENT_FRAMES if segments[i] else 0
            if segments[i] and len(frames) >= needed:
                parts.append(model.video_features(frames, segments[i]))
                owners.append(i)
        return _stack(parts, owners)

    parts = {"file": settings.file_digest(video), "weights": model.identity, "side": "video",
             "version": model.version, "windows": [[round(s, 4), round(n, 4)] for s, n in windows],
             "segments": segments}
    return cached("synchformer", parts, compute)


def desync_offsets(model: Sync, audio: Path, video: Path) -> np.ndarray:
    """|predicted offset| (s) of the first and last 4.8 s of every scored window, in order."""
    duration, windows, segments = _plan(audio, video)
    a = sync_audio(model, audio, duration, segments)
    v = sync_video(model, video, windows, segments)
    out: list[float] = []
    for i, segs in enumerate(segments):
        rows_a, rows_v = a["window"] == i, v["window"] == i
        if segs and rows_a.any() and rows_v.any():
            out += [abs(x) for x in model.offsets(v["features"][rows_v], a["features"][rows_a],
                                                  segs)]
    return np.asarray(out, dtype=np.float64)
