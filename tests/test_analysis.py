"""One-pass analysis: cuts at known times, shots that tile the video, keyframes, motion."""

from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from lvas.tools.common.errors import LVASInputError
from lvas.tools.video.analysis import (
    _RESERVOIR_SIZE,
    ENVELOPE_RATE,
    VideoAnalysis,
    _Frame,
    _Shot,
    analyze_video,
    colour_name,
    motion_onsets,
)
from tests import videos
from tests.conftest import CUT_TIMES

FRAME = 1 / 25


def _assert_cuts(
    found: list[float], expected: list[float] | tuple[float, ...], tol: float = 2 * FRAME
) -> None:
    assert len(found) == len(expected), (found, expected)
    for f, e in zip(found, expected, strict=True):
        assert abs(f - e) <= tol + 1e-6, (found, expected)


def _assert_tiles(result: VideoAnalysis) -> None:
    shots = result.shots
    assert shots[0].start == 0.0
    assert shots[-1].end == pytest.approx(result.duration)
    for a, b in zip(shots, shots[1:], strict=False):
        assert a.end == b.start and a.end > a.start
    assert [s.index for s in shots] == list(range(len(shots)))
    # Every shot starts at a cut; a cut whose shot was too short to stand alone stays a cut.
    assert set(s.start for s in shots[1:]) <= set(result.cuts)
    assert result.cuts == sorted(result.cuts)


@pytest.fixture(scope="module")
def cut_analysis(cut_video: Path, tmp_path_factory: pytest.TempPathFactory) -> VideoAnalysis:
    return analyze_video(cut_video, tmp_path_factory.mktemp("analysis"))


def test_finds_hard_cuts(cut_analysis: VideoAnalysis) -> None:
    _assert_cuts(cut_analysis.cuts, CUT_TIMES)
    _assert_tiles(cut_analysis)
    assert cut_analysis.duration == pytest.approx(8.0)
    assert cut_analysis.fps == pytest.approx(25.0)
    assert cut_analysis.frames_decoded == 200
    assert cut_analysis.corrupt_frames == 0 and cut_analysis.warnings == []


def test_keyframes_are_written(cut_analysis: VideoAnalysis) -> None:
    names = set()
    for shot in cut_analysis.shots:
        path = Path(shot.keyframe)
        assert path.is_absolute() and path.suffix == ".jpg"
        image = cv2.imread(str(path))
        assert image is not None and image.shape[1] <= 512
        names.add(path.name)
    assert len(names) == len(cut_analysis.shots)
    leftovers = [p for p in Path(cut_analysis.shots[0].keyframe).parent.iterdir()
                 if ".part" in p.name or p.name.endswith(".tmp")]
    assert leftovers == []
    for shot in cut_analysis.shots:
        assert shot.keyframes[0] == shot.keyframe and Path(shot.sharpest).exists()


def test_a_long_changing_shot_gets_one_keyframe_per_look(tmp_path: Path) -> None:
    # Two 8 s looks that the detectors are told not to split: one shot, two looks.
    path = videos.make_cut_video(tmp_path / "looks.mp4", [8.0, 8.0])
    result = analyze_video(path, tmp_path / "out", threshold=255.0, gradual=False)
    (shot,) = result.shots
    assert len(shot.keyframes) >= 2
    means = [cv2.imread(k).mean(axis=(0, 1)) for k in shot.keyframes]
    assert np.abs(means[0] - means[1]).max() > 20  # two different looks


def test_shot_looks(cut_analysis: VideoAnalysis) -> None:
    # Segment 1 is flat blue, segment 2 green with a white box (see tests/videos.py).
    blue, green = cut_analysis.shots[1], cut_analysis.shots[2]
    assert blue.colour == "blue" and 200 <= blue.hue <= 260
    assert green.colour == "green" and 70 <= green.hue <= 160
    for shot in cut_analysis.shots:
        assert 0.0 <= shot.brightness <= 1.0 and 0.0 <= shot.saturation <= 1.0
        assert 0.0 <= shot.motion <= 1.0


