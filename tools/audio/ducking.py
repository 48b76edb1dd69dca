"""Ducking: the side-chain that lowers the background layer under speech and loud events.

The side-chain listens ``lookahead`` ahead of the bed: the mixer passes every layer through a
``DelayLine`` of ``Ducker.delay`` frames while the ducker reads the undelayed layers, so the
duck is in place before a word starts and the output timing is unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from lvas.tools.audio.sources import LAYERS
from lvas.tools.common.errors import LVASInputError

_HOP_SECONDS = 0.01  # side-chain resolution: one gain point per hop, linear in between
_RMS_HOPS = 5  # the side-chain's RMS window: 5 hops = 50 ms
_KNEE_DB = 6.0  # a duck deepens gradually over this range above its threshold


@dataclass(frozen=True)
class DuckingSettings:
    """How the background layer makes room for speech and strong foreground events.

    ``attack`` and ``release`` are the times the duck takes to cover 90 % of a change;
    ``lookahead`` (rounded up to 10 ms) is how far ahead of the bed the side-chain listens.
    Speech louder than ``speech_threshold_db`` (50 ms RMS, dBFS, before mastering) ducks the
    bed by ``speech_depth_db``. A foreground event louder than ``foreground_threshold_db``
    ducks it only as much as needed to stand ``foreground_margin_db`` above the bed, never
    deeper than ``foreground_depth_db``.
    """

    enabled: bool = True
    speech_depth_db: float = -9.0
    foreground_depth_db: float = -4.0
    attack: float = 0.05
    release: float = 0.4
    lookahead: float = 0.05
    speech_threshold_db: float = -45.0
    foreground_threshold_db: float = -40.0
    foreground_margin_db: float = 6.0

    def check(self) -> None:
        """Raise LVASInputError for settings that cannot make a sensible duck."""
        for name in ("speech_depth_db", "foreground_depth_db", "attack", "release", "lookahead",
                     "speech_threshold_db", "foreground_threshold_db", "foreground_margin_db"):
            if not math.isfinite(getattr(self, name)):
                raise LVASInputError(f"Ducking {name} must be a finite number.")
        if not (-60.0 <= self.speech_depth_db <= 0 and -60.0 <= self.foreground_depth_db <= 0):
            raise LVASInputError("Ducking depths are reductions: use dB between -60 and 0.")
        if not (0 < self.attack <= 5 and 0 < self.release <= 10):
            raise LVASInputError("Ducking attack must lie in (0, 5] s and release in (0, 10] s.")
        if not 0 <= self.lookahead <= 1:
            raise LVASInputError("Ducking lookahead must lie between 0 and 1 second.")
        if self.foreground_margin_db < 0:
            raise LVASInputError("Ducking foreground_margin_db must be >= 0 dB.")


class DelayLine:
    """Delays a stream of (frames, channels) blocks by a fixed number of frames.

    Public: the mixer delays every layer by the ducker's look-ahead, and the mix and its stems
    by the limiter's.
    """

    def __init__(self, delay: int, channels: int) -> None:
        self.delay = delay
        self._tail = np.zeros((delay, channels), dtype=np.float32)

    def push(self, x: np.ndarray) -> np.ndarray:
        if not self.delay:
            return x
        ext = np.concatenate([self._tail, x])
        self._tail = ext[len(ext) - self.delay :].copy()
        return ext[: len(x)]


class Ducker:
    """Side-chain gain for the background layer, block by block with carried state.

    Per 10 ms hop: the 50 ms RMS of the speech, foreground and background layers gives a
    target reduction in dB, smoothed by a one-pole filter that is fast going down (attack) and
    slow coming back (release); gain points sit at hop ends with straight lines between them,
    so the curve is continuous. The curve returned for side-chain frame ``p`` is meant for
    background frame ``p - delay``: the caller delays every layer by ``delay`` frames, which
    lets the duck start ``lookahead`` before the sound that causes it.

    Public: the mixer's first pass (tools/mixing.py) drives it.
    """

    def __init__(self, settings: DuckingSettings, sample_rate: int, channels: int) -> None:
        self.settings = settings
        self.hop = max(int(round(_HOP_SECONDS * sample_rate)), 1)
        hop_s = self.hop / sample_rate
        self.delay = self.hop * math.ceil(settings.lookahead / hop_s - 1e-9)
        self._attack = 1.0 - 0.1 ** (hop_s / settings.attack)
        self._release = 1.0 - 0.1 ** (hop_s / settings.release)
        self._ramp = ((np.arange(self.hop) + 1) / self.hop).astype(np.float32)
        self._tails = {layer: np.zeros(_RMS_HOPS - 1) for layer in LAYERS}
        self._state_db = 0.0
        self._last_gain = 1.0
        self.deepest_db = 0.0

    def _level_db(self, layer: str, x: np.ndarray | None, hops: int) -> np.ndarray:
        """50 ms RMS level (dBFS, channels averaged in power) at the end of every hop."""
        if x is None:
            power = np.zeros(hops)
        else:
            if len(x) < hops * self.hop:  # the last block: complete its last hop with silence
                x = np.concatenate([x, np.zeros((hops * self.hop - len(x), x.shape[1]), x.dtype)])
            flat = x.reshape(hops, -1)
            power = np.einsum("ij,ij->i", flat, flat).astype(np.float64) / flat.shape[1]
        ext = np.concatenate([self._tails[layer], power])
        self._tails[layer] = ext[hops:]
        csum = np.concatenate([[0.0], np.cumsum(ext)])
        mean = (csum[_RMS_HOPS:] - csum[:-_RMS_HOPS]) / _RMS_HOPS
        return 10.0 * np.log10(np.maximum(mean, 1e-12))

    def _smooth(self, target: np.ndarray) -> np.ndarray:
        state = self._state_db
        if state == 0.0 and not target.any():
            return np.zeros(len(target))
        attack, release = self._attack, self._release
        out = []
        for goal in target.tolist():
            state += (attack if goal < state else release) * (goal - state)
            if goal == 0.0 and state > -1e-4:
                state = 0.0  # released: back on the fast path
            out.append(state)
        self._state_db = state
        return np.array(out)

    def gains(self, layers: Mapping[str, np.ndarray | None], n: int) -> np.ndarray | None:
        """Gain for the ``n`` frames of this block, or ``None`` where it is 1 throughout."""
        s = self.settings
        hops = -(-n // self.hop)
        target = np.zeros(hops)
        speech = self._level_db("speech", layers.get("speech"), hops)
        target = np.minimum(target, s.speech_depth_db * np.clip(
            (speech - s.speech_threshold_db) / _KNEE_DB, 0.0, 1.0))
        fore = self._level_db("foreground", layers.get("foreground"), hops)
        bed = self._level_db("background", layers.get("background"), hops)
        needed = np.clip(s.foreground_margin_db - (fore - bed), 0.0, -s.foreground_depth_db)
        strong = np.clip((fore - s.foreground_threshold_db) / _KNEE_DB, 0.0, 1.0)
        target = np.minimum(target, -needed * strong)
        smooth = self._smooth(target)
        if self._last_gain == 1.0 and not smooth.any():
            return None
        self.deepest_db = min(self.deepest_db, float(smooth.min()))
        points = (10.0 ** (smooth / 20.0)).astype(np.float32)
        prev = np.empty_like(points)
        prev[0] = self._last_gain
        prev[1:] = points[:-1]
        self._last_gain = float(points[-1])
        curve = prev[:, None] + (points - prev)[:, None] * self._ramp[None, :]
        return curve.reshape(-1)[:n]
