"""Turn a recipe into normalised audio, block by block.

Beds are scaled so their first ``_CAL_SECONDS`` sit at -20 dBFS RMS (the whole clip when it
is shorter); foreground events are each scaled to a -3 dBFS peak. The raw signal is always
generated on the same internal block grid, so ``render_sound`` and ``render_to_wav`` give the
same samples, and a soft-knee saturator keeps every sample below 0 dBFS.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from lvas.tools.audio.audio_io import open_wav_writer
from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.paths import atomic_path
from lvas.tools.generation.procedural import dsp
from lvas.tools.generation.procedural.base import Recipe
from lvas.tools.generation.procedural.events import (
    Animal,
    Bell,
    Birds,
    Explosion,
    Footsteps,
    Impact,
    Machine,
    Thunder,
    Traffic,
    Whoosh,
)
from lvas.tools.generation.procedural.textures import (
    Alarm,
    Crowd,
    Engine,
    Fire,
    Hum,
    Insects,
    Music,
    Rain,
    RoomTone,
    Speech,
    Water,
    Wind,
)

RECIPE_FAMILIES: tuple[str, ...] = (
    "rain", "water", "wind", "thunder", "fire", "engine", "traffic", "crowd", "speech", "birds",
    "insects", "animal", "footsteps", "impact", "explosion", "machine", "bell", "alarm", "music",
    "whoosh", "hum", "room_tone",
)
_RECIPES: dict[str, type[Recipe]] = {
    cls.family: cls
    for cls in (
        Rain, Water, Wind, Thunder, Fire, Engine, Traffic, Crowd, Speech, Birds, Insects, Animal,
        Footsteps, Impact, Explosion, Machine, Bell, Alarm, Music, Whoosh, Hum, RoomTone,
    )
}
assert tuple(_RECIPES) == RECIPE_FAMILIES

LAYERS = ("background", "foreground")
BED_RMS_DBFS = -20.0
EVENT_PEAK_DBFS = -3.0
_CAL_SECONDS = 10.0  # how much of a bed sets its gain
_BLOCK_SECONDS = 2.0  # internal generation grid
_WINDOW_SECONDS = 10.0  # bed events are scheduled per window of this length
_KNEE = 10 ** (-2.0 / 20)  # the saturator leaves anything below -2 dBFS untouched
_CEIL = 0.98
_RETRIGGER_FADE = 0.02  # seconds, as long as the default event attack


def _soft_limit(x: np.ndarray) -> np.ndarray:
    mag = np.abs(x)
    over = mag > _KNEE
    if np.any(over):
        squashed = _KNEE + (_CEIL - _KNEE) * np.tanh((mag[over] - _KNEE) / (_CEIL - _KNEE))
        x = x.copy()
        x[over] = np.sign(x[over]) * squashed
    return x


def _level(intensity: float) -> float:
    """Quieter below intensity 1 (-3 dB at 0.5, -10 dB at 0.1); never louder than nominal."""
    return math.sqrt(min(max(intensity, 0.1), 1.0))


class _EventTrack:
    """Lazily renders scheduled events and overlap-adds them into consecutive blocks."""

    def __init__(self, recipe: Recipe, times: Iterator[tuple[float, tuple[int, ...]]], scale,
                 retrigger: bool = False):
        self._recipe = recipe
        self._retrigger = retrigger
        self._times = times
        self._scale = scale  # callable(rng) -> gain applied to the peak-normalised event
        self._next = next(times, None)
        self._active: list[tuple[int, np.ndarray]] = []

    def _cut_at(self, s_new: int) -> None:
        """Fade out what is still sounding when the same source starts again."""
        fade = max(int(_RETRIGGER_FADE * self._recipe.sr), 1)
        cut = []
        for s0, wave in self._active:
            at = s_new - s0
            if at < len(wave):
                wave = wave[: at + fade].copy()
                tail = len(wave) - at
                # cos^2 is the complement of the events' raised-cosine attack: no bump.
                wave[at:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(tail) / fade)
            cut.append((s0, wave))
        self._active = cut

    def add_into(self, out: np.ndarray, start: int) -> None:
        end = start + len(out)
        sr = self._recipe.sr
        while self._next is not None and int(round(self._next[0] * sr)) < end:
            when, key = self._next
            rng = dsp.keyed_rng(self._recipe.key, 5, *key)
            wave = self._recipe.event(rng)
            peak = float(np.max(np.abs(wave))) if len(wave) else 0.0
            if peak > 0 and np.isfinite(peak):
                gain = self._scale(dsp.keyed_rng(self._recipe.key, 6, *key)) / peak
                s_new = int(round(when * sr))
                if self._retrigger:
                    self._cut_at(s_new)
                self._active.append((s_new, wave * gain))
            self._next = next(self._times, None)
        keep = []
        for s0, wave in self._active:
            lo, hi = max(s0, start), min(s0 + len(wave), end)
            if hi > lo:
                out[lo - start : hi - start] += wave[lo - s0 : hi - s0]
            if s0 + len(wave) > end:
                keep.append((s0, wave))
        self._active = keep


def _bed_schedule(recipe: Recipe, total: int) -> Iterator[tuple[float, tuple[int, ...]]]:
    end = total / recipe.sr
    window = 0
    while window * _WINDOW_SECONDS < end:
        t0 = window * _WINDOW_SECONDS
        rng = dsp.keyed_rng(recipe.key, 4, window)
        times = recipe.bed_times(t0, t0 + _WINDOW_SECONDS, rng)
        for i, when in enumerate(times):
            if 0 <= when < end:
                yield float(when), (window, i)
        window += 1


def _raw_blocks(recipe: Recipe, total: int, block: int, layer: str,
                onsets: Sequence[float]) -> Iterator[np.ndarray]:
    if layer == "background":
        events = _EventTrack(
            recipe,
            _bed_schedule(recipe, total),
            lambda rng: recipe.bed_event_gain * 10 ** (rng.uniform(-4.0, 0.0) / 20),
        )
    else:
        fg = [(float(t), (i,)) for i, t in enumerate(sorted(onsets))]
        events = _EventTrack(
            recipe, iter(fg), lambda rng: 10 ** (EVENT_PEAK_DBFS / 20), recipe.retrigger
        )
    for start in range(0, total, block):
        n = min(block, total - start)
        out = recipe.texture(start, n) if layer == "background" else np.zeros(n)
        events.add_into(out, start)
        yield out


def _bed_gain(head: np.ndarray) -> float:
    """Gain that puts ``head`` at the bed RMS *after* the saturator (matters for peaky beds)."""
    target = 10 ** (BED_RMS_DBFS / 20)
    rms = float(np.sqrt(np.mean(head**2)))
    if not (rms > 1e-12 and np.isfinite(rms)):
        return 0.0
    gain = first = target / rms
    for _ in range(4):
        got = float(np.sqrt(np.mean(_soft_limit(head * gain) ** 2)))
        if got <= 0 or abs(got / target - 1) < 0.02:
            break
        gain = min(gain * target / got, 4.0 * first)
    return gain


def _validate(family: str, duration: float, sample_rate: int, layer: str) -> int:
    if family not in _RECIPES:
        raise LVASInputError(
            f"Unknown sound family {family!r}; choose one of: {', '.join(RECIPE_FAMILIES)}."
        )
    if layer not in LAYERS:
        raise LVASInputError(f"Unknown layer {layer!r}; use 'background' or 'foreground'.")
    if not math.isfinite(duration) or duration < 0:
        raise LVASInputError(f"Duration must be a finite number of seconds >= 0, got {duration}.")
    if int(sample_rate) < 8000:
        raise LVASInputError(f"Sample rate must be at least 8000 Hz, got {sample_rate}.")
    return int(round(duration * sample_rate))


def iter_blocks(
    family: str,
    duration: float,
    sample_rate: int = 48000,
    seed: int = 0,
    *,
    layer: str = "background",
    onsets: Sequence[float] = (),
    intensity: float = 1.0,
    block_seconds: float = _BLOCK_SECONDS,
) -> Iterator[np.ndarray]:
    """Normalised float32 mono blocks that together make the clip."""
    total = _validate(family, duration, sample_rate, layer)
    sr = int(sample_rate)
    block = max(int(block_seconds * sr), 1)
    if total == 0:
        return
    if not intensity > 0:
        for start in range(0, total, block):
            yield np.zeros(min(block, total - start), dtype=np.float32)
        return
    recipe = _RECIPES[family](sr, seed, intensity)
    level = _level(intensity)
    if layer == "foreground":
        clip_end = total / sr
        picked = [t for t in onsets if math.isfinite(t) and 0 <= t < clip_end]
        if not onsets:
            picked = list(recipe.auto_onsets(clip_end, dsp.keyed_rng(recipe.key, 3)))
        for raw in _raw_blocks(recipe, total, block, layer, picked):
            yield _soft_limit(raw * level).astype(np.float32)
        return
    raw_iter = _raw_blocks(recipe, total, block, layer, ())
    cal_frames = min(total, int(_CAL_SECONDS * sr))
    head: list[np.ndarray] = []
    have = 0
    for raw in raw_iter:
        head.append(raw)
        have += len(raw)
        if have >= cal_frames:
            break
    joined = np.concatenate(head)
    gain = _bed_gain(joined[:cal_frames])
    for raw in head:
        yield _soft_limit(raw * (gain * level)).astype(np.float32)
    for raw in raw_iter:
        yield _soft_limit(raw * (gain * level)).astype(np.float32)


def render_sound(
    family: str,
    duration: float,
    sample_rate: int = 48000,
    seed: int = 0,
    *,
    layer: str = "background",
    onsets: Sequence[float] = (),
    intensity: float = 1.0,
) -> np.ndarray:
    """Render a clip of one sound family as float32 mono, ``round(duration * rate)`` long.

    Same arguments, same samples. Beds are continuous textures at about -20 dBFS RMS;
    the foreground layer holds discrete events at ``onsets`` (seconds) peaking near -3 dBFS.
    ``intensity`` scales how dense and busy the sound is, and lowers the level below 1.
    """
    total = _validate(family, duration, sample_rate, layer)
    out = np.zeros(total, dtype=np.float32)
    pos = 0
    for block in iter_blocks(family, duration, sample_rate, seed, layer=layer, onsets=onsets,
                             intensity=intensity):
        out[pos : pos + len(block)] = block
        pos += len(block)
    return out


def render_to_wav(
    path: str | os.PathLike[str],
    family: str,
    duration: float,
    sample_rate: int = 48000,
    seed: int = 0,
    *,
    layer: str = "background",
    onsets: Sequence[float] = (),
    intensity: float = 1.0,
    subtype: str = "FLOAT",
) -> Path:
    """Stream a clip into a mono WAV (written under a temporary name, then renamed).

    Memory stays flat however long the clip: blocks of a few seconds are generated with
    their filter state carried over, so the joins are seamless.
    """
    total = _validate(family, duration, sample_rate, layer)
    target = Path(path)
    with atomic_path(target) as tmp:
        with open_wav_writer(tmp, sample_rate, 1, subtype, frames_hint=total) as wav:
            for block in iter_blocks(family, duration, sample_rate, seed, layer=layer,
                                     onsets=onsets, intensity=intensity):
                wav.write(block)
    return target
