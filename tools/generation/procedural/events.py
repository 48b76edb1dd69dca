"""Families made of discrete events over a quiet floor: hits, calls, strikes, passes."""

from __future__ import annotations

from typing import Any

import numpy as np

from lvas.tools.generation.procedural import dsp
from lvas.tools.generation.procedural.base import Recipe


class _Floor(Recipe):
    """Shared quiet ambience under sparse events, so a bed is never digital silence."""

    floor_level = 0.01
    floor_cut = 4000.0
    retrigger = False  # hits and calls ring on under the next one

    def setup(self) -> None:
        self.floor = self.noise(99)
        sr = self.sr
        self.floor_f = dsp.Filter(
            np.vstack([dsp.PINK_SOS, dsp.lowpass(self.floor_cut, sr), dsp.highpass(40, sr)])
        )
        self.setup_events()

    def setup_events(self) -> None:
        """Draw the constants the events share (pitch of the bell, pace of the walker)."""

    def texture(self, start: int, n: int) -> np.ndarray:
        if self.floor_db is not None:  # the bed's own floor (``floors``) lies under the events
            return np.zeros(n)
        return self.floor_level * self.floor_f(self.floor.read(start, n))


class Thunder(_Floor):
    """Low rumble bursts, some opening with a crack."""

    family = "thunder"
    bed_rate = 0.12
    floor_level = 0.05
    floor_cut = 150.0
    fg_spacing = 5.0

    def event(self, rng: np.random.Generator) -> np.ndarray:
        sr = self.sr
        seconds = rng.uniform(2.5, 5.0)
        n = int(seconds * sr)
        body = dsp.filt(dsp.lowpass(rng.uniform(150, 400), sr, order=4), rng.standard_normal(n))
        knots = rng.uniform(0.3, 1.0, int(seconds * 4) + 2)
        roll = np.interp(np.arange(n), np.linspace(0, n, len(knots)), knots)
        out = body * roll * dsp.attack_decay(n, sr, rng.uniform(0.02, 0.3), seconds)
        if rng.uniform() < 0.6:
            m = int(0.4 * sr)
            crack = dsp.filt(dsp.lowpass(4000, sr), rng.standard_normal(m))
            out[:m] += 0.5 * np.max(np.abs(out)) * crack * dsp.attack_decay(m, sr, 0.003, 0.35)
        return out


class Birds(_Floor):
    """Phrases of frequency-modulated chirps at random times."""

    family = "birds"
    floor_db = -12.0
    floor_kind = "leaves"
    bed_rate = 1.2
    floor_level = 0.004
    fg_spacing = 1.5

    def event(self, rng: np.random.Generator) -> np.ndarray:
        sr = self.sr
        parts = []
        base = rng.uniform(2000, 6000)
        for _ in range(int(rng.integers(2, 7))):
            n = int(rng.uniform(0.04, 0.15) * sr)
            f0 = base * rng.uniform(0.85, 1.15)
            tone = dsp.chirp(f0, f0 * rng.uniform(0.6, 1.6), n, sr, rng.uniform(30, 80), 0.05)
            tone += 0.2 * dsp.chirp(2 * f0, 2 * f0, n, sr) if 2 * f0 < 0.45 * sr else 0.0
            parts.append(tone * np.sin(np.pi * np.arange(n) / n) ** 2)
            parts.append(np.zeros(int(rng.uniform(0.03, 0.12) * sr)))
        return np.concatenate(parts)


