"""The cut-accuracy evaluation set: generated videos whose cut times are known exactly.

Shared by the accuracy tests and ``benchmarks/bench_analysis.py`` so that both measure the
same thing. Segment lengths are irregular (1.3-4 s) and whole numbers of frames at 25 fps, so
every true cut falls on a frame boundary; a cross-fade's true cut is its mid-point. The
``light`` videos have hard cuts and, inside shots, changes of light (a step up, a step down,
an exposure ramp, a flash) that are no cuts: every detection there is a false positive.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from tests.videos import make_crossfade_video, make_cut_video, make_relit_cut_video

FPS = 25
SIZE = (320, 240)
TOLERANCE = 2 / FPS
"""Cut-matching tolerance of the evaluation: two frames."""


@dataclass(frozen=True)
class EvalVideo:
    """One evaluation video: ``fade`` is 0 for hard cuts, else the cross-fade length (s);
    ``light`` holds (kind, time) light changes within shots (``tests.videos.LIGHT_CHANGES``)."""

    name: str
    category: str  # "hard", "crossfade" or "light"
    frames: tuple[int, ...]  # segment lengths in frames at FPS
    fade: float = 0.0
    light: tuple[tuple[str, float], ...] = ()

    @property
    def durations(self) -> list[float]:
        return [n / FPS for n in self.frames]

    def hard_cut_times(self) -> list[float]:
        """Cumulative segment ends, the last one (end of video) excluded."""
        times, total = [], 0
        for n in self.frames[:-1]:
            total += n
            times.append(total / FPS)
        return times

    def key(self) -> str:
        """Short digest of the definition, so a changed definition never reuses an old file."""
        text = f"{self.category}|{self.frames}|{self.fade}|{SIZE}|{FPS}"
        if self.light:
            text += f"|{self.light}"
        return hashlib.sha1(text.encode()).hexdigest()[:8]


def evaluation_set() -> list[EvalVideo]:
    """The videos of the evaluation: hard cuts, cross-fades of 0.4, 0.8 and 1.2 s, and hard
    cuts with light changes inside their shots.

    Cross-fade segments are long enough that each shows alone for at least 0.6 s between its
    two fades (a segment of d seconds is alone for d - 2 * fade).
    """
    return [
        EvalVideo("hard_a", "hard", (33, 69, 45, 91, 55, 99, 39)),
        EvalVideo("hard_b", "hard", (82, 36, 58, 100, 41, 67, 48)),
        EvalVideo("hard_c", "hard", (47, 33, 76, 52, 88, 35)),
        EvalVideo("fade04_a", "crossfade", (40, 73, 51, 95, 62, 44), fade=0.4),
        EvalVideo("fade04_b", "crossfade", (57, 38, 84, 46, 70), fade=0.4),
        EvalVideo("fade08_a", "crossfade", (64, 90, 58, 77, 100), fade=0.8),
        EvalVideo("fade12_a", "crossfade", (80, 97, 76, 88, 100), fade=1.2),
        EvalVideo("light_a", "light", (75, 60, 90, 70, 80), light=(
            ("step", 1.0), ("flash", 3.8), ("dim", 6.4), ("ramp", 10.0), ("flash", 12.8))),
        EvalVideo("light_b", "light", (90, 70, 85, 75, 95, 60), light=(
            ("flash", 1.5), ("step", 7.5), ("dim", 11.0), ("ramp", 14.0), ("flash", 17.8))),
    ]


def _build(video: EvalVideo, path: Path) -> list[float]:
    """Write ``video`` to ``path`` (via a temporary name) and return its true cut times."""
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    truth = _truth(video)
    if video.fade:
        _, mids = make_crossfade_video(
            tmp, video.durations, fade=video.fade, size=SIZE, fps=FPS)
        if any(abs(a - b) > 1e-6 for a, b in zip(mids, truth, strict=True)):
            raise AssertionError(f"{video.name}: fade mid-points {mids} != expected {truth}")
    elif video.light:
        make_relit_cut_video(tmp, video.durations, video.light, size=SIZE, fps=FPS)
    else:
        make_cut_video(tmp, video.durations, size=SIZE, fps=FPS)
    os.replace(tmp, path)
    return truth


def make_evaluation_set(folder: str | os.PathLike[str]) -> list[tuple[Path, list[float], str]]:
    """Generate the evaluation videos in ``folder``: (path, true cut times in s, category).

    Files already in ``folder`` from the same definition are reused (generation is
    deterministic), which keeps repeated benchmark runs fast.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: list[tuple[Path, list[float], str]] = []
    for video in evaluation_set():
        path = folder / f"{video.name}-{video.key()}.mp4"
        truth = _truth(video) if path.exists() else _build(video, path)
        out.append((path, truth, video.category))
    return out


def _truth(video: EvalVideo) -> list[float]:
    """True cut times without building the file (must agree with the makers)."""
    if not video.fade:
        return video.hard_cut_times()
    # make_crossfade_video: fade i starts at sum(d[:i]) - i * fade; its mid-point is the cut.
    return [round(t - (i + 1) * video.fade + video.fade / 2, 6)
            for i, t in enumerate(video.hard_cut_times())]
