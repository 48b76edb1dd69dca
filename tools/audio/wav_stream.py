"""The one WAV writer: every WAV that LVAS writes (generated clips, the mixer's stage files, the
soundtrack and its stems) goes through ``WavWriter``.

The header is written up front for the frame count the caller expects (corrected on close if
the count differs) and samples are encoded with numpy, optionally on a ``WriteBehind`` thread.
soundfile (libsndfile) reads every WAV here, but writes none, because as a writer it
 - stamps each float WAV with the wall-clock time (its PEAK chunk), so the same samples give
   different bytes on every run and a clip's content hash changes with it;
 - fsyncs every file it closes, a third of the mixer's time on long soundtracks;
 - rounds floats to PCM its own way, and its per-sample conversion is several times slower
   than numpy's.
The header itself is plain RIFF/WAVE (RF64 past 4 GiB): for PCM it is byte for byte what
libsndfile writes; for float it carries the ``cbSize`` field and ``fact`` chunk the format
asks for (tests/test_mixing.py checks that libsndfile and ffmpeg read every kind back).
"""

from __future__ import annotations

import contextlib
import os
import queue
import struct
import threading
from typing import BinaryIO

import numpy as np

SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")
_WAV_FORMATS = {"PCM_16": (1, 2), "PCM_24": (1, 3), "FLOAT": (3, 4)}  # format tag, bytes


class WriteBehind:
    """Performs file writes on one helper thread, in order, a few blocks behind.

    A write system call releases the GIL, so the kernel's copying of one block overlaps the
    arithmetic on the next. Buffers handed over must not be changed afterwards. Errors surface
    on the next ``write`` or at ``close``.

    Public: each of the mixer's passes (tools/audio/mixing.py) shares one among its writers.
    """

    def __init__(self, depth: int = 6) -> None:
        self._queue: queue.Queue[tuple[BinaryIO, memoryview] | None] = queue.Queue(maxsize=depth)
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

    def write(self, file: BinaryIO, data: memoryview) -> None:
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


def encode(x: np.ndarray, subtype: str, *, floor: bool = False) -> np.ndarray:
    """Float samples (full scale ±1) as the little-endian values ``subtype`` stores.

    PCM rounds to the nearest step of 2**-15 or 2**-23 and saturates one step below +1. With
    ``floor``, PCM takes the step at or below instead, after rounding at 2**-31, which is what
    libsndfile does (with clipping on, as soundfile sets it): generated clips were written that
    way before LVAS wrote its own WAVs, and keep those bytes (and so their content hashes).
    """
    if subtype == "FLOAT":
        return np.ascontiguousarray(x, dtype="<f4")
    full = 32768.0 if subtype == "PCM_16" else 8388608.0
    if floor:
        scaled = np.multiply(np.asarray(x, dtype=np.float32), 2.0**31, dtype=np.float64)
        np.rint(scaled, out=scaled)
        np.floor_divide(scaled, 2.0**31 / full, out=scaled)
    else:
        scaled = np.multiply(x, full, dtype=np.float64)
        np.rint(scaled, out=scaled)
    np.clip(scaled, -full, full - 1, out=scaled)
    if subtype == "PCM_16":
        return scaled.astype("<i2")
    # 24-bit: the low three bytes of each little-endian int32, copied plane by plane.
    word = scaled.astype("<i4").reshape(-1).view(np.uint8).reshape(-1, 4)
    packed = np.empty((len(word), 3), dtype=np.uint8)
    for k in range(3):
        packed[:, k] = word[:, k]
    return packed


class WavWriter:
    """Streams float blocks into a WAV of ``subtype`` (one of ``SUBTYPES``).

    ``frames`` is the count the caller expects: the header is written for it up front, so a
    caller that knows its length (the mixer always does) never pays for a seek back; a count
    that turns out different is corrected on close. Give ``behind`` to hand the writes to a
    shared ``WriteBehind`` thread; blocks passed to ``write`` must then stay unchanged.

    Public: tools/audio/audio_io.py opens it for the generators; the mixer's passes
    (tools/audio/mixing.py) write their stage files, the mix and its stems with it.
    """

    def __init__(self, path: str | os.PathLike[str], sample_rate: int, channels: int,
                 subtype: str,
                 frames: int, behind: WriteBehind | None = None,
                 rf64: bool | None = None, pcm_floor: bool = False) -> None:
        if subtype not in SUBTYPES:
            raise ValueError(
                f"Unsupported WAV subtype {subtype!r}; use one of {', '.join(SUBTYPES)}.")
        if int(channels) < 1 or int(sample_rate) < 1:
            raise ValueError(f"A WAV needs channels and a rate, got {channels}, {sample_rate}")
        self.subtype = subtype
        self._floor = pcm_floor
        self.channels = int(channels)
        self.sample_rate = int(sample_rate)
        self.frames_written = 0
        self._promised = max(int(frames), 0)
        self._behind = behind
        self._header = _wav_header(self._promised, self.sample_rate, self.channels, subtype,
                                   rf64)
        self._file = open(path, "wb")  # closed by close()
        self._file.write(self._header)

    def write(self, x: np.ndarray) -> None:
        """Append ``(frames, channels)`` samples (mono also takes ``(frames,)``)."""
        if not (x.ndim == 2 and x.shape[1] == self.channels
                or x.ndim == 1 and self.channels == 1):
            raise ValueError(f"Expected blocks of {self.channels} channel(s), got {x.shape}")
        data = encode(x, self.subtype, floor=self._floor).data
        if self._behind is not None:
            self._behind.write(self._file, data)
        else:
            self._file.write(data)
        self.frames_written += len(x)

    def close(self) -> None:
        """Finish the file: wait for queued writes, pad the data chunk to an even size, and
        rewrite the header if the count differs from the one promised."""
        if self._file.closed:
            return
        try:
            if self._behind is not None:
                self._behind.drain()
            data = self.frames_written * self.channels * _WAV_FORMATS[self.subtype][1]
            if data & 1:
                self._file.write(b"\0")  # chunks are word-aligned
            if self.frames_written != self._promised:
                rf64 = self._header[:4] == b"RF64"
                header = _wav_header(self.frames_written, self.sample_rate, self.channels,
                                     self.subtype, rf64 or None)
                if len(header) != len(self._header):
                    raise ValueError(
                        f"{self.frames_written} frames need an RF64 header; pass the expected "
                        "frame count when opening a WAV past 4 GiB")
                self._file.seek(0)
                self._file.write(header)
        finally:
            self._file.close()

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:  # already failing (the file is being thrown away): keep the first error
            with contextlib.suppress(BaseException):
                if self._behind is not None:
                    self._behind.drain()
            self._file.close()
