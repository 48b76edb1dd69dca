"""Run settings reach each backend under its own argument names; narration picks a voice."""

from __future__ import annotations

import pytest

from lvas.graph.context import Context
from lvas.tools.common.errors import LVASInputError
from lvas.tools.generation import registry
from lvas.tools.generation.options import generator_options, narration_backend


def test_each_backend_gets_only_the_options_it_takes():
    ctx = Context(generator_model="small_16k", generation_steps=10, cfg_strength=3.0,
                  device="cuda:1", window_seconds=6.0)
    assert generator_options(ctx, "mmaudio") == {
        "variant": "small_16k", "steps": 10, "cfg_strength": 3.0, "device": "cuda:1",
        "window_seconds": 6.0}
    assert generator_options(ctx, "stable-audio") == {
        "model": "small_16k", "steps": 10, "guidance_scale": 3.0, "device": "cuda:1"}
    assert generator_options(ctx, "procedural") == {}
    assert generator_options(Context(), "audioldm2") == {}  # backend defaults


def test_narration_backend_choice(monkeypatch):
    assert narration_backend("off") is None
    assert narration_backend("vits") == "vits"
    with pytest.raises(LVASInputError, match="Unknown narration backend"):
        narration_backend("festival")
    monkeypatch.setattr(registry, "backend_status",
                        lambda: {"espeak": (False, "missing"), "vits": (True, "local")})
    assert narration_backend("auto") == "vits"
    monkeypatch.setattr(registry, "backend_status",
                        lambda: {"espeak": (False, "missing"), "vits": (False, "missing")})
    assert narration_backend("auto") is None  # the run goes on; the mixer says why


def test_auto_never_picks_a_model_backend_without_a_gpu(monkeypatch):
    monkeypatch.delenv("LVAS_DEVICE", raising=False)
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    assert registry.available_generators() == ["procedural"]
    assert registry.get_generator("auto").name == "procedural"
    with pytest.raises(LVASInputError, match="Unknown generator backend"):
        registry.get_generator("wavenet")


def test_a_backend_that_cannot_run_is_refused_before_any_work(tmp_path, capsys):
    from lvas.graph.cli import main
    from tests.videos import make_cut_video

    if registry.backend_status()["mmaudio"][0]:
        pytest.skip("MMAudio can run here")
    video = make_cut_video(tmp_path / "v.mp4", [1.0])
    code = main(["dub", str(video), "-o", str(tmp_path / "o.mp4"), "--generator", "mmaudio",
                 "--work-dir", str(tmp_path / "run")])
    assert code == 2
    assert "cannot run here" in capsys.readouterr().err
    assert not (tmp_path / "run").exists() and not (tmp_path / "o.mp4").exists()
