"""Families that are mostly continuous textures: weather, water, voices, drones."""

from __future__ import annotations

import numpy as np

from lvas.tools.generation.procedural import dsp
from lvas.tools.generation.procedural.base import Recipe


class Rain(Recipe):
    """Broadband hiss with dense, bright droplet clicks."""

    family = "rain"

    def setup(self) -> None:
        sr = self.sr
        self.hiss = self.noise(1)
        self.hiss_f = dsp.Filter(np.vstack([dsp.highpass(400, sr), dsp.lowpass(9000, sr)]))
        self.drops = self.impulses(2, 500.0 * max(self.intensity, 0.1))
        self.drops_f = dsp.Filter(dsp.bandpass(1800, 7000, sr, order=2))
        self.patter = self.impulses(3, 60.0 * max(self.intensity, 0.1))
        self.patter_f = dsp.Filter(dsp.resonator(float(self.rng.uniform(900, 1400)), 8, sr))
        self.swell = self.control(4, 0.15)

    def texture(self, start: int, n: int) -> np.ndarray:
        hiss = self.hiss_f(self.hiss.read(start, n)) * (1.0 + 0.12 * self.swell.read(start, n))
        drops = self.drops_f(self.drops.read(start, n))
        patter = self.patter_f(self.patter.read(start, n))
        return 0.45 * hiss + 1.6 * drops + 0.5 * patter


class Water(Recipe):
    """Low-passed babbling noise with bubbles (a stream or a fountain)."""

    family = "water"
    bed_rate = 14.0
    bed_event_gain = 0.5

    def setup(self) -> None:
        sr = self.sr
        self.body = self.noise(1)
        self.body_f = dsp.Filter(np.vstack([dsp.lowpass(1100, sr), dsp.highpass(90, sr)]))
        self.babble = self.noise(2)
        self.babble_f = dsp.Filter(dsp.bandpass(350, 2200, sr))
        self.slow = self.control(3, 5.0)
        self.fast = self.control(4, 11.0)

    def texture(self, start: int, n: int) -> np.ndarray:
        body = self.body_f(self.body.read(start, n))
        body *= np.clip(1 + 0.6 * self.slow.read(start, n), 0, None)
        babble = self.babble_f(self.babble.read(start, n))
        babble *= np.clip(self.fast.read(start, n), 0, None) ** 2
        return body + 0.5 * babble

    def event(self, rng: np.random.Generator) -> np.ndarray:
        seconds = rng.uniform(0.02, 0.08)
        n = int(seconds * self.sr)
        f0 = rng.uniform(400, 1600)
        tone = dsp.chirp(f0, f0 * rng.uniform(1.3, 2.0), n, self.sr, curve=0.5)
        return tone * dsp.attack_decay(n, self.sr, 0.002, seconds)


class Wind(Recipe):
    """Band-passed noise whose level and centre drift in slow gusts."""

    family = "wind"
    floor_db = -16.0
    event_span = (1.5, 3.5)

    def setup(self) -> None:
        sr = self.sr
        self.src = self.noise(1)
        self.bands = [
            dsp.Filter(dsp.bandpass(lo, hi, sr))
            for lo, hi in ((80, 300), (250, 900), (700, 2600))
        ]
        self.rumble = dsp.Filter(dsp.lowpass(120, sr))
        self.centre = self.control(2, 0.12)
        self.gust = self.control(3, 0.25)

    def texture(self, start: int, n: int) -> np.ndarray:
        x = self.src.read(start, n)
        c = 1.0 / (1.0 + np.exp(-1.5 * self.centre.read(start, n)))  # 0 low .. 1 high
        low, mid, high = (band(x) for band in self.bands)
        tone = (1 - c) ** 2 * low + 2 * c * (1 - c) * mid + c**2 * high
        depth = 0.4 + 0.4 * min(self.intensity, 1.5)
        level = np.exp(depth * self.gust.read(start, n))
        return (tone * 1.5 + 0.6 * self.rumble(x)) * level


