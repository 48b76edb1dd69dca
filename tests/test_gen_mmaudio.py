"""The MMAudio adapter against a stand-in with MMAudio's interface (MMAudio is not on PyPI).

The stand-in (tests/mmaudio_standin) checks the shapes MMAudio checks and records what
reached it: frames, prompts, settings, batch sizes. Frame timing is checked on real test
videos decoded by the adapter.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lvas.tools.common.errors import LVASInputError
from lvas.tools.generation import mmaudio_backend as mb
from lvas.tools.generation.base import GenerationRequest
from tests import videos

STANDIN = Path(__file__).parent / "mmaudio_standin"
BLUE = np.array([0x10, 0x30, 0xC0]) / 255.0  # segment 1 of tests.videos.make_cut_video
GREEN = np.array([0x20, 0xA0, 0x40]) / 255.0  # segment 2 (with a white box moving on it)


def _drop_mmaudio_modules() -> None:
    for name in [m for m in sys.modules if m == "mmaudio" or m.startswith("mmaudio.")]:
        del sys.modules[name]


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The stand-in importable as ``mmaudio``, with a fresh record and an empty model cache."""
    _drop_mmaudio_modules()
    monkeypatch.syspath_prepend(str(STANDIN))
    # Weights go to the default folder, <cache folder>/mmaudio, under a home of the test's own.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    from mmaudio import _standin

    _standin.reset()
    mb.clear_model_cache()
    yield _standin.RECORD
    mb.clear_model_cache()
    _drop_mmaudio_modules()


def _gen(**options) -> mb.MMAudioGenerator:
    options.setdefault("variant", "small_16k")
    options.setdefault("device", "cpu")
    return mb.MMAudioGenerator(**options)


def _text(text: str = "rain on a roof", duration: float = 2.0, seed: int = 1, **kw
          ) -> GenerationRequest:
    return GenerationRequest(text=text, duration=duration, seed=seed, **kw)


def _video(path: Path, span: tuple[float, float], seed: int = 1, **kw) -> GenerationRequest:
    return GenerationRequest(text="a car passes", duration=span[1] - span[0], seed=seed,
                             video_path=str(path), video_span=span, **kw)


