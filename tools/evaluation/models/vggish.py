"""VGGish embeddings for FD_VGG, as av-benchmark takes them.

torchvggish's network (``torchvggish`` on PyPI) without its final ReLU and without the PCA
post-processing (av-benchmark follows audioldm_eval there), on 16 kHz audio: each window, its
mean removed, becomes non-overlapping 0.96 s log-mel examples (torchvggish's own
``waveform_to_examples``: 25 ms periodic-Hann frames every 10 ms, 64 mel bands 125–7500 Hz,
``log(mel + 0.01)``, an incomplete last example dropped), one 128-d embedding each. A 10 s
window gives 10 examples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from lvas.tools.evaluation.models import settings
from lvas.tools.evaluation.models.cache import Features
from lvas.tools.evaluation.models.windows import remove_dc

SAMPLE_RATE = 16000
DIM = 128
PACKAGES = ("torchvggish", "resampy", "soxr")


def build_vggish() -> Any:
    """torchvggish's VGG with random weights, its embedding head ending on the last Linear."""
    import torch.nn as nn
    from torchvggish.torchvggish import VGG, make_layers

    model = VGG(make_layers(), postprocess=False)
    # av-benchmark drops the head's final ReLU; slicing keeps the layers' names (0, 2, 4)
    model.embeddings = nn.Sequential(*list(model.embeddings.children())[:-1])
    return model.eval()


def load_vggish(path: str) -> Any:
    """VGGish with the weights torchvggish publishes (``vggish-10086976.pth``)."""
    import torch

    model = build_vggish()
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()


@dataclass
class VGGish:
    """The FD_VGG extractor: one 128-d row per 0.96 s example."""

    model: Any
    identity: str
    device: str = "cpu"
    kind: str = "vggish"
    sample_rate: int = SAMPLE_RATE
    version: int = 1
    dims: dict[str, tuple[int, ...]] = field(default_factory=lambda: {"embedding": (DIM,)})

    def __post_init__(self) -> None:
        self.model = self.model.to(self.device).eval()

    def window_features(self, samples: np.ndarray) -> Features:
        import torch
        from torchvggish.vggish_input import waveform_to_examples

        examples = waveform_to_examples(remove_dc(samples), SAMPLE_RATE, return_tensor=True)
        if examples.shape[0] == 0:
            return {"embedding": np.zeros((0, DIM), dtype=np.float32)}
        with torch.inference_mode():
            out = self.model(examples.float().to(self.device))
        return {"embedding": out.float().cpu().numpy()}


def availability() -> str | None:
    return (settings.package_status(("torch", *PACKAGES))
            or settings.weights_status(settings.WEIGHTS["vggish"]))


@cache
def _loaded(source: str, device: str) -> VGGish:
    return VGGish(load_vggish(source), settings.weights_identity(source), device)


def extractor() -> VGGish:
    """The extractor with the real weights (resolved, loaded once per process)."""
    return _loaded(settings.resolve_weights(settings.WEIGHTS["vggish"]), settings.device())
