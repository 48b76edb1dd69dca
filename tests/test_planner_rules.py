"""The offline planner's evidence rules for water, insects at night, lightning (thunder, with
rain only when the picture shows rain), a city at night, who walks and what flickers, and the
whole-video overview that names the places the scripts will (issue 14).

Pictures are drawn here with known content and measured by the real evidence functions; the
node test encodes a real clip with ffmpeg and runs the Scriptwriter's overview on it.
"""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from lvas.graph.context import Context
from lvas.nodes import scriptwriter
from lvas.tools.planning import offline as planner
from lvas.tools.video import evidence
from tests.pictures import encode_bgr_frames, grass_texture

H, W = 180, 320


def _sky(h: int, w: int = W) -> np.ndarray:
    rows = np.linspace(0, 1, h)[:, None]
    sky = np.zeros((h, w, 3), np.float32)
    sky[..., 0], sky[..., 1], sky[..., 2] = 230 - 30 * rows, 160 + 40 * rows, 90 + 60 * rows
    return sky.astype(np.uint8)


def sea_frames(count: int = 8, seed: int = 0) -> list[np.ndarray]:
    """Sky down to a horizon, then blue water whose small waves drift and change."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 1, (60, W // 3 + 40)).astype(np.float32)
    waves = cv2.GaussianBlur(cv2.resize(coarse, (W + 120, H - 70)), (3, 3), 0)
    frames = []
    for i in range(count):
        texture = waves[:, 5 * i : 5 * i + W]
        sea = np.array((150, 115, 70), np.float32) + (texture[..., None] - 0.5) * 110
        frames.append(np.vstack([_sky(70), np.clip(sea, 0, 255).astype(np.uint8)]))
    return frames


def _scene(features: dict[str, float], motion: float = 0.02) -> dict:
    return {
        "id": "scene-000",
        "index": 0,
        "start": 0.0,
        "end": 6.0,
        "motion": motion,
        "brightness": 0.4,
        "saturation": 0.4,
        "hue": 120.0,
        "evidence": features,
    }


def _read(features: dict[str, float], prompt: str | None = None) -> planner.Reading:
    return planner.read_scene(_scene(features), prompt)


# -- water --------------------------------------------------------------------------------------


def test_a_sea_under_the_sky_is_water_not_a_city() -> None:
    """Before: no rule for water (this sea got outdoor air; the development set's shore,
    whose waves and sand line make long level lines, got "distant city traffic rumbling")."""
    frames = sea_frames()
    features = {**evidence.static_features([frames[0]]), **evidence.motion_features(frames)}
    assert features["horizon"] >= planner.HORIZON_MIN
    assert features["object_motion_low"] >= planner.WATER_MOTION_MIN
    reading = _read(features)
    assert reading.setting.key == "water"
    assert reading.setting.background == "waves washing against the shore"
    assert reading.events == []  # the water is not somebody walking


def test_still_water_or_a_green_plain_under_the_sky_is_not_the_sea() -> None:
    frames = sea_frames()
    still = {**evidence.static_features([frames[0]]), **evidence.motion_features([frames[0]] * 8)}
    assert _read(still).setting.key != "water"  # nothing moves below the horizon
    meadow = {
        "edge_density": 0.07,
        "sky": 1.0,
        "sky_blue": 1.0,
        "sky_below": 0.0,
        "horizon": 12.0,
        "green": 0.5,
        "straight_share": 0.0,
        "object_motion_low": 0.4,
        "walkers": 0.0,
        "hue": 136.0,
        "saturation": 0.56,
    }
    assert _read(meadow).setting.key == "nature"  # grass in the wind is not water
    red = {**meadow, "green": 0.0, "hue": 20.0, "saturation": 0.6}
    assert _read(red).setting.key != "water"  # neither blue nor grey


# -- insects at night ---------------------------------------------------------------------------


def night_field(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ground = (grass_texture(rng, H, W).astype(np.float32) * 0.45).astype(np.uint8)
    rows = np.linspace(0, 1, 70)[:, None]
    sky = np.zeros((70, W, 3), np.float32)
    sky[..., 0], sky[..., 1], sky[..., 2] = 70 + 20 * rows, 35 + 20 * rows, 15 + 20 * rows
    ground[:70] = sky.astype(np.uint8)
    return ground


def test_plants_under_a_night_sky_get_insects_and_by_day_a_breeze() -> None:
    features = evidence.static_features([night_field()])
    assert features["brightness"] < planner.NIGHT_BRIGHTNESS
    reading = _read(features)
    assert reading.setting.key == "night_nature"
    assert "cricket" in reading.setting.background
    day = {
        "edge_density": 0.07,
        "sky": 1.0,
        "sky_blue": 1.0,
        "sky_below": 0.0,
        "green": 0.5,
        "straight_share": 0.0,
        "brightness": 0.66,
    }
    assert _read(day).setting.key == "nature"
    assert _read({**day, "brightness": 0.2}).setting.key == "night_nature"


# -- lightning, thunder and rain ---------------------------------------------------------------


def storm_frames(rain: bool, flash_at: int = 2, count: int = 8) -> list[np.ndarray]:
    """A dark field under a dark sky; the whole picture flashes at ``flash_at`` and fades; with
    ``rain``, streaks fall all over the picture."""
    rng = np.random.default_rng(1)
    base = np.full((90, 160, 3), (70, 62, 58), np.uint8)
    base[55:] = (35, 50, 40)
    frames = []
    for i in range(count):
        lift = {flash_at: 1.0, flash_at + 1: 0.5, flash_at + 2: 0.2}.get(i, 0.0)
        frame = np.clip(base.astype(np.float32) + lift * 150, 0, 255).astype(np.uint8)
        if rain:
            for _ in range(120):
                x, y = int(rng.integers(0, 160)), int(rng.integers(-8, 90))
                cv2.line(frame, (x, y), (x, y + 8), (170, 170, 165), 1)
        frames.append(frame)
    return frames


DARK_FIELD = {
    "edge_density": 0.05,
    "sky": 0.0,
    "dark_sky": 0.6,
    "green": 0.4,
    "straight_share": 0.0,
    "brightness": 0.25,
}


def _burst(frames: list[np.ndarray]) -> dict[str, float]:
    return {**evidence.motion_features(frames), **evidence.flicker_features(frames)}


def test_lightning_gives_thunder_and_rain_only_where_rain_is_seen() -> None:
    dry = {**DARK_FIELD, **_burst(storm_frames(rain=False))}
    assert dry["flash"] >= planner.FLASH_MIN and dry["flicker"] >= planner.FLICKER_MIN
    reading = _read(dry)
    assert reading.events == [planner.THUNDER]
    assert reading.setting.key == "nature"  # no rain to be seen: the place's own bed
    assert "rain" not in reading.setting.background

    wet = {**DARK_FIELD, **_burst(storm_frames(rain=True))}
    reading = _read(wet)
    assert reading.setting.key == "storm" and "rain" in reading.setting.background
    assert reading.events == [planner.THUNDER]
    design = planner.design_scene(
        _scene(wet), planner.describe_scene(_scene(wet)), None, [0.4, 3.1], seed=0
    )
    assert [(s["layer"], s["description"]) for s in design["sounds"]] == [
        ("background", "steady rain falling"),
        ("foreground", planner.THUNDER),
    ]
    assert design["sounds"][1]["onsets"] == [0.4, 3.1]  # on the flashes


def test_a_flicker_is_not_lightning_nor_a_step_of_light_nor_a_flash_indoors() -> None:
    screen = []  # a small screen changing in a dark room
    for i in range(8):
        frame = np.full((90, 160, 3), 40, np.uint8)
        level = 120 + 100 * (i % 2)
        cv2.rectangle(frame, (60, 25), (100, 55), (level, level - 20, level - 40), -1)
        screen.append(frame)
    flicker = _burst(screen)
    assert flicker["flash"] < planner.FLASH_MIN
    assert _read({**DARK_FIELD, **flicker}).events == []
    # a cut from dark to bright inside the burst: one step, it does not fade again
    step = [np.full((90, 160, 3), 40 if i < 4 else 200, np.uint8) for i in range(8)]
    stepped = _burst(step)
    assert stepped["flash"] >= planner.FLASH_MIN and stepped["flicker"] < planner.FLICKER_MIN
    assert _read({**DARK_FIELD, **stepped}).events == []
    # a flash in a lit room (no sky): a camera flash, not thunder
    room = {
        "edge_density": 0.05,
        "sky": 0.0,
        "dark_sky": 0.0,
        "green": 0.0,
        "straight_share": 0.2,
        "upright_share": 0.7,
        "brightness": 0.5,
    }
    flashed = _read({**room, **_burst(storm_frames(rain=False))})
    assert flashed.setting.key == "room" and flashed.events == []


# -- a city at night, a dark room ----------------------------------------------------------------


BUILT = {"edge_density": 0.2, "straight_share": 0.1, "upright_share": 0.5, "green": 0.02}


def test_lit_windows_make_a_city_at_night_and_a_dark_top_without_them_is_no_city() -> None:
    # The first shot of kivy_cityCC0: a purple night sky counted as sky, brightness 0.52, but
    # its windows lit (lights 0.13): before, "distant city traffic rumbling" while the next
    # shot of the same skyline got the night hum.
    lit = {
        **BUILT,
        "sky": 0.25,
        "sky_blue": 0.25,
        "sky_below": 0.01,
        "brightness": 0.52,
        "lights": 0.13,
    }
    assert _read(lit).setting.key == "city_night"
    assert _read({**lit, "lights": 0.0}).setting.key == "city"
    # a dark wall over a desk and a screen reads as a dark sky over straight lines: before, "a
    # distant city hum at night"; without lit windows it is no place
    dark_room = {**BUILT, "sky": 0.02, "dark_sky": 0.9, "brightness": 0.27, "lights": 0.0}
    assert _read(dark_room).setting is planner.UNCLEAR
    assert _read({**dark_room, "lights": 0.09}).setting.key == "city_night"


# -- who walks, what burns ---------------------------------------------------------------------


def test_one_person_found_without_an_upright_mover_does_not_walk() -> None:
    """Big Buck Bunny's bird on a branch: the HOG detector's one "person" and its flapping
    low in the frame gave "footsteps nearby" before."""
    bird = {
        "edge_density": 0.06,
        "sky": 0.77,
        "sky_blue": 0.77,
        "sky_below": 0.14,
        "green": 0.08,
        "straight_share": 0.05,
        "people": 1.0,
        "walkers": 0.0,
        "object_motion_low": 0.06,
    }
    reading = _read(bird)
    assert reading.events == []
    assert any(r["supports"] == "no footsteps: one sign only" for r in reading.evidence)
    assert _read({**bird, "walkers": 1.0}).events == ["footsteps nearby"]
    assert _read({**bird, "people": 2.0}).events == ["footsteps nearby"]


def test_a_warm_thing_moving_with_the_view_is_not_a_fire() -> None:
    """The cockatoo's salmon crest, the whole picture moving, gave "a fire crackling"."""
    crest = {
        "edge_density": 0.04,
        "warm_cover": 0.028,
        "warm_flicker": 0.69,
        "object_motion": 0.89,
        "camera_motion": 0.22,
        "sky": 0.15,
        "sky_below": 0.16,
    }
    assert _read(crest).setting.key != "fire"
    assert _read({**crest, "object_motion": 0.08}).setting.key == "fire"


