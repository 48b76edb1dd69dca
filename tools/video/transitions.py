"""Gradual shot transitions (dissolves, cross-fades, fades to and from black).

PySceneDetect's frame-to-frame detectors see a dissolve as many small changes and miss it.
Here each frame is compared with the frames half a window before and after it: across a
dissolve the picture changes a lot over the window, and the middle frame is, pixel by pixel,
close to the average of the two ends (a blend). Camera and object motion change the picture
too, but a moved picture is not the pixel average of its neighbours, and a hard cut makes
the middle frame equal to one end; both fail the blend test. The transition's time is the
frame where the blend is most even, i.e. its midpoint.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

THUMB_SIZE = (32, 18)  # width, height of the frames compared (any aspect works)
BLACK_LEVEL = 0.06  # mean level under which a frame counts as black
FADE_IN_GRACE = 2.5  # seconds: a fade from black this soon after the start or a fade to
# black opens the same shot (the video's first picture, or the second half of a dip to black)


@dataclass(frozen=True)
class GradualTransition:
    time: float
    start: float  # first and last frame the transition touches
    end: float
    change: float  # mean absolute pixel change across the window (0..1)
    blend_error: float  # 0 for a perfect linear blend, 0.5 for a hard cut


class DissolveDetector:
    """Streaming detector: feed every frame's thumbnail; read back finished transitions.

    Window centres that look like a blend form a run; when the run ends, the transition is
    placed in the middle of its strongest part. A dissolve longer than the window gives a
    flat run, whose middle is still the dissolve's midpoint. Memory is one window of 32x18
    thumbnails and one run of scores.
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
        self.steps: deque[float] = deque(maxlen=2 * self.h)
        self.run: list[tuple[float, float, float, float]] = []  # (t, score, change, blend)
        self.run_middles: list[np.ndarray] = []
        self.run_before: np.ndarray | None = None
        self.first_time: float | None = None
        self.run_darkest = 1.0  # darkest frame seen while a run is open
        self.last_to_black = -1e9

    @property
    def max_delay(self) -> float:
        """Longest time between a transition's midpoint and the frame that reports it."""
        return (self.h + self.max_run_frames) / self.fps

    def push(self, t: float, thumb: np.ndarray) -> list[GradualTransition]:
        """Add the next frame (float32 in 0..1); return transitions that ended with it."""
        if self.frames:
            self.steps.append(float(np.abs(thumb - self.frames[-1][1]).mean()))
        elif self.first_time is None:
            self.first_time = t
        self.frames.append((t, thumb))
        if self.run:
            self.run_darkest = min(self.run_darkest, float(thumb.mean()))
        if len(self.frames) < self.window:
            return []
        entry = self._score()
        if entry[1] > 0.0:
            if not self.run:
                self.run_before = self.frames[0][1]
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
        before = float(self.run_before.mean()) if self.run_before is not None else 1.0
        if before < BLACK_LEVEL:  # a fade from black
            if min(t - (self.first_time or 0.0), t - self.last_to_black) < FADE_IN_GRACE:
                return []
        elif darkest < BLACK_LEVEL:  # a fade to black
            self.last_to_black = t
        reach = self.h / self.fps
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
