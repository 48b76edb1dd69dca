"""Gradual shot transitions (dissolves, cross-fades, fades to and from black).

PySceneDetect's frame-to-frame detectors see a dissolve as many small changes and miss it.
Here each frame is compared with the frames half a window before and after it: across a
dissolve the picture changes a lot over the window, and the middle frame is, pixel by pixel,
close to the average of the two ends (a blend). Camera and object motion change the picture
too, but a moved picture is not the pixel average of its neighbours, and a hard cut makes
the middle frame equal to one end; both fail the blend test. The transition's time is the
frame where the blend is most even, i.e. its midpoint.

A change of light within one shot (a cloud, an exposure ramp, a flash, a lamp switched on)
changes every pixel too, and a ramp is even a perfect blend. :func:`relit` tells it from a
change of shot: after a gain/offset fit the picture's structure is the same, and so is its
colour.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

THUMB_SIZE = (32, 18)  # width, height of the frames compared (any aspect works)
BLACK_LEVEL = 0.06  # mean level under which a frame counts as black
FADE_IN_GRACE = 2.5  # seconds: a fade from black this soon after the start or a fade to
# black opens the same shot (the video's first picture, or the second half of a dip to black)
RELIGHT_SIZE = (64, 36)  # width, height at which two pictures' structure is compared
_FLAT = 0.02  # grey standard deviation (0..1) under which a picture has no structure to compare
_MIN_STRUCTURE = 0.7  # correlation of the grey pictures (a gain/offset fit's r) for "same"
_MIN_DETAIL = 0.3  # correlation of their fine detail (layout alone is not enough)
_MAX_CHROMA = 0.1  # L1 distance of mean chromaticities (gain-invariant colour)
_DARK = 0.03  # mean grey under which a picture is black, whatever structure noise shows
_MIN_INLIERS = 0.8  # share of pixels a gain/offset fit explains when a small part moved
_INLIER_TOLERANCE = 0.04  # grey (0..1) within which a pixel is explained by the fit
_GAIN_RANGE = (0.3, 3.5)  # gains a change of light can have


def _zero_mean_unit(x: np.ndarray) -> np.ndarray | None:
    x = x - float(x.mean())
    norm = float(np.sqrt((x * x).sum()))
    return x / norm if norm > 1e-9 else None


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation: the r of fitting ``b`` as gain * ``a`` + offset."""
    za, zb = _zero_mean_unit(a), _zero_mean_unit(b)
    return float((za * zb).sum()) if za is not None and zb is not None else 0.0


