"""The offline planner: scripts, reviews and sound designs without any language model.

It plays the Scriptwriter, the Storyboarder's review and the Designer from what can be
measured in the picture (brightness, colour, motion) and from the user's text prompt, so the
whole pipeline runs on a machine with no model, key or network. Everything is deterministic
for a given seed. Descriptions say only what the measurements support; background sounds are
concrete places and weather, never moods.

Its "vision" is the measured colour and light of each scene, read as a place
(:func:`setting_for`). Without it (``OfflinePlanner(vision=False)``, or a scene that carries
no colour and light) every scene gets the neutral :data:`NEUTRAL` setting, and captions,
reviews and designs follow only the motion and the prompt.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import cast

from lvas.tools.common.limits import MAX_PROMPT_EVENTS_PER_SCENE, MAX_PROMPT_PHRASES
from lvas.tools.common.types import (
    LabelCandidate,
    LabelChoice,
    Layer,
    ReviewAction,
    Scene,
    SceneDesign,
    SceneScript,
    SeenScene,
    Sound,
)
from lvas.tools.video.scenes import without_looks

# Motion is the mean absolute difference of consecutive small grey frames (0..1).
CALM_MOTION = 0.008
FAST_MOTION = 0.03
MIN_LABEL_SCORE = 0.3
CAMERA_MOVES = 0.05  # frame widths per second of fitted (camera) flow
THINGS_MOVE = 0.05  # share of the frame moving against the camera's motion
VOICE_WORDS = re.compile(
    r"\b(voice|voices|speech|speak|speaking|talk|talking|narrat\w*|dialogue|sing\w*|"
    r"shout\w*|whisper\w*|laugh\w*|people|crowd|chatter)\b",
    re.IGNORECASE,
)
MUSIC_WORDS = re.compile(
    r"\b(music|musical|song|melody|instrument|piano|guitar|drum|drums|orchestra|band)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Setting:
    """A place the picture suggests, with the sounds that such a place makes."""

    key: str
    place: str
    background: str
    entities: tuple[str, ...]
    event: str


SETTINGS: dict[str, Setting] = {
    "city": Setting("city", "an outdoor place among tall buildings",
                    "distant city traffic rumbling", ("buildings", "sky"), "footsteps on pavement"),
    "city_night": Setting("city_night", "a city at night, among lit buildings",
                          "a distant city hum at night", ("buildings", "night sky"),
                          "footsteps on pavement"),
    "nature": Setting("nature", "an outdoor place with plants and open sky",
                      "a light breeze rustling the leaves", ("plants", "sky"),
                      "footsteps on grass"),
    "vegetation": Setting("vegetation", "a place thick with green plants",
                          "leaves rustling in a light breeze", ("plants",),
                          "footsteps on grass"),
    "night_nature": Setting("night_nature", "an outdoor place with plants, at night",
                            "crickets chirping in a night meadow", ("plants", "night sky"),
                            "footsteps on grass"),
    "water": Setting("water", "open water stretching to the horizon",
                     "waves washing against the shore", ("water", "sky"), "waves splashing"),
    "storm": Setting("storm", "an outdoor place in a thunderstorm, rain falling",
                     "steady rain falling", ("rain", "sky"), "a rumble of thunder"),
    "fire": Setting("fire", "a place lit by flickering flames", "a fire crackling",
                    ("flames",), "logs cracking in a fire"),
    "outdoors": Setting("outdoors", "an outdoor place under open sky",
                        "quiet outdoor air with a light breeze", ("sky",), "footsteps nearby"),
    "room": Setting("room", "an indoor room", "the quiet tone of a room", ("walls",),
                    "footsteps on a hard floor"),
}
"""Places the evidence can support. ``outdoors`` and ``room`` are the neutral beds of a
setting (outdoor air, room tone): chosen when the picture shows outside or inside but not
what kind of place."""

NEUTRAL_KEYS = frozenset({"unseen", "unclear", "outdoors", "room"})
"""Settings whose bed names no specific source."""

NEUTRAL = Setting("unseen", "an unseen place", "a quiet, steady background ambience", (),
                  "footsteps nearby")
"""The setting of a scene whose picture the planner does not see: no place is guessed."""

UNCLEAR = Setting("unclear", "a place the picture does not clearly show",
                  "a quiet, steady background ambience", (), "footsteps nearby")
"""The setting of a scene the planner sees but cannot place: a neutral bed, no wrong source."""

_LOOKS = ("brightness", "saturation", "hue")

# Thresholds of the evidence (tools/video/evidence.py), set on the labelled set in
# benchmarks/data/planner_set/ and the generated clips of tests/test_planner_evidence.py.
SKY_MIN = 0.2  # share of the top band that is smooth and sky-coloured
DARK_SKY_MIN = 0.3
BUILT_STRAIGHT_MIN = 0.06  # share of edge pixels on long straight lines
BUILT_UPRIGHT_MIN = 0.35  # share of those lines upright or level
PLANTS_MIN = 0.15  # green (and brown) cover with sky above
DENSE_PLANTS_MIN = 0.3  # green cover that alone says plants
PLANTS_STRAIGHT_MAX = 0.06
NIGHT_BRIGHTNESS = 0.3
DARK_BRIGHTNESS = 0.18
FIRE_COVER_MIN = 0.02
FIRE_FLICKER_MIN = 0.15
FIRE_STEADY_MAX = 0.5  # share of the picture moving by itself above which flicker is the view
WALK_MOTION_MIN = 0.01  # share of the frame's lower half moving against the camera's motion
WALKERS_SEEN_MIN = 2  # people the detector finds that walk without an upright mover of their own
CROWD_MIN = 5
LIT_WINDOWS_MIN = 0.05  # small bright spots (lit windows) that make built-up a city at night
HORIZON_MIN = 2.5  # strongest horizontal edge row over the median row (evidence.HORIZON_MIN)
WATER_MOTION_MIN = 0.2  # share of the lower half moving by itself: waves, not a still plain
WATER_HUE = (180.0, 265.0)  # the picture's mean hue when sky and water are blue
GREY_SATURATION_MAX = 0.15  # or a grey sea under a grey sky
FLASH_MIN = 0.25  # largest whole-frame brightness jump between burst frames (0..1)
FLICKER_MIN = 0.3  # mean brightness change over the mean level: a flash rises and fades
RAIN_MOTION_MIN = 0.3  # share of the frame moving by itself, top and bottom: falling rain
GRASS_MIN = 0.3
EARTH_MIN = 0.25
GRAVEL_TEXTURE_MIN = 0.15

Evidence = dict[str, str | float | bool]
"""One piece of evidence behind a choice: feature, value, comparison, threshold, whether it
was met, and what it supported (JSON-friendly, kept in ``SceneScript.evidence``)."""


@dataclass
class Reading:
    """What the planner makes of one scene's evidence: a place, events, and why."""

    setting: Setting
    events: list[str]
    evidence: list[Evidence]


