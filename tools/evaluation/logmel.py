"""Log-mel frames computed while the audio streams past.

Both the onset envelope (sync, seams) and the weight-free Fréchet distance need short-time
spectra; :class:`LogMelFrames` keeps the last ``window - hop`` samples between blocks, so the
frames are the same however the file was cut into blocks. Spectra are taken at the file's own
sample rate and the mel bands stop at ``fmax``: band-limiting this way stands in for resampling
(a 16 kHz signal holds 0–8 kHz), and needs no stateful resampler.
"""

from __future__ import annotations

import numpy as np

_POWER_FLOOR = 1e-10  # -100 dB: keeps log() finite on digital silence


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + f / 700.0)  # HTK mel scale


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Triangular HTK-mel filters, ``(n_mels, n_fft // 2 + 1)``, each peaking at 1.

    (A dozen lines of numpy; librosa would bring numba and a large install for this alone.)
    """
    top = min(float(fmax) if fmax else sample_rate / 2.0, sample_rate / 2.0)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(fmin)), _hz_to_mel(np.array(top)),
                                   n_mels + 2))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rise = (freqs[None, :] - lower) / np.maximum(centre - lower, 1e-9)
    fall = (upper - freqs[None, :]) / np.maximum(upper - centre, 1e-9)
    return np.clip(np.minimum(rise, fall), 0.0, None)


class LogMelFrames:
    """Log mel power (natural log) of Hann-windowed frames, ``window`` samples every ``hop``.

    With ``centre`` the first frame is centred on sample 0 (half a window of zeros is put in
    front), so frame ``i`` describes time ``i * hop / sample_rate``.
    """

    def __init__(self, sample_rate: int, window: int, hop: int, n_mels: int,
                 fmax: float | None = None, centre: bool = False) -> None:
        if not 0 < hop <= window:
            raise ValueError("need 0 < hop <= window")
        self.sample_rate = int(sample_rate)
        self.window, self.hop = int(window), int(hop)
        self.n_fft = 1 << (self.window - 1).bit_length()
        self._taper = np.hanning(self.window)
        # Power normalised by the window's energy so levels do not depend on the sample rate.
        self._scale = 1.0 / float(np.sum(self._taper**2))
        self._bank = mel_filterbank(self.sample_rate, self.n_fft, n_mels, fmax=fmax)
        self._buffer = np.zeros(self.window // 2 if centre else 0)

    def add(self, block: np.ndarray) -> np.ndarray:
        """Frames completed by this mono block: ``(frames, n_mels)``."""
        x = np.concatenate([self._buffer, np.asarray(block, dtype=np.float64)])
        if len(x) < self.window:
            self._buffer = x
            return np.zeros((0, self._bank.shape[0]))
        count = 1 + (len(x) - self.window) // self.hop
        frames = np.lib.stride_tricks.sliding_window_view(x, self.window)[:: self.hop][:count]
        spectrum = np.fft.rfft(frames * self._taper, n=self.n_fft, axis=1)
        power = (spectrum.real**2 + spectrum.imag**2) * self._scale
        self._buffer = x[count * self.hop :].copy()
        return np.log(np.maximum(power @ self._bank.T, _POWER_FLOOR))
