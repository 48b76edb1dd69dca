"""Editor timeline: the run as an OpenTimelineIO file an editor can open and re-cut.

The soundtrack is a draft; an editor finishes it. ``write_otio`` hands over everything the run
made, in place: the input video, the mastered mix, one stem per layer, and every rendered cue
on its own audio track at its start, with the scenes as markers.

Conventions (chosen so DaVinci Resolve and Premiere can open and relink the file):

* Rate: the video's frame rate (25 when unknown). Rates within 0.01 of an NTSC rate become the
  exact NTSC rate (29.97 -> 30000/1001, 23.976 -> 24000/1001), and rates within 0.001 of a
  whole number become that number, so frame counts do not drift over hours.
* Rounding: a time becomes the nearest frame (half up). A cue starts at the nearest frame to
  its start; its length is the whole frames its audio covers (rounded down, at least one) so an
  edit never asks for audio past the end of the file. Scene markers round both ends to the
  nearest frame, so scenes that tile the video still tile it.
* Media: ``target_url`` is an absolute ``file://`` URL. ``metadata["lvas"]["relative_path"]``
  is the path relative to the folder of the .otio file, for relinking when the run directory
  moves. Clip paths in state are relative to ``run_dir``; the input video is taken as given
  (relative to the working directory when not absolute).
* Ranges: edits (clip placement, source ranges, markers) are in frames at the timeline rate;
  an audio file's ``available_range`` is its exact length in samples at its own sample rate;
  the video's is its duration in frames at the timeline rate.
* Overlap: a track cannot overlap itself, so cues of one layer that overlap go to extra lanes
  ("Cues: foreground 2", ...), each cue to the lowest lane free at its start.
"""

from __future__ import annotations

import heapq
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import opentimelineio as otio
import soundfile as sf

from lvas.tools.common.paths import atomic_path

DEFAULT_RATE = 25.0
LAYER_ORDER = ("background", "foreground", "speech")
MARKER_COLOURS = (otio.schema.MarkerColor.BLUE, otio.schema.MarkerColor.YELLOW)
_NTSC_BASES = (24, 30, 48, 60, 120, 240)

RationalTime = otio.opentime.RationalTime
TimeRange = otio.opentime.TimeRange


def timeline_rate(fps: float | None) -> float:
    """The frame rate to edit at: ``fps`` snapped to exact NTSC or whole rates, else 25."""
    if fps is None or not math.isfinite(fps) or fps <= 0:
        return DEFAULT_RATE
    fps = float(fps)
    if abs(fps - round(fps)) < 0.001:
        return float(round(fps))
    for base in _NTSC_BASES:
        ntsc = base * 1000 / 1001
        if abs(fps - ntsc) < 0.01:
            return ntsc
    return fps


def to_frames(seconds: float, rate: float) -> int:
    """Nearest frame to ``seconds`` (half up), the one rounding rule for timeline positions."""
    return math.floor(seconds * rate + 0.5)


def _cue_frames(duration: float, rate: float) -> int:
    """Whole frames a cue's audio covers: rounded down so edits stay inside the file."""
    return max(1, math.floor(duration * rate + 1e-6))


def _frame_range(start: int, duration: int, rate: float) -> otio.opentime.TimeRange:
    return TimeRange(RationalTime(start, rate), RationalTime(duration, rate))


def _media(target: Path, out_dir: Path, available: otio.opentime.TimeRange,
           extra: Mapping[str, Any] | None = None) -> otio.schema.ExternalReference:
    """Reference by absolute file URL, with the path relative to the .otio kept for relinking."""
    target = _absolute(target)
    meta: dict[str, Any] = {"relative_path": Path(os.path.relpath(target, out_dir)).as_posix()}
    meta.update(extra or {})
    return otio.schema.ExternalReference(
        target_url=target.as_uri(), available_range=available, metadata={"lvas": meta}
    )


def _samples_range(frames: int, sample_rate: int) -> otio.opentime.TimeRange:
    return TimeRange(RationalTime(0, sample_rate), RationalTime(frames, sample_rate))


def _absolute(path: str | os.PathLike[str]) -> Path:
    """Absolute and normalised without touching the disk (thousands of cues, no realpath)."""
    return Path(os.path.abspath(Path(path).expanduser()))


def _run_path(path: str | os.PathLike[str], run_dir: Path) -> Path:
    return _absolute(run_dir / Path(path).expanduser())


