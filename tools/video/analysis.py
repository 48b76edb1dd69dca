"""One streaming decode pass over a video: shot cuts, per-shot look, keyframes and motion.

Frames are decoded once with PyAV (H.264 frames that no other frame refers to are not decoded
at all: :data:`_SKIP_UNREFERENCED_CODECS`), scaled to a small analysis size, and fed to a
PySceneDetect detector and to cheap per-frame measurements. Cut decisions arrive a little
late (detectors look back), so frames wait in a short time-bounded queue before they are
assigned to a shot; nothing else is kept per frame, so memory stays flat however long the
video is (only the 25 Hz motion envelope grows, 100 bytes per second).
"""

from __future__ import annotations

import heapq
import math
import os
import queue
import random
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.paths import atomic_path
from lvas.tools.common.types import Shot
from lvas.tools.video.keyframes import keyframe_count, kmeans_medoids, sharpness
from lvas.tools.video.probe import (
    VideoInfo,
    picture_ends_early,
    probe_video,
    short_picture_warning,
    stated_duration,
)
from lvas.tools.video.shot_bursts import ShotBursts
from lvas.tools.video.transitions import THUMB_SIZE, DissolveDetector, GradualTransition, relit

if TYPE_CHECKING:  # PySceneDetect takes a third of a second to import: only when used
    from scenedetect import SceneDetector
    from scenedetect.common import FrameTimecode

ENVELOPE_RATE = 25.0
"""Samples per second of the motion envelope written to ``motion.npy``."""

_CODEC_FLAG2_FAST = 1  # AV_CODEC_FLAG2_FAST: allow non-spec-compliant speedups
# Deblocking is skipped on non-reference frames only. Skipping it on every frame saves a fifth to
# a third of H.264's decoding CPU and keeps the cuts (generated set F1 1.0, real footage the
# same), but the drift it lets build up until the next keyframe leaves block edges in the
# keyframes (PSNR 32-45 dB against an exact decode at 512 px), and the planner reads those
# edges as built-up texture: Big Buck Bunny's meadow at 19 s was planned as city traffic.
_SKIP_LOOP_FILTER = "noref"
# H.264 frames no other frame refers to (most B-frames of x264's and cameras' streams) are not
# decoded, one at a time: a frame is skipped only when neither neighbour was, so the analysis
# never misses two frames in a row (a two-frame flash is always seen, a cut lands at most one
# frame late). On x264's streams that is up to half the frames: a quarter of the decoding CPU and
# half the per-frame analysis, and every frame decoded is exact (keyframes too). Motion is taken
# per frame interval, and the dissolve detector, whose window counts frames, is handed each
# skipped frame blended from its neighbours. Raw elementary streams carry no timestamps to
# count skipped frames by and decode every frame.
_SKIP_UNREFERENCED_CODECS = frozenset({"h264"})
_RAW_FORMATS = frozenset({"h264"})
_H264_SLICES = (1, 5)  # NAL unit types of coded slices (non-IDR, IDR)
_KEYFRAME_MAX_WIDTH = 512
_THUMB_SIZE = THUMB_SIZE  # keyframe clustering and dissolves compare these tiny frames
_RESERVOIR_SIZE = 24  # keyframe candidates kept per shot, whatever its length
_SAMPLE_INTERVAL = 1.0  # seconds between keyframe candidates
_HUE_BINS = 36  # 10 degrees each
_COLOUR_INTERVAL = 0.2  # seconds between colour measurements
_CUT_LIKE_MOTION = 0.08  # a frame this different from the last is measured too (new shot)
_INTERPOLATION = "FAST_BILINEAR"  # nearly free in swscale; AREA costs as much as decoding
_RELIGHT_WINDOW = 0.5  # seconds each side of a cut searched for the same picture (a flash)
_SAME_CUT = 0.1  # seconds: two cuts this close are one transition reported twice

def _content(thr: float | None, min_len: float) -> SceneDetector:
    # min_len is applied by LVAS's own _MergeFilter: PySceneDetect's forgets a cut it still
    # holds when the video ends. analyze_video computes this detector's decisions itself
    # (_ContentScore); the object serves callers that want PySceneDetect's.
    from scenedetect import ContentDetector

    return ContentDetector(threshold=27.0 if thr is None else thr, min_scene_len=0.0)


def _adaptive(thr: float | None, min_len: float) -> SceneDetector:
    from scenedetect import AdaptiveDetector

    return AdaptiveDetector(adaptive_threshold=3.0 if thr is None else thr,
                            min_scene_len=min_len)


def _histogram(thr: float | None, min_len: float) -> SceneDetector:
    from scenedetect import HistogramDetector

    return HistogramDetector(threshold=0.05 if thr is None else thr, min_scene_len=min_len)


DETECTORS: dict[str, Callable[[float | None, float], SceneDetector]] = {
    "content": _content,
    "adaptive": _adaptive,
    "histogram": _histogram,
}
"""Shot detectors by name; each factory takes (threshold or None for its default, min seconds)."""


