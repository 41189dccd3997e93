"""Self-diagnosing SGLD: NaN/divergence, escapes to lower loss, MALA acceptance, exclusion policy."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sampling import SGLDConfig, estimate_llc
from sampling.dynamics.llc_result import summarize_chains
from sampling.dynamics.sgld import quadratic_loss

# the quadratic tests share one compiled chain (sampling.dynamics.sgld.quadratic_loss, 4 parameters, 8 chains)
ONES = jnp.ones(4)


def test_exclusion_policy_on_synthetic_traces():
    rng = np.random.default_rng(0)
    L = 1.0 + rng.uniform(0.0, 0.02, size=(6, 100))  # n*beta*(L - L*) in [0, 2] for nbeta = 100
    L[0, 50] = np.nan  # nan
    L[1, 70] = 1.0 + 1e3  # diverged: 1e5 > 10 d
    L[2, 10:20] = 0.9  # escaped: min n*beta*(L - L*) = -10
    acc = np.ones_like(L)
    llc, std, se, chain, healthy, diag = summarize_chains(L, acc, 1.0, nbeta=100.0, burnin=0, d=2)
    assert diag.nan_chains == (0,) and diag.diverged_chains == (1,) and diag.escaped_chains == (2,)
    assert [c for c, _ in diag.excluded] == [0, 1, 2]
    assert list(healthy) == [False, False, False, True, True, True]
    expect = 100.0 * (L[3:] - 1.0).mean(axis=1)
    assert llc == pytest.approx(expect.mean(), rel=1e-14)
    assert se == pytest.approx(expect.std(ddof=1) / math.sqrt(3), rel=1e-12)
    # the record of the all-chain mean is kept but differs from the estimate
    assert diag.llc_all_chains == pytest.approx(np.nanmean(chain[1:]))
    assert any("3 of 6 chains excluded" in w for w in diag.warnings)
    d = diag.to_dict()
    assert d["excluded"][2]["chain"] == 2 and "escaped" in d["excluded"][2]["reason"]


def test_center_not_a_minimum_all_chains_escape():
    # the minimum of L is at 0; a centre at w* = (1, 1, 1, 1) is not a minimum: every chain finds lower loss
    res = estimate_llc(jax.random.key(0), quadratic_loss, jnp.ones(4), ONES,
                       config=SGLDConfig(nbeta=100.0, eps=1e-3, gamma=1.0, chains=8, draws=300))
    assert set(res.diagnostics.escaped_chains) == set(range(8))
    assert math.isnan(res.llc) and not res.healthy.any()
    assert res.diagnostics.llc_all_chains < 0  # what a silent average would have reported
    assert any("no healthy chain" in w for w in res.diagnostics.warnings)


def test_unstable_step_is_flagged():
    # eps * n*beta * h = 5 > 4: the discretised chain is unstable and blows up
    res = estimate_llc(jax.random.key(1), quadratic_loss, jnp.zeros(4), ONES,
                       config=SGLDConfig(nbeta=500.0, eps=1e-2, gamma=0.0, chains=8, draws=400))
    flagged = set(res.diagnostics.nan_chains) | set(res.diagnostics.diverged_chains)
    assert flagged == set(range(8))
    assert math.isnan(res.llc)


def test_low_acceptance_warns_and_predicts_the_bias():
    # eps * kappa = 1.6: stable, but SGLD's stationary variance is 1/(kappa (1 - eps kappa / 4)), 67% too wide
    nbeta, eps = 100.0, 0.016
    h = jnp.array([1.0, 1.0, 0.0, 0.0])
    res = estimate_llc(jax.random.key(2), quadratic_loss, jnp.zeros(4), h,
                       config=SGLDConfig(nbeta=nbeta, eps=eps, gamma=0.0, chains=8, burnin=200, draws=4000))
    assert res.diagnostics.acceptance_mean < 0.9
    assert any("low MALA acceptance" in w for w in res.diagnostics.warnings)
    predicted = 2 * 0.5 / (1 - eps * nbeta / 4)  # two curved directions
    assert abs(res.llc - predicted) <= 4 * res.llc_se
    assert res.llc > 1.0 + 4 * res.llc_se  # visibly biased above d/2 = 1


def test_argument_validation():
    with pytest.raises(ValueError, match="`eps` must be a positive number; got -1.0"):
        estimate_llc(jax.random.key(0), quadratic_loss, jnp.zeros(4), ONES, config=SGLDConfig(nbeta=1.0, eps=-1.0))
    with pytest.raises(ValueError, match="`chains` must be an integer >= 1; got 0"):
        estimate_llc(jax.random.key(0), quadratic_loss, jnp.zeros(4), ONES, config=SGLDConfig(nbeta=1.0, chains=0))
    with pytest.raises(ValueError, match="`nbeta` is needed"):
        estimate_llc(jax.random.key(0), quadratic_loss, jnp.zeros(4), ONES)
    with pytest.raises(ValueError, match="leading"):
        estimate_llc(jax.random.key(0), quadratic_loss, jnp.zeros(2), {"x": jnp.zeros(3), "y": jnp.zeros(4)},
                     config=SGLDConfig(batch_size=2))


def test_minibatch_linear_regression():
    """Minibatch SGLD on a regular model with data: y = x . w0 + noise, L_n = mean (y - x.w)^2; the
    minimiser of L_n is the centre. lambda = d / 2 = 1.5; the minibatch gradient noise adds variance,
    so the tolerance adds the harmonic estimate of that excess (small at this step size)."""
    rng = np.random.default_rng(3)
    n, d = 2000, 3
    X = rng.standard_normal((n, d))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.standard_normal(n)
    w_hat = np.linalg.lstsq(X, y, rcond=None)[0]

    def loss(w, batch):
        xb, yb = batch
        return jnp.mean((yb - xb @ w) ** 2)

    data = (jnp.asarray(X), jnp.asarray(y))
    res = estimate_llc(jax.random.key(4), loss, jnp.asarray(w_hat), data,
                       config=SGLDConfig(eps=2e-5, gamma=1.0, chains=8, burnin=250, draws=2000, batch_size=200))
    assert res.n == n and res.config.batch_size == 200
    assert res.config.nbeta == pytest.approx(n / math.log(n))
    assert res.diagnostics.excluded == ()
    assert abs(res.llc - 1.5) <= 4 * res.llc_se + 0.1


def test_minibatch_divergence_check_uses_block_means():
    """Minibatch traces scatter around L_n(w) by n beta sigma / sqrt(m): a chain whose single values jump
    above the divergence threshold but whose block means stay near the centre is healthy with blocks (the
    minibatch setting) and diverged without (the full-batch setting, where a single value is the loss)."""
    rng = np.random.default_rng(0)
    nbeta, d = 1000.0, 4
    L = 1.0 + (d / 2) / nbeta + rng.normal(0.0, 0.045, size=(3, 40_000))  # scatter n beta x 0.045 = 45 > 10 d = 40
    acc = np.ones_like(L)
    *_, healthy_block, diag_block = summarize_chains(L, acc, 1.0, nbeta=nbeta, burnin=0, d=d, block=10_000)
    *_, healthy_single, diag_single = summarize_chains(L, acc, 1.0, nbeta=nbeta, burnin=0, d=d, block=1)
    assert healthy_block.all() and not diag_block.diverged_chains
    assert not healthy_single.any() and len(diag_single.diverged_chains) == 3
    L[1, 10_000:20_000] += 0.1  # a real excursion: a whole block at n beta (L - L*) ~ 100 > 40
    *_, healthy, diag = summarize_chains(L, acc, 1.0, nbeta=nbeta, burnin=0, d=d, block=10_000)
    assert list(diag.diverged_chains) == [1] and healthy.tolist() == [True, False, True]


def test_minibatch_escape_check_allows_for_the_block_means_noise():
    """A chain at the centre whose minibatch scatter makes a block mean dip below -escape_tol by chance is
    not 'escaped' (the tolerance widens by three standard errors of a block mean); a chain that really
    found loss well below the centre still is."""
    rng = np.random.default_rng(1)
    nbeta, d = 1000.0, 4
    L = 1.0 + (d / 2) / nbeta + rng.normal(0.0, 0.06, size=(4, 20_000))  # block means (1,000 steps) sd ~ 1.9
    acc = np.ones_like(L)
    L[3, 5_000:] -= 0.03  # chain 3 found loss 30 below the centre: a real escape
    *_, healthy, diag = summarize_chains(L, acc, 1.0, nbeta=nbeta, burnin=0, d=d, block=1_000)
    assert healthy.tolist() == [True, True, True, False] and list(diag.escaped_chains) == [3]