class Animal(_Floor):
    """Barks (short, falling, rough) or longer calls (moos, howls)."""

    family = "animal"
    bed_rate = 0.35
    floor_level = 0.008
    fg_spacing = 2.0

    def _voice(self, rng: np.random.Generator, f_start: float, f_end: float, seconds: float,
               attack: float) -> np.ndarray:
        sr = self.sr
        n = int(seconds * sr)
        vibrato = 1 + 0.03 * np.sin(2 * np.pi * 6 * np.arange(n) / sr)
        freq = np.geomspace(f_start, f_end, n) * vibrato
        wave = dsp.harmonic_table([1.0 / k for k in range(1, int(0.45 * sr / f_start))][:12])
        tone = dsp.lookup(wave, np.cumsum(freq) / sr) + 0.25 * rng.standard_normal(n)
        tone = dsp.filt(dsp.bandpass(350, 2800, sr), tone)
        return tone * dsp.swell(n, sr, attack, 0.5 * seconds)

    def event(self, rng: np.random.Generator) -> np.ndarray:
        if rng.uniform() < 0.6:  # a run of barks
            parts = []
            for _ in range(int(rng.integers(1, 4))):
                f = rng.uniform(400, 700)
                parts.append(self._voice(rng, f, f * 0.7, rng.uniform(0.12, 0.25), 0.005))
                parts.append(np.zeros(int(rng.uniform(0.12, 0.3) * self.sr)))
            return np.concatenate(parts)
        f = rng.uniform(150, 450)
        return self._voice(rng, f, f * rng.uniform(0.7, 1.3), rng.uniform(0.6, 1.5), 0.03)


# How each surface answers a step or a hit: the thump's low-pass (Hz) and decay (s), the
# resonant mode's range (Hz), its Q and decay (s), the click's band (Hz) and level, and the
# texture after the heel (grains per second, band, length in s, level). Grass and snow damp
# the heel and add a swish or a crunch; wood rings; stone and hard floors click.
_SURFACES: dict[str, dict[str, Any]] = {
    "hard": {"thump": (700.0, 0.054), "mode": (90.0, 140.0, 8.0, 0.068),
             "click": (2500.0, 7000.0, 0.35), "grains": (0.0, (0.0, 0.0), 0.0, 0.0)},
    "stone": {"thump": (500.0, 0.045), "mode": (70.0, 110.0, 6.0, 0.053),
              "click": (3000.0, 9000.0, 1.0), "grains": (3000.0, (2500.0, 9000.0), 0.03, 0.35)},
    "wood": {"thump": (900.0, 0.063), "mode": (130.0, 260.0, 14.0, 0.135),
             "click": (1500.0, 5000.0, 0.25), "grains": (0.0, (0.0, 0.0), 0.0, 0.0)},
    "grass": {"thump": (300.0, 0.072), "mode": (60.0, 90.0, 4.0, 0.045),
              "click": (0.0, 0.0, 0.0), "grains": (6000.0, (1500.0, 7000.0), 0.13, 0.7)},
    "gravel": {"thump": (400.0, 0.063), "mode": (70.0, 100.0, 5.0, 0.045),
               "click": (0.0, 0.0, 0.0), "grains": (2500.0, (900.0, 8000.0), 0.16, 1.2)},
    "snow": {"thump": (250.0, 0.090), "mode": (55.0, 80.0, 4.0, 0.060),
             "click": (0.0, 0.0, 0.0), "grains": (900.0, (400.0, 2800.0), 0.18, 1.0)},
}


