"""MMAudio's conditioning frames, sampled and resized exactly as MMAudio's own loader does.

MMAudio's inference loader (``mmaudio.eval_utils.load_video`` over
``mmaudio.data.av_utils.read_frames``) decodes with PyAV and, for each of its two rates (8 fps
for CLIP, 25 fps for Synchformer), keeps a frame for every sample time it reaches: a decoded
frame at time ``t`` (``frame.time``) is kept while ``t >= next``, and each keep advances
``next += 1 / fps`` in floating point, starting from 0. So sample ``k`` shows the first frame
at or after the float-accumulated time ``next_k``; frames after the clip's end (``t >
duration``) are ignored and ``int(fps * duration)`` frames are kept. The pictures are
``frame.to_ndarray(format="rgb24")`` resized by torchvision's v2 transforms on CPU uint8
tensors: ``Resize((384, 384), BICUBIC)`` for CLIP; ``Resize(224, BICUBIC)`` (shorter side to
224, the longer ``int(224 * long / short)``) then ``CenterCrop(224)`` (offsets
``int(round(excess / 2))``) for sync; then ``ToDtype(float32, scale=True)`` (times ``1/255``)
and, for sync, ``Normalize(0.5, 0.5)``. torchvision (0.16 and later) resizes uint8 bicubic on
the CPU natively: ``interpolate(uint8, mode="bicubic", antialias=True, align_corners=False)``
with no float round trip; this module calls the same operations, so the tensors are equal.

LVAS reads a window ``[start, start + duration)`` of a longer video as MMAudio would read that
window cut out as its own clip: a frame's time is its exact time on LVAS's timeline (from the
stream's start) minus ``start``, rounded once to a float, and frames before ``start`` are not
part of the clip. For a window at 0 this is MMAudio's ``frame.time`` for files whose stream
starts at 0. The departures are deliberate: where MMAudio would shorten the whole clip because
the video ends (or has a gap) before the last sample, the missing samples repeat the last
frame shown, since LVAS must render the length it was asked for; the picture is turned upright
first (display rotation) and, for non-square pixels, resized straight to the size its
displayed shape gets; the first video stream that is not cover art is read; damaged packets
are skipped. Decoding streams from a keyframe before the window and stops after its end, so
memory stays within one window's frames whatever the video's length.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from lvas.tools.common.errors import LVASInputError

if TYPE_CHECKING:  # pragma: no cover - typing only; torch and av are imported lazily
    import av
    import torch

CLIP_FPS, CLIP_SIZE = 8.0, 384
SYNC_FPS, SYNC_SIZE = 25.0, 224
_SEEK_MARGIN = 1.0
"""Seconds before a window's start to seek to: a keyframe at or before it is decoded from."""


def read_mmaudio_frames(
    video_path: str | os.PathLike[str], start: float, duration: float
) -> tuple[np.ndarray, np.ndarray]:
    """The CLIP and sync frames of the window ``[start, start + duration)``, as MMAudio's
    ``load_video`` makes them for that window as a clip of its own (see the module's note).

    CLIP: ``(int(8 * duration), 3, 384, 384)`` float32 in [0, 1]. Sync:
    ``(int(25 * duration), 3, 224, 224)`` float32 in [-1, 1].
    """
    import av

    path = str(video_path)
    try:
        container = av.open(path, metadata_errors="ignore")
    except (av.error.FFmpegError, OSError) as exc:
        raise LVASInputError(f"{path}: cannot be opened as a video ({exc}).") from exc
    with container:
        stream = _first_video_stream(container)
        stream.thread_type = "AUTO"
        sar = stream.sample_aspect_ratio
        pickers = [
            _Picker(CLIP_FPS, int(CLIP_FPS * duration), CLIP_SIZE, _clip_picture),
            _Picker(
                SYNC_FPS,
                int(SYNC_FPS * duration),
                SYNC_SIZE,
                lambda picture: _sync_picture(picture, sar),
            ),
        ]
        last = _scan(
            container, stream, float(start), float(duration), pickers, seek=start > _SEEK_MARGIN
        )
        if last is None:
            raise LVASInputError(f"{path}: no frame could be decoded. Check the video file.")
        for picker in pickers:
            picker.fill(last)
    clip, sync = (picker.stacked() for picker in pickers)
    return _to_float(clip).numpy(), _normalized(_to_float(sync)).numpy()


