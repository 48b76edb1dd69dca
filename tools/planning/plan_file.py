"""The plan file: everything a run decided, readable and editable by a person.

``lvas plan`` writes it and stops; a person may edit descriptions, times, volumes or labels;
``lvas render`` validates it (clear errors, no traceback) and renders from it. The plan
records its video, so a render needs nothing else.
"""

# No ``from __future__ import annotations``: ``Plan`` learns which keys are NotRequired only from
# annotations evaluated when the class is made.
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, NotRequired, cast

from pydantic import AfterValidator, Field, TypeAdapter, ValidationError

# typing_extensions' TypedDict, because pydantic rejects typing's on Python 3.11.
from typing_extensions import TypedDict

from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.limits import (
    MAX_PLAN_BYTES,
    MAX_PLAN_SCENES_PER_MINUTE,
    MAX_SOUNDS_PER_MINUTE,
    MAX_SOUNDS_PER_SCENE,
    check_prompt,
    plan_scenes_allowed,
    sounds_allowed,
)
from lvas.tools.common.paths import write_json
from lvas.tools.common.types import (
    LabelChoice,
    LabelReview,
    ReviewNote,
    Scene,
    SceneDesign,
    SceneScript,
    SpokenLine,
    Storyboard,
)
from lvas.tools.planning.narration import check_narration_size

PLAN_VERSION = 1
TILE_TOLERANCE = 1e-3


class Plan(TypedDict):
    """The plan document: the run's decisions in the domain's shapes, plus what it was made
    from. ``narration`` holds the state's ``narration_lines``; keys a person adds are kept."""

    lvas_plan_version: int
    video: Annotated[str, Field(min_length=1)]
    storyboard: Storyboard
    scenes: Annotated[list[Scene], Field(min_length=1)]
    created: NotRequired[str]
    video_info: NotRequired[dict[str, Any]]
    prompt: NotRequired[str]
    seed: NotRequired[int]
    overview: NotRequired[str]
    scripts: NotRequired[dict[str, SceneScript]]
    review_notes: NotRequired[list[ReviewNote]]
    designs: NotRequired[dict[str, SceneDesign]]
    label_choices: NotRequired[dict[str, LabelChoice]]
    label_reviews: NotRequired[list[LabelReview]]
    narration: NotRequired[list[SpokenLine]]


def _consistent(plan: Plan) -> Plan:
    """The checks that span the whole plan: version, scenes that tile the video, sounds and
    lines inside it, label choices only for sounds that exist."""
    if plan["lvas_plan_version"] != PLAN_VERSION:
        raise ValueError(f"lvas_plan_version {plan['lvas_plan_version']} is not supported "
                         f"(this LVAS reads version {PLAN_VERSION})")
    duration = plan["storyboard"]["duration"]
    scenes = sorted(plan["scenes"], key=lambda s: s["start"])
    if abs(scenes[0]["start"]) > TILE_TOLERANCE or abs(scenes[-1]["end"] - duration) > 0.05:
        raise ValueError(f"scenes must cover 0 to {duration} s")
    for a, b in zip(scenes, scenes[1:], strict=False):
        if abs(a["end"] - b["start"]) > TILE_TOLERANCE:
            raise ValueError(f"scenes {a['id']} and {b['id']} leave a gap or overlap "
                             f"({a['end']} vs {b['start']})")
    scene_ids = {s["id"] for s in scenes}
    sound_ids: set[str] = set()
    for key, design in plan.get("designs", {}).items():
        if design["scene_id"] not in scene_ids:
            raise ValueError(f"design {key} refers to unknown scene {design['scene_id']!r}")
        for sound in design["sounds"]:
            if sound["id"] in sound_ids:
                raise ValueError(f"sound id {sound['id']!r} is used twice")
            sound_ids.add(sound["id"])
            if sound["end"] > duration + 0.05:
                raise ValueError(f"sound {sound['id']} ends at {sound['end']} s, after the video "
                                 f"({duration} s)")
    for line in plan.get("narration", []):
        if line["start"] >= duration or line["end"] > duration + 0.05:
            raise ValueError(f"narration line {line['id']} ({line['start']}-{line['end']} s) "
                             f"runs past the video ({duration} s)")
    unknown = set(plan.get("label_choices", {})) - sound_ids
    if unknown:
        raise ValueError(f"label_choices for unknown sounds: {', '.join(sorted(unknown))}")
    return plan


