"""The domain's shapes, declared once: shots, scenes, scripts, sound designs, label choices,
clips and narration lines.

The graph's state (``lvas.graph.state``), the planners (``lvas.tools.planning``) and the plan
file (``lvas.tools.planning.plan_file``) all use these, so what one writes the others can read.
They are TypedDicts because state is plain JSON (DESIGN §4), and they live under ``tools``
because tools must not import LangGraph. Pydantic validates TypedDicts too: the constraints
written here with ``Field`` and the validators are exactly what ``lvas render`` checks in a
plan a person edited; elsewhere they are documentation (and Studio's JSON schema).

A key marked ``NotRequired`` is one a plan file may leave out (rendering re-derives it or does
without it) or that only some writers add; the planners always write every other key.
``tests/test_state_schema.py`` runs the pipeline and fails on any key not declared here.
"""

# No ``from __future__ import annotations`` here: TypedDicts learn which keys are NotRequired
# (``__required_keys__``) only from annotations evaluated when the class is made.
from typing import Annotated, Any, Literal, NotRequired

from pydantic import AfterValidator, BeforeValidator, Field

# typing_extensions' TypedDict, because pydantic rejects typing's on Python 3.11.
from typing_extensions import TypedDict

Layer = Literal["background", "foreground", "speech"]
"""Where a sound sits in the mix: a bed, an event, or a spoken line (narration)."""
DESIGN_LAYERS: tuple[Layer, ...] = ("background", "foreground")
"""The layers a sound design uses; speech comes from narration lines, never from a design."""
ReviewAction = Literal["keep", "merge", "correct"]

Seconds = Annotated[float, Field(ge=0)]
"""A time in seconds from the start of the video."""
Text = Annotated[str, Field(min_length=1)]
VOICE_PATTERN = r"^$|^[A-Za-z0-9][A-Za-z0-9_.+/-]{0,63}$"
"""A voice name a text-to-speech backend may be given: a name, never an option or a path."""


class Shot(TypedDict):
    """One shot: a half-open interval of the video, its keyframes and how it looks."""

    index: int
    start: float
    end: float
    keyframe: str
    keyframes: list[str]
    sharpest: str
    brightness: float
    saturation: float
    hue: float
    colour: str
    motion: float
    # Motion and flicker features of short bursts of frames inside the shot, each with its
    # span ("start", "end"): measured during the decode (lvas.tools.video.shot_bursts).
    bursts: NotRequired[list[dict[str, float]]]
    # The flash and flicker of the shot's most flickering stretch of a burst's length, with its
    # span: a flash of lightning anywhere in the shot.
    flicker: NotRequired[dict[str, float]]


class Scene(TypedDict):
    """A run of shots with one place and one sound world; ``id`` survives merges.

    The Storyboarder measures every key; a scene a person adds to a plan needs only its id and
    span.
    """

    id: str
    start: Seconds
    end: float
    index: NotRequired[int]
    shots: NotRequired[list[int]]
    keyframes: NotRequired[list[str]]
    brightness: NotRequired[float]
    saturation: NotRequired[float]
    hue: NotRequired[float]
    colour: NotRequired[str]
    motion: NotRequired[float]


class SeenScene(Scene):
    """A scene as the offline planner gets it from the Scriptwriter: with the visual evidence
    measured for it (``lvas.tools.video.evidence``); never kept in state."""

    evidence: NotRequired[dict[str, float]]


class Storyboard(TypedDict):
    """Cuts, shots and the motion envelope (a ``.npy`` file in the run directory)."""

    duration: Annotated[float, Field(gt=0)]
    fps: NotRequired[float]
    cuts: NotRequired[list[float]]
    shots: NotRequired[list[Shot]]
    motion_envelope: NotRequired[str]
    envelope_rate: NotRequired[float]


class SceneScript(TypedDict):
    """The Scriptwriter's account of one scene; ``author`` is "offline" or "chat:MODEL"."""

    scene_id: str
    background: str
    entities: list[str]
    actions: list[str]
    caption: str
    author: str
    # The offline planner's reasons: the place it chose, the events the evidence supports,
    # and each check behind them ({feature, value, op, threshold, met, supports}).
    setting: NotRequired[str]
    events: NotRequired[list[str]]
    evidence: NotRequired[list[dict[str, Any]]]


class ReviewNote(TypedDict):
    """One decision of the discussion-correction loop, kept so Studio shows why."""

    round: int
    scene_id: str
    action: ReviewAction
    into: NotRequired[str]
    reason: str


