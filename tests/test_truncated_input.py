"""A cut-off but readable file: the soundtrack ends with the last decoded frame; the run says so.

A faststart MP4 (index at the front) cut short still states its whole duration in its header;
only a full decode sees where its picture stops. From the Storyboarder's decode on, the run's
duration is the picture's: scenes, plan, mix and mux all end there.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest

from lvas.graph.cli import main
from lvas.nodes.storyboarder import narration_within
from lvas.tools.common.types import NarrationLine
from lvas.tools.delivery.muxing import mux_soundtrack
from lvas.tools.video.analysis import analyze_video
from lvas.tools.video.probe import (
    picture_ends_early,
    picture_info,
    probe_video,
    video_packet_span,
)
from tests import videos
from tests.audio_checks import decode_audio, video_packets_digest

AAC_FRAME = 1024  # samples in one AAC frame: the encoder's granularity


def last_frame_end(path: Path) -> float:
    """Where the picture really ends: the last frame PyAV decodes, plus one frame."""
    end = None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate)
        start = stream.start_time or 0
        for packet in container.demux(stream):
            try:
                frames = stream.decode(packet)
            except av.error.FFmpegError:
                continue
            for frame in frames:
                end = (frame.pts - start) * float(stream.time_base) + 1.0 / rate
    assert end is not None
    return end


def audio_seconds(path: Path) -> tuple[float, int]:
    samples, rate = decode_audio(path)
    return len(samples) / rate, rate


@pytest.fixture(scope="module")
def cut_short(tmp_path_factory) -> Path:
    """24 s stated, about 2.6 s of picture (the probe's packet sample reaches the end)."""
    return videos.make_truncated_faststart(tmp_path_factory.mktemp("cut") / "cut.mp4")


# -- the decode pass -----------------------------------------------------------------------


def test_the_probe_reads_the_header_and_the_packets_say_where_data_stops(cut_short):
    info = probe_video(cut_short)
    assert info.duration == pytest.approx(24.0) and info.duration_source == "container"
    span = video_packet_span(cut_short)
    assert span.stream_duration == pytest.approx(24.0)
    assert abs(span.end - last_frame_end(cut_short)) <= 2 / info.fps


def test_analysis_ends_with_the_last_decoded_frame(tmp_path):
    # 48 s stated, the picture stops past the probe's packet sample (12 s at 25 fps).
    video = videos.make_truncated_faststart(tmp_path / "long.mp4", (4.0,) * 12, fraction=0.6)
    picture = last_frame_end(video)
    assert 12.0 < picture < 40.0
    result = analyze_video(video, tmp_path / "out")
    assert result.duration == pytest.approx(picture, abs=1e-6)
    assert result.picture_end == pytest.approx(picture, abs=1e-6)
    assert result.shots[-1].end == pytest.approx(picture, abs=1e-6)
    assert [w for w in result.warnings if "header says 48.0 s" in w
            and f"picture ends at {picture:.2f} s" in w and "looks truncated" in w]


def test_a_picture_a_quarter_second_short_is_noticed(tmp_path):
    video = videos.make_truncated_faststart(tmp_path / "nearly.mp4", (8.0,), fraction=0.97)
    picture = last_frame_end(video)
    assert 7.5 < picture < 7.85  # a few frames short: more than the slack, less than 0.5 s
    result = analyze_video(video, tmp_path / "out")
    assert result.duration == pytest.approx(picture, abs=1e-6)
    assert any("looks truncated" in w for w in result.warnings)


def test_a_whole_faststart_file_keeps_its_stated_duration(tmp_path):
    video = videos.make_truncated_faststart(tmp_path / "whole.mp4", (3.0,), fraction=1.0)
    result = analyze_video(video, tmp_path / "out")
    assert result.duration == pytest.approx(3.0) and result.warnings == []


def test_audio_running_past_the_picture_is_not_called_truncation(tmp_path):
    video = videos.make_long_audio(tmp_path / "long_audio.mp4", picture=4.0, audio=6.0)
    assert probe_video(video).duration == pytest.approx(6.0, abs=0.05)
    result = analyze_video(video, tmp_path / "out")
    assert result.duration == pytest.approx(4.0, abs=1e-6)
    assert len(result.warnings) == 1
    assert "audio runs on" in result.warnings[0] and "truncated" not in result.warnings[0]


def test_the_slack_rule():
    assert not picture_ends_early(7.92, 8.0, 25.0)  # two frames: a complete file's muxing
    assert picture_ends_early(7.76, 8.0, 25.0)
    info = picture_info({"duration": 24.0, "duration_source": "container", "fps": 25.0}, 2.64)
    assert info == {"duration": 2.64, "duration_source": "picture", "fps": 25.0,
                    "header_duration": 24.0}
    assert picture_info(info, 2.6)["header_duration"] == 24.0


def test_narration_after_the_picture_is_left_out():
    lines: list[NarrationLine] = [
        {"id": "a", "start": 0.5, "end": 2.0, "text": "one"},
        {"id": "b", "start": 2.2, "end": 4.0, "text": "two"},
        {"id": "c", "start": 5.0, "end": 6.0, "text": "three"},
    ]
    kept, note = narration_within(lines, 3.0)
    assert [(line["id"], line["end"]) for line in kept] == [("a", 2.0), ("b", 3.0)]
    assert note and "1 narration line(s)" in note[0]


# -- delivery ------------------------------------------------------------------------------


def test_mux_pads_the_soundtrack_to_the_length_it_is_given(tmp_path, cut_short):
    wav = videos.make_audio_only(tmp_path / "tone.wav", seconds=1.0)
    picture = last_frame_end(cut_short)
    out = mux_soundtrack(cut_short, wav, tmp_path / "out.mp4", duration=picture)
    seconds, rate = audio_seconds(out)
    assert abs(seconds - picture) <= AAC_FRAME / rate
    assert video_packets_digest(out) == video_packets_digest(cut_short)


# -- the commands --------------------------------------------------------------------------


@pytest.fixture
def lvas_env(monkeypatch, label_cache_dir):
    monkeypatch.setenv("LVAS_CACHE_DIR", str(label_cache_dir))
    monkeypatch.setenv("LVAS_DEBUG", "")


def _assert_delivered(out: Path, video: Path) -> None:
    picture = last_frame_end(video)
    seconds, rate = audio_seconds(out)
    assert abs(seconds - picture) <= AAC_FRAME / rate, (seconds, picture)
    assert video_packets_digest(out) == video_packets_digest(video)  # the picture, bit for bit


def test_dub_ends_the_soundtrack_with_the_picture(tmp_path, cut_short, lvas_env, capsys):
    out, run = tmp_path / "out.mp4", tmp_path / "run"
    assert main(["dub", str(cut_short), "-o", str(out), "--work-dir", str(run),
                 "--seed", "1"]) == 0
    err = capsys.readouterr().err
    _assert_delivered(out, cut_short)
    picture = last_frame_end(cut_short)
    said = (f"cut.mp4: the header says 24.0 s but the picture ends at {picture:.2f} s (the file "
            "looks truncated); the soundtrack ends with the last decoded frame")
    assert f"warning: {said}" in err
    plan = json.loads((run / "plan.json").read_text())
    assert plan["storyboard"]["duration"] == pytest.approx(picture, abs=1e-6)
    assert plan["video_info"]["duration"] == pytest.approx(picture, abs=1e-6)
    assert plan["video_info"]["header_duration"] == pytest.approx(24.0)
    assert plan["scenes"][-1]["end"] == pytest.approx(picture, abs=1e-6)
    assert said in (run / "report.html").read_text()


def test_scenes_plan_and_render_agree_on_the_picture(tmp_path, cut_short, lvas_env, capsys):
    picture = last_frame_end(cut_short)
    assert main(["scenes", str(cut_short), "--work-dir", str(tmp_path / "scenes"),
                 "--json"]) == 0
    scenes = json.loads(capsys.readouterr().out)
    assert scenes["duration"] == pytest.approx(picture, abs=1e-6)

    plan = tmp_path / "cut.plan.json"
    assert main(["plan", str(cut_short), "-o", str(plan), "--work-dir",
                 str(tmp_path / "plan")]) == 0
    assert json.loads(plan.read_text())["storyboard"]["duration"] == scenes["duration"]
    out = tmp_path / "rendered.mp4"
    capsys.readouterr()
    # the plan's picture is this file's: rendering goes by it (it refused the header's 24 s)
    assert main(["render", str(plan), "-o", str(out), "--work-dir",
                 str(tmp_path / "render")]) == 0, capsys.readouterr().err
    assert "looks truncated" in capsys.readouterr().err
    _assert_delivered(out, cut_short)
    assert any("looks truncated" in w for w in scenes["warnings"])


def test_a_cut_off_plan_is_refused_for_the_whole_file(tmp_path, cut_short, lvas_env, capsys):
    whole = videos.make_truncated_faststart(tmp_path / "whole.mp4", fraction=1.0)
    plan = tmp_path / "cut.plan.json"
    assert main(["plan", str(cut_short), "-o", str(plan), "--work-dir",
                 str(tmp_path / "plan")]) == 0
    capsys.readouterr()
    assert main(["render", str(plan), "--video", str(whole), "-o", str(tmp_path / "o.mp4"),
                 "--work-dir", str(tmp_path / "render")]) == 2
    assert "was made for a 2.6" in capsys.readouterr().err


class Crash(RuntimeError):
    """Stands in for the process being killed while muxing."""


def test_a_resumed_dub_still_ends_with_the_picture(tmp_path, cut_short, lvas_env, monkeypatch,
                                                   capsys):
    import lvas.nodes.mixer as mixer

    out = tmp_path / "out.mp4"
    args = ["dub", str(cut_short), "-o", str(out), "--work-dir", str(tmp_path / "run"),
            "--seed", "2"]

    def killed(*_args, **_kwargs):
        raise Crash("killed while muxing")

    real = mixer.mux_soundtrack
    monkeypatch.setattr(mixer, "mux_soundtrack", killed)
    assert main(args) == 1 and not out.exists()
    monkeypatch.setattr(mixer, "mux_soundtrack", real)
    capsys.readouterr()
    assert main([*args, "--resume"]) == 0
    err = capsys.readouterr().err
    _assert_delivered(out, cut_short)
    assert "resuming" in err and "looks truncated" in err
