"""Probing: what each container and codec reports, and a clear error for every bad input."""

from __future__ import annotations

import builtins
import json
from pathlib import Path

import pytest

from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.ffmpeg import FFmpegError, ffmpeg_exe, run_ffmpeg
from lvas.tools.video.probe import VideoInfo, probe_video
from tests import videos


def test_ffmpeg_exe_runs() -> None:
    assert Path(ffmpeg_exe()).exists()
    out = run_ffmpeg(["-f", "lavfi", "-i", "color=c=red:s=16x16:d=0.2", "-f", "null", "-"])
    assert out.returncode == 0


def test_run_ffmpeg_failure_carries_stderr(tmp_path: Path) -> None:
    with pytest.raises(FFmpegError) as err:
        run_ffmpeg(["-i", str(tmp_path / "missing.mp4"), "-f", "null", "-"])
    assert isinstance(err.value, RuntimeError)
    assert "missing.mp4" in err.value.stderr


def test_run_ffmpeg_refuses_shell_strings() -> None:
    with pytest.raises(TypeError):
        run_ffmpeg("-i x.mp4 -f null -")  # type: ignore[arg-type]


def test_probe_cut_video(cut_video: Path) -> None:
    info = probe_video(cut_video)
    assert info.container.startswith("mov,mp4")
    assert info.duration == pytest.approx(8.0, abs=0.01)
    assert info.fps == pytest.approx(25.0)
    assert (info.width, info.height, info.rotation) == (320, 240, 0)
    assert info.video_codec == "h264"
    assert not info.has_audio and info.audio_codec is None
    assert not info.vfr
    assert info.duration_source == "container"
    assert info.size_bytes == cut_video.stat().st_size
    assert Path(info.path).is_absolute()
    assert json.loads(json.dumps(info.to_dict()))["duration"] == info.duration


@pytest.mark.parametrize(
    ("name", "maker", "kwargs", "expect"),
    [
        ("a.mp4", "make_cut_video", {"durations": [1.0, 1.0], "with_audio": True},
         {"video_codec": "h264", "audio_codec": "aac", "duration": 2.0}),
        ("vp8_opus.webm", "make_webm", {}, {"video_codec": "vp8", "audio_codec": "opus",
                                            "duration": 4.0}),
        ("vp8_vorbis.webm", "make_webm", {"audio": "libvorbis"},
         {"video_codec": "vp8", "audio_codec": "vorbis", "duration": 4.0}),
        ("mpeg4.avi", "make_avi_mpeg4", {}, {"video_codec": "mpeg4", "audio_codec": "mp3",
                                              "duration": 4.0}),
        ("ps.mpg", "make_mpeg_ps", {}, {"video_codec": "mpeg2video", "audio_codec": "mp2",
                                         "duration": 4.0}),
        ("raw.h264", "make_raw_h264", {}, {"video_codec": "h264", "audio_codec": None,
                                           "duration": 4.0, "duration_source": "packets"}),
    ],
)
def test_probe_containers(video_factory, name, maker, kwargs, expect) -> None:
    info = probe_video(video_factory(name, maker, **kwargs))
    assert info.video_codec == expect["video_codec"]
    assert info.audio_codec == expect["audio_codec"]
    assert info.has_audio == (expect["audio_codec"] is not None)
    assert info.duration == pytest.approx(expect["duration"], abs=0.06)
    assert info.duration_source == expect.get("duration_source", "container")
    assert info.fps == pytest.approx(25.0)
    assert (info.width, info.height) == (320, 240)
    assert not info.vfr


def test_probe_variable_frame_rate(video_factory) -> None:
    info = probe_video(video_factory("vfr.mp4", videos.make_vfr_video))
    assert info.vfr
    assert info.duration == pytest.approx(6.0, abs=0.05)
    assert 15 < info.fps < 50


def test_probe_rotation_swaps_display_size(video_factory, cut_video: Path) -> None:
    info = probe_video(video_factory("rot90.mp4", videos.make_rotated, cut_video, 90))
    assert info.rotation == 90
    assert (info.width, info.height) == (240, 320)
    info = probe_video(video_factory("rot180.mp4", videos.make_rotated, cut_video, 180))
    assert (info.rotation, info.width, info.height) == (180, 320, 240)


@pytest.mark.parametrize(("name", "codec"), [("odd.avi", "mpeg4"), ("odd.mkv", "libx264")])
def test_probe_odd_size(video_factory, name: str, codec: str) -> None:
    info = probe_video(video_factory(name, videos.make_odd_size, codec=codec))
    assert (info.width, info.height) == (321, 241)
    assert info.duration == pytest.approx(2.0, abs=0.05)


# -- bad inputs: each one a LVASInputError that says what is wrong -----------------------------


def _expect_error(path: Path, *words: str) -> str:
    with pytest.raises(LVASInputError) as err:
        probe_video(path)
    message = str(err.value)
    assert str(path.name) in message
    for word in words:
        assert word in message.lower(), message
    return message


def test_missing_file(tmp_path: Path) -> None:
    _expect_error(tmp_path / "nope.mp4", "no such file", "check the path")


def test_directory(tmp_path: Path) -> None:
    _expect_error(tmp_path, "directory", "pass the path of a video file")


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    _expect_error(empty, "empty")


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cut_video: Path
                         ) -> None:
    target = tmp_path / "locked.mp4"
    target.write_bytes(cut_video.read_bytes())
    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):
        if Path(file) == target:
            raise PermissionError(13, "Permission denied")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    _expect_error(target, "cannot be read", "permission")


def test_text_file_named_mp4(tmp_path: Path) -> None:
    _expect_error(videos.make_text_file(tmp_path / "notes.mp4"), "not a media file")


def test_audio_only(tmp_path: Path) -> None:
    _expect_error(videos.make_audio_only(tmp_path / "sound.m4a"), "audio only", "pass a video")


def test_truncated_mp4(tmp_path: Path, cut_video: Path) -> None:
    # The index (moov) of a plain MP4 sits at the end: half a file cannot be opened at all.
    bad = videos.make_truncated(tmp_path / "half.mp4", cut_video)
    _expect_error(bad, "truncated or corrupt", "re-download")


def test_undecodable_frames(video_factory, tmp_path: Path) -> None:
    src = video_factory("headers.mkv", videos.make_cut_video, [1.0, 1.0])
    bad = videos.make_garbled(tmp_path / "garbled.mkv", src, keep_head=800)
    _expect_error(bad, "could be decoded", "corrupt")


def test_zero_duration(tmp_path: Path) -> None:
    _expect_error(videos.make_empty_video(tmp_path / "empty.avi"), "duration is zero")


def test_truncated_mkv_still_probes(video_factory, tmp_path: Path) -> None:
    """A cut-off Matroska file keeps its header: it probes, analysis then trims (see there)."""
    src = video_factory("whole.mkv", videos.make_cut_video, [2.0, 2.0])
    info = probe_video(videos.make_truncated(tmp_path / "half.mkv", src))
    assert isinstance(info, VideoInfo) and info.video_codec == "h264"