@dataclass
class ShotInfo:
    """One shot: a half-open interval [start, end) in seconds and how it looks."""

    index: int
    start: float
    end: float
    keyframe: str  # the shot's main look: medoid of its largest cluster of sampled frames
    keyframes: list[str]  # one per look (K-means medoids), largest cluster first
    sharpest: str  # the sampled frame with the most detail
    brightness: float
    saturation: float
    hue: float
    colour: str
    motion: float
    # Motion and flicker of short bursts of frames inside the shot (shot_bursts), with their
    # spans: the planner's evidence without seeking back into the video.
    bursts: list[dict[str, float]] = field(default_factory=list)
    flicker: dict[str, float] | None = None  # the most flickering burst-long stretch

    def to_dict(self) -> Shot:
        shot = Shot(index=self.index, start=self.start, end=self.end, keyframe=self.keyframe,
                    keyframes=list(self.keyframes), sharpest=self.sharpest,
                    brightness=self.brightness, saturation=self.saturation, hue=self.hue,
                    colour=self.colour, motion=self.motion,
                    bursts=[dict(burst) for burst in self.bursts])
        if self.flicker:
            shot["flicker"] = dict(self.flicker)
        return shot


@dataclass
class VideoAnalysis:
    """Everything one pass measured; ``shots`` tile [0, duration) without gaps.

    ``picture_end`` is where the last decoded frame ends; ``duration`` is the file's stated
    duration unless the picture ends clearly before it (then the picture's end).
    """

    duration: float
    fps: float
    cuts: list[float]
    shots: list[ShotInfo]
    envelope_path: str
    envelope_rate: float
    frames_decoded: int
    corrupt_frames: int
    warnings: list[str] = field(default_factory=list)
    picture_end: float = 0.0
    frames_skipped: int = 0  # unreferenced frames not decoded (see _SKIP_UNREFERENCED_CODECS)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _MergeFilter:
    """PySceneDetect's MERGE flash filter for the content detector, plus :meth:`flush`.

    Cuts closer than ``length`` seconds merge: after a cut, the next ones within ``length``
    are held and the last of a run is emitted once ``length`` seconds pass without another.
    PySceneDetect's own filter drops the cut it holds when the video ends within ``length``
    of it (a real cut 0.3 s before the end went missing); :meth:`flush` hands it over.
    """

    def __init__(self, length: float) -> None:
        self.length = length
        self.last_above: float | None = None
        self.enabled = False  # merging starts after the first emitted cut
        self.merging = False
        self.merge_start = 0.0

    def push(self, t: float, above: bool) -> list[float]:
        """The cuts known after the frame at ``t`` (``above``: the detector fired on it)."""
        if self.length <= 0.0:
            return [t] if above else []
        if self.last_above is None:
            self.last_above = t
        met = t - self.last_above >= self.length - 1e-9
        if above:
            self.last_above = t
        if self.merging:
            if met and not above and self.last_above - self.merge_start >= self.length - 1e-9:
                self.merging = False
                return [self.last_above]
            return []
        if not above:
            return []
        if met:
            self.enabled = True
            return [t]
        if self.enabled:
            self.merging = True
            self.merge_start = t
        return []

    def flush(self) -> list[float]:
        """The cut still held when the video ends (a run of cuts long enough to count)."""
        if (self.merging and self.last_above is not None
                and self.last_above - self.merge_start >= self.length - 1e-9):
            self.merging = False
            return [self.last_above]
        return []


class _ContentScore:
    """PySceneDetect's ContentDetector decision with its default weights, on a shared HSV.

    The score is the mean absolute difference of hue, saturation and value from the previous
    frame, averaged over the three (edges weigh nothing by default), compared with the
    threshold. OpenCV's absdiff and mean give the same sums as PySceneDetect's NumPy code at
    a fraction of its per-frame cost, and the HSV picture is the one the colour measurement
    uses, so it is converted once.
    """

    def __init__(self, threshold: float | None) -> None:
        self.threshold = 27.0 if threshold is None else float(threshold)
        self.last: np.ndarray | None = None

    def above(self, hsv: np.ndarray) -> bool:
        """Whether the frame whose HSV picture is ``hsv`` differs from the last by a cut's worth."""
        last, self.last = self.last, hsv
        if last is None or last.shape != hsv.shape:
            return False
        dh, ds, dv, _ = cv2.mean(cv2.absdiff(hsv, last))
        return (dh + ds + dv) / 3.0 >= self.threshold


def colour_name(hue: float, saturation: float, brightness: float) -> str:
    """A coarse everyday colour word for a shot (for planners and prompts)."""
    if brightness < 0.12:
        return "black"
    if saturation < 0.15:
        return "white" if brightness > 0.8 else "grey"
    names = [
        (15, "red"), (45, "orange"), (70, "yellow"), (160, "green"), (200, "cyan"),
        (260, "blue"), (290, "purple"), (345, "magenta"), (360, "red"),
    ]
    h = hue % 360.0
    return next(name for limit, name in names if h < limit)


@dataclass
class _Frame:
    """What one decoded frame contributes, held until its shot is known."""

    t: float
    motion: float
    brightness: float
    # Colour is measured on a few frames a second (and on cut-like frames): enough for a
    # shot's average look, at a fraction of the cost. None on the frames in between.
    saturation: float | None
    hue_hist: np.ndarray | None
    thumb: np.ndarray | None
    sample: np.ndarray | None  # keyframe-size BGR image on ~1 fps frames
    small: np.ndarray | None  # analysis-size BGR: the keyframe of a shot too short for a sample
    key: bool = False  # coded as a keyframe: where a seek lands


