"""DeSync: the audio–video offset Synchformer predicts, in seconds (lower is better).

The model is Synchformer (the AudioSet model ``24-01-04T16-39-21``, weights
``synchformer_state_dict.pth``) as av-benchmark packages it: its audio branch, its comparison
transformer and its 21 offset classes exist only there (MMAudio ships the visual branch
alone), so the model comes from the ``av_bench`` package. Inputs are made here, as
av-benchmark makes them, for each 10 s window of the soundtrack and of the video:

- **audio** (16 kHz, no mean removal): 10 240-sample segments every 5 120 samples (0.64 s every
  0.32 s); each a power mel spectrogram (n_fft 1024, 400-sample periodic Hann window, hop 160,
  128 HTK bands, centred), ``ln(x + 1e-6)``, zero-padded to 66 frames, normalised
  ``(x + 4.2677393) / (2 · 4.5689974)``;
- **video**: frames at 25 fps (``int(25·L)``), the shorter side resized to 224 (bicubic) and the
  centre 224×224 cut, scaled to −1…1; 16-frame segments every 8 frames (the same 0.64 s every
  0.32 s);
- the first 14 segments (4.8 s) and the last 14 of the window are each compared: the class of
  highest logit on the grid −2, −1.8, …, 2 s is the predicted offset; the window's DeSync is
  the mean of the two absolute offsets, the item's the mean over its windows.

A window with fewer than 14 segments (under 4.8 s) is not scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from lvas.tools.evaluation.models import settings
from lvas.tools.evaluation.models.frontends import htk_mel_spectrogram

SAMPLE_RATE = 16000
FPS = 25.0
SEGMENT_SAMPLES, SEGMENT_HOP = 10240, 5120
SEGMENT_FRAMES, FRAME_HOP = 16, 8
SPAN = 14
N_MELS, N_FFT, WIN, HOP, MEL_FRAMES = 128, 1024, 400, 160, 66
MEL_MEAN, MEL_STD = -4.2677393, 4.5689974
OFFSETS = np.linspace(-2.0, 2.0, 21).astype(np.float32)
BATCH = 4  # video segments per forward pass
HOW = ("pip install git+https://github.com/hkchengrex/av-benchmark (Synchformer's audio "
       "branch ships only there; it needs torchvision and torchaudio built for the "
       "installed torch, and a transformers 4.x: 4.46 imports it, 5.x does not)")


def segment_count(samples: int, frames: int) -> int:
    """Segments both sides of a window have (audio of ``samples``, video of ``frames``)."""
    audio = (samples - SEGMENT_SAMPLES) // SEGMENT_HOP + 1 if samples >= SEGMENT_SAMPLES else 0
    video = (frames - SEGMENT_FRAMES) // FRAME_HOP + 1 if frames >= SEGMENT_FRAMES else 0
    return max(min(audio, video), 0)


def scored_segments(count: int) -> list[int]:
    """Indices of the first and the last 14 segments of a window (empty under 14)."""
    if count < SPAN:
        return []
    return sorted(set(range(SPAN)) | set(range(count - SPAN, count)))


def audio_input(samples: np.ndarray, segments: list[int]) -> Any:
    """``(1, len(segments), 1, 128, 66)`` normalised log-mel segments of a window."""
    import torch

    wav = torch.from_numpy(np.asarray(samples, dtype=np.float32))
    x = torch.stack([wav[s * SEGMENT_HOP:s * SEGMENT_HOP + SEGMENT_SAMPLES] for s in segments])
    mel = htk_mel_spectrogram(x, SAMPLE_RATE, N_FFT, WIN, HOP, N_MELS)
    mel = torch.log(mel + 1e-6)
    pad = MEL_FRAMES - mel.shape[-1]
    mel = torch.nn.functional.pad(mel, (0, pad)) if pad > 0 else mel[..., :MEL_FRAMES]
    return ((mel - MEL_MEAN) / (2 * MEL_STD))[None, :, None]


def video_segments(frames: Any, segments: list[int]) -> Any:
    """``(n, 16, 3, 224, 224)`` float segments of stacked 224×224 uint8 frames ``(F, 3, 224,
    224)``, scaled to −1…1."""
    import torch

    index = torch.tensor([[s * FRAME_HOP + j for j in range(SEGMENT_FRAMES)] for s in segments])
    return frames[index].float().div_(255.0).sub_(0.5).div_(0.5)


def load_synchformer(path: str) -> Any:
    """av-benchmark's Synchformer with the given weights."""
    import torch
    from av_bench.synchformer.synchformer import Synchformer

    model = Synchformer()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


@dataclass
class Sync:
    """Synchformer features of a window's segments and the offsets it predicts; ``model`` has
    av-benchmark's ``extract_afeats``, ``extract_vfeats`` and ``compare_v_a``."""

    model: Any
    identity: str
    device: str = "cpu"
    kind: str = "synchformer"
    version: int = 1

    def __post_init__(self) -> None:
        self.model = self.model.to(self.device).eval()

    def audio_features(self, samples: np.ndarray, segments: list[int]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = self.model.extract_afeats(audio_input(samples, segments).to(self.device))
        return np.asarray(out[0].float().cpu().numpy())

    def video_features(self, frames: list[Any], segments: list[int]) -> np.ndarray:
        import torch

        stacked = torch.stack(frames)
        parts = []
        with torch.inference_mode():
            for i in range(0, len(segments), BATCH):
                x = video_segments(stacked, segments[i:i + BATCH])
                out = self.model.extract_vfeats(x[:, None].to(self.device))  # (n, 1, tv, D)
                parts.append(out[:, 0].float().cpu().numpy())
        return np.concatenate(parts)

    def offsets(self, video: np.ndarray, audio: np.ndarray, segments: list[int],
                ) -> list[float]:
        """Predicted offsets (s) of the first and the last 14 of a window's segments, given
        their features in the order of ``segments``."""
        import torch

        count = segments[-1] + 1
        first = [segments.index(s) for s in range(SPAN)]
        last = [segments.index(s) for s in range(count - SPAN, count)]
        out = []
        with torch.inference_mode():
            for rows in (first, last):
                v = torch.from_numpy(video[rows])[None].to(self.device)
                a = torch.from_numpy(audio[rows])[None].to(self.device)
                logits = self.model.compare_v_a(v, a)
                out.append(float(OFFSETS[int(torch.argmax(logits, dim=-1)[0])]))
        return out


def _transformers_status() -> str | None:
    """av-benchmark's Synchformer imports transformers 4.x APIs that 5.x removed: say so here
    rather than report the metric as runnable and fail when it runs."""
    from importlib import metadata

    try:
        major = int(metadata.version("transformers").split(".")[0])
    except (metadata.PackageNotFoundError, ValueError):
        return None
    if major < 5:
        return None
    installed = metadata.version("transformers")
    return f"needs package: transformers 4.x beside av-benchmark ({installed} is installed): {HOW}"


def availability() -> str | None:
    return (settings.package_status(("torch", "soxr"))
            or settings.package_status(("av_bench",), HOW)
            or _transformers_status()
            or settings.weights_status(settings.WEIGHTS["synchformer"]))


@cache
def _loaded(source: str, device: str) -> Sync:
    return Sync(load_synchformer(source), settings.weights_identity(source), device)


def extractor() -> Sync:
    """The model with the real weights (resolved, loaded once per process)."""
    return _loaded(settings.resolve_weights(settings.WEIGHTS["synchformer"]), settings.device())
