"""Stream clips onto a layered timeline, duck beds, master, and write stems, in two passes.

Pass 1 reads every track block by block at the mix rate (resampling on the fly) and sums it
into its layer: background, foreground, speech. A side-chain ducks the background layer under
speech and strong foreground events. Its look-ahead is a delay: every layer passes through a
delay line of ``lookahead`` frames while the side-chain reads the undelayed speech and
foreground, so the duck is in place before a word starts and the output timing is unchanged.
The ducked sum is metered (BS.1770) and written to a float32 stage file, one per layer when
stems are wanted. Pass 2 applies the gain that reaches the loudness target and a look-ahead
true-peak limiter and writes the mix; should the limiter take more than a few tenths of a LU
away, it runs again with the difference added to the gain. Where the limiter left the mix
untouched, the output is the pass-one mix times the gain, so its loudness is read from pass
one's meter rather than measured again. The stems come last, once, after pass 2's last run:
the limiter's gain curve of that run (kept in a stage file for the blocks it touched)
multiplies every stem alike after the same delay, so the stems add up to the mix. The
soundtrack is complete before the stems are written, so a caller can start on it
(``on_soundtrack``: the mux, a child process) while they are.

Stems are float WAVs (``STEM_SUBTYPE``) at the mix rate: no rounding and no clipping, so they
sum to the PCM mix within its quantisation step. Memory depends on the block length, never on
the length of the video; every output is written under a temporary name and renamed.

The parts live in their own modules: tools/mix_sources.py reads the tracks, tools/ducking.py
ducks the beds, tools/limiter.py limits the true peak, tools/wav_stream.py writes every file
(the stage files too, as float WAVs that soundfile reads back).
This module holds the two passes that join them, and the public API.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
from collections.abc import Callable, Generator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from lvas.tools.audio.ducking import DelayLine, Ducker, DuckingSettings
from lvas.tools.audio.limiter import Limiter, ScreenedPeaks
from lvas.tools.audio.loudness import LoudnessMeter
from lvas.tools.audio.sources import LAYERS, MixTrack, TrackReader, scale_rows
from lvas.tools.audio.wav_stream import WavWriter, WriteBehind
from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.paths import atomic_path, partial_path

__all__ = [  # DuckingSettings, LAYERS and MixTrack are re-exported: callers import them here
    "LAYERS",
    "LOUDNESS_PRESETS",
    "STEM_SUBTYPE",
    "DuckingSettings",
    "MixReport",
    "MixTrack",
    "loudness_target_for",
    "mix_to_wav",
]

LOUDNESS_PRESETS = {"ebu-r128": -23.0, "web": -16.0, "streaming": -14.0}
STEM_SUBTYPE = "FLOAT"  # stems carry the exact samples that were summed: no rounding, no clipping
_LIMITER_MARGIN_DB = 0.05  # aim just under the ceiling so 16-bit rounding cannot cross it
_LOUDNESS_TOLERANCE = 0.3  # LU; a limiter costing more than this gets its gain corrected
_MAX_CORRECTION = 3.0  # LU; beyond this the limiter is saturated and louder is not reachable
_MAX_PASSES = 3  # pass two at most this often (twice more only when the limiter bites hard)


def loudness_target_for(preset: str | float) -> float:
    """LUFS of a preset name (see ``LOUDNESS_PRESETS``) or of a number given as such."""
    names = ", ".join(f"{k} ({v:g} LUFS)" for k, v in LOUDNESS_PRESETS.items())
    if isinstance(preset, str):
        key = preset.strip().lower()
        if key in LOUDNESS_PRESETS:
            return LOUDNESS_PRESETS[key]
        try:
            value = float(key)
        except ValueError:
            raise LVASInputError(
                f"Unknown loudness preset {preset!r}; use one of {names}, or a number of LUFS "
                "such as -18."
            ) from None
    elif isinstance(preset, int | float) and not isinstance(preset, bool):
        value = float(preset)
    else:
        raise LVASInputError(f"Loudness target must be a preset name ({names}) or a number.")
    if not (math.isfinite(value) and -70.0 <= value <= 0.0):
        raise LVASInputError(f"Loudness target must lie between -70 and 0 LUFS, got {preset!r}.")
    return value


@dataclass(frozen=True)
class MixReport:
    """What ``mix_to_wav`` wrote and measured: the output, its loudness, peaks and stems."""

    path: str
    duration: float
    sample_rate: int
    channels: int
    integrated_lufs: float
    peak_db: float  # true peak, dBTP
    gain_applied_db: float
    stems: dict[str, str] = field(default_factory=dict)  # layer -> stem WAV path
    stem_peak_db: dict[str, float] = field(default_factory=dict)  # layer -> sample peak, dBFS
    ducking_db: float = 0.0  # deepest reduction the ducker applied to the background layer
    normalized: bool = True  # False: brought to no loudness target (the limiter still acted)

    def to_dict(self) -> dict:
        """Plain data for state and JSON: non-finite levels (silence) become ``None``."""
        out = asdict(self)
        for key in ("integrated_lufs", "peak_db", "gain_applied_db", "ducking_db"):
            if not math.isfinite(out[key]):
                out[key] = None
        out["stem_peak_db"] = {k: (v if math.isfinite(v) else None)
                               for k, v in out["stem_peak_db"].items()}
        return out


def _temp_beside(path: Path, tag: str) -> Path:
    """A hidden, unique name for a stage file next to ``path`` (same disk: no copying), one
    that a killed mix leaves as known work in progress."""
    return partial_path(path.with_suffix(".wav"), tag)


def mix_to_wav(
    tracks: Sequence[MixTrack],
    duration: float,
    out_path: str | os.PathLike[str],
    *,
    sample_rate: int = 48000,
    channels: int = 2,
    loudness_target: float | str = -23.0,
    peak_ceiling_db: float = -1.0,
    block_seconds: float = 10.0,
    subtype: str = "PCM_24",
    ducking: DuckingSettings | None = None,
    stems_dir: str | os.PathLike[str] | None = None,
    normalize: bool = True,
    on_soundtrack: Callable[[Path], None] | None = None,
) -> MixReport:
    """Mix ``tracks`` into a WAV of exactly ``round(duration * sample_rate)`` frames.

    The mix is brought to ``loudness_target`` (LUFS, or a name from ``LOUDNESS_PRESETS``;
    BS.1770 gated) and limited so its true peak stays at or below ``peak_ceiling_db``. The
    background layer is ducked under speech and strong foreground events (``ducking``;
    default on, ``DuckingSettings(enabled=False)`` turns it off). With ``stems_dir``, one
    float WAV per layer present (``stem_<layer>.wav``) is written there too; the stems carry
    the same mastering and limiter gain as the mix and add up to it (stale stems of absent
    layers are removed). A silent mix stays silent and reports ``-inf``. Every file is
    written under a temporary name and renamed when complete.

    ``normalize=False`` skips the loudness target: the mix keeps the level its tracks' gains
    give it (no gain, no correction passes; ``gain_applied_db`` is 0) and only the true-peak
    limiter acts, so the report's loudness is wherever the mix lands.

    ``on_soundtrack`` is called with the output's path as soon as it is complete, before the
    stems are written: work started there (a child process) overlaps them. The stems are
    published after it returns, so an error in it leaves them unwritten.
    """
    if not (math.isfinite(duration) and duration > 0):
        raise LVASInputError(f"Mix duration must be a positive number of seconds, got {duration}.")
    if channels not in (1, 2):
        raise LVASInputError(f"Mixes are mono or stereo; got channels={channels}.")
    if subtype not in ("PCM_16", "PCM_24"):
        raise LVASInputError(f"Final mix subtype must be PCM_16 or PCM_24, got {subtype!r}.")
    if not block_seconds > 0:
        raise LVASInputError("block_seconds must be positive.")
    if not (math.isfinite(peak_ceiling_db) and -20.0 <= peak_ceiling_db <= 0.0):
        raise LVASInputError(f"peak_ceiling_db must lie between -20 and 0, got {peak_ceiling_db}.")
    target_lufs = loudness_target_for(loudness_target)
    ducking = DuckingSettings() if ducking is None else ducking
    ducking.check()
    sr = int(sample_rate)
    total = int(round(duration * sr))
    target = Path(out_path)
    stems = Path(stems_dir) if stems_dir is not None else None
    if stems is not None and stems.exists() and not stems.is_dir():
        raise LVASInputError(f"Stems folder {stems} is a file; give a folder.")
    readers = sorted((TrackReader(t, sr, channels) for t in tracks), key=lambda r: r.offset)
    readers = [r for r in readers if r.offset < total and r.end > 0]  # the rest is never heard
    present = [layer for layer in LAYERS if any(r.layer == layer for r in readers)]
    ducker = None
    if ducking.enabled and "background" in present and len(present) > 1:
        ducker = Ducker(ducking, sr, channels)
    hop = ducker.hop if ducker else 1
    block = max(int(round(block_seconds * sr / hop)), 1) * hop  # whole side-chain hops
    target.parent.mkdir(parents=True, exist_ok=True)
    if stems is not None:
        stems.mkdir(parents=True, exist_ok=True)
    stage_names = present if (stems is not None and present) else ["mix"]
    stages = {name: _temp_beside(target, f"pass1-{name}") for name in stage_names}
    curves = _temp_beside(target, "pass2-limiter")
    try:
        meter = LoudnessMeter(sr, channels)
        _pass_one(readers, total, block, sr, channels, ducker, meter, stages)
        integrated = meter.integrated()
        gain_db = target_lufs - integrated if normalize and math.isfinite(integrated) else 0.0
        ceiling = 10 ** ((peak_ceiling_db - _LIMITER_MARGIN_DB) / 20)
        with atomic_path(target) as out_tmp:
            passes = _MAX_PASSES if normalize else 1  # nothing to correct without a target
            for attempt in range(passes):
                final_lufs, peak_db, limited = _pass_two(
                    stages, out_tmp, curves, total, block, sr, channels, 10 ** (gain_db / 20),
                    ceiling, subtype, meter)
                error = target_lufs - final_lufs
                if not (math.isfinite(error) and _LOUDNESS_TOLERANCE < abs(error)
                        <= _MAX_CORRECTION) or attempt == passes - 1:
                    break
                gain_db += error  # the limiter took some loudness away: ask for it back
        if on_soundtrack is not None:
            on_soundtrack(target)
        stem_paths: dict[str, Path] = {}
        stem_peaks: dict[str, float] = {}
        if stems is not None and present:
            stem_paths = {layer: stems / f"stem_{layer}.wav" for layer in present}
            with contextlib.ExitStack() as outputs:
                stem_tmps = {k: outputs.enter_context(atomic_path(p))
                             for k, p in stem_paths.items()}
                stem_peaks = _write_stems(stages, stem_tmps, curves, limited, total, block,
                                          sr, channels, 10 ** (gain_db / 20),
                                          Limiter(ceiling, sr, channels).delay)
    finally:
        for reader in readers:
            reader.close()
        for stage in [*stages.values(), curves]:
            stage.unlink(missing_ok=True)
    if stems is not None:
        for layer in LAYERS:
            if layer not in stem_paths:
                (stems / f"stem_{layer}.wav").unlink(missing_ok=True)
    return MixReport(
        path=str(target),
        duration=total / sr,
        sample_rate=sr,
        channels=channels,
        integrated_lufs=final_lufs,
        peak_db=peak_db,
        gain_applied_db=gain_db,
        stems={k: str(p) for k, p in stem_paths.items()},
        stem_peak_db=stem_peaks,
        ducking_db=ducker.deepest_db if ducker else 0.0,
        normalized=normalize,
    )


def _pass_one(readers: list[TrackReader], total: int, block: int, sr: int, channels: int,
              ducker: Ducker | None, meter: LoudnessMeter, stages: dict[str, Path]) -> None:
    """Sum the layers block by block, duck the beds, meter the mix and write the stage(s).

    Frames are counted on the side-chain's clock ``p``; every layer leaves its delay line
    ``delay`` frames later, so output frame ``t`` is written when ``p = t + delay``.
    """
    delay = ducker.delay if ducker else 0
    layered = "mix" not in stages
    present = [layer for layer in LAYERS if any(r.layer == layer for r in readers)]
    lines = {layer: DelayLine(delay, channels) for layer in present}
    pending = list(readers)  # sorted by offset
    active: list[TrackReader] = []
    with contextlib.ExitStack() as stack:
        behind = stack.enter_context(WriteBehind())  # closed last: each writer drains it first
        writers = {name: stack.enter_context(WavWriter(path, sr, channels, "FLOAT", total,
                                                        behind))
                   for name, path in stages.items()}
        for p0 in range(0, total + delay, block):
            p1 = min(p0 + block, total + delay)
            n, r1 = p1 - p0, min(p1, total)
            while pending and pending[0].offset < r1:
                active.append(pending.pop(0))
            sums: dict[str, np.ndarray | None] = dict.fromkeys(present)
            still = []
            for reader in active:
                t0, t1 = max(p0, reader.offset), min(r1, reader.end)
                if t1 > t0:
                    buf = sums[reader.layer]
                    if buf is None:
                        buf = sums[reader.layer] = np.zeros((n, channels), dtype=np.float32)
                    buf[t0 - p0 : t1 - p0] += reader.read(t0 - reader.offset, t1 - t0)
                if reader.end > r1:
                    still.append(reader)
                else:
                    reader.close()
            active = still
            gain = ducker.gains(sums, n) if ducker else None
            skip = max(0, delay - p0)  # rows before timeline frame 0: the delay's pre-roll
            mix = None
            for layer in present:
                x = sums[layer]
                if x is None:
                    x = np.zeros((n, channels), dtype=np.float32)
                x = lines[layer].push(x)[skip:]
                if layer == "background" and gain is not None:
                    scale_rows(x, gain[skip:])  # in place: the delay line's output is fresh
                if layered:
                    writers[layer].write(x)
                mix = x if mix is None else mix + x
            if mix is None:
                mix = np.zeros((n - skip, channels), dtype=np.float32)
            meter.add(mix)
            if not layered:
                writers["mix"].write(mix)


def _gained_blocks(stages: dict[str, Path], block: int, gain: float, delay: int,
                   channels: int) -> Generator[dict[str, np.ndarray], None, None]:
    """The stage files read block by block, times ``gain``; then one block of silence per
    stage, ``delay`` frames long, to flush the limiter's delay line."""
    with contextlib.ExitStack() as stack:
        sources = {name: stack.enter_context(sf.SoundFile(path)) for name, path in stages.items()}
        while True:
            blocks = {name: f.read(block, dtype="float32", always_2d=True)
                      for name, f in sources.items()}
            if not len(next(iter(blocks.values()))):
                break
            yield {name: np.multiply(b, np.float32(gain), out=b) for name, b in blocks.items()}
    yield dict.fromkeys(stages, np.zeros((delay, channels), dtype=np.float32))


