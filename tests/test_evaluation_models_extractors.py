"""Each audio model, built from its package's architecture with random (seeded) weights, runs
on real audio through the real resampling, windowing and front end; PaSST and CLAP load from
an ``LVAS_EVAL_WEIGHTS`` folder and score through their registry entries end to end.

The full-size VGGish and PANNs checkpoints (about 300 MB each) go through the same path in the
slow tier."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lvas.tools.common.ffmpeg import run_ffmpeg
from lvas.tools.evaluation.metric import MetricInputs
from lvas.tools.evaluation.models import get_model_metric, settings
from lvas.tools.evaluation.models.extract import audio_features

torch = pytest.importorskip("torch")


def _soundtrack(path: Path, seconds: float, tone: float, noise: str) -> Path:
    """A stereo 44.1 kHz WAV: a vibrato tone over coloured noise, from ffmpeg's sources."""
    run_ffmpeg(["-y", "-f", "lavfi", "-i", f"sine=f={tone}:d={seconds}:sample_rate=44100",
                "-f", "lavfi", "-i", f"anoisesrc=d={seconds}:c={noise}:a=0.08:r=44100:s=3",
                "-filter_complex",
                "[0]vibrato=f=3[t];[t][1]amix=inputs=2,pan=stereo|c0=c0|c1=0.6*c0",
                "-c:a", "pcm_s16le", str(path)])
    return path


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("audio")
    return {"gen": _soundtrack(root / "gen.wav", 13.0, 440, "pink"),
            "ref": _soundtrack(root / "ref.wav", 13.0, 660, "brown"),
            "short": _soundtrack(root / "short.wav", 4.0, 330, "white")}


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.setenv(settings.ENV_DEVICE, "cpu")
    monkeypatch.delenv(settings.ENV_DOWNLOAD, raising=False)


def test_vggish_with_random_weights(audio: dict[str, Path]) -> None:
    from lvas.tools.evaluation.models.vggish import VGGish, build_vggish

    torch.manual_seed(0)
    model = VGGish(build_vggish(), "random-0")
    assert isinstance(model.model.embeddings[-1], torch.nn.Linear)  # no final ReLU
    feats = audio_features(model, audio["gen"])
    # 13 s: windows at 0 s and (ending at the end) 3 s, ten 0.96 s examples each
    assert feats["embedding"].shape == (20, 128)
    assert list(feats["window"]) == [0] * 10 + [1] * 10
    np.testing.assert_allclose(feats["window_start"], [0.0, 3.0], atol=1e-6)
    assert np.isfinite(feats["embedding"]).all() and (feats["embedding"] < 0).any()
    short = audio_features(model, audio["short"])  # one window of 4 s: 4 examples
    assert short["embedding"].shape == (4, 128)


def test_panns_with_random_weights(audio: dict[str, Path]) -> None:
    from lvas.tools.evaluation.models.panns import Panns, build_cnn14

    torch.manual_seed(0)
    model = Panns(build_cnn14(), "random-0")
    feats = audio_features(model, audio["gen"])
    assert feats["embedding"].shape == (2, 2048) and feats["logits"].shape == (2, 527)
    assert (feats["embedding"] >= 0).all()  # ReLU of fc1, av-benchmark's "2048"
    with torch.inference_mode():  # the logits are fc_audioset of that embedding
        again = model.model.fc_audioset(torch.from_numpy(feats["embedding"])).numpy()
    np.testing.assert_allclose(feats["logits"], again, rtol=1e-4, atol=1e-5)
    assert feats["embedding"][0].tolist() != feats["embedding"][1].tolist()


def test_passt_front_end_and_network_shapes() -> None:
    from lvas.tools.evaluation.models.passt import INPUT_SAMPLES, build_passt, pad_or_cut

    torch.manual_seed(0)
    model = build_passt(depth=1)
    wav = torch.from_numpy(pad_or_cut(np.random.default_rng(0).standard_normal(
        200_000).astype(np.float32)))[None]
    assert wav.shape == (1, INPUT_SAMPLES)  # zero-padded to 10 s at 32 kHz
    spec = model.mel(wav)
    assert spec.shape == (1, 128, 1000)  # 320 000 − 1 pre-emphasised samples, hop 320
    assert float(spec[0, :, -370:].std()) < 1e-6  # the padding is silence
    assert model.net.patch_embed(spec[:, None]).shape[-2:] == (12, 99)
    logits, features = model(wav)
    assert logits.shape == (1, 527) and features.shape == (1, 768)


def _passt_checkpoint(folder: Path) -> Path:
    from lvas.tools.evaluation.models.passt import build_passt

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(1)
    path = folder / "passt-s-f128-p16-s10-ap.476-swa.pt"
    torch.save({"model": build_passt(depth=1).net.state_dict()}, path)  # the authors' nesting
    return path


