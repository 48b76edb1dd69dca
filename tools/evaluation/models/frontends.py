"""Spectrogram front ends the models were trained with, written on torch alone.

The models' own code computes these with torchaudio (PaSST's mel banks, ImageBind's Kaldi
filter bank, Synchformer's mel spectrogram); torchaudio is tied to one torch build and would
replace the project's, so they are written here from the formulas those functions document,
and ``benchmarks/fidelity_av_benchmark.py`` checks them against torchaudio where it is
installed.

- :func:`kaldi_mel_banks`: Kaldi's triangular filters, equally spaced on the mel scale
  ``1127 ln(1 + f/700)`` between ``low`` and ``high`` Hz, evaluated at the FFT bin frequencies
  ``k·rate/n_fft`` for ``k < n_fft/2`` (the Nyquist bin gets no weight).
- :func:`kaldi_fbank`: Kaldi's ``compute-fbank-feats`` as ImageBind calls it: 25 ms frames
  every 10 ms without padding, each frame's mean removed, pre-emphasis 0.97 (the first sample
  against itself), a symmetric Hann window, zero-padded to a power of two, power spectrum,
  the mel banks from 20 Hz to Nyquist, natural log floored at float32's epsilon.
- :func:`htk_mel_spectrogram`: a power mel spectrogram (centred reflect-padded STFT with a
  periodic Hann window, HTK mel scale, unnormalised triangles interpolated in Hz), as
  torchaudio's ``MelSpectrogram`` defaults make it.
"""

from __future__ import annotations

import math
from typing import Any


def kaldi_mel_banks(num_bins: int, n_fft: int, rate: float, low: float, high: float) -> Any:
    """``(num_bins, n_fft // 2)`` float32 Kaldi mel filter weights (``high <= 0``: Nyquist
    plus ``high``), computed in float32 as torchaudio does, so the weights agree bit for bit."""
    import torch

    nyquist = 0.5 * rate
    if high <= 0.0:
        high += nyquist
    if not 0.0 <= low < high <= nyquist:
        raise ValueError(f"bad mel band edges {low}..{high} Hz for rate {rate}")
    mel_low, mel_high = (1127.0 * math.log(1.0 + f / 700.0) for f in (low, high))
    delta = (mel_high - mel_low) / (num_bins + 1)
    b = torch.arange(num_bins).unsqueeze(1)
    left = mel_low + b * delta
    center = mel_low + (b + 1.0) * delta
    right = mel_low + (b + 2.0) * delta
    mel = (1127.0 * (1.0 + (rate / n_fft) * torch.arange(n_fft // 2) / 700.0).log()).unsqueeze(0)
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    return torch.max(torch.zeros(1), torch.min(up, down))


def kaldi_fbank(waveform: Any, rate: int, num_bins: int, frame_ms: float = 25.0,
                shift_ms: float = 10.0) -> Any:
    """Log mel filter-bank energies ``(frames, num_bins)`` of a 1-D float tensor."""
    import torch

    x = waveform.to(torch.float32)
    size = int(rate * frame_ms * 0.001)
    shift = int(rate * shift_ms * 0.001)
    if len(x) < size:
        return torch.zeros((0, num_bins), dtype=torch.float32)
    frames = x.unfold(0, size, shift)  # (n, size), snip-edges framing
    frames = frames - frames.mean(dim=1, keepdim=True)
    previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
    frames = frames - 0.97 * previous
    frames = frames * torch.hann_window(size, periodic=False, dtype=torch.float32)
    n_fft = 1 << math.ceil(math.log2(size))
    power = torch.fft.rfft(frames, n=n_fft).abs().pow(2.0)
    banks = torch.nn.functional.pad(kaldi_mel_banks(num_bins, n_fft, rate, 20.0, 0.0), (0, 1))
    energies = power @ banks.T
    eps = torch.tensor(torch.finfo(torch.float32).eps)
    return torch.maximum(energies, eps).log()


def htk_mel_filters(n_freqs: int, rate: int, n_mels: int, f_min: float = 0.0,
                    f_max: float | None = None) -> Any:
    """``(n_freqs, n_mels)`` float32 triangles on the HTK mel scale, not area-normalised,
    computed in float32 as torchaudio's ``melscale_fbanks`` does."""
    import torch

    f_max = float(rate // 2) if f_max is None else f_max
    all_freqs = torch.linspace(0, rate // 2, n_freqs)
    m_min, m_max = (2595.0 * math.log10(1.0 + f / 700.0) for f in (f_min, f_max))
    f_pts = 700.0 * (10.0 ** (torch.linspace(m_min, m_max, n_mels + 2) / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
    down = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.max(torch.zeros(1), torch.min(down, up))


def htk_mel_spectrogram(x: Any, rate: int, n_fft: int, win_length: int, hop: int,
                        n_mels: int) -> Any:
    """Power mel spectrogram ``(..., n_mels, frames)`` of float tensors ``(..., samples)``."""
    import torch

    shape = x.shape
    flat = x.reshape(-1, shape[-1]).to(torch.float32)
    window = torch.hann_window(win_length, dtype=torch.float32)
    spec = torch.stft(flat, n_fft, hop_length=hop, win_length=win_length, window=window,
                      center=True, pad_mode="reflect", normalized=False, onesided=True,
                      return_complex=True).abs().pow(2.0)
    filters = htk_mel_filters(n_fft // 2 + 1, rate, n_mels)
    mel = torch.matmul(spec.transpose(-1, -2), filters).transpose(-1, -2)
    return mel.reshape(*shape[:-1], n_mels, mel.shape[-1])