class Fire(Recipe):
    """A low roar with sharp crackles and the odd pop."""

    family = "fire"
    bed_rate = 1.5
    bed_event_gain = 0.6

    def setup(self) -> None:
        sr = self.sr
        self.roar = self.noise(1)
        self.roar_f = dsp.Filter(np.vstack([dsp.lowpass(260, sr), dsp.highpass(30, sr)]))
        self.hiss = self.noise(2)
        self.hiss_f = dsp.Filter(dsp.bandpass(2000, 8000, sr))
        self.crackle = self.impulses(3, 80.0 * max(self.intensity, 0.1))
        self.crackle_f = dsp.Filter(dsp.bandpass(1500, 7000, sr, order=2))
        self.flicker = self.control(4, 1.2)

    def texture(self, start: int, n: int) -> np.ndarray:
        roar = self.roar_f(self.roar.read(start, n)) * (1 + 0.35 * self.flicker.read(start, n))
        hiss = self.hiss_f(self.hiss.read(start, n))
        crackle = self.crackle_f(self.crackle.read(start, n))
        return 0.8 * roar + 0.05 * hiss + 1.2 * crackle

    def event(self, rng: np.random.Generator) -> np.ndarray:
        n = int(0.08 * self.sr)
        burst = rng.standard_normal(n) * dsp.decay(n, self.sr, 0.04)
        return dsp.filt(dsp.bandpass(300, 2500, self.sr), burst)


class Engine(Recipe):
    """A harmonic series at the firing rate, with rpm jitter and combustion noise."""

    family = "engine"
    stereo = "mono"

    def setup(self) -> None:
        sr = self.sr
        self.f0 = float(self.rng.uniform(28, 45))
        amps = [1.0 / k**0.8 for k in range(1, 25)]
        self.wave = self.table(amps, self.f0 * 1.3)
        self.pulse = dsp.harmonic_table([1.0, 0.7, 0.5, 0.3])
        self.phase = dsp.Phase()
        self.jitter = self.control(1, 4.0)
        self.drift = self.control(2, 0.2)
        self.grit = self.noise(3)
        self.grit_f = dsp.Filter(dsp.bandpass(200, 1500, sr))
        self.tone_f = dsp.Filter(dsp.lowpass(2500, sr))

    def texture(self, start: int, n: int) -> np.ndarray:
        load = 0.04 * max(self.intensity, 0.1)
        freq = self.f0 * (1 + 0.015 * self.jitter.read(start, n) + load * self.drift.read(start, n))
        cyc = self.phase.advance(freq, self.sr)
        tone = dsp.lookup(self.wave, cyc)
        grit = self.grit_f(self.grit.read(start, n)) * np.clip(dsp.lookup(self.pulse, cyc), 0, None)
        return self.tone_f(tone + 0.8 * grit)


