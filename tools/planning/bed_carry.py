"""Carry a background bed across a cut when the next scene keeps the same sound.

The plan designs beds per scene, which is what a person edits; rendering them per scene would
restart the same rain at every cut. Beds of one label that meet end to start are rendered as one
continuous sound instead, so only a change of sound gets a crossfade.
"""

from __future__ import annotations

from lvas.tools.common.types import Sound

JOIN_TOLERANCE = 0.05  # seconds between one bed's end and the next one's start
MAX_LEVEL_STEP_DB = 6.0  # a bigger jump in volume is a new bed, not the same one continuing


def carry_beds(
    sounds: list[Sound], labels: dict[str, str]
) -> tuple[list[Sound], dict[str, list[str]]]:
    """Merge consecutive same-label beds; returns the sounds to render and, per rendered
    sound id, the designed sound ids it covers (in time order).

    ``labels`` maps sound id to the chosen label; sounds without a label are left alone, and
    foreground sounds are never merged.
    """
    out: list[Sound] = []
    covers: dict[str, list[str]] = {}
    open_beds: dict[str, Sound] = {}  # label -> the merged bed that may continue
    for sound in sorted(sounds, key=lambda s: (float(s["start"]), s["id"])):
        label = labels.get(sound["id"], "")
        if sound["layer"] != "background" or not label:
            out.append(sound)
            covers[sound["id"]] = [sound["id"]]
            continue
        bed = open_beds.get(label)
        if (
            bed is not None
            and abs(float(bed["end"]) - float(sound["start"])) <= JOIN_TOLERANCE
            and abs(float(bed["volume_db"]) - float(sound["volume_db"])) <= MAX_LEVEL_STEP_DB
        ):
            bed["end"] = float(sound["end"])
            covers[bed["id"]].append(sound["id"])
            continue
        merged = sound.copy()
        out.append(merged)
        covers[merged["id"]] = [sound["id"]]
        open_beds[label] = merged
    return out, covers
