"""Families made of discrete events over a quiet floor: hits, calls, strikes, passes."""

from __future__ import annotations

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


class Footsteps(_Floor):
    """Steps at a walking pace: a low thump and a scuff each."""

    family = "footsteps"
    floor_db = -15.0
    bed_rate = 1.8
    bed_jitter = 0.15
    fg_spacing = 0.6

    def event(self, rng: np.random.Generator) -> np.ndarray:
        sr = self.sr
        n = int(0.3 * sr)
        thump = dsp.filt(dsp.lowpass(800, sr), rng.standard_normal(n)) * dsp.decay(n, sr, 0.05)
        body = np.sin(2 * np.pi * rng.uniform(90, 140) * np.arange(n) / sr) * dsp.decay(n, sr, 0.07)
        scuff = dsp.filt(dsp.highpass(2000, sr), rng.standard_normal(n))
        scuff *= dsp.attack_decay(n, sr, 0.01, 0.09)
        lag = int(rng.uniform(0.01, 0.03) * sr)
        scuff = np.concatenate([np.zeros(lag), scuff[: n - lag]])
        return (thump + 0.6 * body + 0.25 * scuff) * rng.uniform(0.7, 1.0)


class Impact(_Floor):
    """A hit: a broadband burst exciting a few decaying resonant modes."""

    family = "impact"
    bed_rate = 0.7
    fg_spacing = 2.0

    def event(self, rng: np.random.Generator) -> np.ndarray:
        sr = self.sr
        n = int(rng.uniform(0.6, 1.2) * sr)
        burst = rng.standard_normal(n) * dsp.decay(n, sr, 0.05)
        out = dsp.filt(dsp.lowpass(3000, sr), burst)
        for _ in range(3):
            mode = dsp.filt(dsp.resonator(rng.uniform(150, 900), rng.uniform(20, 40), sr), burst)
            out += 2.0 * mode * dsp.decay(n, sr, rng.uniform(0.3, 0.8))
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
