"""The plan file: everything a run decided, readable and editable by a person."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tools.paths import write_json

PLAN_VERSION = 1
PLAN_KEYS = ("scenes", "overview", "scripts", "review_notes", "designs", "label_choices",
             "label_reviews")


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
        },
    }
    for key in PLAN_KEYS:
        plan[key] = state.get(key, {} if key in ("scripts", "designs", "label_choices") else [])
    return plan


def write_plan(path: str | Path, plan: dict[str, Any]) -> Path:
    return write_json(path, plan)
