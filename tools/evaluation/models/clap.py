"""LAION-CLAP text–audio score, as av-benchmark's LAION_CLAP column.

av-benchmark scores with laion_clap's HTSAT-base model and the
``music_speech_audioset_epoch_15_esc_89.98.pt`` checkpoint; transformers ships the same model,
converted, as ``laion/larger_clap_general``, and transformers is already a dependency of LVAS
(the ``laion-clap`` package pins numpy below 2 and fetches RoBERTa from the hub when it is
built), so the score runs through transformers' ``ClapModel``. Preprocessing as laion_clap's
``get_audio_embedding_from_data`` without quantisation (av-benchmark passes tensors): 48 kHz,
each window's mean removed, repeated and zero-padded to 10 s ("repeatpad"; no window is
longer, so laion's random crop never applies), the log-mel computed by ``ClapFeatureExtractor``
with HTSAT-base's settings whatever the model folder's processor says ("rand_trunc" path: 64
Slaney mel bands 50–14 000 Hz, 1024/480 STFT, dB); the text tokenised to at most 77 tokens.
The score is the cosine of the audio and text embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from lvas.tools.evaluation.models import settings
from lvas.tools.evaluation.models.cache import Features
from lvas.tools.evaluation.models.windows import remove_dc

SAMPLE_RATE = 48000
MAX_TEXT_TOKENS = 77
HTSAT_FRONT_END: dict[str, Any] = {
    "feature_size": 64, "sampling_rate": SAMPLE_RATE, "hop_length": 480, "fft_window_size": 1024,
    "frequency_min": 50, "frequency_max": 14000, "max_length_s": 10}
PACKAGES = ("transformers", "soxr")


def _pooled(out: Any) -> Any:
    """transformers 4 returns the projected embedding, 5 an output holding it."""
    import torch

    return out if isinstance(out, torch.Tensor) else out.pooler_output


@dataclass
class Clap:
    """The CLAP audio extractor (one row per window) and text embedder."""

    model: Any
    processor: Any
    identity: str
    device: str = "cpu"
    kind: str = "clap"
    sample_rate: int = SAMPLE_RATE
    version: int = 1
    dims: dict[str, tuple[int, ...]] = field(default_factory=dict)
    extractor: Any = None

    def __post_init__(self) -> None:
        from transformers import ClapFeatureExtractor

        self.model = self.model.to(self.device).eval()
        self.dims = {"audio": (int(self.model.config.projection_dim),)}
        # laion_clap's HTSAT-base front end, whatever the folder's processor config says
        self.extractor = ClapFeatureExtractor(**HTSAT_FRONT_END)

    def window_features(self, samples: np.ndarray) -> Features:
        import torch

        inputs = self.extractor([remove_dc(samples)], sampling_rate=SAMPLE_RATE,
                                return_tensors="pt", truncation="rand_trunc",
                                padding="repeatpad")
        with torch.inference_mode():
            out = self.model.get_audio_features(
                input_features=inputs["input_features"].to(self.device),
                is_longer=inputs["is_longer"].to(self.device) if "is_longer" in inputs else None)
        return {"audio": _pooled(out).float().cpu().numpy()}

    def text_embedding(self, text: str) -> np.ndarray:
        import torch

        tokens = self.processor.tokenizer([text], padding="max_length", truncation=True,
                                          max_length=MAX_TEXT_TOKENS, return_tensors="pt")
        with torch.inference_mode():
            out = self.model.get_text_features(
                input_ids=tokens["input_ids"].to(self.device),
                attention_mask=tokens["attention_mask"].to(self.device))
        return np.asarray(_pooled(out).float().cpu().numpy()[0])


def load_clap(source: str) -> tuple[Any, Any]:
    """The model and processor from a folder or, where allowed, the hub."""
    from transformers import ClapModel, ClapProcessor

    offline = not settings.download_allowed()
    processor = ClapProcessor.from_pretrained(source, local_files_only=offline)
    model = ClapModel.from_pretrained(source, local_files_only=offline)
    return model, processor


def availability() -> str | None:
    return (settings.package_status(("torch", *PACKAGES))
            or settings.weights_status(settings.WEIGHTS["clap"]))


@cache
def _loaded(source: str, device: str) -> Clap:
    model, processor = load_clap(source)
    return Clap(model, processor, settings.weights_identity(source), device)


def extractor() -> Clap:
    """The extractor with the real weights (resolved, loaded once per process)."""
    return _loaded(settings.resolve_weights(settings.WEIGHTS["clap"]), settings.device())