class _Checks:
    """Collects the checks a decision makes, so the script can show them."""

    def __init__(self, features: dict[str, float]) -> None:
        self.features = features
        self.records: list[Evidence] = []

    def has(self, feature: str) -> bool:
        return feature in self.features

    def at_least(self, feature: str, threshold: float, supports: str) -> bool:
        return self._check(feature, ">=", threshold, supports)

    def below(self, feature: str, threshold: float, supports: str) -> bool:
        return self._check(feature, "<", threshold, supports)

    def _check(self, feature: str, op: str, threshold: float, supports: str) -> bool:
        if feature not in self.features:
            self.records.append({"feature": feature, "value": "unmeasured", "op": op,
                                 "threshold": threshold, "met": False, "supports": supports})
            return False
        value = float(self.features[feature])
        met = value >= threshold if op == ">=" else value < threshold
        self.records.append({"feature": feature, "value": round(value, 4), "op": op,
                             "threshold": threshold, "met": met, "supports": supports})
        return met

    def note(self, feature: str, value: str | float | bool, supports: str) -> None:
        self.records.append({"feature": feature, "value": value, "op": "", "threshold": "",
                             "met": True, "supports": supports})


def scene_features(scene: Scene) -> dict[str, float] | None:
    """The measured evidence of a scene: what the Scriptwriter attached (``evidence``), else
    its colour and light alone; None when the planner sees nothing (no looks, vision off)."""
    measured = cast(SeenScene, scene).get("evidence")
    if measured:
        return {k: float(v) for k, v in measured.items()}
    if not any(key in scene for key in _LOOKS):
        return None
    return {key: float(scene[key]) for key in _LOOKS if key in scene}  # type: ignore[literal-required]


