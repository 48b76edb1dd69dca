"""Editor timeline export: an OTIO file that round-trips and places every cue where it plays."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import opentimelineio as otio
import pytest
import soundfile as sf

from lvas.tools.reporting import timeline as tl
from lvas.tools.reporting.timeline import assign_lanes, timeline_rate, write_otio

SR = 16000
VIDEO_INFO = {"duration": 8.0, "fps": 25.0, "width": 320, "height": 240}
SCENES = [
    {"id": "s0", "start": 0.0, "end": 2.5, "caption": "A street at night, rain."},
    {"id": "s1", "start": 2.5, "end": 6.0, "caption": "A car passes."},
    {"id": "s2", "start": 6.0, "end": 8.0},
]
# (sound_id, layer, start, duration): b1/b2 overlap; f1/f2/f3 overlap pairwise; f4 and s1 alone.
CUES = [
    ("b1", "background", 0.0, 5.0),
    ("b2", "background", 4.0, 4.0),
    ("f1", "foreground", 1.0, 0.5),
    ("f2", "foreground", 1.2, 0.8),
    ("f3", "foreground", 1.41, 0.2),
    ("f4", "foreground", 3.0, 0.5),
    ("s1", "speech", 2.013, 2.0),
]
LABELS = {"b1": "Rain on pavement", "f2": "Car door", "s1": "Narrator"}


def _wav(path: Path, seconds: float, sample_rate: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(round(seconds * sample_rate), dtype=np.float32), sample_rate)
    return path


def _clip(sound_id: str, layer: str, start: float, duration: float) -> dict[str, Any]:
    return {
        "sound_id": sound_id, "path": f"clips/{sound_id}.wav", "sha256": "0" * 64,
        "start": start, "duration": duration, "sample_rate": SR, "layer": layer,
        "family": "rain" if layer == "background" else "impact", "gain_db": -6.5,
        "backend": "procedural",
    }


@pytest.fixture
def run(tmp_path: Path) -> dict[str, Any]:
    """A finished fake run: input video outside the run dir, cues, stems and the mix inside."""
    run_dir = tmp_path / "run"
    video = tmp_path / "input" / "my video.mp4"
    video.parent.mkdir()
    video.write_bytes(b"not really a video")
    clips = [_clip(*cue) for cue in CUES]
    for clip in clips:
        _wav(run_dir / clip["path"], clip["duration"])
    stems = {layer: f"stems/{layer}.wav" for layer in ("speech", "background", "foreground")}
    for path in stems.values():
        _wav(run_dir / path, 8.0)
    _wav(run_dir / "soundtrack.wav", 8.0, 48000)
    return {
        "name": "demo", "video": str(video), "video_info": dict(VIDEO_INFO),
        "scenes": SCENES, "clips": clips, "stems": stems, "soundtrack": "soundtrack.wav",
        "run_dir": run_dir, "labels": LABELS,
    }


def _tracks(timeline: otio.schema.Timeline) -> dict[str, otio.schema.Track]:
    return {track.name: track for track in timeline.tracks}


def _placed(track: otio.schema.Track) -> list[tuple[otio.schema.Clip, float, float]]:
    """Each clip of a track with its start and end on the timeline, in seconds."""
    spans = track.range_of_all_children()  # one pass; range_of_child_at_index is per child
    out = []
    for child in track:
        if isinstance(child, otio.schema.Clip):
            start, end = spans[child].start_time, spans[child].end_time_exclusive()
            out.append((child, start.to_seconds(), end.to_seconds()))
    return out


def _file(url: str) -> Path:
    parsed = urlparse(url)
    assert parsed.scheme == "file"
    return Path(unquote(parsed.path))


def test_tracks_cues_markers_and_media(run: dict[str, Any], tmp_path: Path) -> None:
    out = run["run_dir"] / "edit" / "demo.otio"
    assert write_otio(out, **run) == out
    timeline = otio.adapters.read_from_file(str(out))
    assert isinstance(timeline, otio.schema.Timeline)
    assert timeline.name == "demo"
    assert timeline.global_start_time.to_seconds() == 0
    tracks = _tracks(timeline)
    assert list(tracks) == [
        "Video", "Mix", "Stem: background", "Stem: foreground", "Stem: speech",
        "Cues: background", "Cues: background 2",
        "Cues: foreground", "Cues: foreground 2", "Cues: foreground 3", "Cues: speech",
    ]
    assert tracks["Video"].kind == otio.schema.TrackKind.Video
    assert all(t.kind == otio.schema.TrackKind.Audio for n, t in tracks.items() if n != "Video")
    clip_counts = {name: len(list(track.find_clips())) for name, track in tracks.items()}
    assert clip_counts == {
        "Video": 1, "Mix": 1, "Stem: background": 1, "Stem: foreground": 1, "Stem: speech": 1,
        "Cues: background": 1, "Cues: background 2": 1,
        "Cues: foreground": 2, "Cues: foreground 2": 1, "Cues: foreground 3": 1,
        "Cues: speech": 1,
    }
    assert timeline.duration().to_seconds() == pytest.approx(8.0)

    # The video covers the whole timeline and keeps its absolute location plus a relative path.
    video_clip = tracks["Video"].find_clips()[0]
    assert video_clip.available_range().duration.to_seconds() == pytest.approx(8.0)
    assert video_clip.trimmed_range().duration.to_seconds() == pytest.approx(8.0)
    assert _file(video_clip.media_reference.target_url).resolve() == Path(run["video"]).resolve()
    rel = video_clip.media_reference.metadata["lvas"]["relative_path"]
    assert (out.parent / rel).resolve() == Path(run["video"]).resolve()

    # Every cue sits at its start (within half a frame) and no lane overlaps itself.
    half_frame = 0.5 / 25
    expected = {sound_id: (start, layer) for sound_id, layer, start, _ in CUES}
    seen: dict[str, str] = {}
    for name, track in tracks.items():
        if not name.startswith("Cues: "):
            continue
        placed = _placed(track)
        for (_, _, end), (_, start, _) in zip(placed, placed[1:], strict=False):
            assert start >= end - 1e-9
        for clip, start, _ in placed:
            meta = clip.metadata["lvas"]
            cue_start, layer = expected[meta["sound_id"]]
            assert abs(start - cue_start) <= half_frame + 1e-9
            assert clip.trimmed_range_in_parent().start_time.to_seconds() == pytest.approx(start)
            index = track.index(clip)
            assert track.range_of_child_at_index(index) == clip.trimmed_range_in_parent()
            assert name.split()[1] == layer == meta["layer"]
            seen[meta["sound_id"]] = name
    assert set(seen) == set(expected)
    assert seen["b1"] != seen["b2"]
    assert len({seen["f1"], seen["f2"], seen["f3"]}) == 3
    assert seen["f4"] == seen["f1"] == "Cues: foreground"

    # Metadata and names survive the round trip.
    cues = {c.metadata["lvas"]["sound_id"]: c for t in timeline.tracks for c in t.find_clips()
            if "sound_id" in c.metadata.get("lvas", {})}
    assert cues["f2"].name == "Car door" and cues["f1"].name == "f1"
    assert dict(cues["b1"].metadata["lvas"]) == {
        "sound_id": "b1", "layer": "background", "family": "rain", "gain_db": -6.5,
        "backend": "procedural", "label": "Rain on pavement", "start": 0.0, "duration": 5.0,
        "sample_rate": SR,
    }
    assert cues["s1"].media_reference.available_range.duration.rate == SR
    assert cues["s1"].media_reference.available_range.duration.value == 2 * SR

    # All media exist where the URLs and the relative paths point.
    for clip in timeline.find_clips():
        target = _file(clip.media_reference.target_url)
        assert target.is_file(), target
        relative = clip.media_reference.metadata["lvas"]["relative_path"]
        assert (out.parent / relative).resolve() == target.resolve()
        assert not Path(relative).is_absolute()
    mix = tracks["Mix"].find_clips()[0]
    assert mix.media_reference.available_range.duration.rate == 48000
    assert mix.trimmed_range().duration.to_seconds() == pytest.approx(8.0)

    # Scenes become markers on the stack, with alternating colours and captions.
    markers = list(timeline.tracks.markers)
    assert [m.name for m in markers] == ["s0", "s1", "s2"]
    for marker, scene in zip(markers, SCENES, strict=True):
        span = marker.marked_range
        assert abs(span.start_time.to_seconds() - scene["start"]) <= half_frame + 1e-9
        assert abs(span.end_time_exclusive().to_seconds() - scene["end"]) <= half_frame + 1e-9
    for before, after in zip(markers, markers[1:], strict=False):  # still tiling the video
        assert before.marked_range.end_time_exclusive() == after.marked_range.start_time
    assert markers[-1].marked_range.end_time_exclusive().to_seconds() == pytest.approx(8.0)
    assert [m.metadata["lvas"]["caption"] for m in markers] == [
        s.get("caption", "") for s in SCENES
    ]
    assert markers[1].comment == "A car passes."
    assert markers[0].color != markers[1].color and markers[0].color == markers[2].color


def test_string_round_trip_is_equal(run: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "demo.otio"
    timeline = tl.build_timeline(out_dir=tmp_path, **run)
    text = otio.adapters.write_to_string(timeline, adapter_name="otio_json")
    again = otio.adapters.read_from_string(text, adapter_name="otio_json")
    assert again.is_equivalent_to(timeline)
    assert otio.adapters.write_to_string(again, adapter_name="otio_json") == text
    write_otio(out, **run)
    assert otio.adapters.read_from_file(str(out)).is_equivalent_to(timeline)


def test_fractional_ntsc_rate(run: dict[str, Any], tmp_path: Path) -> None:
    assert timeline_rate(29.97) == 30000 / 1001
    assert timeline_rate(23.976) == 24000 / 1001
    assert timeline_rate(24.0000001) == 24.0
    assert timeline_rate(12.5) == 12.5
    assert timeline_rate(None) == timeline_rate(0) == 25.0
    run["video_info"]["fps"] = 29.97
    out = tmp_path / "ntsc.otio"
    write_otio(out, **run)
    timeline = otio.adapters.read_from_file(str(out))
    rate = 30000 / 1001
    assert timeline.global_start_time.rate == rate
    tracks = _tracks(timeline)
    video = tracks["Video"].find_clips()[0]
    assert video.source_range.duration.rate == rate
    assert video.source_range.duration.value == round(8.0 * rate)
    starts = {c.metadata["lvas"]["sound_id"]: start for name, track in tracks.items()
              if name.startswith("Cues") for c, start, _ in _placed(track)}
    for sound_id, _, start, _ in CUES:
        assert abs(starts[sound_id] - start) <= 0.5 / rate + 1e-9
    for marker in timeline.tracks.markers:
        assert marker.marked_range.start_time.rate == rate


def test_write_is_atomic(run: dict[str, Any], tmp_path: Path,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "edit" / "demo.otio"
    write_otio(out, **run)
    first = out.stat().st_ino
    before = out.read_bytes()
    write_otio(out, **{**run, "name": "second"})
    assert out.stat().st_ino != first  # replaced by rename, never rewritten in place
    assert sorted(p.name for p in out.parent.iterdir()) == ["demo.otio"]
    assert otio.adapters.read_from_file(str(out)).name == "second"

    def broken(timeline: Any, path: str, adapter_name: str | None = None, **_: Any) -> None:
        assert adapter_name == "otio_json"
        Path(path).write_text("{ half a file")
        raise OSError("disk full")

    out.write_bytes(before)
    monkeypatch.setattr(otio.adapters, "write_to_file", broken)
    with pytest.raises(OSError, match="disk full"):
        write_otio(out, **run)
    assert out.read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["demo.otio"]


def test_missing_stem_and_bad_duration_fail_clearly(run: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="stem"):
        write_otio(tmp_path / "a.otio", **{**run, "stems": {"speech": "stems/nope.wav"}})
    with pytest.raises(ValueError, match="duration"):
        write_otio(tmp_path / "b.otio", **{**run, "video_info": {"fps": 25.0}})
    assert not list(tmp_path.glob("*.otio"))


def test_no_soundtrack_no_cues(run: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "bare.otio"
    write_otio(out, **{**run, "soundtrack": None, "stems": {}, "clips": [], "scenes": []})
    timeline = otio.adapters.read_from_file(str(out))
    assert [t.name for t in timeline.tracks] == ["Video"]
    assert list(timeline.tracks.markers) == []


def test_assign_lanes_first_fit() -> None:
    spans = [(0, 10), (10, 20), (5, 15), (5, 8), (8, 12), (30, 31)]
    lanes = assign_lanes(spans)
    assert lanes == [0, 0, 2, 1, 1, 0]
    for lane in set(lanes):
        mine = sorted(s for s, n in zip(spans, lanes, strict=True) if n == lane)
        assert all(a[1] <= b[0] for a, b in zip(mine, mine[1:], strict=False))
    assert assign_lanes([]) == []


def test_two_hours_thousands_of_cues_is_fast(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    clips = []
    for index in range(4000):
        layer = ("background", "foreground", "speech")[index % 3]
        clips.append(_clip(f"c{index}", layer, float(rng.uniform(0, 7190)),
                           float(rng.uniform(0.2, 12.0))))
    scenes = [{"id": f"s{i}", "start": i * 30.0, "end": (i + 1) * 30.0} for i in range(240)]
    video = tmp_path / "long.mp4"
    video.write_bytes(b"x")
    out = tmp_path / "long.otio"
    began = time.perf_counter()
    write_otio(out, name="long", video=video,
               video_info={"duration": 7200.0, "fps": 23.976, "width": 1920, "height": 1080},
               scenes=scenes, clips=clips, stems={}, soundtrack=None, run_dir=tmp_path)
    assert time.perf_counter() - began < 30  # about 2 s; guards against quadratic work
    timeline = otio.adapters.read_from_file(str(out))
    cue_tracks = [t for t in timeline.tracks if t.name.startswith("Cues")]
    assert sum(len(list(t.find_clips())) for t in cue_tracks) == 4000
    assert len(timeline.tracks.markers) == 240
    rate = 24000 / 1001
    assert timeline.tracks[0].duration().value == round(7200 * rate)
    for track in cue_tracks[:2]:
        ends = 0.0
        for _, start, end in _placed(track):
            assert start >= ends - 1e-9
            ends = end
