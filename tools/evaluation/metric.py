"""What a metric is: its inputs, its entry in the registry, and how it runs over a set.

Kept apart from ``registry`` so that metric families in their own modules (the weight-free
ones, the model-based ones in ``models``) can declare entries without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

Numbers = dict[str, float | None]


@dataclass(frozen=True)
class MetricInputs:
    """What a metric may need about one scored item: the soundtrack always, the rest only
    where the metric declares it."""

    soundtrack: Path
    reference: Sequence[Path] = ()  # reference audio of the same video (original track)
    video: Path | None = None  # the picture, for audio-visual models (ImageBind, Synchformer)
    text: str | None = None  # what the sound should be (the prompt or the plan), for CLAP
    motion: np.ndarray | None = None  # the Storyboarder's 25 Hz motion envelope
    scenes: Sequence[tuple[float, float]] = ()  # (start, end) seconds
    run_dir: Path | None = None
    summary: Mapping[str, Any] | None = None  # the CLI's --json summary
    category: str | None = None  # a manifest's optional category, for per-category tables


@dataclass(frozen=True)
class Metric:
    """One registered metric.

    ``compute`` scores one item. A distribution metric (FD, IS) also has ``compute_set``,
    which pools every item's windows into one value, as the field reports them; its per-item
    value is the same statistic over that item's windows alone. ``availability`` says why the
    metric cannot run on this machine ("needs weights: ...", "needs package: ..."), or None.
    """

    name: str
    unit: str
    description: str
    compute: Callable[[MetricInputs], Numbers]
    aliases: tuple[str, ...] = ()
    needs_reference: bool = False
    needs_video: bool = False  # the motion envelope and the scenes
    needs_picture: bool = False  # the video file itself (frames)
    needs_text: bool = False
    needs_run: bool = False  # a run directory's records
    keys: tuple[str, ...] = field(default=())
    compute_set: Callable[[Sequence[MetricInputs]], Numbers] | None = None
    availability: Callable[[], str | None] = lambda: None
    aggregation: str = "per item; mean over items"
    family: Literal["weight-free", "model"] = "weight-free"
