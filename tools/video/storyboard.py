"""The Storyboarder's work as one call: analyse a video once, then form scenes from its shots.

Shared by the graph's Storyboarder node and ``lvas scenes``. The result is plain JSON and is
saved beside the keyframes; a repeated call with the same video and settings reads it back
instead of decoding again.

Two caches share one folder. ``analysis.json`` holds what the decode pass measured (cuts,
shots with their keyframes, the motion envelope); the scenes formed from it are cheap, so each
segmentation keeps its own storyboard file beside it (``storyboard.json`` for the semantic
scenes, ``storyboard-<segmentation>.json`` for the others). The folder's name
(:func:`storyboard_key`) leaves the segmentation out, so runs that differ only in how the video
is cut into scenes share one decode pass and never read each other's scenes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from lvas.tools.common.paths import content_hash, file_fingerprint, write_json
from lvas.tools.common.types import Scene, Shot, Storyboard
from lvas.tools.video.analysis import analyze_video
from lvas.tools.video.scenes import check_segmentation, form_scenes

STORYBOARD_VERSION = 2
ANALYSIS_FILE = "analysis.json"

_SEGMENTATION_FIELDS = ("segmentation", "segment_seconds")
_DECODE_FIELDS = ("detector", "threshold", "gradual", "min_shot_seconds")


@dataclass(frozen=True)
class StoryboardSettings:
    """How shots are detected and how the video is cut into scenes.

    ``segmentation`` is one of :data:`lvas.tools.video.scenes.SEGMENTATIONS`;
    ``segment_seconds`` is the chunk length of the ``fixed`` one.
    """

    detector: str = "content"
    threshold: float | None = None
    gradual: bool = True
    min_shot_seconds: float = 0.5
    min_scene_seconds: float = 2.0
    max_scene_seconds: float = 60.0
    segmentation: str = "semantic"
    segment_seconds: float = 10.0

    def folder_settings(self) -> dict[str, Any]:
        """What names the analysis folder: every setting except the segmentation's own, so
        segmentations share the decode pass (and a semantic run's folder keeps its name)."""
        return {k: v for k, v in asdict(self).items() if k not in _SEGMENTATION_FIELDS}

    def decode_settings(self) -> dict[str, Any]:
        """What the decode pass depends on (shot detection), for ``analysis.json``."""
        return {k: v for k, v in asdict(self).items() if k in _DECODE_FIELDS}

    def storyboard_file(self) -> str:
        """The storyboard's cache file in the analysis folder, one per segmentation."""
        if self.segmentation == "semantic":
            return "storyboard.json"
        return f"storyboard-{self.segmentation}.json"


class VideoDecode(TypedDict):
    """What :func:`build_storyboard` caches of the decode pass in ``analysis.json``."""

    video: str
    settings: dict[str, Any]
    duration: float
    fps: float
    cuts: list[float]
    shots: list[Shot]
    motion_envelope: str
    envelope_rate: float
    frames_decoded: int
    corrupt_frames: int
    warnings: list[str]
    picture_end: float


class StoryboardAnalysis(Storyboard):
    """What :func:`build_storyboard` returns and caches: the storyboard (with absolute paths),
    the scenes formed from its shots, and how the decoding went."""

    video: str
    settings: dict[str, Any]
    scenes: list[Scene]
    frames_decoded: int
    corrupt_frames: int
    warnings: list[str]
    picture_end: float


def storyboard_key(video: str | Path, settings: StoryboardSettings) -> str:
    """Name of the analysis folder: the video's identity and every setting that matters to
    the decode pass and to semantic scenes (not the segmentation: see the module's note)."""
    return content_hash(STORYBOARD_VERSION, file_fingerprint(video), settings.folder_settings())


def build_storyboard(
    video: str | Path, out_dir: str | Path, settings: StoryboardSettings | None = None
) -> StoryboardAnalysis:
    """Cuts, shots (with keyframes and looks), scenes and the motion envelope of ``video``.

    Paths in the result are absolute; the storyboard file of ``settings``' segmentation in
    ``out_dir`` caches it, and ``analysis.json`` there caches the decode pass for every
    segmentation.
    """
    settings = settings or StoryboardSettings()
    check_segmentation(settings.segmentation, settings.segment_seconds)
    out = Path(out_dir)
    cache = out / settings.storyboard_file()
    cached = _read_cached(cache, asdict(settings))
    if cached is not None:
        return cached
    decode = _decode(video, out, settings)
    envelope = np.load(decode["motion_envelope"])
    scenes = form_scenes(
        decode["shots"], segmentation=settings.segmentation, duration=decode["duration"],
        min_scene_seconds=settings.min_scene_seconds,
        max_scene_seconds=settings.max_scene_seconds,
        segment_seconds=settings.segment_seconds, envelope=envelope,
        envelope_rate=decode["envelope_rate"],
    )
    storyboard: StoryboardAnalysis = {
        "video": decode["video"],
        "settings": asdict(settings),
        "duration": decode["duration"],
        "fps": decode["fps"],
        "cuts": list(decode["cuts"]),
        "shots": decode["shots"],
        "scenes": scenes,
        "motion_envelope": decode["motion_envelope"],
        "envelope_rate": decode["envelope_rate"],
        "frames_decoded": decode["frames_decoded"],
        "corrupt_frames": decode["corrupt_frames"],
        "warnings": list(decode["warnings"]),
        "picture_end": decode["picture_end"],
    }
    write_json(cache, storyboard)
    return storyboard


def _decode(video: str | Path, out: Path, settings: StoryboardSettings) -> VideoDecode:
    """The decode pass of ``video`` into ``out``, or its cached result when it is there."""
    cache = out / ANALYSIS_FILE
    cached = _read_cached(cache, settings.decode_settings())
    if cached is not None:
        return cached
    analysis = analyze_video(
        video, out, detector=settings.detector, threshold=settings.threshold,
        min_shot_seconds=settings.min_shot_seconds, gradual=settings.gradual,
    )
    decode: VideoDecode = {
        "video": str(Path(video).resolve()),
        "settings": settings.decode_settings(),
        "duration": analysis.duration,
        "fps": analysis.fps,
        "cuts": list(analysis.cuts),
        "shots": [shot.to_dict() for shot in analysis.shots],
        "motion_envelope": analysis.envelope_path,
        "envelope_rate": analysis.envelope_rate,
        "frames_decoded": analysis.frames_decoded,
        "corrupt_frames": analysis.corrupt_frames,
        "warnings": list(analysis.warnings),
        "picture_end": analysis.picture_end,
    }
    write_json(cache, decode)
    return decode


def _read_cached(path: Path, settings: dict[str, Any]) -> Any:
    """The JSON at ``path`` when it was made with ``settings`` and its files still exist.

    One made before the decode pass recorded where the picture ends (``picture_end``) is
    decoded again: it may have kept a cut-off file's stated duration.
    """
    if not path.exists():
        return None
    cached = json.loads(path.read_text(encoding="utf-8"))
    if cached.get("settings") == settings and "picture_end" in cached and _files_exist(cached):
        return cached
    return None


def _files_exist(storyboard: dict[str, Any]) -> bool:
    paths = [storyboard.get("motion_envelope", "")]
    paths += [k for shot in storyboard.get("shots", []) for k in shot.get("keyframes", [])]
    return all(p and Path(p).exists() for p in paths)