# --- which frames -------------------------------------------------------------------------


class _Upright:
    """One decoded frame's RGB picture, turned upright, converted once however often used."""

    def __init__(self, frame: av.VideoFrame) -> None:
        self.frame = frame
        self.turns = _rotation(frame)
        self._rgb: np.ndarray | None = None

    def rgb(self) -> np.ndarray:
        """``(H, W, 3)`` uint8 as displayed (counter-clockwise quarter turns applied)."""
        if self._rgb is None:
            rgb = self.frame.to_ndarray(format="rgb24")  # as MMAudio's read_frames
            self._rgb = np.ascontiguousarray(np.rot90(rgb, self.turns)) if self.turns else rgb
        return self._rgb


class _Picker:
    """One rate of MMAudio's ``read_frames``: keep a frame while its time reaches ``next``."""

    def __init__(
        self, fps: float, count: int, size: int, transform: Callable[[_Upright], torch.Tensor]
    ) -> None:
        self.delta = 1 / fps
        self.next = 0.0
        self.count = max(0, count)
        self.size = size
        self.transform = transform
        self.kept: list[torch.Tensor] = []

    @property
    def done(self) -> bool:
        return len(self.kept) >= self.count

    def offer(self, t: float, picture: _Upright) -> None:
        """A frame at clip time ``t``: it fills every sample time it has reached."""
        resized = None
        while not self.done and t >= self.next:
            if resized is None:
                resized = self.transform(picture)
            self.kept.append(resized)
            self.next += self.delta

    def fill(self, last: _Upright) -> None:
        """Sample times after the last frame of the clip repeat it (MMAudio would shorten)."""
        if not self.done:
            resized = self.transform(last)
            self.kept.extend([resized] * (self.count - len(self.kept)))

    def stacked(self) -> torch.Tensor:
        import torch

        if not self.kept:
            return torch.zeros((0, 3, self.size, self.size), dtype=torch.uint8)
        return torch.stack(self.kept)


def _scan(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    start: float,
    duration: float,
    pickers: list[_Picker],
    *,
    seek: bool,
) -> _Upright | None:
    """Offer the window's frames to ``pickers``; the last frame of the clip (or, when the
    window starts after the video ends, the video's last frame).

    Decodes from a keyframe before ``start`` (from the beginning when the seek lands after it,
    as some containers index coarsely) until every picker is served or a frame lies past the
    window's end.
    """
    import av

    tb = stream.time_base or Fraction(1, 90000)
    rate = float(stream.average_rate or stream.guessed_rate or 25)
    offset = Fraction(start)
    origin = stream.start_time
    seek = seek and origin is not None
    if seek and origin is not None:
        try:
            container.seek(origin + int((start - _SEEK_MARGIN) / tb), stream=stream, backward=True)
        except av.error.FFmpegError:
            seek = False
            container.seek(0)
    last: _Upright | None = None
    for index, frame in enumerate(_decoded(container, stream)):
        if frame.pts is not None:
            if origin is None:
                origin = frame.pts
            t = float((frame.pts - origin) * tb - offset)  # exact, rounded once
        else:  # elementary streams: count frames at the nominal rate
            t = index / rate - start
        if seek and last is None and t > 0:
            container.seek(0)  # nothing was kept yet: read the window from the beginning
            return _scan(container, stream, start, duration, pickers, seek=False)
        if t > duration:  # MMAudio ignores frames after the clip's end
            if last is None:  # the window lies before the first frame: hold that one
                last = _Upright(frame)
            break
        last = _Upright(frame)
        if t < 0:
            continue
        for picker in pickers:
            picker.offer(t, last)
        if all(p.done for p in pickers):
            break
    return last


