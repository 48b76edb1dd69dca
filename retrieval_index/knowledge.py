"""The sound-label knowledge base: VGGSound and AudioSet classes with retrieval-ready metadata.

Each label gets the flags the Synthesizer needs to pick sounds safely (speech, music, layer) and
a recipe family so the procedural synthesizer can render any label it is handed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lvas.retrieval_index.text import stem, stems, tokens

DATA_DIR = Path(__file__).resolve().parent / "data"
VGGSOUND_CSV = "vggsound_stat.csv"
AUDIOSET_CSV = "audioset_class_labels_indices_527.csv"
ONTOLOGY_JSON = "audioset_ontology.json"
SCENARIOS_YAML = "scenarios.yaml"
CONTEXT_YAML = "context.yaml"
SITUATIONS_YAML = "situations.yaml"  # optional: scenes per label, see record_views
LINKS_JSON = "vggsound_audioset_links.json"
DATA_FILES = (VGGSOUND_CSV, AUDIOSET_CSV, ONTOLOGY_JSON, SCENARIOS_YAML, CONTEXT_YAML, LINKS_JSON)
# Every file under data/ counts towards the fingerprint (see data_fingerprint), not only these.
_FINGERPRINT_SUFFIXES = (".csv", ".json", ".yaml", ".yml", ".txt", ".md")

# Bump when the meaning of records changes in a way the source hash below would not show.
KNOWLEDGE_VERSION = "2"

FAMILIES = (
    "rain", "water", "wind", "thunder", "fire", "engine", "traffic", "crowd", "speech", "birds",
    "insects", "animal", "footsteps", "impact", "explosion", "machine", "bell", "alarm", "music",
    "whoosh", "hum", "room_tone",
)  # fmt: skip
LAYERS = ("background", "foreground", "both")
SOURCES = ("vggsound", "audioset", "user")


@dataclass(frozen=True)
class LabelRecord:
    """One sound label with what retrieval and synthesis need to know about it."""

    id: str
    label: str
    source: str
    category: str
    ancestors: tuple[str, ...]
    description: str
    layer: str
    speech: bool
    music: bool
    family: str
    scenarios: tuple[str, ...] = ()
    links: tuple[str, ...] = ()  # VGGSound only: the closest AudioSet classes
    aliases: tuple[str, ...] = ()  # everyday wordings of the same sound
    context: str = ""  # how sounds of this family and category are usually heard
    situations: tuple[str, ...] = ()  # scenes where this sound is what one hears

    @property
    def document(self) -> str:
        """Text to embed: the label first, then what it means and where it sits."""
        return record_document(self)

    @property
    def views(self) -> list[tuple[str, str]]:
        """(kind, text) pairs, each embedded on its own; retrieval scores the best match."""
        return record_views(self)


def record_document(record: LabelRecord) -> str:
    """Embedding text for ``record`` (label, description, ancestry, category, scenarios)."""
    parts = [record.label.strip().rstrip(".") + "."]
    if record.description:
        parts.append(record.description.strip())
    context = [a for a in record.ancestors if a.lower() != record.label.lower()]
    if context:
        parts.append("Kind of: " + ", ".join(context) + ".")
    if record.category and record.category.lower() not in {a.lower() for a in context}:
        parts.append(f"Category: {record.category}.")
    if record.scenarios:
        titles = [SCENARIOS[s].title if s in SCENARIOS else s for s in record.scenarios]
        parts.append("Heard in: " + ", ".join(titles) + ".")
    return " ".join(parts)


def _first_sentence(text: str) -> str:
    head = re.split(r"(?<=[.;])\s", text.strip(), maxsplit=1)[0]
    return head.rstrip(".;")


TERM_VIEW = "term"  # view kinds "term1", "term2", ...: one alias each
SITUATION_VIEW = "situation"  # "situation1", ...: one scene where the sound is heard


def view_kind(view: str) -> str:
    """The kind of a stored view name ("term3" -> "term", "gloss" -> "gloss")."""
    return view.rstrip("0123456789") or view


def record_views(record: LabelRecord) -> list[tuple[str, str]]:
    """The texts a label is found by: its bare name (exact wording), its name with a short
    gloss (the description's first sentence, or its aliases), its name in context (family
    and category phrases, scenarios), and each of its aliases alone. Short texts keep each
    view's meaning sharp for a small sentence model; the long document alone blurs a label
    into its ancestors."""
    name = record.label.strip().rstrip(".")
    views = [("name", name)]
    gloss = _first_sentence(record.description) if record.description else ""
    if gloss:
        views.append(("gloss", f"{name}: {gloss}"))
    if record.aliases:
        views.append(("alias", f"{name}: " + "; ".join(record.aliases)))
    setting = [record.context] if record.context else []
    if record.scenarios:
        setting.append(
            "heard in " + ", ".join(SCENARIOS[s].title for s in record.scenarios if s in SCENARIOS)
        )
    if setting:
        views.append(("context", f"{name} ({'; '.join(setting)})"))
    # Each everyday wording on its own as well: joined into one text, many aliases blur into an
    # average that matches none of them well; alone, "hoover" meets "hoovering the rug" head-on.
    terms = dict.fromkeys(a.strip() for a in record.aliases if a.strip())
    views.extend((f"{TERM_VIEW}{i}", term) for i, term in enumerate(terms, start=1))
    # Scenes where the sound is heard ("sneakers on a polished gym floor" for Squeak) carry the
    # world knowledge a small sentence model lacks; each is matched on its own, like an alias.
    situations = dict.fromkeys(s.strip() for s in record.situations if s.strip())
    views.extend((f"{SITUATION_VIEW}{i}", s) for i, s in enumerate(situations, start=1))
    return views


# --- family rules ------------------------------------------------------------------------------
# Ordered: the first family whose phrase occurs in the label wins; if none, the label's ancestors
# are tried nearest first, then the category. Species and instruments come before generic words
# so that "elephant trumpeting" is an animal and "wind chime" a bell.
_FAMILY_RULES: tuple[tuple[str, str], ...] = (
    ("bell", "bell, cowbell, doorbell, ding dong, chime, gong, singing bowl, tuning fork, "
             "change ringing, campanology, jingle tinkle, jingle, ding"),
    ("insects", "insect, cricket, mosquito, housefly, fly, bee, wasp, cicada, beetle"),
    ("animal", "animal, pet, dog, puppy, bark, yip, howl, bow wow, growl, bay, cat, kitten, purr, "
               "meow, hiss, caterwaul, horse, clip clop, neigh, whinny, cattle, bovina, moo, cow, "
               "bull, pig, oink, goat, bleat, sheep, livestock, lion, tiger, roar, "
               "roaring cat, canida, wolve, wolf, coyote, fox, rodent, rat, mouse, mice, "
               "patter, frog, croak, snake, rattl, whale, elephant, gibbon, chimpanze, "
               "cheetah, chipmunk, otter, alligator, crocodil, donkey, ass, zebra, elk, "
               "ferret, chinchilla, sea lion, dinosaur, monkey, bear"),
    ("birds", "bird, chirp, tweet, squawk, pigeon, dove, coo, crow, caw, owl, hoot, chicken, "
              "rooster, cluck, cock a doodle doo, turkey, gobbl, duck, quack, goose, fowl, "
              "canary, mynah, parrot, woodpecker, pheasant, francolin, thrush, warbler, "
              "chickadee, magpie, swallow, oriole, cuckoo, eagle, penguin, seagull, gull"),
    ("explosion", "explosion, explod, gun, gunshot, gunfire, machine gun, fusillade, artillery, "
                  "cannon, musket, cap gun, firework, firecracker, burst, eruption, boom, bomb, "
                  "missile, blast, shoot"),
    ("alarm", "alarm, siren, beep, bleep, buzzer, smoke detector, telephone, phone, ringtone, "
              "dial tone, busy signal, dtmf, foghorn, horn, whistl, sonar, ping"),
    ("music", "music, musical, instrument, guitar, bass, piano, organ, synthesizer, sampler, "
              "harpsichord, drum, snare, cymbal, hi hat, tabla, timpani, tympani, percussion, "
              "tambourine, maraca, marimba, xylophone, glockenspiel, vibraphon, steelpan, "
              "orchestra, trumpet, trombone, cornet, bugl, tuba, violin, fiddl, cello, viola, "
              "string section, pizzicato, flute, saxophon, clarinet, oboe, bassoon, harp, "
              "harmonica, accordion, bagpip, didgeridoo, shofar, theremin, banjo, sitar, "
              "mandolin, zither, ukulel, erhu, strum, bongo, conga, djembe, timbal, guiro, "
              "castanet, washboard, metronom, scratching, song, sing, singer, choir, yodel, "
              "chant, mantra, opera, capella, beatbox, beat box, whistling, melody"),
    ("crowd", "crowd, cheer, applaus, applaud, clap, boo, hubbub, chatter, children play, "
              "people babbl, children shout, battle cry, audience, stadium"),
    ("speech", "speech, speak, talk, conversation, narration, monologue, babbl, whisper, shout, "
               "yell, bellow, whoop, scream, laugh, laughter, giggl, snicker, snigger, chuckl, "
               "cry, sob, whimper, wail, moan, sigh, groan, grunt, rap, cough, sneez, sniff, "
               "burp, eructation, hiccup, gargl, breath, wheez, snor, gasp, pant, snort, "
               "throat clear, nose blow, voice, fart, lip smack"),
    ("footsteps", "footstep, walk, shuffl, march, tap danc, stomp, tread, stair"),
    ("thunder", "thunder, thunderstorm, lightning"),
    ("rain", "rain, raindrop, hail, drizzl, shower"),
    ("wind", "wind, breez, gust, tornado, hurrican, storm, rustling leav, leaf"),
    ("water", "water, stream, waterfall, ocean, wav, surf, sea, river, brook, creek, lake, "
              "splash, splatter, slosh, squish, drip, pour, trickl, dribbl, gush, fill, spray, "
              "pump, stir, boil, bubbl, burbl, gurgl, liquid, faucet, sink, bathtub, toilet, "
              "flush, underwater, scuba, swim, dive, diving, sail, sailboat, rowboat, row, "
              "canoe, kayak, steam, ice"),
    ("fire", "fire, crackl, flame, burn, blaze, campfir, bonfir, fry, frying, sizzl, "
             "blowtorch, torch, lighter, match"),
    ("engine", "engine, motor, revv, vroom, idl, accelerat, motorcycl, motorbik, moped, scooter, "
               "lawn mower, mow, chainsaw, chainsaw tree, helicopter, airplan, aircraft, jet, "
               "propeller, airscrew, plane, flyby, snowmobil, tractor, race car, ship, boat, "
               "outboard, generator"),
    ("traffic", "traffic, roadway, road, car, bus, truck, vehicl, train, rail, railroad, subway, "
                "metro, underground, tram, skid, tire, tyre, brak, bicycl, roller coaster, "
                "highway, street"),
    ("machine", "machine, mechanism, mechanical, gear, pulley, ratchet, pawl, clock, tick, "
                "tick tock, sewing, fan, air condition, ventilation, printer, print, camera, "
                "cash register, vacuum, hair dryer, dryer, blender, microwav, drill, jackhammer, "
                "power tool, tool, saw, sawing, sand, filing, rasp, lath, grinder, grind, shaver, "
                "razor, trimmer, weld, typewriter, typ, keyboard, mouse click, computer, "
                "slot machin, toothbrush, whir, electric, window, appliance, planing"),
    ("whoosh", "whoosh, swoosh, swish, whip, flap, arrow, zing, swing, sweep, ski, slid, "
               "sound effect, chirp ton"),
    ("impact", "impact, hit, knock, tap, thump, thud, thunk, bang, slap, smack, whack, thwack, "
               "smash, crash, break, shatter, glass, chink, clink, clang, clatter, crack, crunch, "
               "crush, crumpl, crinkl, tear, rip, scrap, scratch, rub, roll, bounc, bowl, strik, "
               "kick, shot, ball, tennis, squash, badminton, volleyball, hockey, lacross, golf, "
               "dart, pool, door, slam, drawer, cupboard, dish, pot, pan, cutlery, silverware, "
               "chop, hammer, nail, splinter, wood, coin, key, jangl, zipper, scissor, card, "
               "click, clickety clack, plop, squeak, creak, snap, finger, hand, eat, chew, bit, "
               "biting, crisp, appl, popcorn, pop, boing, trampolin, rope skip, skateboard, "
               "writ, chalk, knif, forg, sword, bottl, paper, plastic, metal"),
    ("hum", "hum, mains hum, drone, throb, vibration, rumbl, sine wav, harmonic, pulse, buzz"),
    ("room_tone", "silence, room, inside, outside, hall, public space, reverberation, echo, noise, "
                  "environmental, white noise, pink noise, static, field recording, ambienc, "
                  "ambient, cacophony, television, radio, distortion, sidetone, urban, rural"),
)

# Labels whose words mislead the rules above (lower-cased label -> family).
_FAMILY_OVERRIDES: dict[str, str] = {
    "playing french horn": "music", "french horn": "music", "brass instrument": "music",
    "wind instrument, woodwind instrument": "music", "whistling": "speech",
    "people whistling": "speech", "people humming": "music", "humming": "music",
    "police radio chatter": "speech", "run": "footsteps", "people running": "footsteps",
    "shuffling cards": "impact", "computer keyboard": "machine",
    "motorboat, speedboat": "engine", "motorboat, speedboat acceleration": "engine",
    "opening or closing car doors": "impact", "opening or closing car electric windows": "machine",
    "power windows, electric windows": "machine", "emergency vehicle": "alarm",
    "ice cream truck, ice cream van": "music", "stomach rumble": "speech",
    "dinosaurs bellowing": "animal", "bull bellowing": "animal", "ice cracking": "impact",
    "cattle, bovinae cowbell": "bell", "eating with cutlery": "impact",
    "chopping wood": "impact", "skidding": "traffic", "tire squeal": "traffic",
    "popping popcorn": "impact", "lighting firecrackers": "explosion", "volcano explosion":
    "explosion", "underwater bubbling": "water", "scuba diving": "water",
    "electric shaver, electric razor": "machine", "lawn mowing": "engine", "sliding door": "whoosh",
    "speech synthesizer": "speech", "synthetic singing": "music", "singing bowl": "bell",
    "wind chime": "bell", "rain on surface": "rain", "fireworks banging": "explosion",
    "people eating": "impact", "chewing, mastication": "impact", "children playing": "crowd",
    "hubbub, speech noise, speech babble": "crowd", "mains hum": "hum", "hiss": "animal",
    "steam whistle": "alarm", "kettle whistle": "alarm", "whistle": "alarm",
    "train whistle": "alarm", "train whistling": "alarm", "roller coaster running": "traffic",
    "strike lighter": "fire",
    "arc welding": "machine", "blowtorch igniting": "fire", "heart sounds, heartbeat": "impact",
    "heart murmur": "hum", "television": "speech", "radio": "speech", "sonar": "alarm",
    "patter": "animal", "cupboard open or close": "impact", "drawer open or close": "impact",
    "bicycle bell": "bell", "jingle bell": "bell", "church bell ringing": "bell",
    "tornado roaring": "wind", "rattle (instrument)": "music", "scratch": "impact",
    "babbling": "speech", "baby babbling": "speech", "people babbling": "crowd",
    "sine wave": "hum", "planing timber": "machine", "mouse clicking": "machine",
    "dental drill, dentist's drill": "machine", "buzz": "insects", "chirp tone": "alarm",
    "electronic tuner": "alarm", "effects unit": "music", "chorus effect": "music",
    "rustle": "whoosh", "heavy metal": "music", "rock and roll": "music", "jingle (music)": "music",
    "yodelling": "music",
}  # fmt: skip

_CATEGORY_FAMILY: dict[str, str] = {
    # VGGSound super-categories
    "animals": "animal", "music": "music", "people": "speech", "sports": "impact",
    "vehicle": "traffic", "nature": "wind", "tools": "machine", "home": "impact",
    "others": "impact",
    # AudioSet top-level classes
    "human sounds": "speech", "animal": "animal", "natural sounds": "wind",
    "sounds of things": "impact", "source-ambiguous sounds": "impact",
    "channel, environment and background": "room_tone",
}  # fmt: skip

# --- flags --------------------------------------------------------------------------------------
# Human voice: speech, singing, shouting, laughter, crying and crowds that carry voices.
_SPEECH_PHRASES = (
    "speech, speak, talk, conversation, narration, monologue, babbl, babble, whisper, shout, yell, "
    "bellow, whoop, scream, laugh, laughter, giggl, snicker, snigger, chuckl, cry, sob, whimper, "
    "wail, moan, sigh, groan, sing, singer, choir, yodel, chant, mantra, rap, opera, "
    "capella, beatbox, beat box, vocal, voice, chatter, hubbub, crowd, cheer, boo, battle cry, "
    "children play, narrator, television, radio, song, yodelling"
)
_SPEECH_ANCESTORS = ("human voice", "speech", "singing", "vocal music", "shout", "laughter")
_NOT_SPEECH = (
    "parrot talking", "dog whimpering", "whimper (dog)", "bull bellowing", "dinosaurs bellowing",
    "bird song", "cricket", "mynah bird singing", "people whistling", "whistling",
    "chirp, tweet", "bird vocalization, bird call, bird song", "singing bowl",
    "steel guitar, slide guitar", "eagle screaming",
)
_SPEECH_EXTRA = ("people humming", "humming")
_MUSIC_ANCESTORS = ("music", "musical instrument")
_NOT_MUSIC = (
    "bird vocalization, bird call, bird song", "mynah bird singing", "cattle, bovinae cowbell",
    "cowbell", "bicycle bell", "doorbell", "jingle bell", "ice cream truck, ice cream van",
    "speech synthesizer",
)  # fmt: skip
_MUSIC_PHRASES = (
    "sing, singer, choir, yodel, yodelling, rap, beatbox, beat box, opera, capella, song, "
    "chant, mantra, melody, instrument"
)

# Layers: ambience-like labels form the bed; discrete events are foreground; some can be either.
_BACKGROUND_PHRASES = (
    "ambienc, ambient, background music, room, inside, outside, hall, public space, "
    "environmental, noise, white noise, pink noise, static, silence, reverberation, echo, "
    "field recording, hum, mains hum, air condition, ventilation, rain, raining, wind, "
    "rustling leav, stream, waterfall, ocean, wav, surf, sea, burbl, traffic, roadway, hubbub, "
    "chatter, tornado, thunderstorm, underwater, throb, vibration, "
    "cacophony, insect, cricket, electric fan, mechanical fan, ventilation fan"
)
_FOREGROUND_PHRASES = (
    "raindrop, splash, drip, plop, squish, pour, spray, slosh, gush, passing by, flyby, skid, "
    "horn, door, chime, boat, wind instrument, wind chime, sea lion, accelerat, rev, starting, "
    "knocking, boo, gun, shooting, cannon, musket, artillery, siren, alarm, whistl"
)
_BOTH_PHRASES = (
    "idl, engine, rain on surface, fire, crackl, boil, fry, gurgl, vacuum, hair dryer, fan, "
    "music, bird, chirp, tweet, helicopter, airplan, aircraft, train, subway, railroad, "
    "applaus, cheer, clap, applause, frog, bee, mosquito, fly, rumbl, steam, sailing, "
    "hail, thunder, clock, tick, typing, machine, printer, sewing, lawn mow, orchestra"
)
_LAYER_OVERRIDES: dict[str, str] = {
    "people humming": "foreground", "humming": "foreground", "people crowd": "both",
    "police radio chatter": "foreground", "whistling": "foreground",
    "people whistling": "foreground",
    "hubbub, speech noise, speech babble": "background",
}  # fmt: skip
_FAMILY_LAYER: dict[str, str] = {
    "rain": "background", "water": "both", "wind": "background", "thunder": "both",
    "fire": "both", "engine": "both", "traffic": "both", "crowd": "both", "speech": "foreground",
    "birds": "both", "insects": "both", "animal": "foreground", "footsteps": "foreground",
    "impact": "foreground", "explosion": "foreground", "machine": "both", "bell": "foreground",
    "alarm": "foreground", "music": "both", "whoosh": "foreground", "hum": "background",
    "room_tone": "background",
}  # fmt: skip


Phrase = list[frozenset[str]]


def _phrases(spec: str) -> list[Phrase]:
    """Each phrase as a sequence of accepted stems: the word as written and its stem, so rules
    may be written either in full ("chimpanzee") or pre-stemmed ("crackl")."""
    return [
        [frozenset({w, stem(w)}) for w in tokens(p)] for p in spec.split(",") if p.strip()
    ]


_FAMILY_RULES_STEMMED = [(family, _phrases(spec)) for family, spec in _FAMILY_RULES]
_SPEECH_STEMMED = _phrases(_SPEECH_PHRASES)
_MUSIC_STEMMED = _phrases(_MUSIC_PHRASES)
_BACKGROUND_STEMMED = _phrases(_BACKGROUND_PHRASES)
_FOREGROUND_STEMMED = _phrases(_FOREGROUND_PHRASES)
_BOTH_STEMMED = _phrases(_BOTH_PHRASES)


def _contains(words: list[str], phrase: Phrase) -> bool:
    n = len(phrase)
    return any(
        all(words[i + j] in phrase[j] for j in range(n)) for i in range(len(words) - n + 1)
    )


def _matches(text: str, phrases: list[Phrase]) -> bool:
    words = stems(text)
    return any(_contains(words, p) for p in phrases)


def _family_of_text(text: str) -> str | None:
    words = stems(text)
    for family, phrases in _FAMILY_RULES_STEMMED:
        if any(_contains(words, p) for p in phrases):
            return family
    return None


def classify_family(label: str, ancestors: Iterable[str] = (), category: str = "") -> str:
    """Recipe family: overrides, then label words, ancestors (nearest first), then category."""
    key = label.strip().lower()
    if key in _FAMILY_OVERRIDES:
        return _FAMILY_OVERRIDES[key]
    for text in (label, *ancestors):
        family = _family_of_text(text)
        if family is not None:
            return family
    return _CATEGORY_FAMILY.get(category.strip().lower(), "room_tone")


def classify_speech(label: str, ancestors: Iterable[str] = ()) -> bool:
    """Whether the label carries a human voice (speech, singing, shouting, laughing, crowds)."""
    key = label.strip().lower()
    if key in _NOT_SPEECH:
        return False
    if key in _SPEECH_EXTRA:
        return True
    if _matches(label, _SPEECH_STEMMED):
        return True
    return any(a.lower() in _SPEECH_ANCESTORS for a in ancestors)


def classify_music(label: str, ancestors: Iterable[str] = (), category: str = "") -> bool:
    """Whether the label is music: a genre, an instrument, or sung or rapped voice."""
    key = label.strip().lower()
    if key in _NOT_MUSIC:
        return False
    if category.strip().lower() == "music" or key == "music":
        return True
    if any(a.lower() in _MUSIC_ANCESTORS for a in ancestors):
        return True
    return _matches(label, _MUSIC_STEMMED)


def classify_layer(label: str, family: str) -> str:
    """Background for ambience and beds, foreground for discrete events, both where it varies."""
    key = label.strip().lower()
    if key in _LAYER_OVERRIDES:
        return _LAYER_OVERRIDES[key]
    if _matches(label, _FOREGROUND_STEMMED):
        return "foreground"
    if _matches(label, _BACKGROUND_STEMMED):
        return "background"
    if _matches(label, _BOTH_STEMMED):
        return "both"
    return _FAMILY_LAYER.get(family, "foreground")


# --- loading ------------------------------------------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _make_record(
    id_: str, label: str, source: str, category: str, ancestors: tuple[str, ...], description: str
) -> LabelRecord:
    family = classify_family(label, ancestors, category)
    return LabelRecord(
        id=id_,
        label=label,
        source=source,
        category=category,
        ancestors=ancestors,
        description=description,
        layer=classify_layer(label, family),
        speech=classify_speech(label, ancestors),
        music=classify_music(label, ancestors, category),
        family=family,
    )


def _load_vggsound(data_dir: Path) -> list[LabelRecord]:
    records = []
    with open(data_dir / VGGSOUND_CSV, newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            if len(row) < 3 or not row[0].strip():
                continue
            label, category = row[0].strip(), row[2].strip()
            records.append(
                _make_record(f"vggsound:{_slug(label)}", label, "vggsound", category, (), "")
            )
    return records


def _ancestor_names(
    ontology: dict[str, dict], parents: dict[str, list[str]], mid: str
) -> list[str]:
    """All ancestor names of ``mid``, nearest first (breadth-first over every parent)."""
    seen: list[str] = []
    frontier = list(parents.get(mid, []))
    while frontier:
        nxt: list[str] = []
        for pid in frontier:
            if pid in seen:
                continue
            seen.append(pid)
            nxt.extend(parents.get(pid, []))
        frontier = nxt
    return [ontology[p]["name"] for p in seen if p in ontology]


def _top_level(ontology: dict[str, dict], parents: dict[str, list[str]], mid: str) -> str:
    """Name of the root reached by always following the first-listed parent."""
    current, guard = mid, 0
    while parents.get(current) and guard < 32:
        current, guard = parents[current][0], guard + 1
    return ontology[current]["name"] if current in ontology else ""


def _load_audioset(data_dir: Path) -> list[LabelRecord]:
    with open(data_dir / ONTOLOGY_JSON, encoding="utf-8") as fh:
        entries = json.load(fh)
    ontology = {e["id"]: e for e in entries}
    parents: dict[str, list[str]] = {}
    for entry in entries:
        for child in entry.get("child_ids", []):
            parents.setdefault(child, []).append(entry["id"])
    records = []
    with open(data_dir / AUDIOSET_CSV, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            mid, label = row["mid"].strip(), row["display_name"].strip()
            entry = ontology.get(mid, {})
            ancestors = tuple(_ancestor_names(ontology, parents, mid))
            category = _top_level(ontology, parents, mid) if mid in ontology else ""
            records.append(
                _make_record(
                    f"audioset:{mid}",
                    label,
                    "audioset",
                    category or label,
                    ancestors,
                    str(entry.get("description", "")).strip(),
                )
            )
    return records


def _load_user(path: Path) -> list[LabelRecord]:
    from lvas.tools.common.errors import LVASInputError

    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - PyYAML ships with the project's dependencies
        raise LVASInputError("User label files need PyYAML: pip install pyyaml") from exc
    if not path.is_file():
        raise LVASInputError(f"User label file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise LVASInputError(f"User label file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return []
    if not isinstance(data, list):
        raise LVASInputError(f"User label file {path} must be a YAML list of {{label: ...}} items")
    records = []
    for i, item in enumerate(data):
        if isinstance(item, str):
            item = {"label": item}
        if not isinstance(item, dict) or not str(item.get("label", "")).strip():
            raise LVASInputError(f"Item {i} of {path} needs a non-empty 'label'")
        label = str(item["label"]).strip()
        scenarios = tuple(str(x).strip() for x in item.get("scenarios") or ())
        unknown = [x for x in scenarios if x not in SCENARIOS]
        if unknown:
            raise LVASInputError(
                f"Item {i} of {path}: unknown scenario(s) {unknown}; known: {sorted(SCENARIOS)}"
            )
        aliases = item.get("aliases") or ()
        aliases = (aliases,) if isinstance(aliases, str) else tuple(str(a) for a in aliases)
        category = str(item.get("category", "user")).strip() or "user"
        description = str(item.get("description", "") or "").strip()
        family = str(item.get("family") or classify_family(f"{label} {description}", (), category))
        layer = str(item.get("layer") or classify_layer(label, family))
        if family not in FAMILIES:
            raise LVASInputError(f"Item {i} of {path}: family {family!r} is not one of {FAMILIES}")
        if layer not in LAYERS:
            raise LVASInputError(f"Item {i} of {path}: layer {layer!r} is not one of {LAYERS}")
        records.append(
            LabelRecord(
                id=f"user:{_slug(label)}",
                label=label,
                source="user",
                category=category,
                ancestors=(),
                description=description,
                layer=layer,
                speech=bool(item.get("speech", classify_speech(label))),
                music=bool(item.get("music", classify_music(label, (), category))),
                family=family,
                scenarios=scenarios,
                aliases=aliases,
            )
        )
    return records


# --- scenarios, context and links ----------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    """A common kind of video scene and the labels typically heard in it."""

    name: str
    title: str
    heard_as: str
    labels: tuple[str, ...]


def _read_yaml(path: Path) -> Any:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_scenarios(data_dir: Path = DATA_DIR) -> dict[str, Scenario]:
    """Scenario groups from ``scenarios.yaml``, by name (e.g. "forest", "rain_storm")."""
    raw = _read_yaml(data_dir / SCENARIOS_YAML)
    if not isinstance(raw, dict):
        raise ValueError(f"{SCENARIOS_YAML} must map scenario names to groups")
    return {
        str(name): Scenario(
            name=str(name),
            title=str(body.get("title", name)),
            heard_as=str(body.get("heard_as", "")),
            labels=tuple(str(label).strip() for label in body.get("labels", [])),
        )
        for name, body in raw.items()
    }


SCENARIOS: dict[str, Scenario] = load_scenarios()


def _load_situations(data_dir: Path) -> dict[str, tuple[str, ...]]:
    """Label (lower case) -> scenes where it is heard, from ``situations.yaml`` if present."""
    path = data_dir / SITUATIONS_YAML
    raw = _read_yaml(path) if path.exists() else None
    return {str(k).strip().lower(): tuple(str(p).strip() for p in (v or []) if str(p).strip())
            for k, v in (raw or {}).items()}


def _load_context(data_dir: Path) -> dict[str, dict[str, str]]:
    raw = _read_yaml(data_dir / CONTEXT_YAML) or {}
    out: dict[str, dict[str, str]] = {}
    for section in ("families", "categories", "aliases"):
        out[section] = {str(k).strip().lower(): str(v).strip()
                        for k, v in (raw.get(section) or {}).items()}
    return out


def load_links(data_dir: Path = DATA_DIR) -> dict[str, tuple[str, ...]]:
    """VGGSound label (lower case) -> names of its closest AudioSet ontology classes."""
    raw = json.loads((data_dir / LINKS_JSON).read_text(encoding="utf-8"))
    return {k.strip().lower(): tuple(v) for k, v in raw["links"].items()}


def _ontology_by_name(data_dir: Path) -> tuple[dict[str, dict], dict[str, dict], dict]:
    with open(data_dir / ONTOLOGY_JSON, encoding="utf-8") as fh:
        entries = json.load(fh)
    ontology = {e["id"]: e for e in entries}
    parents: dict[str, list[str]] = {}
    for entry in entries:
        for child in entry.get("child_ids", []):
            parents.setdefault(child, []).append(entry["id"])
    return {e["name"].lower(): e for e in entries}, ontology, parents


def _enrich(records: list[LabelRecord], data_dir: Path) -> list[LabelRecord]:
    """Add scenarios, aliases and context to every record, and give VGGSound labels the
    description and ancestry of their linked AudioSet classes. Flags and families stay as the
    label's own words decide them: a link informs the text, it does not relabel the sound."""
    context = _load_context(data_dir)
    situations = _load_situations(data_dir)
    links = load_links(data_dir)
    by_name, ontology, parents = _ontology_by_name(data_dir)
    in_scenario: dict[str, list[str]] = {}
    for scenario in SCENARIOS.values():
        for label in scenario.labels:
            in_scenario.setdefault(label.lower(), []).append(scenario.name)
    out = []
    for rec in records:
        key = rec.label.strip().lower()
        changes: dict[str, Any] = {
            "scenarios": tuple(dict.fromkeys((*rec.scenarios, *in_scenario.get(key, ()))))
        }
        alias = context["aliases"].get(key, "")
        aliases = (*rec.aliases, *(a.strip() for a in alias.split(",") if a.strip()))
        changes["aliases"] = tuple(dict.fromkeys(aliases))
        changes["situations"] = tuple(dict.fromkeys((*rec.situations, *situations.get(key, ()))))
        phrases = [context["families"].get(rec.family, "")]
        phrases.append(context["categories"].get(rec.category.strip().lower(), ""))
        changes["context"] = "; ".join(p for p in phrases if p)
        if rec.source == "vggsound" and key in links:
            linked = [by_name[n.lower()] for n in links[key] if n.lower() in by_name]
            changes["links"] = tuple(e["name"] for e in linked)
            descriptions = [str(e.get("description", "")).strip() for e in linked]
            changes["description"] = " ".join(d for d in descriptions[:1] if d)
            ancestry = [e["name"] for e in linked]
            if linked:
                ancestry += _ancestor_names(ontology, parents, linked[0]["id"])
            changes["ancestors"] = tuple(dict.fromkeys(a for a in ancestry if a.lower() != key))
        out.append(replace(rec, **changes))
    return out


