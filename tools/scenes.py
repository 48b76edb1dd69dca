"""Scenes from shots: a scene is a run of shots long enough to carry its own sound."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

STAT_KEYS = ("brightness", "saturation", "motion")


def scenes_from_shots(
    shots: Sequence[dict[str, Any]], *, duration: float, min_scene_seconds: float
) -> list[dict[str, Any]]:
    """Group shots into scenes that tile [0, duration) exactly.

    A shot shorter than ``min_scene_seconds`` joins the scene before it (the first joins the
    next), because a soundtrack cannot change its world every few frames.
    """
    groups: list[list[dict[str, Any]]] = []
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
    for index, scene in enumerate(scenes):
        scene["index"] = index
    return scenes


def merge_scenes(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """One scene covering two neighbours; it keeps the first one's id."""
    merged = _combine([first, second], weights=[_span(first), _span(second)])
    merged.update(
        id=first["id"],
        index=first["index"],
        start=first["start"],
        end=second["end"],
        shots=list(first["shots"]) + list(second["shots"]),
        keyframes=list(first["keyframes"]) + list(second["keyframes"]),
    )
    return merged


def _span(item: dict[str, Any]) -> float:
    return max(float(item["end"]) - float(item["start"]), 1e-6)


def _length(group: Sequence[dict[str, Any]]) -> float:
    return float(group[-1]["end"]) - float(group[0]["start"])


def _scene(group: list[dict[str, Any]]) -> dict[str, Any]:
    scene = _combine(group, weights=[_span(s) for s in group])
    scene.update(
        id=f"scene-{int(group[0]['index']):03d}",
        index=0,
        start=float(group[0]["start"]),
        end=float(group[-1]["end"]),
        shots=[int(s["index"]) for s in group],
        keyframes=[s["keyframe"] for s in group if s.get("keyframe")],
    )
    return scene


def _combine(items: Sequence[dict[str, Any]], weights: Sequence[float]) -> dict[str, Any]:
    """Duration-weighted statistics; hue and colour come from the longest item."""
    total = sum(weights)
    combined: dict[str, Any] = {
        key: round(
            sum(float(i.get(key, 0.0)) * w for i, w in zip(items, weights, strict=True)) / total, 5
        )
        for key in STAT_KEYS
    }
    longest = items[max(range(len(items)), key=lambda i: weights[i])]
    combined["hue"] = float(longest.get("hue", 0.0))
    combined["colour"] = str(longest.get("colour", ""))
    return combined
