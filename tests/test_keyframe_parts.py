"""A keyframe is read and measured once for all the scenes that show it (the review merges
scenes, and a merged scene is measured anew): the same features, less work."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import pytest

from lvas.tools.video import evidence
from lvas.tools.video.evidence import combine_parts, image_parts, scene_evidence
from tests.test_planner_evidence import built_up, sky_over_grass


@pytest.fixture(autouse=True)
def nothing_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evidence, "_keyframes", type(evidence._keyframes)())


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    read = evidence.read_image

    def counted(path: str):
        reads.append(Path(path).name)
        return read(path)

    monkeypatch.setattr(evidence, "read_image", counted)
    return reads


def test_scenes_sharing_keyframes_measure_each_once(tmp_path, monkeypatch) -> None:
    grass, town = tmp_path / "grass.jpg", tmp_path / "town.jpg"
    assert cv2.imwrite(str(grass), sky_over_grass()) and cv2.imwrite(str(town), built_up())
    expected = combine_parts([image_parts(cv2.imread(str(p))) for p in (grass, town)])
    reads = _reads(monkeypatch)
    first = scene_evidence([str(grass)], None, 0.0, 2.0)
    merged = scene_evidence([str(grass), str(town)], None, 0.0, 4.0)
    again = scene_evidence([str(grass), str(town)], None, 0.0, 4.0)
    assert merged == again == expected
    assert first == combine_parts([image_parts(cv2.imread(str(grass)))])
    assert reads == ["grass.jpg", "town.jpg"]


def test_a_rewritten_keyframe_is_measured_again(tmp_path, monkeypatch) -> None:
    path = tmp_path / "frame.jpg"
    assert cv2.imwrite(str(path), sky_over_grass())
    before = scene_evidence([str(path)], None, 0.0, 2.0)
    assert cv2.imwrite(str(path), built_up())
    os.utime(path, ns=(1, 1))  # another change time, whatever the clock's resolution
    after = scene_evidence([str(path)], None, 0.0, 2.0)
    assert before != after
    assert after == combine_parts([image_parts(cv2.imread(str(path)))])
    assert scene_evidence([str(tmp_path / "missing.jpg")], None, 0.0, 2.0) == {}
