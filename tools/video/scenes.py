"""Scenes from shots: a scene is a run of shots long enough to carry its own sound."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import numpy as np

from lvas.tools.common.types import Scene, Shot


class _Looks(TypedDict):
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
    scenes = [_scene(group) for group in groups]
    if scenes:
        scenes[0]["start"] = 0.0
        scenes[-1]["end"] = float(duration)
    if max_scene_seconds > 0:
        scenes = [part for scene in scenes for part in _split_long(
            scene, max_scene_seconds, min_scene_seconds, envelope, envelope_rate)]
    for index, scene in enumerate(scenes):
        scene["index"] = index
    return scenes


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
            window = envelope[int(a * rate): max(int(a * rate) + 1, int(b * rate))]
            part["motion"] = round(float(np.mean(window)), 5)
        parts.append(part)
    return parts


def merge_scenes(first: Scene, second: Scene) -> Scene:
    """One scene covering two neighbours; it keeps the first one's id."""
    return {
        **_combine([first, second], weights=[_span(first), _span(second)]),
        "id": first["id"],
        "index": first["index"],
        "start": first["start"],
        "end": second["end"],
        "shots": list(first["shots"]) + list(second["shots"]),
        "keyframes": list(first["keyframes"]) + list(second["keyframes"]),
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
        "keyframes": [k for s in group for k in (s.get("keyframes") or [s["keyframe"]]) if k],
    }


def _combine(items: Sequence[Mapping[str, Any]], weights: Sequence[float]) -> _Looks:
    """Duration-weighted statistics; hue and colour come from the longest item."""
    total = sum(weights)

    def mean(key: str) -> float:
        weighted = sum(float(i.get(key, 0.0)) * w for i, w in zip(items, weights, strict=True))
        return round(weighted / total, 5)

    longest = items[max(range(len(items)), key=lambda i: weights[i])]
    return {"brightness": mean("brightness"), "saturation": mean("saturation"),
            "motion": mean("motion"), "hue": float(longest.get("hue", 0.0)),
            "colour": str(longest.get("colour", ""))}
