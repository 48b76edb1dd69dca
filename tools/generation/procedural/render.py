"""Turn a recipe into normalised audio, block by block.

Beds are scaled so their first ``_CAL_SECONDS`` sit at -20 dBFS RMS (the whole clip when it
is shorter); foreground events are each scaled to a -3 dBFS peak. The raw signal is always
generated on the same internal block grid, so ``render_sound`` and ``render_to_wav`` give the
same samples, and a soft-knee saturator keeps every sample below 0 dBFS.

A bed keeps a floor: its family's own (``Recipe.floor_db``, ``floors``), or, for a family that
would otherwise fall silent in its first seconds, a generic air floor; either sits at a fixed
level under the bed's median 0.4 s level. A stereo bed draws an independent texture per channel
for diffuse sources and pans its events, so its channels are decorrelated while their sum is
the plain sum of two like textures (nothing cancels in mono). A bed of several parts (a
compound: ``compound.parts_of``) mixes each part's normalised bed at its gain, then
normalises the sum.
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
from lvas.tools.generation.procedural.compound import Part
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
from lvas.tools.generation.procedural.floors import Floor
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
FLOOR_WINDOW = 0.4  # seconds: the window a bed's level is judged on
_GENERIC_FLOOR_DB = -15.0  # the air floor under a family that falls silent without one
_FALLS_SILENT_DB = -12.0  # quietest head window this far under the median: add that floor
_WIDTH = 0.18  # crossfeed of the other channel's texture: correlation about 2w / (1 + w^2)
_EVENT_SPREAD = 0.7  # bed events are panned within +-this (-1 left .. +1 right)
_REFLECTIONS = 10  # early reflections per channel under a stereo bed's events
_REFLECTION_SPAN = (0.004, 0.07)  # seconds after the direct sound
_REFLECTION_LEVEL = 0.8  # their energy against the direct sound's


def _soft_limit(x: np.ndarray) -> np.ndarray:
    if x.size and max(float(x.max()), -float(x.min())) <= _KNEE:
        return x  # nothing reaches the knee (most blocks): found without temporaries
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
                 retrigger: bool = False, channels: int = 1):
        self._recipe = recipe
        self._retrigger = retrigger
        self._channels = channels
        self._times = times
        self._scale = scale  # callable(rng) -> gain applied to the peak-normalised event
        self._next = next(times, None)
        self._active: list[tuple[int, np.ndarray]] = []
        self._taps = [self._reflections(c) for c in range(channels)] if channels > 1 else []

    def _reflections(self, channel: int) -> tuple[np.ndarray, np.ndarray]:
        """Sparse early reflections of the place, its own per channel: a stereo bed's events
        reach the two ears by different paths, so they are not one panned copy (which would
        keep the channels fully correlated) while the direct sound stays mono-compatible."""
        rng = dsp.keyed_rng(self._recipe.key, 8, channel)
        sr = self._recipe.sr
        lo, hi = (int(t * sr) for t in _REFLECTION_SPAN)
        delays = np.sort(rng.integers(lo, hi, _REFLECTIONS))
        gains = rng.choice((-1.0, 1.0), _REFLECTIONS) * np.exp(-3.0 * (delays - lo) / (hi - lo))
        gains *= math.sqrt(_REFLECTION_LEVEL / float(np.sum(gains**2)))
        return delays, gains

    def _spatial(self, wave: np.ndarray, key: tuple[int, ...]) -> np.ndarray:
        """(frames, channels) of one event: panned direct sound plus its reflections."""
        if self._channels == 1:
            return wave[:, None]
        pan = self._pan(key)
        longest = max(int(delays.max()) for delays, _ in self._taps)
        out = np.zeros((len(wave) + longest, self._channels))
        for c, (delays, gains) in enumerate(self._taps):
            out[: len(wave), c] = pan[c] * wave
            for d, g in zip(delays, gains, strict=True):
                out[d : d + len(wave), c] += g * wave
        return out

    def _pan(self, key: tuple[int, ...]) -> np.ndarray:
        """Channel gains of one event: centred in mono, spread across a stereo bed."""
        if self._channels == 1:
            return np.ones(1)
        pan = dsp.keyed_rng(self._recipe.key, 7, *key).uniform(-_EVENT_SPREAD, _EVENT_SPREAD)
        theta = (pan + 1.0) * math.pi / 4
        return math.sqrt(2.0) * np.array([math.cos(theta), math.sin(theta)])

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
                wave[at:] *= (0.5 + 0.5 * np.cos(np.pi * np.arange(tail) / fade))[:, None]
            cut.append((s0, wave))
        self._active = cut

    def add_into(self, out: np.ndarray, start: int) -> None:
        """Add the events sounding in ``out`` (frames, channels) starting at ``start``."""
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
                self._active.append((s_new, self._spatial(wave * gain, key)))
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


def _event_blocks(recipe: Recipe, total: int, block: int,
                  onsets: Sequence[float]) -> Iterator[np.ndarray]:
    """The foreground layer: events at ``onsets``, each peaking at the event level (mono)."""
    fg = [(float(t), (i,)) for i, t in enumerate(sorted(onsets))]
    events = _EventTrack(
        recipe, iter(fg), lambda rng: 10 ** (EVENT_PEAK_DBFS / 20), recipe.retrigger
    )
    for start in range(0, total, block):
        out = np.zeros((min(block, total - start), 1))
        events.add_into(out, start)
        yield out[:, 0]


def _texture_blocks(recipe: Recipe, total: int, block: int,
                    channels: int) -> Iterator[np.ndarray]:
    """A bed's textures and events, (frames, channels), without its floor."""
    sr, seed, intensity = recipe.sr, recipe.seed, recipe.intensity
    own = channels == 2 and recipe.stereo == "own"
    textures = [recipe]
    if channels == 2 and recipe.stereo == "twin":
        textures.append(type(recipe)(sr, seed, intensity, channel=1, variant=recipe.variant))
    events = _EventTrack(
        recipe,
        _bed_schedule(recipe, total),
        lambda rng: recipe.bed_event_gain * 10 ** (rng.uniform(-4.0, 0.0) / 20),
        channels=channels,
    )
    for start in range(0, total, block):
        n = min(block, total - start)
        out = np.empty((n, channels))
        if own:
            out[:] = recipe.texture_stereo(start, n)
            events.add_into(out, start)
            yield out
            continue
        first = textures[0].texture(start, n)
        if len(textures) == 2:
            second = textures[1].texture(start, n)
            out[:, 0] = first + _WIDTH * second
            out[:, 1] = second + _WIDTH * first
        else:
            out[:] = first[:, None]
        events.add_into(out, start)
        yield out


