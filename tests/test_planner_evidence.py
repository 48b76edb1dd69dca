"""Visual evidence on pictures of known content, and the offline planner's use of it."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from lvas.nodes.scriptwriter import with_evidence
from lvas.tools.planning import offline as planner
from lvas.tools.video import evidence
from tests.pictures import encode_bgr_frames, grass_texture, windowed_blocks

H, W = 180, 320


def _ground(rng: np.random.Generator, h: int = H, w: int = W) -> np.ndarray:
    return grass_texture(rng, h, w)


def sky_over_grass(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = _ground(rng)
    rows = np.linspace(0, 1, H // 2)[:, None]
    sky = np.zeros((H // 2, W, 3), np.float32)
    sky[..., 0] = 230 - 30 * rows  # blue, lighter towards the horizon
    sky[..., 1] = 160 + 40 * rows
    sky[..., 2] = 90 + 60 * rows
    image[: H // 2] = sky.astype(np.uint8)
    return image


def built_up(seed: int = 0) -> np.ndarray:
    """Grey blocks with rows of windows under a blue sky."""
    return windowed_blocks(np.full((H, W, 3), (225, 170, 110), np.uint8))


def test_sky_and_plants_are_measured_and_read_as_nature() -> None:
    features = evidence.static_features([sky_over_grass()])
    assert features["sky"] >= planner.SKY_MIN and features["sky_below"] < 0.05
    assert features["green"] >= planner.PLANTS_MIN
    assert features["straight_share"] < planner.PLANTS_STRAIGHT_MAX
    reading = planner.read_scene({"id": "s", "start": 0.0, "end": 4.0, "evidence": features})
    assert reading.setting.key == "nature"


def test_buildings_under_sky_are_built_up() -> None:
    features = evidence.static_features([built_up()])
    assert features["straight_share"] >= planner.BUILT_STRAIGHT_MIN
    assert features["upright_share"] >= planner.BUILT_UPRIGHT_MIN
    assert features["green"] < planner.PLANTS_MIN
    grass = evidence.static_features([sky_over_grass()])
    assert grass["straight_share"] < features["straight_share"]


def _patch_frames(flicker: bool, count: int = 8) -> list[np.ndarray]:
    frames = []
    for i in range(count):
        frame = np.full((90, 160, 3), 25, np.uint8)
        level = 255 if not flicker else (255 if i % 2 else 120)
        size = 30 if not flicker else (30 + 8 * (i % 3))
        cv2.rectangle(frame, (60, 30), (60 + size, 30 + size), (0, int(level * 0.5), level), -1)
        frames.append(frame)
    return frames


def test_a_flickering_orange_patch_flickers_and_a_steady_one_does_not() -> None:
    moving = evidence.flicker_features(_patch_frames(flicker=True))
    steady = evidence.flicker_features(_patch_frames(flicker=False))
    assert moving["warm_cover"] >= planner.FIRE_COVER_MIN
    assert moving["warm_flicker"] >= planner.FIRE_FLICKER_MIN
    assert steady["warm_flicker"] < 0.01
    features = {**moving, "edge_density": 0.05}
    assert (
        planner.read_scene({"id": "s", "start": 0.0, "end": 2.0, "evidence": features}).setting.key
        == "fire"
    )


def test_a_pan_is_camera_motion_and_a_moving_figure_is_object_motion() -> None:
    texture = _ground(np.random.default_rng(3), 90, 400)
    texture = cv2.GaussianBlur(texture, (3, 3), 0)
    pan = [np.ascontiguousarray(texture[:, 6 * i : 6 * i + 160]) for i in range(8)]
    panned = evidence.motion_features(pan)
    assert panned["camera_motion"] >= planner.CAMERA_MOVES
    assert panned["object_motion"] < planner.THINGS_MOVE

    still = cv2.GaussianBlur(_ground(np.random.default_rng(4), 90, 160), (3, 3), 0)
    figure = []
    for i in range(8):
        frame = still.copy()
        cv2.rectangle(frame, (20 + 5 * i, 30), (32 + 5 * i, 80), (40, 40, 200), -1)
        figure.append(frame)
    walked = evidence.motion_features(figure)
    assert walked["camera_motion"] < 0.02
    assert walked["object_motion"] > 0.01 and walked["object_motion_low"] >= planner.WALK_MOTION_MIN
    assert walked["walkers"] >= 1


def _scene(features: dict[str, float]) -> dict:
    return {
        "id": "scene-000",
        "index": 0,
        "start": 0.0,
        "end": 6.0,
        "motion": 0.02,
        "brightness": 0.5,
        "saturation": 0.4,
        "hue": 100.0,
        "evidence": features,
    }


WALKING_ON_GRASS = {
    "edge_density": 0.1,
    "sky": 0.5,
    "sky_blue": 0.5,
    "sky_below": 0.0,
    "green": 0.4,
    "straight_share": 0.01,
    "walkers": 1.0,
    "object_motion_low": 0.05,
    "ground_green": 0.6,
}


def test_walkers_get_footsteps_on_the_ground_shown_and_crowds_need_voices() -> None:
    reading = planner.read_scene(_scene(WALKING_ON_GRASS))
    assert reading.events == ["footsteps on grass"]
    crowd = {**WALKING_ON_GRASS, "people": 7.0}
    assert planner.read_scene(_scene(crowd)).events == ["footsteps on grass"]
    voiced = planner.read_scene(_scene(crowd), "people chatting in a park")
    assert voiced.events == ["footsteps on grass", "a crowd murmuring"]
    still = {**WALKING_ON_GRASS, "object_motion_low": 0.0}
    assert planner.read_scene(_scene(still)).events == []


def test_the_people_detector_is_wired_in_where_opencv_has_one(monkeypatch) -> None:
    monkeypatch.setattr(evidence, "count_people", lambda image: 6)
    monkeypatch.setattr(evidence, "count_faces", lambda image: None)
    features = evidence.static_features([sky_over_grass()])
    assert features["people"] == 6.0 and "faces" not in features
    monkeypatch.setattr(evidence, "count_people", lambda image: None)
    assert "people" not in evidence.static_features([sky_over_grass()])


@pytest.mark.parametrize(
    "features, key",
    [
        ({}, "unclear"),  # colour and light alone
        ({"edge_density": 0.02, "sky": 0.0, "green": 0.0, "straight_share": 0.0}, "unclear"),
        (
            {
                "edge_density": 0.05,
                "sky": 0.6,
                "sky_blue": 0.6,
                "sky_below": 0.0,
                "green": 0.02,
                "straight_share": 0.01,
            },
            "outdoors",
        ),
        # a pale smooth top over straight lines is a wall as much as an overcast sky: no city
        (
            {
                "edge_density": 0.05,
                "sky": 0.6,
                "sky_blue": 0.0,
                "sky_below": 0.0,
                "green": 0.0,
                "straight_share": 0.2,
                "upright_share": 0.7,
                "brightness": 0.6,
            },
            "unclear",
        ),
        (
            {
                "edge_density": 0.05,
                "sky": 0.0,
                "green": 0.0,
                "straight_share": 0.2,
                "upright_share": 0.7,
                "brightness": 0.5,
            },
            "room",
        ),
    ],
)
def test_weak_evidence_gives_a_neutral_bed(features, key) -> None:
    scene = _scene(features) if features else {**_scene({}), "evidence": {}}
    script = planner.describe_scene(scene)
    assert script["setting"] == key and key in planner.NEUTRAL_KEYS
    design = planner.design_scene(scene, script, None, [1.0, 3.0], seed=0)
    assert [s["layer"] for s in design["sounds"]] == ["background"]  # no invented event
    assert (
        design["sounds"][0]["description"] == planner.SETTINGS.get(key, planner.UNCLEAR).background
    )


def test_the_evidence_behind_each_choice_is_recorded_in_the_script() -> None:
    script = planner.describe_scene(_scene(WALKING_ON_GRASS))
    assert script["setting"] == "nature" and script["events"] == ["footsteps on grass"]
    records = script["evidence"]
    assert {"feature", "value", "op", "threshold", "met", "supports"} <= set(records[0])
    sky = next(r for r in records if r["feature"] == "sky")
    assert sky == {
        "feature": "sky",
        "value": 0.5,
        "op": ">=",
        "threshold": planner.SKY_MIN,
        "met": True,
        "supports": "outdoors (sky at the top)",
    }
    assert any(r["feature"] == "ground_green" and r["met"] for r in records)
    json.dumps(script)  # plain JSON, as the plan file keeps it
    design = planner.design_scene(_scene(WALKING_ON_GRASS), script, None, [1.0, 3.0], seed=0)
    assert [s["description"] for s in design["sounds"]] == [
        planner.SETTINGS["nature"].background,
        "footsteps on grass",
    ]


def test_a_scene_of_a_real_file_gets_burst_evidence(tmp_path) -> None:
    """Sky over grass panning left, encoded with ffmpeg: the Scriptwriter's evidence has the
    still features from the keyframe and the motion from a seek burst inside the scene."""
    wide = np.concatenate([sky_over_grass(1), sky_over_grass(2)], axis=1)
    path = tmp_path / "pan.mp4"
    encode_bgr_frames([wide[:, 4 * i : 4 * i + W] for i in range(60)], path, 25, gop=25)
    keyframe = tmp_path / "k.jpg"
    cv2.imwrite(str(keyframe), sky_over_grass(1))
    scene = {
        "id": "scene-000",
        "index": 0,
        "start": 0.8,
        "end": 2.4,
        "motion": 0.02,
        "keyframes": [str(keyframe)],
    }
    seen = with_evidence(scene, str(path))["evidence"]
    assert seen["sky"] >= planner.SKY_MIN
    assert seen["camera_motion"] >= planner.CAMERA_MOVES
    assert seen == with_evidence(scene, str(path))["evidence"]  # deterministic
    burst = evidence.burst_frames(str(path), 0.8, 2.4)
    assert len(burst) == evidence.BURST_FRAMES


def test_the_installed_opencv_carries_the_people_and_face_detectors() -> None:
    """pyproject pins OpenCV below 5, which still ships HOG and the Haar cascades: the detectors
    really run (a picture with nobody in it counts zero, not 'no detector')."""
    empty = sky_over_grass()
    assert evidence.count_people(empty) == 0
    assert evidence.count_faces(empty) == 0


def _portrait_in_frame(height: int) -> np.ndarray:
    """matplotlib's sample photograph of Grace Hopper (a real face), ``height`` px high at the
    bottom left of a grey 512x288 frame (the size of the Storyboarder's keyframes)."""
    import matplotlib.cbook as cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        photo = cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)
    frame = np.full((288, 512, 3), 90, np.uint8)
    width = round(photo.shape[1] * height / photo.shape[0])
    frame[288 - height :, 40 : 40 + width] = cv2.resize(
        photo, (width, height), interpolation=cv2.INTER_AREA
    )
    return frame


