"""Pictures of known content for the visual-evidence tests and the planner benchmark."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from lvas.tools.common.ffmpeg import ffmpeg_exe


def grass_texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Fine irregular green texture, like grass (blobs a few pixels across), as BGR."""
    coarse = rng.integers(0, 90, (h // 2 + 1, w // 2 + 1)).astype(np.float32)
    noise = cv2.GaussianBlur(cv2.resize(coarse, (w, h)), (3, 3), 0)
    hsv = np.dstack(
        [
            np.full((h, w), 50, np.uint8),
            np.full((h, w), 170, np.uint8),
            (80 + noise).astype(np.uint8),
        ]
    )
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)


def windowed_blocks(image: np.ndarray) -> np.ndarray:
    """Grey blocks with rows of dark windows standing on the bottom edge of ``image`` (in
    place; returned): the built-up place of the evidence tests and the planner set."""
    h, w = image.shape[:2]
    for x0 in range(10, w - 40, 70):
        top = 40 + (x0 * 7) % 40
        cv2.rectangle(image, (x0, top), (x0 + 55, h), (120, 120, 125), -1)
        for y in range(top + 8, h - 8, 14):
            for x in range(x0 + 6, x0 + 50, 12):
                cv2.rectangle(image, (x, y), (x + 6, y + 7), (60, 60, 60), -1)
    return image


def encode_bgr_frames(frames: Sequence[np.ndarray], path: Path, fps: float,
                      gop: int | None = None) -> Path:
    """Encode same-sized BGR pictures as H.264 (yuv420p) with the ffmpeg LVAS uses."""
    h, w = frames[0].shape[:2]
    args = [ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
            "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", "-c:v", "libx264",
            "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if gop is not None:
        args += ["-g", str(gop)]
    subprocess.run([*args, str(path)], input=b"".join(np.ascontiguousarray(f).tobytes()
                                                      for f in frames), check=True)
    return path