def test_passt_metrics_end_to_end_from_a_weights_folder(
        tmp_path: Path, audio: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "weights"
    monkeypatch.setenv(settings.ENV_WEIGHTS, str(weights))
    fd, kl, inception = (get_model_metric(n) for n in ("fd-passt", "kl-passt", "is-passt"))
    assert fd is not None and kl is not None and inception is not None
    assert fd.availability() is not None and "needs weights" in str(fd.availability())
    _passt_checkpoint(weights)
    assert fd.availability() is None and kl.availability() is None

    gen, ref = MetricInputs(audio["gen"], reference=[audio["ref"]]), MetricInputs(
        audio["ref"], reference=[audio["ref"]])
    value = fd.compute(gen)["fd_passt"]
    assert value is not None and value > 0
    assert fd.compute(ref)["fd_passt"] == pytest.approx(0.0, abs=1e-6)  # itself
    assert kl.compute(ref)["kl_passt"] == pytest.approx(0.0, abs=1e-9)
    kl_value = kl.compute(gen)["kl_passt"]
    assert kl_value is not None and kl_value > 0
    is_value = inception.compute(gen)
    assert is_value["is_passt"] is not None and is_value["is_passt"] >= 1.0
    entries = sorted((tmp_path / "cache" / "passt").glob("*.npz"))
    assert len(entries) == 2  # one per file, shared by FD, KL and IS

    pooled = fd.compute_set([gen, ref])  # type: ignore[misc]
    assert pooled["fd_passt"] is not None and pooled["fd_passt"] > 0
    kl_set = kl.compute_set([gen, ref])["kl_passt"]  # type: ignore[misc]
    assert kl_set == pytest.approx(kl_value / 2)  # mean over the four paired windows
    assert sorted((tmp_path / "cache" / "passt").glob("*.npz")) == entries  # no re-extraction


def _tiny_clap(folder: Path) -> Path:
    """An unfused CLAP (as larger_clap_general) a few kB big, with a processor built offline."""
    from transformers import (
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapProcessor,
        RobertaTokenizerFast,
    )

    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    for piece in [*letters, *("\u0120" + c for c in letters)]:
        vocab[piece] = len(vocab)
    tok_dir = folder.parent / "tokenizer"
    tok_dir.mkdir(parents=True)
    (tok_dir / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (tok_dir / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    config = ClapConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1,
                         num_attention_heads=2, intermediate_size=32,
                         max_position_embeddings=80, projection_dim=8),
        audio_config=dict(depths=[1, 1], num_attention_heads=[1, 2], patch_embeds_hidden_size=8,
                          hidden_size=16, window_size=8, projection_dim=8, enable_fusion=False,
                          patch_size=8, patch_stride=[8, 8]),
        projection_dim=8)
    torch.manual_seed(2)
    ClapModel(config).save_pretrained(folder)
    ClapProcessor(feature_extractor=ClapFeatureExtractor(),
                  tokenizer=RobertaTokenizerFast.from_pretrained(tok_dir)).save_pretrained(folder)
    return folder


def test_clap_score_end_to_end_from_a_weights_folder(
        tmp_path: Path, audio: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "weights"
    monkeypatch.setenv(settings.ENV_WEIGHTS, str(weights))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    clap = get_model_metric("CLAP")
    assert clap is not None and "needs weights" in str(clap.availability())
    _tiny_clap(weights / "larger_clap_general")
    assert clap.availability() is None
    item = MetricInputs(audio["gen"], text="a steady tone over soft noise")
    score = clap.compute(item)["clap_score"]
    assert score is not None and -1.0 <= score <= 1.0
    assert clap.compute(item)["clap_score"] == pytest.approx(score)  # deterministic (cached)
    pooled = clap.compute_set([item, MetricInputs(audio["short"], text="white noise")])
    assert pooled["clap_score"] is not None and -1.0 <= pooled["clap_score"] <= 1.0
    windows = np.load(next((tmp_path / "cache" / "clap").glob("*.npz")))["audio"]
    assert windows.shape in {(2, 8), (1, 8)}


@pytest.mark.slow
def test_vggish_and_panns_metrics_end_to_end_from_full_size_checkpoints(
        tmp_path: Path, audio: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from lvas.tools.evaluation.models.panns import build_cnn14
    from lvas.tools.evaluation.models.vggish import build_vggish

    weights = tmp_path / "weights"
    weights.mkdir()
    torch.manual_seed(3)
    torch.save({"model": build_cnn14().state_dict(), "iteration": 0},
               weights / "Cnn14_16k_mAP=0.438.pth")
    torch.save(build_vggish().state_dict(), weights / "vggish-10086976.pth")
    monkeypatch.setenv(settings.ENV_WEIGHTS, str(weights))
    gen = MetricInputs(audio["gen"], reference=[audio["ref"]])
    ref = MetricInputs(audio["ref"], reference=[audio["ref"]])
    for name, key in (("fd-vggish", "fd_vggish"), ("fd-panns", "fd_panns"),
                      ("kl-panns", "kl_panns")):
        metric = get_model_metric(name)
        assert metric is not None and metric.availability() is None
        value = metric.compute(gen)[key]
        assert value is not None and value > 0
        assert metric.compute(ref)[key] == pytest.approx(0.0, abs=1e-5)
    result = get_model_metric("IS_PANNs").compute(gen)  # type: ignore[union-attr]
    assert result["is_panns"] is not None and result["is_panns"] >= 1.0


@pytest.mark.slow
def test_passt_with_its_full_depth(audio: dict[str, Path]) -> None:
    from lvas.tools.evaluation.models.passt import Passt, build_passt

    torch.manual_seed(0)
    feats = audio_features(Passt(build_passt(), "random-0"), audio["gen"])
    assert feats["embedding"].shape == (2, 768) and feats["logits"].shape == (2, 527)
