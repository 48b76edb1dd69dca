"""The plan file: everything a run decided, readable and editable by a person.

``lvas plan`` writes it and stops; a person may edit descriptions, times, volumes or labels;
``lvas render`` validates it (clear errors, no traceback) and renders from it. The plan
records its video, so a render needs nothing else.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.paths import write_json

PLAN_VERSION = 1
TILE_TOLERANCE = 1e-3


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class PlanScene(_Loose):
    id: str
    index: int = 0
    start: float = Field(ge=0)
    end: float
    shots: list[int] = []
    keyframes: list[str] = []


class PlanSound(_Loose):
    id: str
    scene_id: str
    layer: Literal["background", "foreground"]
    description: str = Field(min_length=1)
    query: str = ""
    start: float = Field(ge=0)
    end: float
    volume_db: float = Field(ge=-60, le=12)
    onsets: list[float] = []
    excluded_labels: list[str] = []

    @model_validator(mode="after")
    def _span(self) -> PlanSound:
        if self.end <= self.start:
            raise ValueError(
                f"sound {self.id}: end ({self.end}) must be after start ({self.start})"
            )
        return self


class PlanDesign(_Loose):
    scene_id: str
    reasoning: str = ""
    silence: bool = False
    sounds: list[PlanSound] = []


class PlanChoice(_Loose):
    sound_id: str
    label: str = ""
    family: str = ""
    source: str = ""
    score: float = 0.0


class PlanStoryboard(_Loose):
    duration: float = Field(gt=0)
    fps: float = 0.0
    cuts: list[float] = []


class PlanNarrationLine(_Loose):
    id: str
    start: float = Field(ge=0)
    end: float
    text: str = Field(min_length=1)
    voice: str = Field(default="", pattern=r"^$|^[A-Za-z0-9][A-Za-z0-9_.+/-]{0,63}$")

    @model_validator(mode="after")
    def _span(self) -> PlanNarrationLine:
        if self.end <= self.start:
            raise ValueError(
                f"narration line {self.id}: end ({self.end}) must be after start ({self.start})"
            )
        return self


class Plan(_Loose):
    lvas_plan_version: int
    video: str = Field(min_length=1)
    video_info: dict[str, Any] = {}
    prompt: str = ""
    seed: int = 0
    storyboard: PlanStoryboard
    scenes: list[PlanScene] = Field(min_length=1)
    overview: str = ""
    scripts: dict[str, dict[str, Any]] = {}
    designs: dict[str, PlanDesign] = {}
    label_choices: dict[str, PlanChoice] = {}
    narration: list[PlanNarrationLine] = []

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        if self.lvas_plan_version != PLAN_VERSION:
            raise ValueError(f"lvas_plan_version {self.lvas_plan_version} is not supported "
                             f"(this LVAS reads version {PLAN_VERSION})")
        duration = self.storyboard.duration
        scenes = sorted(self.scenes, key=lambda s: s.start)
        if abs(scenes[0].start) > TILE_TOLERANCE or abs(scenes[-1].end - duration) > 0.05:
            raise ValueError(f"scenes must cover 0 to {duration} s")
        for a, b in zip(scenes, scenes[1:], strict=False):
            if abs(a.end - b.start) > TILE_TOLERANCE:
                raise ValueError(f"scenes {a.id} and {b.id} leave a gap or overlap "
                                 f"({a.end} vs {b.start})")
        scene_ids = {s.id for s in scenes}
        sound_ids: set[str] = set()
        for key, design in self.designs.items():
            if design.scene_id not in scene_ids:
                raise ValueError(f"design {key} refers to unknown scene {design.scene_id!r}")
            for sound in design.sounds:
                if sound.id in sound_ids:
                    raise ValueError(f"sound id {sound.id!r} is used twice")
                sound_ids.add(sound.id)
                if sound.end > duration + 0.05:
                    raise ValueError(f"sound {sound.id} ends at {sound.end} s, after the video "
                                     f"({duration} s)")
        for line in self.narration:
            if line.start >= duration or line.end > duration + 0.05:
                raise ValueError(f"narration line {line.id} ({line.start}-{line.end} s) runs "
                                 f"past the video ({duration} s)")
        unknown = set(self.label_choices) - sound_ids
        if unknown:
            raise ValueError(f"label_choices for unknown sounds: {', '.join(sorted(unknown))}")
        return self


PLAN_KEYS = ("scenes", "overview", "scripts", "review_notes", "designs", "label_choices",
             "label_reviews", "narration_lines")


def build_plan(state: dict[str, Any], *, seed: int) -> dict[str, Any]:
    """Collect the storyboard, script, design and label choices of a run into one document."""
    storyboard = state.get("storyboard") or {}
    plan: dict[str, Any] = {
        "lvas_plan_version": PLAN_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "video": state.get("video_info", {}).get("path", state.get("video")),
        "video_info": state.get("video_info", {}),
        "prompt": state.get("prompt", ""),
        "seed": seed,
        "storyboard": {
            "duration": storyboard.get("duration"),
            "fps": storyboard.get("fps"),
            "cuts": storyboard.get("cuts", []),
            "shots": storyboard.get("shots", []),
            "motion_envelope": storyboard.get("motion_envelope", ""),
            "envelope_rate": storyboard.get("envelope_rate", 25.0),
        },
    }
    for key in PLAN_KEYS:
        plan[key] = state.get(key, {} if key in ("scripts", "designs", "label_choices") else [])
    plan["narration"] = plan.pop("narration_lines")
    return plan


def write_plan(path: str | Path, plan: dict[str, Any]) -> Path:
    return write_json(path, plan)


def load_plan(path: str | Path) -> dict[str, Any]:
    """Read and validate a plan; any problem is an LVASInputError that says where."""
    source = Path(path).expanduser()
    if not source.is_file():
        raise LVASInputError(f"Plan {source} does not exist or is not a file; "
                             "make one with 'lvas plan VIDEO -o PLAN.json'.")
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LVASInputError(f"Plan {source} is not valid JSON ({exc}); fix it or make a new "
                             "one with 'lvas plan'.") from None
    if not isinstance(data, dict):
        raise LVASInputError(f"Plan {source} must be a JSON object, as 'lvas plan' writes it.")
    try:
        Plan.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'plan'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise LVASInputError(f"Plan {source} is not valid: {problems}.") from None
    return data
