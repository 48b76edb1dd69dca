"""Muxing: the picture is copied bit for bit, the soundtrack fits the container and the video."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import soundfile as sf

from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.ffmpeg import run_ffmpeg
from lvas.tools.delivery.muxing import default_output_path, mux_soundtrack, output_extension
from lvas.tools.video.probe import VideoInfo, probe_video
from tests import videos


def _info(path: str, codec: str, container: str = "x") -> VideoInfo:
    return VideoInfo(
        path=path, container=container, duration=1.0, fps=25.0, width=2, height=2, rotation=0,
        video_codec=codec, has_audio=False, audio_codec=None, vfr=False, size_bytes=1,
        duration_source="container",
    )


@pytest.mark.parametrize(
    ("name", "codec", "ext"),
    [
        ("a.mp4", "h264", ".mp4"),
        ("a.M4V", "h264", ".m4v"),
        ("a.mov", "hevc", ".mov"),
        ("a.mkv", "vp9", ".mkv"),
        ("a.webm", "vp8", ".webm"),
        ("a.webm", "h264", ".mkv"),
        ("a.avi", "mpeg4", ".avi"),
        ("a.mpg", "mpeg2video", ".mkv"),
        ("a.vob", "mpeg2video", ".mkv"),
        ("a.flv", "h264", ".mkv"),
        ("a.wmv", "wmv3", ".mkv"),
    ],
)
def test_output_extension(name: str, codec: str, ext: str) -> None:
    assert output_extension(_info(f"/x/{name}", codec)) == ext


@pytest.mark.parametrize(
    ("name", "codec", "container", "ext"),
    [
        ("a.m2ts", "h264", "mpegts", ".ts"),
        ("a.h264", "h264", "h264", ".mkv"),
        ("a.mts", "mpeg2video", "mpegts", ".mkv"),
        ("a.flv", "h264", "flv", ".mkv"),
    ],
)
def test_annex_b_streams_go_to_mpeg_ts(name: str, codec: str, container: str, ext: str) -> None:
    assert output_extension(_info(f"/x/{name}", codec, container)) == ext


def test_transport_stream_input_keeps_its_bytes(video_factory, tmp_path: Path) -> None:
    src = video_factory("ts_in.ts", videos.make_cut_video, (2.0, 2.0))
    info = probe_video(src)
    out = default_output_path(src, info)
    assert out.suffix == ".ts"
    mux_soundtrack(src, _wav(tmp_path / "s.wav", 4.0), out)
    assert _video_md5(out) == _video_md5(src)


def test_default_output_path_never_overwrites(tmp_path: Path) -> None:
    video = tmp_path / "film.mp4"
    info = _info(str(video), "h264")
    first = default_output_path(video, info)
    assert first == tmp_path / "film.dubbed.mp4"
    first.write_bytes(b"x")
    second = default_output_path(video, info)
    assert second == tmp_path / "film.dubbed-2.mp4"
    second.write_bytes(b"x")
    assert default_output_path(video, info) == tmp_path / "film.dubbed-3.mp4"
    mpg = tmp_path / "clip.mpg"
    assert default_output_path(mpg, _info(str(mpg), "mpeg2video")) == tmp_path / "clip.dubbed.mkv"


# -- real muxing -----------------------------------------------------------------------------


def _wav(path: Path, seconds: float, sr: int = 48000) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
    return path


def _video_md5(path: Path) -> str:
    """FFmpeg's md5 of the first video stream's packets, stream-copied."""
    out = run_ffmpeg(["-i", str(path), "-map", "0:V:0", "-c", "copy", "-f", "md5", "-"])
    return out.stdout.strip()


def _payload_sha(path: Path) -> tuple[str, int]:
    """SHA-256 over the video packet payloads read with PyAV, and their count."""
    digest, count = hashlib.sha256(), 0
    with av.open(str(path)) as container:
        for packet in container.demux(container.streams.video[0]):
            if packet.size:
                digest.update(bytes(packet))
                count += 1
    return digest.hexdigest(), count


def _audio(path: Path) -> tuple[int, str, float]:
    """(number of audio streams, codec of the first, end time of its last packet)."""
    with av.open(str(path)) as container:
        streams = list(container.streams.audio)
        end = 0.0
        for packet in container.demux(streams[0]):
            if packet.pts is not None:
                end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
        return len(streams), streams[0].codec_context.codec.canonical_name, end


@pytest.mark.parametrize(
    ("name", "maker", "kwargs", "audio_codec"),
    [
        ("in_mp4.mp4", "make_cut_video", {"durations": [2.0, 2.0], "with_audio": True}, "aac"),
        ("vp8_opus.webm", "make_webm", {}, "opus"),
        ("mpeg4.avi", "make_avi_mpeg4", {}, "mp3"),
        ("ps.mpg", "make_mpeg_ps", {}, "opus"),
    ],
)
def test_mux_copies_video_and_replaces_audio(
    video_factory, tmp_path: Path, name: str, maker: str, kwargs: dict, audio_codec: str
) -> None:
    src = video_factory(name, maker, **kwargs)
    info = probe_video(src)
    out = tmp_path / f"out{output_extension(info)}"
    # A soundtrack slightly shorter than the picture is padded to its length.
    result = mux_soundtrack(src, _wav(tmp_path / "s.wav", info.duration - 0.3), out)
    assert result == out and out.exists()
    assert _video_md5(out) == _video_md5(src)
    assert _payload_sha(out) == _payload_sha(src)
    n_audio, codec, end = _audio(out)
    assert n_audio == 1 and codec == audio_codec  # the input's own audio track is gone
    assert abs(end - info.duration) <= 0.05
    out_info = probe_video(out)
    assert out_info.video_codec == info.video_codec
    assert abs(out_info.duration - info.duration) <= 0.05
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []


def test_mux_keeps_rotation(video_factory, cut_video: Path, tmp_path: Path) -> None:
    src = video_factory("rot90.mp4", videos.make_rotated, cut_video, 90)
    for ext in (".mp4", ".mkv"):
        out = mux_soundtrack(src, _wav(tmp_path / "s.wav", 8.0), tmp_path / f"r{ext}")
        assert probe_video(out).rotation == 90
        assert _video_md5(out) == _video_md5(src)


def test_mux_raw_stream_gets_timestamps(video_factory, tmp_path: Path) -> None:
    src = video_factory("raw.h264", videos.make_raw_h264)
    out = mux_soundtrack(src, _wav(tmp_path / "s.wav", 4.0), tmp_path / "raw.mkv")
    info = probe_video(out)
    assert info.duration == pytest.approx(4.0, abs=0.05) and info.audio_codec == "opus"


def test_existing_output_is_kept_without_overwrite(cut_video: Path, tmp_path: Path) -> None:
    out = tmp_path / "taken.mp4"
    out.write_bytes(b"precious")
    wav = _wav(tmp_path / "s.wav", 8.0)
    with pytest.raises(LVASInputError, match="--overwrite"):
        mux_soundtrack(cut_video, wav, out)
    assert out.read_bytes() == b"precious"
    mux_soundtrack(cut_video, wav, out, overwrite=True)
    assert probe_video(out).has_audio


def test_output_directory_missing(cut_video: Path, tmp_path: Path) -> None:
    with pytest.raises(LVASInputError, match="does not exist"):
        mux_soundtrack(cut_video, _wav(tmp_path / "s.wav", 1.0), tmp_path / "no" / "o.mp4")


def test_output_directory_not_writable(
    cut_video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # File creation refused in the folder (permission bits prove nothing to root).
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    real_open = os.open

    def refusing_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path).parent == locked:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    with pytest.raises(LVASInputError, match="not writable"):
        mux_soundtrack(cut_video, _wav(tmp_path / "s.wav", 1.0), locked / "o.mp4")


@pytest.mark.parametrize("name", ["o.flv", "o.gif", "noext"])
def test_unsupported_output_extension(cut_video: Path, tmp_path: Path, name: str) -> None:
    with pytest.raises(LVASInputError, match=r"\.mkv"):
        mux_soundtrack(cut_video, _wav(tmp_path / "s.wav", 1.0), tmp_path / name)


def test_codec_that_does_not_fit_the_container(cut_video: Path, tmp_path: Path) -> None:
    with pytest.raises(LVASInputError, match="cannot be copied"):
        mux_soundtrack(cut_video, _wav(tmp_path / "s.wav", 1.0), tmp_path / "o.webm")
    assert list(tmp_path.glob("*.webm")) == []


def test_output_must_not_be_the_input(cut_video: Path, tmp_path: Path) -> None:
    with pytest.raises(LVASInputError, match="input video"):
        mux_soundtrack(cut_video, _wav(tmp_path / "s.wav", 1.0), cut_video, overwrite=True)


@pytest.mark.parametrize(
    ("name", "maker", "kwargs", "codecs"),
    [
        ("orig_mp4.mp4", "make_cut_video", {"durations": [2.0, 2.0], "with_audio": True},
         ("aac", "aac")),
        ("orig_webm.webm", "make_webm", {}, ("opus", "opus")),
        ("orig_ps.mpg", "make_mpeg_ps", {}, ("opus", "mp2")),  # Matroska copies anything
    ],
)
def test_original_audio_can_be_kept_as_a_second_track(
    video_factory, tmp_path: Path, name: str, maker: str, kwargs: dict, codecs: tuple
) -> None:
    src = video_factory(name, maker, **kwargs)
    info = probe_video(src)
    out = tmp_path / f"kept{output_extension(info)}"
    mux_soundtrack(src, _wav(tmp_path / "s.wav", info.duration), out, keep_original_audio=True)
    assert _payload_sha(out) == _payload_sha(src)
    with av.open(str(out)) as container:
        streams = list(container.streams.audio)
        assert [s.codec_context.codec.canonical_name for s in streams] == list(codecs)
        titles = [s.metadata.get("title") or s.metadata.get("TITLE") or s.metadata.get("name")
                  for s in streams]
        assert [s.disposition.value & 1 for s in streams] == [1, 0]  # the soundtrack plays
        assert titles == ["LVAS soundtrack", "Original audio"]
    with av.open(str(src)) as container:
        original = [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]
    with av.open(str(out)) as container:  # copied, not encoded again
        kept = [bytes(p) for p in container.demux(container.streams.audio[1]) if p.size]
    assert original and kept == original


def test_keeping_audio_of_a_silent_video_gives_one_track(cut_video: Path, tmp_path: Path) -> None:
    info = probe_video(cut_video)
    out = tmp_path / "one.mp4"
    mux_soundtrack(cut_video, _wav(tmp_path / "s.wav", info.duration), out,
                   keep_original_audio=True)
    assert _audio(out)[0] == 1


# -- the AAC encoder's coder ---------------------------------------------------------------------


def _ffmpegs() -> list[str]:
    """The bundled ffmpeg, and the system's where it is another build (Debian 12's 5.1 numbers
    the coders differently): LVAS runs either (lvas.tools.common.ffmpeg_choice)."""
    import shutil

    import imageio_ffmpeg

    found = [imageio_ffmpeg.get_ffmpeg_exe()]
    system = shutil.which("ffmpeg")
    if system and Path(system).resolve() != Path(found[0]).resolve():
        found.append(system)
    return found


def _audio_packets_md5(path: Path) -> str:
    out = run_ffmpeg(["-i", str(path), "-map", "0:a:0", "-c", "copy", "-f", "md5", "-"])
    return out.stdout.strip()


@pytest.mark.parametrize("exe", _ffmpegs(), ids=lambda exe: Path(exe).name)
@pytest.mark.filterwarnings("ignore:LVAS. LVAS_FFMPEG chose:RuntimeWarning")  # an old one, named
def test_aac_soundtrack_is_encoded_by_the_fast_coder(
    exe: str, cut_video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FFmpeg's default AAC coder (twoloop) took twice the CPU of its fast one, the mixer's
    longest step on a long video; at 192k the two measure alike (benchmarks/README.md)."""
    from lvas.tools.common.ffmpeg import reset_ffmpeg_exe

    monkeypatch.setenv("LVAS_FFMPEG", exe)
    reset_ffmpeg_exe()
    try:
        wav = _wav(tmp_path / "s.wav", 4.0)  # as long as the mux makes it: no padding
        out = mux_soundtrack(cut_video, wav, tmp_path / "out.mp4", duration=4.0)
        coded = {}
        for coder in ("fast", "twoloop"):
            ref = tmp_path / f"{coder}.m4a"
            run_ffmpeg(
                ["-i", str(wav), "-c:a", "aac", "-b:a", "192k", "-aac_coder", coder, str(ref)]
            )
            coded[coder] = _audio_packets_md5(ref)
        assert coded["fast"] != coded["twoloop"]  # the check can tell them apart
        assert _audio_packets_md5(out) == coded["fast"]
    finally:
        reset_ffmpeg_exe()