class Crowd(Recipe):
    """Babble: several formant-filtered noise talkers and a few voiced murmurs."""

    family = "crowd"  # a babble is its own floor; a thin one gets the generic air floor
    stereo = "own"
    event_span = (1.5, 3.0)

    def setup(self) -> None:
        groups = int(np.clip(round(3 + 4 * self.intensity), 2, 10))
        # Talkers share two broad formant filters; each weights them its own way, so the
        # cost grows by a noise stream per talker, not by a filter bank per talker.
        self.talkers = [
            (
                self.noise(10 + g),
                self.control(40 + g, float(self.rng.uniform(3.5, 6.0))),
                float(self.rng.uniform(0.5, 1.0)),
                float(self.rng.uniform(0.3, 0.8)),
            )
            for g in range(groups)
        ]
        self.voices = [
            (
                float(self.rng.uniform(100, 230)), dsp.Phase(), self.control(70 + v, 2.0),
                self.control(80 + v, float(self.rng.uniform(3.0, 5.0))),
            )
            for v in range(3)
        ]
        self.buzz = self.table([1.0 / k for k in range(1, 16)], 260)
        self.w_low = np.array([t[2] for t in self.talkers])
        self.w_high = np.array([t[3] for t in self.talkers])
        # One filter chain per output channel; talkers and voices stand at their own places.
        self.chains = [self._chain() for _ in range(2)]
        spread = dsp.keyed_rng(self.key, 11).uniform(-0.9, 0.9, groups + len(self.voices))
        theta = (spread + 1.0) * np.pi / 4
        self.pans = np.sqrt(2.0) * np.stack([np.cos(theta), np.sin(theta)])  # (2, sources)

    def _chain(self) -> tuple[dsp.Filter, dsp.Filter, dsp.Filter]:
        sr = self.sr
        return (dsp.Filter(dsp.bandpass(300, 900, sr)), dsp.Filter(dsp.bandpass(1000, 2600, sr)),
                dsp.Filter(np.vstack([dsp.highpass(150, sr), dsp.lowpass(4000, sr)])))

    def _babble(self, start: int, n: int, pans: np.ndarray) -> list[np.ndarray]:
        """One signal per row of ``pans`` (channel gains of each talker, then each voice)."""
        rows, count = len(pans), len(self.talkers)
        voiced = np.empty((count, n))
        for g, (src, syll, _, _) in enumerate(self.talkers):
            np.multiply(src.read(start, n), np.clip(syll.read(start, n) + 0.3, 0, None) ** 1.5,
                        out=voiced[g])
        # Every channel's two formant inputs in one product: (rows, talkers) @ (talkers, n).
        low = (pans[:, :count] * self.w_low) @ voiced
        high = (pans[:, :count] * self.w_high) @ voiced
        outs = [chain[0](low[c]) + 0.6 * chain[1](high[c])
                for c, chain in zip(range(rows), self.chains, strict=False)]
        first = len(self.talkers)
        for v, (f0, phase, pitch, syll) in enumerate(self.voices):
            freq = f0 * (1 + 0.06 * pitch.read(start, n))
            env = np.clip(syll.read(start, n), 0, None) ** 2
            buzz = 0.08 * dsp.lookup(self.buzz, phase.advance(freq, self.sr)) * env
            for c in range(rows):
                outs[c] += pans[c, first + v] * buzz
        return [chain[2](out) for out, chain in zip(outs, self.chains, strict=False)]

    def texture(self, start: int, n: int) -> np.ndarray:
        return self._babble(start, n, np.ones((1, self.pans.shape[1])))[0]

    def texture_stereo(self, start: int, n: int) -> np.ndarray:
        return np.stack(self._babble(start, n, self.pans), axis=1)


# Formant centres (F1, F2, F3) of a few vowels: a, e, i, o, u.
_VOWELS = np.array([
    (730, 1090, 2440), (530, 1840, 2480), (270, 2290, 3010), (570, 840, 2410), (300, 870, 2240),
])
_SPEECH_BANDS = np.array([300, 420, 580, 780, 1000, 1300, 1700, 2200, 2800, 3500])
_SYLLABLE = 0.2  # seconds


