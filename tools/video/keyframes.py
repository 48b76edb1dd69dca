"""Keyframe choice: K-means over a shot's sampled frames, and its sharpest frame.

As in LVAS-Agent, frames sampled about once a second are clustered and each cluster's medoid
(the real frame nearest its centre) represents one look of the shot; a long shot that
changes gets several keyframes, a static one gets one. The sharpest sample is kept beside
them for models that read fine detail.
"""

from __future__ import annotations

import cv2
import numpy as np

SECONDS_PER_KEYFRAME = 6.0
MAX_KEYFRAMES = 4


def keyframe_count(duration: float, samples: int) -> int:
    """How many looks a shot of ``duration`` seconds gets (one per ~6 s, at most four)."""
    wanted = int(round(duration / SECONDS_PER_KEYFRAME))
    return max(1, min(MAX_KEYFRAMES, wanted, samples))


def kmeans_medoids(features: np.ndarray, k: int, *, iterations: int = 25) -> list[int]:
    """Indices of the medoid of each of ``k`` clusters, largest cluster first.

    Deterministic: the first centre is the sample nearest the mean, each next one the sample
    farthest from the centres so far (no random restarts, so reruns give the same frames).
    """
    n = len(features)
    if n == 0:
        return []
    x = features.reshape(n, -1).astype(np.float64)
    k = max(1, min(k, n))
    first = int(np.argmin(((x - x.mean(axis=0)) ** 2).sum(axis=1)))
    centres = [x[first]]
    for _ in range(1, k):
        dist = np.min([((x - c) ** 2).sum(axis=1) for c in centres], axis=0)
        centres.append(x[int(np.argmax(dist))])
    c = np.stack(centres)
    labels = np.zeros(n, dtype=int)
    for _ in range(iterations):
        d = ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
        new = d.argmin(axis=1)
        if _ and np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):
                c[j] = members.mean(axis=0)
    medoids = []
    for j in sorted(range(k), key=lambda j: -int((labels == j).sum())):
        idx = np.flatnonzero(labels == j)
        if len(idx):
            medoids.append(int(idx[np.argmin(((x[idx] - c[j]) ** 2).sum(axis=1))]))
    return medoids


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image: high for crisp detail, low for blur."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())
