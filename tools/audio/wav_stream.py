"""Streaming audio out to disk: a write-behind thread, the float32 stage files that carry a
mix between the mixer's two passes, and a WAV writer whose header is written up front.

Every writer here hands its encoded blocks to one ``WriteBehind`` thread, so the kernel's
copying of one block overlaps the arithmetic on the next.
"""

from __future__ import annotations

import contextlib
import queue
import struct
import threading
from pathlib import Path
from typing import BinaryIO

import numpy as np


class WriteBehind:
    """Performs file writes on one helper thread, in order, a few blocks behind.

    A write system call releases the GIL, so the kernel's copying of one block overlaps the
    arithmetic on the next. Buffers handed over must not be changed afterwards. Errors surface
    on the next ``write`` or at ``close``.

    Public: each of the mixer's passes (tools/mixing.py) shares one among its writers.
    """

    def __init__(self, depth: int = 6) -> None:
        self._queue: queue.Queue[tuple[BinaryIO, object] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="mix-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if self._error is None:
                    item[0].write(item[1])
            except BaseException as exc:  # handed over to the caller's thread
                self._error = exc
            finally:
                self._queue.task_done()

    def write(self, file: BinaryIO, data: object) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((file, data))

    def drain(self) -> None:
        """Wait until every write queued so far is done; raise the first error, if any."""
        self._queue.join()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Finish every queued write and stop the thread; raise the first error, if any."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:  # already failing: drain quietly and keep the first error
            with contextlib.suppress(BaseException):
                self.close()


class StageWriter:
    """Headerless interleaved float32 frames: a private temp file between the two passes.

    Plain file I/O rather than a float WAV: the data never leaves the mixer, and it spares
    libsndfile's per-chunk conversion and the fsync it does when a written file is closed.

    Public: the mixer's first pass (tools/mixing.py) writes its stages with it.
    """

    def __init__(self, path: Path, behind: WriteBehind) -> None:
        self._behind = behind
        self._file = open(path, "wb")  # closed by __exit__

    def write(self, x: np.ndarray) -> None:
        self._behind.write(self._file, np.ascontiguousarray(x, dtype=np.float32).data)

    def __enter__(self) -> StageWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._behind.drain()
        finally:
            self._file.close()


class StageReader:
    """Reads back what a ``StageWriter`` wrote, block by block.

    Public: the mixer's second pass (tools/mixing.py) reads its stages with it.
    """

    def __init__(self, path: Path, channels: int) -> None:
        self._file = open(path, "rb")  # closed by __exit__
        self.channels = channels

    def read(self, frames: int) -> np.ndarray:
        data = np.fromfile(self._file, dtype=np.float32, count=frames * self.channels)
        return data.reshape(-1, self.channels)

    def __enter__(self) -> StageReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


_WAV_FORMATS = {"PCM_16": (1, 2), "PCM_24": (1, 3), "FLOAT": (3, 4)}  # format tag, bytes


def _wav_header(frames: int, sample_rate: int, channels: int, subtype: str,
                rf64: bool | None = None) -> bytes:
    """RIFF/WAVE header for exactly ``frames`` frames; RF64 (EBU Tech 3306) when the sizes
    need more than 32 bits (or when ``rf64`` says so)."""
    tag, width = _WAV_FORMATS[subtype]
    align = channels * width
    data = frames * align
    fmt = struct.pack("<HHIIHH", tag, channels, sample_rate, sample_rate * align, align,
                      8 * width)
    fact = b""
    if tag == 3:  # non-PCM data: an empty extension and a fact chunk, as the format asks
        fmt += struct.pack("<H", 0)
        fact = b"fact" + struct.pack("<II", 4, min(frames, 0xFFFFFFFF))
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + fact
    riff = len(body) + 8 + data + (data & 1)
    if not (riff > 0xFFFFFFFF if rf64 is None else rf64):
        return b"RIFF" + struct.pack("<I", riff) + body + b"data" + struct.pack("<I", data)
    ds64 = b"ds64" + struct.pack("<IQQQI", 28, riff + 36, data, frames, 0)
    return (b"RF64" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + ds64 + body[4:]
            + b"data" + struct.pack("<I", 0xFFFFFFFF))


class WavWriter:
    """Streams exactly ``frames`` frames into a WAV whose header is written up front.

    The mixer knows every output's length before it starts, so no size needs patching; and
    encoding with numpy is several times faster than libsndfile's per-sample conversion, which
    (with the fsync it does on close) was a third of the mixer's time on long soundtracks.

    Public: the mixer's second pass (tools/mixing.py) writes the mix and its stems with it.
    """

    def __init__(self, path: Path, sample_rate: int, channels: int, subtype: str,
                 frames: int, behind: WriteBehind, rf64: bool | None = None) -> None:
        self.subtype = subtype
        self._behind = behind
        self._left = frames
        self._odd = (frames * channels * _WAV_FORMATS[subtype][1]) & 1
        self._file = open(path, "wb")  # closed by __exit__
        self._file.write(_wav_header(frames, sample_rate, channels, subtype, rf64))

    def write(self, x: np.ndarray) -> None:
        if self.subtype == "FLOAT":
            self._behind.write(self._file, np.ascontiguousarray(x, dtype="<f4").data)
        else:
            full = 32768.0 if self.subtype == "PCM_16" else 8388608.0
            scaled = np.multiply(x, full, dtype=np.float64)
            np.rint(scaled, out=scaled)
            np.clip(scaled, -full, full - 1, out=scaled)
            if self.subtype == "PCM_16":
                self._behind.write(self._file, scaled.astype("<i2").data)
            else:  # the low three bytes of each little-endian int32, copied plane by plane
                word = scaled.astype("<i4").reshape(-1).view(np.uint8).reshape(-1, 4)
                packed = np.empty((len(word), 3), dtype=np.uint8)
                for k in range(3):
                    packed[:, k] = word[:, k]
                self._behind.write(self._file, packed.data)
        self._left -= len(x)

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            self._behind.drain()
            if exc_type is None:
                if self._left:
                    raise RuntimeError(f"WAV writer is {self._left} frames off its header")
                if self._odd:
                    self._file.write(b"\0")  # chunks are word-aligned
        finally:
            self._file.close()
