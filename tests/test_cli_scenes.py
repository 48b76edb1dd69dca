"""``lvas scenes`` on every kind of awkward video: a clear error (exit 2) or a correct result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lvas.graph.cli import main
from tests import videos
from tests.cut_eval import make_evaluation_set
from tests.cut_metrics import match_cuts


def _scenes(capsys, video: Path, work: Path, *extra: str) -> tuple[int, str, str]:
    code = main(["scenes", str(video), "--json", "--work-dir", str(work), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def _assert_tiles(report: dict) -> None:
    scenes = report["scenes"]
    assert scenes[0]["start"] == 0.0
    assert scenes[-1]["end"] == pytest.approx(report["duration"])
    assert all(a["end"] == b["start"] for a, b in zip(scenes, scenes[1:], strict=False))
    assert report["cuts"] == sorted(report["cuts"])


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("missing.mp4", lambda p: p),
        ("folder.mp4", lambda p: p.mkdir() or p),
        ("empty.mp4", lambda p: p.write_bytes(b"") or p),
        ("notes.mp4", videos.make_text_file),
        ("song.m4a", videos.make_audio_only),
        ("zero.mp4", videos.make_empty_video),
    ],
)
def test_bad_inputs_exit_2_with_a_clear_message(capsys, tmp_path, name, make):
    video = make(tmp_path / name)
    code, out, err = _scenes(capsys, video, tmp_path / "work")
    assert code == 2 and out == ""
    assert err.startswith("lvas: error:") and "Traceback" not in err
    assert str(video.name) in err


@pytest.mark.parametrize(
    ("name", "maker", "args"),
    [
        ("vfr.mkv", "make_vfr_video", ()),
        ("odd.avi", "make_odd_size", ()),
        ("prog.mpg", "make_mpeg_ps", ((2.5, 2.5),)),
        ("old.avi", "make_avi_mpeg4", ((2.5, 2.5),)),
        ("raw.h264", "make_raw_h264", ((2.5, 2.5),)),
        ("clip.webm", "make_webm", ((2.5, 2.5),)),
    ],
)
def test_awkward_videos_give_tiling_scenes(capsys, tmp_path, video_factory, name, maker, args):
    video = video_factory(name, maker, *args)
    code, out, err = _scenes(capsys, video, tmp_path / "work", "--min-scene-seconds", "1")
    assert code == 0, err
    _assert_tiles(json.loads(out))


def test_rotated_video(capsys, tmp_path, video_factory, cut_video):
    video = video_factory("rot90.mp4", videos.make_rotated, cut_video, 90)
    code, out, _ = _scenes(capsys, video, tmp_path / "work", "--min-scene-seconds", "1")
    report = json.loads(out)
    assert code == 0 and [round(c) for c in report["cuts"]] == [2, 4, 6]


def test_truncated_mp4_is_a_clear_error(capsys, tmp_path, cut_video):
    video = videos.make_truncated(tmp_path / "half.mp4", cut_video)
    code, out, err = _scenes(capsys, video, tmp_path / "work")
    assert code == 2 and "lvas: error:" in err and "Traceback" not in err


def test_truncated_mkv_is_analysed_up_to_its_last_frame(capsys, tmp_path, video_factory):
    src = video_factory("cuts.mkv", videos.make_cut_video, [2.0, 2.0, 2.0, 2.0])
    video = videos.make_truncated(tmp_path / "half.mkv", src)
    code, out, err = _scenes(capsys, video, tmp_path / "work", "--min-scene-seconds", "1")
    assert code == 0, err
    report = json.loads(out)
    _assert_tiles(report)
    assert report["warnings"] and report["duration"] < 8.0


def test_scene_json_schema(capsys, tmp_path, cut_video):
    code, out, _ = _scenes(capsys, cut_video, tmp_path / "work", "--min-scene-seconds", "1")
    report = json.loads(out)
    assert code == 0
    assert {"duration", "fps", "cuts", "scenes", "shots"} <= set(report)
    assert len(report["scenes"]) >= 2
    for scene in report["scenes"]:
        assert {"index", "start", "end", "shots", "keyframes"} <= set(scene)
        assert all(Path(k).exists() for k in scene["keyframes"])


def test_cut_accuracy_on_hard_cuts_and_cross_fades(tmp_path):
    """F1 >= 0.95 within two frames over the shared evaluation set (the benchmark's too)."""
    from lvas.tools.video.analysis import analyze_video

    totals = {"tp": 0, "fp": 0, "fn": 0}
    for index, (path, truth, _category) in enumerate(make_evaluation_set(tmp_path / "eval")):
        result = analyze_video(path, tmp_path / f"out{index}")
        score = match_cuts(result.cuts, truth, tolerance=2.0 / result.fps + 1e-6)
        totals["tp"] += score.true_positives
        totals["fp"] += score.false_positives
        totals["fn"] += score.false_negatives
    precision = totals["tp"] / max(1, totals["tp"] + totals["fp"])
    recall = totals["tp"] / max(1, totals["tp"] + totals["fn"])
    f1 = 2 * precision * recall / max(1e-9, precision + recall)
    assert f1 >= 0.95, (totals, precision, recall)
