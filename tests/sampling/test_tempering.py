"""Parallel tempering: known-answer bimodal target (acceptance 3) and the ladder."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

import sampling
from sampling.mcmc.engine import equalize_ladder
from sampling.mcmc.nuts import nuts_chains
from sampling.mcmc.tempering import geometric_ladder

# Target: p(x) ~ N(x; 0, S0^2 I) * sum_k w_k N(x; m_k, s_k^2 I) in d = 2, i.e. prior N(0, S0^2 I) and
# tempered term E(x) = -log sum_k w_k N(x; m_k, s_k^2 I). Two modes of unequal widths (0.25, 0.6)
# separated by a barrier of > 12 nats at beta = 1.
D = 2
S0 = 3.0
M = np.array([[-3.0, 0.0], [3.0, 0.0]])
S = np.array([0.25, 0.6])
WTS = np.array([0.2, 0.8])


def _energy(_, x):
    comp = (jnp.log(WTS) - 0.5 * jnp.sum((x[None, :] - M) ** 2, axis=1) / S**2 - D * jnp.log(S)
            - 0.5 * D * math.log(2 * math.pi))
    return -jax.scipy.special.logsumexp(comp)


def _log_prior(x):
    return -0.5 * jnp.sum(x * x) / S0**2


def _true_left_mass() -> float:
    """Exact P(x_0 < 0): component k of the posterior is w_k N(m_k; 0, v_k I) N(mu_k, tau_k^2 I) with
    v_k = S0^2 + s_k^2, mu_k = m_k S0^2 / v_k, tau_k^2 = S0^2 s_k^2 / v_k."""
    v = S0**2 + S**2
    logZ = np.log(WTS) - 0.5 * D * np.log(2 * np.pi * v) - 0.5 * np.sum(M**2, axis=1) / v
    Z = np.exp(logZ - logZ.max())
    Z /= Z.sum()
    mu0 = M[:, 0] * S0**2 / v
    tau = np.sqrt(S0**2 * S**2 / v)
    return float(np.sum(Z * norm.cdf(-mu0 / tau)))


def _side(z):
    return np.where(z[..., 0] < 0, "left", "right")


@pytest.fixture(scope="module")
def truth():
    t = _true_left_mass()
    assert 0.18 < t < 0.22  # the modes have unequal mass (and width): ~0.203 / 0.797
    return t


def test_tempering_recovers_the_mass_ratio(truth):
    K = 10
    rng = np.random.default_rng(0)
    pt = sampling.parallel_tempering(
        jax.random.PRNGKey(0), _energy, rng.normal(size=(4, K, D)) * S0, betas=geometric_ladder(K, 0.003),
        warmup=200, samples=600, log_prior_fn=_log_prior,
    )
    occ, err, how = sampling.occupancy_estimate(_side(pt.z), rng_key=jax.random.PRNGKey(1))
    # Monte Carlo error: bootstrap standard error over 8 blocks of 4 chains; 3 s.e. (~0.3% two-sided)
    assert 0 < err["left"] < 0.05
    assert abs(occ["left"] - truth) < 3 * err["left"]
    assert pt.betas[0] == 1.0 and np.all(np.diff(pt.betas) < 0)
    assert pt.swap_rate.shape == (K - 1,) and np.all((pt.swap_rate > 0.2) & (pt.swap_rate <= 1))
    assert np.all(pt.round_trips >= 10)
    assert pt.diverging.shape == (4, 600) and not pt.diverging.any()


@pytest.mark.slow  # a NUTS compilation (~4 s) for a demonstration; tempering's own checks stay in the default run
def test_independent_nuts_chains_from_one_basin_miss_it(truth):
    rng = np.random.default_rng(1)
    init = M[1] + 0.1 * rng.normal(size=(2, D))  # both chains in the wide (right) mode
    res = nuts_chains(jax.random.PRNGKey(2), _energy, init, warmup=100, samples=400, log_prior_fn=_log_prior)
    occ, err, _ = sampling.occupancy_estimate(_side(res.z))
    left = occ.get("left", 0.0)
    # the chains never cross the barrier: the estimate is 0 with a zero bootstrap error, i.e. the
    # truth is outside any multiple of the reported error bar
    assert left == 0.0
    assert abs(left - truth) > 3 * err.get("left", 0.0) + 0.15


def test_ladder_tuning_equalises_rejection():
    betas = geometric_ladder(5, 0.01)
    assert betas[0] == 1.0 and betas[-1] == pytest.approx(0.01)
    same = equalize_ladder(betas, np.full(4, 0.3))
    np.testing.assert_allclose(same, betas, rtol=1e-12)
    moved = equalize_ladder(betas, np.array([0.9, 0.1, 0.1, 0.1]))
    # the hard pair (1, beta_1) is split: beta_1 moves towards 1
    assert moved[1] > betas[1] and moved[0] == 1.0 and moved[-1] == pytest.approx(0.01)


@pytest.mark.parametrize(
    "betas, match",
    [([0.9, 0.5], "must decrease strictly from betas\\[0\\] = 1"), ([1.0, 1.0], "decrease"), ([1.0, 0.0], "positive")],
)
def test_bad_ladder(betas, match):
    with pytest.raises(ValueError, match=match):
        sampling.parallel_tempering(jax.random.PRNGKey(0), _energy, np.zeros((1, 2, D)), betas=betas, warmup=1,
                                    samples=1)


def test_bad_ladder_arguments():
    with pytest.raises(ValueError, match="`beta_min` must be a number in \\(0, 1\\]"):
        geometric_ladder(4, 0.0)
    with pytest.raises(ValueError, match="`n_temps`"):
        geometric_ladder(0, 0.1)