def _hit(rng: np.random.Generator, sr: int, surface: str, pitch: float, n: int) -> np.ndarray:
    """One contact (a heel, a toe, a blow) on ``surface``: a low thump, a resonant mode that
    rings for a few tens of ms, a click of the surface and its texture (grains)."""
    spec = _SURFACES[surface]
    fc, t_thump = spec["thump"]
    lo, hi, q, t_mode = spec["mode"]
    c_lo, c_hi, c_level = spec["click"]
    rate, (g_lo, g_hi), g_len, g_level = spec["grains"]
    t = np.arange(n) / sr
    thump = dsp.filt(dsp.lowpass(fc * pitch, sr, order=2), rng.standard_normal(n))
    thump *= dsp.attack_decay(n, sr, 0.002, t_thump * rng.uniform(0.8, 1.25))
    thump /= max(float(np.max(np.abs(thump))), 1e-9)
    f_mode = rng.uniform(lo, hi) * pitch
    ring = np.sin(2 * np.pi * f_mode * t + rng.uniform(0, 0.5))
    ring *= dsp.attack_decay(n, sr, 0.003, t_mode * rng.uniform(0.8, 1.25))
    if q > 10:  # a ringing surface (boards) adds an overtone of its own
        ring += 0.4 * np.sin(2 * np.pi * 2.7 * f_mode * t) * dsp.decay(n, sr, 0.5 * t_mode)
    out = thump + 0.8 * ring
    if c_level > 0:
        m = min(int(0.012 * sr), n)
        click = dsp.filt(dsp.bandpass(c_lo * pitch, c_hi, sr), rng.standard_normal(m))
        click *= dsp.attack_decay(m, sr, 0.0005, 0.008)
        out[:m] += c_level * click / max(float(np.max(np.abs(click))), 1e-9)
    if g_level > 0:
        m = min(int(g_len * rng.uniform(0.8, 1.2) * sr), n)
        grains = np.zeros(m)
        hits = rng.integers(0, m, max(int(rate * m / sr), 1))
        grains[hits] = rng.standard_normal(len(hits)) * (rng.pareto(2.5, len(hits)) + 0.3)
        if surface == "grass":  # a swish rather than grains: blades brushing
            grains = rng.standard_normal(m)
        grains = dsp.filt(dsp.bandpass(g_lo * pitch, g_hi, sr, order=2), grains)
        grains *= dsp.swell(m, sr, 0.15 * g_len, 0.6 * g_len) * np.exp(-2.0 * np.arange(m) / m)
        lag = min(int(rng.uniform(0.004, 0.015) * sr), n - m) if n > m else 0
        peak = max(float(np.max(np.abs(grains))), 1e-9)
        out[lag : lag + m] += g_level * grains / peak
    return out


class Footsteps(_Floor):
    """Steps at a walking pace: heel then toe, each a low thump with a short resonant decay,
    the click or crunch of the surface, and a little change of pitch, weight and timing."""

    family = "footsteps"
    floor_db = -15.0
    bed_rate = 1.8
    bed_jitter = 0.15
    fg_spacing = 0.6
    variants = tuple(_SURFACES)

    def event(self, rng: np.random.Generator) -> np.ndarray:
        sr = self.sr
        surface = self.variant or "hard"
        n = int(0.35 * sr)
        pitch = rng.uniform(0.88, 1.12)  # shoe, weight and where the foot lands
        delay = int(rng.uniform(0.0, 0.012) * sr)  # a walker is never on a grid
        heel = _hit(rng, sr, surface, pitch, n)
        gap = int(rng.uniform(0.035, 0.08) * sr)  # heel to toe
        toe = _hit(rng, sr, surface, pitch * rng.uniform(1.05, 1.2), n - gap)
        out = np.zeros(n + delay)
        out[delay : delay + n] += heel
        out[delay + gap : delay + n] += rng.uniform(0.3, 0.55) * toe
        return out * rng.uniform(0.75, 1.0)


class Impact(_Floor):
    """A hit: a low thump and a burst exciting a few decaying resonant modes of the struck
    thing (the surface a description names sets the thump and its ring)."""

    family = "impact"
    bed_rate = 0.7
    fg_spacing = 2.0
    variants = tuple(_SURFACES)

    def event(self, rng: np.random.Generator) -> np.ndarray:
        sr = self.sr
        n = int(rng.uniform(0.6, 1.2) * sr)
        pitch = rng.uniform(0.85, 1.15)
        burst = rng.standard_normal(n) * dsp.decay(n, sr, 0.05)
        out = 0.5 * dsp.filt(dsp.lowpass(3000 * pitch, sr), burst)
        for _ in range(3):
            mode = dsp.filt(dsp.resonator(rng.uniform(150, 900) * pitch, rng.uniform(20, 40), sr),
                            burst)
            out += 2.0 * mode * dsp.decay(n, sr, rng.uniform(0.3, 0.8))
        m = int(0.25 * sr)
        body = _hit(rng, sr, self.variant or "hard", pitch * 0.8, m)
        out[:m] += 2.0 * float(np.max(np.abs(out))) * body / max(float(np.max(np.abs(body))), 1e-9)
        return out