def _summed(parts: dict[str, np.ndarray]) -> np.ndarray:
    """The gained stage blocks summed in order (one stage: its block itself)."""
    blocks = iter(parts.values())
    mix = next(blocks)
    for more in blocks:
        mix = mix + more
    return mix


def _pass_two(stages: dict[str, Path], out: Path, curves: Path, total: int, block: int,
              sr: int, channels: int, gain: float, ceiling: float, subtype: str,
              pass_one: LoudnessMeter) -> tuple[float, float, list[int]]:
    """Master the stage(s) into ``out``; returns (LUFS, dBTP, indices of the limited blocks).

    The limiter's gain curve of every block it touched goes to ``curves`` (a mono float WAV,
    those blocks only, in order), for the stems. Where the limiter never acts, the output is
    pass one's mix times ``gain`` (nothing clips under the ceiling), so its loudness is pass
    one's, scaled. When it first acts, the output so far is metered (read again from the
    stages) and the meter follows the rest.
    """
    limiter = Limiter(ceiling, sr, channels)
    peak = ScreenedPeaks(channels)
    meter: LoudnessMeter | None = None  # made when the limiter first acts
    mix_line = DelayLine(limiter.delay, channels)
    to_skip = limiter.delay  # the limiter's first outputs are its pre-roll
    limited: list[int] = []
    with contextlib.ExitStack() as stack:
        behind = stack.enter_context(WriteBehind())  # closed last: each writer drains it first
        out_file = stack.enter_context(WavWriter(out, sr, channels, subtype, total, behind))
        curve_file = stack.enter_context(WavWriter(curves, sr, 1, "FLOAT", 0, behind))
        for index, parts in enumerate(_gained_blocks(stages, block, gain, limiter.delay,
                                                     channels)):
            x = _summed(parts)
            g = limiter.gain(x)
            y = mix_line.push(x)
            if not (g == 1.0).all():
                if meter is None:
                    meter = _metered_unlimited(stages, block, gain, limiter.delay, channels,
                                               sr, index)
                y = y.astype(np.float64)
                scale_rows(y, g)
                curve_file.write(g.astype(np.float32))
                limited.append(index)
            cut = min(to_skip, len(y))
            to_skip -= cut
            if cut < len(y):
                y = np.clip(y[cut:], -1.0, 1.0)
                if meter is not None:
                    meter.add(y)
                peak.envelope(y)
                out_file.write(y)
    if meter is None:  # the gain as applied, in float32
        return pass_one.integrated(gain=float(np.float32(gain))), peak.peak_db(), limited
    return meter.integrated(), peak.peak_db(), limited


