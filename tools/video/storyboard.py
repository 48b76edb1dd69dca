"""The Storyboarder's work as one call: analyse a video once, then form scenes from its shots.

Shared by the graph's Storyboarder node and ``lvas scenes``. The result is plain JSON and is
saved beside the keyframes; a repeated call with the same video and settings reads it back
instead of decoding again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lvas.tools.common.paths import content_hash, file_fingerprint, write_json
from lvas.tools.common.types import Scene, Storyboard
from lvas.tools.video.analysis import analyze_video
from lvas.tools.video.scenes import scenes_from_shots

STORYBOARD_VERSION = 2


@dataclass(frozen=True)
class StoryboardSettings:
    """How shots are detected and grouped into scenes."""

    detector: str = "content"
    threshold: float | None = None
    gradual: bool = True
    min_shot_seconds: float = 0.5
    min_scene_seconds: float = 2.0
    max_scene_seconds: float = 60.0


class StoryboardAnalysis(Storyboard):
    """What :func:`build_storyboard` returns and caches: the storyboard (with absolute paths),
    the scenes formed from its shots, and how the decoding went."""

    video: str
    settings: dict[str, Any]
    scenes: list[Scene]
    frames_decoded: int
    corrupt_frames: int
    warnings: list[str]


def storyboard_key(video: str | Path, settings: StoryboardSettings) -> str:
    """Name of the analysis folder: the video's identity and every setting that matters."""
    return content_hash(STORYBOARD_VERSION, file_fingerprint(video), asdict(settings))


def build_storyboard(
    video: str | Path, out_dir: str | Path, settings: StoryboardSettings | None = None
) -> StoryboardAnalysis:
    """Cuts, shots (with keyframes and looks), scenes and the motion envelope of ``video``.

    Paths in the result are absolute; ``storyboard.json`` in ``out_dir`` caches it.
    """
    settings = settings or StoryboardSettings()
    out = Path(out_dir)
    cache = out / "storyboard.json"
    if cache.exists():
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if cached.get("settings") == asdict(settings) and _files_exist(cached):
            return cached
    analysis = analyze_video(
        video, out, detector=settings.detector, threshold=settings.threshold,
        min_shot_seconds=settings.min_shot_seconds, gradual=settings.gradual,
    )
    shots = [shot.to_dict() for shot in analysis.shots]
    envelope = np.load(analysis.envelope_path)
    scenes = scenes_from_shots(
        shots, duration=analysis.duration, min_scene_seconds=settings.min_scene_seconds,
        max_scene_seconds=settings.max_scene_seconds, envelope=envelope,
        envelope_rate=analysis.envelope_rate,
    )
    storyboard: StoryboardAnalysis = {
        "video": str(Path(video).resolve()),
        "settings": asdict(settings),
        "duration": analysis.duration,
        "fps": analysis.fps,
        "cuts": list(analysis.cuts),
        "shots": shots,
        "scenes": scenes,
        "motion_envelope": analysis.envelope_path,
        "envelope_rate": analysis.envelope_rate,
        "frames_decoded": analysis.frames_decoded,
        "corrupt_frames": analysis.corrupt_frames,
        "warnings": list(analysis.warnings),
    }
    write_json(cache, storyboard)
    return storyboard


def _files_exist(storyboard: StoryboardAnalysis) -> bool:
    paths = [storyboard.get("motion_envelope", "")]
    paths += [k for shot in storyboard.get("shots", []) for k in shot.get("keyframes", [])]
    return all(p and Path(p).exists() for p in paths)
