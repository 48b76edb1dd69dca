"""The mixer node: the delivery (the mux's AAC encode, then the measurement) starts as soon as
the soundtrack is complete, while the stems are still being written."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from lvas.graph.context import Context
from lvas.tools.audio.audio_io import write_wav
from lvas.tools.audio.wav_stream import WavWriter
from lvas.tools.video.probe import probe_video

SR = 48000


def _state(run: Path, video: Path, out: Path) -> dict:
    rng = np.random.default_rng(2)
    clips = run / "clips"
    clips.mkdir(parents=True)
    write_wav(clips / "bed.wav", 0.05 * rng.standard_normal((6 * SR, 2)), SR, "FLOAT")
    t = np.arange(SR // 2) / SR
    write_wav(clips / "knock.wav", 0.4 * np.sin(2 * np.pi * 300 * t) * np.exp(-8 * t), SR,
              "FLOAT")
    info = probe_video(video)
    return {
        "run_dir": str(run), "video": str(video), "output_path": str(out),
        "video_info": {"duration": info.duration}, "storyboard": {"duration": info.duration},
        "artifacts": {},
        "clips": {
            "bed": {"path": "clips/bed.wav", "start": 0.0, "gain_db": 0.0,
                    "layer": "background"},
            "knock": {"path": "clips/knock.wav", "start": 2.0, "gain_db": -3.0,
                      "layer": "foreground"},
        },
    }


def test_the_mux_runs_while_the_stems_are_written(tmp_path, cut_video, monkeypatch):
    import lvas.nodes.mixer as mixer
    import lvas.tools.audio.mixing as mixing

    mux_started = threading.Event()
    stems_waited: list[bool] = []
    real_mux = mixer.mux_soundtrack

    def mux(*args, **kwargs):
        mux_started.set()
        return real_mux(*args, **kwargs)

    class StemsWaitForTheMux(WavWriter):
        def __init__(self, path, *args, **kwargs):
            if "stem_" in Path(path).name:
                stems_waited.append(mux_started.wait(timeout=5))
            super().__init__(path, *args, **kwargs)

    monkeypatch.setattr(mixer, "mux_soundtrack", mux)
    monkeypatch.setattr(mixing, "WavWriter", StemsWaitForTheMux)
    run, out = tmp_path / "run", tmp_path / "out.mp4"
    update = mixer.mix(_state(run, cut_video, out), SimpleNamespace(context=Context()))
    assert stems_waited == [True, True]  # each stem was begun once the mux had started
    artifacts = update["artifacts"]
    assert Path(artifacts["output"]) == out and out.is_file()
    assert sorted(artifacts["stems"]) == ["background", "foreground"]
    assert all((run / path).is_file() for path in artifacts["stems"].values())
    assert artifacts["delivered_lufs"] is not None


def test_the_report_spectrogram_is_measured_while_the_delivery_encodes(tmp_path, cut_video,
                                                                         monkeypatch):
    import lvas.nodes.mixer as mixer
    import lvas.tools.reporting.spectrogram as spectrogram

    delivering = threading.Event()
    measured_during: list[bool] = []
    real_mux, real_compute = mixer.mux_soundtrack, spectrogram.compute_spectrogram

    def mux(*args, **kwargs):
        delivering.set()
        try:
            return real_mux(*args, **kwargs)
        finally:
            delivering.clear()

    def compute(path, **kwargs):
        measured_during.append(delivering.is_set())
        return real_compute(path, **kwargs)

    monkeypatch.setattr(mixer, "mux_soundtrack", mux)
    monkeypatch.setattr(spectrogram, "compute_spectrogram", compute)
    run, out = tmp_path / "run", tmp_path / "out.mp4"
    update = mixer.mix(_state(run, cut_video, out), SimpleNamespace(context=Context()))
    soundtrack = run / update["artifacts"]["soundtrack"]
    # The report's measurement is the one the mixer made while the delivery was encoding.
    spec = spectrogram.soundtrack_spectrogram(soundtrack)
    assert measured_during == [True]
    assert spec.duration == sf_duration(soundtrack)


def sf_duration(path: Path) -> float:
    import soundfile as sf

    return sf.info(str(path)).duration