def _metered_unlimited(stages: dict[str, Path], block: int, gain: float, delay: int,
                       channels: int, sr: int, count: int) -> LoudnessMeter:
    """A meter fed pass two's first ``count`` output blocks, which the limiter left alone:
    the same blocks, cut the same way, so it reads as if it had followed them."""
    meter = LoudnessMeter(sr, channels)
    mix_line = DelayLine(delay, channels)
    to_skip = delay
    blocks = _gained_blocks(stages, block, gain, delay, channels)
    for parts in itertools.islice(blocks, count):
        y = mix_line.push(_summed(parts))
        cut = min(to_skip, len(y))
        to_skip -= cut
        if cut < len(y):
            meter.add(np.clip(y[cut:], -1.0, 1.0))
    blocks.close()  # its files
    return meter


def _write_stems(stages: dict[str, Path], stem_outs: dict[str, Path], curves: Path,
                 limited: list[int], total: int, block: int, sr: int, channels: int,
                 gain: float, delay: int) -> dict[str, float]:
    """Write one stem per layer stage; returns their sample peaks (dBFS).

    The last pass two's limiter curves (``curves``, for the blocks in ``limited``) multiply
    every stem after the same ``delay`` as the mix, so the stems still add up to it.
    """
    stem_lines = {name: DelayLine(delay, channels) for name in stem_outs}
    stem_peaks = dict.fromkeys(stem_outs, 0.0)
    to_skip = delay
    touched = set(limited)
    with contextlib.ExitStack() as stack:
        curve_file = stack.enter_context(sf.SoundFile(curves))
        behind = stack.enter_context(WriteBehind())  # closed last: each writer drains it first
        stem_files = {name: stack.enter_context(WavWriter(path, sr, channels, STEM_SUBTYPE,
                                                          total, behind))
                      for name, path in stem_outs.items()}
        for index, parts in enumerate(_gained_blocks(stages, block, gain, delay, channels)):
            n = len(next(iter(parts.values())))
            g32 = curve_file.read(n, dtype="float32") if index in touched else None
            cut = min(to_skip, n)
            to_skip -= cut
            for name, part in parts.items():
                s = stem_lines[name].push(part)
                if g32 is not None:
                    scale_rows(s, g32)
                if cut < len(s):
                    s = s[cut:]
                    stem_peaks[name] = max(stem_peaks[name], float(np.abs(s).max()))
                    stem_files[name].write(s)
    return {k: 20 * math.log10(v) if v > 0 else -math.inf for k, v in stem_peaks.items()}
