"""Benchmark: the mux's AAC coder, FFmpeg's ``fast`` against its default ``twoloop``, at 192k.

For each soundtrack WAV given, and each ffmpeg at hand (the bundled one, and the system's where
it is another build), encodes the WAV to AAC at 192 kb/s with each coder and prints: the
encoder's CPU seconds; the decoded audio against the WAV (ffmpeg's decode, which honours the
edit list, so the two line up sample for sample): signal-to-noise ratio, the error's energy
against the signal's per band (NMR, dB; lower is better), the mean absolute error of each
band's level per 43 ms frame (dB; how well the spectrum's shape is kept), and the highest
frequency kept (the first 250 Hz band above 12 kHz that lost more than 10 dB); and the
loudness and true peak that LVAS measures on the delivered audio
(``lvas.tools.delivery.measure``), beside the WAV's own.

    python benchmarks/bench_delivery.py SOUNDTRACK.wav [MORE.wav ...]

The figures in benchmarks/README.md came from a 10-minute bbb dub's soundtrack.wav, a 1-minute
cockatoo dub's, and Big Buck Bunny's own music (``ffmpeg -i
../shared/media/big_buck_bunny_0_30.webm -vn -ar 48000 -c:a pcm_s24le music.wav``). About
15 s per minute of audio on the 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lvas.tools.common.ffmpeg import ffmpeg_exe  # noqa: E402
from lvas.tools.delivery.measure import measure_delivered_audio  # noqa: E402

BANDS = [(20, 250), (250, 1000), (1000, 4000), (4000, 8000), (8000, 12000), (12000, 16000),
         (16000, 20000)]
CODERS = ("twoloop", "fast")
NPERSEG = 2048


def ffmpegs() -> dict[str, str]:
    """The bundled ffmpeg, and the system's where it is another build."""
    import imageio_ffmpeg

    found = {"bundled": imageio_ffmpeg.get_ffmpeg_exe()}
    system = shutil.which("ffmpeg")
    if system and Path(system).resolve() != Path(found["bundled"]).resolve():
        found["system"] = system
    return found


def _version(exe: str) -> str:
    out = subprocess.run([exe, "-version"], capture_output=True, text=True, check=True).stdout
    return out.split()[2] if out.startswith("ffmpeg version") else "?"


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _decode(path: Path, channels: int) -> np.ndarray:
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "f64le", "-ac",
                          str(channels), "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, "<f8").reshape(-1, channels)


def _band_energy(spectrum: np.ndarray, freqs: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return spectrum[(freqs >= lo) & (freqs < hi)].sum(axis=0)  # (channels, frames)


def compare(ref: np.ndarray, dec: np.ndarray, sr: int) -> dict:
    """SNR, NMR and band-level error per band, and the highest frequency kept."""
    n = min(len(ref), len(dec))
    ref, dec = ref[:n], dec[:n]
    err = dec - ref
    freqs, _, r = signal.stft(ref, sr, nperseg=NPERSEG, axis=0)
    _, _, d = signal.stft(dec, sr, nperseg=NPERSEG, axis=0)
    _, _, e = signal.stft(err, sr, nperseg=NPERSEG, axis=0)
    ref_e, dec_e, err_e = np.abs(r) ** 2, np.abs(d) ** 2, np.abs(e) ** 2
    nmr, level = [], []
    for lo, hi in BANDS:
        s = _band_energy(ref_e, freqs, lo, hi)
        nmr.append(10 * np.log10(_band_energy(err_e, freqs, lo, hi).sum() / s.sum()))
        got = _band_energy(dec_e, freqs, lo, hi)
        active = s > s.max() * 1e-7  # frames where the band carries something (within 70 dB)
        level.append(float(np.mean(np.abs(10 * np.log10((got[active] + 1e-20) / s[active])))))
    f, p_ref = signal.welch(ref, sr, nperseg=4096, axis=0)
    _, p_dec = signal.welch(dec, sr, nperseg=4096, axis=0)
    p_ref, p_dec = p_ref.sum(axis=1), p_dec.sum(axis=1)
    kept = sr / 2
    for lo in np.arange(12000, sr / 2, 250):
        band = (f >= lo) & (f < lo + 250)
        if p_ref[band].sum() > 0 and p_dec[band].sum() < 0.1 * p_ref[band].sum():
            kept = lo
            break
    snr = 10 * np.log10(np.square(ref).sum() / np.square(err).sum())
    return {"snr": snr, "nmr": nmr, "level": level, "kept_hz": kept}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wavs", nargs="+", help="soundtrack WAVs (48 kHz, as the mixer writes)")
    args = parser.parse_args()
    exes = ffmpegs()
    print("ffmpegs: " + ", ".join(f"{k} {_version(v)} ({v})" for k, v in exes.items()))
    print(f"load average {os.getloadavg()[0]:.1f}")
    head = " ".join(f"{lo / 1000:g}-{hi / 1000:g}k" for lo, hi in BANDS)
    scratch = Path(tempfile.mkdtemp(prefix="lvas-bench-aac-"))
    try:
        for wav in map(Path, args.wavs):
            ref, sr = sf.read(wav, dtype="float64", always_2d=True)
            own = measure_delivered_audio(wav)
            print(f"\n== {wav} ({len(ref) / sr:.1f} s, {ref.shape[1]} ch; the WAV itself: "
                  f"{own.integrated_lufs:.2f} LUFS, {own.true_peak_db:.2f} dBTP) ==")
            print(f"  {'ffmpeg':<8} {'coder':<8} {'cpu s':>6} {'SNR':>6} | NMR dB {head} | "
                  f"band level error dB, same bands | kept to | LUFS  dBTP")
            for name, exe in exes.items():
                for coder in CODERS:
                    out = scratch / f"{name}-{coder}.m4a"
                    cpu = _children_cpu()
                    subprocess.run([exe, "-v", "error", "-y", "-i", str(wav), "-c:a", "aac",
                                    "-b:a", "192k", "-aac_coder", coder, str(out)], check=True)
                    cpu = _children_cpu() - cpu
                    got = compare(ref, _decode(out, ref.shape[1]), sr)
                    levels = measure_delivered_audio(out)
                    print(f"  {name:<8} {coder:<8} {cpu:6.1f} {got['snr']:6.2f} | "
                          + " ".join(f"{v:6.1f}" for v in got["nmr"]) + " | "
                          + " ".join(f"{v:5.2f}" for v in got["level"])
                          + f" | {got['kept_hz'] / 1000:5.2f} kHz | "
                          f"{levels.integrated_lufs:.2f} {levels.true_peak_db:.2f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