class _Shot:
    """Running sums for one shot plus a bounded reservoir of keyframe candidates."""

    def __init__(self, start: float, rng: random.Random, fps: float,
                 burst_pool: Executor | None = None) -> None:
        self.start = start
        self.rng = rng
        self.bursts = ShotBursts(start, fps, burst_pool)
        self.frames = 0
        self.colour_frames = 0
        self.motion_frames = 0
        self.brightness = 0.0
        self.saturation = 0.0
        self.motion = 0.0
        self.hue_hist = np.zeros(_HUE_BINS, np.float64)
        self.thumb_sum = np.zeros((_THUMB_SIZE[1], _THUMB_SIZE[0], 3), np.float64)
        self.seen_samples = 0
        self.reservoir: list[tuple[float, np.ndarray, np.ndarray]] = []  # (t, thumb, image)
        self.sharpest: tuple[float, float, np.ndarray] | None = None  # (score, t, image)
        self.fallback: np.ndarray | None = None

    def add(self, fr: _Frame, first: bool) -> None:
        self.frames += 1
        if fr.small is not None:
            self.bursts.add(fr.t, fr.small, fr.key)
        self.brightness += fr.brightness
        if fr.thumb is not None and fr.hue_hist is not None and fr.saturation is not None:
            self.colour_frames += 1
            self.saturation += fr.saturation
            self.hue_hist += fr.hue_hist
            self.thumb_sum += fr.thumb
        if not first:  # the first frame's difference is the cut itself, not motion
            self.motion += fr.motion
            self.motion_frames += 1
        if fr.sample is not None and fr.thumb is not None:
            self._offer(fr.t, fr.thumb, fr.sample)
            score = sharpness(fr.small if fr.small is not None else fr.sample)
            if self.sharpest is None or score > self.sharpest[0]:
                self.sharpest = (score, fr.t, fr.sample)
        elif self.fallback is None and fr.small is not None:
            self.fallback = fr.small

    def _offer(self, t: float, thumb: np.ndarray, image: np.ndarray) -> None:
        """Reservoir sampling: every candidate of the shot is kept with equal chance."""
        self.seen_samples += 1
        if len(self.reservoir) < _RESERVOIR_SIZE:
            self.reservoir.append((t, thumb, image))
            return
        j = self.rng.randrange(self.seen_samples)
        if j < _RESERVOIR_SIZE:
            self.reservoir[j] = (t, thumb, image)

    def merge(self, other: _Shot) -> None:
        """Absorb a following shot (a too-short last shot)."""
        self.frames += other.frames
        self.colour_frames += other.colour_frames
        self.motion_frames += other.motion_frames
        self.brightness += other.brightness
        self.saturation += other.saturation
        self.motion += other.motion
        self.hue_hist += other.hue_hist
        self.thumb_sum += other.thumb_sum
        self.bursts.absorb(other.bursts)
        for t, thumb, image in other.reservoir:
            self._offer(t, thumb, image)
        if other.sharpest is not None and (
            self.sharpest is None or other.sharpest[0] > self.sharpest[0]
        ):
            self.sharpest = other.sharpest
        if self.fallback is None:
            self.fallback = other.fallback

    def keyframe_images(self, duration: float) -> list[np.ndarray]:
        """K-means medoids of the sampled frames, the largest cluster's first."""
        if not self.reservoir:
            return [self.fallback] if self.fallback is not None else []
        thumbs = np.stack([thumb for _, thumb, _ in self.reservoir])
        k = keyframe_count(duration, len(self.reservoir))
        return [self.reservoir[i][2] for i in kmeans_medoids(thumbs, k)]

    def summary(self) -> tuple[float, float, float, str, float]:
        brightness = self.brightness / max(1, self.frames)
        saturation = self.saturation / max(1, self.colour_frames)
        motion = self.motion / self.motion_frames if self.motion_frames else 0.0
        hue = _dominant_hue(self.hue_hist)
        return brightness, saturation, hue, colour_name(hue, saturation, brightness), motion


def _dominant_hue(hist: np.ndarray) -> float:
    """Circular mean around the strongest 10-degree bin (0.0 for a colourless shot)."""
    if hist.sum() <= 0:
        return 0.0
    k = int(np.argmax(hist))
    idx = np.array([k - 1, k, k + 1]) % _HUE_BINS
    angles = np.deg2rad((idx + 0.5) * (360.0 / _HUE_BINS))
    w = hist[idx]
    y, x = float((w * np.sin(angles)).sum()), float((w * np.cos(angles)).sum())
    deg = math.degrees(math.atan2(y, x))
    return round(deg % 360.0, 1)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array)


def _even(x: float) -> int:
    return max(2, int(round(x / 2.0)) * 2)


