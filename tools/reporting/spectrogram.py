"""The soundtrack reduced to what the report draws: a log-frequency spectrogram and a
loudness curve, computed block by block.

The columns are a fixed number (one per pixel of the report's time axis), so a two-hour mix
costs the same memory as a two-minute one, and long files are sampled so the FFT work is
bounded too.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lvas.tools.reporting.plots import PLOT_COLUMNS


@dataclass(frozen=True)
class Spectrogram:
    """A soundtrack reduced to what the report draws.

    ``db`` is ``(rows, columns)``: mean power of the FFT bins in each band, in dB where a
    full-scale sine centred on a bin reads 0, rows log-spaced between
    ``freq_edges``; ``lufs`` is the loudness of each column averaged over ``loudness_window``
    seconds (K-weighted, channels summed as BS.1770 does).
    """

    duration: float
    sample_rate: int
    db: np.ndarray
    freq_edges: np.ndarray
    lufs: np.ndarray
    loudness_window: float
    k_weighted: bool
    blocks_read: int

    @property
    def column_seconds(self) -> float:
        return self.duration / self.db.shape[1] if self.db.size else 0.0


def _fft_size(sample_rate: int) -> int:
    """About 40 ms of audio, a power of two: fine enough in time and in frequency."""
    return max(256, 1 << math.ceil(math.log2(max(sample_rate, 1) * 0.04)))


class _Bands:
    """Averages FFT bins into log-spaced bands: a cumulative sum, no matrix product.

    (A dense band matrix would need BLAS, whose thread start-up costs more than the work for
    the small products made here.) Bands narrower than a bin interpolate their two neighbours.
    """

    def __init__(self, freqs: np.ndarray, edges: np.ndarray) -> None:
        self.lo = np.searchsorted(freqs, edges[:-1], "left")
        self.hi = np.searchsorted(freqs, edges[1:], "left")
        self.ranged = self.hi > self.lo
        centre = np.sqrt(edges[:-1] * edges[1:])
        right = np.clip(np.searchsorted(freqs, centre), 1, len(freqs) - 1)
        self.left, self.right = right - 1, right
        self.frac = (centre - freqs[self.left]) / (freqs[self.right] - freqs[self.left])

    def __call__(self, power: np.ndarray) -> np.ndarray:
        """``(frames, bins)`` power to ``(frames, bands)``."""
        csum = np.zeros((len(power), power.shape[1] + 1))
        np.cumsum(power, axis=1, out=csum[:, 1:])
        width = np.maximum(self.hi - self.lo, 1)
        ranged = (csum[:, self.hi] - csum[:, self.lo]) / width
        interp = power[:, self.left] * (1 - self.frac) + power[:, self.right] * self.frac
        return np.where(self.ranged, ranged, interp)


def compute_spectrogram(
    path: str | os.PathLike[str],
    *,
    columns: int = PLOT_COLUMNS,
    rows: int = 160,
    frames_per_column: int = 8,
    block_frames: int = 1 << 17,
    max_freq: float = 20000.0,
) -> Spectrogram:
    """Average STFT power into at most ``columns`` time columns, reading ``block_frames`` at a time.

    Long files are sampled: at most ``frames_per_column`` FFT frames land in each column, so the
    FFT work is bounded however long the file; memory holds one block plus the columns. The
    picture shows the channels' mean power. The loudness curve takes each column's exact energy
    (every sample, channels summed with equal weight) and K-weights it by the ratio that the
    K-filter's response gives on that column's FFT frames: an overview for the eye, not a
    meter (the mix's integrated loudness is measured by :mod:`lvas.tools.audio.loudness`).
    """
    import soundfile as sf
    from scipy import signal
    from scipy.ndimage import uniform_filter1d

    from lvas.tools.audio.loudness import k_weighting_sos

    with sf.SoundFile(str(path)) as f:
        sr, channels, total = int(f.samplerate), int(f.channels), int(f.frames)
        n_fft = _fft_size(sr)
        half = n_fft // 2
        ncols = int(max(1, min(columns, total // half)))
        hop = max(half, total // (ncols * frames_per_column))
        window = np.hanning(n_fft + 1)[:-1]  # periodic Hann: constant sum at 50 % overlap
        freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
        f_hi = min(max_freq, sr / 2.0)
        f_lo = min(max(20.0, 2.0 * sr / n_fft), f_hi / 2.0)
        edges = np.geomspace(f_lo, f_hi, rows + 1)
        bands = _Bands(freqs, edges)
        # One-sided spectrum: every bin but DC and Nyquist stands for two (Parseval).
        one_sided = np.full(len(freqs), 2.0)
        one_sided[0] = one_sided[-1] = 1.0
        k_weighted = sr >= 8000  # the filter's 1.7 kHz shelf needs the band below Nyquist
        gain = one_sided
        if k_weighted:
            _, response = signal.sosfreqz(k_weighting_sos(sr), worN=freqs, fs=sr)
            gain = one_sided * np.abs(response) ** 2
        sine_scale = (window.sum() / 2.0) ** 2  # a full-scale sine then reads 0 dB

        power = np.zeros((ncols, rows))
        counts = np.zeros(ncols)
        k_sampled = np.zeros(ncols)  # K-weighted and plain power of the FFT frames: their
        plain_sampled = np.zeros(ncols)  # ratio turns each column's exact energy into LUFS
        energy = np.zeros(ncols)  # sum of squares over every sample and channel
        samples = np.zeros(ncols)

        def add_frames(buf: np.ndarray, buf_start: int, starts: np.ndarray) -> None:
            view = np.lib.stride_tricks.sliding_window_view(buf, n_fft, axis=0)  # (n, ch, fft)
            spec = np.fft.rfft(view[starts - buf_start] * window, axis=-1)
            pw = spec.real**2 + spec.imag**2  # (frames, channels, bins)
            cols = np.minimum((starts + half) * ncols // max(total, 1), ncols - 1)
            first = np.flatnonzero(np.diff(cols, prepend=-1))  # cols never decrease
            where = cols[first]
            power[where] += np.add.reduceat(bands(pw.mean(axis=1) / sine_scale), first, axis=0)
            k_sampled[where] += np.add.reduceat(np.einsum("fcb,b->f", pw, gain), first)
            plain_sampled[where] += np.add.reduceat(np.einsum("fcb,b->f", pw, one_sided), first)
            counts[where] += np.diff(np.append(first, len(cols)))

        buf = np.zeros((0, channels), dtype=np.float32)
        buf_start = next_start = 0
        blocks = pos = 0
        while True:
            data = f.read(block_frames, dtype="float32", always_2d=True)
            if not len(data):
                break
            blocks += 1
            # Every sample's energy, per column: cheap, and exact however sparse the FFTs are.
            c0, c1 = pos * ncols // total, (pos + len(data) - 1) * ncols // total
            cuts = [-(-c * total // ncols) - pos for c in range(c0 + 1, c1 + 1)]
            idx = np.array([0, *cuts], dtype=np.intp)
            energy[c0 : c1 + 1] += np.add.reduceat(np.einsum("fc,fc->f", data, data), idx)
            samples[c0 : c1 + 1] += np.diff(np.append(idx, len(data)))
            pos += len(data)
            # Keep only what a frame still needs: the carried tail plus the new block.
            buf = np.concatenate((buf, data)) if len(buf) else data
            last = buf_start + len(buf) - n_fft
            if last >= next_start:
                starts = np.arange(next_start, last + 1, hop)
                for group in np.array_split(starts, -(-len(starts) // 128)):  # bounded memory
                    add_frames(buf, buf_start, group)
                next_start = int(starts[-1]) + hop
            drop = min(next_start - buf_start, len(buf))
            buf, buf_start = buf[drop:], buf_start + drop
        if not counts.any() and total:  # shorter than one FFT frame: zero-pad it
            padded = np.pad(buf, ((0, n_fft - len(buf)), (0, 0)))
            add_frames(padded, buf_start, np.array([buf_start]))

    filled = np.flatnonzero(counts)
    if len(filled):
        power[filled] /= counts[filled, None]
        # Columns no frame fell into borrow their nearest earlier (or first) neighbour.
        if len(filled) < ncols:
            nearest = np.searchsorted(filled, np.arange(ncols), "right") - 1
            nearest = filled[np.clip(nearest, 0, None)]
            power = power[nearest]
            k_sampled, plain_sampled = k_sampled[nearest], plain_sampled[nearest]
    ratio = np.divide(k_sampled, plain_sampled, out=np.ones(ncols), where=plain_sampled > 0)
    loud = energy / np.maximum(samples, 1) * ratio
    column_s = total / sr / ncols if sr else 0.0
    # Smooth short columns to BS.1770's 400 ms momentary window, in power.
    width = max(1, round(0.4 / column_s)) if column_s else 1
    if width > 1:
        loud = uniform_filter1d(loud, width, mode="nearest")
    with np.errstate(divide="ignore"):
        lufs = (-0.691 if k_weighted else 0.0) + 10.0 * np.log10(loud)
    db = power.T  # in place from here: the columns are the largest arrays held
    np.maximum(db, 1e-12, out=db)
    np.log10(db, out=db)
    db *= 10.0
    return Spectrogram(
        duration=total / sr if sr else 0.0,
        sample_rate=sr,
        db=db,
        freq_edges=edges,
        lufs=np.maximum(lufs, -70.0),
        loudness_window=max(width * column_s, column_s),
        k_weighted=k_weighted,
        blocks_read=blocks,
    )


# The mixer measures the soundtrack here while its delivery encodes it (a core is idle then), and
# the report draws from what it measured: a few entries, one per soundtrack version.
_REMEMBERED: OrderedDict[tuple[str, int, int, int], Spectrogram] = OrderedDict()
_REMEMBERED_MAX = 4
_REMEMBERED_LOCK = threading.Lock()


def soundtrack_spectrogram(path: str | os.PathLike[str]) -> Spectrogram:
    """:func:`compute_spectrogram` with its defaults, remembered for this version of the file
    (its path, inode, size and modification time: an atomic rewrite is a new inode), so a second
    caller in the process reads nothing."""
    stat = os.stat(path)
    key = (str(Path(path).resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    with _REMEMBERED_LOCK:
        known = _REMEMBERED.get(key)
    if known is not None:
        return known
    spec = compute_spectrogram(path)
    with _REMEMBERED_LOCK:
        _REMEMBERED[key] = spec
        while len(_REMEMBERED) > _REMEMBERED_MAX:
            _REMEMBERED.popitem(last=False)
    return spec
