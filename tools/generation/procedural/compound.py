"""Compound sounds: one label or description that names several sources at once.

A thunderstorm is rain with thunder in it, a busy street is traffic with footsteps (and voices
where the run allows them), heavy rain and rolling thunder is both. ``parts_of`` reads the text
a sound is rendered from (its label, or the Designer's description) beside the family the
Synthesizer chose for it and returns the families to mix, each with a gain in dB relative to
the main one and a variant (a footstep's surface). The chosen family always stays the first
part at 0 dB, so a label with one source renders as before.

Voices (``speech``, ``crowd``) join a compound only where the run allows them: the Designer
refuses a voiced label unless the description or the prompt asks for voices, so here the text
must ask for them itself (the Designer's own ``VOICE_WORDS`` rule), or the chosen family is
already a voice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    """One family in a mix: its level against the main part, and a variant (surface)."""

    family: str
    gain_db: float = 0.0
    variant: str = ""


VOICED = frozenset({"speech", "crowd"})
# Same words as the offline Designer's voice rule (lvas.tools.planning.offline.VOICE_WORDS),
# kept here so the synthesizer does not import the planner.
VOICE_WORDS = re.compile(
    r"\b(voice|voices|speech|speak|speaking|talk|talking|narrat\w*|dialogue|sing\w*|"
    r"shout\w*|whisper\w*|laugh\w*|people|crowd|chatter)\b",
    re.IGNORECASE,
)

# Places and weather that are several sources by nature: (pattern, parts beside the main one).
_SCENES: tuple[tuple[re.Pattern[str], tuple[Part, ...]], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), parts)
    for pattern, parts in (
        (
            r"\b(thunder ?storms?|storms?|stormy|rain ?storms?|tempest)\b",
            (Part("rain", 0.0), Part("thunder", -3.0), Part("wind", -12.0)),
        ),
        (
            r"\b(busy|city|town|downtown|urban)\s+(street|road|avenue|square|centre|center)s?\b"
            r"|\b(street|sidewalk|pavement|crosswalk|high street)s?\b",
            (Part("traffic", 0.0), Part("footsteps", -9.0, "stone"), Part("crowd", -12.0)),
        ),
        (
            r"\b(market|bazaar|plaza|station concourse|shopping)\b",
            (Part("crowd", 0.0), Part("footsteps", -10.0, "stone")),
        ),
        (r"\b(forest|woods|woodland|jungle|grove)\b", (Part("birds", 0.0), Part("wind", -14.0))),
        (r"\b(beach|seaside|shore|coast|waves?|surf)\b", (Part("water", 0.0), Part("wind", -8.0))),
        (r"\b(campfire|bonfire|fireplace)\b", (Part("fire", 0.0),)),
        (
            r"\b(summer|spring)?\s*night\s+(meadow|field|garden|countryside|outdoors?)\b",
            (Part("insects", 0.0),),
        ),
    )
)

# Sources named outright in a bed's text, by family (a second named source joins the mix).
_NAMED: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (family, re.compile(pattern, re.IGNORECASE))
    for family, pattern in (
        ("rain", r"\b(rain\w*|drizzl\w*|downpour|showers?)\b"),
        ("thunder", r"\b(thunder\w*|lightning)\b"),
        ("wind", r"\b(wind(?!\s*chime)|winds|windy|gusts?|gusting|breeze|blustery)\b"),
        ("water", r"\b(stream|river|brook|creek|waterfall|fountain|waves?|surf|babbling)\b"),
        ("birds", r"\b(birds?|birdsong|chirp\w*|tweet\w*|songbirds?)\b"),
        ("insects", r"\b(insects?|crickets?|cicadas?|bees?|buzzing)\b"),
        ("traffic", r"\b(traffic|cars?|vehicles?|trucks?|motorway|highway)\b"),
        ("fire", r"\b(fire|crackl\w*|flames?|burning)\b"),
        ("footsteps", r"\b(footsteps?|steps|walking|walkers?|pedestrians?)\b"),
        ("crowd", r"\b(crowds?|chatter|murmur\w*|people talking|voices)\b"),
    )
)

# Level of a source named beside the main one, by family: events and accents sit lower than
# the texture they ride on.
_SECOND_DB = {
    "thunder": -3.0,
    "footsteps": -9.0,
    "crowd": -10.0,
    "birds": -8.0,
    "insects": -10.0,
    "wind": -8.0,
    "fire": -4.0,
}
_DEFAULT_SECOND_DB = -5.0
MAX_PARTS = 4

_SURFACES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (surface, re.compile(pattern, re.IGNORECASE))
    for surface, pattern in (
        ("snow", r"\b(snow\w*|slush|ice|icy)\b"),
        ("gravel", r"\b(gravel|pebbl\w*|shingle|crunch\w*|dirt path|scree)\b"),
        ("grass", r"\b(grass\w*|lawn|meadow|field|leaves|leafy|moss|forest floor|undergrowth)\b"),
        ("wood", r"\b(wood\w*|timber|plank\w*|floorboards?|deck|boardwalk|parquet|stairs?)\b"),
        (
            "stone",
            r"\b(stone|concrete|pavement|sidewalk|cobble\w*|asphalt|marble|granite|"
            r"street|road|rock\w*)\b",
        ),
        ("hard", r"\b(floor|tiles?|tiled|hall\w*|corridor|linoleum|indoors?|heels?|office)\b"),
    )
)
SURFACES = ("hard", "grass", "gravel", "wood", "stone", "snow")


def surface_of(text: str) -> str:
    """The surface a description walks or hits on (the first named wins), '' when none."""
    best, found = None, ""
    for surface, pattern in _SURFACES:
        m = pattern.search(text or "")
        if m and (best is None or m.start() < best):
            best, found = m.start(), surface
    return found


def parts_of(text: str, family: str, layer: str = "background") -> tuple[Part, ...]:
    """The families ``text`` calls for, the chosen ``family`` first at 0 dB.

    Events (the foreground layer) stay one family, with the surface their text names; a bed
    adds the sources its place implies and the other sources it names, voices only where the
    text asks for them.
    """
    text = text or ""
    surface = surface_of(text)
    if layer != "background":
        return (Part(family, 0.0, surface),)
    voices_ok = family in VOICED or bool(VOICE_WORDS.search(text))
    parts: dict[str, Part] = {family: Part(family, 0.0, surface)}

    def add(part: Part) -> None:
        if part.family in parts or len(parts) >= MAX_PARTS:
            return
        if part.family in VOICED and not voices_ok:
            return
        parts[part.family] = Part(part.family, part.gain_db, surface or part.variant)

    scenes = sorted(
        ((m.start(), extra) for pattern, extra in _SCENES if (m := pattern.search(text))),
        key=lambda hit: hit[0],
    )
    for _, extra in scenes:
        mine = next((p for p in extra if p.family == family), None)
        if mine is not None and len(parts) == 1:
            # The place explains the chosen family: take the place's balance around it.
            for part in extra:
                if part.family != family:
                    add(Part(part.family, part.gain_db - mine.gain_db, part.variant))
            continue
        main = extra[0]
        if main.family != family:
            # The place's own main source joins at a level that keeps the chosen one on top.
            add(Part(main.family, _SECOND_DB.get(main.family, _DEFAULT_SECOND_DB), main.variant))
        for part in extra[1:]:
            add(Part(part.family, min(part.gain_db, -3.0), part.variant))
    named = sorted(
        ((m.start(), fam) for fam, pattern in _NAMED if (m := pattern.search(text))),
        key=lambda hit: hit[0],
    )
    for _, fam in named:
        add(Part(fam, _SECOND_DB.get(fam, _DEFAULT_SECOND_DB)))
    return tuple(parts.values())
