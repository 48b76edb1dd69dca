"""The HTML run report: self-contained, escaped, atomic, and bounded in memory for long mixes."""

from __future__ import annotations

import base64
import io
import time
import tracemalloc
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lvas.tools.audio.loudness import LoudnessMeter
from lvas.tools.reporting import marks, media, plots
from lvas.tools.reporting.report import write_report
from lvas.tools.reporting.spectrogram import compute_spectrogram

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EVIL = "<script>alert('x')</script>"


class _Page(HTMLParser):
    """Collects images, links, rows of every table and the text under each heading."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.tables: list[list[tuple[str | None, list[str]]]] = []
        self.sections: dict[str, str] = {}
        self._heading: str | None = None
        self._in_h2 = False
        self._row: list[str] | None = None
        self._row_class: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "img":
            self.images.append(attr.get("src") or "")
        elif tag == "a":
            self.links.append(attr.get("href") or "")
        elif tag == "h2":
            self._in_h2, self._heading = True, ""
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row, self._row_class = [], attr.get("class")
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2 = False
            self.sections[self._heading or ""] = ""
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append((self._row_class, self._row))
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self._heading = (self._heading or "") + data
        elif self._heading is not None:
            self.sections[self._heading] += data
        if self._cell is not None:
            self._cell.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _write_wav(path: Path, seconds: float, sr: int, channels: int = 2, tone: float = 1000.0,
               seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    mono = 0.3 * np.sin(2 * np.pi * tone * t) + 0.02 * rng.standard_normal(len(t))
    audio = np.stack([mono * (1.0 - 0.2 * c) for c in range(channels)], axis=1)
    sf.write(path, audio.astype(np.float32), sr, subtype="PCM_16")
    return path


def _fake_run(n_scenes: int, n_cues: int, duration: float, seed: int = 0
              ) -> tuple[list[dict], list[dict]]:
    rng = np.random.default_rng(seed)
    edges = np.linspace(0.0, duration, n_scenes + 1)
    scenes = [{"id": f"s{i:04d}", "start": float(edges[i]), "end": float(edges[i + 1]),
               "caption": f"caption {i}"} for i in range(n_scenes)]
    sounds = []
    for j in range(n_cues):
        i = int(rng.integers(n_scenes))
        layer = ("background", "foreground", "speech")[j % 3]
        start = float(rng.uniform(edges[i], edges[i + 1]))
        sounds.append({"id": f"c{j}", "scene_id": scenes[i]["id"], "layer": layer,
                       "description": f"cue {j}", "label": f"label {j % 17}", "start": start,
                       "end": min(start + float(rng.uniform(0.2, 5.0)), duration),
                       "volume_db": -12.0})
    return scenes, sounds


def _keyframe(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (512, 288)
              ) -> str:
    """A real JPEG keyframe, as the Storyboarder writes them (BGR, up to 512 wide)."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.zeros((size[1], size[0], 3), np.uint8)
    image[:] = colour
    image[: size[1] // 2, : size[0] // 3] = (255, 255, 255)
    assert cv2.imwrite(str(path), image)
    return str(path)


def _report_kwargs(tmp_path: Path, soundtrack: Path | None) -> dict:
    (tmp_path / "stems").mkdir(exist_ok=True)
    scenes = [
        {"id": "s0", "start": 0.0, "end": 1.5, "caption": "A rainy street",
         "keyframes": ["analysis/k/keyframe_0000_0.jpg"]},
        {"id": "s1", "start": 1.5, "end": 3.0, "keyframes": ["analysis/k/keyframe_0001_0.jpg"]},
    ]
    _keyframe(tmp_path / "analysis/k/keyframe_0000_0.jpg", (40, 90, 160))
    _keyframe(tmp_path / "analysis/k/keyframe_0001_0.jpg", (30, 140, 60))
    sounds = [
        {"id": "c0", "scene_id": "s0", "layer": "background", "description": "steady rain",
         "label": "rain", "start": 0.0, "end": 1.5, "volume_db": -18.0},
        {"id": "c1", "scene_id": "s1", "layer": "foreground", "description": EVIL,
         "label": "door slam & knock", "start": 1.8, "end": 2.4, "volume_db": -6.0,
         "onsets": [1.9, 2.1, 2.3]},
        {"id": "c2", "scene_id": "s1", "layer": "speech", "description": "a line",
         "label": "costs $5 or $6", "start": 1.6, "end": 2.9, "volume_db": -3.0},
    ]
    clips = [{"sound_id": "c0", "path": "clips/c0.wav", "sha256": "x", "start": 0.0,
              "duration": 1.5, "sample_rate": 16000, "layer": "background", "family": "rain",
              "gain_db": -18.0, "backend": "procedural"}]
    return dict(
        title=f"Run {EVIL}", video="street.mp4", duration=3.0, scenes=scenes, sounds=sounds,
        clips=clips, soundtrack=soundtrack,
        warnings=["scene s1: fell back to <procedural>", "label 'x' not found"],
        timings={"planner": 1.25, "mixer": 0.5, "generator": 2.125},
        usage_summary={
            "roles": {"planner": {"calls": 2, "cached": 0, "tokens_in": 900, "tokens_out": 120,
                                  "latency_s": 3.0, "cost_usd": 0.0125},
                      "designer": {"calls": 1, "cached": 1, "tokens_in": 300, "tokens_out": 40,
                                   "latency_s": 0.0, "cost_usd": 0.0}},
            "total": {"calls": 3, "cached": 1, "tokens_in": 1200, "tokens_out": 160,
                      "latency_s": 3.0},
        },
        loudness={"integrated_lufs": -23.1, "true_peak_db": -1.5, "target_lufs": -23.0},
        artifacts={"soundtrack": "soundtrack.wav", "stems": "stems/",
                   "output video": str(tmp_path / "my out.mp4")},
        plan_path="plan.json",
        run_dir=tmp_path,
    )


def _marks(raw: str) -> list[dict[str, str]]:
    """The timeline's boxes and hits with their attributes (class, style, data-*)."""
    class Marks(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[dict[str, str]] = []
            self.layer = ""

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            attr = {k: v or "" for k, v in attrs}
            if "tl-lane" in attr.get("class", ""):
                self.layer = attr.get("data-layer", "")
            if any(c in attr.get("class", "").split() for c in ("tl-mark", "tl-hit")):
                self.found.append({**attr, "layer": self.layer, "tag": tag})

    parser = Marks()
    parser.feed(raw)
    return parser.found


def _left(style: str) -> float:
    return float(style.split("left:", 1)[1].split("%", 1)[0])


def test_report_is_self_contained_escaped_and_complete(tmp_path: Path) -> None:
    wav = _write_wav(tmp_path / "soundtrack.wav", 3.0, 16000)
    kwargs = _report_kwargs(tmp_path, wav)  # makes stems/
    stem = _write_wav(tmp_path / "stems" / "stem_background.wav", 3.0, 16000)
    kwargs["audio"] = {"mix": wav, "stem: background": stem,
                       "stem: speech": tmp_path / "stems" / "stem_speech.wav"}
    out = write_report(tmp_path / "report.html", **kwargs)
    raw = out.read_text(encoding="utf-8")
    page = _parse(out)

    pngs = [src for src in page.images if src.startswith("data:image/png;base64,")]
    assert len(pngs) == 1  # the spectrogram; the timeline is HTML
    from PIL import Image

    for src in pngs:
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert data.startswith(PNG_SIGNATURE)
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
        assert width == 1600 and 200 <= height <= 600
    # Nothing from outside the run folder is loaded: no scripts, stylesheets or remote files.
    assert "<script" not in raw and "<link" not in raw and "http" not in raw

    # A thumbnail per scene, small JPEGs beside the report, linked relatively.
    thumbs = [src for src in page.images if not src.startswith("data:")]
    assert thumbs == ["thumbnails/scene-0000.jpg", "thumbnails/scene-0001.jpg"]
    for src in thumbs:
        with Image.open(tmp_path / src) as image:
            assert image.format == "JPEG" and image.size == (192, 108)
        assert (tmp_path / src).stat().st_size < 20_000

    # Players for the mix (and the stems when given), by relative paths to real files.
    assert '<audio controls preload="metadata" src="soundtrack.wav">' in raw
    assert '<audio controls preload="metadata" src="stems/stem_background.wav">' in raw
    assert "stem_speech.wav is missing" in page.sections["Listen"]
    assert "No video was delivered" in page.sections["Listen"]

    # The timeline: a lane per layer that has sounds; the event's hits where they sound.
    found = _marks(raw)
    hits = [m for m in found if "tl-hit" in m["class"]]
    assert [(m["layer"], float(m["data-t"])) for m in hits] == [
        ("foreground", 1.9), ("foreground", 2.1), ("foreground", 2.3)]
    assert [_left(m["style"]) for m in hits] == pytest.approx([63.3333, 70.0, 76.6667], abs=1e-3)
    boxes = {m["layer"]: m for m in found if "tl-mark" in m["class"]}
    assert set(boxes) == {"background", "foreground", "speech"}
    assert "tl-event" in boxes["foreground"]["class"]
    assert "tl-event" not in boxes["background"]["class"]
    assert boxes["foreground"]["title"].startswith("door slam & knock — <script>")

    assert EVIL not in raw
    assert "&lt;script&gt;" in raw
    assert "door slam &amp; knock" in raw

    assert "fell back to <procedural>" in page.sections["Warnings"]
    assert "label 'x' not found" in page.sections["Warnings"]

    timings = next(t for t in page.tables if t[0][1][:2] == ["node", "seconds"])
    body = [cells for css, cells in timings[1:] if css != "total"]
    assert [cells[0] for cells in body] == ["generator", "planner", "mixer"]  # slowest first
    total = [cells for css, cells in timings if css == "total"]
    assert total == [["total", "3.875", "100.0"]]

    usage = next(t for t in page.tables if t[0][1][0] == "role")
    assert "cost (USD)" in usage[0][1]
    usage_total = next(cells for css, cells in usage if css == "total")
    assert usage_total[:2] == ["total", "3"] and usage_total[-1] == "0.0125"

    loudness = next(t for t in page.tables if t[0][1][0] == "measure")
    assert ["integrated loudness (soundtrack.wav)", "-23.10", "LUFS"] in [
        cells for _, cells in loudness]

    sounds = next(t for t in page.tables if t[0][1][:2] == ["scene", "layer"])
    assert len(sounds) == 4  # header + three cues
    assert sounds[1][1][-1] == "procedural"  # backend joined from the clip

    assert page.links, "artifacts and the plan are links"
    for href in page.links:
        assert not href.startswith(("/", "file:", "http")) and ":" not in href
    assert "my%20out.mp4" in page.links  # an absolute path became relative, quoted
    assert {"soundtrack.wav", "stems/", "plan.json"} <= set(page.links)

    # Atomic write: only the report, its thumbnails and the inputs are left in the folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analysis", "report.html",
                                                          "soundtrack.wav", "stems",
                                                          "thumbnails"]
    assert sorted(p.name for p in (tmp_path / "thumbnails").iterdir()) == [
        "scene-0000.jpg", "scene-0001.jpg"]


def test_text_from_a_plan_is_escaped_wherever_it_lands(tmp_path: Path) -> None:
    # Captions, descriptions, labels, ids, warnings and the title are text from users and
    # models: the template engine escapes each, so none can open a tag or an entity.
    hostile = "<script>alert(1)</script> & <b>"
    kwargs = _report_kwargs(tmp_path, None)
    kwargs["scenes"][0].update(id=f"s0 {hostile}", caption=f"caption {hostile}")
    kwargs["sounds"][0].update(description=f"description {hostile}", label=f"label {hostile}",
                               scene_id=f"s0 {hostile}")
    kwargs.update(title=f"title {hostile}", video=f"video {hostile}.mp4",
                  warnings=[f"warning {hostile}"],
                  timings={f"node {hostile}": 1.0},
                  loudness={f"measure {hostile}": -20.0},
                  artifacts={f"artifact {hostile}": "a&b <c>.wav"})
    out = write_report(tmp_path / "report.html", **kwargs)
    raw = out.read_text(encoding="utf-8")
    assert "<script" not in raw
    assert raw.count("<b>") == 5  # the labels of the meta line: video to plan
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;"
    for where in ("caption", "description", "label", "title", "video", "warning", "node",
                  "measure", "artifact"):
        assert f"{where} {escaped}" in raw, where
    page = _parse(out)
    scene_rows = next(t for t in page.tables if t[0][1][0] == "id")
    assert scene_rows[1][1] == [f"s0 {hostile}", "", "0:00.00", "0:01.50", f"caption {hostile}"]
    assert f"warning {hostile}" in page.sections["Warnings"]
    assert "a%26b%20%3Cc%3E.wav" in page.links  # the link is quoted, its text escaped
    assert "a&amp;b &lt;c&gt;.wav</a>" in raw


def test_report_without_soundtrack_or_warnings(tmp_path: Path) -> None:
    kwargs = _report_kwargs(tmp_path, None)
    kwargs.update(warnings=[], timings={}, usage_summary=None, loudness=None, artifacts={})
    out = write_report(tmp_path / "plan_report.html", **kwargs)
    page = _parse(out)
    assert page.images == ["thumbnails/scene-0000.jpg", "thumbnails/scene-0001.jpg"]
    assert "No audio yet" in page.sections["Listen"]
    assert page.sections["Warnings"].strip() == "none"
    assert "No soundtrack" in page.sections["Soundtrack"]
    assert "No model calls" in page.sections["Model usage"]


def test_unreadable_soundtrack_is_reported_not_raised(tmp_path: Path) -> None:
    bad = tmp_path / "soundtrack.wav"
    bad.write_bytes(b"not audio")
    out = write_report(tmp_path / "report.html", **_report_kwargs(tmp_path, bad))
    assert "Could not read the soundtrack" in _parse(out).sections["Soundtrack"]


def test_spectrogram_finds_the_tone_and_its_loudness(tmp_path: Path) -> None:
    wav = _write_wav(tmp_path / "tone.wav", 4.0, 48000, tone=1000.0)
    spec = compute_spectrogram(wav, columns=100, block_frames=10_000)
    assert spec.db.shape == (160, 100)
    assert spec.blocks_read == 20
    peak_rows = spec.db.argmax(axis=0)
    centres = np.sqrt(spec.freq_edges[:-1] * spec.freq_edges[1:])
    assert np.all(np.abs(np.log2(centres[peak_rows] / 1000.0)) < 0.1)
    # The tone (-10 dB re full scale, spread over its bins) stands far above the noise floor.
    tone_db = np.median(spec.db.max(axis=0))
    assert -16.0 < tone_db < -9.0
    assert tone_db - np.median(spec.db) > 30.0

    audio, sr = sf.read(wav, dtype="float32", always_2d=True)
    meter = LoudnessMeter(sr, audio.shape[1])
    meter.add(audio)
    assert np.all(np.abs(spec.lufs[5:-5] - meter.integrated()) < 0.5)


def test_spectrogram_of_a_file_shorter_than_one_frame(tmp_path: Path) -> None:
    wav = _write_wav(tmp_path / "blip.wav", 0.01, 16000, channels=1)
    spec = compute_spectrogram(wav)
    assert spec.db.shape[1] >= 1 and np.isfinite(spec.db).all()


def test_a_soundtrack_is_measured_once_per_version(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import lvas.tools.reporting.spectrogram as spectrogram

    calls: list[Path] = []
    real = spectrogram.compute_spectrogram
    monkeypatch.setattr(spectrogram, "compute_spectrogram",
                        lambda path, **kw: calls.append(Path(path)) or real(path, **kw))
    wav = _write_wav(tmp_path / "mix.wav", 2.0, 16000)
    first = spectrogram.soundtrack_spectrogram(wav)
    assert spectrogram.soundtrack_spectrogram(tmp_path / "." / "mix.wav") is first
    assert len(calls) == 1
    _write_wav(wav, 3.0, 16000, tone=440.0)  # a new version of the same file
    second = spectrogram.soundtrack_spectrogram(wav)
    assert len(calls) == 2 and second.duration == pytest.approx(3.0)
    with pytest.raises(FileNotFoundError):
        spectrogram.soundtrack_spectrogram(tmp_path / "gone.wav")


def test_long_run_stays_fast_and_streams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """1000 scenes, 3000 cues and a 10-minute mix: bounded reads, memory and time."""
    sr = 8000
    short = _write_wav(tmp_path / "short.wav", 150.0, sr, channels=1, seed=1)
    long = _write_wav(tmp_path / "long.wav", 600.0, sr, channels=1, seed=2)

    reads: list[int] = []
    original = sf.SoundFile.read

    def counting_read(self: sf.SoundFile, frames: int = -1, *args: object, **kwargs: object):
        reads.append(frames)
        return original(self, frames, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", counting_read)
    peaks = []
    for path in (short, long):
        compute_spectrogram(path)  # warm imports outside the measurement
        tracemalloc.start()
        try:
            spec = compute_spectrogram(path)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert spec.db.shape == (160, plots.PLOT_COLUMNS) and plots.PLOT_COLUMNS <= 2000
    assert len(reads) > 4 and all(0 < frames <= 1 << 17 for frames in reads)
    decoded = 600 * sr * 4  # the long mix as float32
    assert peaks[1] < decoded / 3
    assert peaks[1] < 1.3 * peaks[0] + 1_000_000  # four times the audio, about the same memory

    scenes, sounds = _fake_run(1000, 3000, 600.0)
    started = time.perf_counter()
    out = write_report(
        tmp_path / "report.html", title="long", video="long.mp4", duration=600.0,
        scenes=scenes, sounds=sounds, clips=[], soundtrack=long, warnings=[], timings={},
        usage_summary=None, loudness=None, artifacts={}, plan_path=None,
    )
    elapsed = time.perf_counter() - started
    assert elapsed < 30.0, f"report took {elapsed:.1f} s"
    page = _parse(out)
    assert len(page.images) == 1  # the spectrogram (these scenes have no keyframes)
    sound_table = next(t for t in page.tables if t[0][1][:2] == ["scene", "layer"])
    assert len(sound_table) == 3001
    raw = out.read_text()
    assert "<details>" in raw  # long tables start folded
    assert len(raw) < 3_000_000


def _labelled_overlaps(rows: list[dict]) -> list[tuple[str, str]]:
    """Pairs of labelled boxes in one row that overlap (their labels would meet)."""
    bad = []
    for row in rows:
        boxes = sorted((m for m in row["marks"] if m["label"]), key=lambda m: m["left"])
        for a, b in zip(boxes, boxes[1:], strict=False):
            if a["left"] + a["width"] > b["left"] + 1e-6:
                bad.append((a["title"], b["title"]))
    return bad


def test_timeline_of_two_hours_stays_bounded_and_readable() -> None:
    scenes, sounds = _fake_run(1000, 3000, 7200.0, seed=3)
    for i, sound in enumerate(sounds):
        if sound["layer"] == "foreground":  # footsteps every 0.1 s: more hits than pixels
            sound["onsets"] = list(np.arange(sound["start"], sound["end"], 0.1)) * (1 + i % 2)
    rows = marks.lanes(sounds, [], 7200.0)
    assert [r["layer"] for r in rows] == sorted(
        (r["layer"] for r in rows), key=["background", "foreground", "speech"].index)
    assert all(len([r for r in rows if r["layer"] == layer]) <= marks.MAX_LANES
               for layer in ("background", "foreground", "speech"))
    assert sum(len(r["marks"]) for r in rows) == 3000  # every sound is drawn
    assert all(len(r["hits"]) <= marks.HIT_BUCKETS + 1 for r in rows)
    assert _labelled_overlaps(rows) == []
    assert all(not m["label"] for r in rows for m in r["marks"] if m["crowded"])
    labels = [m for r in rows for m in r["marks"] if m["label"]]
    assert all(m["width"] >= marks.MIN_LABEL_PERCENT for m in labels)
    ticks = marks.ticks(7200.0)
    assert 4 <= len(ticks) <= 13 and ticks[1]["text"] == "10:00"


def test_events_are_drawn_where_they_sound() -> None:
    sounds = [
        # A bed placed by its rendered clip (which may differ from the designed span).
        {"id": "bed", "layer": "background", "start": 0.0, "end": 10.0, "label": "rain"},
        # An event's hits: only the onsets inside the span where it plays.
        {"id": "steps", "layer": "foreground", "start": 2.0, "end": 6.0, "label": "footsteps",
         "onsets": [1.0, 2.5, 3.0, 3.5, 7.5]},
        # An event without onsets: its clip's placement.
        {"id": "door", "layer": "foreground", "start": 8.0, "end": 9.0, "label": "door"},
    ]
    clips = [{"sound_id": "bed", "start": 0.5, "duration": 9.0},
             {"sound_id": "door", "start": 8.25, "duration": 0.5}]
    rows = marks.lanes(sounds, clips, 10.0)
    assert [r["name"] for r in rows] == ["background", "foreground"]  # no speech lane
    bed, = rows[0]["marks"]
    assert (bed["left"], bed["width"], bed["event"]) == (5.0, 90.0, False)
    steps, door = rows[1]["marks"]
    assert steps["event"] and (steps["left"], steps["width"]) == (20.0, 40.0)
    assert [h["t"] for h in rows[1]["hits"]] == [2.5, 3.0, 3.5]
    assert [h["left"] for h in rows[1]["hits"]] == [25.0, 30.0, 35.0]
    assert not door["event"] and (door["start"], door["end"]) == (8.25, 8.75)
    assert "3 hits" in steps["title"]


def test_overlapping_sounds_get_rows_and_long_labels_a_tooltip() -> None:
    long = "a very long label that cannot fit in its box " * 3
    sounds = [{"id": f"b{i}", "layer": "background", "start": 0.0, "end": 10.0,
               "label": f"bed {i}"} for i in range(marks.MAX_LANES + 2)]
    sounds.append({"id": "tiny", "layer": "speech", "start": 1.0, "end": 1.1, "label": long})
    rows = marks.lanes(sounds, [], 10.0)
    beds = [r for r in rows if r["layer"] == "background"]
    assert [r["name"] for r in beds] == ["background", "background 2", "background 3",
                                         "background 4"][: marks.MAX_LANES]
    crowded = [m for r in beds for m in r["marks"] if m["crowded"]]
    assert len(crowded) == 2 and all(m["label"] == "" for m in crowded)
    assert _labelled_overlaps(rows) == []
    tiny, = next(r for r in rows if r["layer"] == "speech")["marks"]
    assert tiny["label"] == "" and tiny["title"].startswith(long)  # too narrow: tooltip only


def test_thumbnails_one_small_jpeg_per_scene(tmp_path: Path) -> None:
    from PIL import Image

    root = tmp_path / "run"
    scenes = [{"id": f"s{i}", "start": i, "end": i + 1,
               "keyframes": [_keyframe(root / f"k{i}.jpg", (10 * i, 80, 120), (1280, 720))]}
              for i in range(3)]
    scenes.append({"id": "plain", "start": 3, "end": 4})  # a scene a person added: no keyframe
    scenes.append({"id": "gone", "start": 4, "end": 5, "keyframes": ["missing.jpg"]})
    out = root / "report"
    thumbs = media.write_thumbnails(scenes, root, out)
    assert [t and t["src"] for t in thumbs] == [
        "thumbnails/scene-0000.jpg", "thumbnails/scene-0001.jpg", "thumbnails/scene-0002.jpg",
        None, None]
    for thumb in thumbs[:3]:
        assert thumb is not None
        with Image.open(out / thumb["src"]) as image:
            assert image.size == (thumb["width"], thumb["height"]) == (192, 108)
    # A later report with fewer scenes leaves no stale thumbnails behind.
    assert [t and t["src"] for t in media.write_thumbnails(scenes[:1], root, out)] == [
        "thumbnails/scene-0000.jpg"]
    assert [p.name for p in (out / "thumbnails").iterdir()] == ["scene-0000.jpg"]


@pytest.mark.parametrize(("name", "codec", "plays", "why"), [
    ("out.mp4", "h264", True, ""),
    ("out.webm", "vp9", True, ""),
    ("out.mp4", "hevc", False, "HEVC (H.265)"),
    ("out.mkv", "h264", False, ".mkv container"),
    ("out.avi", "mpeg4", False, ".avi container"),
    ("gone.mp4", "h264", False, "is not there"),
])
def test_video_is_played_only_where_a_browser_can(tmp_path: Path, name: str, codec: str,
                                                  plays: bool, why: str) -> None:
    if name != "gone.mp4":
        (tmp_path / name).write_bytes(b"x")
    run = tmp_path / "run"
    player = media.video_player(tmp_path / name, codec, run)
    assert bool(player["src"]) == plays
    assert why in player["reason"]
    if name != "gone.mp4":
        assert player["href"] == f"../{name}"


def test_scene_evidence_is_shown_when_present(tmp_path: Path) -> None:
    kwargs = _report_kwargs(tmp_path, None)
    kwargs["scenes"][0]["evidence"] = [
        {"cue": "faces", "value": 2, "choice": "voices"},
        {"cue": "sky", "value": 0.4123, "choice": "outdoor air <b>"},
    ]
    out = write_report(tmp_path / "report.html", **kwargs)
    page = _parse(out)
    scene_rows = next(t for t in page.tables if t[0][1][0] == "id")
    assert scene_rows[0][1][-1] == "evidence"
    assert "cue: faces; value: 2; choice: voices" in scene_rows[1][1][-1]
    assert "value: 0.412; choice: outdoor air <b>" in scene_rows[1][1][-1]
    assert scene_rows[2][1][-1] == ""
    assert "outdoor air &lt;b&gt;" in out.read_text()


@pytest.mark.parametrize(("seconds", "decimals", "text"), [
    (0.0, 0, "0:00"), (75.5, 2, "1:15.50"), (3725.0, 0, "1:02:05"), (-1.25, 2, "-0:01.25"),
])
def test_format_clock(seconds: float, decimals: int, text: str) -> None:
    assert plots.format_clock(seconds, decimals) == text


def test_beds_carried_across_cuts_are_drawn_as_their_one_clip(tmp_path: Path) -> None:
    # Rendering joins same-label beds of consecutive scenes into one clip: the timeline draws
    # that clip once, and the Sounds table says where the other beds went.
    sounds = [{"id": f"bed{i}", "scene_id": f"s{i}", "layer": "background", "start": 2.0 * i,
               "end": 2.0 * i + 2.0, "label": "rain", "description": "rain"} for i in range(3)]
    clips = [{"sound_id": "bed0", "start": 0.0, "duration": 6.0, "backend": "procedural"}]
    carried = {"bed0": "bed0", "bed1": "bed0", "bed2": "bed0"}
    rows = marks.lanes(sounds, clips, 6.0, carried)
    assert [r["name"] for r in rows] == ["background"]
    bed, = rows[0]["marks"]
    assert (bed["left"], bed["width"]) == (0.0, 100.0)
    assert "one sound across 3 scenes' beds" in bed["title"]
    # Without the mapping (a run made without carrying) each bed is drawn as well.
    assert sum(len(r["marks"]) for r in marks.lanes(sounds, clips, 6.0)) == 3

    kwargs = _report_kwargs(tmp_path, None)
    kwargs.update(sounds=sounds, clips=clips, carried=carried, duration=6.0)
    page = _parse(write_report(tmp_path / "report.html", **kwargs))
    table = next(t for t in page.tables if t[0][1][:2] == ["scene", "layer"])
    assert [cells[-1] for _, cells in table[1:]] == ["procedural", "carried on in bed0",
                                                      "carried on in bed0"]
