"""Motion and flicker evidence measured during the Storyboarder's decode, shot by shot.

The offline planner reads a scene's motion (camera against things moving) and flicker from a
short burst of small frames (:func:`lvas.tools.video.evidence.burst_frames`). Seeking back
into the video for each scene cost a decode from the keyframe before it: on a video of many
scenes, most of the Scriptwriter's time. The decode pass sees those frames anyway, so it
keeps a burst where such a seek lands (the start of each shot, and every
:data:`BURST_EVERY` seconds into a long one, as an encoder's periodic keyframes would) and
measures it the moment it is complete: only a few numbers per burst are kept, never frames.

A flash of lightning lasts a few frames and may come anywhere in a shot, seldom inside its one
burst. So the whole shot's brightness is also followed at the burst's pace, and the stretch of
a burst's length that flickers most is kept (:meth:`ShotBursts.strongest_flicker`): the
planner's lightning sees a flash wherever in the scene it comes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from lvas.tools.common.types import Scene, Shot
from lvas.tools.video.evidence import (
    BURST_FRAMES,
    BURST_RATE,
    BURST_WIDTH,
    Features,
    flicker_features,
    motion_features,
)

BURST_EVERY = 10.0  # seconds between bursts inside one long shot
MIN_BURST_FRAMES = 3  # fewer frames give no motion or flicker evidence (as a seek's burst)
_EPSILON = 1e-6


class ShotBursts:
    """The bursts of one shot, collected frame by frame as the decode commits them.

    Frames are taken ``round(fps / BURST_RATE)`` frame intervals apart, as the seeking burst
    takes every n-th decoded frame; a frame the decoder skipped only makes the gap to the next
    one taken longer. Each burst is measured when it holds :data:`BURST_FRAMES` frames (or
    when the shot ends, from three frames up) and its frames are dropped.
    """

    def __init__(self, start: float, fps: float) -> None:
        step = max(1, round(fps / BURST_RATE))
        self.start = start
        self.gap = (step - 0.5) / fps  # seconds from one frame taken to the next, at least
        self.next_start = start  # the next burst begins at the first frame at or after this
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self.measured: list[Features] = []
        self.levels: deque[tuple[float, float]] = deque(maxlen=BURST_FRAMES)  # (t, level)
        self.next_level = start
        self.flicker: Features | None = None  # the stretch that flickers most, so far

    def add(self, t: float, small: np.ndarray) -> None:
        """Offer one committed frame of the shot (analysis-size BGR)."""
        if t >= self.next_level - _EPSILON:
            self._follow_level(t, small)
        if self.frames:
            if t < self.times[-1] + self.gap - _EPSILON:
                return
        elif t < self.next_start - _EPSILON:
            return
        else:
            while self.next_start <= t + _EPSILON:
                self.next_start += BURST_EVERY
        self.frames.append(_burst_size(small))
        self.times.append(t)
        if len(self.frames) >= BURST_FRAMES:
            self._measure()

    def finish(self) -> list[Features]:
        """Every burst of the shot, the last one measured from what it holds (three frames
        up); the shot takes no more frames."""
        self._measure()
        return self.measured

    def absorb(self, other: ShotBursts) -> None:
        """Take a following shot's bursts (a too-short last shot joining this one)."""
        self._measure()
        self.measured.extend(other.finish())
        if other.flicker is not None and (
            self.flicker is None or other.flicker["flicker"] > self.flicker["flicker"]
        ):
            self.flicker = other.flicker

    def strongest_flicker(self) -> Features | None:
        """The flash and flicker (as :func:`evidence.flicker_features` reads them over a burst)
        of the burst-long stretch of the shot whose brightness flickers most, with its span;
        None for a shot too short for three frames."""
        return self.flicker

    def _follow_level(self, t: float, small: np.ndarray) -> None:
        self.next_level = t + self.gap
        # The mean of HSV's value (the brightest channel), as flicker_features reads it; every
        # fourth pixel each way is plenty for a mean.
        level = float(small[::4, ::4].max(axis=2).mean()) / 255.0
        self.levels.append((t, level))
        if len(self.levels) < MIN_BURST_FRAMES:
            return
        values = np.array([value for _, value in self.levels])
        steps = np.abs(np.diff(values))
        flicker = float(steps.mean() / max(0.02, values.mean()))
        if self.flicker is None or flicker > self.flicker["flicker"]:
            self.flicker = {"start": round(self.levels[0][0], 6), "end": round(t, 6),
                            "flash": round(float(steps.max()), 6), "flicker": round(flicker, 6)}

    def _measure(self) -> None:
        if len(self.frames) >= MIN_BURST_FRAMES:
            features = {**motion_features(self.frames), **flicker_features(self.frames)}
            self.measured.append({
                "start": round(self.times[0], 6),
                "end": round(self.times[-1], 6),
                **{name: round(float(value), 6) for name, value in features.items()},
            })
        self.frames, self.times = [], []


def _burst_size(small: np.ndarray) -> np.ndarray:
    """The frame at the seeking burst's width (area-averaged, as that burst scales)."""
    h, w = small.shape[:2]
    if w <= BURST_WIDTH:
        return small.copy()
    height = max(2, round(h * BURST_WIDTH / w) // 2 * 2)
    return cv2.resize(small, (BURST_WIDTH, height), interpolation=cv2.INTER_AREA)


def scene_burst(
    shots: Sequence[Mapping[str, Any]], start: float, end: float
) -> Features | None:
    """The measured burst a seek to the middle of [start, end) would have read: the last one
    beginning at or before the middle, among the bursts of ``shots`` lying inside the span
    (the first inside when all begin after the middle). None when no burst lies inside (a
    part of a long shot between two bursts, or a storyboard made before bursts were kept):
    the caller seeks."""
    middle = (start + end) / 2.0
    inside = sorted(
        (burst for shot in shots for burst in shot.get("bursts") or []
         if start - _EPSILON <= float(burst["start"]) and float(burst["end"]) < end),
        key=lambda burst: float(burst["start"]),
    )
    if not inside:
        return None
    before = [burst for burst in inside if float(burst["start"]) <= middle]
    chosen = before[-1] if before else inside[0]
    return {name: float(value) for name, value in chosen.items()
            if name not in ("start", "end")}


def scene_flicker(
    shots: Sequence[Mapping[str, Any]], start: float, end: float
) -> Features | None:
    """The flash and flicker of the stretch of [start, end) that flickers most, among those the
    decode pass kept for ``shots`` (one per shot) lying inside the span; None when none does."""
    inside = [shot["flicker"] for shot in shots if shot.get("flicker")
              and start - _EPSILON <= float(shot["flicker"]["start"])
              and float(shot["flicker"]["end"]) < end]
    if not inside:
        return None
    chosen = max(inside, key=lambda window: float(window["flicker"]))
    return {"flash": float(chosen["flash"]), "flicker": float(chosen["flicker"])}


def scene_shots(scene: Scene, shots: Sequence[Shot]) -> list[Shot]:
    """The storyboard's shots that ``scene`` lists, whose bursts serve its evidence."""
    by_index = {int(shot["index"]): shot for shot in shots}
    return [by_index[i] for i in scene.get("shots", []) if i in by_index]
