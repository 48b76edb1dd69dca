"""Continuous floors under beds: real ambience never falls to digital silence.

A bed made of intermittent sources (birds, footsteps, a voice, a bell) sits on a floor of the
place it belongs to (leaves and air under birds, a night floor under insects, room tone under a
voice). ``render`` mixes the floor in at a level tied to the bed's own median level, so the bed
never drops more than about 15-18 dB under its median however sparse its events are.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from lvas.tools.generation.procedural import dsp

# kind: (high-pass Hz, low-pass Hz, level of the extra band against the pink body)
_SHAPES = {
    "air": (40.0, 7000.0, 0.0),
    "leaves": (150.0, 9000.0, 0.25),  # rustle: a bright band that breathes with the breeze
    "night": (30.0, 2500.0, 0.04),  # distant air and the faint hiss of far insects
    "room": (30.0, 5000.0, 0.6),  # air of a room and the low rumble of the building
    "street": (30.0, 900.0, 0.0),  # the far wash of a city
}
_EXTRA_BANDS = {"leaves": (1800.0, 7000.0), "night": (4500.0, 9000.0), "room": (0.0, 70.0)}
FLOOR_KINDS = tuple(_SHAPES)


def _body_sos(kind: str, sr: int) -> np.ndarray:
    low, cut, _ = _SHAPES[kind]
    return np.vstack([dsp.PINK_SOS, dsp.highpass(low, sr), dsp.lowpass(cut, sr)])


def _extra_sos(kind: str, sr: int) -> np.ndarray | None:
    band = _EXTRA_BANDS.get(kind)
    if band is None:
        return None
    return dsp.lowpass(band[1], sr) if band[0] <= 0 else dsp.bandpass(band[0], band[1], sr)


@lru_cache(maxsize=64)
def _unit_scale(kind: str, sr: int) -> float:
    """The gain to unit RMS, measured on a fixed second of white noise through the kind's
    filters; once per process, as every floor of every bed and window asks for it."""
    body, extra = _body_sos(kind, sr), _extra_sos(kind, sr)
    white = np.random.default_rng(0).standard_normal(sr)
    probe = dsp.filt(body, white)
    if extra is not None:
        probe = probe + _SHAPES[kind][2] * dsp.filt(extra, white)
    return 1.0 / max(float(np.sqrt(np.mean(probe[sr // 4 :] ** 2))), 1e-12)


class Floor:
    """One channel of a floor, streamable: ``texture(start, n)`` over consecutive ranges.

    ``key`` draws the slow level curve (shared by both channels); ``noise_key`` the noise
    (one per channel, so a stereo floor is decorrelated). Output is about unit RMS.
    """

    def __init__(self, kind: str, sample_rate: int, key: int, noise_key: int) -> None:
        if kind not in _SHAPES:
            raise ValueError(f"unknown floor kind {kind!r}; use one of {FLOOR_KINDS}")
        sr = self.sr = int(sample_rate)
        self.kind = kind
        self.src = dsp.Chunked(noise_key, 901)
        self.swell = dsp.Control(key, 902, 0.12, sr)
        self.gust = dsp.Control(key, 903, 0.6, sr)
        self.extra_gain = _SHAPES[kind][2]
        body, extra = _body_sos(kind, sr), _extra_sos(kind, sr)
        self.body = dsp.Filter(body)
        self.extra = dsp.Filter(extra) if extra is not None else None
        self.scale = _unit_scale(kind, sr)

    def texture(self, start: int, n: int) -> np.ndarray:
        white = self.src.read(start, n)
        out = self.body(white)
        if self.extra is not None:
            extra = self.extra_gain * self.extra(white)
            if self.kind == "leaves":
                extra *= np.exp(0.3 * self.gust.read(start, n) - 0.09)  # unit mean square
            out = out + extra
        return self.scale * out * (1.0 + 0.05 * self.swell.read(start, n))