def window_levels(x: np.ndarray, sample_rate: int, seconds: float = FLOOR_WINDOW) -> np.ndarray:
    """RMS of consecutive ``seconds`` windows (power averaged over channels); one window when
    the clip is shorter. The measure the floor rule is stated in."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        power = x**2
    elif x.shape[1] == 2:  # np.mean(x**2, axis=1)'s very sums, column by column: 6x faster
        power = (x[:, 0] ** 2 + x[:, 1] ** 2) / 2
    else:
        power = np.mean(x**2, axis=1)
    n = max(int(round(seconds * sample_rate)), 1)
    k = len(power) // n
    if k == 0:
        return np.sqrt(np.array([float(np.mean(power))])) if len(power) else np.zeros(1)
    return np.sqrt(power[: k * n].reshape(k, n).mean(axis=1))


def _bed_blocks(recipe: Recipe, total: int, block: int, channels: int) -> Iterator[np.ndarray]:
    """A bed with its floor, (frames, channels), not yet normalised.

    The floor's level is set from the head (the first ``_CAL_SECONDS``), the same stretch the
    bed's gain comes from, so it is the same however the caller cuts the blocks.
    """
    raw_iter = _texture_blocks(recipe, total, block, channels)
    cal_frames = min(total, int(_CAL_SECONDS * recipe.sr))
    head: list[np.ndarray] = []
    have = 0
    for raw in raw_iter:
        head.append(raw)
        have += len(raw)
        if have >= cal_frames:
            break
    joined = np.concatenate(head)[:cal_frames]
    levels = window_levels(joined, recipe.sr)
    # A bed silent in most windows (sparse steps) has a median of nothing: its RMS stands in.
    median = max(float(np.median(levels)), 0.3 * float(np.sqrt(np.mean(joined**2))))
    floor_db, kind = recipe.floor_db, recipe.floor_kind
    if floor_db is None and float(np.min(levels)) < median * 10 ** (_FALLS_SILENT_DB / 20):
        floor_db, kind = _GENERIC_FLOOR_DB, "air"
    if floor_db is None or not median > 0:
        yield from head
        yield from raw_iter
        return
    floors = [Floor(kind, recipe.sr, recipe.key, recipe.channel_key(c)) for c in range(channels)]
    amp = median * 10 ** (floor_db / 20)
    start = 0
    for raw in _chain(head, raw_iter):
        n = len(raw)
        for c, floor in enumerate(floors):
            raw[:, c] += amp * floor.texture(start, n)
        start += n
        yield raw


def _chain(head: list[np.ndarray], rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield from head
    yield from rest


def _bed_gain(head: np.ndarray) -> float:
    """Gain that puts ``head`` at the bed RMS *after* the saturator (matters for peaky beds)."""
    target = 10 ** (BED_RMS_DBFS / 20)
    rms = float(np.sqrt(np.mean(head**2)))
    if not (rms > 1e-12 and np.isfinite(rms)):
        return 0.0
    gain = first = target / rms
    if max(float(head.max()), -float(head.min())) * first <= _KNEE:
        return first  # the saturator leaves the scaled head as it is: the first gain holds
    for _ in range(4):
        got = float(np.sqrt(np.mean(_soft_limit(head * gain) ** 2)))
        if got <= 0 or abs(got / target - 1) < 0.02:
            break
        gain = min(gain * target / got, 4.0 * first)
    return gain


def _normalised(blocks: Iterator[np.ndarray], total: int, sr: int) -> Iterator[np.ndarray]:
    """Blocks scaled so the head sits at the bed RMS after the saturator."""
    cal_frames = min(total, int(_CAL_SECONDS * sr))
    head: list[np.ndarray] = []
    have = 0
    for raw in blocks:
        head.append(raw)
        have += len(raw)
        if have >= cal_frames:
            break
    gain = _bed_gain(np.concatenate(head)[:cal_frames])
    for raw in _chain(head, blocks):
        yield raw * gain


def _mixed(streams: list[tuple[Iterator[np.ndarray], float]]) -> Iterator[np.ndarray]:
    """The sum of block-aligned streams, each at its gain."""
    for blocks in zip(*(stream for stream, _ in streams), strict=True):
        out = blocks[0] * streams[0][1]
        for b, (_, g) in zip(blocks[1:], streams[1:], strict=True):
            out += b * g
        yield out


def _validate(family: str, duration: float, sample_rate: int, layer: str,
              channels: int = 1, parts: Sequence[Part] | None = None) -> int:
    for name in [family, *(p.family for p in parts or ())]:
        if name not in _RECIPES:
            raise LVASInputError(
                f"Unknown sound family {name!r}; choose one of: {', '.join(RECIPE_FAMILIES)}."
            )
    if layer not in LAYERS:
        raise LVASInputError(f"Unknown layer {layer!r}; use 'background' or 'foreground'.")
    if not math.isfinite(duration) or duration < 0:
        raise LVASInputError(f"Duration must be a finite number of seconds >= 0, got {duration}.")
    if int(sample_rate) < 8000:
        raise LVASInputError(f"Sample rate must be at least 8000 Hz, got {sample_rate}.")
    if channels not in (1, 2):
        raise LVASInputError(f"Procedural sounds are mono or stereo; got channels={channels}.")
    return int(round(duration * sample_rate))


def _shape(block: np.ndarray, channels: int) -> np.ndarray:
    return (block[:, 0] if channels == 1 and block.ndim == 2 else block).astype(np.float32)


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
    channels: int = 1,
    parts: Sequence[Part] | None = None,
) -> Iterator[np.ndarray]:
    """Normalised float32 blocks that together make the clip: ``(frames,)`` when mono,
    ``(frames, 2)`` when stereo (beds only: events stay mono point sources).

    ``parts`` (from ``compound.parts_of``) mixes several families into one bed; without it
    the clip is ``family`` alone. A foreground layer renders the first part's events.
    """
    total = _validate(family, duration, sample_rate, layer, channels, parts)
    sr = int(sample_rate)
    block = max(int(block_seconds * sr), 1)
    mix = list(parts) if parts else [Part(family)]
    if layer == "foreground":
        channels = 1
    if total == 0:
        return
    if not intensity > 0:
        for start in range(0, total, block):
            n = min(block, total - start)
            yield np.zeros((n, channels) if channels > 1 else n, dtype=np.float32)
        return
    level = _level(intensity)
    if layer == "foreground":
        main = mix[0]
        recipe = _RECIPES[main.family](sr, seed, intensity, variant=main.variant)
        clip_end = total / sr
        picked = [t for t in onsets if math.isfinite(t) and 0 <= t < clip_end]
        if not onsets:
            picked = list(recipe.auto_onsets(clip_end, dsp.keyed_rng(recipe.key, 3)))
        for raw in _event_blocks(recipe, total, block, picked):
            yield _soft_limit(raw * level).astype(np.float32)
        return
    streams = []
    for part in mix:
        recipe = _RECIPES[part.family](sr, seed, intensity, variant=part.variant)
        streams.append((_normalised(_bed_blocks(recipe, total, block, channels), total, sr),
                        10 ** (part.gain_db / 20)))
    out = streams[0][0] if len(streams) == 1 else _normalised(_mixed(streams), total, sr)
    for raw in out:
        yield _shape(_soft_limit(raw * level), channels)


def render_sound(
    family: str,
    duration: float,
    sample_rate: int = 48000,
    seed: int = 0,
    *,
    layer: str = "background",
    onsets: Sequence[float] = (),
    intensity: float = 1.0,
    channels: int = 1,
    parts: Sequence[Part] | None = None,
) -> np.ndarray:
    """Render a clip of one sound family (or a mix of ``parts``) as float32,
    ``round(duration * rate)`` frames, shaped ``(frames,)`` or, for a stereo bed,
    ``(frames, 2)``.

    Same arguments, same samples. Beds are continuous textures at about -20 dBFS RMS;
    the foreground layer holds discrete events at ``onsets`` (seconds) peaking near -3 dBFS.
    ``intensity`` scales how dense and busy the sound is, and lowers the level below 1.
    """
    total = _validate(family, duration, sample_rate, layer, channels, parts)
    width = channels if layer == "background" else 1
    out = np.zeros((total, width) if width > 1 else total, dtype=np.float32)
    pos = 0
    for block in iter_blocks(family, duration, sample_rate, seed, layer=layer, onsets=onsets,
                             intensity=intensity, channels=channels, parts=parts):
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
    channels: int = 1,
    parts: Sequence[Part] | None = None,
) -> Path:
    """Stream a clip into a WAV (written under a temporary name, then renamed); stereo for
    a bed when ``channels`` is 2, mono otherwise.

    Memory stays flat however long the clip: blocks of a few seconds are generated with
    their filter state carried over, so the joins are seamless.
    """
    total = _validate(family, duration, sample_rate, layer, channels, parts)
    width = channels if layer == "background" else 1
    target = Path(path)
    with atomic_path(target) as tmp:
        with open_wav_writer(tmp, sample_rate, width, subtype, frames_hint=total) as wav:
            for block in iter_blocks(family, duration, sample_rate, seed, layer=layer,
                                     onsets=onsets, intensity=intensity, channels=channels,
                                     parts=parts):
                wav.write(block)
    return target
