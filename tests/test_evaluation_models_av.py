"""The audio-visual model metrics (ImageBind score, DeSync) on real decoded video.

Their models come from packages that cannot be installed here (ImageBind; av-benchmark's
Synchformer), so each is replaced at the model boundary by a small stand-in with the same
interface: what is tested is LVAS's side — decoding, resizing and cropping, the audio front
ends, the 10 s windows and their pairing with frames, the segment spans, the offset grid and
the aggregation. The DeSync stand-in is a crude synchrony detector (audio loudness against
picture brightness, per segment), so a soundtrack shifted by a known amount must come out
with that offset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from lvas.tools.common.ffmpeg import run_ffmpeg
from lvas.tools.evaluation.metric import MetricInputs
from lvas.tools.evaluation.models import catalog, get_model_metric, settings

torch = pytest.importorskip("torch")
nn = torch.nn

SECONDS = 12.0
FLASHES = (0.6, 1.7, 3.3, 4.1, 5.5, 6.2, 7.9, 8.6, 10.1, 11.0)  # irregular, 0.3 s each


@pytest.fixture(scope="module")
def flash_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "flash.mp4"
    on = "+".join(f"between(t,{t},{t + 0.3 - 0.001})" for t in FLASHES)
    run_ffmpeg(["-y", "-f", "lavfi", "-i", f"color=c=black:s=160x120:r=25:d={SECONDS}",
                "-vf", f"drawbox=x=0:y=0:w=iw:h=ih:c=white:t=fill:enable='{on}'",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)])
    return path


def _bursts(path: Path, shift: float, rate: int = 22050) -> Path:
    rng = np.random.default_rng(5)
    audio = 0.003 * rng.standard_normal(int(SECONDS * rate))
    for t in FLASHES:
        i = int(round((t + shift) * rate))
        n = int(0.3 * rate)
        if 0 <= i < len(audio) - n:
            audio[i:i + n] += 0.4 * rng.standard_normal(n)
    sf.write(path, audio.astype(np.float32), rate, subtype="FLOAT")
    return path


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.ENV_CACHE, str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A feature cache the DeSync tests share, so the video is analysed once."""
    return tmp_path_factory.mktemp("sync-cache")


# --- frames -----------------------------------------------------------------------------------


def test_frames_are_decoded_at_the_models_rates_and_resized(flash_video: Path) -> None:
    from lvas.tools.evaluation.models.frames import center_crop, iter_rgb_frames, resize_short_side

    frames = list(iter_rgb_frames(flash_video, 25.0))
    assert len(frames) == pytest.approx(SECONDS * 25, abs=1)
    assert frames[0].shape == (120, 160, 3) and frames[0].dtype == np.uint8
    lit = [i for i, f in enumerate(frames) if f.mean() > 128]
    assert lit[0] == round(FLASHES[0] * 25)
    assert len(list(iter_rgb_frames(flash_video, 0.5))) == pytest.approx(SECONDS / 2, abs=1)
    big = resize_short_side(frames[lit[0]])
    assert tuple(big.shape) == (3, 224, 298) and big.dtype == torch.uint8  # 224·160/120
    assert tuple(center_crop(big).shape) == (3, 224, 224)
    assert int(big.float().mean()) >= 250


# --- ImageBind --------------------------------------------------------------------------------