def _unique_ids(records: list[LabelRecord]) -> list[LabelRecord]:
    seen: dict[str, int] = {}
    out = []
    for rec in records:
        n = seen.get(rec.id, 0)
        seen[rec.id] = n + 1
        if n:
            rec = replace(rec, id=f"{rec.id}~{n + 1}")
        out.append(rec)
    return out


def load_knowledge_base(extra_labels_yaml: str | Path | None = None) -> list[LabelRecord]:
    """VGGSound's 309 and AudioSet's 527 labels, plus any user labels from a YAML list."""
    records = _enrich(_load_vggsound(DATA_DIR) + _load_audioset(DATA_DIR), DATA_DIR)
    if extra_labels_yaml is not None:
        records += _enrich(_load_user(Path(extra_labels_yaml)), DATA_DIR)
    return _unique_ids(records)


def data_fingerprint(extra_labels_yaml: str | Path | None = None) -> str:
    """sha256 over label data, these rules and any user labels: rebuild when it changes."""
    digest = hashlib.sha256()
    digest.update(f"knowledge-v{KNOWLEDGE_VERSION}\n".encode())
    names = sorted(
        {p.name for p in DATA_DIR.iterdir() if p.suffix in _FINGERPRINT_SUFFIXES} | set(DATA_FILES)
    )
    for name in names:
        digest.update(name.encode() + b"\0" + (DATA_DIR / name).read_bytes())
    for module in ("knowledge.py", "text.py"):
        digest.update((Path(__file__).resolve().parent / module).read_bytes())
    if extra_labels_yaml is not None:
        path = Path(extra_labels_yaml)
        digest.update(b"user\0" + (path.read_bytes() if path.is_file() else b""))
    return digest.hexdigest()
