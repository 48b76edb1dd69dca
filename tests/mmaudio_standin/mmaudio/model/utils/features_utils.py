"""Stand-in for MMAudio's feature extractors, VAE decoder and vocoder.

Checks the input shapes MMAudio asserts and returns features of MMAudio's sizes: CLIP
(B, T, 1024) from 384x384 frames, Synchformer (B, 8 * segments, 768) from 224x224 frames in
windows of 16 with stride 8, text (B, 77, 1024). The vocoder turns a latent sequence into
``latent_seq_len * 2 * hop`` samples, as MMAudio's VAE and BigVGAN do.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import torch
import torch.nn as nn

from mmaudio._standin import RECORD

_HOP = {"16k": 256, "44k": 512}
_RATE = {"16k": 16000, "44k": 44100}


class FeaturesUtils(nn.Module):
    def __init__(self, *, tod_vae_ckpt=None, bigvgan_vocoder_ckpt=None, synchformer_ckpt=None,
                 enable_conditions: bool = True, mode="16k", need_vae_encoder: bool = True):
        super().__init__()
        RECORD.features.append(dict(
            tod_vae_ckpt=tod_vae_ckpt, bigvgan_vocoder_ckpt=bigvgan_vocoder_ckpt,
            synchformer_ckpt=synchformer_ckpt, enable_conditions=enable_conditions, mode=mode,
            need_vae_encoder=need_vae_encoder))
        for ckpt in (tod_vae_ckpt, bigvgan_vocoder_ckpt, synchformer_ckpt):
            if ckpt is not None and not Path(ckpt).exists():  # MMAudio's torch.load would fail
                raise FileNotFoundError(ckpt)
        assert mode in _HOP
        if tod_vae_ckpt is not None:  # the 16k VAE needs its BigVGAN, 44k takes BigVGAN v2
            assert (mode == "16k") == (bigvgan_vocoder_ckpt is not None)
        self.mode = mode
        gen = torch.Generator().manual_seed(99)
        self.colour_to_clip = nn.Parameter(torch.randn(3, 1024, generator=gen))
        self.sync_width = nn.Parameter(torch.ones(768))

    @torch.inference_mode()
    def encode_video_with_clip(self, x: torch.Tensor, batch_size: int = -1) -> torch.Tensor:
        b, t, c, h, w = x.shape
        assert c == 3 and h == 384 and w == 384
        return x.mean(dim=(3, 4)) @ self.colour_to_clip

    @torch.inference_mode()
    def encode_video_with_sync(self, x: torch.Tensor, batch_size: int = -1) -> torch.Tensor:
        b, t, c, h, w = x.shape
        assert c == 3 and h == 224 and w == 224
        segments = (t - 16) // 8 + 1
        level = x.mean(dim=(2, 3, 4))  # (B, T)
        feats = torch.stack(
            [level[:, 8 * s:8 * s + 16].reshape(b, 8, 2).mean(-1) for s in range(segments)], 1)
        return feats.reshape(b, segments * 8, 1) * self.sync_width

    @torch.inference_mode()
    def encode_text(self, text: list[str]) -> torch.Tensor:
        rows = []
        for s in text:
            gen = torch.Generator().manual_seed(zlib.crc32(s.encode()))
            rows.append(torch.randn(77, 1024, generator=gen))
        return torch.stack(rows).to(self.device, self.dtype)

    @torch.inference_mode()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        # (B, N, C) latents -> (B, 1, 2N) "mel" frames
        return z.mean(dim=-1, keepdim=True).transpose(1, 2).repeat_interleave(2, dim=-1)

    @torch.inference_mode()
    def vocode(self, mel: torch.Tensor) -> torch.Tensor:
        hop = _HOP[self.mode]
        env = torch.tanh(mel.float()).repeat_interleave(hop, dim=-1)  # (B, 1, samples)
        n = env.shape[-1]
        tone = torch.sin(torch.arange(n, device=env.device) * (2 * torch.pi * 440 / _RATE[
            self.mode]))
        return (0.2 * tone + 0.3 * env).to(self.dtype)

    @property
    def device(self):
        return next(self.parameters()).device

    @property
    def dtype(self):
        return next(self.parameters()).dtype
