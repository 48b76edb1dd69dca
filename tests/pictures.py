"""Pictures of known content for the visual-evidence tests and the planner benchmark."""

from __future__ import annotations

import cv2
import numpy as np


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
