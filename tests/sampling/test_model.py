"""The posterior model: flat log density, numpyro models, the exp(-n L_n) convention."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer.util import log_density

import sampling
from sampling.model import flatten, log_prior


@pytest.fixture(scope="module")
def setup():
    ds = sampling.make_dataset(jax.random.PRNGKey(0), 300, 6)
    pot = sampling.empirical_potential(ds)
    rng = np.random.default_rng(0)
    params = [(rng.normal(size=(2, 6)), rng.normal(size=6)) for _ in range(3)]
    return ds, pot, params


_value = jax.jit(lambda pot, W, b: pot.value(W, b))
_flat = jax.jit(sampling.log_density, static_argnames="r")


@jax.jit
def _fast(pot, W, b):
    lp, trace = log_density(sampling.tms_model, (pot,), {"r": 2}, {"W": W, "b": b})
    return lp, trace["loss"]["value"]


@jax.jit
def _dense(features, mu, W, b):
    return log_density(sampling.dense_model, (features, mu), {"c": 6, "r": 2}, {"W": W, "b": b})[0]


def test_numpyro_model_equals_flat_log_density(setup):
    ds, pot, params = setup
    for W, b in params:
        lp_model, loss = _fast(pot, W, b)
        lp_flat = _flat(pot, flatten(W, b), r=2)
        # phi(w) exp(-n L_n(w)) with the full N(0, I) normalisation
        expected = -0.5 * (np.sum(W**2) + np.sum(b**2)) - 9 * math.log(2 * math.pi) - ds.n * float(_value(pot, W, b))
        assert float(lp_model) == pytest.approx(expected, rel=1e-13)
        assert float(lp_flat) == pytest.approx(expected, rel=1e-13)
        assert float(loss) == pytest.approx(float(_value(pot, W, b)), rel=1e-15)


def test_dense_model_is_the_same_posterior_with_variance_one_half(setup):
    """log p_dense - log p_fast = -(n c / 2) log(pi): a Gaussian likelihood of variance 1/2 is exp(-n L_n)."""
    ds, pot, params = setup
    diffs = []
    for W, b in params:
        lp_fast, _ = _fast(pot, W, b)
        lp_dense = _dense(jnp.asarray(ds.features), jnp.asarray(ds.mu), W, b)
        diffs.append(float(lp_dense) - float(lp_fast))
    np.testing.assert_allclose(diffs, -(ds.n * ds.c / 2) * math.log(math.pi), rtol=1e-11)


def test_tempered_log_density_scales_the_likelihood_only(setup):
    ds, pot, params = setup
    W, b = params[0]
    z = flatten(W, b)
    full = float(_flat(pot, z, r=2))
    half = float(_flat(pot, z, r=2, beta=0.5))
    prior = float(log_prior(z))
    assert half - prior == pytest.approx(0.5 * (full - prior), rel=1e-13)
