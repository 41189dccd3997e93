"""Population loss under the general input density (each feature active with probability 1 - S)."""

from __future__ import annotations

import numpy as np
import pytest

import kgon
from kgon.density import reconstruction_loss


def _params(seed, r=2, c=6, negative_bias=True):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(r, c))
    b = rng.normal(scale=0.3, size=c)
    return W, (-np.abs(b) if negative_bias else b)


@pytest.mark.parametrize("sparsity, r", [(0.3, 2), (0.5, 3), (0.7, 4)])
def test_agrees_with_plain_monte_carlo(sparsity, r):
    # independent estimate: i.i.d. inputs from the density, averaged; tolerance 4 combined standard errors
    W, b = _params(10 + r, r=r, negative_bias=False)
    imp = np.linspace(1.0, 0.3, 6)
    est = kgon.population_loss_density(W, b, sparsity=sparsity, importance=imp)
    rng = np.random.default_rng(99)
    n = 200_000
    X = (rng.random((n, 6)) < 1 - sparsity) * rng.random((n, 6))
    losses = reconstruction_loss(X, W, b, importance=imp)
    se = np.hypot(losses.std(ddof=1) / np.sqrt(n), est.stderr)
    assert abs(losses.mean() - est.value) < 4 * se
    assert est.stderr < 2e-3 * est.value  # the stated error is small enough to be useful


def test_high_sparsity_limit_is_the_closed_form():
    # b <= 0: L_S / P(one active) -> L_HS with an O(1 - S) remainder (pairs of active features)
    W, b = _params(3)
    gaps = []
    for sparsity in (0.999, 0.9999):
        est = kgon.population_loss_density(W, b, sparsity=sparsity)
        assert est.high_sparsity == pytest.approx(kgon.potential(W, b), rel=1e-14)
        gaps.append((est.value / est.p_one - est.high_sparsity) / (1 - sparsity))
    # the remainder divided by p is the same at both sparsities (it is linear in p to leading order)
    assert gaps[0] == pytest.approx(gaps[1], rel=0.01)
    # at the 5-gon (c = 6): the scaled loss is the closed form up to the pair remainder, 1.0% of it at
    # S = 0.999 and ten times less at S = 0.9999 (measured 1.02% and 0.10%)
    five = kgon.kgon(5, 6).solutions[0]
    for sparsity, bound in ((0.999, 0.015), (0.9999, 0.0015)):
        est = kgon.population_loss_density(five.W, five.b, sparsity=sparsity)
        assert est.high_sparsity == pytest.approx(five.loss, rel=1e-10)
        assert abs(est.value / est.p_one - est.high_sparsity) < bound * est.high_sparsity


def test_exact_parts_without_sampling():
    # all outputs dead (W = 0): loss = E sum_j I_j (x_j - ReLU(b_j))^2, computable by hand per coordinate
    c, p = 4, 0.4
    b = np.array([-0.2, 0.1, 0.3, -0.5])
    imp = np.array([1.0, 0.5, 2.0, 1.5])
    est = kgon.population_loss_density(np.zeros((2, c)), b, sparsity=1 - p, importance=imp)
    rb = np.maximum(b, 0)
    # E (x - t)^2 with x = 0 w.p. 1-p, U[0,1] w.p. p: (1-p) t^2 + p (1/3 - t + t^2)
    exact = np.sum(imp * ((1 - p) * rb**2 + p * (1 / 3 - rb + rb**2)))
    assert est.value == pytest.approx(exact, abs=6 * est.stderr + 1e-12)


def test_same_seed_same_estimate_and_bad_input():
    W, b = _params(1)
    once = kgon.population_loss_density(W, b, sparsity=0.5, seed=3)
    assert once == kgon.population_loss_density(W, b, sparsity=0.5, seed=3)
    with pytest.raises(ValueError, match="`sparsity` must be a number in \\[0, 1\\)"):
        kgon.population_loss_density(W, b, sparsity=1.0)
    with pytest.raises(ValueError, match="`replicates`"):
        kgon.population_loss_density(W, b, sparsity=0.5, replicates=1)


def test_batch_equals_one_by_one():
    rng = np.random.default_rng(4)
    W, b = rng.normal(size=(3, 2, 2, 5)), rng.normal(scale=0.3, size=(3, 2, 5))
    batch = kgon.population_loss_density(W, b, sparsity=0.6, n_points=256, replicates=3)
    assert batch.value.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            one = kgon.population_loss_density(W[i, j], b[i, j], sparsity=0.6, n_points=256, replicates=3)
            assert one.value == pytest.approx(batch.value[i, j], rel=1e-12)
            assert one.stderr == pytest.approx(batch.stderr[i, j], rel=1e-9)