def _whole_file_track(name: str, path: Path, run_dir: Path, out_dir: Path, rate: float,
                      role: str) -> otio.schema.Track:
    """An audio track holding one file from the start (the mix or a stem)."""
    if not path.is_file():
        raise FileNotFoundError(f"{role} {path} is missing; render the soundtrack first.")
    info = sf.info(str(path))
    frames, sample_rate = int(info.frames), int(info.samplerate)
    media = _media(path, out_dir, _samples_range(frames, sample_rate),
                   {"path": _state_path(path, run_dir), "role": role})
    clip = otio.schema.Clip(
        name=path.name,
        media_reference=media,
        source_range=_frame_range(0, _cue_frames(frames / sample_rate, rate), rate),
        metadata={"lvas": {"role": role, "sample_rate": sample_rate}},
    )
    return otio.schema.Track(name=name, children=[clip], kind=otio.schema.TrackKind.Audio)


def _state_path(path: Path, run_dir: Path) -> str:
    try:
        return _absolute(path).relative_to(_absolute(run_dir)).as_posix()
    except ValueError:
        return str(path)


def assign_lanes(spans: Sequence[tuple[int, int]]) -> list[int]:
    """Lane per ``(start, end)`` span so no lane holds two overlapping spans (half-open).

    Spans are taken in order of start; each goes to the lowest-numbered lane free at its
    start, which keeps the first lane densest and uses as few lanes as the overlap requires.
    O(n log n), for timelines with thousands of cues.
    """
    order = sorted(range(len(spans)), key=lambda i: (spans[i][0], spans[i][1], i))
    lanes = [0] * len(spans)
    busy: list[tuple[int, int]] = []  # (end, lane)
    free: list[int] = []
    count = 0
    for index in order:
        start, end = spans[index]
        while busy and busy[0][0] <= start:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            lane = heapq.heappop(free)
        else:
            lane, count = count, count + 1
        lanes[index] = lane
        heapq.heappush(busy, (end, lane))
    return lanes


def _layer_key(layer: str) -> tuple[int, str]:
    return (LAYER_ORDER.index(layer), "") if layer in LAYER_ORDER else (len(LAYER_ORDER), layer)


def _cue_tracks(clips: Sequence[Mapping[str, Any]], labels: Mapping[str, str], run_dir: Path,
                out_dir: Path, rate: float) -> list[otio.schema.Track]:
    """Tracks "Cues: <layer>" (and lanes "<layer> 2", ...) holding each cue at its start."""
    by_layer: dict[str, list[tuple[int, int, Mapping[str, Any]]]] = {}
    for clip in clips:
        start = max(0, to_frames(float(clip["start"]), rate))
        length = _cue_frames(float(clip["duration"]), rate)
        by_layer.setdefault(str(clip["layer"]), []).append((start, start + length, clip))
    tracks: list[otio.schema.Track] = []
    for layer in sorted(by_layer, key=_layer_key):
        cues = sorted(by_layer[layer], key=lambda c: (c[0], c[1], str(c[2]["sound_id"])))
        lanes = assign_lanes([(start, end) for start, end, _ in cues])
        lane_cues: list[list[tuple[int, int, Mapping[str, Any]]]] = [
            [] for _ in range(max(lanes) + 1)
        ]
        for cue, lane in zip(cues, lanes, strict=True):
            lane_cues[lane].append(cue)
        for lane, members in enumerate(lane_cues):
            name = f"Cues: {layer}" if lane == 0 else f"Cues: {layer} {lane + 1}"
            track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Audio,
                                      metadata={"lvas": {"layer": layer, "lane": lane + 1}})
            cursor = 0
            for start, end, clip in members:
                if start > cursor:
                    gap = _frame_range(0, start - cursor, rate)
                    track.append(otio.schema.Gap(source_range=gap))
                track.append(_cue_clip(clip, labels, run_dir, out_dir, rate, end - start))
                cursor = end
            tracks.append(track)
    return tracks


def _cue_clip(clip: Mapping[str, Any], labels: Mapping[str, str], run_dir: Path, out_dir: Path,
              rate: float, frames: int) -> otio.schema.Clip:
    sound_id = str(clip["sound_id"])
    label = str(labels.get(sound_id, "") or "")
    sample_rate = int(clip["sample_rate"])
    duration = float(clip["duration"])
    media = _media(
        _run_path(clip["path"], run_dir),
        out_dir,
        _samples_range(round(duration * sample_rate), sample_rate),
        {"path": str(clip["path"])},
    )
    meta = {
        "sound_id": sound_id,
        "layer": str(clip["layer"]),
        "family": str(clip.get("family", "")),
        "gain_db": float(clip.get("gain_db", 0.0)),
        "backend": str(clip.get("backend", "")),
        "label": label,
        "start": float(clip["start"]),
        "duration": duration,
        "sample_rate": sample_rate,
    }
    return otio.schema.Clip(
        name=label or sound_id,
        media_reference=media,
        source_range=_frame_range(0, frames, rate),
        metadata={"lvas": meta},
    )


