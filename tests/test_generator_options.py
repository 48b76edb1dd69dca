"""Run settings reach each backend under its own argument names; narration picks a voice."""

from __future__ import annotations

import pytest

from lvas.graph.context import Context
from lvas.tools.common.errors import LVASInputError
from lvas.tools.generation import registry
from lvas.tools.generation.options import (
    all_generator_options,
    check_run_backends,
    generator_backend,
    generator_options,
    narration_backend,
    sound_options,
)


@pytest.fixture
def clean_env(monkeypatch):
    """No LVAS_* settings from the machine running the tests."""
    for name in ("LVAS_DEVICE", "LVAS_MMAUDIO_WEIGHTS", "LVAS_ESPEAK", "LVAS_TTS_MODEL",
                 "LVAS_CLAP_MODEL", "LVAS_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)


def test_each_backend_gets_only_the_options_it_takes(clean_env, tmp_path):
    ctx = Context(generator_model="small_16k", generation_steps=10, cfg_strength=3.0,
                  device="cuda:1", window_seconds=6.0, index_dir=str(tmp_path))
    assert generator_options(ctx, "mmaudio") == {
        "variant": "small_16k", "steps": 10, "cfg_strength": 3.0, "device": "cuda:1",
        "window_seconds": 6.0, "weights_dir": str(tmp_path / "mmaudio")}
    assert generator_options(ctx, "stable-audio") == {
        "model": "small_16k", "steps": 10, "guidance_scale": 3.0, "device": "cuda:1"}
    assert generator_options(ctx, "procedural") == {}
    assert generator_options(Context(), "audioldm2") == {}  # backend defaults
    assert generator_options(Context(), "espeak") == {}
    assert generator_options(Context(tts_model="/m", device="cpu"), "vits") == {
        "model": "/m", "device": "cpu"}
    assert generator_options(Context(mmaudio_weights="/w"), "mmaudio")["weights_dir"] == "/w"


def test_environment_fills_the_context_and_only_the_context(monkeypatch, tmp_path):
    monkeypatch.setenv("LVAS_DEVICE", "cpu")
    monkeypatch.setenv("LVAS_MMAUDIO_WEIGHTS", str(tmp_path / "w"))
    monkeypatch.setenv("LVAS_ESPEAK", "/opt/espeak-ng")
    monkeypatch.setenv("LVAS_TTS_MODEL", "/models/vits")
    monkeypatch.setenv("LVAS_CLAP_MODEL", "/models/clap")
    monkeypatch.setenv("LVAS_CACHE_DIR", str(tmp_path / "cache"))
    ctx = Context()
    assert (ctx.device, ctx.mmaudio_weights, ctx.espeak_path, ctx.tts_model, ctx.clap_model,
            ctx.index_dir) == ("cpu", str(tmp_path / "w"), "/opt/espeak-ng", "/models/vits",
                               "/models/clap", str(tmp_path / "cache"))
    assert generator_options(ctx, "espeak") == {"executable": "/opt/espeak-ng"}
    # A value given to the context wins over the environment.
    assert Context(device="cuda:0", tts_model="/other").tts_model == "/other"


def test_clip_names_ignore_where_files_live(clean_env):
    ctx = Context(generator_model="small_16k", espeak_path="/usr/bin/espeak-ng")
    moved = Context(generator_model="small_16k", espeak_path="/opt/bin/espeak-ng",
                    mmaudio_weights="/elsewhere")
    assert sound_options(ctx, "mmaudio") == sound_options(moved, "mmaudio")
    assert "weights_dir" not in sound_options(ctx, "mmaudio")
    assert sound_options(ctx, "espeak") == sound_options(moved, "espeak") == {}
    assert sound_options(Context(tts_model="/a"), "vits") != sound_options(
        Context(tts_model="/b"), "vits")


def test_narration_backend_choice(monkeypatch):
    assert narration_backend("off") is None
    assert narration_backend("vits") == "vits"
    with pytest.raises(LVASInputError, match="Unknown narration backend"):
        narration_backend("festival")
    seen = []

    def status(options=None):
        seen.append(options)
        return {"espeak": (False, "missing"), "vits": (True, "local")}

    monkeypatch.setattr(registry, "backend_status", status)
    options = all_generator_options(Context(tts_model="/m"))
    assert narration_backend("auto", options) == "vits"
    assert seen == [options] and options["vits"]["model"] == "/m"
    monkeypatch.setattr(registry, "backend_status", lambda options=None: {
        "espeak": (False, "missing"), "vits": (False, "missing")})
    assert narration_backend("auto") is None  # the run goes on; the mixer says why


def test_voice_checks_use_the_context_settings(clean_env, tmp_path):
    missing = str(tmp_path / "no-espeak")
    status = registry.backend_status(all_generator_options(Context(espeak_path=missing)))
    assert not status["espeak"][0] and missing in status["espeak"][1]
    with pytest.raises(LVASInputError, match="cannot run here"):
        check_run_backends(Context(narration="espeak", espeak_path=missing))
    check_run_backends(Context(narration="auto", espeak_path=missing))  # auto: a warning later


def test_auto_never_picks_a_model_backend_without_a_gpu(clean_env):
    from lvas.tools.common.gpu import cuda_available

    if cuda_available():
        pytest.skip("a CUDA GPU is present")
    assert registry.available_generators() == ["procedural"]
    assert registry.get_generator("auto").name == "procedural"
    assert generator_backend(Context()) == "procedural"
    assert generator_backend(Context(generator_backend="audioldm2")) == "audioldm2"
    with pytest.raises(LVASInputError, match="Unknown generator backend"):
        registry.get_generator("wavenet")


def test_auto_takes_a_model_backend_on_a_device_asked_for(clean_env, monkeypatch):
    import importlib.util

    from lvas.tools.generation import diffusers_backend

    # The model's weights are on this machine (the check itself is tested with the backend).
    monkeypatch.setattr(diffusers_backend, "weights_status",
                        lambda pipeline, model="": (True, "weights here"))

    if importlib.util.find_spec("diffusers") is None or importlib.util.find_spec(
            "torchsde") is None:
        pytest.skip("the diffusers extra is not installed")
    # A CPU asked for on purpose makes the diffusers backends eligible for ``auto``.
    assert generator_backend(Context(device="cpu")) in ("stable-audio", "audioldm2")


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
