"""Per-feature losses and their exact moments (kgon.fluctuation): known truths.

- the mean of the per-feature losses over mu and the features is the closed-form potential L(W, b);
- the second moments (Gauss-Legendre on the pieces between the kinks) agree with an adaptive
  quadrature of the products to 1e-10 (they are exact, not approximations).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from kgon import feature_loss_kinks, feature_loss_moments, feature_losses, potential


def _configs():
    rng = np.random.default_rng(3)
    ang = 2 * np.pi * np.arange(5) / 5  # a regular pentagon with a dead sixth column
    W1 = np.column_stack([1.17 * np.stack([np.cos(ang), np.sin(ang)]), np.zeros(2)])
    b1 = np.array([-0.28] * 5 + [-0.08])
    W2, b2 = rng.normal(size=(2, 6)), rng.normal(scale=0.3, size=6)
    return [(np.asarray(W1), np.asarray(b1)), (W2, b2)]


def test_feature_losses_match_the_direct_loss():
    W, b = _configs()[1]
    mu = np.array([0.0, 0.3, 0.77])
    out = feature_losses(W, b, mu)
    for k, m in enumerate(mu):
        for i in range(6):
            x = np.zeros(6)
            x[i] = m
            direct = np.sum((x - np.maximum(W.T @ W @ x + b, 0.0)) ** 2)
            assert out[k, i] == pytest.approx(direct, abs=1e-13)


def test_mean_is_the_population_loss():
    configs = _configs()
    mean, _ = feature_loss_moments([W for W, _ in configs], [b for _, b in configs])
    for p, (W, b) in enumerate(configs):
        assert mean[p].mean() == pytest.approx(float(potential(W, b)), rel=1e-12)


def test_second_moments_are_exact():
    configs = _configs()
    _, second = feature_loss_moments([W for W, _ in configs], [b for _, b in configs])
    kinks = np.unique(np.concatenate([feature_loss_kinks(W, b) for W, b in configs]))
    for (p, m, q, k) in [(0, 0, 1, 3), (1, 2, 1, 2), (0, 5, 0, 1)]:
        def f(mu):
            return feature_losses(*configs[p], mu)[m] * feature_losses(*configs[q], mu)[k]
        val, _ = integrate.quad(f, 0.0, 1.0, points=kinks, epsabs=1e-13, epsrel=1e-12, limit=200)
        assert second[p, m, q, k] == pytest.approx(val, abs=1e-10)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="`W` must have shape"):
        feature_losses(np.zeros((2, 3)), np.zeros(4), 0.5)
    with pytest.raises(ValueError, match="non-empty"):
        feature_loss_moments([], [])