def _scene_markers(scenes: Sequence[Mapping[str, Any]], rate: float) -> list[otio.schema.Marker]:
    markers = []
    ordered = sorted(scenes, key=lambda s: (float(s["start"]), str(s["id"])))
    for index, scene in enumerate(ordered):
        start = to_frames(float(scene["start"]), rate)
        end = to_frames(float(scene["end"]), rate)
        caption = str(scene.get("caption", "") or "")
        markers.append(otio.schema.Marker(
            name=str(scene["id"]),
            marked_range=_frame_range(start, max(0, end - start), rate),
            color=MARKER_COLOURS[index % len(MARKER_COLOURS)],
            metadata={"lvas": {"scene_id": str(scene["id"]), "start": float(scene["start"]),
                               "end": float(scene["end"]), "caption": caption}},
            comment=caption,
        ))
    return markers


def build_timeline(
    *,
    name: str,
    video: str | os.PathLike[str],
    video_info: Mapping[str, Any],
    scenes: Sequence[Mapping[str, Any]],
    clips: Sequence[Mapping[str, Any]],
    stems: Mapping[str, str | os.PathLike[str]],
    soundtrack: str | os.PathLike[str] | None,
    run_dir: Path,
    out_dir: Path,
    labels: Mapping[str, str] | None = None,
    rate: float | None = None,
) -> otio.schema.Timeline:
    """The timeline in memory; relative paths in metadata are relative to ``out_dir``."""
    run_dir = _absolute(run_dir)
    out_dir = _absolute(out_dir)
    fps = timeline_rate(rate if rate is not None else video_info.get("fps"))
    duration = float(video_info.get("duration") or 0.0)
    if duration <= 0:
        raise ValueError("video_info needs a positive duration to lay out the timeline.")
    info = {key: video_info.get(key) for key in ("duration", "fps", "width", "height")}

    video_path = Path(video).expanduser()
    video_frames = to_frames(duration, fps)
    whole = _frame_range(0, video_frames, fps)
    video_clip = otio.schema.Clip(
        name=video_path.name,
        media_reference=_media(video_path, out_dir, whole, {"path": str(video), **info}),
        source_range=whole,
    )
    video_track = otio.schema.Track(name="Video", children=[video_clip],
                                    kind=otio.schema.TrackKind.Video)

    tracks = [video_track]
    if soundtrack is not None:
        tracks.append(_whole_file_track("Mix", _run_path(soundtrack, run_dir), run_dir,
                                        out_dir, fps, "soundtrack"))
    for layer in sorted(stems, key=_layer_key):
        tracks.append(_whole_file_track(f"Stem: {layer}", _run_path(stems[layer], run_dir),
                                        run_dir, out_dir, fps, f"stem:{layer}"))
    tracks.extend(_cue_tracks(clips, labels or {}, run_dir, out_dir, fps))

    timeline = otio.schema.Timeline(
        name=name,
        global_start_time=RationalTime(0, fps),
        metadata={"lvas": {"rate": fps, "video_info": info, "run_dir": str(run_dir),
                           "rounding": "nearest frame; cue lengths rounded down",
                           "relative_paths": "relative to the .otio file's folder"}},
    )
    for track in tracks:
        timeline.tracks.append(track)
    for marker in _scene_markers(scenes, fps):
        timeline.tracks.markers.append(marker)
    return timeline


def write_otio(
    out_path: Path,
    *,
    name: str,
    video: str | os.PathLike[str],
    video_info: Mapping[str, Any],
    scenes: Sequence[Mapping[str, Any]],
    clips: Sequence[Mapping[str, Any]],
    stems: Mapping[str, str | os.PathLike[str]],
    soundtrack: str | os.PathLike[str] | None,
    run_dir: Path,
    labels: Mapping[str, str] | None = None,
    rate: float | None = None,
) -> Path:
    """Write the run's editor timeline to ``out_path`` (OTIO JSON), atomically.

    ``clips`` are state ``Clip`` dicts (paths relative to ``run_dir``); ``stems`` maps a layer
    to its stem file and ``soundtrack`` is the mastered mix (relative to ``run_dir`` or
    absolute). ``labels`` names cues by sound id; ``rate`` overrides the video's frame rate.
    """
    out_path = Path(out_path)
    timeline = build_timeline(
        name=name, video=video, video_info=video_info, scenes=scenes, clips=clips, stems=stems,
        soundtrack=soundtrack, run_dir=run_dir, out_dir=out_path.parent, labels=labels,
        rate=rate,
    )
    with atomic_path(out_path) as tmp:
        otio.adapters.write_to_file(timeline, str(tmp), adapter_name="otio_json")
    return out_path
