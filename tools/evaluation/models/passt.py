"""PaSST (AudioSet, ``passt_s_swa_p16_128_ap476``) embeddings and logits, for FD_PaSST,
KL_PaSST and IS_PaSST.

The field's package for PaSST, ``hear21passt``, needs timm (which needs torchvision) and
torchaudio, each tied to a torch build of its own, so the network is written here, inference
only, with the parameter names of the authors' checkpoint
(``passt-s-f128-p16-s10-ap.476-swa.pt``), which loads into it unchanged. av-benchmark's use of
it, followed exactly:

- 32 kHz, each window's mean removed, zero-padded or cut to 320 000 samples (10 s);
- front end (hear21passt's ``AugmentMelSTFT`` in eval mode): pre-emphasis ``x[n] - 0.97 x[n-1]``
  (one sample shorter), STFT with n_fft 1024, hop 320, a symmetric 800-sample Hann window,
  centred with reflect padding, power; Kaldi mel banks, 128 bands, 0–15 000 Hz, a zero weight
  on the Nyquist bin; ``(ln(mel + 1e-5) + 4.5) / 5``;
- network: 16×16 patches with stride 10 (a 12 × 99 grid), separate frequency and time position
  embeddings, class and distillation tokens, 12 pre-norm transformer blocks (768-d, 12 heads,
  GELU MLP 3072), a final LayerNorm (eps 1e-6); ``features`` = the mean of the two tokens
  (768-d, av-benchmark's "features"), ``logits`` = ``head`` (LayerNorm, Linear 527) of them
  (av-benchmark's first 527 outputs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from lvas.tools.evaluation.models import settings
from lvas.tools.evaluation.models.cache import Features
from lvas.tools.evaluation.models.frontends import kaldi_mel_banks
from lvas.tools.evaluation.models.windows import remove_dc

SAMPLE_RATE = 32000
INPUT_SAMPLES = 320_000
N_MELS, N_FFT, HOP, WIN = 128, 1024, 320, 800
FMIN, FMAX = 0.0, 15000.0
EMBED, HEADS, CLASSES = 768, 12, 527
PACKAGES = ("soxr",)


def pad_or_cut(x: np.ndarray, length: int = INPUT_SAMPLES) -> np.ndarray:
    """``x`` zero-padded at the end or cut to ``length`` samples."""
    if len(x) >= length:
        return x[:length]
    return np.concatenate([x, np.zeros(length - len(x), dtype=x.dtype)])


def _modules() -> Any:
    """The network's classes (torch is imported only when a PaSST is built)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class MelFrontEnd(nn.Module):
        banks: torch.Tensor
        window: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            banks = kaldi_mel_banks(N_MELS, N_FFT, SAMPLE_RATE, FMIN, FMAX)
            self.register_buffer("banks", F.pad(banks, (0, 1)), persistent=False)
            self.register_buffer("window", torch.hann_window(WIN, periodic=False),
                                 persistent=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x[:, 1:] - 0.97 * x[:, :-1]
            spec = torch.stft(x, N_FFT, hop_length=HOP, win_length=WIN, window=self.window,
                              center=True, normalized=False, return_complex=True)
            power = spec.real.pow(2) + spec.imag.pow(2)
            mel = torch.matmul(self.banks, power)
            return ((mel + 1e-5).log() + 4.5) / 5.0

    class PatchEmbed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Conv2d(1, EMBED, kernel_size=16, stride=10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.proj(x)

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(EMBED, 3 * EMBED)
            self.proj = nn.Linear(EMBED, EMBED)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, n, c = x.shape
            q, k, v = self.qkv(x).reshape(b, n, 3, HEADS, c // HEADS).permute(2, 0, 3, 1, 4)
            out = F.scaled_dot_product_attention(q, k, v)
            return self.proj(out.transpose(1, 2).reshape(b, n, c))

    class Mlp(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(EMBED, 4 * EMBED)
            self.act = nn.GELU()
            self.fc2 = nn.Linear(4 * EMBED, EMBED)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc2(self.act(self.fc1(x)))

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm1 = nn.LayerNorm(EMBED, eps=1e-6)
            self.attn = Attention()
            self.norm2 = nn.LayerNorm(EMBED, eps=1e-6)
            self.mlp = Mlp()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))

    class PaSSTNet(nn.Module):
        """Spectrogram ``(B, 1, 128, T)`` to (logits, features)."""

        def __init__(self, depth: int = 12, freq_patches: int = 12,
                     time_patches: int = 99) -> None:
            super().__init__()
            self.patch_embed = PatchEmbed()
            self.cls_token = nn.Parameter(torch.zeros(1, 1, EMBED))
            self.dist_token = nn.Parameter(torch.zeros(1, 1, EMBED))
            self.new_pos_embed = nn.Parameter(torch.zeros(1, 2, EMBED))
            self.freq_new_pos_embed = nn.Parameter(torch.zeros(1, EMBED, freq_patches, 1))
            self.time_new_pos_embed = nn.Parameter(torch.zeros(1, EMBED, 1, time_patches))
            self.blocks = nn.Sequential(*[Block() for _ in range(depth)])
            self.norm = nn.LayerNorm(EMBED, eps=1e-6)
            self.head = nn.Sequential(nn.LayerNorm(EMBED), nn.Linear(EMBED, CLASSES))
            self.head_dist = nn.Linear(EMBED, CLASSES)  # in the checkpoint; unused in inference
            for p in (self.cls_token, self.dist_token, self.new_pos_embed,
                      self.freq_new_pos_embed, self.time_new_pos_embed):
                nn.init.trunc_normal_(p, std=0.02)
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.trunc_normal_(m.weight, std=0.02)
                    nn.init.zeros_(m.bias)

        def forward(self, spec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            x = self.patch_embed(spec)  # (B, E, F, T)
            x = x + self.time_new_pos_embed[..., : x.shape[-1]] + self.freq_new_pos_embed
            x = x.flatten(2).transpose(1, 2)
            b = x.shape[0]
            cls = self.cls_token.expand(b, -1, -1) + self.new_pos_embed[:, :1]
            dist = self.dist_token.expand(b, -1, -1) + self.new_pos_embed[:, 1:]
            x = self.norm(self.blocks(torch.cat([cls, dist, x], dim=1)))
            features = (x[:, 0] + x[:, 1]) / 2
            return self.head(features), features

    class PaSST(nn.Module):
        """Waveform ``(B, 320000)`` at 32 kHz to (logits, features)."""

        def __init__(self, net: nn.Module) -> None:
            super().__init__()
            self.mel = MelFrontEnd()
            self.net = net

        def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return self.net(self.mel(wav).unsqueeze(1))

    return PaSSTNet, PaSST


def build_passt(depth: int = 12) -> Any:
    """PaSST with random weights (``depth`` transformer blocks; the checkpoint's is 12)."""
    net_cls, wrapper = _modules()
    return wrapper(net_cls(depth=depth)).eval()


def _state_dict(path: str) -> dict[str, Any]:
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("model", state)
    weight = state.get("patch_embed.proj.weight")
    if weight is not None and weight.dim() < 4:  # the authors' early, linear patchification
        state["patch_embed.proj.weight"] = weight.reshape(EMBED, 1, 16, 16)
    return dict(state)


def load_passt(path: str) -> Any:
    """PaSST with a checkpoint of its parameters (its depth read from the file)."""
    state = _state_dict(path)
    depth = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))
    net_cls, wrapper = _modules()
    net = net_cls(depth=depth, freq_patches=state["freq_new_pos_embed"].shape[2],
                  time_patches=state["time_new_pos_embed"].shape[3])
    net.load_state_dict(state)
    return wrapper(net).eval()


@dataclass
class Passt:
    """The PaSST extractor: one row per window."""

    model: Any
    identity: str
    device: str = "cpu"
    kind: str = "passt"
    sample_rate: int = SAMPLE_RATE
    version: int = 1
    dims: dict[str, tuple[int, ...]] = field(
        default_factory=lambda: {"embedding": (EMBED,), "logits": (CLASSES,)})

    def __post_init__(self) -> None:
        self.model = self.model.to(self.device).eval()

    def window_features(self, samples: np.ndarray) -> Features:
        import torch

        x = torch.from_numpy(pad_or_cut(remove_dc(samples)))[None].to(self.device)
        with torch.inference_mode():
            logits, features = self.model(x)
        return {"embedding": features.float().cpu().numpy(),
                "logits": logits.float().cpu().numpy()}


def availability() -> str | None:
    return (settings.package_status(("torch", *PACKAGES))
            or settings.weights_status(settings.WEIGHTS["passt"]))


@cache
def _loaded(source: str, device: str) -> Passt:
    return Passt(load_passt(source), settings.weights_identity(source), device)


def extractor() -> Passt:
    """The extractor with the real weights (resolved, loaded once per process)."""
    return _loaded(settings.resolve_weights(settings.WEIGHTS["passt"]), settings.device())