def _grey_and_chroma(picture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grey at :data:`RELIGHT_SIZE` (or smaller, as given) in 0..1, and mean chromaticity."""
    img: np.ndarray = picture.astype(np.float32)
    if picture.dtype == np.uint8:
        img *= 1.0 / 255.0
    if img.shape[1] > RELIGHT_SIZE[0]:
        img = cv2.resize(img, RELIGHT_SIZE, interpolation=cv2.INTER_AREA)
    mean = img.reshape(-1, 3).mean(axis=0)
    grey = img @ np.array([0.114, 0.587, 0.299], np.float32)  # BGR -> luma
    return grey, mean / max(float(mean.sum()), 1e-6)


def relit(before: np.ndarray, after: np.ndarray) -> bool:
    """Whether ``after`` is ``before`` under other light: the same shot, not a new one.

    Pictures are BGR (uint8, or float in 0..1), any equal size. The same shot under a gain
    and an offset keeps its grey picture's correlation (layout and fine detail both, so two
    shots merely sharing a bright sky over dark ground do not pass) and its chromaticity
    (colour with the light's strength divided out). Where something moves across a plain
    background the structure moves with it; there most pixels are still explained by one
    gain and offset (a robust fit), which a picture of another shot is not. Two
    structureless pictures (a bare wall) count as one lit differently when their colour
    agrees; a black picture is never the same shot (fades to and from black are transitions).
    """
    ga, ca = _grey_and_chroma(before)
    gb, cb = _grey_and_chroma(after)
    if float(np.abs(ca - cb).sum()) > _MAX_CHROMA:
        return False
    if min(float(ga.mean()), float(gb.mean())) < _DARK:
        return False
    flat_a, flat_b = float(ga.std()) < _FLAT, float(gb.std()) < _FLAT
    if flat_a or flat_b:
        return flat_a and flat_b
    if _correlation(ga, gb) >= _MIN_STRUCTURE:
        sigma = ga.shape[1] / 21.0  # about 3 pixels at 64 wide
        detail_a = ga - cv2.GaussianBlur(ga, (0, 0), sigma)
        detail_b = gb - cv2.GaussianBlur(gb, (0, 0), sigma)
        if _correlation(detail_a, detail_b) >= _MIN_DETAIL:
            return True
    return _explained_share(ga, gb) >= _MIN_INLIERS


def _explained_share(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels of ``b`` that one plausible gain and offset of ``a`` explains.

    The first fit matches the two pictures' sorted values (light keeps the order of grey
    levels, and a part that moved keeps its pixels' values), then least squares is refitted on
    the pixels it explains; at half :data:`RELIGHT_SIZE`, where a part that moved a little
    still overlaps itself.
    """
    if a.shape[1] > RELIGHT_SIZE[0] // 2:
        size = (RELIGHT_SIZE[0] // 2, RELIGHT_SIZE[1] // 2)
        a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
        b = cv2.resize(b, size, interpolation=cv2.INTER_AREA)
    x, y = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    gain, offset = _fit(np.sort(x), np.sort(y))
    for tolerance in (2 * _INLIER_TOLERANCE, _INLIER_TOLERANCE):
        keep = np.abs(y - (gain * x + offset)) < tolerance
        if int(keep.sum()) >= 8:
            gain, offset = _fit(x[keep], y[keep])
    if not _GAIN_RANGE[0] <= gain <= _GAIN_RANGE[1]:
        return 0.0
    return float((np.abs(y - (gain * x + offset)) < _INLIER_TOLERANCE).mean())


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares gain and offset of ``y`` on ``x`` (gain 1 where ``x`` is flat)."""
    dx = x - x.mean()
    var = float(dx @ dx)
    gain = float(dx @ (y - y.mean())) / var if var > 1e-8 else 1.0
    return gain, float(y.mean() - gain * x.mean())


@dataclass(frozen=True)
class GradualTransition:
    time: float
    start: float  # first and last frame the transition touches
    end: float
    change: float  # mean absolute pixel change across the window (0..1)
    blend_error: float  # 0 for a perfect linear blend, 0.5 for a hard cut
    relit: bool = False  # the same shot under other light (an exposure ramp): no cut


class DissolveDetector:
    """Streaming detector: feed every frame's thumbnail; read back finished transitions.

    Window centres that look like a blend form a run; when the run ends, the transition is
    placed in the middle of its strongest part. A dissolve longer than the window gives a
    flat run, whose middle is still the dissolve's midpoint. Memory is one window of 32x18
    thumbnails and one run of scores.

    A run whose last picture is its first one under other light (:func:`relit`) is an
    exposure or lighting ramp: it is reported with ``relit`` set, so that frame-to-frame cuts
    inside it can be dropped too, and it is no cut itself.
    """

    def __init__(
        self,
        fps: float,
        *,
        half_window: float = 0.4,
        min_change: float = 0.08,
        max_blend_error: float = 0.22,
        max_run: float = 3.0,
    ) -> None:
        self.fps = fps
        self.h = max(3, int(round(fps * half_window)))
        self.min_change = min_change
        self.max_blend_error = max_blend_error
        self.max_run_frames = max(2 * self.h, int(round(fps * max_run)))
        self.window = 2 * self.h + 1  # frames the score looks at, centred on the middle one
        self.frames: deque[tuple[float, np.ndarray]] = deque(maxlen=self.window)
        self.pictures: deque[np.ndarray] = deque(maxlen=self.window)  # for :func:`relit`
        self.steps: deque[float] = deque(maxlen=2 * self.h)
        self.run: list[tuple[float, float, float, float]] = []  # (t, score, change, blend)
        self.run_middles: list[np.ndarray] = []
        self.run_before: np.ndarray | None = None
        self.run_before_picture: np.ndarray | None = None
        self.first_time: float | None = None
        self.run_darkest = 1.0  # darkest frame seen while a run is open
        self.last_to_black = -1e9

    @property
    def max_delay(self) -> float:
        """Longest time between a transition's midpoint and the frame that reports it."""
        return (self.h + self.max_run_frames) / self.fps

    def push(self, t: float, thumb: np.ndarray,
             picture: np.ndarray | None = None) -> list[GradualTransition]:
        """Add the next frame (float32 in 0..1); return transitions that ended with it.

        ``picture`` (BGR, larger than the thumbnail) is what :func:`relit` compares; the
        thumbnail is used without one.
        """
        if self.frames:
            self.steps.append(float(np.abs(thumb - self.frames[-1][1]).mean()))
        elif self.first_time is None:
            self.first_time = t
        self.frames.append((t, thumb))
        self.pictures.append(thumb if picture is None else picture)
        if self.run:
            self.run_darkest = min(self.run_darkest, float(thumb.mean()))
        if len(self.frames) < self.window:
            return []
        entry = self._score()
        if entry[1] > 0.0:
            if not self.run:
                self.run_before = self.frames[0][1]
                self.run_before_picture = self.pictures[0]
            self.run.append(entry)
            self.run_middles.append(self.frames[self.h][1])
            if len(self.run) < self.max_run_frames:
                return []
        return self._close_run()

    def flush(self) -> list[GradualTransition]:
        """Transitions still open when the video ends."""
        return self._close_run()

    def _score(self) -> tuple[float, float, float, float]:
        (_, before), (t_mid, middle), (_, after) = (
            self.frames[0], self.frames[self.h], self.frames[-1]
        )
        change = float(np.abs(after - before).mean())
        if change < self.min_change:
            return t_mid, 0.0, change, 1.0
        blend = float(np.abs(middle - 0.5 * (before + after)).mean()) / change
        # A hard cut inside the window: one step carries most of the change.
        if max(self.steps) > 0.5 * change or blend > self.max_blend_error:
            return t_mid, 0.0, change, blend
        return t_mid, change * (1.0 - 2.0 * blend), change, blend

    def _close_run(self) -> list[GradualTransition]:
        if not self.run:
            return []
        run, self.run = self.run, []
        middles, self.run_middles = self.run_middles, []
        best = max(score for _, score, _, _ in run)
        strong = [entry for entry in run if entry[1] >= 0.9 * best]
        centre = _half_blend_time(run, middles, self.run_before, self.frames[-1][1])
        if centre is None:
            centre = 0.5 * (strong[0][0] + strong[-1][0])
        t, _, change, blend = min(run, key=lambda entry: abs(entry[0] - centre))
        darkest, self.run_darkest = self.run_darkest, 1.0
        reach = self.h / self.fps
        before_picture, self.run_before_picture = self.run_before_picture, None
        if before_picture is not None and relit(before_picture, self.pictures[-1]):
            return [GradualTransition(time=t, start=run[0][0] - reach, end=run[-1][0] + reach,
                                      change=change, blend_error=blend, relit=True)]
        before = float(self.run_before.mean()) if self.run_before is not None else 1.0
        if before < BLACK_LEVEL:  # a fade from black
            if min(t - (self.first_time or 0.0), t - self.last_to_black) < FADE_IN_GRACE:
                return []
        elif darkest < BLACK_LEVEL:  # a fade to black
            self.last_to_black = t
        return [GradualTransition(time=t, start=run[0][0] - reach, end=run[-1][0] + reach,
                                  change=change, blend_error=blend)]


def _half_blend_time(
    run: list[tuple[float, float, float, float]],
    middles: list[np.ndarray],
    before: np.ndarray | None,
    after: np.ndarray,
) -> float | None:
    """When the picture is half the old shot and half the new one.

    Each frame of the run is projected onto the line from the frame before the transition to
    the frame after it (least squares, so moving content averages out); the time where that
    share crosses one half is the midpoint, interpolated between frames.
    """
    if before is None:
        return None
    direction = (after - before).ravel()
    norm = float(direction @ direction)
    if norm <= 1e-9:
        return None
    shares = [float((m - before).ravel() @ direction) / norm for m in middles]
    for i, share in enumerate(shares):
        if share >= 0.5:
            if i == 0:
                return run[0][0]
            lo, hi = shares[i - 1], share
            frac = (0.5 - lo) / (hi - lo) if hi > lo else 0.0
            return run[i - 1][0] + frac * (run[i][0] - run[i - 1][0])
    return None
