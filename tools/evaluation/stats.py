"""The distribution math of the field's model-based metrics, as av-benchmark computes it.

- **Fréchet distance** (FD over VGGish, PANNs or PaSST features): each set of feature vectors
  is summarised by its mean and its unbiased covariance (``np.cov``, rows are samples), and
  ``|mu1 - mu2|² + tr(S1) + tr(S2) - 2 tr((S1 S2)^½)``. av-benchmark takes the last trace
  with scipy's ``sqrtm`` of the product (adding 1e-6 to both diagonals when that is not
  finite); here it is the same quantity from symmetric eigendecompositions
  (:func:`trace_sqrt_product`), exact also for the singular covariances of a few windows.
- **KL** (KL_PANNs, KL_PaSST): the softmax of paired logits, ``KL(reference || generated)``
  summed over classes and averaged over the pairs.
- **Inception score** (IS_PANNs, IS_PaSST): the softmax of the generated logits, rows shuffled
  with ``numpy.random.RandomState(seed)``, split into ``splits`` contiguous parts
  ``[i·N//splits, (i+1)·N//splits)``; per part ``exp(mean_i KL(p_i || mean p))``; the mean and
  the population standard deviation over parts.

Everything is float64 NumPy; nothing here needs torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IS_SPLITS = 10
IS_SEED = 2020


@dataclass(frozen=True)
class Gaussian:
    """Mean and unbiased covariance of a set of feature vectors."""

    mean: np.ndarray
    cov: np.ndarray
    count: int


def gaussian(features: np.ndarray) -> Gaussian:
    """Mean and unbiased covariance of ``features`` (rows are samples; at least two rows)."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be a 2-D array (samples, dims), got shape {x.shape}")
    if len(x) < 2:
        raise ValueError("a Fréchet distance needs at least two feature vectors per set")
    return Gaussian(x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False)), len(x))


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``tr((S1 S2)^½)`` of two covariance matrices, as ``Σ √λ(S1^½ S2 S1^½)``.

    The product of two positive semi-definite matrices is similar to the symmetric
    ``S1^½ S2 S1^½``, so their square roots have the same trace; computed this way (two
    symmetric eigendecompositions) it stays exact and fast for the rank-deficient covariances
    of a few windows, where scipy's ``sqrtm`` of the product takes seconds and needs the
    diagonal nudge av-benchmark adds. Eigenvalues rounding below zero count as zero.
    """
    w, v = np.linalg.eigh(sigma1)
    root1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    inner = root1 @ sigma2 @ root1
    return float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0.0, None))))


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                     sigma2: np.ndarray) -> float:
    """Fréchet (2-Wasserstein²) distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    m1, m2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1 = np.atleast_2d(np.asarray(sigma1, np.float64))
    s2 = np.atleast_2d(np.asarray(sigma2, np.float64))
    if m1.shape != m2.shape or s1.shape != s2.shape or s1.shape != (len(m1), len(m1)):
        raise ValueError(f"mismatched shapes: means {m1.shape}, {m2.shape}; "
                         f"covariances {s1.shape}, {s2.shape}")
    diff = m1 - m2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(s1, s2))


def frechet_distance_of(generated: np.ndarray, reference: np.ndarray) -> float:
    """FD between two sets of feature vectors (rows are samples), as av-benchmark's
    ``compute_fd(generated, reference)``."""
    a, b = gaussian(generated), gaussian(reference)
    return frechet_distance(a.mean, a.cov, b.mean, b.cov)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    x = np.asarray(logits, dtype=np.float64)
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def kl_softmax(generated_logits: np.ndarray, reference_logits: np.ndarray) -> float:
    """Mean over pairs of ``KL(softmax(reference) || softmax(generated))`` (nats).

    Row ``i`` of each array holds the logits of the same clip, generated and reference.
    """
    g, r = np.asarray(generated_logits), np.asarray(reference_logits)
    if g.ndim != 2 or g.shape != r.shape or not len(g):
        raise ValueError(f"paired logits must be two non-empty arrays of the same 2-D shape, "
                         f"got {g.shape} and {r.shape}")
    log_g, log_r = _log_softmax(g), _log_softmax(r)
    return float(np.sum(np.exp(log_r) * (log_r - log_g)) / len(g))


@dataclass(frozen=True)
class InceptionScore:
    """Mean and population standard deviation of the per-split scores."""

    mean: float
    std: float
    splits: int


def inception_score(logits: np.ndarray, splits: int = IS_SPLITS, seed: int | None = IS_SEED,
                    ) -> InceptionScore:
    """Inception score of the softmax of ``logits`` (rows are samples); ``seed=None`` keeps
    the order. Needs at least ``splits`` rows, so that no split is empty."""
    x = np.asarray(logits, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"logits must be a 2-D array (samples, classes), got shape {x.shape}")
    n = len(x)
    if splits < 1 or n < splits:
        raise ValueError(f"an inception score over {splits} splits needs at least {splits} "
                         f"samples, got {n}")
    if seed is not None:
        x = x[np.random.RandomState(seed).permutation(n)]
    log_p = _log_softmax(x)
    p = np.exp(log_p)
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        part, log_part = p[lo:hi], log_p[lo:hi]
        log_q = np.log(part.mean(axis=0, keepdims=True))
        scores.append(float(np.exp(np.sum(part * (log_part - log_q), axis=1).mean())))
    return InceptionScore(float(np.mean(scores)), float(np.std(scores)), splits)
