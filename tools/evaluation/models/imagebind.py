"""ImageBind score: the cosine of ImageBind's video and audio embeddings (IB-score).

The model is ImageBind-Huge from Meta's ``imagebind`` package (not on PyPI; it needs
torchvision and torchaudio matching torch, as on the GPU machines that run MMAudio), with the
authors' ``imagebind_huge.pth``. The inputs are made here, as av-benchmark makes them, for
each 10 s window of the soundtrack and of the video:

- **audio** (16 kHz): three 2 s clips starting at 0, (L−2)/3 and 2(L−2)/3 s of the window's L
  seconds (pytorchvideo's constant clip sampler: the spacing is a third of the room, so the
  last clip ends before the window does; exact fractions, sample indices truncated);
  each clip's mean removed (in place, as there); a 128-band Kaldi filter bank (25 ms / 10 ms,
  Hann, no dither), zero-padded or cut to 204 frames; normalised ``(x + 4.268) / 9.138``;
  ImageBind averages the three clips' embeddings.
- **video**: frames at 0.5 fps (``int(0.5·L)`` of them, five for 10 s), the shorter side resized
  to 224 (bicubic), scaled to 0–1 and normalised with CLIP's mean and standard deviation;
  three 224×224 crops (left, centre, right; top, centre, bottom for portrait video); every
  pair of consecutive frames is a two-frame clip; ImageBind averages all clips' embeddings.

The window's score is the cosine of the two embeddings; the item's, their mean over windows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import Any

import numpy as np

from lvas.tools.evaluation.models import settings
from lvas.tools.evaluation.models.frontends import kaldi_fbank

SAMPLE_RATE = 16000
FPS = 0.5
CLIP_SECONDS = 2
CLIPS = 3
MEL_BINS, TARGET_FRAMES = 128, 204
MEL_MEAN, MEL_STD = -4.268, 9.138
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
SIZE = 224
HOW = ("pip install git+https://github.com/facebookresearch/ImageBind (it needs torchvision "
       "and torchaudio built for the installed torch)")


def clip_bounds(samples: int, rate: int = SAMPLE_RATE) -> list[tuple[int, int]]:
    """Sample ranges of the three audio clips of a window of ``samples`` samples."""
    duration = samples / rate
    step = Fraction(max(duration - CLIP_SECONDS, 0)) / CLIPS
    return [(int(step * k * rate), int((step * k + CLIP_SECONDS) * rate)) for k in range(CLIPS)]


def audio_input(samples: np.ndarray) -> Any:
    """``(1, 3, 1, 128, 204)`` float tensor of a window's audio (16 kHz mono)."""
    import torch

    wav = torch.from_numpy(np.array(samples, dtype=np.float32))
    clips = []
    for lo, hi in clip_bounds(len(wav)):
        clip = wav[lo:hi]
        # in place, as av-benchmark does: in a window under 8 s the clips overlap and a later
        # clip starts from the earlier clips' shifted samples
        clip -= clip.mean()
        fbank = kaldi_fbank(clip, SAMPLE_RATE, MEL_BINS).T  # (128, frames)
        pad = TARGET_FRAMES - fbank.shape[1]
        fbank = torch.nn.functional.pad(fbank, (0, pad)) if pad > 0 else fbank[:, :TARGET_FRAMES]
        clips.append(((fbank - MEL_MEAN) / MEL_STD)[None])
    return torch.stack(clips)[None]


def _crop(images: Any, index: int) -> Any:
    """One of ImageBind's three square crops of ``(T, C, H, W)`` images."""
    h, w = images.shape[2], images.shape[3]
    y, x = math.ceil((h - SIZE) / 2), math.ceil((w - SIZE) / 2)
    if h > w:
        y = {0: 0, 1: y, 2: h - SIZE}[index]
    else:
        x = {0: 0, 1: x, 2: w - SIZE}[index]
    return images[:, :, y:y + SIZE, x:x + SIZE]


def video_input(frames: list[Any]) -> Any | None:
    """``(1, clips, 3, 2, 224, 224)`` of a window's resized uint8 frames; None under two."""
    import torch

    if len(frames) < 2:
        return None
    x = torch.stack(frames).float() / 255.0  # (T, C, H, W)
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    x = (x - mean) / std
    crops = torch.stack([_crop(x, i) for i in range(3)])  # (3, T, C, S, S)
    pairs = torch.cat([crops[:, i:i + 2] for i in range(len(frames) - 1)])  # (N, 2, C, S, S)
    return pairs.permute(0, 2, 1, 3, 4)[None]  # (1, N, C, 2, S, S)


def load_imagebind(path: str) -> Any:
    """ImageBind-Huge from the ``imagebind`` package with the given weights."""
    import torch
    from imagebind.models import imagebind_model

    model = imagebind_model.imagebind_huge(pretrained=False)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


@dataclass
class ImageBind:
    """Audio and video embeddings of a window; ``model`` maps {"audio"|"vision": tensor} to
    embeddings as ImageBind's forward does."""

    model: Any
    identity: str
    device: str = "cpu"
    kind: str = "imagebind"
    version: int = 1

    def __post_init__(self) -> None:
        self.model = self.model.to(self.device).eval()

    def _embed(self, modality: str, x: Any) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = self.model({modality: x.to(self.device)})[modality]
        return np.asarray(out.float().cpu().numpy()[0])

    def audio_embedding(self, samples: np.ndarray) -> np.ndarray:
        return self._embed("audio", audio_input(samples))

    def video_embedding(self, frames: list[Any]) -> np.ndarray | None:
        x = video_input(frames)
        return None if x is None else self._embed("vision", x)


def availability() -> str | None:
    return (settings.package_status(("torch", "soxr"))
            or settings.package_status(("imagebind",), HOW)
            or settings.weights_status(settings.WEIGHTS["imagebind"]))


@cache
def _loaded(source: str, device: str) -> ImageBind:
    return ImageBind(load_imagebind(source), settings.weights_identity(source), device)


def extractor() -> ImageBind:
    """The model with the real weights (resolved, loaded once per process)."""
    return _loaded(settings.resolve_weights(settings.WEIGHTS["imagebind"]), settings.device())
