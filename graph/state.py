"""Graph state: plain, JSON-serialisable data only.

Audio, images and arrays live as files in the run directory; state refers to them by path
(relative to the run directory) so a checkpoint stays small and readable in Studio.
Times are seconds from the start of the video; scenes are half-open [start, end) intervals
that tile the whole video.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, NotRequired

# typing_extensions' TypedDict, because pydantic (Studio's schemas) rejects typing's on 3.11.
from typing_extensions import TypedDict

Layer = Literal["background", "foreground"]
ClipLayer = Literal["background", "foreground", "speech"]


def merge_by_key(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer for per-item results gathered from fanned-out nodes.

    Entries of ``right`` replace those of ``left``; an entry set to ``None`` removes the key,
    which is how a merge of two scenes retires the second one's script.
    """
    merged = dict(left or {})
    for key, value in (right or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def add_timings(left: dict[str, float] | None, right: dict[str, float] | None) -> dict[str, float]:
    """Reducer that sums seconds per node, so loops and fan-outs report their total."""
    total = dict(left or {})
    for node, seconds in (right or {}).items():
        total[node] = round(total.get(node, 0.0) + float(seconds), 4)
    return total


class Shot(TypedDict):
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


class Scene(TypedDict):
    """A run of shots with one place and one sound world; ``id`` survives merges."""

    id: str
    index: int
    start: float
    end: float
    shots: list[int]
    keyframes: list[str]
    brightness: float
    saturation: float
    hue: float
    colour: str
    motion: float


class Storyboard(TypedDict):
    duration: float
    fps: float
    cuts: list[float]
    shots: list[Shot]
    motion_envelope: str
    envelope_rate: float


class SceneScript(TypedDict):
    scene_id: str
    background: str
    entities: list[str]
    actions: list[str]
    caption: str
    author: str


class ReviewNote(TypedDict):
    """One decision of the discussion-correction loop, kept so Studio shows why."""

    round: int
    scene_id: str
    action: Literal["keep", "merge", "correct"]
    into: NotRequired[str]
    reason: str


class Sound(TypedDict):
    """One designed sound: what it is, where it sits in time and in the mix."""

    id: str
    scene_id: str
    layer: Layer
    description: str
    query: str
    start: float
    end: float
    volume_db: float
    onsets: list[float]
    excluded_labels: list[str]


class SceneDesign(TypedDict):
    scene_id: str
    reasoning: str
    silence: bool
    sounds: list[Sound]


class LabelCandidate(TypedDict):
    label: str
    source: str
    score: float
    family: str


class LabelChoice(TypedDict):
    sound_id: str
    query: str
    label: str
    source: str
    family: str
    score: float
    speech: bool
    music: bool
    candidates: list[LabelCandidate]
    round: int


class LabelReview(TypedDict):
    """One verdict of the generate-retrieve-optimize loop."""

    round: int
    sound_id: str
    label: str
    final: bool
    reason: str
    new_query: NotRequired[str]


class Clip(TypedDict):
    sound_id: str
    path: str
    sha256: str
    start: float
    duration: float
    sample_rate: int
    layer: ClipLayer
    family: str
    gain_db: float
    backend: str
    attempts: NotRequired[int]  # renders it took (a silent/clipped/NaN take is rendered again)
    clap_score: NotRequired[float]  # audio-text similarity, when a CLAP model is configured


class NarrationLine(TypedDict):
    """A line to be spoken (narration or dialogue), from a subtitle file or the plan."""

    id: str
    start: float
    end: float
    text: str
    voice: str


class Artifacts(TypedDict, total=False):
    """Where a run's files are (relative to the run directory, but for the output video)."""

    soundtrack: str
    stems: dict[str, str]
    report: str
    timeline: str
    plan: str
    plan_output: str
    output: str
    loudness_lufs: float
    peak_db: float


class InputState(TypedDict, total=False):
    """What a caller provides: the video and the user's options.

    ``plan`` renders an existing plan file instead of planning (the video may then be left
    out: the plan records it); ``plan_only`` stops once the plan is written, also to
    ``plan_output`` when given; ``narration`` is a subtitle (.srt/.vtt) or timed-text file of
    lines to voice (only when the context's ``narration`` is on).
    """

    video: str
    prompt: str
    output: str
    plan: str
    plan_only: bool
    plan_output: str
    narration: str


class LVASState(InputState, total=False):
    """Everything the roles hand to each other along the graph's edges."""

    run_dir: str
    output_path: str
    video_info: dict[str, Any]
    storyboard: Storyboard
    scenes: list[Scene]
    overview: str
    scripts: Annotated[dict[str, SceneScript], merge_by_key]
    rescript: list[str]
    review_round: int
    review_notes: Annotated[list[ReviewNote], operator.add]
    designs: dict[str, SceneDesign]
    label_choices: dict[str, LabelChoice]
    label_round: int
    label_final: bool
    label_reviews: Annotated[list[LabelReview], operator.add]
    narration_lines: list[NarrationLine]
    clips: Annotated[dict[str, Clip], merge_by_key]
    artifacts: Artifacts
    warnings: Annotated[list[str], operator.add]
    timings: Annotated[dict[str, float], add_timings]
    llm_usage: Annotated[list[dict[str, Any]], operator.add]


class OutputState(TypedDict, total=False):
    """What a caller gets back: the plan and where the artifacts are."""

    run_dir: str
    output_path: str
    video_info: dict[str, Any]
    scenes: list[Scene]
    overview: str
    scripts: dict[str, SceneScript]
    designs: dict[str, SceneDesign]
    label_choices: dict[str, LabelChoice]
    narration_lines: list[NarrationLine]
    clips: dict[str, Clip]
    artifacts: Artifacts
    warnings: list[str]
    timings: dict[str, float]
    llm_usage: list[dict[str, Any]]


class SceneTask(TypedDict):
    """Payload sent to the per-scene Scriptwriter."""

    scene: Scene
    overview: str
    prompt: str
    run_dir: str
    review_round: int


class ClipTask(TypedDict):
    """Payload sent to the per-sound generator."""

    sound: Sound
    choice: LabelChoice
    run_dir: str
    video: str