def read_scene(scene: Scene, prompt: str | None = None) -> Reading:
    """Choose a place and events from a scene's evidence, recording every check.

    A specific source needs two signs that agree (sky and buildings, sky and plants, warm
    cover and its flicker, a horizon and water moving under it); one sign gives the neutral
    bed of its setting (outdoor air, room tone); colour and light alone give no place at all
    (:data:`UNCLEAR`)."""
    features = scene_features(scene)
    if features is None:
        return Reading(NEUTRAL, [], [])
    checks = _Checks(features)
    lightning = _lightning(checks)
    setting = _place(checks, lightning)
    if setting is UNCLEAR and not checks.has("edge_density"):
        checks.note("colour and light only", True, "no place: colour alone cannot tell one")
    events = _events(checks, setting, prompt, lightning)
    return Reading(setting, events, checks.records)


OUTDOOR_KEYS = frozenset({"city", "city_night", "nature", "night_nature", "water", "storm",
                          "outdoors"})
"""Settings under an open sky, where a flash of the whole picture is lightning."""


def _lightning(c: _Checks) -> bool:
    """A flash of the whole picture that rises and fades again within the burst: lightning
    (outdoors; :func:`_events` asks for the sky). One step of light (a cut inside the burst, a
    lamp switched on) changes the level once and flickers little; a screen's flicker is small."""
    if not c.has("flash"):
        return False
    return c.at_least("flash", FLASH_MIN, "lightning (the whole picture flashes)") and \
        c.at_least("flicker", FLICKER_MIN, "lightning (the flash fades again)")


def _rain(c: _Checks) -> bool:
    """Rain in a storm: small things move by themselves all over the picture, not people."""
    return c.at_least("object_motion", RAIN_MOTION_MIN, "rain (the whole picture streams)") and \
        c.below("walkers", 1.0, "rain, not people moving")


def _water(c: _Checks) -> bool:
    """Open water under the sky: a horizon, the lower half moving by itself (waves), no
    plants or people there, and the picture blue or grey as sea and sky are."""
    if not (c.at_least("horizon", HORIZON_MIN, "water (a horizon)")
            and c.at_least("object_motion_low", WATER_MOTION_MIN,
                           "water (the lower half moves by itself)")
            and c.below("green", PLANTS_MIN, "water, not plants")
            and c.below("walkers", 1.0, "water, not people moving")):
        return False
    hue = float(c.features.get("hue", -1.0))
    saturation = float(c.features.get("saturation", 1.0))
    blue = WATER_HUE[0] <= hue < WATER_HUE[1]
    grey = saturation < GREY_SATURATION_MAX
    c.note("hue and saturation", f"{hue:.0f} deg, {saturation:.2f}",
           "water (blue or grey)" if blue or grey else "not water: neither blue nor grey")
    return blue or grey