def test_only_faces_big_enough_to_matter_are_counted() -> None:
    """A face a quarter of the frame high counts; one an eighth high (someone farther off,
    whom the cascade still finds at full size) is not looked for, which saves most of its work."""
    assert evidence.count_faces(_portrait_in_frame(200)) == 1  # face about 0.27 of the height
    assert evidence.count_faces(_portrait_in_frame(90)) == 0  # face about 0.12 of the height
    assert evidence.FACE_MIN_SHARE > 0.125


MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


@pytest.mark.skipif(not (MEDIA / "cockatoo.mp4").is_file(), reason="needs ../shared/media")
def test_a_burst_after_a_seek_shows_the_picture_even_where_the_stream_start_is_needed() -> None:
    """cockatoo.mp4 (old x264, High 4:4:4) decodes to garbage after a seek unless the decoder
    has seen the stream's first frame (its x264 version SEI); the burst must show the real
    picture, the same in every run."""
    video = str(MEDIA / "cockatoo.mp4")
    burst = evidence.burst_frames(video, 0.0, 14.0)  # the seek to 7 s lands on 3.8 s
    assert len(burst) == evidence.BURST_FRAMES
    with av.open(video) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        first = next(f for f in container.decode(stream) if f.time >= 3.8 - 1e-6)
        h, w = burst[0].shape[:2]
        truth = first.to_ndarray(width=w, height=h, format="bgr24", interpolation="AREA")
    error = np.abs(burst[0].astype(np.float32) - truth.astype(np.float32)).mean()
    assert error < 6.0  # a garbage decode is off by ~100 levels
    again = evidence.burst_frames(video, 0.0, 14.0)
    assert all(np.array_equal(a, b) for a, b in zip(burst, again, strict=True))
