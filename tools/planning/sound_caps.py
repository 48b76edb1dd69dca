"""How many designed sounds a run makes, whoever designed them.

A planner (a chat model, or the offline one given a long prompt) can ask for more sounds than
a video needs; each is a render, a file in the run folder and a track in the mix. The caps of
:mod:`lvas.tools.common.limits` hold the design to :data:`MAX_SOUNDS_PER_SCENE` per scene and
:data:`MAX_SOUNDS_PER_MINUTE` per started minute; what is left out is said in the run's
warnings and in the scene's reasoning, never dropped in silence.
"""

from __future__ import annotations

from lvas.tools.common.limits import MAX_SOUNDS_PER_MINUTE, MAX_SOUNDS_PER_SCENE, sounds_allowed
from lvas.tools.common.types import Scene, SceneDesign, Sound

SHOWN = 10
"""Sounds named in a warning; the rest are counted."""


def cap_designs(
    designs: dict[str, SceneDesign], scenes: list[Scene], duration: float
) -> tuple[dict[str, SceneDesign], list[str]]:
    """The designs within the caps, and a warning for each cap that left sounds out.

    A scene keeps its first :data:`MAX_SOUNDS_PER_SCENE` sounds in the Designer's order. Past
    the per-minute cap, sounds go by rank: every scene's bed (or first sound) stays, then each
    scene's second sound, and so on, scenes in time order, so the busiest scenes lose their
    least important events first. Designs within the caps come back unchanged.
    """
    order = {scene["id"]: n for n, scene in enumerate(sorted(scenes, key=lambda s: s["start"]))}
    keys = sorted(designs, key=lambda key: (order.get(key, len(order)), key))
    kept = {key: designs[key]["sounds"][:MAX_SOUNDS_PER_SCENE] for key in keys}
    over_scene = {
        key: designs[key]["sounds"][MAX_SOUNDS_PER_SCENE:]
        for key in keys
        if len(designs[key]["sounds"]) > MAX_SOUNDS_PER_SCENE
    }
    warnings = []
    if over_scene:
        cut = [s for sounds in over_scene.values() for s in sounds]
        warnings.append(
            f"{len(over_scene)} scene(s) were designed with more than {MAX_SOUNDS_PER_SCENE} "
            f"sounds (the most a scene may have): {len(cut)} sound(s) left out: {_named(cut)}"
        )
    allowed = sounds_allowed(duration)
    total = sum(len(sounds) for sounds in kept.values())
    over_minute: list[Sound] = []
    if total > allowed:
        ranked = sorted(
            (
                (rank, order.get(key, len(order)), key, sound["id"])
                for key in keys
                for rank, sound in enumerate(_by_importance(kept[key]))
            ),
            key=lambda item: item[:3],
        )
        chosen = {sound_id for _, _, _, sound_id in ranked[:allowed]}
        chosen |= {sound_id for rank, _, _, sound_id in ranked if rank == 0}
        over_minute = [s for key in keys for s in kept[key] if s["id"] not in chosen]
        kept = {key: [s for s in kept[key] if s["id"] in chosen] for key in keys}
        warnings.append(
            f"the design has {total} sounds, more than the {allowed} a {duration:.1f} s video "
            f"may have ({MAX_SOUNDS_PER_MINUTE} per started minute): {len(over_minute)} "
            f"sound(s) left out, the least important of the busiest scenes first (every scene "
            f"keeps its first sound): {_named(over_minute)}"
        )
    if not warnings:
        return designs, []
    dropped = {s["id"] for sounds in over_scene.values() for s in sounds}
    dropped |= {s["id"] for s in over_minute}
    capped: dict[str, SceneDesign] = {}
    for key in keys:
        design = designs[key]
        gone = sum(1 for s in design["sounds"] if s["id"] in dropped)
        if not gone:
            capped[key] = design
            continue
        note = f"{gone} sound(s) left out by the run's limits on sounds per scene and minute."
        capped[key] = {
            **design,
            "sounds": kept[key],
            "reasoning": f"{design.get('reasoning', '')} {note}".strip(),
        }
    return capped, warnings


def _by_importance(sounds: list[Sound]) -> list[Sound]:
    """A scene's sounds, most important first: its beds (they carry the scene), then the rest
    in the Designer's order (it lists the main action first)."""
    return sorted(sounds, key=lambda s: s["layer"] != "background")


def _named(sounds: list[Sound]) -> str:
    names = ", ".join(f"{s['id']} ({s['description']!r})" for s in sounds[:SHOWN])
    return names + (f" and {len(sounds) - SHOWN} more" if len(sounds) > SHOWN else "")