class Explosion(_Floor):
    """A boom: low noise burst, a falling sub-bass thump and a debris tail."""

    family = "explosion"
    bed_rate = 0.08
    floor_level = 0.05
    floor_cut = 100.0
    fg_spacing = 6.0

    def event(self, rng: np.random.Generator) -> np.ndarray:
        sr = self.sr
        seconds = rng.uniform(3.0, 5.0)
        n = int(seconds * sr)
        boom = dsp.filt(dsp.lowpass(600, sr), rng.standard_normal(n))
        boom *= dsp.attack_decay(n, sr, 0.005, 0.6 * seconds)
        sub = dsp.chirp(rng.uniform(50, 70), 28, n, sr, curve=0.3) * dsp.decay(n, sr, 1.5)
        debris = np.zeros(n)
        hits = rng.integers(int(0.05 * sr), n, int(60 * seconds))
        debris[hits] = rng.standard_normal(len(hits))
        debris = dsp.filt(dsp.highpass(1500, sr), debris) * dsp.decay(n, sr, seconds)
        out = boom + 1.2 * sub + 0.6 * debris
        return np.tanh(1.5 * out / max(np.max(np.abs(out)), 1e-9))


class Machine(_Floor):
    """A periodic mechanical hum and whirr with clanks on the machine's cycle."""

    family = "machine"
    stereo = "mono"
    bed_jitter = 0.02
    bed_event_gain = 0.6
    fg_spacing = 1.5

    def setup_events(self) -> None:
        self.f0 = float(self.rng.uniform(45, 120))
        self.bed_rate = 1.0 / float(self.rng.uniform(0.6, 1.4))
        self.motor = self.table([1.0, 0.5, 0.3, 0.2, 0.15, 0.1], self.f0)
        self.whirr = self.noise(1)
        self.whirr_f = dsp.Filter(dsp.bandpass(900, 2200, self.sr))
        self.wobble = self.control(2, 0.5)

    def texture(self, start: int, n: int) -> np.ndarray:
        motor = dsp.lookup(self.motor, self.cycles(self.f0, start, n))
        motor *= 1 + 0.05 * self.wobble.read(start, n)
        churn = 1 + 0.5 * np.sin(2 * np.pi * self.cycles(self.f0 / 2, start, n))
        return 0.5 * motor + 0.12 * self.whirr_f(self.whirr.read(start, n)) * churn

    def bed_times(self, t0: float, t1: float, rng: np.random.Generator) -> np.ndarray:
        period = 1.0 / self.bed_rate  # the machine's cycle does not speed up with intensity
        slots = np.arange(np.ceil(t0 / period), np.ceil(t1 / period))
        return (slots + self.bed_jitter * rng.uniform(0, 1, len(slots))) * period

    def event(self, rng: np.random.Generator) -> np.ndarray:
        sr = self.sr
        n = int(0.35 * sr)
        burst = rng.standard_normal(n) * dsp.decay(n, sr, 0.01)
        out = 0.3 * burst
        for _ in range(3):
            mode = dsp.filt(dsp.resonator(rng.uniform(1200, 4000), 30, sr), burst)
            out += mode * dsp.decay(n, sr, rng.uniform(0.15, 0.3))
        return out


_BELL_RATIOS = np.array([0.5, 1.0, 1.19, 1.5, 2.0, 2.52, 2.66, 3.01, 4.17, 5.43])
_BELL_AMPS = np.array([0.6, 0.8, 0.7, 0.4, 1.0, 0.5, 0.45, 0.35, 0.3, 0.2])


