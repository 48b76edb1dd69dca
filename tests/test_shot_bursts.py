"""Motion and flicker bursts measured during the decode pass, and the evidence built on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lvas.nodes.scriptwriter import with_evidence
from lvas.tools.planning import offline as planner
from lvas.tools.video import evidence
from lvas.tools.video.analysis import analyze_video
from lvas.tools.video.shot_bursts import (
    BURST_GAP,
    ShotBursts,
    scene_burst,
    scene_shots,
)
from tests.pictures import encode_bgr_frames, grass_texture, windowed_blocks

H, W = 180, 320
MOTION_KEYS = {"camera_motion", "object_motion", "object_motion_low", "object_speed", "walkers"}
FLICKER_KEYS = {"warm_cover", "warm_flicker", "flicker", "flash"}


def _sky_over_grass(seed: int) -> np.ndarray:
    image = grass_texture(np.random.default_rng(seed), H, W)
    image[: H // 2] = (225, 170, 110)
    return image


def _pan_then_town(path: Path) -> Path:
    """2.4 s panning left over sky and grass, then a hard cut to 2.4 s of a still town."""
    wide = np.concatenate([_sky_over_grass(1), _sky_over_grass(2)], axis=1)
    pan = [wide[:, 4 * i : 4 * i + W] for i in range(60)]
    town = windowed_blocks(np.full((H, W, 3), (225, 170, 110), np.uint8))
    return encode_bgr_frames([*pan, *[town] * 60], path, 25, gop=25)


@pytest.fixture(scope="module")
def pan_then_town(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    folder = tmp_path_factory.mktemp("bursts")
    video = _pan_then_town(folder / "pan_town.mp4")
    shots = [shot.to_dict() for shot in analyze_video(video, folder / "analysis").shots]
    return video, shots


def test_the_decode_pass_measures_a_burst_where_a_seek_could_land(pan_then_town) -> None:
    """Bursts begin at each shot's first frame and at the stream's keyframes (one a second
    here) at least BURST_GAP s after the last, measured like a seek's: the pan moves the
    camera, the town stands still. A burst cut short by the shot's end keeps what it holds."""
    _, shots = pan_then_town
    assert [round(shot["start"], 2) for shot in shots] == [0.0, 2.4]
    assert [b["start"] for b in shots[0]["bursts"]] == pytest.approx([0.0, 2.0])
    assert [b["start"] for b in shots[1]["bursts"]] == pytest.approx([2.4])  # 3 and 4 too near
    for shot in shots:
        for burst in shot["bursts"]:
            assert set(burst) == {"start", "end", *MOTION_KEYS, *FLICKER_KEYS}
            assert shot["start"] <= burst["start"] < burst["end"] < shot["end"]
    # eight frames every other frame at 25 fps (a seek's burst takes the same)
    assert shots[1]["bursts"][0]["end"] - 2.4 == pytest.approx(14 / 25, abs=1e-3)
    assert shots[0]["bursts"][1]["end"] == pytest.approx(2.32, abs=1e-3)  # the cut at 2.4
    pan, town = shots[0]["bursts"][0], shots[1]["bursts"][0]
    assert pan["camera_motion"] >= planner.CAMERA_MOVES
    assert town["camera_motion"] < planner.CAMERA_MOVES / 4


def test_a_measured_burst_agrees_with_the_burst_a_seek_reads(pan_then_town) -> None:
    """The same pan read by a seek (another starting frame, another scaler): the camera's
    speed agrees within a few per cent, and a still picture stays still."""
    video, shots = pan_then_town
    seek = evidence.motion_features(evidence.burst_frames(str(video), 0.0, 2.4))
    measured = scene_burst(shots[:1], 0.0, 2.4)
    assert measured is not None
    assert measured["camera_motion"] == pytest.approx(seek["camera_motion"], rel=0.05)
    still = evidence.motion_features(evidence.burst_frames(str(video), 2.4, 4.8))
    assert scene_burst(shots[1:], 2.4, 4.8)["camera_motion"] == pytest.approx(
        still["camera_motion"], abs=0.002)


