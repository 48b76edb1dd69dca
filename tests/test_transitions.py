"""The dissolve detector finds blends at their midpoint and ignores cuts, motion and fade-ins."""

from __future__ import annotations

import numpy as np
import pytest

from lvas.tools.video.transitions import DissolveDetector

FPS = 25.0
H, W = 18, 32


def _picture(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.random((H // 3 + 1, W // 3 + 1, 3)).astype(np.float32)
    return np.kron(base, np.ones((3, 3, 1), np.float32))[:H, :W]


def _run(frames: list[np.ndarray]) -> list[float]:
    detector = DissolveDetector(FPS)
    found = []
    for i, frame in enumerate(frames):
        found += [g.time for g in detector.push(i / FPS, frame)]
    found += [g.time for g in detector.flush()]
    return found


def _dissolve(a: np.ndarray, b: np.ndarray, hold: int, length: int) -> list[np.ndarray]:
    ramp = [a + (b - a) * (i + 0.5) / length for i in range(length)]
    return [a] * hold + ramp + [b] * hold


@pytest.mark.parametrize("length", [8, 20, 30])
def test_dissolve_found_at_its_midpoint(length):
    frames = _dissolve(_picture(1), _picture(2), 40, length)
    (found,) = _run(frames)
    assert abs(found - (40 + length / 2) / FPS) <= 2 / FPS


def test_hard_cut_is_not_a_dissolve():
    assert _run([_picture(1)] * 40 + [_picture(2)] * 40) == []


def test_moving_object_is_not_a_dissolve():
    frames = []
    for i in range(80):
        frame = np.full((H, W, 3), 0.2, np.float32)
        x = i % (W - 8)
        frame[8:20, x:x + 8] = 1.0
        frames.append(frame)
    assert _run(frames) == []


def test_fade_in_at_the_start_is_not_a_cut():
    black = np.zeros((H, W, 3), np.float32)
    assert _run(_dissolve(black, _picture(3), 10, 25)) == []


def test_dip_to_black_is_one_transition():
    a, b, black = _picture(4), _picture(5), np.zeros((H, W, 3), np.float32)
    frames = [a] * 60 + _dissolve(a, black, 0, 12) + [black] * 5 + _dissolve(black, b, 0, 12)
    frames += [b] * 60
    assert len(_run(frames)) == 1
