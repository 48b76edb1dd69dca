"""The dissolve detector finds blends at their midpoint and ignores cuts, motion and fade-ins."""

from __future__ import annotations

import numpy as np
import pytest

from lvas.tools.video.transitions import DissolveDetector, relit

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
        found += [g.time for g in detector.push(i / FPS, frame) if not g.relit]
    found += [g.time for g in detector.flush() if not g.relit]
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


def _lit(picture: np.ndarray, gain: float, offset: float = 0.0) -> np.ndarray:
    return np.clip(picture * gain + offset, 0.0, 1.0)


@pytest.mark.parametrize(("gain", "offset"), [(1.8, 0.0), (0.5, 0.0), (1.3, 0.1), (0.7, -0.05)])
def test_the_same_picture_under_other_light_is_relit(gain, offset):
    picture = _picture(7) * 0.6 + 0.2
    assert relit(picture, _lit(picture, gain, offset))


def test_another_picture_is_not_relit():
    assert not relit(_picture(7), _picture(8))
    assert not relit(_picture(7), _lit(_picture(8), 1.5))


def test_black_and_plain_pictures():
    black = np.zeros((H, W, 3), np.float32)
    blue = np.zeros((H, W, 3), np.float32) + np.array([0.7, 0.2, 0.1], np.float32)
    orange = np.zeros((H, W, 3), np.float32) + np.array([0.1, 0.5, 0.9], np.float32)
    assert not relit(_picture(7), black) and not relit(black, _picture(7))
    assert relit(blue, blue * 0.6)  # a plain wall, lit less
    assert not relit(blue, orange)
    assert not relit(blue, _picture(7))


def test_a_moving_part_on_a_plain_background_is_still_the_same_shot():
    first = np.full((H, W, 3), 0.4, np.float32)
    first[5:11, 2:8] = 0.9
    second = np.full((H, W, 3), 0.4, np.float32)
    second[5:11, 6:12] = 0.9
    assert relit(first, _lit(second, 1.6))


def test_an_exposure_ramp_is_not_a_dissolve():
    picture = _picture(9) * 0.6 + 0.2
    ramp = [_lit(picture, 1.0 - 0.5 * i / 15) for i in range(15)]
    assert _run([picture] * 40 + ramp + [ramp[-1]] * 40) == []
    # the same frames with a new picture at the end are a dissolve
    assert len(_run(_dissolve(picture, _picture(10), 40, 15))) == 1