def _mean_rgb(frames: np.ndarray, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """Mean colour per frame, mapped back to [0, 1]; frames are (T, 3, H, W) in [lo, hi]."""
    return (frames.mean(axis=(2, 3)) - lo) / (hi - lo)


# --- frames -------------------------------------------------------------------------------


def test_frames_follow_the_span_at_8_and_25_fps(cut_video: Path) -> None:
    clip, sync = mb.read_mmaudio_frames(cut_video, 1.5, 2.0)  # a cut at 2.0 s: to blue
    assert clip.shape == (16, 3, 384, 384) and clip.dtype == np.float32
    assert sync.shape == (50, 3, 224, 224) and sync.dtype == np.float32
    assert 0.0 <= clip.min() and clip.max() <= 1.0
    assert -1.0 <= sync.min() and sync.max() <= 1.0
    clip_rgb, sync_rgb = _mean_rgb(clip), _mean_rgb(sync, -1.0, 1.0)
    # CLIP frame k shows t = 1.5 + k/8: before the cut for k <= 3, blue from k = 4 (t = 2.0).
    assert all(np.abs(clip_rgb[k] - BLUE).max() < 0.05 for k in range(4, 16))
    assert all(np.abs(clip_rgb[k] - BLUE).max() > 0.1 for k in range(0, 4))
    # Sync frame k shows t = 1.5 + k/25: blue from k = 13 (t = 2.02).
    assert all(np.abs(sync_rgb[k] - BLUE).max() < 0.05 for k in range(13, 50))
    assert all(np.abs(sync_rgb[k] - BLUE).max() > 0.1 for k in range(0, 12))


def test_frames_after_a_seek_and_past_the_end(cut_video: Path) -> None:
    clip, sync = mb.read_mmaudio_frames(cut_video, 3.5, 1.0)  # seeks; cut to green at 4.0
    assert clip.shape == (8, 3, 384, 384) and sync.shape == (25, 3, 224, 224)
    clip_rgb = _mean_rgb(clip)
    assert all(np.abs(clip_rgb[k] - BLUE).max() < 0.05 for k in range(0, 4))
    assert all(clip_rgb[k].argmax() == 1 for k in range(4, 8))  # green dominates
    clip, sync = mb.read_mmaudio_frames(cut_video, 7.5, 2.0)  # the video ends at 8.0
    assert clip.shape == (16, 3, 384, 384) and sync.shape == (50, 3, 224, 224)
    np.testing.assert_array_equal(clip[-1], clip[5])  # the last frame is held


def test_frames_of_a_10_fps_video_are_held_to_25_fps(video_factory) -> None:
    path = video_factory("ten-fps.mp4", videos.make_cut_video, [2.0, 1.0], fps=10)
    clip, sync = mb.read_mmaudio_frames(path, 0.5, 1.0)  # moving test pattern throughout
    assert clip.shape == (8, 3, 384, 384) and sync.shape == (25, 3, 224, 224)
    # 10 fps frames last 0.1 s: each 25 fps sample shows the first frame at or after it
    # (MMAudio's rule), so the samples at 0.92 and 0.96 s show the frame at 1.0 s: 11 frames.
    changes = [not np.array_equal(a, b) for a, b in zip(sync, sync[1:], strict=False)]
    assert sum(changes) + 1 == 11
    assert sum(not np.array_equal(a, b) for a, b in zip(clip, clip[1:], strict=False)) == 7
    _, sync = mb.read_mmaudio_frames(path, 1.5, 1.0)  # the cut to blue at 2.0 s
    sync_rgb = _mean_rgb(sync, -1.0, 1.0)
    # Sample k shows the first frame at or after 1.5 + k/25: blue (2.0 s) from k = 11.
    assert all(np.abs(sync_rgb[k] - BLUE).max() < 0.05 for k in range(11, 25))
    assert all(np.abs(sync_rgb[k] - BLUE).max() > 0.1 for k in range(0, 11))


def test_sync_frames_keep_aspect_and_rotation(video_factory) -> None:
    wide = video_factory("wide.mp4", videos.make_cut_video, [1.0], size=(448, 224))
    rotated = video_factory("wide-rot.mp4", videos.make_rotated, wide, 90)
    clip, sync = mb.read_mmaudio_frames(wide, 0.0, 1.0)
    clip_r, sync_r = mb.read_mmaudio_frames(rotated, 0.0, 1.0)
    # 448x224 scaled to 448x224 (shorter side 224) and centre-cropped to its middle half;
    # the rotated file shows the same pictures turned a quarter counter-clockwise. CLIP's
    # squeeze to 384x384 resizes the upright picture, so it matches the turned one only
    # closely (the two resize passes swap order); test_mmaudio_frames checks it exactly.
    np.testing.assert_array_equal(sync_r, np.rot90(sync, 1, axes=(2, 3)))
    assert np.abs(clip_r - np.rot90(clip, 1, axes=(2, 3))).mean() < 0.01


# --- generation through the stand-in ----------------------------------------------------


def test_video_to_audio_sends_the_span_frames(standin, cut_video: Path, tmp_path: Path) -> None:
    out = _gen().render(_video(cut_video, (1.5, 3.5)), tmp_path / "v.wav")
    (call,) = standin.generate_calls
    assert call["clip_shape"] == (1, 16, 3, 384, 384)
    assert call["sync_shape"] == (1, 50, 3, 224, 224)
    # 2 s at 16 kHz: ceil(32000 / 512) = 63 latents, 16 CLIP frames, 5 sync windows x 8.
    assert call["seq_lengths"] == (63, 16, 40)
    clip_rgb = _mean_rgb(call["clip_video"][0].numpy())
    assert np.abs(clip_rgb[-1] - BLUE).max() < 0.05 and np.abs(clip_rgb[0] - BLUE).max() > 0.1
    assert sf.info(out).frames == 32000


def test_text_to_audio_passes_no_video(standin, tmp_path: Path) -> None:
    _gen().render(_text(), tmp_path / "t.wav")
    (call,) = standin.generate_calls
    assert call["clip_shape"] is None and call["sync_shape"] is None
    assert call["text"] == ["rain on a roof"]


def test_prompt_negative_prompt_cfg_and_steps_reach_generate(standin, tmp_path: Path) -> None:
    gen = _gen(steps=7, cfg_strength=3.0)
    gen.render_batch(
        [_text("wind", seed=1), _text("birds", seed=2, negative_text="speech, music")],
        [tmp_path / "a.wav", tmp_path / "b.wav"],
    )
    (call,) = standin.generate_calls
    assert call["text"] == ["wind", "birds"]
    assert call["negative_text"] == ["music", "speech, music"]  # "music" is the default
    assert call["cfg_strength"] == 3.0
    assert standin.flow_steps == [7]
    assert call["rng_seed"] == 1


def test_defaults_are_the_papers_settings(standin) -> None:
    gen = mb.MMAudioGenerator(device="cpu")
    assert (gen.variant, gen.steps, gen.cfg_strength) == ("large_44k_v2", 25, 4.5)
    assert gen.capabilities.sample_rate == 44100
    assert gen.capabilities.window_seconds == 8.0 and gen.capabilities.max_batch == 4
    assert gen.dtype == "fp32"  # on the CPU
    assert mb.resolve_dtype("cuda") == "bf16"
    assert mb.resolve_dtype("cuda", full_precision=True) == "fp32"


def test_models_are_built_once_and_weights_land_in_one_folder(
    standin, tmp_path: Path
) -> None:
    first, second = _gen(), _gen(steps=3)
    for i in range(3):
        first.render(_text(seed=i), tmp_path / f"a{i}.wav")
        second.render(_text(seed=i, duration=1.5), tmp_path / f"b{i}.wav")
    assert standin.networks == ["small_16k"]
    assert len(standin.features) == 1 and standin.loaded and len(standin.loaded) == 1
    weights = tmp_path / "home" / ".cache" / "lvas" / "mmaudio"
    assert standin.downloads == [
        str(weights / "weights/mmaudio_small_16k.pth"), str(weights / "ext_weights/v1-16.pth"),
        str(weights / "ext_weights/best_netG.pt"),
        str(weights / "ext_weights/synchformer_state_dict.pth"),
    ]
    features = standin.features[0]
    assert features["mode"] == "16k" and features["need_vae_encoder"] is False
    assert features["synchformer_ckpt"] == weights / "ext_weights/synchformer_state_dict.pth"
    _gen(variant="small_44k").render(_text(), tmp_path / "c.wav")  # another variant: new
    _gen(dtype="bf16").render(_text(), tmp_path / "d.wav")  # another dtype: new
    assert standin.networks == ["small_16k", "small_44k", "small_16k"]
    assert standin.features[1]["bigvgan_vocoder_ckpt"] is None  # 44k uses BigVGAN v2


def test_requests_are_batched_by_length_and_kind(
    standin, cut_video: Path, tmp_path: Path
) -> None:
    requests = [
        _text("a", 1.0, seed=1), _video(cut_video, (0.0, 1.0), seed=2), _text("b", 1.0, seed=3),
        _text("c", 1.5, seed=4), _video(cut_video, (4.0, 5.0), seed=5), _text("d", 1.0, seed=6),
    ]
    paths = [tmp_path / f"{i}.wav" for i in range(len(requests))]
    assert _gen().render_batch(requests, paths) == paths
    calls = [(c["text"], c["clip_shape"]) for c in standin.generate_calls]
    assert calls == [
        (["a", "b", "d"], None),
        (["a car passes"] * 2, (2, 8, 3, 384, 384)),
        (["c"], None),
    ]
    for path, request in zip(paths, requests, strict=True):
        assert sf.info(path).frames == round(request.duration * 16000)
    standin.generate_calls.clear()
    _gen(max_batch=2).render_batch(requests, paths)
    assert [len(c["text"]) for c in standin.generate_calls] == [2, 1, 2, 1]


def test_a_request_sounds_the_same_alone_or_batched(standin, tmp_path: Path) -> None:
    gen = _gen()
    a, b = _text("rain", seed=11), _text("wind", seed=12)
    gen.render(a, tmp_path / "alone.wav")
    gen.render_batch([b, a], [tmp_path / "b.wav", tmp_path / "a.wav"])
    alone, _ = sf.read(tmp_path / "alone.wav")
    batched, _ = sf.read(tmp_path / "a.wav")
    np.testing.assert_allclose(batched, alone, atol=1e-6)
    gen.render(a.with_seed(13), tmp_path / "other.wav")
    other, _ = sf.read(tmp_path / "other.wav")
    assert np.abs(other - alone).max() > 1e-3


def test_out_of_memory_halves_the_batch(standin, tmp_path: Path) -> None:
    standin.oom_above = 1
    gen = _gen(max_batch=4)
    paths = [tmp_path / f"{i}.wav" for i in range(4)]
    gen.render_batch([_text(seed=i) for i in range(4)], paths)
    assert standin.attempts == [4, 2, 1, 1, 1, 1]
    assert all(sf.info(p).frames == 32000 for p in paths)
    standin.attempts.clear()  # the smaller batch is kept for later calls
    gen.render_batch([_text(seed=i) for i in range(2)], paths[:2])
    assert standin.attempts == [1, 1]


def test_runtime_error_out_of_memory_is_retried_too(standin, tmp_path: Path) -> None:
    standin.oom_above, standin.oom_message = 2, "CUDA error: out of memory"
    paths = [tmp_path / f"{i}.wav" for i in range(3)]
    _gen(max_batch=3).render_batch([_text(seed=i) for i in range(3)], paths)
    assert standin.attempts == [3, 1, 1, 1]


def test_out_of_memory_at_one_request_is_a_clear_error(standin, tmp_path: Path) -> None:
    standin.oom_above = 0
    with pytest.raises(mb.MMAudioOutOfMemoryError, match="smaller variant"):
        _gen(max_batch=2).render_batch([_text(), _text(seed=2)],
                                       [tmp_path / "a.wav", tmp_path / "b.wav"])
    assert standin.attempts == [2, 1]
    assert list(tmp_path.glob("*.wav")) == []


def test_other_errors_are_not_retried(standin, tmp_path: Path) -> None:
    standin.fail_with = ValueError("broken")
    with pytest.raises(ValueError, match="broken"):
        _gen().render_batch([_text(), _text(seed=2)], [tmp_path / "a.wav", tmp_path / "b.wav"])
    assert standin.attempts == [2]


@pytest.mark.parametrize(
    ("variant", "duration", "rate"),
    [("small_16k", 1.37, 16000), ("small_16k", 0.3, 16000), ("large_44k_v2", 2.5, 44100)],
)
def test_output_has_the_exact_length_and_the_models_rate(
    standin, tmp_path: Path, variant: str, duration: float, rate: int
) -> None:
    out = _gen(variant=variant).render(_text(duration=duration), tmp_path / "x.wav")
    audio, sr = sf.read(out, dtype="float32")
    assert sr == rate and audio.shape == (round(duration * rate),)
    assert sf.info(out).subtype == "FLOAT"
    assert np.sqrt(np.mean(audio**2)) > 0.05
    seconds = max(duration, mb.MIN_MODEL_SECONDS)  # short requests render 1 s, then trim
    assert standin.generate_calls[0]["seq_lengths"][1] == int(seconds * 8)
    assert [p.name for p in tmp_path.iterdir() if p.name != "home"] == ["x.wav"]


def test_bf16_reaches_the_models(standin, tmp_path: Path) -> None:
    import torch

    out = _gen(dtype="bf16").render(_text(), tmp_path / "x.wav")
    assert standin.generate_calls[0]["dtype"] == torch.bfloat16
    assert np.all(np.isfinite(sf.read(out)[0]))


def test_prebuilt_models_are_used_without_loading(standin, tmp_path: Path) -> None:
    from mmaudio.eval_utils import all_model_cfg
    from mmaudio.model.networks import get_my_mmaudio
    from mmaudio.model.utils.features_utils import FeaturesUtils

    ckpts = {name: tmp_path / name for name in ("v1-16.pth", "best_netG.pt", "sync.pth")}
    for path in ckpts.values():
        path.write_bytes(b"weights built elsewhere")
    models = mb.MMAudioModels(
        net=get_my_mmaudio("small_16k").eval(),
        feature_utils=FeaturesUtils(tod_vae_ckpt=ckpts["v1-16.pth"],
                                    bigvgan_vocoder_ckpt=ckpts["best_netG.pt"],
                                    synchformer_ckpt=ckpts["sync.pth"], mode="16k").eval(),
        seq_cfg=all_model_cfg["small_16k"].seq_cfg,
    )
    gen = _gen(models=models)
    gen.render(_text(), tmp_path / "x.wav")
    assert gen.models() is models
    assert standin.downloads == [] and len(standin.networks) == 1


def test_bad_options_and_requests(standin, tmp_path: Path) -> None:
    with pytest.raises(LVASInputError, match="variant"):
        _gen(variant="huge_48k")
    with pytest.raises(LVASInputError, match="dtype"):
        _gen(dtype="fp8")
    with pytest.raises(LVASInputError, match="steps"):
        _gen(steps=0)
    with pytest.raises(LVASInputError, match="video_span"):
        _gen().render(GenerationRequest(text="x", duration=1.0, seed=1, video_path="v.mp4"),
                      tmp_path / "x.wav")
    with pytest.raises(ValueError, match="one output path"):
        _gen().render_batch([_text()], [])


def test_factory_call_from_the_registry(standin) -> None:
    gen = mb.MMAudioGenerator(sample_rate=48000, variant="small_44k", window_seconds=6,
                              max_batch=2, device="cpu")
    caps = gen.capabilities
    assert (caps.sample_rate, caps.window_seconds, caps.max_batch) == (44100, 6.0, 2)
    assert caps.video_to_audio and caps.text_to_audio and caps.device == "cpu"
    assert gen.name == "mmaudio" and "small_44k" in gen.version


# --- availability and laziness ----------------------------------------------------------


def test_not_available_without_mmaudio(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mmaudio" else real(name, *a))
    ok, reason = mb.mmaudio_available()
    assert not ok and "not installed" in reason


def test_availability_needs_cuda_or_an_explicit_cpu(
    standin, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    monkeypatch.setattr(mb, "cuda_available", lambda: False)
    monkeypatch.setenv("LVAS_DEVICE", "cpu")  # the run's Context reads it; the backend does not
    ok, reason = mb.mmaudio_available()
    assert not ok and "LVAS_DEVICE=cpu" in reason
    assert mb.resolve_device() == "cpu"
    ok, reason = mb.mmaudio_available("cpu")
    assert ok and "slow" in reason
    assert mb.mmaudio_available("cuda")[0] is False
    ok, reason = mb.mmaudio_available("mps")
    assert ok or "no MPS" in reason
    assert not mb.mmaudio_available("tpu")[0]
    monkeypatch.setattr(mb, "cuda_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Test GPU")
    assert mb.mmaudio_available("cuda") == (True, "on Test GPU")
    assert mb.mmaudio_available() == (True, "on Test GPU")
    assert mb.resolve_device() == "cuda" and mb.resolve_device("cuda:1") == "cuda:1"


def test_the_run_context_reaches_the_generator(standin, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from lvas.graph.context import Context
    from lvas.tools.generation.options import generator_options

    monkeypatch.setenv("LVAS_MMAUDIO_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("LVAS_DEVICE", "cpu")
    ctx = Context(generator_model="small_16k")
    gen = mb.MMAudioGenerator(**generator_options(ctx, "mmaudio"))
    assert gen.device == "cpu"
    gen.render(_text(), tmp_path / "x.wav")
    assert standin.downloads[0] == str(tmp_path / "weights" / "weights/mmaudio_small_16k.pth")


def test_importing_the_adapter_loads_neither_torch_nor_mmaudio() -> None:
    code = (
        "import sys, lvas.tools.generation.mmaudio_backend as m; "
        "m.MMAudioGenerator; "
        "print('torch' in sys.modules, 'mmaudio' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
