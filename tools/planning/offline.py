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

from lvas.tools.common.limits import MAX_PROMPT_EVENTS_PER_SCENE, MAX_PROMPT_PHRASES
from lvas.tools.common.types import (
    LabelCandidate,
    LabelChoice,
    Layer,
    ReviewAction,
    Scene,
    SceneDesign,
    SceneScript,
    Sound,
)
from lvas.tools.video.scenes import without_looks

# Motion is the mean absolute difference of consecutive small grey frames (0..1).
CALM_MOTION = 0.008
FAST_MOTION = 0.03
MIN_LABEL_SCORE = 0.3
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
    "night": Setting("night", "a dark, night-time place", "crickets chirping in the night air",
                     ("darkness",), "footsteps on a path"),
    "overcast": Setting("overcast", "a bright, colourless open space",
                        "steady wind blowing over open ground", ("open sky",),
                        "footsteps crunching on snow"),
    "urban": Setting("urban", "a muted, grey street or building",
                     "distant city traffic rumbling", ("buildings",), "a car passing by"),
    "foliage": Setting("foliage", "a green outdoor place with plants and trees",
                       "birds singing in the trees", ("trees", "grass"),
                       "footsteps on grass and twigs"),
    "water": Setting("water", "a bright blue open view of sky or water",
                     "waves washing on a shore", ("water", "sky"), "water splashing"),
    "cool_interior": Setting("cool_interior", "a dim room lit in cool blue",
                             "the low hum of an air conditioner", ("walls",),
                             "footsteps on a hard floor"),
    "fire": Setting("fire", "a warm place lit in saturated orange and red",
                    "a fire crackling", ("flames",), "logs cracking in a fire"),
    "warm_interior": Setting("warm_interior", "a warmly lit indoor room",
                             "the quiet tone of a room", ("walls", "furniture"),
                             "footsteps on a wooden floor"),
    "dry_land": Setting("dry_land", "a sunlit, yellow and dry landscape",
                        "wind blowing through dry grass", ("open land",),
                        "footsteps on gravel"),
    "studio": Setting("studio", "a brightly coloured space",
                      "the quiet tone of a room", ("coloured surfaces",),
                      "objects being handled"),
}


NEUTRAL = Setting("unseen", "an unseen place", "a quiet, steady background ambience", (),
                  "footsteps nearby")
"""The setting of a scene whose picture the planner does not see: no place is guessed."""

_LOOKS = ("brightness", "saturation", "hue")


def setting_for(scene: Scene) -> Setting:
    """Pick the place a scene's measured colour and light most plausibly show; the neutral
    setting when the scene carries no such measurement (vision off)."""
    if not any(key in scene for key in _LOOKS):
        return NEUTRAL
    brightness = float(scene.get("brightness", 0.5))
    saturation = float(scene.get("saturation", 0.3))
    hue = float(scene.get("hue", 0.0)) % 360.0
    if brightness < 0.18:
        return SETTINGS["night"]
    if saturation < 0.15:
        return SETTINGS["overcast"] if brightness > 0.7 else SETTINGS["urban"]
    if 75.0 <= hue < 165.0:
        return SETTINGS["foliage"]
    if 165.0 <= hue < 260.0:
        return SETTINGS["water"] if brightness > 0.45 else SETTINGS["cool_interior"]
    if hue < 45.0 or hue >= 330.0:
        return SETTINGS["fire"] if saturation > 0.55 else SETTINGS["warm_interior"]
    if 45.0 <= hue < 75.0:
        return SETTINGS["dry_land"]
    return SETTINGS["studio"]


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
    """Whole-video description: the scenes in order with a rough timeline."""
    if not scenes:
        return "An empty video."
    duration = scenes[-1]["end"]
    lines = [f"A {duration:.1f} s video in {len(scenes)} scene(s)."]
    for scene in scenes:
        setting = setting_for(scene)
        lines.append(
            f"{_span(scene)}: {setting.place}, {motion_class(scene.get('motion', 0.0))} movement."
        )
    clauses = prompt_clauses(prompt)
    if clauses:
        lines.append("Sound direction from the user: " + "; ".join(clauses) + ".")
    return " ".join(lines)


def describe_scene(scene: Scene) -> SceneScript:
    """Per-scene script (background, entities, actions, caption) from what is visible."""
    setting = setting_for(scene)
    movement = motion_class(float(scene.get("motion", 0.0)))
    actions = {
        "calm": ["little or nothing moves"],
        "moderate": ["things move at a steady pace"],
        "fast": ["fast movement across the frame"],
    }[movement]
    caption = f"{setting.place[0].upper()}{setting.place[1:]}; {actions[0]}."
    return {
        "scene_id": scene["id"],
        "background": setting.background,
        "entities": list(setting.entities),
        "actions": actions,
        "caption": caption,
        "author": "offline",
    }


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
        same_place = setting_for(previous).key == setting_for(scene).key
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
    setting = setting_for(scene)
    movement = motion_class(float(scene.get("motion", 0.0)))
    clauses, _ = prompt_phrases(prompt)
    start, end = float(scene["start"]), float(scene["end"])
    bed_text = clauses[0] if clauses else script.get("background") or setting.background
    sounds: list[Sound] = [
        _sound(scene, 0, "background", bed_text, start, end, -6.0 + rng.uniform(-1.0, 1.0), [])
    ]
    event_texts = scene_events(clauses[1:], int(scene.get("index", 0)))
    if not event_texts and movement != "calm":
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
        return scene if self.vision else without_looks(scene)

    def describe_video(self, scenes: list[Scene], prompt: str | None,
                       log: object = None) -> str:
        return describe_video([self._seen(s) for s in scenes], prompt)

    def describe_scene(self, scene: Scene, overview: str, prompt: str | None,
                       log: object = None) -> SceneScript:
        return describe_scene(self._seen(scene))

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