def _place(c: _Checks, lightning: bool = False) -> Setting:
    if c.has("warm_flicker") and c.at_least("warm_cover", FIRE_COVER_MIN, "fire") and \
            c.at_least("warm_flicker", FIRE_FLICKER_MIN, "fire") and \
            (not c.has("object_motion") or
             c.below("object_motion", FIRE_STEADY_MAX, "flames flicker in a picture that holds "
                     "still (not a warm thing moving with the view)")):
        return SETTINGS["fire"]
    if not c.has("edge_density"):
        return UNCLEAR
    sky = c.at_least("sky", SKY_MIN, "outdoors (sky at the top)") and \
        float(c.features["sky"]) > 2.0 * float(c.features.get("sky_below", 0.0))
    dark_sky = not sky and c.at_least("dark_sky", DARK_SKY_MIN, "outdoors (night sky)")
    outdoors = sky or dark_sky
    if outdoors and lightning and _rain(c):
        return SETTINGS["storm"]
    if sky and _water(c):
        return SETTINGS["water"]
    built = c.at_least("straight_share", BUILT_STRAIGHT_MIN, "built-up (long straight edges)") \
        and c.at_least("upright_share", BUILT_UPRIGHT_MIN, "built-up (right angles)")
    plants = float(c.features.get("green", 0.0)) + float(c.features.get("brown", 0.0))
    if sky and not c.at_least("sky_blue", SKY_MIN, "a blue sky, not a pale wall"):
        # a pale smooth top is an overcast sky or a wall or ceiling: only plants settle it
        if c.at_least("green", PLANTS_MIN, "plants under a pale sky") and \
                c.below("straight_share", PLANTS_STRAIGHT_MAX, "natural (irregular texture)"):
            return SETTINGS["nature"]
        return UNCLEAR
    if outdoors:
        if built and c.below("green", PLANTS_MIN, "built-up, not plants"):
            lit = c.at_least("lights", LIT_WINDOWS_MIN, "lit windows (a city at night)")
            if dark_sky and not lit:
                c.note("dark top over straight lines, no lit windows", True,
                       "a night sky or a dark room: no place")
                return UNCLEAR
            night = dark_sky or lit or c.below("brightness", NIGHT_BRIGHTNESS, "night")
            return SETTINGS["city_night" if night else "city"]
        if c.at_least("green", PLANTS_MIN, "plants under the sky") and \
                c.below("straight_share", PLANTS_STRAIGHT_MAX, "natural (irregular texture)"):
            night = dark_sky or c.below("brightness", NIGHT_BRIGHTNESS, "night")
            if night and not lightning:
                return SETTINGS["night_nature"]
            return SETTINGS["nature"]
        c.note("plants and brown cover", round(plants, 4), "outdoors, place unclear")
        return SETTINGS["outdoors"]
    if c.at_least("green", DENSE_PLANTS_MIN, "dense plants") and \
            c.below("straight_share", PLANTS_STRAIGHT_MAX, "natural (irregular texture)"):
        return SETTINGS["vegetation"]
    if built and c.at_least("brightness", DARK_BRIGHTNESS, "lit interior") and \
            c.below("green", PLANTS_MIN, "no plants"):
        return SETTINGS["room"]
    return UNCLEAR


THUNDER = "a rumble of thunder"


def _events(c: _Checks, setting: Setting, prompt: str | None, lightning: bool = False
            ) -> list[str]:
    events: list[str] = []
    people = float(c.features.get("people", 0.0))
    movers = float(c.features.get("walkers", 0.0))
    if c.has("people") or c.has("walkers"):
        c.note("people or upright movers", max(people, movers), "someone who may walk")
    else:
        c.note("people", "no people detector in this OpenCV", "nobody can be seen walking")
    # Walking needs two signs: a person (an upright mover, or several people the detector
    # finds) and movement low in the frame. One detection alone may be a shape like a person.
    walking = movers >= 1 or people >= WALKERS_SEEN_MIN
    if people >= 1 and not walking:
        c.note("one person found, nothing moving upright", people, "no footsteps: one sign only")
    if walking and c.at_least("object_motion_low", WALK_MOTION_MIN, "feet moving"):
        events.append(_footsteps(c, setting))
        if c.at_least("people", CROWD_MIN, "a crowd"):
            if wants_voices(prompt or ""):
                events.append("a crowd murmuring")
                c.note("voices allowed by the prompt", True, "a crowd murmuring")
            else:
                c.note("voices allowed by the prompt", False, "no crowd murmur")
    if lightning:
        if setting.key in OUTDOOR_KEYS:
            events.append(THUNDER)
            c.note("lightning under the sky", True, THUNDER)
        else:
            c.note("a flash not under the sky", True, "no thunder: a camera flash or a lamp")
    return events