class _Analyzer:
    """The state of one pass; see :func:`analyze_video`."""

    def __init__(self, info: VideoInfo, out_dir: Path, min_shot: float, lag: float) -> None:
        self.info = info
        self.out_dir = out_dir
        self.min_shot = min_shot
        self.lag = lag
        self.rng = random.Random(0)
        self.pending: deque[_Frame] = deque()
        self.pending_cuts: list[tuple[float, bool]] = []  # (time, check for a light change)
        self.recent: deque[_Frame] = deque()  # committed frames of the last _RELIGHT_WINDOW
        self.fps = info.fps if info.fps > 0 else 25.0
        # The shots' bursts are measured (optical flow, mostly outside the GIL) on a thread
        # of their own, beside the decode; a pass that fails lets it go when it is dropped.
        self.burst_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lvas-bursts")
        weakref.finalize(self, self.burst_pool.shutdown, wait=False, cancel_futures=True)
        self.shot = _Shot(0.0, self.rng, self.fps, self.burst_pool)
        self.closed: list[tuple[float, float, _Shot]] = []  # only the last is kept open
        self.shots: list[ShotInfo] = []
        self.cuts: list[float] = []
        self.envelope: list[float] = []
        self.env_last = 0.0
        self.first_committed = True
        self.prev_grey: np.ndarray | None = None
        self.next_sample = 0.0
        self.next_colour = 0.0

    # -- per frame -------------------------------------------------------------------------
    def measure(self, t: float, small: np.ndarray, sample: np.ndarray | None,
                thumb: np.ndarray | None = None, hsv: np.ndarray | None = None,
                frames: int = 1) -> _Frame:
        """``hsv``, when given, is ``small[::2, ::2]`` in HSV (the cut detector's); ``frames``:
        frame intervals since the last picture measured (motion is per interval)."""
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        # cv2.mean sums exactly as NumPy does here (integers), several times faster.
        if self.prev_grey is None or self.prev_grey.shape != grey.shape:
            motion = 0.0
        else:
            motion = cv2.mean(cv2.absdiff(grey, self.prev_grey))[0] / 255.0 / max(1, frames)
        self.prev_grey = grey
        fr = _Frame(t=t, motion=motion, brightness=cv2.mean(grey)[0] / 255.0, saturation=None,
                    hue_hist=None, thumb=None, sample=sample, small=small)
        if sample is None and t < self.next_colour and motion < _CUT_LIKE_MOTION:
            return fr
        self.next_colour = t + _COLOUR_INTERVAL
        if hsv is None:
            hsv = cv2.cvtColor(small[::2, ::2], cv2.COLOR_BGR2HSV)
        h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
        # Hue only counts where there is colour to see: weight by saturation x value.
        weight = (s.astype(np.float32) * v.astype(np.float32)) / (255.0 * 255.0)
        weight[(s < 40) | (v < 40)] = 0.0
        bins = (h.astype(np.int32) * _HUE_BINS) // 180
        hue_hist = np.bincount(bins.ravel(), weights=weight.ravel(), minlength=_HUE_BINS)
        if thumb is None:
            thumb = cv2.resize(small, _THUMB_SIZE, interpolation=cv2.INTER_AREA)
        fr.thumb = thumb.astype(np.float32)
        fr.saturation = float(s.mean()) / 255.0
        fr.hue_hist = hue_hist[:_HUE_BINS]
        return fr

    def push(self, fr: _Frame, new_cuts: list[float],
             gradual: Sequence[GradualTransition] = ()) -> None:
        """Queue a frame and the cuts reported with it."""
        self.push_cuts(new_cuts, gradual)
        self.pending.append(fr)
        while self.pending and self.pending[0].t < fr.t - self.lag:
            self.commit(self.pending.popleft())

    def push_cuts(self, new_cuts: list[float],
                  gradual: Sequence[GradualTransition] = ()) -> None:
        """A gradual transition replaces detector cuts inside it: a frame-to-frame detector
        that fires within a dissolve fires at an arbitrary frame of it. A lighting ramp
        (``relit``) only removes them. A dissolve whose span holds one placed already is the
        same dissolve seen as two runs of blend-like windows (a long one, on a stream whose
        skipped frames were blended in): the first placement stands."""
        self.pending_cuts.extend((c, True) for c in new_cuts)
        for tr in gradual:
            inside = [c for c in self.pending_cuts if tr.start <= c[0] <= tr.end]
            if not tr.relit and any(not check for _, check in inside):
                continue
            self.pending_cuts = [c for c in self.pending_cuts if not tr.start <= c[0] <= tr.end]
            if not tr.relit:
                self.pending_cuts.append((tr.time, False))
        self.pending_cuts.sort()

    def relit_across(self, cut: float, fr: _Frame) -> bool:
        """Whether a frame-to-frame cut at ``cut`` is a change of light within one shot.

        The last frame before it is compared with each frame of the next half second, and
        each frame of the half second before it with the first frame after it: a step of
        light matches at once, a flash of a few frames (reported at either end) once it is
        over. ``fr`` is the first frame at or after the cut; later ones are still pending.
        """
        before = [f.small for f in self.recent if f.t >= cut - _RELIGHT_WINDOW and
                  f.small is not None]
        after = [f.small for f in [fr, *self.pending] if cut <= f.t <= cut + _RELIGHT_WINDOW
                 and f.small is not None]
        if not before or not after:
            return False
        return (any(relit(before[-1], a) for a in after)
                or any(relit(b, after[0]) for b in before[:-1]))

    def commit(self, fr: _Frame) -> None:
        first = self.first_committed
        self.first_committed = False
        while self.pending_cuts and self.pending_cuts[0][0] <= fr.t + 1e-6:
            cut, check = self.pending_cuts.pop(0)
            if cut <= 0.0 or (self.cuts and cut - self.cuts[-1] < _SAME_CUT):
                continue
            if check and self.relit_across(cut, fr):
                continue
            # Every cut is kept; a shot shorter than min_shot joins the one before it.
            self.cuts.append(cut)
            if cut - self.shot.start >= self.min_shot - 1e-6:
                self.close(cut)
                first = True
        self.shot.add(fr, first)
        self.add_envelope(fr, first)
        self.recent.append(fr)
        while self.recent[0].t < fr.t - _RELIGHT_WINDOW:
            self.recent.popleft()

    def add_envelope(self, fr: _Frame, first: bool) -> None:
        value = self.env_last if first else fr.motion  # a cut is not motion
        b = int(fr.t * ENVELOPE_RATE + 1e-9)
        if b < len(self.envelope):  # several frames in one bin: keep the strongest
            self.envelope[b] = max(self.envelope[b], value)
        else:  # bins with no frame of their own (fps < 25) hold the last value
            self.envelope.extend([self.env_last] * (b - len(self.envelope)))
            self.envelope.append(value)
        self.env_last = value

    def close(self, end: float) -> None:
        """End the open shot at ``end``; it is written out once the next one is also closed,
        so that a too-short last shot can still be merged into it (its cut stays a cut)."""
        if self.closed:
            self.flush_closed()
        self.closed.append((self.shot.start, end, self.shot))
        self.shot = _Shot(end, self.rng, self.fps, self.burst_pool)

    def flush_closed(self) -> None:
        start, end, shot = self.closed.pop()
        self.write_shot(start, end, shot)

    def write_shot(self, start: float, end: float, shot: _Shot) -> None:
        index = len(self.shots)
        images = shot.keyframe_images(end - start) or [np.zeros((16, 16, 3), np.uint8)]
        paths = [self._write_jpeg(self.out_dir / f"keyframe_{index:04d}_{j}.jpg", image)
                 for j, image in enumerate(images)]
        sharpest = paths[0]
        if shot.sharpest is not None and not any(shot.sharpest[2] is im for im in images):
            sharpest = self._write_jpeg(
                self.out_dir / f"keyframe_{index:04d}_sharp.jpg", shot.sharpest[2]
            )
        elif shot.sharpest is not None:
            sharpest = paths[next(j for j, im in enumerate(images) if im is shot.sharpest[2])]
        brightness, saturation, hue, colour, motion = shot.summary()
        self.shots.append(
            ShotInfo(
                index=index, start=round(start, 6), end=round(end, 6), keyframe=paths[0],
                keyframes=paths, sharpest=sharpest,
                brightness=round(brightness, 4), saturation=round(saturation, 4), hue=hue,
                colour=colour, motion=round(motion, 5), bursts=shot.bursts.finish(),
                flicker=shot.bursts.strongest_flicker(),
            )
        )

    def _write_jpeg(self, path: Path, image: np.ndarray) -> str:
        """Write a keyframe upright (rotation metadata applied) and atomically."""
        if self.info.rotation in (90, 180, 270):
            image = np.rot90(image, k=self.info.rotation // 90)
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image), [cv2.IMWRITE_JPEG_QUALITY, 88])
        if not ok:  # pragma: no cover - OpenCV always encodes a BGR uint8 image
            raise RuntimeError(f"could not encode keyframe {path}")
        _atomic_write_bytes(path, buf.tobytes())
        return str(path)

    def finish(self, duration: float) -> None:
        while self.pending:
            self.commit(self.pending.popleft())
        # Cuts the detector reported after the last frame (post_process) or past the end.
        tail = duration - self.shot.start
        if self.closed and tail < self.min_shot:
            start, _, prev = self.closed.pop()
            prev.merge(self.shot)
            self.shot = prev
            self.shot.start = start
        if self.closed:
            self.flush_closed()
        self.write_shot(self.shot.start, duration, self.shot)
        self.burst_pool.shutdown()
        n = int(math.ceil(duration * ENVELOPE_RATE - 1e-9))
        while len(self.envelope) < n:
            self.envelope.append(self.env_last)
        del self.envelope[n:]


