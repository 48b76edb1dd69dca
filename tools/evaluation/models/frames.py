"""Video frames for the audio-visual models, decoded as av-benchmark decodes them.

av-benchmark reads frames through FFmpeg at a fixed rate (its ``fps`` filter: 0.5 fps for
ImageBind, 25 fps for Synchformer) as RGB24, then resizes the shorter side to 224 with
torchvision (bicubic, antialiased, rounded back to 8 bits; the longer side truncated to an
integer). Here the ffmpeg program runs the same filter and each frame is resized as it
arrives (``torch.nn.functional.interpolate``, bicubic, antialiased, on the 8-bit frame as
torchvision does on the CPU), so only small frames are kept, whatever the video's length.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import numpy as np

from lvas.tools.common.errors import LVASInputError
from lvas.tools.common.ffmpeg import FFmpegError, ffmpeg_exe

SIZE = 224


def coded_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) of the frames ffmpeg outputs for the first video stream (after its
    automatic rotation)."""
    import av

    from lvas.tools.video.probe import probe_video

    rotation = probe_video(path).rotation
    with av.open(str(path)) as container:
        ctx = container.streams.video[0].codec_context
        width, height = int(ctx.width), int(ctx.height)
    return (height, width) if rotation in (90, 270) else (width, height)


def iter_rgb_frames(path: str | os.PathLike[str], fps: float) -> Iterator[np.ndarray]:
    """``(H, W, 3)`` uint8 frames of the first video stream at ``fps`` (FFmpeg's fps filter)."""
    width, height = coded_size(path)
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
           "-map", "0:v:0", "-an", "-vf", f"fps={fps},format=rgb24", "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-"]
    size = width * height * 3
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    finished = False
    try:
        while True:
            data = proc.stdout.read(size)
            if len(data) < size:
                break
            yield np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
        finished = True
    finally:
        if not finished:  # the reader stopped early: no need for the rest
            proc.kill()
        proc.stdout.close()
        err = proc.stderr.read().decode("utf-8", "replace")
        proc.stderr.close()
        code = proc.wait()
    if code != 0:
        raise FFmpegError(f"ffmpeg could not decode {path}", err[-2000:], code)


def resized_shape(height: int, width: int, size: int = SIZE) -> tuple[int, int]:
    """(height, width) with the shorter side ``size``, as torchvision's ``Resize(size)``."""
    if width <= height:
        return int(size * height / width), size
    return size, int(size * width / height)


def resize_short_side(frame: np.ndarray, size: int = SIZE) -> Any:
    """``(3, h, w)`` uint8 tensor: the frame's shorter side bicubic-resized to ``size``."""
    import torch

    x = torch.from_numpy(np.array(frame)).permute(2, 0, 1)[None].contiguous()
    h, w = resized_shape(frame.shape[0], frame.shape[1], size)
    if (h, w) != tuple(frame.shape[:2]):
        # on 8-bit input, as torchvision's Resize runs it on the CPU
        x = torch.nn.functional.interpolate(x, size=(h, w), mode="bicubic", antialias=True,
                                            align_corners=False)
    return x[0]


def center_crop(image: Any, size: int = SIZE) -> Any:
    """The centre ``size`` × ``size`` of a ``(C, H, W)`` tensor (torchvision's rounding)."""
    h, w = image.shape[-2:]
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return image[..., top:top + size, left:left + size]


def check_video(path: str | os.PathLike[str] | None, metric: str) -> str:
    """The video path, or a clear error when a picture metric has none."""
    if path is None:
        raise LVASInputError(f"{metric} needs the video (the picture) of each item: pass the "
                             "video, or leave this metric out")
    return str(path)