def _footsteps(c: _Checks, setting: Setting) -> str:
    """Footsteps on the surface the lower part of the frame shows."""
    if c.at_least("ground_green", GRASS_MIN, "grass underfoot"):
        return "footsteps on grass"
    if setting.key in ("room",):
        if c.at_least("ground_brown", EARTH_MIN, "a wooden floor"):
            return "footsteps on a wooden floor"
        return "footsteps on a hard floor"
    if setting.key in ("city", "city_night"):
        return "footsteps on pavement"
    if c.at_least("ground_texture", GRAVEL_TEXTURE_MIN, "gravel (fine ground texture)"):
        return "footsteps on gravel"
    if c.at_least("ground_brown", EARTH_MIN, "an earth path"):
        return "footsteps on a dirt path"
    return "footsteps nearby"


def setting_for(scene: Scene) -> Setting:
    """The place a scene's evidence supports (:func:`read_scene`); colour and light alone
    support none (:data:`UNCLEAR`), a scene the planner does not see gets :data:`NEUTRAL`."""
    return read_scene(scene).setting


def motion_class(motion: float) -> str:
    """Name the amount of visible movement in words a caption can use."""
    if motion >= FAST_MOTION:
        return "fast"
    if motion >= CALM_MOTION:
        return "moderate"
    return "calm"


def prompt_clauses(prompt: str | None) -> list[str]:
    """Split a user's prompt into sound phrases: the first is the bed, the rest are events."""
    if not prompt:
        return []
    parts = re.split(r"[,;\n]|\band then\b|\bthen\b", prompt)
    return [p.strip(" .") for p in parts if p.strip(" .")]


def prompt_phrases(prompt: str | None) -> tuple[list[str], list[str]]:
    """The phrases the offline Designer makes sounds from (the first
    :data:`MAX_PROMPT_PHRASES`: a bed, then events) and those it leaves out."""
    clauses = prompt_clauses(prompt)
    return clauses[:MAX_PROMPT_PHRASES], clauses[MAX_PROMPT_PHRASES:]


def scene_events(events: list[str], position: int) -> list[str]:
    """The prompt events the scene at ``position`` (its index) takes: all of them when there
    are few, else :data:`MAX_PROMPT_EVENTS_PER_SCENE` in turn (scene 0 the first ones, scene 1
    the next, wrapping round), so a scene never piles up every event of a long prompt."""
    per_scene = MAX_PROMPT_EVENTS_PER_SCENE
    if len(events) <= per_scene:
        return list(events)
    first = position * per_scene % len(events)
    return [events[(first + n) % len(events)] for n in range(per_scene)]


def prompt_warnings(prompt: str | None, positions: list[int]) -> list[str]:
    """What the offline Designer leaves out of a long prompt for scenes at ``positions``:
    phrases past :data:`MAX_PROMPT_PHRASES`, and events no scene had room for; each named."""
    used, left_out = prompt_phrases(prompt)
    warnings = []
    if left_out:
        warnings.append(
            f"the prompt has {len(used) + len(left_out)} phrases; sounds are made from the "
            f"first {MAX_PROMPT_PHRASES} (a bed and {MAX_PROMPT_PHRASES - 1} events), so "
            f"{len(left_out)} were left out: {quoted(left_out)}")
    events = used[1:]
    taken = {text for position in positions for text in scene_events(events, position)}
    unused = [text for text in events if text not in taken]
    if unused:
        warnings.append(
            f"{len(unused)} prompt phrase(s) became no sound: a scene takes at most "
            f"{MAX_PROMPT_EVENTS_PER_SCENE} of the prompt's events and this video has "
            f"{len(positions)} scene(s): {quoted(unused)}")
    return warnings


