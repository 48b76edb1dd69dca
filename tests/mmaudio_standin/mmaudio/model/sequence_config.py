"""Stand-in for MMAudio's sequence lengths: the same numbers for a given duration."""

from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass
class SequenceConfig:
    duration: float
    sampling_rate: int
    spectrogram_frame_rate: int
    latent_downsample_rate: int = 2
    clip_frame_rate: int = 8
    sync_frame_rate: int = 25
    sync_num_frames_per_segment: int = 16
    sync_step_size: int = 8
    sync_downsample_rate: int = 2

    @property
    def num_audio_frames(self) -> int:
        return self.latent_seq_len * self.spectrogram_frame_rate * self.latent_downsample_rate

    @property
    def latent_seq_len(self) -> int:
        samples_per_latent = self.spectrogram_frame_rate * self.latent_downsample_rate
        return int(math.ceil(self.duration * self.sampling_rate / samples_per_latent))

    @property
    def clip_seq_len(self) -> int:
        return int(self.duration * self.clip_frame_rate)

    @property
    def sync_seq_len(self) -> int:
        frames = self.duration * self.sync_frame_rate
        segments = (frames - self.sync_num_frames_per_segment) // self.sync_step_size + 1
        return int(segments * self.sync_num_frames_per_segment / self.sync_downsample_rate)


CONFIG_16K = SequenceConfig(duration=8.0, sampling_rate=16000, spectrogram_frame_rate=256)
CONFIG_44K = SequenceConfig(duration=8.0, sampling_rate=44100, spectrogram_frame_rate=512)