def test_a_scene_with_measured_bursts_does_not_read_the_video_again(
    pan_then_town, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Scriptwriter's evidence takes the shot's burst: no seek, the pan still seen; a
    scene without one (an old storyboard) still seeks."""
    video, shots = pan_then_town
    seeks: list[tuple[float, float]] = []
    read = evidence.burst_frames
    monkeypatch.setattr(evidence, "burst_frames",
                        lambda v, a, b, *rest: seeks.append((a, b)) or read(v, a, b, *rest))
    scene = {"id": "scene-000", "index": 0, "start": 0.0, "end": 2.4, "shots": [0],
             "keyframes": [shots[0]["keyframe"]]}
    seen = with_evidence(scene, str(video), scene_shots(scene, shots))["evidence"]
    assert seeks == []
    assert seen["camera_motion"] >= planner.CAMERA_MOVES and "sky" in seen
    old = [{k: v for k, v in shot.items() if k != "bursts"} for shot in shots]
    again = with_evidence({**scene, "end": 2.36}, str(video), scene_shots(scene, old))
    assert seeks == [(0.0, 2.36)]
    assert again["evidence"]["camera_motion"] >= planner.CAMERA_MOVES


def _frames(bursts: ShotBursts, times: np.ndarray, keys: set[float] = frozenset()) -> None:
    rng = np.random.default_rng(0)
    for t in times:
        bursts.add(float(t), rng.integers(0, 255, (144, 256, 3), np.uint8), float(t) in keys)


def test_bursts_begin_at_keyframes_and_skipped_frames_only_widen_gaps() -> None:
    """25 s at 24 fps whose every other frame was not decoded (x264's unreferenced B-frames),
    keyframes at 1, 5, 6 and 10 s: bursts begin at 0, 5 and 10 (1 and 6 are too near the last
    one), each of eight frames two intervals apart; a shot too short for three frames gives
    none, one cut short keeps what it holds."""
    times = np.arange(0, 25 * 24, 2) / 24.0
    bursts = ShotBursts(0.0, 24.0)
    _frames(bursts, times, {1.0, 5.0, 6.0, 10.0})
    measured = bursts.finish()
    assert [b["start"] for b in measured] == pytest.approx([0.0, 5.0, 10.0])
    assert all(b["end"] - b["start"] == pytest.approx(7 * 2 / 24, abs=1e-6) for b in measured)
    assert BURST_GAP > 1.0
    short = ShotBursts(3.0, 24.0)
    _frames(short, np.array([3.0, 3.1]))
    assert short.finish() == []
    tail = ShotBursts(3.0, 24.0)
    _frames(tail, np.array([3.0, 3.09, 3.18, 3.27]))
    (partial,) = tail.finish()
    assert partial["start"] == 3.0 and partial["end"] == pytest.approx(3.27)


def test_a_too_short_last_shot_hands_its_bursts_to_the_shot_it_joins() -> None:
    first, last = ShotBursts(0.0, 25.0), ShotBursts(4.0, 25.0)
    _frames(first, np.arange(0, 100) / 25.0)
    _frames(last, np.arange(100, 110) / 25.0)
    first.absorb(last)
    assert [b["start"] for b in first.finish()] == pytest.approx([0.0, 4.0])


def test_a_scene_takes_the_last_burst_before_its_middle_from_those_inside_it() -> None:
    """As a seek to the middle lands on the keyframe before it: the burst of the shot (or of
    the part of a long one) holding the middle; one reaching past the scene's end is not
    inside it, and a scene holding none gets None (the caller seeks)."""
    def burst(start: float, speed: float) -> dict[str, float]:
        return {"start": start, "end": start + 0.6, "camera_motion": speed}

    shots = [{"index": 0, "bursts": [burst(0.0, 1.0), burst(10.0, 2.0), burst(20.0, 3.0)]},
             {"index": 1, "bursts": [burst(25.0, 4.0)]}]
    assert scene_burst(shots, 0.0, 30.0) == {"camera_motion": 2.0}
    assert scene_burst(shots, 0.0, 20.0) == {"camera_motion": 2.0}
    assert scene_burst(shots, 12.0, 30.0) == {"camera_motion": 3.0}
    assert scene_burst(shots, 20.0, 24.0) == {"camera_motion": 3.0}
    assert scene_burst(shots, 1.0, 30.0) == {"camera_motion": 2.0}  # the first is not inside
    assert scene_burst(shots, 1.0, 9.0) is None
    assert scene_burst(shots, 24.0, 40.0) == {"camera_motion": 4.0}
    assert scene_burst(shots, 21.0, 24.0) is None
    assert scene_burst(shots, 20.0, 20.5) is None  # the burst runs past the scene's end
    assert scene_burst([{"index": 0}], 0.0, 5.0) is None


def test_a_flash_anywhere_in_a_shot_reaches_the_evidence(tmp_path: Path) -> None:
    """A two-frame flash of the whole picture 1.5 s into a still night shot, after its one
    burst (a keyframe there would be too near the first to begin another): the shot keeps its
    most flickering stretch, and the scene's flash and flicker are that stretch's (lightning),
    where the burst alone saw none."""
    still = (_sky_over_grass(3) * 0.25).astype(np.uint8)  # at night
    flash = np.clip(still.astype(np.int16) + 120, 0, 255).astype(np.uint8)
    frames = [flash if i in (37, 38) else still for i in range(100)]
    video = encode_bgr_frames(frames, tmp_path / "flash.mp4", 25, gop=250)
    (shot,) = [s.to_dict() for s in analyze_video(video, tmp_path / "analysis").shots]
    (burst,) = shot["bursts"]
    assert burst["flash"] < planner.FLASH_MIN / 4
    window = shot["flicker"]
    assert window["start"] <= 1.48 <= 1.52 <= window["end"]
    assert window["flash"] >= planner.FLASH_MIN and window["flicker"] >= planner.FLICKER_MIN
    scene = {"id": "scene-000", "index": 0, "start": 0.0, "end": 4.0, "shots": [0],
             "keyframes": [shot["keyframe"]]}
    seen = with_evidence(scene, str(video), [shot])["evidence"]
    assert (seen["flash"], seen["flicker"]) == (window["flash"], window["flicker"])
    assert seen["camera_motion"] == pytest.approx(burst["camera_motion"])


def test_a_fade_into_a_shot_is_not_read_as_movement(tmp_path: Path) -> None:
    """A still picture fading in from black over the first 0.5 s after its cut (the second half
    of a fade placed at its middle): as a seek to the scene's middle lands on the keyframe
    before it, the scene's burst is the one at that keyframe, past the fade, so nothing moves
    or flashes (the burst at the cut sees the fade)."""
    still = _sky_over_grass(4)
    frames = [(still * min(1.0, (i + 1) / 13)).astype(np.uint8) for i in range(100)]
    video = encode_bgr_frames(frames, tmp_path / "fade.mp4", 25, gop=50)
    shots = [s.to_dict() for s in analyze_video(video, tmp_path / "analysis").shots]
    assert [b["start"] for b in shots[-1]["bursts"]] == pytest.approx([0.0, 2.0])
    chosen = scene_burst(shots, 0.0, 4.0)
    assert chosen == {k: v for k, v in shots[-1]["bursts"][1].items()
                      if k not in ("start", "end")}
    assert chosen["object_motion"] == 0.0 and chosen["walkers"] == 0.0
    assert chosen["flash"] < 0.01
