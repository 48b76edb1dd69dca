"""The recipe protocol: a continuous texture plus discrete events, both streamable."""

from __future__ import annotations

import math

import numpy as np

from lvas.tools.generation.procedural import dsp


class Recipe:
    """One sound family.

    ``texture`` is called with consecutive ``(start, n)`` ranges and may keep filter state;
    ``event`` renders one self-contained event from its own random generator. Beds are the
    texture plus events scheduled by ``bed_times``; the foreground layer is events only.
    """

    family = ""
    bed_rate = 0.0  # events per second in a bed at intensity 1
    bed_jitter = 1.0  # 0: strict grid; 1: anywhere in each grid slot
    bed_event_gain = 1.0  # event peak relative to the texture before normalisation
    event_span = (0.8, 2.0)  # seconds, for events cut from the texture
    fg_spacing = 3.0  # seconds between auto-placed foreground events
    retrigger = True  # a new foreground event fades out the one still sounding
    # The floor a bed keeps under its quiet moments, in dB under the bed's median level (see
    # ``floors``); None: the texture is continuous and is its own floor.
    floor_db: float | None = None
    floor_kind = "air"
    # How a stereo bed gets its two channels: "twin", diffuse sources (rain, wind, air) draw an
    # independent texture per channel; "own", the recipe places its several sources itself
    # (``texture_stereo``: talkers of a crowd, insects of a chorus); "mono", one point source (a
    # voice, a hum, a siren) in both channels, widened only by its floor and events.
    stereo = "twin"
    variants: tuple[str, ...] = ()  # surfaces or kinds a description can select

    def __init__(self, sample_rate: int, seed: int, intensity: float = 1.0, *,
                 channel: int = 0, variant: str = "") -> None:
        self.sr = int(sample_rate)
        self.seed = int(seed)
        self.intensity = float(intensity)
        self.channel = int(channel)
        self.variant = variant if variant in self.variants else ""
        self.key = dsp.stable_key(f"{self.family}:{self.seed}")
        # Channel 0 keeps the mono streams; another channel draws its own noise and impulses
        # (same constants, same controls, same events), which decorrelates a diffuse texture.
        self.noise_key = self.channel_key(self.channel)
        self.rng = dsp.keyed_rng(self.key, 1)  # per-recipe constants (pitch, key, rates)
        self.setup()

    def channel_key(self, channel: int) -> int:
        """The noise key of one output channel (channel 0: the recipe's own key)."""
        if channel == 0:
            return self.key
        return dsp.stable_key(f"{self.family}:{self.seed}:ch{channel}")

    # -- to override -------------------------------------------------------------------
    def setup(self) -> None:
        """Draw constants and build filters and streams."""

    def texture(self, start: int, n: int) -> np.ndarray:
        return np.zeros(n)

    def texture_stereo(self, start: int, n: int) -> np.ndarray:
        """(n, 2) texture of a recipe whose ``stereo`` is "own"."""
        mono = self.texture(start, n)
        return np.stack([mono, mono], axis=1)

    def event(self, rng: np.random.Generator) -> np.ndarray:
        """One event: by default a stretch of the texture with a quick attack and a fade."""
        seconds = rng.uniform(*self.event_span)
        n = max(int(seconds * self.sr), 1)
        twin = type(self)(self.sr, int(rng.integers(1 << 31)), self.intensity,
                          variant=self.variant)
        body = twin.texture(0, n)
        return body * dsp.swell(n, self.sr, 0.02, 0.4 * seconds)

    # -- helpers -----------------------------------------------------------------------
    def noise(self, stream: int) -> dsp.Chunked:
        return dsp.Chunked(self.noise_key, stream)

    def impulses(self, stream: int, per_second: float) -> dsp.Chunked:
        return dsp.Chunked(self.noise_key, stream, "impulse", per_second / self.sr)

    def control(self, stream: int, rate_hz: float) -> dsp.Control:
        return dsp.Control(self.key, stream, rate_hz, self.sr)

    def seconds(self, start: int, n: int) -> np.ndarray:
        return (start + np.arange(n)) / self.sr

    def cycles(self, freq: float, start: int, n: int) -> np.ndarray:
        """Phase in cycles of a fixed-frequency oscillator at absolute positions."""
        return freq * (start + np.arange(n, dtype=np.float64)) / self.sr

    def table(self, amplitudes: list[float], top_freq: float) -> np.ndarray:
        """A wavetable keeping only the harmonics of ``top_freq`` that stay below Nyquist."""
        keep = [a for k, a in enumerate(amplitudes, 1) if k * top_freq < 0.45 * self.sr]
        return dsp.harmonic_table(keep or amplitudes[:1])

    def bed_times(self, t0: float, t1: float, rng: np.random.Generator) -> np.ndarray:
        """Event times in ``[t0, t1)`` owned by this window, on a jittered grid."""
        rate = self.bed_rate * max(self.intensity, 0.05)
        if rate <= 0:
            return np.zeros(0)
        period = 1.0 / rate
        k0, k1 = math.ceil(t0 / period), math.ceil(t1 / period)
        slots = np.arange(k0, k1)
        return (slots + self.bed_jitter * rng.uniform(0.0, 1.0, len(slots))) * period

    def auto_onsets(self, duration: float, rng: np.random.Generator) -> np.ndarray:
        """A few seeded foreground onsets when the caller gives none."""
        count = max(1, int(duration / self.fg_spacing * min(max(self.intensity, 0.3), 2.0)))
        slot = duration / count
        return (np.arange(count) + rng.uniform(0.05, 0.6, count)) * slot