def _check_span(kind: str, item_id: str, start: float, end: float) -> None:
    if end <= start:
        raise ValueError(f"{kind} {item_id}: end ({end}) must be after start ({start})")


def _design_layer(value: object) -> object:
    """Plan check, before the shape's own: a designed sound is a bed or an event (said here,
    because the shape's own message would offer "speech" too)."""
    if isinstance(value, dict) and value.get("layer", DESIGN_LAYERS[0]) not in DESIGN_LAYERS:
        raise ValueError(f"sound {value.get('id')}: layer {value['layer']!r} must be "
                         "'background' or 'foreground' (narration lines go in 'narration')")
    return value


def _designed(sound: "Sound") -> "Sound":
    """Plan check: a designed sound ends after it starts."""
    _check_span("sound", sound["id"], sound["start"], sound["end"])
    return sound


def _spoken(line: "NarrationLine") -> "NarrationLine":
    """Plan check: a narration line ends after it starts."""
    _check_span("narration line", line["id"], line["start"], line["end"])
    return line


class Sound(TypedDict):
    """One sound: what it is, where it sits in time and in the mix.

    ``query`` is what label retrieval searches (the Designer may rewrite it); ``onsets`` are
    event times in video seconds; ``excluded_labels`` are labels the Designer refused.
    """

    id: str
    scene_id: str
    layer: Layer
    description: Text
    start: Seconds
    end: float
    volume_db: Annotated[float, Field(ge=-60, le=12)]
    query: NotRequired[str]
    onsets: NotRequired[list[float]]
    excluded_labels: NotRequired[list[str]]


_DesignedSound = Annotated[Sound, BeforeValidator(_design_layer), AfterValidator(_designed)]
"""A sound of a design: a bed or an event that ends after it starts."""


class SceneDesign(TypedDict):
    """The Designer's sounds for one scene (none when it decided on silence)."""

    scene_id: str
    sounds: list[_DesignedSound]
    reasoning: NotRequired[str]
    silence: NotRequired[bool]


class LabelCandidate(TypedDict):
    """A label retrieval offered for a sound, with what the index knows about it."""

    label: str
    source: str
    score: float
    family: str  # the procedural recipe that renders it
    category: str
    layer: str  # the layer the label suits: background, foreground or both
    speech: bool
    music: bool


class LabelChoice(TypedDict):
    """The label picked for one sound. Planning fills every key; a plan file needs only the
    sound id (and a label, or the sound is retrieved again from its description), because
    rendering re-derives the rest from the label."""

    sound_id: str
    label: NotRequired[str]
    query: NotRequired[str]
    source: NotRequired[str]
    family: NotRequired[str]
    score: NotRequired[float]
    speech: NotRequired[bool]
    music: NotRequired[bool]
    candidates: NotRequired[list[LabelCandidate]]
    round: NotRequired[int]
    voice: NotRequired[str]  # narration only: the text-to-speech voice of the line


class LabelReview(TypedDict):
    """One verdict of the generate-retrieve-optimize loop."""

    round: int
    sound_id: str
    label: str
    final: bool
    reason: str
    new_query: NotRequired[str]


class Clip(TypedDict):
    """A rendered sound: a WAV in the run directory and where it goes in the mix."""

    sound_id: str
    path: str
    sha256: str
    start: float
    duration: float
    sample_rate: int
    layer: Layer
    family: str
    gain_db: float
    backend: str
    attempts: NotRequired[int]  # renders it took (a silent/clipped/NaN take is rendered again)
    clap_score: NotRequired[float]  # audio-text similarity, when a CLAP model is configured


class NarrationLine(TypedDict):
    """A line to be spoken (narration or dialogue), from a subtitle file or the plan."""

    id: str
    start: Seconds
    end: float
    text: Text
    voice: NotRequired[Annotated[str, Field(pattern=VOICE_PATTERN)]]


SpokenLine = Annotated[NarrationLine, AfterValidator(_spoken)]
"""A narration line that ends after it starts."""


class Artifacts(TypedDict, total=False):
    """Where a run's files are (relative to the run directory, but for the output video), and
    the loudness the mixer measured before and after delivery."""

    soundtrack: str
    stems: dict[str, str]
    report: str
    timeline: str
    plan: str
    plan_output: str
    output: str
    loudness_lufs: float
    peak_db: float
    delivered_lufs: float | None  # None when the delivered track could not be measured
    delivered_peak_db: float | None
    delivery_trim_db: float