@cache
def _validator() -> TypeAdapter[Plan]:
    """Built on first use: it compiles every shape's constraints (a few milliseconds)."""
    return TypeAdapter(Annotated[Plan, AfterValidator(_consistent)])


def build_plan(state: Mapping[str, Any], *, seed: int) -> Plan:
    """Collect the storyboard, script, design and label choices of a run into one document."""
    storyboard: Storyboard = state["storyboard"]
    return {
        "lvas_plan_version": PLAN_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "video": state.get("video_info", {}).get("path", state.get("video")),
        "video_info": state.get("video_info", {}),
        "prompt": state.get("prompt", ""),
        "seed": seed,
        "storyboard": {
            "duration": storyboard["duration"],
            "fps": storyboard.get("fps", 0.0),
            "cuts": storyboard.get("cuts", []),
            "shots": storyboard.get("shots", []),
            "motion_envelope": storyboard.get("motion_envelope", ""),
            "envelope_rate": storyboard.get("envelope_rate", 25.0),
        },
        "scenes": state.get("scenes", []),
        "overview": state.get("overview", ""),
        "scripts": state.get("scripts", {}),
        "review_notes": state.get("review_notes", []),
        "designs": state.get("designs", {}),
        "label_choices": state.get("label_choices", {}),
        "label_reviews": state.get("label_reviews", []),
        "narration": state.get("narration_lines", []),
    }


def write_plan(path: str | Path, plan: Plan) -> Path:
    return write_json(path, plan)


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan; any problem is an LVASInputError that says where.

    Returns the document as written (keys a person added included): validation only checks it.
    """
    source = Path(path).expanduser()
    if not source.is_file():
        raise LVASInputError(f"Plan {source} does not exist or is not a file; "
                             "make one with 'lvas plan VIDEO -o PLAN.json'.")
    size = source.stat().st_size
    if size > MAX_PLAN_BYTES:
        raise LVASInputError(f"Plan {source} is {size:,} bytes; LVAS reads plans of at most "
                             f"{MAX_PLAN_BYTES:,} (a four-hour video's plan takes about half). "
                             "Is it really a plan? Make one with 'lvas plan VIDEO -o PLAN.json'.")
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LVASInputError(f"Plan {source} is not valid JSON ({exc}); fix it or make a new "
                             "one with 'lvas plan'.") from None
    if not isinstance(data, dict):
        raise LVASInputError(f"Plan {source} must be a JSON object, as 'lvas plan' writes it.")
    try:
        _validator().validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'plan'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise LVASInputError(f"Plan {source} is not valid: {problems}.") from None
    plan = cast(Plan, data)
    check_plan_size(plan, str(source))
    return plan


def check_plan_size(plan: Plan, source: str) -> None:
    """Refuse a plan with more scenes, sounds or narration than a run makes of its video
    (the limits of :mod:`lvas.tools.common.limits`), naming the limit and what to remove."""
    duration = float(plan["storyboard"]["duration"])
    scenes = len(plan["scenes"])
    if scenes > plan_scenes_allowed(duration):
        raise LVASInputError(
            f"Plan {source} has {scenes:,} scenes; a {duration:.1f} s video's plan may have "
            f"{plan_scenes_allowed(duration):,} ({MAX_PLAN_SCENES_PER_MINUTE} per started "
            "minute). Merge scenes, or make a new plan with 'lvas plan'.")
    total = 0
    for key, design in plan.get("designs", {}).items():
        count = len(design["sounds"])
        total += count
        if count > MAX_SOUNDS_PER_SCENE:
            raise LVASInputError(
                f"Plan {source}: design {key} has {count} sounds; a scene may have at most "
                f"{MAX_SOUNDS_PER_SCENE}. Remove some from designs.{key}.sounds.")
    allowed = max(sounds_allowed(duration), scenes)
    if total > allowed:
        raise LVASInputError(
            f"Plan {source} has {total:,} sounds; a {duration:.1f} s video's plan may have "
            f"{allowed:,} ({MAX_SOUNDS_PER_MINUTE} per started minute, or one per scene). "
            "Remove the least important ones.")
    check_narration_size(plan.get("narration", []), f"Plan {source}'s narration")
    try:
        check_prompt(plan.get("prompt"))
    except LVASInputError as exc:
        raise LVASInputError(f"Plan {source}: {exc}") from None
