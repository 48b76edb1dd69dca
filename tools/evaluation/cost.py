"""What a run cost, per minute of video, read from the run's own records.

A run directory (``<output>.lvas/``) holds ``plan.json`` (the video's duration in
``video_info``) and ``llm_usage.json`` (model calls and tokens, summed in ``summary.total``).
Wall time, per-node timings and GPU-seconds are in ``summary.json``, which every CLI run and
every ablation pair writes there (the same object as ``lvas dub --json`` prints); a summary can
also be passed explicitly. Units: seconds of wall time, calls, tokens and GPU-seconds, each
divided by the video's length in minutes. A figure no record holds (a run made before runs
kept their summary) is ``None`` with the reason in ``missing``, never guessed.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CostReport:
    video_minutes: float
    model_calls: int
    tokens: int
    wall_seconds: float | None
    gpu_seconds: float | None
    per_minute: dict[str, float | None]
    missing: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _read(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a JSON object")
    return data


def run_cost(run_dir: str | os.PathLike[str],
             summary: str | os.PathLike[str] | dict[str, Any] | None = None) -> CostReport:
    """Cost of the run in ``run_dir``, from its ``summary.json`` unless ``summary`` (the CLI's
    ``--json`` output, a path or the parsed object) is given."""
    root = Path(run_dir)
    plan = _read(root / "plan.json")
    duration = float((plan.get("video_info") or {}).get("duration") or 0.0)
    if duration <= 0:
        duration = float((plan.get("storyboard") or {}).get("duration") or 0.0)
    if duration <= 0:
        raise ValueError(f"{root / 'plan.json'} records no video duration")
    missing: list[str] = []
    usage_path = root / "llm_usage.json"
    total: dict[str, Any] = {}
    if usage_path.exists():
        total = (_read(usage_path).get("summary") or {}).get("total") or {}
    else:
        missing.append("llm_usage.json (model calls and tokens counted as 0)")
    calls = int(total.get("calls") or 0)
    tokens = int(total.get("tokens_in") or 0) + int(total.get("tokens_out") or 0)
    if summary is None and (root / "summary.json").is_file():
        summary = root / "summary.json"
    info = (_read(Path(summary)) if isinstance(summary, (str, os.PathLike))
            else dict(summary or {}))
    wall = float(info["seconds"]) if info.get("seconds") is not None else None
    if wall is None:
        missing.append("wall time: the run kept no summary.json; pass the CLI's --json summary")
    gpu = float(info["gpu_seconds"]) if info.get("gpu_seconds") is not None else None
    if gpu is None:
        missing.append("GPU-seconds: not recorded by the run")
    minutes = duration / 60.0
    per_minute = {
        "wall_seconds": None if wall is None else wall / minutes,
        "model_calls": calls / minutes,
        "tokens": tokens / minutes,
        "gpu_seconds": None if gpu is None else gpu / minutes,
    }
    return CostReport(minutes, calls, tokens, wall, gpu, per_minute, missing)