_PLANAR_YUV = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"}


def _plane(frame: av.VideoFrame, index: int) -> np.ndarray:
    plane = frame.planes[index]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def _small_bgr(
    frame: av.VideoFrame, width: int, height: int, interpolation: int = cv2.INTER_LINEAR
) -> np.ndarray:
    """The analysis-size BGR picture straight from 8-bit planar YUV: half the cost of swscale.

    Each plane is shrunk on its own and the small I420 picture converted (BT.601 video
    range; full-range "J" sources come out slightly flat, which no measurement minds).
    """
    y = cv2.resize(_plane(frame, 0), (width, height), interpolation=interpolation)
    u = cv2.resize(_plane(frame, 1), (width // 2, height // 2), interpolation=interpolation)
    v = cv2.resize(_plane(frame, 2), (width // 2, height // 2), interpolation=interpolation)
    i420 = np.concatenate([y.ravel(), u.ravel(), v.ravel()]).reshape(height * 3 // 2, width)
    return cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)


def _open_video(path: str) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    container = av.open(path, metadata_errors="ignore")
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return container, stream
    container.close()  # pragma: no cover - probe_video already checked
    raise LVASInputError(f"{path}: has no video stream. Pass a video file.")


def _h264_nal_headers(data: memoryview, length_size: int | None) -> Iterator[int]:
    """The first byte of each NAL unit of one H.264 access unit: length-prefixed (avcC, as MP4
    and Matroska store it) when ``length_size`` is given, else Annex B start codes (MPEG-TS)."""
    n = len(data)
    if length_size:
        i = 0
        while i + length_size < n:
            size = int.from_bytes(data[i:i + length_size], "big")
            i += length_size
            if size <= 0 or i >= n:
                return
            yield data[i]
            i += size
        return
    raw = bytes(data)
    i = raw.find(b"\x00\x00\x01")
    while 0 <= i < n - 3:
        yield raw[i + 3]
        i = raw.find(b"\x00\x00\x01", i + 3)


def h264_unreferenced(data: memoryview, length_size: int | None) -> bool:
    """Whether an H.264 access unit is a picture no other refers to: it has coded slices and
    every one has ``nal_ref_idc`` 0, the test FFmpeg's ``skip_frame=noref`` applies."""
    slices = False
    for header in _h264_nal_headers(data, length_size):
        if header & 0x1F in _H264_SLICES:
            if header & 0x60:
                return False
            slices = True
    return slices


def _avcc_length_size(extradata: bytes | None) -> int | None:
    """NAL length field size of an avcC record (None: Annex B, start codes)."""
    if extradata and len(extradata) >= 5 and extradata[0] == 1:
        return (extradata[4] & 3) + 1
    return None


class _Decoder:
    """Demux, decode and scale: yields (pts from start, seconds, analysis BGR, keyframe BGR|None,
    frames skipped since the last one yielded, whether the stream codes it as a keyframe).

    Damaged packets and frames are skipped and counted in ``corrupt``; unreferenced H.264
    frames are not decoded (:data:`_SKIP_UNREFERENCED_CODECS`) and counted in ``skipped``.
    """

    def __init__(self, info: VideoInfo, analysis_width: int) -> None:
        self.info = info
        self.corrupt = 0
        self.fps = info.fps if info.fps > 0 else 25.0
        self.rate = Fraction(self.fps).limit_denominator(100000)
        self.analysis_width = analysis_width
        self.time_base = Fraction(1, 90000)
        self.stream_duration: float | None = None  # the video stream's own, as stated
        self.skip_unreferenced = True  # where the codec and container allow it
        self.skipped = 0
        self._skipped_pts: list[int] = []  # a heap: skipped frames not yet passed
        self._length_size: int | None = None
        self._frame_pts = 1  # one frame's duration in the stream's time base

    def frames(self) -> Iterator[tuple[int, float, np.ndarray, np.ndarray | None, int, bool]]:
        container, stream = _open_video(self.info.path)
        with container:
            stream.thread_type = "AUTO"
            # The analysis looks at frames a fifth of their size, so bit-exact decoding buys
            # little: deblocking is skipped where no other frame inherits it
            # (_SKIP_LOOP_FILTER).
            options = {"skip_loop_filter": _SKIP_LOOP_FILTER}
            self.skip_unreferenced = (
                self.skip_unreferenced
                and stream.codec_context.name in _SKIP_UNREFERENCED_CODECS
                and not set(container.format.name.split(",")) & _RAW_FORMATS
            )
            if self.skip_unreferenced:
                self._length_size = _avcc_length_size(stream.codec_context.extradata)
            stream.codec_context.options = options
            stream.codec_context.flags2 |= _CODEC_FLAG2_FAST
            tb = self.time_base = stream.time_base or self.time_base
            self._frame_pts = max(1, round(1 / (self.fps * tb)))
            self.stream_duration = stated_duration(stream)
            start_pts = stream.start_time
            # Analysis size follows the displayed aspect (sample aspect ratio), rotation aside.
            coded_w, coded_h = stream.codec_context.width, stream.codec_context.height
            sar = stream.sample_aspect_ratio
            disp_w = coded_w * (float(sar) if sar and float(sar) > 0 else 1.0)
            aw = _even(min(self.analysis_width, disp_w))
            ah = _even(aw * coded_h / disp_w)
            kw = _even(min(_KEYFRAME_MAX_WIDTH, disp_w))
            kh = _even(kw * coded_h / disp_w)
            step = max(1, round(1 / (self.fps * tb)))
            last: int | None = None
            last_pts: int | None = None
            last_yielded = False
            next_sample = 0.0
            # One scaler per size: PyAV's frame.reformat() would set one up for every frame.
            scaler, key_scaler = VideoReformatter(), VideoReformatter()
            for frame in self._decoded(container, stream):
                if frame.is_corrupt:
                    self.corrupt += 1
                    continue
                pts = frame.pts
                skipped = 0  # skipped frames shown between the last frame and this one
                while self._skipped_pts and (pts is None or self._skipped_pts[0] < pts):
                    gone = heapq.heappop(self._skipped_pts)
                    skipped += last_pts is None or gone > last_pts
                last_pts = pts
                if pts is None:  # elementary streams: count frames at the nominal rate
                    pts = (last + step) if last is not None else 0
                if start_pts is None:
                    start_pts = pts
                rel = pts - start_pts
                if last is not None and rel <= last:  # keep time moving forward
                    rel = last + step
                last = rel
                t = float(rel * tb)
                planar = frame.format.name in _PLANAR_YUV
                try:
                    small = _small_bgr(frame, aw, ah) if planar else scaler.reformat(
                        frame, width=aw, height=ah, format="bgr24",
                        interpolation=_INTERPOLATION, threads=1,
                    ).to_ndarray()
                    sample = None
                    if t >= next_sample:
                        next_sample = t + _SAMPLE_INTERVAL
                        if (kw, kh) == (aw, ah):
                            sample = small
                        elif planar:
                            sample = _small_bgr(frame, kw, kh, cv2.INTER_AREA)
                        else:
                            sample = key_scaler.reformat(
                                frame, width=kw, height=kh, format="bgr24",
                                interpolation="AREA", threads=1,
                            ).to_ndarray()
                except (av.error.FFmpegError, ValueError):
                    self.corrupt += 1
                    continue
                yield rel, t, small, sample, skipped if last_yielded else 0, frame.key_frame
                last_yielded = True

    def _next_to(self, pts: int, skipped: deque[int]) -> bool:
        """Whether a frame shown right before or after ``pts`` is skipped already: no two
        frames in a row are skipped, so the analysis never misses more than one frame (a
        flash of two frames is always seen; a cut lands at most one frame late)."""
        near = 1.5 * self._frame_pts
        return any(abs(pts - other) < near for other in skipped)

    def _decoded(self, container: av.container.InputContainer,
                 stream: av.video.stream.VideoStream) -> Iterator[av.VideoFrame]:
        recent: deque[int] = deque(maxlen=32)  # pts of the last frames skipped
        skipping = False
        for packet in container.demux(stream):
            pts = packet.pts
            skip = (self.skip_unreferenced and pts is not None and bool(packet.size)
                    and h264_unreferenced(memoryview(packet), self._length_size)
                    and not self._next_to(pts, recent))
            if skip and pts is not None:
                heapq.heappush(self._skipped_pts, pts)
                recent.append(pts)
                self.skipped += 1
            if skip != skipping:  # each packet is decoded with the setting it was sent with
                stream.codec_context.skip_frame = "NONREF" if skip else "DEFAULT"
                skipping = skip
            try:
                frames = stream.decode(packet)
            except av.error.FFmpegError:
                self.corrupt += 1
                continue
            yield from frames
        try:  # demux already ends with a flush packet; this only catches stragglers
            yield from stream.decode(None)
        except av.error.EOFError:
            pass
        except av.error.FFmpegError:
            self.corrupt += 1


_DONE = object()


def _in_background(items: Iterator[Any], depth: int = 8) -> Iterator[Any]:
    """Run a producer in a thread so decoding overlaps the analysis of earlier frames.

    PyAV and OpenCV release the GIL in their C code, so the two halves share both cores.
    A bounded queue keeps memory flat; errors in the producer are re-raised here.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as exc:  # handed to the consumer
            failure.append(exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # a generator: let it close its container now
                close()
            while not stop.is_set():
                try:
                    q.put(_DONE, timeout=0.1)
                    break
                except queue.Full:
                    continue

    worker = threading.Thread(target=produce, name="lvas-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                break
            yield item
    finally:
        stop.set()
        worker.join()
    if failure:
        raise failure[0]


def analyze_video(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    detector: str = "content",
    threshold: float | None = None,
    min_shot_seconds: float = 0.5,
    analysis_width: int = 256,
    gradual: bool = True,
    progress: Callable[[float], None] | None = None,
) -> VideoAnalysis:
    """Decode ``path`` once and measure cuts, shots, keyframes and motion.

    ``gradual`` adds a dissolve/fade detector beside the frame-to-frame ``detector``.
    Keyframes (``keyframe_NNNN.jpg``) and ``motion.npy`` (float32, 25 Hz) go to ``out_dir``.
    Undecodable frames are skipped and counted; the result's ``warnings`` say so.
    """
    if detector not in DETECTORS:
        raise LVASInputError(
            f"unknown shot detector {detector!r}. Choose one of: {', '.join(sorted(DETECTORS))}."
        )
    info = probe_video(path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    min_shot = max(0.0, float(min_shot_seconds))
    det = None if detector == "content" else DETECTORS[detector](threshold, min_shot)
    merge = _MergeFilter(min_shot) if detector == "content" else None
    content = _ContentScore(threshold) if detector == "content" else None
    fps = info.fps if info.fps > 0 else 25.0
    # Detectors report a cut up to min_shot (flash filter) or a few frames (adaptive window)
    # after the frame it belongs to; frames wait this long before joining a shot.
    dissolves = DissolveDetector(fps) if gradual else None
    delay = dissolves.max_delay if dissolves else 0.0
    lag = min_shot + 8.0 / fps + delay + 0.25
    an = _Analyzer(info, out, min_shot, lag)
    warnings: list[str] = []

    decoder = _Decoder(info, analysis_width)
    decoded = 0
    corrupt_gaps = 0
    last_t = -1.0
    next_report = 0.0
    last_ftc: FrameTimecode | None = None
    if det is not None:
        from scenedetect.common import FrameTimecode, Timecode
    # PySceneDetect's other detectors count frames in their windows: they get every frame.
    decoder.skip_unreferenced = det is None
    last_thumb: np.ndarray | None = None
    last_small: np.ndarray | None = None
    for rel, t, small, sample, skipped, key in _in_background(decoder.frames()):
        if not info.vfr and last_t >= 0.0:
            # Frames the decoder dropped silently (damaged data) leave a hole in the
            # timestamps; count holes of two frames or more (one can be a muxer quirk).
            missing = int(round((t - last_t) * fps)) - 1 - skipped
            if missing >= 2:
                corrupt_gaps += missing
        decoded += 1
        previous_t, last_t = last_t, t
        # The cut detector averages colour differences over the frame: a quarter of the
        # pixels gives the same decisions for a quarter of its cost.
        quarter = small[::2, ::2]
        hsv = None
        if content is not None and merge is not None:
            hsv = cv2.cvtColor(quarter, cv2.COLOR_BGR2HSV)
            cuts = merge.push(t, content.above(hsv))
        elif det is not None:
            ftc = FrameTimecode(Timecode(pts=rel, time_base=decoder.time_base),
                                fps=decoder.rate)
            last_ftc = ftc
            cuts = [c.seconds for c in det.process_frame(ftc, quarter)]
        thumb = cv2.resize(small, _THUMB_SIZE, interpolation=cv2.INTER_AREA)
        transitions: list[GradualTransition] = []
        if dissolves is not None:
            thumb_f = thumb.astype(np.float32) * (1.0 / 255.0)
            if skipped and last_thumb is not None and last_small is not None:
                # Its window counts frames: the skipped ones are blended from their neighbours.
                for j in range(1, skipped + 1):
                    share = j / (skipped + 1)
                    between = cv2.addWeighted(last_small, 1.0 - share, small, share, 0.0)
                    transitions += dissolves.push(previous_t + (t - previous_t) * share,
                                                  last_thumb + (thumb_f - last_thumb) * share,
                                                  between)
            transitions += dissolves.push(t, thumb_f, small)
            last_thumb, last_small = thumb_f, small
        measured = an.measure(t, small, sample, thumb, hsv, frames=1 + skipped)
        measured.key = bool(key)
        an.push(measured, cuts, transitions)
        if progress is not None and t >= next_report:
            next_report = t + max(0.5, info.duration / 200)
            progress(min(1.0, t / info.duration))
    corrupt = decoder.corrupt + corrupt_gaps

    if decoded == 0:
        raise LVASInputError(
            f"{info.path}: no video frame could be decoded; the file is corrupt. "
            "Re-export or re-download the video."
        )
    if dissolves is not None:
        an.push_cuts([], dissolves.flush())
    if det is not None and last_ftc is not None:
        an.pending_cuts.extend((c.seconds, True) for c in det.post_process(last_ftc))
    if merge is not None:
        an.pending_cuts.extend((c, True) for c in merge.flush())
    an.pending_cuts = sorted(c for c in an.pending_cuts if c[0] <= last_t + 1e-6)

    # The picture ends with the last decoded frame. When that is clearly before the stated
    # duration (a cut-off file, or an audio track running on), everything made from this
    # analysis follows the picture: scenes, plan and soundtrack end where it does.
    duration = info.duration
    picture_end = last_t + 1.0 / fps
    if picture_ends_early(picture_end, duration, fps):
        warnings.append(short_picture_warning(info.path, duration, picture_end,
                                              stream_duration=decoder.stream_duration, fps=fps))
        duration = picture_end
    duration = max(duration, last_t + 1e-3)
    if corrupt:
        warnings.append(f"{corrupt} corrupt or undecodable frame(s) were skipped")
    an.finish(duration)

    env_path = out / "motion.npy"
    _save_npy(env_path, np.asarray(an.envelope, dtype=np.float32))
    if progress is not None:
        progress(1.0)
    return VideoAnalysis(
        duration=round(duration, 6),
        fps=fps,
        cuts=[round(c, 6) for c in an.cuts],
        shots=an.shots,
        envelope_path=str(env_path.resolve()),
        envelope_rate=ENVELOPE_RATE,
        frames_decoded=decoded,
        frames_skipped=decoder.skipped,
        corrupt_frames=corrupt,
        warnings=warnings,
        picture_end=round(picture_end, 6),
    )


def motion_onsets(
    envelope_path: str | os.PathLike[str],
    rate: float,
    start: float,
    end: float,
    *,
    max_count: int,
    min_gap: float = 0.25,
) -> list[float]:
    """Times (absolute seconds, ascending) of the strongest rises in motion in [start, end).

    Used to place sound events (steps, hits) where something visibly starts to move.
    """
    if max_count <= 0 or end <= start or rate <= 0:
        return []
    env = np.load(envelope_path, mmap_mode="r")
    a = max(0, int(math.floor(start * rate)))
    b = min(len(env), int(math.ceil(end * rate)))
    if b - a < 2:
        return []
    seg = np.asarray(env[max(0, a - 1):b], dtype=np.float64)
    offset = a - 1 if a > 0 else a
    if len(seg) >= 3:  # light smoothing so single-frame noise does not count as an onset
        seg = np.convolve(seg, np.array([0.25, 0.5, 0.25]), mode="same")
    rise = np.diff(seg, prepend=seg[0])
    rise[rise < 0] = 0.0
    floor = max(1e-3, float(np.mean(rise) + 0.5 * np.std(rise)))
    peaks = [
        i for i in range(len(rise))
        if rise[i] > floor
        and rise[i] >= (rise[i - 1] if i > 0 else 0.0)
        and rise[i] > (rise[i + 1] if i + 1 < len(rise) else 0.0)
    ]
    peaks.sort(key=lambda i: -rise[i])
    chosen: list[float] = []
    for i in peaks:
        t = (offset + i) / rate
        if not (start <= t < end):
            continue
        if all(abs(t - c) >= min_gap for c in chosen):
            chosen.append(t)
            if len(chosen) >= max_count:
                break
    return sorted(round(t, 4) for t in chosen)
