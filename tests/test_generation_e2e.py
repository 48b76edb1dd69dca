"""Generation inside the whole pipeline: long uncut scenes through a windowed backend, and
narration voiced from a subtitle file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import soundfile as sf

from lvas.graph.context import Context
from lvas.graph.runner import run_pipeline
from lvas.tools.generation import registry
from lvas.tools.generation.base import GeneratorCapabilities
from lvas.tools.generation.procedural_backend import ProceduralGenerator
from tests.fake_espeak import write_fake
from tests.test_verify_audio import tiny_clap  # noqa: F401 - a fixture used below
from tests.videos import make_cut_video

WINDOW = 8.0


class WindowedProcedural(ProceduralGenerator):
    """The procedural synthesizer posing as a model with an 8 s window, recording requests."""

    name = "windowed-test"
    requests: list = []

    def __init__(self, sample_rate: int = 48000) -> None:
        super().__init__(sample_rate=16000)  # a model's own rate: the mixer resamples
        self.capabilities = GeneratorCapabilities(
            video_to_audio=True, text_to_audio=True, sample_rate=16000,
            window_seconds=WINDOW, max_batch=3)

    def render(self, request, out_path):
        WindowedProcedural.requests.append(request)
        return super().render(request, out_path)


@pytest.fixture
def windowed_backend(monkeypatch):
    entry = registry.BackendEntry("windowed-test", f"{__name__}:WindowedProcedural",
                                  "lvas.tools.generation.registry:_always")
    monkeypatch.setitem(registry._REGISTRY, "windowed-test", entry)
    WindowedProcedural.requests = []
    return WindowedProcedural


def test_long_uncut_scene_through_model_windows_has_no_gaps(tmp_path, label_cache_dir,
                                                           windowed_backend):
    video = make_cut_video(tmp_path / "long.mp4", [30.0], size=(160, 120), fps=10)
    ctx = Context(run_dir=str(tmp_path / "run"), index_dir=str(label_cache_dir), seed=1,
                  generator_backend="windowed-test", max_scene_seconds=0)
    final = run_pipeline({"video": str(video), "output": str(tmp_path / "out.mp4"),
                          "prompt": "steady rain falling"}, ctx)
    assert len(final["scenes"]) == 1
    bed = next(c for c in final["clips"].values() if c["layer"] == "background")
    assert bed["backend"] == "windowed-test" and bed["sample_rate"] == 16000
    windows = [r for r in windowed_backend.requests if r.layer == "background"]
    assert len(windows) >= 4 and max(r.duration for r in windows) <= WINDOW + 1e-6
    spans = sorted(r.video_span for r in windows)
    assert spans[0][0] == pytest.approx(0.0, abs=1e-3)
    assert spans[-1][1] == pytest.approx(30.0, abs=0.3)
    assert all(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False))  # overlapping

    clip, rate = sf.read(tmp_path / "run" / bed["path"])
    assert len(clip) == round(bed["duration"] * rate)
    level = _frame_rms_db(clip, rate)
    assert level.min() > np.median(level) - 6.0  # no dropout at any window join
    mix, mix_rate = sf.read(tmp_path / "run" / final["artifacts"]["soundtrack"])
    assert _frame_rms_db(mix, mix_rate)[5:-5].min() > -50.0


def _frame_rms_db(audio: np.ndarray, rate: int, seconds: float = 0.1) -> np.ndarray:
    mono = audio.mean(axis=1) if audio.ndim > 1 else audio
    n = int(rate * seconds)
    frames = mono[: len(mono) // n * n].reshape(-1, n)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)


SRT = """1
00:00:00,500 --> 00:00:02,500
The storm arrives at dusk.