# -- the whole-video overview --------------------------------------------------------------------


def test_the_overview_names_the_places_the_scenes_evidence_supports() -> None:
    scenes = [
        {**_scene({**DARK_FIELD, **_burst(storm_frames(rain=True))}), "id": "a", "end": 3.0},
        {
            **_scene({**BUILT, "sky": 0.3, "sky_blue": 0.3, "brightness": 0.6}),
            "id": "b",
            "start": 3.0,
            "end": 6.0,
        },
    ]
    text = planner.describe_video(scenes, None)
    assert "0.0-3.0 s: an outdoor place in a thunderstorm" in text
    assert "steady rain falling" in text and planner.THUNDER in text
    assert "3.0-6.0 s: an outdoor place among tall buildings" in text
    assert "does not clearly show" not in text
    # colour alone still names no place
    looks = [{k: v for k, v in s.items() if k != "evidence"} for s in scenes]
    assert planner.describe_video(looks, None).count("does not clearly show") == 2


@pytest.fixture()
def meadow_clip(tmp_path):
    """A 2 s clip of sky over grass (H.264) and its keyframe, as the Storyboarder leaves it."""
    rng = np.random.default_rng(5)
    picture = grass_texture(rng, H, W)
    picture[: H // 2] = _sky(H // 2)
    video = encode_bgr_frames([picture] * 50, tmp_path / "meadow.mp4", 25)
    keyframe = tmp_path / "keyframe_0000_0.jpg"
    cv2.imwrite(str(keyframe), picture)
    return video, keyframe


def test_the_scriptwriter_overview_reads_the_evidence_once_for_the_scripts_too(
    meadow_clip, tmp_path, monkeypatch
) -> None:
    """Before, the overview saw colour and light only ("a place the picture does not clearly
    show") while the scripts named the place from the evidence."""
    video, keyframe = meadow_clip
    calls = []
    measure = scriptwriter.scene_evidence

    def counted(*args, **kwargs):
        calls.append(args[1:])
        return measure(*args, **kwargs)

    monkeypatch.setattr(scriptwriter, "scene_evidence", counted)
    monkeypatch.setattr(scriptwriter, "_measured", type(scriptwriter._measured)())
    scene = {
        "id": "scene-000",
        "index": 0,
        "start": 0.0,
        "end": 2.0,
        "motion": 0.0,
        "brightness": 0.6,
        "saturation": 0.5,
        "hue": 120.0,
        "keyframes": [str(keyframe)],
    }
    runtime = SimpleNamespace(context=Context(chat_backend="offline"))
    state = {
        "scenes": [scene],
        "run_dir": str(tmp_path),
        "prompt": None,
        "video_info": {"path": str(video)},
    }
    overview = scriptwriter.write_overview(state, runtime)["overview"]
    assert "0.0-2.0 s: an outdoor place with plants and open sky" in overview
    assert "a light breeze rustling the leaves" in overview
    task = {
        "scene": scene,
        "overview": overview,
        "prompt": "",
        "run_dir": str(tmp_path),
        "review_round": 0,
        "video": str(video),
    }
    script = scriptwriter.write_scene_script(task, runtime)["scripts"]["scene-000"]
    assert script["setting"] == "nature"
    assert len(calls) == 1  # measured once, for the overview and the script