def quoted(texts: list[str], shown: int = 10) -> str:
    """The first ``shown`` texts, quoted, and how many more there are: a warning stays short."""
    names = ", ".join(repr(text) for text in texts[:shown])
    return names + (f" and {len(texts) - shown} more" if len(texts) > shown else "")


def wants_voices(*texts: str) -> bool:
    return any(VOICE_WORDS.search(t or "") for t in texts)


def wants_music(*texts: str) -> bool:
    return any(MUSIC_WORDS.search(t or "") for t in texts)


def _span(scene: Scene) -> str:
    return f"{scene['start']:.1f}-{scene['end']:.1f} s"


def describe_video(scenes: list[Scene], prompt: str | None) -> str:
    """Whole-video description: the scenes in order with a rough timeline, each named by the
    place its evidence supports and the sounds that go with it, as its script will be
    (:func:`read_scene`); a scene seen by colour and light alone is named by no place."""
    if not scenes:
        return "An empty video."
    duration = scenes[-1]["end"]
    lines = [f"A {duration:.1f} s video in {len(scenes)} scene(s)."]
    for scene in scenes:
        reading = read_scene(scene, prompt)
        line = (f"{_span(scene)}: {_place_words(scene, reading.setting)}, "
                f"{motion_class(scene.get('motion', 0.0))} movement")
        if reading.setting.key not in NEUTRAL_KEYS:
            line += f"; {reading.setting.background}"
        if reading.events:
            line += f"; {', '.join(reading.events)}"
        lines.append(line + ".")
    clauses = prompt_clauses(prompt)
    if clauses:
        lines.append("Sound direction from the user: " + "; ".join(clauses) + ".")
    return " ".join(lines)


def _place_words(scene: Scene, setting: Setting) -> str:
    """The place in words; an unclear one says at least how light it is."""
    if setting is UNCLEAR and float(scene.get("brightness", 0.5)) < DARK_BRIGHTNESS:
        return f"a dark {setting.place[2:]}"
    return setting.place


def _actions(scene: Scene, reading: Reading) -> list[str]:
    movement = motion_class(float(scene.get("motion", 0.0)))
    features = scene_features(scene) or {}
    camera = float(features.get("camera_motion", 0.0))
    things = float(features.get("object_motion", 0.0))
    if movement != "calm" and "camera_motion" in features:
        if camera >= CAMERA_MOVES and things < THINGS_MOVE:
            return ["the camera moves; little in the picture moves by itself"]
        if reading.events and reading.events[0].startswith("footsteps"):
            return ["someone walks"]
    return {
        "calm": ["little or nothing moves"],
        "moderate": ["things move at a steady pace"],
        "fast": ["fast movement across the frame"],
    }[movement]


def describe_scene(scene: Scene, prompt: str | None = None) -> SceneScript:
    """Per-scene script (background, entities, actions, caption) from what is visible, with
    the evidence behind its place and events (``evidence``, ``setting``, ``events``)."""
    reading = read_scene(scene, prompt)
    setting = reading.setting
    actions = _actions(scene, reading)
    place = _place_words(scene, setting)
    caption = f"{place[0].upper()}{place[1:]}; {actions[0]}."
    script: SceneScript = {
        "scene_id": scene["id"],
        "background": setting.background,
        "entities": list(setting.entities),
        "actions": actions,
        "caption": caption,
        "author": "offline",
    }
    if setting is not NEUTRAL:
        script["setting"] = setting.key
        script["events"] = list(reading.events)
        script["evidence"] = [dict(record) for record in reading.evidence]
    return script


