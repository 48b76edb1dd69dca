"""Motion and flicker evidence measured during the Storyboarder's decode, shot by shot.

The offline planner reads a scene's motion (camera against things moving) and flicker from a
short burst of small frames (:func:`lvas.tools.video.evidence.burst_frames`). Seeking back
into the video for each scene cost a decode from the keyframe before it: on a video of many
scenes, most of the Scriptwriter's time. The decode pass sees those frames anyway, so it
keeps a burst wherever such a seek could land (the start of each shot, and each keyframe of
the stream) and measures it the moment it is complete: only a few numbers per burst are
kept, never frames. A scene takes the burst a seek to its middle would have read.

A flash of lightning lasts a few frames and may come anywhere in a shot, seldom inside its one
burst. So the whole shot's brightness is also followed at the burst's pace, and the stretch of
a burst's length that flickers most is kept (:meth:`ShotBursts.strongest_flicker`): the
planner's lightning sees a flash wherever in the scene it comes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, Future
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

BURST_GAP = 2.0  # seconds from one burst's start to the next one's, at least
MIN_BURST_FRAMES = 3  # fewer frames give no motion or flicker evidence (as a seek's burst)
_EPSILON = 1e-6


class _Burst:
    """Frames of one burst as they come: every frame at least ``gap`` s after the last."""

    def __init__(self, begin: float, gap: float) -> None:
        self.begin, self.gap = begin, gap
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []

    def offer(self, t: float, small: np.ndarray) -> bool:
        """Take the frame when it is due; True once the burst is full."""
        due = self.times[-1] + self.gap if self.times else self.begin
        if len(self.frames) < BURST_FRAMES and t >= due - _EPSILON:
            self.frames.append(_burst_size(small))
            self.times.append(t)
        return len(self.frames) >= BURST_FRAMES

    def usable(self) -> bool:
        return len(self.frames) >= MIN_BURST_FRAMES


class ShotBursts:
    """The bursts of one shot, collected frame by frame as the decode commits them.

    A burst begins where a seek into the shot lands: at its first frame and at each frame the
    stream codes as a keyframe (at least :data:`BURST_GAP` s after the last burst began, which
    bounds the cost on streams of short keyframe intervals). Frames are taken
    ``round(fps / BURST_RATE)`` frame intervals apart, as the seeking burst takes every n-th
    decoded frame; a frame the decoder skipped only makes the gap to the next one taken longer.
    Each burst is measured once complete (the last when the shot ends, from three frames up)
    and its frames are dropped.

    With an ``executor`` the measurement (dense optical flow, mostly outside the GIL) runs
    there, beside the decode, and :meth:`finish` waits for it.
    """

    def __init__(self, start: float, fps: float, executor: Executor | None = None) -> None:
        step = max(1, round(fps / BURST_RATE))
        self.gap = (step - 0.5) / fps  # seconds from one frame taken to the next, at least
        self.executor = executor
        self.current: _Burst | None = None
        self.last_begin: float | None = None
        self.measured: list[Future[Features] | Features] = []
        self.levels: deque[tuple[float, float]] = deque(maxlen=BURST_FRAMES)  # (t, level)
        self.next_level = start
        self.flicker: Features | None = None  # the stretch that flickers most, so far

    def add(self, t: float, small: np.ndarray, key: bool = False) -> None:
        """Offer one committed frame of the shot (analysis-size BGR); ``key``: the stream
        codes it as a keyframe."""
        if t >= self.next_level - _EPSILON:
            self._follow_level(t, small)
        if self.current is None and (
            self.last_begin is None or (key and t - self.last_begin >= BURST_GAP - _EPSILON)
        ):
            self.current, self.last_begin = _Burst(t, self.gap), t
        if self.current is not None and self.current.offer(t, small):
            self._measure(self.current)
            self.current = None

    def finish(self) -> list[Features]:
        """Every burst of the shot, in order, the unfinished one measured from what it holds
        (three frames up); the shot takes no more frames."""
        self._flush()
        done = [m.result() if isinstance(m, Future) else m for m in self.measured]
        return sorted(done, key=lambda burst: burst["start"])

    def absorb(self, other: ShotBursts) -> None:
        """Take a following shot's bursts (a too-short last shot joining this one)."""
        self._flush()
        other._flush()
        self.measured.extend(other.measured)
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
        # The mean of HSV's value (the brightest channel), as flicker_features reads it, from
        # every fourth pixel each way (plenty for a mean); the window's sums in plain floats:
        # this runs on a dozen frames a second of the decode.
        sub = small[::4, ::4]
        level = cv2.mean(np.maximum(np.maximum(sub[..., 0], sub[..., 1]), sub[..., 2]))[0]
        self.levels.append((t, level / 255.0))
        if len(self.levels) < MIN_BURST_FRAMES:
            return
        values = [value for _, value in self.levels]
        steps = [abs(b - a) for a, b in zip(values, values[1:], strict=False)]
        flicker = sum(steps) / len(steps) / max(0.02, sum(values) / len(values))
        if self.flicker is None or flicker > self.flicker["flicker"]:
            self.flicker = {"start": round(self.levels[0][0], 6), "end": round(t, 6),
                            "flash": round(max(steps), 6), "flicker": round(flicker, 6)}

    def _flush(self) -> None:
        if self.current is not None:
            self._measure(self.current)
            self.current = None

    def _measure(self, burst: _Burst) -> None:
        if not burst.usable():
            return
        span = (round(burst.times[0], 6), round(burst.times[-1], 6))
        if self.executor is None:
            self.measured.append(_measured(burst.frames, span))
        else:
            self.measured.append(self.executor.submit(_measured, burst.frames, span))


def _measured(frames: list[np.ndarray], span: tuple[float, float]) -> Features:
    """One burst's motion and flicker features, with its span."""
    features = {**motion_features(frames), **flicker_features(frames)}
    return {"start": span[0], "end": span[1],
            **{name: round(float(value), 6) for name, value in features.items()}}


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
    part of a long shot between two keyframes, or a storyboard cached before bursts were kept,
    whose folder keeps its name so that older run directories stay valid): the caller seeks."""
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
