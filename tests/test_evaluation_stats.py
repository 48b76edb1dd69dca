"""The model metrics' distribution math against closed forms: Fréchet distance, KL, IS."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lvas.tools.evaluation.stats import (
    frechet_distance,
    frechet_distance_of,
    gaussian,
    inception_score,
    kl_softmax,
)


def _samples_with(mean: np.ndarray, cov: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Samples whose sample mean and unbiased covariance are exactly ``mean`` and ``cov``."""
    x = np.random.default_rng(seed).standard_normal((n, len(mean)))
    x -= x.mean(axis=0)
    white = np.linalg.cholesky(np.cov(x, rowvar=False))
    x = x @ np.linalg.inv(white).T  # sample covariance exactly I
    return x @ np.linalg.cholesky(cov).T + mean


def test_fd_of_identical_sets_is_zero() -> None:
    x = np.random.default_rng(0).standard_normal((200, 16))
    assert frechet_distance_of(x, x) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance_of(x, x[::-1].copy()) == pytest.approx(0.0, abs=1e-8)


def test_fd_of_two_isotropic_gaussians_is_the_closed_form() -> None:
    d, a, b = 8, 4.0, 0.25
    mu1, mu2 = np.zeros(d), np.full(d, 0.5)
    expected = d * 0.25 + d * (math.sqrt(a) - math.sqrt(b)) ** 2
    assert frechet_distance(mu1, a * np.eye(d), mu2, b * np.eye(d)) == pytest.approx(expected)


def test_fd_of_two_commuting_gaussians_is_the_closed_form() -> None:
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))  # a shared eigenbasis
    l1, l2 = np.array([1.0, 2.0, 3.0, 0.5, 4.0]), np.array([2.0, 0.5, 3.0, 1.0, 9.0])
    s1, s2 = q @ np.diag(l1) @ q.T, q @ np.diag(l2) @ q.T
    mu1, mu2 = rng.standard_normal(5), rng.standard_normal(5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(l1) - np.sqrt(l2)) ** 2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_fd_of_one_dimensional_gaussians() -> None:
    # W2² of N(1, 4) and N(3, 1): (1-3)² + (2-1)²
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]),
                            np.array([[1.0]])) == pytest.approx(5.0)


def test_fd_from_features_matches_the_closed_form_of_their_statistics() -> None:
    cov1 = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 0.5]])
    cov2 = np.array([[1.0, -0.2, 0.1], [-0.2, 3.0, 0.0], [0.1, 0.0, 1.5]])
    mu1, mu2 = np.array([0.0, 1.0, -1.0]), np.array([0.5, 0.5, 0.0])
    a, b = _samples_with(mu1, cov1, 400, 2), _samples_with(mu2, cov2, 300, 3)
    stats_a = gaussian(a)
    np.testing.assert_allclose(stats_a.mean, mu1, atol=1e-12)
    np.testing.assert_allclose(stats_a.cov, cov1, atol=1e-12)
    # general (non-commuting) closed form: tr(S1 + S2 - 2 (S1^½ S2 S1^½)^½)
    w, v = np.linalg.eigh(cov1)
    root1 = v @ np.diag(np.sqrt(w)) @ v.T
    inner = np.linalg.eigvalsh(root1 @ cov2 @ root1)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2 * np.sum(
        np.sqrt(inner))
    assert frechet_distance_of(a, b) == pytest.approx(expected, rel=1e-9)


def test_fd_of_singular_covariances_is_finite() -> None:
    # fewer samples than dimensions, as a short video's PANNs windows: rank-deficient
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((4, 32)), rng.standard_normal((5, 32)) + 1.0
    value = frechet_distance_of(a, b)
    assert math.isfinite(value) and value > 0


def test_fd_needs_two_samples_and_matching_shapes() -> None:
    with pytest.raises(ValueError, match="at least two"):
        frechet_distance_of(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="mismatched"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_kl_of_identical_distributions_is_zero_and_ignores_logit_shifts() -> None:
    logits = np.random.default_rng(5).standard_normal((20, 7))
    assert kl_softmax(logits, logits) == pytest.approx(0.0, abs=1e-12)
    assert kl_softmax(logits + 3.0, logits) == pytest.approx(0.0, abs=1e-12)


def test_kl_is_reference_against_generated_averaged_over_pairs() -> None:
    reference = np.array([[0.0, 0.0], [0.0, 0.0]])  # (1/2, 1/2)
    generated = np.array([[math.log(3.0), 0.0], [0.0, 0.0]])  # (3/4, 1/4), then equal
    # KL((1/2,1/2) || (3/4,1/4)) = ½ ln(2/3) + ½ ln 2 = ½ ln(4/3); the second pair is 0
    assert kl_softmax(generated, reference) == pytest.approx(0.5 * 0.5 * math.log(4.0 / 3.0))
    # not symmetric: KL((3/4,1/4) || (1/2,1/2)) = ¾ ln(3/2) + ¼ ln(1/2)
    assert kl_softmax(reference[:1], generated[:1]) == pytest.approx(
        0.75 * math.log(1.5) + 0.25 * math.log(0.5))


def test_kl_needs_paired_arrays() -> None:
    with pytest.raises(ValueError, match="same 2-D shape"):
        kl_softmax(np.zeros((3, 4)), np.zeros((2, 4)))


def test_inception_score_of_identical_predictions_is_one() -> None:
    logits = np.tile(np.random.default_rng(6).standard_normal(9), (50, 1))
    result = inception_score(logits)
    assert result.mean == pytest.approx(1.0) and result.std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_of_confident_distinct_classes_is_the_class_count() -> None:
    classes, splits = 6, 10
    # each split of consecutive rows holds every class once, each predicted with certainty
    logits = np.full((classes * splits, classes), -50.0)
    logits[np.arange(classes * splits), np.arange(classes * splits) % classes] = 50.0
    result = inception_score(logits, splits=splits, seed=None)
    assert result.mean == pytest.approx(classes) and result.std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_shuffles_with_the_seed_before_splitting() -> None:
    classes, n = 4, 40
    labels = np.arange(n) % classes
    logits = np.full((n, classes), -50.0)
    logits[np.arange(n), labels] = 50.0
    # confident predictions: each split scores exp(entropy of its class frequencies)
    order = np.random.RandomState(2020).permutation(n)
    expected = []
    for part in np.array_split(labels[order], 10):
        freq = np.bincount(part, minlength=classes) / len(part)
        freq = freq[freq > 0]
        expected.append(math.exp(-np.sum(freq * np.log(freq))))
    result = inception_score(logits, splits=10, seed=2020)
    assert result.mean == pytest.approx(np.mean(expected))
    assert result.std == pytest.approx(np.std(expected))
    assert result.mean < classes  # shuffled splits are not all balanced


def test_inception_score_needs_a_sample_per_split() -> None:
    with pytest.raises(ValueError, match="at least 10 samples"):
        inception_score(np.zeros((9, 3)))
