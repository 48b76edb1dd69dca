"""Scenes from shots: a scene is a run of shots long enough to carry its own sound.

LVAS's own segmentation is ``semantic`` (:func:`scenes_from_shots`). Ablations and users can
choose another way to cut the video (:func:`form_scenes`): ``fixed`` chunks of N seconds (the
LVAS-Agent paper's MMAudio baseline), one ``single`` scene, or every detected shot as a scene
(``shots``). Every way gives scenes of the same shape (id, index, span, shots, keyframes, looks
and motion) that tile [0, duration) exactly, so everything downstream works unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import numpy as np

from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.types import Scene, Shot

SEGMENTATIONS = ("semantic", "fixed", "single", "shots")
"""The ways to cut a video into scenes, as ``Context.segmentation`` names them."""

LOOK_KEYS = ("brightness", "saturation", "hue", "colour")
"""A scene's keys measured from the picture's colour and light (motion is kept apart)."""

MAX_FIXED_TAIL_SECONDS = 1.0
"""A last fixed chunk shorter than this (or than half a chunk, if less) joins the one before."""


class _Looks(TypedDict, total=False):
    """How a stretch of shots looks on the whole: the measured keys of a :class:`Scene`."""

    brightness: float
    saturation: float
    motion: float
    hue: float
    colour: str


def scenes_from_shots(
    shots: Sequence[Shot],
    *,
    duration: float,
    min_scene_seconds: float,
    max_scene_seconds: float = 0.0,
    envelope: np.ndarray | None = None,
    envelope_rate: float = 25.0,
) -> list[Scene]:
    """Group shots into scenes that tile [0, duration) exactly.

    A shot shorter than ``min_scene_seconds`` joins the scene before it (the first joins the
    next), because a soundtrack cannot change its world every few frames. A scene longer
    than ``max_scene_seconds`` (0: no limit) is split at its quietest moments, read from the
    motion ``envelope``, so generation windows and plans stay a workable size.
    """
    groups: list[list[Shot]] = []
    for shot in shots:
        length = float(shot["end"]) - float(shot["start"])
        if groups and (length < min_scene_seconds or _length(groups[-1]) < min_scene_seconds):
            groups[-1].append(shot)
        else:
            groups.append([shot])
    if len(groups) > 1 and _length(groups[-1]) < min_scene_seconds:
        groups[-2].extend(groups.pop())
    scenes = _tiled([_scene(group) for group in groups], duration)
    if max_scene_seconds > 0:
        scenes = [part for scene in scenes for part in _split_long(
            scene, max_scene_seconds, min_scene_seconds, envelope, envelope_rate)]
    return _numbered(scenes)


def form_scenes(
    shots: Sequence[Shot],
    *,
    segmentation: str = "semantic",
    duration: float,
    min_scene_seconds: float = 2.0,
    max_scene_seconds: float = 0.0,
    segment_seconds: float = 10.0,
    envelope: np.ndarray | None = None,
    envelope_rate: float = 25.0,
) -> list[Scene]:
    """Scenes of ``duration`` seconds of video by the named ``segmentation``.

    ``semantic``: :func:`scenes_from_shots` (short shots merged, long scenes split at quiet
    moments). ``fixed``: :func:`fixed_scenes` of ``segment_seconds``. ``single``: one scene for
    the whole video. ``shots``: every shot is a scene, however short or long.
    """
    check_segmentation(segmentation, segment_seconds)
    if segmentation == "fixed":
        return fixed_scenes(shots, duration=duration, seconds=segment_seconds,
                            envelope=envelope, envelope_rate=envelope_rate)
    if segmentation == "single":
        return _numbered(_tiled([_scene(list(shots))] if shots else [], duration))
    if segmentation == "shots":
        return _numbered(_tiled([_scene([shot]) for shot in shots], duration))
    return scenes_from_shots(shots, duration=duration, min_scene_seconds=min_scene_seconds,
                             max_scene_seconds=max_scene_seconds, envelope=envelope,
                             envelope_rate=envelope_rate)


def check_segmentation(segmentation: str, segment_seconds: float) -> None:
    """Refuse an unknown segmentation or a fixed chunk length that is not a positive number."""
    if segmentation not in SEGMENTATIONS:
        raise LVASInputError(f"Unknown segmentation {segmentation!r}; choose one of: "
                             f"{', '.join(SEGMENTATIONS)}.")
    if segmentation == "fixed" and not (
        math.isfinite(float(segment_seconds)) and float(segment_seconds) > 0
    ):
        raise LVASInputError(f"segment_seconds must be a positive number of seconds for the "
                             f"'fixed' segmentation (got {segment_seconds!r}).")


def fixed_chunk_bounds(duration: float, seconds: float) -> list[float]:
    """Chunk boundaries 0, N, 2N, ... and the end: [0, N), [N, 2N), ..., the last shorter.

    A last chunk shorter than ``MAX_FIXED_TAIL_SECONDS`` (or half a chunk, if that is less)
    joins the chunk before it: a few frames left over by the video's length (a 30.04 s video
    cut in 10 s chunks) would otherwise become a scene too short to carry a sound.
    """
    count = max(1, math.ceil(duration / seconds - 1e-9))
    bounds = [round(k * seconds, 6) for k in range(count)] + [float(duration)]
    tail = min(MAX_FIXED_TAIL_SECONDS, seconds / 2)
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < tail:
        del bounds[-2]
    return bounds


def fixed_scenes(
    shots: Sequence[Shot],
    *,
    duration: float,
    seconds: float,
    envelope: np.ndarray | None = None,
    envelope_rate: float = 25.0,
) -> list[Scene]:
    """Chunks of ``seconds`` regardless of content (see :func:`fixed_chunk_bounds`).

    A chunk lists every shot it overlaps and their keyframes (a shot's keyframes are its
    looks; a chunk inside a long shot shows that shot's); its colour and light are the
    overlap-weighted looks of those shots, its motion the mean of the motion envelope over
    the chunk (the shots' weighted motion without one).
    """
    bounds = fixed_chunk_bounds(duration, seconds)
    scenes: list[Scene] = []
    for number, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        inside = [s for s in shots if float(s["start"]) < b and float(s["end"]) > a]
        weights = [max(min(float(s["end"]), b) - max(float(s["start"]), a), 1e-6)
                   for s in inside]
        looks: _Looks = _combine(inside, weights=weights) if inside else {}
        scene: Scene = {
            **looks,
            "id": f"scene-{number:03d}",
            "index": number,
            "start": a,
            "end": b,
            "shots": [int(s["index"]) for s in inside],
            "keyframes": [k for s in inside for k in _keyframes(s)],
        }
        if envelope is not None and len(envelope):
            scene["motion"] = _envelope_mean(envelope, envelope_rate, a, b)
        scenes.append(scene)
    return scenes


def without_looks(scene: Scene) -> Scene:
    """The scene without its measured colour and light (:data:`LOOK_KEYS`): what a planner
    is given when it must not see the picture. Span, shots, keyframes and motion stay."""
    return {k: v for k, v in scene.items() if k not in LOOK_KEYS}  # type: ignore[return-value]


def quiet_split_points(
    start: float,
    end: float,
    *,
    max_seconds: float,
    min_seconds: float,
    envelope: np.ndarray | None,
    rate: float,
) -> list[float]:
    """Where to cut [start, end) so no part exceeds ``max_seconds``: at low motion.

    Each split is searched in the second half of the next ``max_seconds`` (never closer than
    ``min_seconds`` to either end), at the minimum of the motion envelope smoothed over one
    second; without an envelope, parts are equal.
    """
    if end - start <= max_seconds:
        return []
    if envelope is None or len(envelope) == 0:
        parts = int(np.ceil((end - start) / max_seconds))
        return [start + (end - start) * i / parts for i in range(1, parts)]
    width = max(1, int(round(rate)))
    smooth = np.convolve(np.asarray(envelope, np.float64), np.ones(width) / width, mode="same")
    points: list[float] = []
    pos = start
    while end - pos > max_seconds:
        lo = pos + max(min_seconds, max_seconds / 2)
        hi = min(pos + max_seconds, end - min_seconds)
        a, b = int(np.ceil(lo * rate)), int(np.floor(hi * rate))
        b = min(b, len(smooth) - 1)
        if b <= a:
            split = pos + max_seconds
        else:
            split = (a + int(np.argmin(smooth[a : b + 1]))) / rate
        points.append(round(split, 4))
        pos = split
    return points


def _split_long(
    scene: Scene,
    max_seconds: float,
    min_seconds: float,
    envelope: np.ndarray | None,
    rate: float,
) -> list[Scene]:
    points = quiet_split_points(scene["start"], scene["end"], max_seconds=max_seconds,
                                min_seconds=min_seconds, envelope=envelope, rate=rate)
    if not points:
        return [scene]
    bounds = [scene["start"], *points, scene["end"]]
    parts = []
    for number, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        part: Scene = {**scene, "start": a, "end": b,
                       "id": scene["id"] if number == 0 else f"{scene['id']}.{number}"}
        if envelope is not None and len(envelope):
            part["motion"] = _envelope_mean(envelope, rate, a, b)
        parts.append(part)
    return parts


def _envelope_mean(envelope: np.ndarray, rate: float, a: float, b: float) -> float:
    window = envelope[int(a * rate): max(int(a * rate) + 1, int(b * rate))]
    return round(float(np.mean(window)), 5)


def merge_scenes(first: Scene, second: Scene) -> Scene:
    """One scene covering two neighbours; it keeps the first one's id.

    Shots and keyframes two fixed chunks share (a shot across their boundary) are listed once.
    """
    return {
        **_combine([first, second], weights=[_span(first), _span(second)]),
        "id": first["id"],
        "index": first["index"],
        "start": first["start"],
        "end": second["end"],
        "shots": list(dict.fromkeys([*first["shots"], *second["shots"]])),
        "keyframes": list(dict.fromkeys([*first["keyframes"], *second["keyframes"]])),
    }


def _span(item: Mapping[str, Any]) -> float:
    return max(float(item["end"]) - float(item["start"]), 1e-6)


def _length(group: Sequence[Shot]) -> float:
    return float(group[-1]["end"]) - float(group[0]["start"])


def _scene(group: list[Shot]) -> Scene:
    return {
        **_combine(group, weights=[_span(s) for s in group]),
        "id": f"scene-{int(group[0]['index']):03d}",
        "index": 0,
        "start": float(group[0]["start"]),
        "end": float(group[-1]["end"]),
        "shots": [int(s["index"]) for s in group],
        "keyframes": [k for s in group for k in _keyframes(s)],
    }


def _keyframes(shot: Mapping[str, Any]) -> list[str]:
    return [k for k in (shot.get("keyframes") or [shot.get("keyframe", "")]) if k]


def _tiled(scenes: list[Scene], duration: float) -> list[Scene]:
    """The first scene starts at 0 and the last ends at ``duration``, whatever the shots say."""
    if scenes:
        scenes[0]["start"] = 0.0
        scenes[-1]["end"] = float(duration)
    return scenes


def _numbered(scenes: list[Scene]) -> list[Scene]:
    for index, scene in enumerate(scenes):
        scene["index"] = index
    return scenes


def _combine(items: Sequence[Mapping[str, Any]], weights: Sequence[float]) -> _Looks:
    """Duration-weighted statistics; hue and colour come from the longest item.

    A statistic the items do not all carry is left out rather than guessed (scenes a planner
    gets without the picture's looks stay without them when two are merged).
    """
    total = sum(weights)

    def mean(key: str) -> float:
        weighted = sum(float(i.get(key, 0.0)) * w for i, w in zip(items, weights, strict=True))
        return round(weighted / total, 5)

    longest = items[max(range(len(items)), key=lambda i: weights[i])]
    looks: _Looks = {}
    for key in ("brightness", "saturation", "motion"):
        if all(key in item for item in items):
            looks[key] = mean(key)
    if "hue" in longest:
        looks["hue"] = float(longest["hue"])
    if "colour" in longest:
        looks["colour"] = str(longest["colour"])
    return looks
