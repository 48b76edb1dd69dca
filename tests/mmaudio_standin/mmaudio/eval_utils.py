"""Stand-in for ``mmaudio.eval_utils``: model configs, ``generate`` and the demo helpers."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Optional

import torch

from mmaudio._standin import RECORD
from mmaudio.model.flow_matching import FlowMatching
from mmaudio.model.networks import MMAudio
from mmaudio.model.sequence_config import CONFIG_16K, CONFIG_44K, SequenceConfig
from mmaudio.model.utils.features_utils import FeaturesUtils
from mmaudio.utils.download_utils import download_model_if_needed


@dataclasses.dataclass
class ModelConfig:
    model_name: str
    model_path: Path
    vae_path: Path
    bigvgan_16k_path: Optional[Path]  # noqa: UP045 - MMAudio's own annotation
    mode: str
    synchformer_ckpt: Path = Path("./ext_weights/synchformer_state_dict.pth")

    @property
    def seq_cfg(self) -> SequenceConfig:
        return CONFIG_16K if self.mode == "16k" else CONFIG_44K

    def download_if_needed(self):
        download_model_if_needed(self.model_path)
        download_model_if_needed(self.vae_path)
        if self.bigvgan_16k_path is not None:
            download_model_if_needed(self.bigvgan_16k_path)
        download_model_if_needed(self.synchformer_ckpt)


def _config(name: str, mode: str) -> ModelConfig:
    return ModelConfig(
        model_name=name,
        model_path=Path(f"./weights/mmaudio_{name}.pth"),
        vae_path=Path("./ext_weights/v1-16.pth" if mode == "16k" else "./ext_weights/v1-44.pth"),
        bigvgan_16k_path=Path("./ext_weights/best_netG.pt") if mode == "16k" else None,
        mode=mode,
    )


small_16k = _config("small_16k", "16k")
small_44k = _config("small_44k", "44k")
medium_44k = _config("medium_44k", "44k")
large_44k = _config("large_44k", "44k")
large_44k_v2 = _config("large_44k_v2", "44k")
all_model_cfg: dict[str, ModelConfig] = {
    cfg.model_name: cfg for cfg in (small_16k, small_44k, medium_44k, large_44k, large_44k_v2)
}


def _shape(x: Optional[torch.Tensor]):  # noqa: UP045
    return None if x is None else tuple(x.shape)


def generate(
    clip_video: Optional[torch.Tensor],  # noqa: UP045
    sync_video: Optional[torch.Tensor],  # noqa: UP045
    text: Optional[list[str]],  # noqa: UP045
    *,
    negative_text: Optional[list[str]] = None,  # noqa: UP045
    feature_utils: FeaturesUtils,
    net: MMAudio,
    fm: FlowMatching,
    rng: torch.Generator,
    cfg_strength: float,
    clip_batch_size_multiplier: int = 40,
    sync_batch_size_multiplier: int = 40,
    image_input: bool = False,
) -> torch.Tensor:
    """MMAudio's data flow: features, noise from ``rng``, ``fm.to_data``, decode, vocode."""
    bs = len(text)
    RECORD.attempts.append(bs)
    if RECORD.fail_with is not None:
        raise RECORD.fail_with
    if RECORD.oom_above is not None and bs > RECORD.oom_above:
        if RECORD.oom_message:
            raise RuntimeError(RECORD.oom_message)
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    device, dtype = feature_utils.device, feature_utils.dtype
    call = dict(
        clip_shape=_shape(clip_video), sync_shape=_shape(sync_video), text=list(text),
        negative_text=None if negative_text is None else list(negative_text),
        cfg_strength=cfg_strength, dtype=dtype, rng_seed=rng.initial_seed(),
        seq_lengths=(net.latent_seq_len, net.clip_seq_len, net.sync_seq_len),
        clip_video=None if clip_video is None else clip_video.detach().cpu(),
        sync_video=None if sync_video is None else sync_video.detach().cpu(),
    )
    if clip_video is not None:
        clip_f = feature_utils.encode_video_with_clip(
            clip_video.to(device, dtype), batch_size=bs * clip_batch_size_multiplier)
    else:
        clip_f = net.get_empty_clip_sequence(bs)
    if sync_video is not None and not image_input:
        sync_f = feature_utils.encode_video_with_sync(
            sync_video.to(device, dtype), batch_size=bs * sync_batch_size_multiplier)
    else:
        sync_f = net.get_empty_sync_sequence(bs)
    text_f = feature_utils.encode_text(text)
    if negative_text is not None:
        assert len(negative_text) == bs
        negative_f = feature_utils.encode_text(negative_text)
    else:
        negative_f = None
    x0 = torch.randn(bs, net.latent_seq_len, net.latent_dim, device=device, dtype=dtype,
                     generator=rng)
    conditions = net.preprocess_conditions(clip_f, sync_f, text_f)
    empty = net.get_empty_conditions(bs, negative_text_features=negative_f)
    x1 = fm.to_data(lambda t, x: net.ode_wrapper(t, x, conditions, empty, cfg_strength), x0)
    audio = feature_utils.vocode(feature_utils.decode(net.unnormalize(x1)))
    RECORD.generate_calls.append(call)
    return audio


def setup_eval_logging(log_level: int = logging.INFO):
    logging.getLogger().setLevel(log_level)


def load_video(video_path: Path, duration_sec: float, load_all_frames: bool = True):
    raise AssertionError("LVAS decodes frames itself with PyAV; load_video must not be used")


def make_video(video_info, output_path: Path, audio: torch.Tensor, sampling_rate: int):
    raise AssertionError("LVAS muxes itself; make_video must not be used")
