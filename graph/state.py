"""Graph state: the channels the roles hand each other, and the payloads of the fan-outs.

State is plain, JSON-serialisable data only. Audio, images and arrays live as files in the run
directory; state refers to them by path (relative to the run directory) so a checkpoint stays
small and readable in Studio. Times are seconds from the start of the video; scenes are
half-open [start, end) intervals that tile the whole video. The shapes inside the channels
(scenes, designs, label choices, clips, ...) are the domain types of
``lvas.tools.common.types``, which the planners and the plan file use too.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, NotRequired

# typing_extensions' TypedDict, because pydantic (Studio's schemas) rejects typing's on 3.11.
from typing_extensions import TypedDict

from lvas.tools.common.types import (
    Artifacts,
    Clip,
    LabelChoice,
    LabelReview,
    NarrationLine,
    ReviewNote,
    Scene,
    SceneDesign,
    SceneScript,
    Shot,
    Sound,
    Storyboard,
)


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
    video: str  # the input video, for the evidence's short frame burst
    shots: NotRequired[list[Shot]]  # the scene's shots: their bursts spare the video a seek


class ClipTask(TypedDict):
    """Payload sent to the per-sound generator."""

    sound: Sound
    choice: LabelChoice
    run_dir: str
    video: str