def test_motion_and_envelope(video_factory, tmp_path: Path) -> None:
    durations = [2.0] * 6
    path = video_factory("six.mp4", videos.make_cut_video, durations)
    result = analyze_video(path, tmp_path)
    _assert_cuts(result.cuts, [2.0, 4.0, 6.0, 8.0, 10.0])
    moving = [s.motion for s, m in zip(result.shots, videos.MOVING_SEGMENTS, strict=True) if m]
    still = [s.motion for s, m in zip(result.shots, videos.MOVING_SEGMENTS, strict=True) if not m]
    assert min(moving) > 5 * max(still) and min(moving) > 0.005
    env = np.load(result.envelope_path)
    assert env.dtype == np.float32
    assert abs(len(env) - result.duration * ENVELOPE_RATE) <= 1
    assert result.envelope_rate == ENVELOPE_RATE
    # A cut is no motion: at the cut from one still shot to another (8 s) the envelope stays
    # flat, and at the other cuts it does not jump to the size of a full-frame change.
    assert env[200] < 0.002 and env[201] < 0.002
    assert all(env[int(c * ENVELOPE_RATE)] < 0.1 for c in result.cuts)
    per_shot = [env[int(s.start * 25) + 1:int(s.end * 25)].mean() for s in result.shots]
    assert np.argmax(per_shot) in [i for i, m in enumerate(videos.MOVING_SEGMENTS) if m]


@pytest.mark.parametrize("detector", ["adaptive", "histogram"])
def test_other_detectors_find_hard_cuts(cut_video: Path, tmp_path: Path, detector: str) -> None:
    result = analyze_video(cut_video, tmp_path, detector=detector)
    _assert_cuts(result.cuts, CUT_TIMES)
    _assert_tiles(result)


@pytest.mark.parametrize("fade", [0.4, 0.8, 1.2])
def test_cross_fades_are_cut_at_their_midpoint(tmp_path: Path, fade: float) -> None:
    path, mids = videos.make_crossfade_video(tmp_path / "fades.mp4", [2.6, 3.0, 2.4, 2.8],
                                             fade=fade)
    result = analyze_video(path, tmp_path / "out")
    _assert_cuts(result.cuts, mids)
    _assert_tiles(result)


def test_frame_to_frame_detector_alone_misses_cross_fades(tmp_path: Path) -> None:
    path, mids = videos.make_crossfade_video(tmp_path / "fades.mp4", [2.0, 2.0, 2.0], fade=0.8)
    assert analyze_video(path, tmp_path / "out", gradual=False).cuts == []
    assert len(analyze_video(path, tmp_path / "out2").cuts) == len(mids)


def test_threshold_is_configurable(cut_video: Path, tmp_path: Path) -> None:
    assert analyze_video(cut_video, tmp_path, threshold=250.0).cuts == []


def test_unknown_detector(cut_video: Path, tmp_path: Path) -> None:
    with pytest.raises(LVASInputError, match="content"):
        analyze_video(cut_video, tmp_path, detector="magic")


def test_min_shot_seconds_merges_short_shots_but_keeps_their_cuts(tmp_path: Path) -> None:
    path = videos.make_cut_video(tmp_path / "short.mp4", [2.0, 0.3, 2.0, 0.3])
    result = analyze_video(path, tmp_path / "out", min_shot_seconds=0.5)
    assert all(s.end - s.start >= 0.5 - 1e-6 for s in result.shots)
    # The 0.3 s shot at 2.0 s is merged by the detector's flash filter (one cut); the cut
    # 0.3 s before the end is held by that filter until the video ends, and still a cut.
    _assert_cuts(result.cuts, [2.0, 4.3])
    assert [s.start for s in result.shots] == [0.0, 2.0]  # the tail joined the shot before
    _assert_tiles(result)