def review_pair(
    previous: Scene | None,
    previous_script: SceneScript | None,
    scene: Scene,
    script: SceneScript,
    overview: str,
    prompt: str | None,
) -> tuple[ReviewAction, str, SceneScript | None]:
    """Storyboarder's verdict on one scene: keep it, merge it into the previous, or correct it.

    Two neighbours merge when place, movement and background sound continue; a caption is
    corrected when it ignores the sound direction of the whole-video description.
    Returns (action, reason, corrected script or None).
    """
    if previous is not None and previous_script is not None:
        same_place = (previous_script.get("setting") or setting_for(previous).key) == (
            script.get("setting") or setting_for(scene).key)
        same_motion = motion_class(previous.get("motion", 0.0)) == motion_class(
            scene.get("motion", 0.0)
        )
        same_bed = previous_script.get("background") == script.get("background")
        if same_place and same_motion and same_bed:
            return (
                "merge",
                "place, movement and background sound continue from the previous scene",
                None,
            )
    clauses = prompt_clauses(prompt)
    if clauses and clauses[0].lower() not in script.get("caption", "").lower():
        corrected = script.copy()
        corrected["background"] = clauses[0]
        corrected["caption"] = f"{script['caption'].rstrip('.')}; heard: {clauses[0]}."
        return ("correct", "caption did not carry the user's sound direction", corrected)
    return ("keep", "consistent with its neighbours and the whole-video description", None)


def design_scene(
    scene: Scene,
    script: SceneScript,
    prompt: str | None,
    onsets: list[float],
    seed: int,
) -> SceneDesign:
    """Sound design of one scene: a background bed and foreground events on motion onsets.

    Steps as the method has them: sound-making entities and actions, then the background,
    then priority (main action in front, the rest behind). A long prompt gives at most a bed
    and :data:`MAX_PROMPT_EVENTS_PER_SCENE` events (:func:`scene_events`).
    """
    rng = random.Random(f"{seed}:{scene['id']}")
    setting = SETTINGS.get(script.get("setting", ""), None) or setting_for(scene)
    movement = motion_class(float(scene.get("motion", 0.0)))
    clauses, _ = prompt_phrases(prompt)
    start, end = float(scene["start"]), float(scene["end"])
    bed_text = clauses[0] if clauses else script.get("background") or setting.background
    sounds: list[Sound] = [
        _sound(scene, 0, "background", bed_text, start, end, -6.0 + rng.uniform(-1.0, 1.0), [])
    ]
    event_texts = scene_events(clauses[1:], int(scene.get("index", 0)))
    if not event_texts and "events" in script:
        event_texts = list(script["events"])  # what the evidence supports; none stays none
    elif not event_texts and movement != "calm":
        event_texts = ["a quick whoosh of fast movement" if movement == "fast" else setting.event]
    event_times = _event_times(onsets, start, end, rng)
    for number, text in enumerate(event_texts, start=1):
        times = event_times[number - 1 :: len(event_texts)] or event_times[:1]
        if not times:
            continue
        sounds.append(_sound(scene, number, "foreground", text, start, end, -2.0, times))
    reasoning = (
        f"Entities: {', '.join(script.get('entities', [])) or 'none'}; "
        f"actions: {', '.join(script.get('actions', [])) or 'none'}. "
        f"Background: {bed_text}. "
        + (f"Foreground on {len(event_times)} motion onset(s): {', '.join(event_texts)}."
           if event_texts and event_times else "No foreground event: the picture is calm.")
    )
    return {"scene_id": scene["id"], "reasoning": reasoning, "silence": False, "sounds": sounds}