class Speech(Recipe):
    """One voice: a glottal buzz through a formant bank that changes vowel per syllable."""

    family = "speech"
    floor_db = -15.0
    floor_kind = "room"
    stereo = "mono"
    event_span = (1.2, 3.0)

    def setup(self) -> None:
        sr = self.sr
        self.f0 = float(self.rng.uniform(100, 210))
        self.buzz = self.table([1.0 / k for k in range(1, 40)], self.f0 * 1.3)
        self.phase = dsp.Phase()
        self.pitch = self.control(1, 2.5)
        self.bank = [
            dsp.Filter(dsp.bandpass(fc / 1.15, fc * 1.15, sr)) for fc in _SPEECH_BANDS
        ]
        self.hiss = self.noise(2)
        self.hiss_f = dsp.Filter(dsp.highpass(3000, sr))
        # Per-vowel gain of each band: sum of resonances around the three formants.
        dist = np.log2(_SPEECH_BANDS[None, None, :] / _VOWELS[:, :, None])
        weight = np.array([1.0, 0.7, 0.35])[None, :, None]
        self.gains = (np.exp(-((dist / 0.25) ** 2)) * weight).sum(axis=1)

    def _syllables(self, first: int, last: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        vowels, amps, fric = [], [], []
        for c in range(first // 256, last // 256 + 1):
            rng = dsp.keyed_rng(self.key, 77, c)
            vowels.append(rng.integers(0, len(_VOWELS), 256))
            phrase = rng.uniform(size=256) > 0.12  # pauses between words and phrases
            amp = rng.uniform(0.6, 1.0, 256) * phrase
            if c == 0:
                amp[0] = 1.0  # a voice starts with a sound, not a pause
            amps.append(amp)
            fric.append(rng.uniform(size=256) < 0.45)
        off = first - (first // 256) * 256
        cut = slice(off, off + last - first + 1)
        return (np.concatenate(vowels)[cut], np.concatenate(amps)[cut], np.concatenate(fric)[cut])

    def texture(self, start: int, n: int) -> np.ndarray:
        freq = self.f0 * (1 + 0.08 * self.pitch.read(start, n))
        src = dsp.lookup(self.buzz, self.phase.advance(freq, self.sr))
        pos = (start + np.arange(n)) / (self.sr * _SYLLABLE)
        idx = np.floor(pos).astype(np.int64)
        frac = pos - idx
        vowels, amps, fric = self._syllables(int(idx[0]), int(idx[-1]))
        rel = idx - idx[0]
        env = np.sin(np.pi * frac) ** 0.7 * amps[rel]
        gains = self.gains[vowels[rel]]  # (n, bands)
        voiced = np.zeros(n)
        for b, band in enumerate(self.bank):
            voiced += band(src) * gains[:, b]
        burst = np.where(fric[rel] & (frac < 0.25), np.sin(np.pi * frac / 0.25), 0.0) * amps[rel]
        hiss = self.hiss_f(self.hiss.read(start, n)) * burst
        return voiced * env + 0.25 * hiss


class Insects(Recipe):
    """High stridulation: pulsed carriers grouped into chirps (crickets, cicadas)."""

    family = "insects"
    stereo = "own"
    floor_db = -16.0
    floor_kind = "night"
    event_span = (1.0, 2.5)

    def setup(self) -> None:
        count = int(np.clip(1 + round(2 * self.intensity), 1, 5))
        top = 0.42 * self.sr
        self.bugs = [
            (
                float(min(self.rng.uniform(3500, 7500), top)),
                float(self.rng.uniform(25, 60)),
                float(self.rng.uniform(0.8, 3.0)),
                float(self.rng.uniform(0, 2 * np.pi)),
                float(self.rng.uniform(0.5, 1.0)),
            )
            for _ in range(count)
        ]
        self.air = self.noise(1)
        self.air_f = dsp.Filter(dsp.bandpass(4000, 9000, self.sr))
        self.level = self.control(2, 0.1)
        # Each insect calls from its own place in a stereo bed.
        theta = (dsp.keyed_rng(self.key, 11).uniform(-0.9, 0.9, count) + 1.0) * np.pi / 4
        self.pans = np.sqrt(2.0) * np.stack([np.cos(theta), np.sin(theta)])  # (2, bugs)

    def _chorus(self, start: int, n: int, pans: np.ndarray) -> np.ndarray:
        t = self.seconds(start, n)
        out = np.zeros((n, len(pans)))
        for b, (carrier, pulse, group, phase, amp) in enumerate(self.bugs):
            tone = np.sin(2 * np.pi * self.cycles(carrier, start, n))
            pulses = (0.5 + 0.5 * np.cos(2 * np.pi * pulse * t)) ** 4
            gate = np.clip(2.0 * np.sin(2 * np.pi * group * t + phase) + 0.6, 0, 1)
            call = amp * tone * pulses * gate
            for c in range(len(pans)):
                out[:, c] += pans[c, b] * call
        out *= (1 + 0.2 * self.level.read(start, n))[:, None]
        return out + (0.05 * self.air_f(self.air.read(start, n)))[:, None]

    def texture(self, start: int, n: int) -> np.ndarray:
        return self._chorus(start, n, np.ones((1, len(self.bugs))))[:, 0]

    def texture_stereo(self, start: int, n: int) -> np.ndarray:
        return self._chorus(start, n, self.pans)


class Hum(Recipe):
    """Mains hum: 50 or 60 Hz and a few harmonics, barely wavering."""

    family = "hum"
    stereo = "mono"

    def setup(self) -> None:
        self.f0 = 50.0 if self.rng.uniform() < 0.5 else 60.0
        self.wave = self.table([1.0, 0.55, 0.35, 0.2, 0.12, 0.08], self.f0)
        self.wobble = self.control(1, 0.3)
        self.floor = self.noise(2)
        self.floor_f = dsp.Filter(dsp.lowpass(300, self.sr))

    def texture(self, start: int, n: int) -> np.ndarray:
        tone = dsp.lookup(self.wave, self.cycles(self.f0, start, n))
        tone *= 1 + 0.03 * self.wobble.read(start, n)
        return tone + 0.02 * self.floor_f(self.floor.read(start, n))


class RoomTone(Recipe):
    """Quiet, pink-ish air of an empty room with a faint low rumble."""

    family = "room_tone"

    def setup(self) -> None:
        sr = self.sr
        self.src = self.noise(1)
        shape = np.vstack([dsp.PINK_SOS, dsp.highpass(30, sr), dsp.lowpass(8000, sr)])
        self.pink = dsp.Filter(shape)
        self.low = self.noise(2)
        self.low_f = dsp.Filter(dsp.lowpass(60, sr))

    def texture(self, start: int, n: int) -> np.ndarray:
        return self.pink(self.src.read(start, n)) + 0.5 * self.low_f(self.low.read(start, n))


class Alarm(Recipe):
    """Two alternating square-ish tones (sirens, alarms, horns)."""

    family = "alarm"
    stereo = "mono"
    event_span = (1.5, 3.0)

    def setup(self) -> None:
        pairs = ((650, 900), (800, 1000), (960, 770), (1400, 1050))
        self.f1, self.f2 = pairs[int(self.rng.integers(len(pairs)))]
        self.period = float(self.rng.uniform(0.35, 0.5))
        amps = [1.0, 0.0, 1 / 3, 0.0, 1 / 5, 0.0, 1 / 7]
        self.wave1 = self.table(amps, self.f1)
        self.wave2 = self.table(amps, self.f2)

    def texture(self, start: int, n: int) -> np.ndarray:
        t = self.seconds(start, n)
        gate = 0.5 + 0.5 * np.clip(30.0 * np.sin(np.pi * t / self.period), -1, 1)
        one = dsp.lookup(self.wave1, self.cycles(self.f1, start, n))
        two = dsp.lookup(self.wave2, self.cycles(self.f2, start, n))
        return one * gate + two * (1 - gate)


_PROGRESSIONS = ((0, 9, 5, 7), (0, 5, 7, 5), (9, 5, 0, 7), (0, 7, 9, 5))
_CHORD_SECONDS = 4.0
_CROSSFADE = 0.75


class Music(Recipe):
    """A soft pad: a slow chord progression of detuned, mellow oscillators."""

    family = "music"
    stereo = "mono"
    event_span = (2.0, 4.0)

    def setup(self) -> None:
        self.root = int(self.rng.integers(45, 57))  # MIDI note
        self.progression = _PROGRESSIONS[int(self.rng.integers(len(_PROGRESSIONS)))]
        top = 440.0 * 2 ** ((self.root + 24 - 69) / 12)
        self.wave = self.table([1.0 / k**2 for k in range(1, 9)], top)
        self.tone_f = dsp.Filter(dsp.lowpass(2500, self.sr))
        self.breath = self.control(1, 0.2)

    def _notes(self, segment: int) -> list[float]:
        degree = self.progression[segment % len(self.progression)]
        minor = degree in (9, 2, 4)
        third = 3 if minor else 4
        base = self.root + degree - (12 if degree > 6 else 0)
        midi = [base, base + third, base + 7, base + 12]
        return [440.0 * 2 ** ((m - 69) / 12) for m in midi]

    def texture(self, start: int, n: int) -> np.ndarray:
        sr, seg_n = self.sr, _CHORD_SECONDS * self.sr
        out = np.zeros(n)
        xf = _CROSSFADE * sr
        first = int(np.floor((start - xf) / seg_n))
        last = int(np.floor((start + n + xf) / seg_n))
        for seg in range(max(first, 0), last + 1):
            s0, s1 = seg * seg_n - xf, (seg + 1) * seg_n + xf
            lo, hi = max(int(np.ceil(s0)) - start, 0), min(int(np.ceil(s1)) - start, n)
            if hi <= lo:
                continue
            pos = start + np.arange(lo, hi, dtype=np.float64)
            ramp_in = np.clip((pos - s0) / (2 * xf), 0, 1) if seg else 1.0
            ramp_out = np.clip((s1 - pos) / (2 * xf), 0, 1)
            env = np.sin(0.5 * np.pi * np.minimum(ramp_in, ramp_out))
            rel = (pos - seg * seg_n) / sr
            chord = np.zeros(hi - lo)
            for f in self._notes(seg):
                for detune in (0.997, 1.003):
                    chord += dsp.lookup(self.wave, f * detune * rel)
            out[lo:hi] += chord * env
        out *= 1 + 0.15 * self.breath.read(start, n)
        return self.tone_f(out)