class Bell(_Floor):
    """Inharmonic partials that decay, higher ones faster (church bells, chimes)."""

    family = "bell"
    floor_db = -15.0
    bed_rate = 0.35
    bed_jitter = 0.05
    floor_level = 0.004
    fg_spacing = 3.0

    def setup_events(self) -> None:
        self.base = float(self.rng.uniform(250, 900))
        self._strikes: dict[int, np.ndarray] = {}

    def event(self, rng: np.random.Generator) -> np.ndarray:
        # The same bell struck again sounds nearly the same: a few cached strikes suffice.
        which = int(rng.integers(3))
        if which not in self._strikes:
            self._strikes[which] = self._strike(dsp.keyed_rng(self.key, 9, which))
        return self._strikes[which] * rng.uniform(0.8, 1.0)

    def _strike(self, rng: np.random.Generator) -> np.ndarray:
        sr = self.sr
        n = int(4.0 * sr)
        t = np.arange(n) / sr
        out = np.zeros(n)
        for ratio, amp in zip(_BELL_RATIOS, _BELL_AMPS, strict=True):
            f = self.base * ratio * rng.uniform(0.998, 1.002)
            if f >= 0.45 * sr:
                continue
            ring = 4.0 * ratio**-0.7
            partial = np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
            out += amp * partial * dsp.decay(n, sr, ring)
        m = int(0.02 * sr)
        out[:m] += 0.3 * rng.standard_normal(m) * dsp.decay(m, sr, 0.01)
        out[:m] *= np.linspace(0.2, 1.0, m) ** 0.5
        return out


class Whoosh(_Floor):
    """Noise through a band sweeping across the spectrum, rising then fading."""

    family = "whoosh"
    bed_rate = 0.25
    floor_level = 0.01
    fg_spacing = 2.0

    def event(self, rng: np.random.Generator) -> np.ndarray:
        sr = self.sr
        seconds = rng.uniform(0.35, 0.9)
        n = int(seconds * sr)
        src = rng.standard_normal(n)
        centres = [250, 500, 1000, 2000, 4000, 8000]
        c0, c1 = rng.uniform(0, 2), rng.uniform(3, 5)
        if rng.uniform() < 0.4:
            c0, c1 = c1, c0
        where = np.linspace(c0, c1, n)
        out = np.zeros(n)
        for b, fc in enumerate(centres):
            if fc > 0.4 * sr:
                continue
            weight = np.exp(-((b - where) ** 2) / (2 * 0.7**2))
            out += dsp.filt(dsp.bandpass(fc / 1.4, fc * 1.4, sr), src) * weight
        rise = min(0.12, 0.3 * seconds)
        return out * dsp.swell(n, sr, rise, seconds - rise)


class Traffic(Recipe):
    """Passing vehicles: swells of tyre noise and a Doppler-falling engine over a far rumble."""

    family = "traffic"
    floor_db = -15.0
    floor_kind = "street"
    bed_rate = 0.25
    bed_event_gain = 1.0
    fg_spacing = 4.0

    def setup(self) -> None:
        self.far = self.noise(1)
        self.far_f = dsp.Filter(np.vstack([dsp.lowpass(400, self.sr), dsp.highpass(30, self.sr)]))
        self.swell = self.control(2, 0.1)

    def texture(self, start: int, n: int) -> np.ndarray:
        return 0.3 * self.far_f(self.far.read(start, n)) * (1 + 0.3 * self.swell.read(start, n))

    def event(self, rng: np.random.Generator) -> np.ndarray:
        sr = self.sr
        seconds = rng.uniform(5.0, 9.0)
        n = int(seconds * sr)
        t = np.arange(n) / sr
        mid = rng.uniform(0.4, 0.8)  # loudest as it passes, soon after it appears
        width = np.where(t < mid, mid / 2.0, seconds / 5.0)
        env = np.exp(-0.5 * ((t - mid) / width) ** 2)
        tyres = dsp.filt(dsp.bandpass(300, 3000, sr), rng.standard_normal(n))
        f0 = rng.uniform(35, 70)
        freq = f0 * (1 + 0.06 * np.tanh((mid - t) / 0.8))
        wave = dsp.harmonic_table([1.0 / k for k in range(1, 13)])
        engine = dsp.filt(dsp.lowpass(1500, sr), dsp.lookup(wave, np.cumsum(freq) / sr))
        return (tyres + 0.6 * engine) * env