def _event_times(onsets: list[float], start: float, end: float, rng: random.Random) -> list[float]:
    """Onsets inside the scene; evenly spread times when the picture gave none."""
    inside = [t for t in onsets if start <= t < end - 0.05]
    if inside:
        return inside
    length = end - start
    count = max(1, int(length // 3.0))
    return [start + length * (i + 0.5 + rng.uniform(-0.2, 0.2)) / count for i in range(count)]


def _sound(
    scene: Scene,
    number: int,
    layer: Layer,
    text: str,
    start: float,
    end: float,
    volume_db: float,
    onsets: list[float],
) -> Sound:
    return {
        "id": f"{scene['id']}-{'bed' if layer == 'background' else 'fx'}{number}",
        "scene_id": scene["id"],
        "layer": layer,
        "description": text,
        "query": text,
        "start": start,
        "end": end,
        "volume_db": round(volume_db, 2),
        "onsets": [round(t, 3) for t in onsets],
        "excluded_labels": [],
    }


def review_label(sound: Sound, choice: LabelChoice, prompt: str | None) -> tuple[bool, str]:
    """Designer's verdict on one label choice: final, or rejected with the reason."""
    context = f"{sound.get('description', '')} {prompt or ''}"
    if not choice.get("label"):
        return False, "no label was found for this sound"
    if choice.get("speech") and not wants_voices(context):
        return False, f"'{choice['label']}' is a human voice, which the picture does not call for"
    if choice.get("music") and not wants_music(context):
        return False, f"'{choice['label']}' is music, which the design does not ask for"
    if float(choice.get("score", 0.0)) < MIN_LABEL_SCORE:
        return False, f"'{choice['label']}' fits the description poorly"
    return True, "fits the description"


def choose_label(
    sound: Sound, candidates: list[LabelCandidate], prompt: str | None
) -> LabelCandidate | None:
    """Best-scoring candidate the Designer has not refused, avoiding voices and music unless
    the sound or the prompt asks for them; None when nothing was retrieved."""
    usable = [c for c in candidates if c["label"] not in sound.get("excluded_labels", [])]
    context = f"{sound.get('description', '')} {prompt or ''}"
    voiced_ok, music_ok = wants_voices(context), wants_music(context)
    preferred = [c for c in usable if (voiced_ok or not c.get("speech"))
                 and (music_ok or not c.get("music"))]
    pool = preferred or usable or candidates
    return max(pool, key=lambda c: c["score"]) if pool else None


class OfflinePlanner:
    """The Planner protocol over the functions above: no model, no network, deterministic.

    ``vision`` False: every scene is read without its colour and light (the neutral setting).
    """

    name = "offline"

    def __init__(self, *, vision: bool = True) -> None:
        self.vision = vision

    def _seen(self, scene: Scene) -> Scene:
        if self.vision:
            return scene
        blind = cast(SeenScene, without_looks(scene))
        blind.pop("evidence", None)
        return blind

    def describe_video(self, scenes: list[Scene], prompt: str | None,
                       log: object = None) -> str:
        return describe_video([self._seen(s) for s in scenes], prompt)

    def describe_scene(self, scene: Scene, overview: str, prompt: str | None,
                       log: object = None) -> SceneScript:
        return describe_scene(self._seen(scene), prompt)

    def review_pair(self, previous: Scene | None, previous_script: SceneScript | None,
                    scene: Scene, script: SceneScript, overview: str, prompt: str | None,
                    log: object = None) -> tuple[ReviewAction, str, SceneScript | None]:
        return review_pair(None if previous is None else self._seen(previous), previous_script,
                           self._seen(scene), script, overview, prompt)

    def design_scene(self, scene: Scene, script: SceneScript, prompt: str | None,
                     onsets: list[float], seed: int, log: object = None) -> SceneDesign:
        return design_scene(self._seen(scene), script, prompt, onsets, seed)

    def select_labels(self, design: SceneDesign, candidates: dict[str, list[LabelCandidate]],
                      prompt: str | None, log: object = None) -> dict[str, LabelCandidate | None]:
        return {sound["id"]: choose_label(sound, candidates.get(sound["id"], []), prompt)
                for sound in design["sounds"]}

    def review_labels(self, design: SceneDesign, choices: dict[str, LabelChoice],
                      prompt: str | None,
                      log: object = None) -> dict[str, tuple[bool, str, str | None]]:
        verdicts: dict[str, tuple[bool, str, str | None]] = {}
        for sound in design["sounds"]:
            if sound["id"] in choices:
                final, reason = review_label(sound, choices[sound["id"]], prompt)
                verdicts[sound["id"]] = (final, reason, None)
        return verdicts