@pytest.mark.parametrize("durations", [(2.0, 2.0, 0.3), (2.5, 1.6, 0.5, 0.3), (3.0, 0.2)])
def test_a_short_last_shot_keeps_its_cut(tmp_path: Path,
                                                  durations: tuple[float, ...]) -> None:
    path = videos.make_cut_video(tmp_path / "tail.mp4", durations)
    result = analyze_video(path, tmp_path / "out")
    ends = np.cumsum(durations)[:-1]
    _assert_cuts(result.cuts, [float(t) for t in ends])
    assert all(s.end - s.start >= 0.5 - 1e-6 for s in result.shots)
    _assert_tiles(result)


@pytest.mark.parametrize("subject", ["testsrc2", "smptebars", "testsrc"])
@pytest.mark.parametrize("kind", videos.LIGHT_CHANGES)
def test_a_change_of_light_within_a_shot_is_no_cut(tmp_path: Path, subject: str,
                                                   kind: str) -> None:
    path = videos.make_light_change_video(tmp_path / f"{kind}.mp4", kind, subject=subject)
    result = analyze_video(path, tmp_path / "out")
    assert result.cuts == [] and len(result.shots) == 1


def test_cuts_are_found_among_changes_of_light(tmp_path: Path) -> None:
    """The evaluation set's light videos: every hard cut, and no light change, is a cut."""
    from tests.cut_eval import TOLERANCE, make_evaluation_set
    from tests.cut_metrics import match_cuts

    for path, truth, category in make_evaluation_set(tmp_path / "eval"):
        if category != "light":
            continue
        score = match_cuts(analyze_video(path, tmp_path / "out").cuts, truth, TOLERANCE)
        assert (score.false_positives, score.false_negatives) == (0, 0), (path.name, score)


def test_variable_frame_rate(video_factory, tmp_path: Path) -> None:
    result = analyze_video(video_factory("vfr.mp4", videos.make_vfr_video), tmp_path)
    _assert_cuts(result.cuts, [2.0, 4.0])
    _assert_tiles(result)
    assert result.frames_decoded == 2 * 15 + 2 * 50 + 2 * 24
    assert result.corrupt_frames == 0


def test_rotated_keyframes_are_upright(video_factory, cut_video: Path, tmp_path: Path) -> None:
    path = video_factory("rot90.mp4", videos.make_rotated, cut_video, 90)
    result = analyze_video(path, tmp_path)
    _assert_cuts(result.cuts, CUT_TIMES)
    height, width = cv2.imread(result.shots[0].keyframe).shape[:2]
    assert height > width


def test_no_container_duration(video_factory, tmp_path: Path) -> None:
    result = analyze_video(video_factory("raw.h264", videos.make_raw_h264), tmp_path)
    assert result.duration == pytest.approx(4.0, abs=0.05)
    _assert_cuts(result.cuts, [2.0])
    _assert_tiles(result)


@pytest.mark.parametrize(
    ("name", "maker"),
    [("ps.mpg", "make_mpeg_ps"), ("vp8_opus.webm", "make_webm"), ("mpeg4.avi", "make_avi_mpeg4")],
)
def test_other_containers(video_factory, tmp_path: Path, name: str, maker: str) -> None:
    result = analyze_video(video_factory(name, maker), tmp_path)
    _assert_cuts(result.cuts, [2.0], tol=3 * FRAME)
    _assert_tiles(result)


def test_truncated_file_is_analysed_up_to_its_last_frame(video_factory, tmp_path: Path) -> None:
    src = video_factory("whole.mkv", videos.make_cut_video, [2.0, 2.0])
    half = videos.make_truncated(tmp_path / "half.mkv", src)
    result = analyze_video(half, tmp_path / "out")
    assert 0.3 < result.duration < 3.5
    assert any("truncated" in w for w in result.warnings)
    _assert_tiles(result)


