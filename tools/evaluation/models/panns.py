"""PANNs Cnn14 (16 kHz) embeddings and class logits, for FD_PANNs, KL_PANNs and IS_PANNs.

The network is PANNs' Cnn14 as its authors package it for HEAR (``panns-hear`` on PyPI; the
``panns-inference`` package downloads a label list when imported, so it cannot be used
offline), configured as av-benchmark does: 16 kHz, 512-sample Hann window, hop 160, 64 mel
bands 50–8000 Hz, 527 AudioSet classes. Each window, its mean removed, is one clip: the
2048-d ``embedding`` (ReLU of ``fc1``; av-benchmark's "2048") and the 527 pre-sigmoid
``logits`` (``fc_audioset`` of it; av-benchmark's "logits").
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from lvas.tools.evaluation.models import settings
from lvas.tools.evaluation.models.cache import Features
from lvas.tools.evaluation.models.windows import remove_dc

SAMPLE_RATE = 16000
CONFIG = {"sample_rate": 16000, "window_size": 512, "hop_size": 160, "mel_bins": 64,
          "fmin": 50, "fmax": 8000, "classes_num": 527}
PACKAGES = ("panns_hear", "torchlibrosa", "librosa", "soxr")


def build_cnn14() -> Any:
    """Cnn14 with av-benchmark's 16 kHz configuration and random weights."""
    from panns_hear.models import Cnn14

    return Cnn14(**CONFIG).eval()


def load_cnn14(path: str) -> Any:
    """Cnn14 with the authors' 16 kHz checkpoint (``Cnn14_16k_mAP=0.438.pth``)."""
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # The authors' file also holds their training sampler's NumPy state, which the safe
        # loader refuses; it is the file named in the docs, placed there by the user.
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    model = build_cnn14()
    model.load_state_dict(checkpoint.get("model", checkpoint))
    return model.eval()


@dataclass
class Panns:
    """The PANNs extractor: one row per window."""

    model: Any
    identity: str
    device: str = "cpu"
    kind: str = "panns"
    sample_rate: int = SAMPLE_RATE
    version: int = 1
    dims: dict[str, tuple[int, ...]] = field(
        default_factory=lambda: {"embedding": (2048,), "logits": (527,)})

    def __post_init__(self) -> None:
        self.model = self.model.to(self.device).eval()

    def window_features(self, samples: np.ndarray) -> Features:
        import torch

        x = torch.from_numpy(remove_dc(samples))[None].to(self.device)
        with torch.inference_mode():
            embedding = self.model(x)["embedding"]
            logits = self.model.fc_audioset(embedding)
        return {"embedding": embedding.float().cpu().numpy(),
                "logits": logits.float().cpu().numpy()}


def availability() -> str | None:
    return (settings.package_status(("torch", *PACKAGES))
            or settings.weights_status(settings.WEIGHTS["panns"]))


@cache
def _loaded(source: str, device: str) -> Panns:
    return Panns(load_cnn14(source), settings.weights_identity(source), device)


def extractor() -> Panns:
    """The extractor with the real weights (resolved, loaded once per process)."""
    return _loaded(settings.resolve_weights(settings.WEIGHTS["panns"]), settings.device())
