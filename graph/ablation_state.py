"""The ablation graph's state: channels only, as ``state`` is for the main graph.

A study runs every variant over every video; pairs fan out with ``Send`` and their records
come back through the ``runs`` and ``rows`` channels, which add up.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, NotRequired

from typing_extensions import TypedDict


class StudyVideo(TypedDict):
    """One video of the study: its id (unique stem), path, and what the manifest gave."""

    id: str
    path: str
    reference: str  # reference audio (a file, or a video whose own audio is used); "" if none
    category: str
    prompt: str


class AblationInput(TypedDict):
    """What a caller gives: the plan (a file's path or the plan's text) or a preset, the videos
    (a folder or a CSV/JSONL manifest) and the study folder."""

    videos: str
    output_dir: str
    plan: NotRequired[str]
    preset: NotRequired[str]
    seed: NotRequired[int]
    overwrite: NotRequired[bool]


class AblationOutput(TypedDict, total=False):
    """Where the results are, and what the study noted."""

    outputs: dict[str, str]
    notes: list[str]


class AblationState(TypedDict, total=False):
    """Every channel; all optional, as node updates are partial."""

    videos: str
    output_dir: str
    plan: str
    preset: str
    seed: int
    overwrite: bool
    outputs: dict[str, str]
    notes: list[str]
    study: dict[str, Any]
    study_videos: list[StudyVideo]
    runs: Annotated[list[dict[str, Any]], operator.add]
    rows: Annotated[list[dict[str, Any]], operator.add]


class PairTask(TypedDict):
    """One (variant, video) pair, sent to ``run_variant`` and then to ``score_run``."""

    variant: dict[str, Any]
    video: StudyVideo
    folder: str
    seed: int
    run: NotRequired[dict[str, Any]]
    metric_names: NotRequired[list[str]]
