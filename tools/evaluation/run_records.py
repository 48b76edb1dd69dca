"""What a dub's run directory tells the metrics: scenes, motion envelope, text and cost records.

``lvas dub`` keeps its run directory beside the output (``clip.dubbed.mp4`` ->
``clip.dubbed.lvas/``) with ``plan.json`` (the storyboard with the motion envelope's path,
the scenes, the prompt and the Designer's sound descriptions), ``llm_usage.json`` and, for
runs made since runs keep it, ``summary.json`` (wall time, GPU-seconds). Scoring a dubbed
video then needs no second decode of the picture: the Storyboarder's own envelope and scenes
are used, the ones the soundtrack was made for.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lvas.tools.evaluation.onsets import RATE

TEXT_LIMIT = 400
"""Characters of plan text kept for text–audio scoring (CLAP reads short captions)."""


@dataclass(frozen=True)
class RunRecords:
    """What one run directory holds that scoring uses; each field None when it is not there."""

    run_dir: Path
    plan: dict[str, Any]
    motion: np.ndarray | None = None
    scenes: tuple[tuple[float, float], ...] = ()
    text: str | None = None
    text_source: str | None = None
    input_video: Path | None = None
    summary: dict[str, Any] | None = None
    notes: tuple[str, ...] = field(default=())


def find_run_dir(path: str | os.PathLike[str]) -> Path | None:
    """The run directory of a dubbed file: ``<stem>.lvas`` beside it, or the folder the file
    sits in when that is a run directory (``out.lvas/soundtrack.wav``)."""
    p = Path(path).expanduser()
    for candidate in (p.with_name(p.stem + ".lvas"), p.parent):
        if (candidate / "plan.json").is_file():
            return candidate
    return None


def _json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def plan_text(plan: dict[str, Any]) -> tuple[str | None, str | None]:
    """What the soundtrack should sound like, and where that came from: the user's prompt,
    else the Designer's sound descriptions, else the Scriptwriter's overview."""
    prompt = str(plan.get("prompt") or "").strip()
    if prompt:
        return prompt[:TEXT_LIMIT], "the run's prompt"
    seen: list[str] = []
    for design in (plan.get("designs") or {}).values():
        for sound in design.get("sounds", []):
            text = str(sound.get("description") or "").strip()
            if text and text not in seen:
                seen.append(text)
    if seen:
        return "; ".join(seen)[:TEXT_LIMIT], "the plan's sound descriptions"
    overview = str(plan.get("overview") or "").strip()
    if overview:
        return overview[:TEXT_LIMIT], "the plan's overview"
    return None, None


def read_run(run_dir: str | os.PathLike[str]) -> RunRecords | None:
    """The records of ``run_dir``; None when it has no readable ``plan.json``."""
    root = Path(run_dir)
    plan = _json(root / "plan.json")
    if plan is None:
        return None
    notes: list[str] = []
    board = plan.get("storyboard") or {}
    motion = None
    envelope = str(board.get("motion_envelope") or "")
    if envelope:
        env_path = Path(envelope) if Path(envelope).is_absolute() else root / envelope
        rate = float(board.get("envelope_rate") or RATE)
        if not env_path.is_file():
            notes.append(f"the run's motion envelope {env_path} is gone")
        elif abs(rate - RATE) > 1e-6:
            notes.append(f"the run's motion envelope is at {rate} Hz, not {RATE}")
        else:
            motion = np.load(env_path).astype(np.float32)
    scenes = tuple(sorted((float(s["start"]), float(s["end"])) for s in plan.get("scenes") or []
                          if "start" in s and "end" in s))
    text, source = plan_text(plan)
    video = str(plan.get("video") or "")
    summary = _json(root / "summary.json")
    return RunRecords(root, plan, motion, scenes, text, source,
                      Path(video) if video else None, summary, tuple(notes))
