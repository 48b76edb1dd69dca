"""Unreferenced H.264 frames are not decoded: the cuts, shots, motion and damage counts of a
stream with B-frames stay those of decoding every frame."""

from __future__ import annotations

from pathlib import Path

import pytest

from lvas.tools.common.ffmpeg import run_ffmpeg
from lvas.tools.video import analysis
from lvas.tools.video.analysis import VideoAnalysis, analyze_video, h264_unreferenced
from tests import videos

DURATIONS = (1.6, 2.0, 1.4, 3.0)  # cuts at 1.6, 3.6 and 5.0 s; 8 s, 200 frames at 25 fps
CUTS = (1.6, 3.6, 5.0)
FRAME = 1 / 25
# B-frames with a reference B in the middle (x264's pyramid), and runs of two unreferenced
# B-frames with no pyramid; no scene-cut detection, so cuts fall on any kind of frame.
PYRAMID = ("-bf", "3", "-x264-params", "b-pyramid=normal:scenecut=0")
FLAT = ("-bf", "2", "-x264-params", "b-pyramid=none:scenecut=0")


def _nal(ref_idc: int, kind: int, body: bytes = b"\x88\x84\x00") -> bytes:
    return bytes([(ref_idc << 5) | kind]) + body


def _avcc(*nals: bytes) -> memoryview:
    return memoryview(b"".join(len(n).to_bytes(4, "big") + n for n in nals))


def _annex_b(*nals: bytes) -> memoryview:
    return memoryview(b"".join(b"\x00\x00\x00\x01" + n for n in nals))


@pytest.mark.parametrize("pack", [_avcc, _annex_b])
def test_unreferenced_means_every_slice_has_nal_ref_idc_zero(pack) -> None:
    size = 4 if pack is _avcc else None
    sei = _nal(0, 6)
    assert h264_unreferenced(pack(sei, _nal(0, 1)), size)
    assert h264_unreferenced(pack(sei, _nal(0, 1), _nal(0, 1)), size)  # two slices
    assert not h264_unreferenced(pack(sei, _nal(2, 1)), size)  # a reference B or P
    assert not h264_unreferenced(pack(_nal(3, 5)), size)  # an IDR picture
    assert not h264_unreferenced(pack(_nal(0, 1), _nal(1, 1)), size)  # one slice refers
    assert not h264_unreferenced(pack(sei), size)  # no picture at all
    assert not h264_unreferenced(memoryview(b""), size)


def _every_frame(path: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> VideoAnalysis:
    with monkeypatch.context() as patch:
        patch.setattr(analysis, "_SKIP_UNREFERENCED_CODECS", frozenset())
        return analyze_video(path, out)


@pytest.fixture(scope="module", params=[PYRAMID, FLAT], ids=["pyramid", "flat"])
def bframes_video(request, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bframes")
    return videos.make_cut_video(folder / "cuts.mp4", DURATIONS, extra_output_args=request.param)


def test_skipped_frames_keep_cuts_shots_and_motion(bframes_video, tmp_path, monkeypatch) -> None:
    skipping = analyze_video(bframes_video, tmp_path / "skip")
    every = _every_frame(bframes_video, tmp_path / "every", monkeypatch)
    assert every.frames_skipped == 0 and every.frames_decoded == 200
    assert skipping.frames_skipped >= 40  # a good share of the frames
    assert skipping.frames_skipped < skipping.frames_decoded  # never two in a row
    assert skipping.frames_decoded + skipping.frames_skipped == 200
    assert skipping.corrupt_frames == 0 and skipping.warnings == []
    assert skipping.duration == pytest.approx(8.0)
    assert len(skipping.cuts) == len(CUTS)
    for found, true in zip(skipping.cuts, CUTS, strict=True):
        assert abs(found - true) <= 2 * FRAME + 1e-6, skipping.cuts
    assert len(skipping.shots) == len(every.shots)
    for mine, full in zip(skipping.shots, every.shots, strict=True):
        assert abs(mine.start - full.start) <= 2 * FRAME + 1e-6
    for mine, full, moving in zip(skipping.shots, every.shots, videos.MOVING_SEGMENTS,
                                  strict=False):
        # Motion is per frame interval, whatever the gap between the frames compared.
        assert mine.motion == pytest.approx(full.motion, rel=0.3, abs=2e-3), (mine, full)
        assert (mine.motion > 0.004) == moving
        assert mine.brightness == pytest.approx(full.brightness, abs=0.02)
        assert mine.colour == full.colour


def test_annex_b_streams_skip_the_same_frames(bframes_video, tmp_path) -> None:
    """MPEG-TS carries H.264 with start codes instead of lengths: the same frames go."""
    ts = tmp_path / "cuts.ts"
    run_ffmpeg(["-y", "-i", str(bframes_video), "-c", "copy", str(ts)])
    mp4 = analyze_video(bframes_video, tmp_path / "mp4")
    remuxed = analyze_video(ts, tmp_path / "ts")
    assert remuxed.frames_skipped == mp4.frames_skipped > 0
    assert remuxed.corrupt_frames == 0
    assert [round(c - remuxed.shots[0].start, 2) for c in remuxed.cuts] == [
        round(c, 2) for c in mp4.cuts]


def test_raw_elementary_streams_decode_every_frame(tmp_path) -> None:
    """A raw .h264 stream has no timestamps to count skipped frames by: all are decoded."""
    raw = videos.make_cut_video(tmp_path / "cuts.h264", DURATIONS,
                                extra_output_args=[*PYRAMID, "-f", "h264"])
    result = analyze_video(raw, tmp_path / "out")
    assert result.frames_skipped == 0 and result.frames_decoded == 200
    assert len(result.cuts) == len(CUTS)


def test_damage_is_still_counted_when_frames_are_skipped(bframes_video, tmp_path) -> None:
    """Holes that skipping explains are not damage; a cut-out stretch still is."""
    ts = tmp_path / "cuts.ts"
    run_ffmpeg(["-y", "-i", str(bframes_video), "-c", "copy", str(ts)])
    bad = videos.make_damaged_middle(tmp_path / "bad.ts", ts, start=0.3, length=0.08)
    result = analyze_video(bad, tmp_path / "out")
    assert result.frames_skipped > 0
    assert result.corrupt_frames > 0 and any("corrupt" in w for w in result.warnings)
