"""K-means keyframes pick one real frame per look; sharpness prefers detail."""

from __future__ import annotations

import numpy as np

from lvas.tools.video.keyframes import keyframe_count, kmeans_medoids, sharpness


def test_medoids_pick_one_frame_per_cluster_largest_first():
    rng = np.random.default_rng(0)
    red = rng.normal(0.0, 0.01, (10, 6)) + [1, 0, 0, 0, 0, 0]
    blue = rng.normal(0.0, 0.01, (4, 6)) + [0, 0, 1, 0, 0, 0]
    features = np.vstack([red[:5], blue, red[5:]])
    first, second = kmeans_medoids(features, 2)
    assert features[first][0] > 0.9 and features[second][2] > 0.9


def test_medoids_are_deterministic_and_bounded():
    features = np.random.default_rng(1).random((20, 8))
    assert kmeans_medoids(features, 3) == kmeans_medoids(features, 3)
    assert len(kmeans_medoids(features[:2], 5)) == 2
    assert kmeans_medoids(np.zeros((0, 8)), 2) == []


def test_keyframe_count_grows_with_length_and_is_capped():
    assert keyframe_count(2.0, 2) == 1
    assert keyframe_count(13.0, 13) == 2
    assert keyframe_count(600.0, 24) == 4
    assert keyframe_count(60.0, 1) == 1


def test_sharpness_prefers_detail_over_blur():
    rng = np.random.default_rng(2)
    detailed = (rng.random((90, 160, 3)) * 255).astype(np.uint8)
    blurred = np.full_like(detailed, 128)
    assert sharpness(detailed) > sharpness(blurred)
