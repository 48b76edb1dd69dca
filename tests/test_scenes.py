"""Scenes tile the video and keep their statistics when shots are grouped or merged."""

from __future__ import annotations

import numpy as np
import pytest

from lvas.tools.video.scenes import merge_scenes, quiet_split_points, scenes_from_shots


def _shot(index, start, end, brightness=0.5, motion=0.01, hue=120.0):
    return {"index": index, "start": start, "end": end, "keyframe": f"k{index}.jpg",
            "brightness": brightness, "saturation": 0.4, "hue": hue, "colour": "green",
            "motion": motion}


def test_scenes_tile_the_duration_without_gaps():
    shots = [_shot(0, 0.0, 2.0), _shot(1, 2.0, 4.5), _shot(2, 4.5, 8.0)]
    scenes = scenes_from_shots(shots, duration=8.0, min_scene_seconds=1.0)
    assert [(s["start"], s["end"]) for s in scenes] == [(0.0, 2.0), (2.0, 4.5), (4.5, 8.0)]
    assert [s["index"] for s in scenes] == [0, 1, 2]
    assert scenes[1]["shots"] == [1] and scenes[1]["keyframes"] == ["k1.jpg"]


def test_short_shots_join_a_neighbour():
    shots = [_shot(0, 0.0, 0.4), _shot(1, 0.4, 3.0), _shot(2, 3.0, 3.3), _shot(3, 3.3, 6.0),
             _shot(4, 6.0, 6.5)]
    scenes = scenes_from_shots(shots, duration=6.5, min_scene_seconds=1.0)
    assert [s["shots"] for s in scenes] == [[0, 1, 2], [3, 4]]
    assert scenes[0]["start"] == 0.0 and scenes[-1]["end"] == 6.5
    assert all(a["end"] == b["start"] for a, b in zip(scenes, scenes[1:], strict=False))


def test_statistics_are_duration_weighted():
    shots = [_shot(0, 0.0, 3.0, brightness=0.2), _shot(1, 3.0, 4.0, brightness=0.6)]
    (scene,) = scenes_from_shots(shots, duration=4.0, min_scene_seconds=2.0)
    assert scene["brightness"] == pytest.approx(0.3)


def test_merge_keeps_first_id_and_spans_both():
    a, b = scenes_from_shots([_shot(0, 0.0, 2.0), _shot(1, 2.0, 5.0)], duration=5.0,
                             min_scene_seconds=1.0)
    merged = merge_scenes(a, b)
    assert merged["id"] == a["id"] and (merged["start"], merged["end"]) == (0.0, 5.0)
    assert merged["shots"] == [0, 1]


def test_long_scene_splits_at_its_quietest_moment():
    rate = 25.0
    envelope = np.full(int(100 * rate), 0.05, np.float32)
    envelope[int(37 * rate): int(39 * rate)] = 0.0  # a quiet moment at 37-39 s
    envelope[int(80 * rate): int(81 * rate)] = 0.0
    scenes = scenes_from_shots([_shot(0, 0.0, 100.0)], duration=100.0, min_scene_seconds=2.0,
                               max_scene_seconds=45.0, envelope=envelope, envelope_rate=rate)
    bounds = [(s["start"], s["end"]) for s in scenes]
    assert 37.0 <= bounds[0][1] <= 39.0
    assert all(b - a <= 45.0 + 1e-6 for a, b in bounds)
    assert bounds[0][0] == 0.0 and bounds[-1][1] == 100.0
    assert all(x[1] == y[0] for x, y in zip(bounds, bounds[1:], strict=False))
    assert len({s["id"] for s in scenes}) == len(scenes)
    assert scenes[0]["motion"] < 0.05


@pytest.mark.parametrize("length", [0.1, 7.9, 45.0, 45.1, 3600.0, 5 * 3600.0])
def test_split_points_tile_any_length(length):
    points = quiet_split_points(0.0, length, max_seconds=45.0, min_seconds=2.0,
                                envelope=np.random.default_rng(0).random(int(length * 25) + 1),
                                rate=25.0)
    bounds = [0.0, *points, length]
    assert all(b > a for a, b in zip(bounds, bounds[1:], strict=False))
    assert all(b - a <= 45.0 + 1e-6 for a, b in zip(bounds, bounds[1:], strict=False))
