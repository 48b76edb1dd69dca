"""Stand-in for MMAudio's network: its interface and shape checks, a few tiny layers inside."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from mmaudio._standin import RECORD

_HIDDEN = 8  # the real networks are 448-896 wide; the shapes that matter are at the edges


@dataclass
class PreprocessedConditions:
    clip_f: torch.Tensor
    sync_f: torch.Tensor
    text_f: torch.Tensor
    clip_f_c: torch.Tensor
    text_f_c: torch.Tensor


class MMAudio(nn.Module):
    def __init__(self, *, latent_dim: int, clip_dim: int, sync_dim: int, text_dim: int,
                 hidden_dim: int, depth: int, fused_depth: int, num_heads: int,
                 mlp_ratio: float = 4.0, latent_seq_len: int, clip_seq_len: int,
                 sync_seq_len: int, text_seq_len: int = 77, latent_mean=None, latent_std=None,
                 empty_string_feat=None, v2: bool = False) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.v2 = v2
        self._latent_seq_len = latent_seq_len
        self._clip_seq_len = clip_seq_len
        self._sync_seq_len = sync_seq_len
        self._text_seq_len = text_seq_len
        gen = torch.Generator().manual_seed(1234)
        self.latent_proj = nn.Parameter(torch.randn(latent_dim, _HIDDEN, generator=gen) * 0.3)
        self.out_proj = nn.Parameter(torch.randn(_HIDDEN, latent_dim, generator=gen) * 0.3)
        self.clip_proj = nn.Parameter(torch.randn(clip_dim, _HIDDEN, generator=gen) * 0.05)
        self.sync_proj = nn.Parameter(torch.randn(sync_dim, _HIDDEN, generator=gen) * 0.05)
        self.text_proj = nn.Parameter(torch.randn(text_dim, _HIDDEN, generator=gen) * 0.05)
        self.latent_mean = nn.Parameter(torch.zeros(1, 1, latent_dim), requires_grad=False)
        self.latent_std = nn.Parameter(torch.ones(1, 1, latent_dim), requires_grad=False)
        self.empty_string_feat = nn.Parameter(torch.zeros(text_seq_len, text_dim),
                                              requires_grad=False)
        self.empty_clip_feat = nn.Parameter(torch.zeros(1, clip_dim))
        self.empty_sync_feat = nn.Parameter(torch.zeros(1, sync_dim))

    def update_seq_lengths(self, latent_seq_len: int, clip_seq_len: int, sync_seq_len: int
                           ) -> None:
        RECORD.seq_lengths.append((latent_seq_len, clip_seq_len, sync_seq_len))
        self._latent_seq_len = latent_seq_len
        self._clip_seq_len = clip_seq_len
        self._sync_seq_len = sync_seq_len

    def unnormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul_(self.latent_std).add_(self.latent_mean)

    def preprocess_conditions(self, clip_f: torch.Tensor, sync_f: torch.Tensor,
                              text_f: torch.Tensor) -> PreprocessedConditions:
        # The same checks as MMAudio's: features must match the current sequence lengths.
        assert clip_f.shape[1] == self._clip_seq_len, f"{clip_f.shape=} {self._clip_seq_len=}"
        assert sync_f.shape[1] == self._sync_seq_len, f"{sync_f.shape=} {self._sync_seq_len=}"
        assert text_f.shape[1] == self._text_seq_len, f"{text_f.shape=} {self._text_seq_len=}"
        assert self._sync_seq_len % 8 == 0
        clip_c = clip_f.mean(dim=1) @ self.clip_proj
        text_c = text_f.mean(dim=1) @ self.text_proj
        sync_c = (sync_f @ self.sync_proj).mean(dim=1, keepdim=True)
        return PreprocessedConditions(clip_f=clip_c[:, None], sync_f=sync_c, text_f=text_c[:, None],
                                      clip_f_c=clip_c, text_f_c=text_c)

    def predict_flow(self, latent: torch.Tensor, t: torch.Tensor,
                     conditions: PreprocessedConditions) -> torch.Tensor:
        assert latent.shape[1] == self._latent_seq_len, f"{latent.shape=}"
        h = latent @ self.latent_proj + conditions.clip_f + conditions.sync_f + conditions.text_f
        return torch.tanh(h + t[:, None, None]) @ self.out_proj - latent

    def get_empty_string_sequence(self, bs: int) -> torch.Tensor:
        return self.empty_string_feat.unsqueeze(0).expand(bs, -1, -1)

    def get_empty_clip_sequence(self, bs: int) -> torch.Tensor:
        return self.empty_clip_feat.unsqueeze(0).expand(bs, self._clip_seq_len, -1)

    def get_empty_sync_sequence(self, bs: int) -> torch.Tensor:
        return self.empty_sync_feat.unsqueeze(0).expand(bs, self._sync_seq_len, -1)

    def get_empty_conditions(self, bs: int, *, negative_text_features=None
                             ) -> PreprocessedConditions:
        text = negative_text_features
        if text is None:
            text = self.get_empty_string_sequence(bs)
        return self.preprocess_conditions(self.get_empty_clip_sequence(bs),
                                          self.get_empty_sync_sequence(bs), text)

    def ode_wrapper(self, t: torch.Tensor, latent: torch.Tensor,
                    conditions: PreprocessedConditions, empty_conditions: PreprocessedConditions,
                    cfg_strength: float) -> torch.Tensor:
        t = t * torch.ones(len(latent), device=latent.device, dtype=latent.dtype)
        if cfg_strength < 1.0:
            return self.predict_flow(latent, t, conditions)
        return (cfg_strength * self.predict_flow(latent, t, conditions)
                + (1 - cfg_strength) * self.predict_flow(latent, t, empty_conditions))

    def load_weights(self, src_dict) -> None:
        RECORD.loaded.append(len(src_dict))
        self.load_state_dict(src_dict, strict=True)

    @property
    def device(self) -> torch.device:
        return self.latent_mean.device

    @property
    def latent_seq_len(self) -> int:
        return self._latent_seq_len

    @property
    def clip_seq_len(self) -> int:
        return self._clip_seq_len

    @property
    def sync_seq_len(self) -> int:
        return self._sync_seq_len


_LATENT_DIM = {"small_16k": 20, "small_44k": 40, "medium_44k": 40, "large_44k": 40,
               "large_44k_v2": 40}


def _build(name: str, **kwargs) -> MMAudio:
    if name not in _LATENT_DIM:
        raise ValueError(f"Unknown model name: {name}")
    latent_seq_len = 250 if name == "small_16k" else 345
    return MMAudio(latent_dim=_LATENT_DIM[name], clip_dim=1024, sync_dim=768, text_dim=1024,
                   hidden_dim=_HIDDEN, depth=1, fused_depth=0, num_heads=1,
                   latent_seq_len=latent_seq_len, clip_seq_len=64, sync_seq_len=192,
                   v2=name.endswith("_v2"), **kwargs)


def get_my_mmaudio(name: str, **kwargs) -> MMAudio:
    RECORD.networks.append(name)
    return _build(name, **kwargs)
