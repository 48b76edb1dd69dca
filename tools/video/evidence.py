"""Visual evidence of one scene, for a planner that has no model: what the picture shows.

Colour and light alone cannot tell a place (a white cockatoo in a room reads as a grey street,
a night skyline as a dim blue room), so the offline planner reads measurable signs instead,
each from what ships with OpenCV:

- **people** with OpenCV's bundled HOG people detector, and **faces** big enough to matter (a
  sixth of the frame high or more) with a Haar cascade when the installed OpenCV carries one
  (``cv2.data.haarcascades``; many wheels ship none, and then the feature is simply absent);
- **sky** (a smooth region at the top in sky colours: blue, pale, or a dark night blue) and a
  **horizon** (one strong horizontal edge row);
- **texture**: edge density, the share of edges on long straight lines and how many of those
  lines are upright or level (built-up places), green and brown cover (plants, earth);
- **motion** from dense optical flow (Farneback) on a short burst of small frames: a fitted
  affine motion is the camera's, what is left over is things moving (and where: low in the
  frame, where feet are);
- **flicker**: brightness oscillation over the burst, of warm saturated patches (fire) and of
  the whole frame (lightning, screens);
- colour and light.

Everything is computed from the scene's keyframes (already extracted by the Storyboarder) and
one burst of at most :data:`BURST_FRAMES` small frames read by a seek. Values are plain floats
(JSON-friendly) and deterministic.

Cost, CPU ms per scene on one thread (80 scenes of a 10-minute 720p H.264 24 fps loop of Big
Buck Bunny, 1.5 keyframes a scene; both versions alternating scene by scene on the shared 2-core
machine at load 12, about 1.5x what a quiet machine takes):

=============================  ======  =====  ===============================================
part                           before  after  what changed
=============================  ======  =====  ===============================================
burst (seek, decode 15 frames)   74.1   49.1  one decoder thread, loop filter skipped, AREA
                                              scaling (frame threads cost start-up, frames in
                                              flight and concealment that differed per run)
faces (Haar)                     99.5   19.1  only faces a sixth of the frame high or more,
                                              looked for on the frame scaled to 144 rows
people (HOG)                     52.7   52.8  unchanged (the planner counts its detections)
motion (Farneback)               27.9   27.0  affine fit by normal equations; the flow itself
                                              is unchanged (fewer iterations miss fast pans)
still (colour, sky, texture)     10.0    9.0  unchanged
flicker                           1.6    1.4  unchanged
whole scene_evidence()          266.4  159.3
=============================  ======  =====  ===============================================
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

BURST_FRAMES = 8
BURST_RATE = 12.0  # frames per second kept in the burst (every n-th decoded frame)
BURST_WIDTH = 160
STATIC_WIDTH = 320  # colour, sky and texture are read at this width
HOG_WIDTH = 512  # a standing person must be about 128 px tall to be found
FACE_MIN_SHARE = 1 / 6  # a face counts when it is at least this share of the frame's height
HAAR_WINDOW = 24  # the face cascade's window: the smallest face it can find, in pixels
FACE_NEIGHBOURS = 3  # overlapping hits a face needs (the scan steps 2 px at the finest scales)
MAX_STATIC_IMAGES = 2
MAX_SEEK_DECODE = 2.0  # seconds decoded forward from the seek point, at most
FRAME_FORMAT = "bgr24"
HORIZON_MIN = 2.5  # strongest row of vertical gradient over the median row

Features = dict[str, float]
ImageParts = tuple[Features, int | None, int | None]
"""What one still picture gives: colour, sky and texture features, people, faces (None: this
OpenCV has no such detector)."""


def scene_evidence(
    keyframes: Sequence[str], video: str | None, start: float, end: float,
    measured_burst: Features | None = None, strongest_flicker: Features | None = None,
) -> Features:
    """Every feature of one scene: static ones from (up to two) keyframes, motion and flicker
    from a burst of small frames of ``video`` inside [start, end) when a video is given. A
    keyframe already measured for another scene (one merged from it) is not measured again.

    ``measured_burst``: the motion and flicker of a burst the decode pass measured inside the
    span already (``shot_bursts.scene_burst``); the video is then not read again, unless no
    keyframe can be read and the burst's middle frame must stand in for one.
    ``strongest_flicker``: the flash and flicker of the scene's most flickering stretch
    (``shot_bursts.scene_flicker``), which stand for the burst's where they flicker more: a
    flash of lightning anywhere in the scene, not only inside the burst."""
    keys = list(keyframes)[:MAX_STATIC_IMAGES]
    parts = [p for p in (keyframe_parts(k) for k in keys) if p is not None]
    seek = video is not None and (measured_burst is None or not parts)
    burst = burst_frames(video, start, end) if seek and video else []
    if not parts and burst:
        parts = [image_parts(burst[len(burst) // 2])]
    features: Features = {}
    if parts:
        features.update(combine_parts(parts))
    if measured_burst is not None:
        features.update(measured_burst)
    elif len(burst) >= 3:
        features.update(motion_features(burst))
        features.update(flicker_features(burst))
    if strongest_flicker is not None and (
        strongest_flicker["flicker"] > features.get("flicker", -math.inf)
    ):
        features.update(flash=strongest_flicker["flash"], flicker=strongest_flicker["flicker"])
    return features


def read_image(path: str) -> np.ndarray | None:
    """A keyframe as BGR, or None when there is no readable image at ``path``."""
    return cv2.imread(path, cv2.IMREAD_COLOR) if Path(path).is_file() else None


KEYFRAMES_KEPT = 16384  # keyframe measurements kept (a few hundred bytes each), latest first
_keyframes: OrderedDict[tuple[str, int, int], ImageParts | None] = OrderedDict()
_keyframes_lock = threading.Lock()


def keyframe_parts(path: str) -> ImageParts | None:
    """The measurement of the keyframe at ``path``, read and measured once per file version:
    the Storyboarder's review merges scenes, and each merged scene is measured anew, from the
    same keyframes (the still-picture part is most of a scene's cost)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    with _keyframes_lock:
        if key in _keyframes:
            _keyframes.move_to_end(key)
            return _keyframes[key]
    image = read_image(path)
    parts = None if image is None else image_parts(image)
    remember_keyframe_parts(*key, parts)
    return parts


def remember_keyframe_parts(path: str, size: int, mtime_ns: int,
                            parts: ImageParts | None) -> None:
    """Keep a measurement made elsewhere (``early_stills``' helper, by ``image_parts``) of the
    keyframe at ``path`` (resolved) as it was at ``size`` and ``mtime_ns``: ``keyframe_parts``
    answers with it for that version of the file."""
    with _keyframes_lock:
        _keyframes[(path, size, mtime_ns)] = parts
        _keyframes.move_to_end((path, size, mtime_ns))
        while len(_keyframes) > KEYFRAMES_KEPT:
            _keyframes.popitem(last=False)


def _resize(image: np.ndarray, width: int) -> np.ndarray:
    h, w = image.shape[:2]
    if w <= width:
        return image
    return cv2.resize(image, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)


def burst_frames(
    video: str, start: float, end: float, count: int = BURST_FRAMES, width: int = BURST_WIDTH
) -> list[np.ndarray]:
    """``count`` small BGR frames about 1/:data:`BURST_RATE` s apart from inside the scene.

    One seek to the scene's middle lands on the keyframe before it; the burst starts there
    when that is inside the scene (no decoding forward). When it lands before the scene, at
    most :data:`MAX_SEEK_DECODE` s are decoded forward (skipping non-reference frames) to
    reach the scene; farther than that, the scene gets no burst (and no motion evidence)
    rather than a long decode.

    A frame the decoder flags corrupt (it guessed missing data) is no evidence. Some streams
    need what only their first access unit carries: old x264 4:4:4 files, whose version SEI
    switches on the decoder's workaround for that encoder's bugs, decode to garbage after a
    seek (ffmpeg's own ``-ss`` too). So a burst with a corrupt frame is read once more by a
    decoder that has seen the stream's first frame, and dropped if still corrupt."""
    try:
        frames = _burst(video, start, end, count, width, primed=False)
        if frames is None:
            frames = _burst(video, start, end, count, width, primed=True)
    except (av.error.FFmpegError, OSError, ValueError):
        return []
    return frames or []


def _burst(
    video: str, start: float, end: float, count: int, width: int, *, primed: bool
) -> list[np.ndarray] | None:
    """The burst of :func:`burst_frames`, or None when a decoded frame is corrupt."""
    frames: list[np.ndarray] = []
    with av.open(video, metadata_errors="ignore") as container:
        if not container.streams.video:
            return []
        stream = container.streams.video[0]
        # One thread: frame threads buy nothing for 15 frames but start-up and frames in
        # flight past the burst (and they made concealed frames differ from run to run); the
        # scenes are measured in parallel already. The loop filter is skipped (H.264, HEVC):
        # its smoothing of block edges does not survive the scaling to BURST_WIDTH.
        stream.codec_context.thread_count = 1
        stream.codec_context.options = {"skip_loop_filter": "all"}
        rate = float(stream.average_rate or stream.guessed_rate or 25.0)
        step = max(1, round(rate / BURST_RATE))
        middle = (start + end) / 2.0
        if primed:
            next(container.decode(stream), None)
        if stream.time_base is not None and (middle > 0.5 or primed):
            container.seek(int(middle / float(stream.time_base)), stream=stream, backward=True)
        seen = 0
        skipping = False
        try:
            for frame in container.decode(stream):
                t = frame.time if frame.time is not None else start
                if t < start - 0.25 / rate:
                    if start - t > MAX_SEEK_DECODE:
                        return []
                    if not skipping:
                        stream.codec_context.skip_frame = "NONREF"
                        skipping = True
                    continue
                if skipping:
                    stream.codec_context.skip_frame = "DEFAULT"
                    skipping = False
                    continue  # the next frame is decoded in full
                if t >= end:
                    break
                if frame.is_corrupt:
                    return None
                if seen % step == 0:
                    h = max(2, round(frame.height * width / max(1, frame.width)) // 2 * 2)
                    frames.append(
                        frame.to_ndarray(
                            width=width, height=h, format=FRAME_FORMAT, interpolation="AREA"
                        )
                    )
                    if len(frames) >= count:
                        break
                seen += 1
        except av.error.FFmpegError:
            pass  # damaged data: the frames read so far
    return frames


def _hsv(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue in degrees (0..360), saturation and value in 0..1."""
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.float32)
    return hsv[..., 0] * 2.0, hsv[..., 1] / 255.0, hsv[..., 2] / 255.0


def static_features(images: Sequence[np.ndarray]) -> Features:
    """Colour, sky, horizon, texture and people of still images, averaged (people: most)."""
    return combine_parts([image_parts(image) for image in images])


def image_parts(image: np.ndarray) -> ImageParts:
    """One still picture's measurement: its features, and the people and faces found in it."""
    return _still(_resize(image, STATIC_WIDTH)), count_people(image), count_faces(image)


def combine_parts(parts: Sequence[ImageParts]) -> Features:
    """The static features of a scene from its pictures' measurements: features averaged,
    people and faces the most any picture shows."""
    stills = [p[0] for p in parts]
    features = {key: float(np.mean([p[key] for p in stills])) for key in stills[0]}
    people = [p[1] for p in parts if p[1] is not None]
    faces = [p[2] for p in parts if p[2] is not None]
    if people:  # absent when this OpenCV has no such detector
        features["people"] = float(max(people))
    if faces:
        features["faces"] = float(max(faces))
    return features


def _still(image: np.ndarray) -> Features:
    hue, sat, val = _hsv(image)
    h, w = val.shape
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    blur = cv2.GaussianBlur(grey, (5, 5), 0).astype(np.float32) / 255.0
    grad = np.hypot(cv2.Sobel(blur, cv2.CV_32F, 1, 0), cv2.Sobel(blur, cv2.CV_32F, 0, 1))
    smooth = cv2.blur((grad < 0.08).astype(np.float32), (9, 9)) > 0.9
    top = slice(0, max(1, int(h * 0.35)))
    blue = (hue >= 180) & (hue < 265) & (sat > 0.12)
    pale = (sat < 0.35) & (val > 0.6) & ~((hue >= 60) & (hue < 170))
    bright_sky = smooth & (val > 0.3) & (blue | pale)
    dark_sky = smooth & (val <= 0.3) & (val > 0.03) & blue
    edges = cv2.Canny(grey, 60, 160)
    rows = np.abs(cv2.Sobel(blur, cv2.CV_32F, 0, 1)).mean(axis=1)
    middle = rows[int(h * 0.15) : int(h * 0.85)]
    horizon = float(middle.max() / (np.median(middle) + 1e-3)) if middle.size else 0.0
    horizon_row = int(h * 0.15) + int(np.argmax(middle)) if horizon >= HORIZON_MIN else None
    long_lines, level = _long_lines(edges, w, horizon_row)
    edge_pixels = float(np.count_nonzero(edges))
    green = (hue >= 60) & (hue < 170) & (sat > 0.2) & (val > 0.15)
    brown = (hue >= 15) & (hue < 50) & (sat > 0.25) & (sat < 0.85) & (val > 0.12) & (val < 0.65)
    weights = sat + 1e-6
    angle = np.deg2rad(hue)
    mean_hue = (
        math.degrees(
            math.atan2(
                float((np.sin(angle) * weights).sum()), float((np.cos(angle) * weights).sum())
            )
        )
        % 360.0
    )
    return {
        "brightness": float(val.mean()),
        "saturation": float(sat.mean()),
        "hue": mean_hue,
        "sky_blue": float((bright_sky & blue)[top].mean()),
        "sky": float(bright_sky[top].mean()),
        "sky_below": float(bright_sky[int(h * 0.65) :].mean()),
        "dark_sky": float(dark_sky[top].mean()),
        "horizon": horizon,
        "edge_density": edge_pixels / float(h * w),
        "straight_share": min(1.0, long_lines / max(1.0, edge_pixels)),
        "upright_share": level,
        "green": float(green.mean()),
        "brown": float(brown.mean()),
        "ground_green": float(green[int(h * 0.75) :].mean()),
        "ground_brown": float(brown[int(h * 0.75) :].mean()),
        "ground_texture": float((edges[int(h * 0.75) :] > 0).mean()),
        "lights": float(
            (
                cv2.morphologyEx(
                    (val > 0.75).astype(np.uint8), cv2.MORPH_TOPHAT, np.ones((7, 7), np.uint8)
                )
                > 0
            ).mean()
        ),
    }


def _long_lines(
    edges: np.ndarray, width: int, horizon_row: float | None = None
) -> tuple[float, float]:
    """Edge pixels on long straight segments, and the share of those segments that stand
    upright or lie level (right angles of buildings and rooms). Level pieces on the
    ``horizon_row`` (the strongest horizontal edge of a frame with a horizon) are left out."""
    lines = cv2.HoughLinesP(
        edges, 1, np.pi / 180, threshold=30, minLineLength=max(12, int(width * 0.12)), maxLineGap=3
    )
    if lines is None:
        return 0.0, 0.0
    total = aligned = 0.0
    for x1, y1, x2, y2 in np.asarray(lines).reshape(-1, 4):
        length = math.hypot(x2 - x1, y2 - y1)
        angle = abs(math.degrees(math.atan2(y2 - y1, x2 - x1))) % 180.0
        if (
            horizon_row is not None
            and min(angle, 180.0 - angle) < 5.0
            and abs((y1 + y2) / 2.0 - horizon_row) <= 3.0
        ):
            continue  # the horizon (or a shoreline), not a building's edge
        total += length
        if min(angle, abs(angle - 90.0), 180.0 - angle) < 10.0:
            aligned += length
    return total, aligned / total if total else 0.0


@lru_cache(maxsize=1)
def _hog() -> Any:
    """OpenCV's HOG people detector, or None: OpenCV 5 moved it (and the Haar cascades) out
    of the main package into contrib, so a plain ``opencv-python`` 5 has neither."""
    make = getattr(cv2, "HOGDescriptor", None)
    people = getattr(cv2, "HOGDescriptor_getDefaultPeopleDetector", None)
    if make is None or people is None:
        return None
    hog = make()
    hog.setSVMDetector(people())
    return hog


PEOPLE_WEIGHT = 0.6  # HOG SVM score a detection needs to count as a person


def count_people(image: np.ndarray) -> int | None:
    """People standing or walking, found by OpenCV's bundled HOG people detector; None when
    this OpenCV has no such detector."""
    hog = _hog()
    if hog is None:
        return None
    small = _resize(image, HOG_WIDTH)
    if small.shape[0] < 128 or small.shape[1] < 64:
        return 0
    boxes, weights = hog.detectMultiScale(small, winStride=(8, 8), padding=(8, 8), scale=1.08)
    if len(boxes) == 0:
        return 0
    kept = [
        list(map(int, b))
        for b, wt in zip(boxes, np.ravel(weights), strict=False)
        if float(wt) >= PEOPLE_WEIGHT
    ]
    if not kept:
        return 0
    grouped, _ = getattr(cv2, "groupRectangles")(kept + kept, 1, 0.3)  # noqa: B009
    return len(grouped)


@lru_cache(maxsize=1)
def _face_cascade() -> Any:
    folder = getattr(getattr(cv2, "data", None), "haarcascades", "")
    path = Path(folder) / "haarcascade_frontalface_default.xml"
    if not folder or not path.is_file():
        return None
    make = getattr(cv2, "CascadeClassifier", None)  # absent from OpenCV 5's main package
    if make is None:
        return None
    cascade = make(str(path))
    return None if cascade.empty() else cascade


def count_faces(image: np.ndarray) -> int | None:
    """Frontal faces big enough to matter, at least :data:`FACE_MIN_SHARE` of the frame high
    (someone in a medium close-up or nearer), or None when this OpenCV ships no face cascade.

    The frame is scaled so that such a face fills the cascade's own window: smaller faces
    (a crowd, people far off) are not looked for, which is most of the cascade's work."""
    cascade = _face_cascade()
    if cascade is None:
        return None
    h, w = image.shape[:2]
    rows = round(HAAR_WINDOW / FACE_MIN_SHARE)
    if h > rows:
        image = cv2.resize(image, (max(1, round(w * rows / h)), rows), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    side = max(HAAR_WINDOW, math.ceil(FACE_MIN_SHARE * grey.shape[0]))
    return len(
        cascade.detectMultiScale(
            grey, scaleFactor=1.1, minNeighbors=FACE_NEIGHBOURS, minSize=(side, side)
        )
    )


def motion_features(frames: Sequence[np.ndarray]) -> Features:
    """Camera motion (an affine fit of the dense flow) against things moving (what the fit
    leaves over), in frame widths per second, and where the moving things are."""
    greys = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
    h, w = greys[0].shape
    camera, moving, low_moving, residual_speed = [], [], [], []
    masks = []
    ys, xs = np.mgrid[0:h:4, 0:w:4]
    design = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)], axis=1).astype(np.float64)
    for a, b in zip(greys, greys[1:], strict=False):
        # flags 0: the given flow buffer is only written
        flow = cv2.calcOpticalFlowFarneback(
            a, b, np.zeros((h, w, 2), np.float32), 0.5, 3, 13, 3, 5, 1.1, 0
        )
        sample = flow[0:h:4, 0:w:4].reshape(-1, 2).astype(np.float64)
        fit = _robust_affine(design, sample)
        residual = np.hypot(*(sample - design @ fit).T).reshape(xs.shape)
        shift = np.hypot(*(design @ fit).T)
        camera.append(float(np.median(shift)) / w)
        mask = residual > max(0.6, 0.004 * w)
        moving.append(float(mask.mean()))
        masks.append(mask)
        low_moving.append(float(mask[int(mask.shape[0] * 0.5) :].mean()))
        residual_speed.append(float(residual[mask].mean()) / w if mask.any() else 0.0)
    per_second = BURST_RATE
    return {
        "walkers": float(upright_movers(masks)),
        "camera_motion": float(np.median(camera)) * per_second,
        "object_motion": float(np.median(moving)),
        "object_motion_low": float(np.median(low_moving)),
        "object_speed": float(np.median(residual_speed)) * per_second,
    }


def upright_movers(masks: Sequence[np.ndarray]) -> int:
    """Moving regions shaped like a standing person (taller than wide, a fifth of the frame
    high or more, not filling it, reaching the lower part of the frame where the ground is):
    a stand-in for a people detector, from motion alone."""
    if not masks:
        return 0
    moving = (np.mean(masks, axis=0) >= 0.5).astype(np.uint8)
    moving = cv2.morphologyEx(moving, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(moving, connectivity=8)
    h, w = moving.shape
    found = 0
    for _, y, bw, bh in stats[1:count, :4]:
        standing = y + bh >= h * 0.7  # feet low in the frame, as on the ground
        if standing and h * 0.2 <= bh <= h * 0.9 and bh >= 1.3 * bw and bw <= w * 0.4:
            found += 1
    return found


def _robust_affine(design: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Least-squares affine flow, fitted again without the worst third of points (moving
    things), so the camera's motion is what most of the picture does; deterministic. Solved by
    the normal equations (three unknowns per axis), a tenth of the cost of an SVD."""
    fit = _affine(design, flow)
    error = np.hypot(*(flow - design @ fit).T)
    keep = error <= np.quantile(error, 0.66)
    if keep.sum() >= 6:
        fit = _affine(design[keep], flow[keep])
    return fit


def _affine(design: np.ndarray, flow: np.ndarray) -> np.ndarray:
    try:
        return np.asarray(np.linalg.solve(design.T @ design, design.T @ flow))
    except np.linalg.LinAlgError:  # points on one line: the least-squares fit of least norm
        return np.asarray(np.linalg.lstsq(design, flow, rcond=None)[0])


def flicker_features(frames: Sequence[np.ndarray]) -> Features:
    """Brightness oscillation over the burst: of warm saturated patches (flames) and of the
    whole frame (lightning, screens), as the mean frame-to-frame change over the mean level."""
    hsvs = [_hsv(f) for f in frames]
    warm_masks = [
        ((hue < 45) | (hue >= 340)) & (sat > 0.45) & (val > 0.35) for hue, sat, val in hsvs
    ]
    warm = np.logical_or.reduce(warm_masks)
    levels = np.array([float(val.mean()) for _, _, val in hsvs])
    whole = float(np.abs(np.diff(levels)).mean() / max(0.02, levels.mean()))
    warm_cover = float(np.mean([m.mean() for m in warm_masks]))
    if warm.mean() < 0.002:
        warm_change = 0.0
    else:
        warm_levels = np.array([float(val[warm].mean()) for _, _, val in hsvs])
        warm_sizes = np.array([float(m.mean()) for m in warm_masks])
        warm_change = float(
            np.abs(np.diff(warm_levels)).mean() / max(0.02, warm_levels.mean())
            + np.abs(np.diff(warm_sizes)).mean() / max(1e-3, warm_sizes.mean())
        )
    return {
        "warm_cover": warm_cover,
        "warm_flicker": warm_change,
        "flicker": whole,
        "flash": float(np.abs(np.diff(levels)).max() if len(levels) > 1 else 0.0),
    }