def _decoded(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> Iterator[av.VideoFrame]:
    """Every frame that decodes; damaged packets are skipped."""
    import av

    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except av.error.FFmpegError:
            continue


def _first_video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    import av

    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    raise LVASInputError(f"{container.name}: has no video stream. Pass a video file.")


def _rotation(frame: av.VideoFrame) -> int:
    """Counter-clockwise display rotation in quarter turns (0-3)."""
    try:
        degrees = int(round(float(frame.rotation)))
    except (AttributeError, TypeError, ValueError):
        return 0
    return (degrees % 360) // 90


# --- how they are resized: torchvision's v2 transforms on uint8 -------------------------


def _chw(rgb: np.ndarray) -> torch.Tensor:
    import torch

    return torch.from_numpy(rgb).permute(2, 0, 1)


def _resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """torchvision's ``resize_image`` for a CPU uint8 image, bicubic with antialiasing."""
    import torch.nn.functional as F

    if tuple(image.shape[-2:]) == (height, width):
        return image
    out = F.interpolate(
        image.unsqueeze(0),
        size=[height, width],
        mode="bicubic",
        align_corners=False,
        antialias=True,
    )
    return out[0]


def _clip_picture(picture: _Upright) -> torch.Tensor:
    """``Resize((384, 384), BICUBIC)``: uint8 ``(3, 384, 384)``."""
    return _resize(_chw(picture.rgb()), CLIP_SIZE, CLIP_SIZE)


def short_side_size(height: int, width: int, size: int) -> tuple[int, int]:
    """torchvision's ``Resize(size)``: the shorter side becomes ``size``, the longer
    ``int(size * long / short)``; ``(height, width)``."""
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(size * long / short)
    return (new_long, size) if width <= height else (size, new_long)


def centre_crop_offsets(height: int, width: int, size: int) -> tuple[int, int]:
    """torchvision's ``CenterCrop(size)`` anchor (Python's ``round``: halves go to even)."""
    return int(round((height - size) / 2.0)), int(round((width - size) / 2.0))


def _sync_picture(picture: _Upright, sar: Fraction | None) -> torch.Tensor:
    """``Resize(224, BICUBIC)`` then ``CenterCrop(224)``: uint8 ``(3, 224, 224)``.

    With non-square pixels the shape is the displayed one: one resize straight to the size
    the displayed picture would get (the stored rows are stretched by ``sar``).
    """
    rgb = picture.rgb()
    shown_h, shown_w = rgb.shape[:2]
    if sar and float(sar) > 0 and sar != 1:
        if picture.turns % 2:  # stored rows run vertically once turned upright
            shown_h = max(1, int(round(shown_h * float(sar))))
        else:
            shown_w = max(1, int(round(shown_w * float(sar))))
    new_h, new_w = short_side_size(shown_h, shown_w, SYNC_SIZE)
    resized = _resize(_chw(rgb), new_h, new_w)
    top, left = centre_crop_offsets(new_h, new_w, SYNC_SIZE)
    return resized[:, top : top + SYNC_SIZE, left : left + SYNC_SIZE]


def _to_float(frames: torch.Tensor) -> torch.Tensor:
    """``ToDtype(float32, scale=True)``: uint8 times ``1 / 255``."""
    import torch

    return frames.to(torch.float32).mul_(1.0 / 255)


def _normalized(frames: torch.Tensor) -> torch.Tensor:
    """``Normalize(mean=0.5, std=0.5)`` per channel, as torchvision computes it."""
    import torch

    mean = torch.as_tensor([0.5, 0.5, 0.5], dtype=frames.dtype).view(-1, 1, 1)
    std = torch.as_tensor([0.5, 0.5, 0.5], dtype=frames.dtype).view(-1, 1, 1)
    return frames.sub(mean).div_(std)
