"""Keyframes measured by a low-priority helper while the decode runs: the same measurement the
Scriptwriter would make, only of the keyframes a scene can start with, and only where the
Scriptwriter will read them."""

from __future__ import annotations

import os
import sys
import time
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
import pytest
from langgraph.runtime import Runtime

from lvas.graph.context import Context
from lvas.nodes import storyboarder as storyboarder_node
from lvas.tools.video import early_stills, evidence
from lvas.tools.video.early_stills import EarlyStills
from tests.pictures import encode_bgr_frames, grass_texture, windowed_blocks

H, W = 180, 320


def _write_keyframe(path: Path, image: np.ndarray) -> None:
    """As the decode pass writes one: encoded, then renamed into place."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 88])
    assert ok
    part = path.with_name(f".{path.name}.partial")
    part.write_bytes(buf.tobytes())
    os.replace(part, path)


def _pictures() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    field = grass_texture(rng, H, W)
    field[: H // 3] = (225, 170, 110)  # sky over a meadow
    town = windowed_blocks(np.full((H, W, 3), (200, 190, 180), np.uint8))
    dusk = np.dstack([np.linspace(20, 90, W, dtype=np.uint8)[None, :].repeat(H, 0)] * 3)
    return [field, town, dusk]


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evidence, "_keyframes", OrderedDict())


def _wait(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_the_helper_measures_each_shots_first_keyframes_as_they_appear(
    tmp_path: Path, fresh_cache: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    pictures = _pictures()
    wanted = [tmp_path / "keyframe_0000_0.jpg", tmp_path / "keyframe_0000_1.jpg",
              tmp_path / "keyframe_0001_0.jpg"]
    others = [tmp_path / "keyframe_0001_2.jpg", tmp_path / "keyframe_0001_sharp.jpg"]
    with EarlyStills(tmp_path) as helper:
        for path, image in zip([*wanted, *others], [*pictures, *pictures[:2]], strict=True):
            _write_keyframe(path, image)  # written while the helper runs, as the decode does
        _wait(lambda: helper.received >= len(wanted))
    assert helper.received == len(wanted)
    expected = {path: evidence.image_parts(evidence.read_image(str(path))) for path in wanted}

    def not_here(image: np.ndarray) -> evidence.ImageParts:
        raise AssertionError("measured again in this process")

    monkeypatch.setattr(evidence, "image_parts", not_here)
    for path in wanted:  # the helper's measurement, value for value
        assert evidence.keyframe_parts(str(path)) == expected[path]
    for path in others:  # never measured early: the Scriptwriter would measure them
        with pytest.raises(AssertionError, match="measured again"):
            evidence.keyframe_parts(str(path))


def test_a_keyframe_replaced_after_it_was_measured_is_measured_anew(
    tmp_path: Path, fresh_cache: None
) -> None:
    path = tmp_path / "keyframe_0000_0.jpg"
    field, town, _ = _pictures()
    _write_keyframe(path, field)
    with EarlyStills(tmp_path) as helper:
        _wait(lambda: helper.received >= 1)
    assert helper.received == 1
    early = evidence.keyframe_parts(str(path))
    time.sleep(0.01)
    _write_keyframe(path, town)  # a run that decoded the video again
    now = evidence.keyframe_parts(str(path))
    assert now == evidence.image_parts(_read(path)) and now != early


def _read(path: Path) -> np.ndarray:
    image = evidence.read_image(str(path))
    assert image is not None
    return image


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="no process priorities here")
def test_the_helper_runs_at_the_lowest_priority(tmp_path: Path) -> None:
    with EarlyStills(tmp_path) as helper:
        assert helper._proc is not None
        pid = helper._proc.pid
        expected = min(19, os.getpriority(os.PRIO_PROCESS, 0) + 19)
        _wait(lambda: os.getpriority(os.PRIO_PROCESS, pid) == expected, timeout=30)
        assert os.getpriority(os.PRIO_PROCESS, pid) == expected
    assert helper._proc.returncode is not None  # stopped with the block


def test_a_helper_that_cannot_start_leaves_the_measuring_to_the_scriptwriter(
    tmp_path: Path, fresh_cache: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    _write_keyframe(tmp_path / "keyframe_0000_0.jpg", _pictures()[0])
    with EarlyStills(tmp_path) as helper:
        pass
    assert helper.received == 0
    assert evidence.keyframe_parts(str(tmp_path / "keyframe_0000_0.jpg")) is not None


def _storyboard(tmp_path: Path, ctx: Context, seconds: float,
                monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Run the Storyboarder node on a short video said to last ``seconds``; returns the
    folders a helper was started for."""
    video = encode_bgr_frames([_pictures()[0]] * 20 + [_pictures()[1]] * 20,
                              tmp_path / "two_shots.mp4", 20, gop=20)
    started: list[Path] = []

    class Recorded(EarlyStills):
        def __enter__(self) -> EarlyStills:
            started.append(self.folder)
            return super().__enter__()

    monkeypatch.setattr(storyboarder_node, "EarlyStills", Recorded)
    monkeypatch.setattr(storyboarder_node, "start_backend_early", lambda ctx, seconds: None)
    state = {"run_dir": str(tmp_path / "run"), "video": str(video),
             "video_info": {"duration": seconds}, "plan_only": True}
    storyboarder_node.storyboarder(state, Runtime(context=ctx))
    return started


def test_the_storyboarder_starts_the_helper_for_a_long_video_the_offline_planner_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = _storyboard(tmp_path, Context(), storyboarder_node.EARLY_STILLS_SECONDS,
                          monkeypatch)
    assert len(started) == 1 and started[0].parent == tmp_path / "run" / "analysis"
    assert list(started[0].glob("keyframe_*_0.jpg"))  # where the decode wrote its keyframes


@pytest.mark.parametrize("ctx, seconds", [(Context(), 10.0),  # decoded in a moment
                                          (Context(vision_input=False), 600.0)])  # unread
def test_no_helper_where_it_could_not_help(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ctx: Context, seconds: float
) -> None:
    assert _storyboard(tmp_path, ctx, seconds, monkeypatch) == []


def test_the_helper_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(early_stills, "ENABLED", False)
    _write_keyframe(tmp_path / "keyframe_0000_0.jpg", _pictures()[0])
    with EarlyStills(tmp_path) as helper:
        assert helper._proc is None
    assert helper.received == 0
