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
from lvas.tools.reporting import plots
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


def _report_kwargs(tmp_path: Path, soundtrack: Path | None) -> dict:
    (tmp_path / "stems").mkdir(exist_ok=True)
    scenes = [
        {"id": "s0", "start": 0.0, "end": 1.5, "caption": "A rainy street"},
        {"id": "s1", "start": 1.5, "end": 3.0},
    ]
    sounds = [
        {"id": "c0", "scene_id": "s0", "layer": "background", "description": "steady rain",
         "label": "rain", "start": 0.0, "end": 1.5, "volume_db": -18.0},
        {"id": "c1", "scene_id": "s1", "layer": "foreground", "description": EVIL,
         "label": "door slam & knock", "start": 1.8, "end": 2.4, "volume_db": -6.0},
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
    )


def test_report_is_self_contained_escaped_and_complete(tmp_path: Path) -> None:
    wav = _write_wav(tmp_path / "soundtrack.wav", 3.0, 16000)
    out = write_report(tmp_path / "report.html", **_report_kwargs(tmp_path, wav))
    raw = out.read_text(encoding="utf-8")
    page = _parse(out)

    pngs = [src for src in page.images if src.startswith("data:image/png;base64,")]
    assert len(pngs) >= 2
    from PIL import Image

    for src in pngs:
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert data.startswith(PNG_SIGNATURE)
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
        assert width == 1600 and 200 <= height <= 600
    # Nothing outside the file is loaded: no scripts, stylesheets or remote images.
    assert "<script" not in raw and "<link" not in raw and "http" not in raw

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

    # Atomic write: only the report and the inputs are left in the folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "soundtrack.wav",
                                                          "stems"]


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
    assert scene_rows[1][1] == [f"s0 {hostile}", "0:00.00", "0:01.50", f"caption {hostile}"]
    assert f"warning {hostile}" in page.sections["Warnings"]
    assert "a%26b%20%3Cc%3E.wav" in page.links  # the link is quoted, its text escaped
    assert "a&amp;b &lt;c&gt;.wav</a>" in raw


def test_report_without_soundtrack_or_warnings(tmp_path: Path) -> None:
    kwargs = _report_kwargs(tmp_path, None)
    kwargs.update(warnings=[], timings={}, usage_summary=None, loudness=None, artifacts={})
    out = write_report(tmp_path / "plan_report.html", **kwargs)
    page = _parse(out)
    assert len(page.images) == 1  # the timeline only
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
    assert len(page.images) == 2
    sound_table = next(t for t in page.tables if t[0][1][:2] == ["scene", "layer"])
    assert len(sound_table) == 3001
    assert "<details>" in out.read_text()  # long tables start folded


def test_timeline_of_two_hours_renders_quickly() -> None:
    scenes, sounds = _fake_run(1000, 3000, 7200.0, seed=3)
    started = time.perf_counter()
    png = plots.render_timeline(scenes, sounds, 7200.0)
    assert png.startswith(PNG_SIGNATURE)
    assert time.perf_counter() - started < 15.0


@pytest.mark.parametrize(("seconds", "decimals", "text"), [
    (0.0, 0, "0:00"), (75.5, 2, "1:15.50"), (3725.0, 0, "1:02:05"), (-1.25, 2, "-0:01.25"),
])
def test_format_clock(seconds: float, decimals: int, text: str) -> None:
    assert plots.format_clock(seconds, decimals) == text