class ImageBindStandIn(nn.Module):
    """ImageBind's interface: {"audio" | "vision": clips} to embeddings averaged over clips."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(7)
        self.audio = nn.Linear(128, 16)
        self.vision = nn.Linear(3, 16)
        self.shapes: list[tuple[str, tuple[int, ...]]] = []

    def forward(self, inputs: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for modality, x in inputs.items():
            self.shapes.append((modality, tuple(x.shape)))
            if modality == "audio":  # (B, clips, 1, 128, 204)
                out[modality] = self.audio(x.mean(dim=-1)[:, :, 0]).mean(dim=1)
            else:  # (B, clips, 3, 2, 224, 224)
                out[modality] = self.vision(x.mean(dim=(3, 4, 5))).mean(dim=1)
        return out


def test_imagebind_inputs_as_av_benchmark_makes_them() -> None:
    from lvas.tools.evaluation.models.imagebind import audio_input, clip_bounds, video_input

    # pytorchvideo's constant sampler: starts k·(L − 2)/3, so a 10 s window's clips start at
    # 0, 8/3 and 16/3 s
    assert clip_bounds(160000) == [(0, 32000), (42666, 74666), (85333, 117333)]
    assert clip_bounds(48000) == [(0, 32000), (5333, 37333), (10666, 42666)]
    assert clip_bounds(24000) == [(0, 32000)] * 3  # shorter than a clip: all of it, thrice
    x = audio_input(np.random.default_rng(0).standard_normal(160000).astype(np.float32))
    assert tuple(x.shape) == (1, 3, 1, 128, 204)
    assert float(x[0, 0, 0, :, 198:].abs().max() - abs(4.268 / 9.138)) < 1e-5  # zero padding
    frame = torch.zeros(3, 224, 298, dtype=torch.uint8)
    frame[:, :, :10] = 255  # a bright strip on the left edge
    v = video_input([frame] * 5)
    assert tuple(v.shape) == (1, 12, 3, 2, 224, 224)  # 4 frame pairs × 3 crops
    left, centre, right = v[0, 0], v[0, 1], v[0, 2]
    assert float(left[:, :, :, :10].mean()) > 1.5 > float(centre.max()) and float(
        right[:, :, :, :10].mean()) < 0  # the strip is in the left crop only
    assert video_input([frame]) is None


def test_imagebind_score_through_the_registry(
        tmp_path: Path, flash_video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lvas.tools.evaluation.models import scores
    from lvas.tools.evaluation.models.imagebind import ImageBind, audio_input

    standin = ImageBindStandIn()
    model = ImageBind(standin, "stand-in")
    monkeypatch.setitem(catalog.EXTRACTORS, "imagebind", lambda: model)
    metric = get_model_metric("IB-score")
    assert metric is not None
    track = _bursts(tmp_path / "a.wav", 0.0)
    result = metric.compute(MetricInputs(track, video=flash_video))["ib_score"]
    # two 10 s windows (0 s, and 2 s ending at the end); each side embedded once per window
    assert [s for s in standin.shapes if s[0] == "audio"] == [("audio", (1, 3, 1, 128, 204))] * 2
    assert [s for s in standin.shapes if s[0] == "vision"] == [
        ("vision", (1, 12, 3, 2, 224, 224))] * 2
    windows = scores.imagebind_cosines(model, track, flash_video)
    assert len(windows) == 2 and result == pytest.approx(float(windows.mean()))
    assert -1.0 <= result <= 1.0
    # the first window's audio embedding is the model's on that window's input
    samples = sf.read(track, dtype="float32")[0]
    from lvas.tools.evaluation.models.windows import iter_windows

    first = next(iter_windows(track, 16000)).samples
    assert len(samples) > len(first)
    with torch.inference_mode():
        direct = standin({"audio": audio_input(first)})["audio"][0].numpy()
    cached = scores.imagebind_audio(model, track, SECONDS)["audio"][0]
    np.testing.assert_allclose(cached, direct, rtol=1e-5, atol=1e-6)
    calls = len(standin.shapes)
    metric.compute(MetricInputs(track, video=flash_video))
    assert len(standin.shapes) == calls  # both sides came from the feature cache


# --- DeSync -----------------------------------------------------------------------------------


class SynchformerStandIn(nn.Module):
    """av-benchmark's Synchformer interface; per segment, the audio feature is its mean
    log-mel level and the video feature its mean brightness, and the offset class is the lag
    (in 0.32 s segments) at which the two sequences correlate best."""

    def __init__(self) -> None:
        super().__init__()
        self.grid = torch.linspace(-2.0, 2.0, 21)
        self.audio_segments: list[int] = []
        self.video_segments: list[int] = []

    def extract_afeats(self, x: Any) -> Any:  # (B, S, 1, 128, 66) -> (B, S, 1, 1)
        assert tuple(x.shape[2:]) == (1, 128, 66)
        self.audio_segments.append(int(x.shape[1]))
        return x.mean(dim=(2, 3, 4))[..., None, None]

    def extract_vfeats(self, x: Any) -> Any:  # (B, S, 16, 3, 224, 224) -> (B, S, 1, 1)
        assert tuple(x.shape[2:]) == (16, 3, 224, 224)
        self.video_segments.append(int(x.shape[0] * x.shape[1]))
        return x.mean(dim=(2, 3, 4, 5))[..., None, None]

    def compare_v_a(self, vis: Any, aud: Any) -> Any:  # (B, 14, 1, 1) each -> (B, 21)
        v, a = vis.flatten(1), aud.flatten(1)
        n = v.shape[1]
        logits = []
        for offset in self.grid:  # the audio late by k segments: a[t] goes with v[t - k]
            k = int(torch.round(offset / 0.32))
            x, y = (a[:, k:], v[:, : n - k]) if k >= 0 else (a[:, : n + k], v[:, -k:])
            x = (x - x.mean(dim=1, keepdim=True)) / (x.std(dim=1, keepdim=True) + 1e-6)
            y = (y - y.mean(dim=1, keepdim=True)) / (y.std(dim=1, keepdim=True) + 1e-6)
            logits.append((x * y).mean(dim=1))
        return torch.stack(logits, dim=1)


def test_desync_segments_and_spans() -> None:
    from lvas.tools.evaluation.models.desync import (
        OFFSETS,
        audio_input,
        scored_segments,
        segment_count,
    )

    assert segment_count(160000, 250) == 30  # a 10 s window
    assert segment_count(76800, 120) == 14  # 4.8 s: one span
    assert segment_count(70000, 250) == 12 and scored_segments(12) == []
    assert scored_segments(30) == [*range(14), *range(16, 30)]
    assert scored_segments(14) == list(range(14))
    x = audio_input(np.zeros(160000, np.float32), [0, 29])
    assert tuple(x.shape) == (1, 2, 1, 128, 66)
    assert float(x[0, 0, 0, 0, 65]) == pytest.approx(4.2677393 / (2 * 4.5689974))  # padding
    assert OFFSETS[0] == -2.0 and OFFSETS[10] == 0.0 and OFFSETS[-1] == 2.0


@pytest.mark.parametrize("shift", [0.0, 0.96])
def test_desync_measures_a_shifted_soundtrack(
        tmp_path: Path, flash_video: Path, monkeypatch: pytest.MonkeyPatch, shift: float,
        shared_cache: Path) -> None:
    from lvas.tools.evaluation.models import scores
    from lvas.tools.evaluation.models.desync import Sync

    monkeypatch.setenv(settings.ENV_CACHE, str(shared_cache))
    standin = SynchformerStandIn()
    model = Sync(standin, "stand-in")
    monkeypatch.setitem(catalog.EXTRACTORS, "synchformer", lambda: model)
    track = _bursts(tmp_path / "a.wav", shift)
    metric = get_model_metric("DeSync")
    assert metric is not None
    value = metric.compute(MetricInputs(track, video=flash_video))["desync_s"]
    # windows at 0 s and 2 s: 28 scored segments each (first 14 and last 14 of 30)
    assert standin.audio_segments == [28, 28]
    assert sum(standin.video_segments) in (0, 56)  # 0: the video's features were cached
    offsets = scores.desync_offsets(model, track, flash_video)
    assert len(offsets) == 4  # two spans per window
    assert value == pytest.approx(float(offsets.mean()))
    expected = 1.0 if shift else 0.0  # 0.96 s is 3 segments: the grid's 1.0 s
    np.testing.assert_allclose(offsets, expected, atol=1e-6)


def test_desync_set_pools_spans_and_reuses_the_videos_features(
        tmp_path: Path, flash_video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lvas.tools.evaluation.models.desync import Sync

    standin = SynchformerStandIn()
    monkeypatch.setitem(catalog.EXTRACTORS, "synchformer", lambda: Sync(standin, "stand-in"))
    items = [MetricInputs(_bursts(tmp_path / f"{s}.wav", s), video=flash_video)
             for s in (0.0, 0.96)]
    metric = get_model_metric("desync")
    assert metric is not None and metric.compute_set is not None
    assert metric.compute_set(items)["desync_s"] == pytest.approx(0.5)
    assert sum(standin.video_segments) == 56  # the video once, for both soundtracks


def test_desync_is_not_reported_runnable_beside_transformers_5(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    from lvas.tools.evaluation.models import desync, settings

    monkeypatch.setattr(settings, "_findable", lambda module: True)  # av_bench "installed"
    monkeypatch.setattr(metadata, "version", lambda name: "5.1.0")
    assert "transformers 4.x" in (desync.availability() or "")
    monkeypatch.setattr(metadata, "version", lambda name: "4.46.3")
    assert "transformers" not in (desync.availability() or "")
