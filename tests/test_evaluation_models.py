"""The model metrics' plumbing: windows over long audio, the feature cache, the front ends,
the registry entries and what ``availability`` says where weights or packages are missing."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lvas.tools.evaluation.models import MODEL_METRICS, expand_family, get_model_metric, settings
from lvas.tools.evaluation.models.av_windows import frame_spans, group_frames
from lvas.tools.evaluation.models.cache import cached
from lvas.tools.evaluation.models.windows import (
    iter_windows,
    planned_windows,
    remove_dc,
    window_starts,
)

# --- windows ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "starts"), [
    (25.0, [0, 10, 15]),  # 5 s left: one more window ending at the end
    (20.5, [0, 10]),  # 0.5 s left: dropped
    (30.0, [0, 10, 20]),
    (10.0, [0]),
    (4.0, [0]),  # shorter than a window: the whole file
    (0.5, []),  # under a second: nothing to score
])
def test_window_starts(seconds: float, starts: list[int]) -> None:
    rate = 100
    assert window_starts(int(seconds * rate), 10 * rate, rate) == [s * rate for s in starts]


def _write(path: Path, data: np.ndarray, rate: int) -> Path:
    sf.write(path, data, rate, subtype="FLOAT")
    return path


def test_windows_at_the_files_rate_are_its_samples(tmp_path: Path) -> None:
    rate = 8000
    rng = np.random.default_rng(0)
    stereo = rng.standard_normal((int(23.5 * rate), 2)).astype(np.float32)
    path = _write(tmp_path / "a.wav", stereo, rate)
    mono = stereo.mean(axis=1)
    windows = list(iter_windows(path, rate, block_seconds=0.7))
    assert [w.start for w in windows] == [0.0, 10.0, 13.5]
    for w in windows:
        lo = int(w.start * rate)
        np.testing.assert_allclose(w.samples, mono[lo:lo + 10 * rate], atol=1e-7)


def test_resampled_windows_do_not_depend_on_the_block_size(tmp_path: Path) -> None:
    rate = 44100
    t = np.arange(int(12.3 * rate)) / rate
    path = _write(tmp_path / "a.wav", (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32),
                  rate)
    a = list(iter_windows(path, 16000, block_seconds=0.37))
    b = list(iter_windows(path, 16000, block_seconds=10.0))
    assert [w.start for w in a] == [w.start for w in b] == [0.0, 2.3]
    for x, y in zip(a, b, strict=True):
        assert len(x.samples) == len(y.samples) == 160000
        np.testing.assert_array_equal(x.samples, y.samples)
    # the tone is still at 1 kHz after resampling, at its level
    spectrum = np.abs(np.fft.rfft(a[0].samples[16000:32000]))
    assert np.argmax(spectrum) == 1000  # 1 Hz bins over one second
    assert float(np.sqrt(np.mean(a[0].samples[1000:-1000] ** 2))) == pytest.approx(
        0.5 / math.sqrt(2), rel=0.01)


def test_windows_stop_at_max_seconds_and_short_files_are_one_window(tmp_path: Path) -> None:
    rate = 16000
    path = _write(tmp_path / "a.wav", np.ones(int(25 * rate), np.float32), rate)
    assert planned_windows(path, rate, max_seconds=12.0) == [(0, 160000), (32000, 160000)]
    assert [w.start for w in iter_windows(path, rate, max_seconds=12.0)] == [0.0, 2.0]
    short = _write(tmp_path / "b.wav", np.ones(int(3.5 * rate), np.float32), rate)
    (only,) = list(iter_windows(short, 32000))
    assert only.start == 0.0 and abs(len(only.samples) - 112000) <= 2


def test_remove_dc() -> None:
    x = np.full(100, 0.25, np.float32) + np.sin(np.arange(100) * 2 * np.pi / 10).astype(np.float32)
    assert abs(float(remove_dc(x).mean())) < 1e-7 and remove_dc(x).dtype == np.float32


def test_frames_are_grouped_per_window_in_one_pass() -> None:
    spans = frame_spans([(0.0, 10.0), (10.0, 10.0), (13.5, 10.0)], 0.5)
    assert spans == [(0, 5), (5, 5), (7, 5)]
    prepared: list[int] = []

    def prepare(i: int) -> int:
        prepared.append(i)
        return 10 * i

    groups = list(group_frames(iter(range(12)), spans, prepare))
    assert groups == [(0, [0, 10, 20, 30, 40]), (1, [50, 60, 70, 80, 90]),
                      (2, [70, 80, 90, 100, 110])]
    assert prepared == list(range(12))  # each frame prepared once, though two windows share it
    # a video that ends early gives the last window the frames it has
    assert list(group_frames(iter(range(9)), spans, lambda i: i))[-1] == (2, [7, 8])


# --- the feature cache ------------------------------------------------------------------------


def test_features_are_cached_by_content_and_a_damaged_entry_is_recomputed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.ENV_CACHE, str(tmp_path / "cache"))
    calls: list[int] = []

    def compute() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"x": np.arange(6, dtype=np.float32).reshape(2, 3)}

    first = cached("m", {"file": "abc", "weights": "w1"}, compute)
    again = cached("m", {"file": "abc", "weights": "w1"}, compute)
    assert len(calls) == 1
    np.testing.assert_array_equal(first["x"], again["x"])
    cached("m", {"file": "abc", "weights": "w2"}, compute)  # other weights: another entry
    assert len(calls) == 2
    (entry, _) = sorted((tmp_path / "cache" / "m").glob("*.npz"))
    entry.write_bytes(b"not an npz")
    for damaged in (tmp_path / "cache" / "m").glob("*.npz"):
        damaged.write_bytes(b"broken")
    cached("m", {"file": "abc", "weights": "w1"}, compute)
    assert len(calls) == 3


def test_the_file_digest_is_the_content_not_the_name(tmp_path: Path) -> None:
    a = tmp_path / "a.bin"
    b = tmp_path / "b.bin"
    a.write_bytes(b"same bytes")
    b.write_bytes(b"same bytes")
    assert settings.file_digest(a) == settings.file_digest(b)
    b.write_bytes(b"other bytes")
    assert settings.file_digest(a) != settings.file_digest(b)


# --- front ends --------------------------------------------------------------------------------


def test_kaldi_mel_banks_are_triangles_on_the_mel_scale() -> None:
    from lvas.tools.evaluation.models.frontends import kaldi_mel_banks

    banks = kaldi_mel_banks(128, 1024, 32000, 0.0, 15000.0).numpy()
    assert banks.shape == (128, 512)
    assert banks.min() >= 0.0 and banks.max() <= 1.0
    peaks = banks.argmax(axis=1) * 32000 / 1024
    mel = 1127 * np.log(1 + peaks / 700)
    step = 1127 * np.log(1 + 15000 / 700) / 129
    np.testing.assert_allclose(mel, step * np.arange(1, 129), atol=step)  # evenly spaced
    assert np.all(banks[:, int(15000 * 1024 / 32000) + 1:] == 0)  # nothing above 15 kHz


def test_kaldi_fbank_and_mel_spectrogram_put_a_tone_in_its_band() -> None:
    import torch

    from lvas.tools.evaluation.models.frontends import (
        htk_mel_filters,
        htk_mel_spectrogram,
        kaldi_fbank,
        kaldi_mel_banks,
    )

    rate = 16000
    tone = torch.sin(2 * math.pi * 1000 * torch.arange(32000) / rate)
    fbank = kaldi_fbank(tone, rate, 128)
    assert fbank.shape == (198, 128)  # 1 + (32000 - 400) // 160 frames
    band = int(kaldi_mel_banks(128, 512, rate, 20.0, 0.0)[:, 32].argmax())  # 1 kHz = bin 32
    assert int(fbank.mean(dim=0).argmax()) == band
    mel = htk_mel_spectrogram(tone[:10240][None], rate, 1024, 400, 160, 128)
    assert mel.shape == (1, 128, 65)
    assert int(mel[0].mean(dim=1).argmax()) == int(htk_mel_filters(513, rate, 128)[64].argmax())


# --- the registry entries ----------------------------------------------------------------------


def test_names_and_aliases_are_unique_and_apart_from_the_weight_free_ones() -> None:
    from lvas.tools.evaluation.registry import METRICS, _key

    keys = [_key(n) for m in (*METRICS, *MODEL_METRICS) for n in (m.name, *m.aliases)]
    assert len(keys) == len(set(keys))
    assert {m.name for m in MODEL_METRICS} == {
        "fd-vggish", "fd-panns", "fd-passt", "kl-panns", "kl-passt", "is-panns", "is-passt",
        "imagebind", "desync", "clap"}
    assert all(m.family == "model" and m.keys and m.compute_set for m in MODEL_METRICS)


@pytest.mark.parametrize(("name", "expected"), [
    ("FD", ["fd-vggish", "fd-panns", "fd-passt"]),
    ("fréchet distance", ["fd-vggish", "fd-panns", "fd-passt"]),
    ("KL", ["kl-panns", "kl-passt"]),
    ("mkl", ["kl-panns", "kl-passt"]),
    ("IS", ["is-panns", "is-passt"]),
    ("FAD", ["fd-vggish"]),
    ("FD_PaSST", ["fd-passt"]),
    ("FD-PANN", ["fd-panns"]),
    ("KL_PANNs", ["kl-panns"]),
    ("IS_PaSST", ["is-passt"]),
    ("IB-score", ["imagebind"]),
    ("ImageBind score", ["imagebind"]),
    ("DeSync", ["desync"]),
    ("av offset", ["desync"]),
    ("CLAP score", ["clap"]),
    ("FID", []),
    ("WER", []),
])
def test_expand_family(name: str, expected: list[str]) -> None:
    assert [m.name for m in expand_family(name)] == expected


def test_model_metric_inputs() -> None:
    by = {m.name: m for m in MODEL_METRICS}
    assert all(by[n].needs_reference for n in ("fd-vggish", "fd-panns", "fd-passt",
                                              "kl-panns", "kl-passt"))
    assert not by["is-panns"].needs_reference
    assert by["imagebind"].needs_picture and by["desync"].needs_picture
    assert by["clap"].needs_text
    assert get_model_metric("IS_PANNs") is by["is-panns"]


def test_availability_says_which_weights_to_get_and_where(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.ENV_WEIGHTS, str(tmp_path))
    monkeypatch.delenv(settings.ENV_DOWNLOAD, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))  # no CLAP in the hub's cache
    by = {m.name: m for m in MODEL_METRICS}
    for name, filename in (("fd-vggish", "vggish-10086976.pth"),
                           ("kl-panns", "Cnn14_16k_mAP=0.438.pth"),
                           ("is-passt", "passt-s-f128-p16-s10-ap.476-swa.pt")):
        reason = by[name].availability()
        assert reason is not None and reason.startswith("needs weights: download https://")
        assert f"{tmp_path}/{filename}" in reason and "LVAS_EVAL_DOWNLOAD=1" in reason
    clap_reason = by["clap"].availability()
    assert clap_reason is not None and "laion/larger_clap_general" in clap_reason
    for picture in ("imagebind", "desync"):  # their packages are not installed here
        reason = by[picture].availability()
        assert reason is not None and reason.startswith("needs package: pip install git+")
    (tmp_path / "vggish-10086976.pth").write_bytes(b"x")
    assert by["fd-vggish"].availability() is None
    monkeypatch.setenv(settings.ENV_DOWNLOAD, "1")
    assert by["fd-panns"].availability() is None  # fetched when first used


def test_missing_weights_raise_with_the_instruction(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lvas.tools.evaluation.metric import MetricInputs

    monkeypatch.setenv(settings.ENV_WEIGHTS, str(tmp_path))
    monkeypatch.delenv(settings.ENV_DOWNLOAD, raising=False)
    track = _write(tmp_path / "a.wav", np.zeros(16000, np.float32), 16000)
    with pytest.raises(settings.WeightsMissing, match="needs weights: download"):
        get_model_metric("fd-panns").compute(MetricInputs(track, reference=[track]))  # type: ignore[union-attr]


def test_metrics_say_which_input_is_missing(tmp_path: Path) -> None:
    from lvas.tools.evaluation.metric import MetricInputs

    track = tmp_path / "a.wav"
    for name, what in (("fd-passt", "reference"), ("kl-panns", "reference"),
                       ("imagebind", "video"), ("desync", "video"), ("clap", "text")):
        with pytest.raises(ValueError, match=f"needs the item's {what}"):
            get_model_metric(name).compute(MetricInputs(track))  # type: ignore[union-attr]


def test_importing_the_model_metrics_imports_no_model_package() -> None:
    code = ("import sys, lvas.tools.evaluation.models as m; "
            "print(sorted(x for x in ('torch', 'transformers', 'torchvggish', 'panns_hear', "
            "'librosa', 'soxr') if x in sys.modules), len(m.MODEL_METRICS))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[] 10"
