"""Reading audio files block by block, and per-hop accumulation that ignores block sizes.

Every metric here reads its file through :func:`iter_blocks`, so an hour of audio is never in
memory; :class:`HopMeans` turns a stream of arbitrary blocks into fixed hops (for example
100 ms RMS windows) with the same result whatever the block size.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import soundfile as sf

DEFAULT_BLOCK_SECONDS = 10.0


def iter_blocks(
    path: str | os.PathLike[str], block_seconds: float = DEFAULT_BLOCK_SECONDS
) -> Iterator[np.ndarray]:
    """Float64 ``(frames, channels)`` blocks of the file, ``block_seconds`` long each."""
    with sf.SoundFile(str(path)) as f:
        size = max(int(round(block_seconds * f.samplerate)), 1)
        yield from f.blocks(blocksize=size, dtype="float64", always_2d=True)


def iter_mono(
    path: str | os.PathLike[str], block_seconds: float = DEFAULT_BLOCK_SECONDS
) -> Iterator[np.ndarray]:
    """Float64 mono blocks (the mean of the channels)."""
    for block in iter_blocks(path, block_seconds):
        yield block.mean(axis=1)


class HopMeans:
    """Mean of consecutive, non-overlapping hops of ``hop`` samples, fed in any blocks.

    Only complete hops are returned; the unfinished remainder is carried to the next call.
    """

    def __init__(self, hop: int) -> None:
        if hop <= 0:
            raise ValueError("hop must be positive")
        self.hop = int(hop)
        self._carry = np.zeros(0)

    def add(self, values: np.ndarray) -> np.ndarray:
        """Means of the hops completed by ``values`` (1-D)."""
        x = np.concatenate([self._carry, np.asarray(values, dtype=np.float64)])
        full = len(x) // self.hop
        self._carry = x[full * self.hop :].copy()
        if not full:
            return np.zeros(0)
        return x[: full * self.hop].reshape(full, self.hop).mean(axis=1)