2
00:00:04,000 --> 00:00:05,500
-Nobody leaves.
"""


def test_narration_file_is_voiced_placed_and_delivered(tmp_path, label_cache_dir, monkeypatch):
    bin_dir = tmp_path / "bin"
    write_fake(bin_dir / "espeak-ng")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("LVAS_ESPEAK", raising=False)
    video = make_cut_video(tmp_path / "v.mp4", [3.0, 3.0])
    lines = tmp_path / "lines.srt"
    lines.write_text(SRT, encoding="utf-8")
    ctx = Context(run_dir=str(tmp_path / "run"), index_dir=str(label_cache_dir), seed=3,
                  narration="espeak")
    final = run_pipeline({"video": str(video), "output": str(tmp_path / "out.mp4"),
                          "narration": str(lines)}, ctx)
    speech = sorted((c for c in final["clips"].values() if c["layer"] == "speech"),
                    key=lambda c: c["start"])
    assert [(c["start"], c["duration"]) for c in speech] == [(0.5, 2.0), (4.0, 1.5)]
    assert all(c["backend"] == "espeak" for c in speech)
    run = tmp_path / "run"
    assert [line["text"] for line in final["narration_lines"]] == [
        "The storm arrives at dusk.", "-Nobody leaves."]
    plan = (run / final["artifacts"]["plan"]).read_text(encoding="utf-8")
    assert "The storm arrives at dusk." in plan  # the lines travel in the editable plan
    timeline = otio.adapters.read_from_file(str(run / final["artifacts"]["timeline"]))
    names = [track.name for track in timeline.tracks]
    assert "Cues: speech" in names
    assert "The storm arrives at dusk." in (run / final["artifacts"]["report"]).read_text(
        encoding="utf-8")


def test_narration_off_keeps_lines_silent_and_says_so(tmp_path, label_cache_dir):
    video = make_cut_video(tmp_path / "v.mp4", [3.0, 3.0])
    lines = tmp_path / "lines.txt"
    lines.write_text("0.5 Hello.\n", encoding="utf-8")
    ctx = Context(run_dir=str(tmp_path / "run"), index_dir=str(label_cache_dir), seed=3)
    final = run_pipeline({"video": str(video), "output": str(tmp_path / "out.mp4"),
                          "narration": str(lines)}, ctx)
    assert not [c for c in final["clips"].values() if c["layer"] == "speech"]
    assert any("not voiced" in w for w in final["warnings"])
    assert Path(final["output_path"]).exists()


def test_clips_record_checks_and_clap_similarity(tmp_path, label_cache_dir, monkeypatch,
                                                 tiny_clap):  # noqa: F811
    import json

    from lvas.nodes.generator import _clap_scorer

    monkeypatch.setenv("LVAS_CLAP_MODEL", str(tiny_clap))
    _clap_scorer.cache_clear()
    try:
        video = make_cut_video(tmp_path / "v.mp4", [2.0, 2.0])
        ctx = Context(run_dir=str(tmp_path / "run"), index_dir=str(label_cache_dir), seed=4)
        final = run_pipeline({"video": str(video), "output": str(tmp_path / "out.mp4")}, ctx)
    finally:
        _clap_scorer.cache_clear()
    clips = list(final["clips"].values())
    assert clips and all(-1.0 <= c["clap_score"] <= 1.0 and c["attempts"] == 1 for c in clips)
    for clip in clips:
        sidecar = json.loads((tmp_path / "run" / clip["path"]).with_suffix(".json").read_text())
        assert sidecar["problems"] == [] and sidecar["clap_score"] == pytest.approx(
            clip["clap_score"], abs=1e-4)


def test_narration_without_any_voice_goes_on_and_says_how_to_get_one(tmp_path, label_cache_dir,
                                                                     monkeypatch):
    monkeypatch.setattr(registry, "backend_status",  # takes the run's options, if any
                        lambda *_args, **_kwargs: {"espeak": (False, "not installed"),
                                                   "vits": (False, "none")})
    video = make_cut_video(tmp_path / "v.mp4", [3.0])
    lines = tmp_path / "lines.txt"
    lines.write_text("0.5-2.0 Hello.\n", encoding="utf-8")
    ctx = Context(run_dir=str(tmp_path / "run"), index_dir=str(label_cache_dir), seed=3,
                  narration="auto")
    final = run_pipeline({"video": str(video), "output": str(tmp_path / "out.mp4"),
                          "narration": str(lines)}, ctx)
    assert Path(final["output_path"]).exists()
    assert any("not voiced" in w and "espeak-ng" in w for w in final["warnings"])


def test_plan_with_narration_renders_its_lines(tmp_path, label_cache_dir, monkeypatch):
    from lvas.graph.cli import main

    bin_dir = tmp_path / "bin"
    write_fake(bin_dir / "espeak-ng")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("LVAS_ESPEAK", raising=False)
    monkeypatch.setenv("LVAS_CACHE_DIR", str(label_cache_dir))
    video = make_cut_video(tmp_path / "v.mp4", [3.0, 3.0])
    lines = tmp_path / "lines.srt"
    lines.write_text(SRT, encoding="utf-8")
    plan = tmp_path / "v.plan.json"
    assert main(["plan", str(video), "-o", str(plan), "--narration", str(lines), "-q"]) == 0
    assert main(["render", str(plan), "-o", str(tmp_path / "out.mp4"), "-q",
                 "--work-dir", str(tmp_path / "run")]) == 0  # the plan's lines ask for a voice
    speech = list((tmp_path / "run" / "stems").glob("stem_speech.wav"))
    assert speech and sf.info(speech[0]).frames > 0