def test_damaged_frames_are_skipped_and_counted(tmp_path: Path) -> None:
    src = videos.make_cut_video(tmp_path / "ok.ts", [2.0, 2.0, 2.0],
                                extra_output_args=["-f", "mpegts"])
    bad = videos.make_damaged_middle(tmp_path / "bad.ts", src, start=0.1, length=0.05)
    result = analyze_video(bad, tmp_path / "out")
    assert result.corrupt_frames > 0
    assert any("corrupt" in w for w in result.warnings)
    assert result.frames_decoded + result.corrupt_frames >= 140
    _assert_cuts(result.cuts, [2.0, 4.0])


def test_progress_reports_rise_to_one(cut_video: Path, tmp_path: Path) -> None:
    seen: list[float] = []
    analyze_video(cut_video, tmp_path, progress=seen.append)
    assert seen[-1] == 1.0 and len(seen) > 3
    assert seen == sorted(seen) and all(0.0 <= p <= 1.0 for p in seen)


def test_bad_input_raises(tmp_path: Path) -> None:
    with pytest.raises(LVASInputError):
        analyze_video(videos.make_text_file(tmp_path / "x.mp4"), tmp_path / "out")


def test_shot_memory_is_bounded() -> None:
    """An hour-long shot keeps a fixed number of keyframe candidates."""
    shot = _Shot(0.0, random.Random(0), 25.0)
    image = np.zeros((8, 8, 3), np.uint8)
    thumb = np.zeros((18, 32, 3), np.float32)
    for i in range(3600):
        fr = _Frame(t=float(i), motion=0.0, brightness=0.5, saturation=0.5,
                    hue_hist=np.zeros(36), thumb=thumb, sample=image, small=None)
        shot.add(fr, first=i == 0)
    assert len(shot.reservoir) <= _RESERVOIR_SIZE and shot.frames == 3600


def test_colour_names() -> None:
    assert colour_name(0.0, 0.0, 0.05) == "black"
    assert colour_name(0.0, 0.05, 0.5) == "grey"
    assert colour_name(0.0, 0.05, 0.9) == "white"
    assert colour_name(120.0, 0.8, 0.5) == "green"
    assert colour_name(230.0, 0.8, 0.5) == "blue"
    assert colour_name(355.0, 0.8, 0.5) == "red"


# -- motion onsets -------------------------------------------------------------------------------


def _envelope(tmp_path: Path, steps: dict[float, float], seconds: float = 10.0) -> Path:
    env = np.full(int(seconds * 25), 0.001, np.float32)
    for t, value in steps.items():
        env[int(t * 25):int(t * 25) + 10] = value  # a burst of motion starting at t
    path = tmp_path / "motion.npy"
    np.save(path, env)
    return path


def test_motion_onsets_find_rises(tmp_path: Path) -> None:
    path = _envelope(tmp_path, {1.0: 0.05, 3.0: 0.2, 6.0: 0.1})
    onsets = motion_onsets(path, 25.0, 0.0, 10.0, max_count=5)
    assert len(onsets) == 3
    for found, expected in zip(onsets, [1.0, 3.0, 6.0], strict=True):
        assert abs(found - expected) <= 0.1


def test_motion_onsets_strongest_first_and_window(tmp_path: Path) -> None:
    path = _envelope(tmp_path, {1.0: 0.05, 3.0: 0.2, 6.0: 0.1})
    assert [round(t) for t in motion_onsets(path, 25.0, 0.0, 10.0, max_count=2)] == [3, 6]
    inside = motion_onsets(path, 25.0, 2.0, 5.0, max_count=5)
    assert len(inside) == 1 and 2.0 <= inside[0] < 5.0
    assert motion_onsets(path, 25.0, 7.0, 10.0, max_count=5) == []


def test_motion_onsets_min_gap_and_flat(tmp_path: Path) -> None:
    path = _envelope(tmp_path, {2.0: 0.2, 2.2: 0.4})
    assert len(motion_onsets(path, 25.0, 0.0, 10.0, max_count=5, min_gap=1.0)) == 1
    flat = _envelope(tmp_path, {})
    assert motion_onsets(flat, 25.0, 0.0, 10.0, max_count=5) == []
    assert motion_onsets(flat, 25.0, 5.0, 5.0, max_count=5) == []
