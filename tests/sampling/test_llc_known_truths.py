"""Known-truth validation of the SGLD LLC estimator (docs/index.md).

Statistical tolerances: each estimate is the mean of C chain values; its Monte Carlo standard error is
``llc_se`` = std(chain values) / sqrt(C). We allow 4 standard errors (a fixed-seed test that fails
with probability ~6e-5 if the estimator is unbiased) plus, where the truth is an asymptotic value, the
*known* finite-n / finite-eps bias computed independently (exact Gaussian formulas or 1-D quadrature
of the same localized tempered posterior).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

from sampling import SGLDConfig, estimate_llc, sgld_step
from sampling.dynamics.sgld import quadratic_loss

# ----------------------------------------------------------------------------------------------
# models (module-level functions: the compiled chains are cached per loss function; the regular
# models all use sampling.dynamics.sgld.quadratic_loss with the curvature passed as data, 4 parameters, 8 chains)

CURV = np.array([1.0, 2.0, 0.5, 3.0])


def crossing(w, data):
    """Normal crossing K = w1^2 w2^4 (a = 1, b = 2): lambda = min(1/(2a), 1/(2b)) = 1/4."""
    return w[0] ** 2 * w[1] ** 4


def exact_gaussian(h, nbeta, gamma, eps):
    """E[n beta L] under SGLD's stationary law for L = 1/2 sum h_i w_i^2 (exact for the discretised chain):
    per direction kappa = n beta h + gamma, Var = 1 / (kappa (1 - eps kappa / 4)), so
    E[n beta h w^2 / 2] = (n beta h / kappa) / (2 (1 - eps kappa / 4))."""
    h = np.asarray(h, dtype=float)
    k = nbeta * h + gamma
    return float(np.sum((nbeta * h / k) / (2 * (1 - eps * k / 4))))


def crossing_truth(t, gamma):
    """E[t K] for p(w) ~ exp(-t w1^2 w2^4 - gamma |w|^2 / 2) by 1-D quadrature (w1 integrated exactly:
    given w2, w1 is Gaussian with precision 2 t w2^4 + gamma)."""

    def prec(v):
        return 2 * t * v**4 + gamma

    def weight(v):
        return math.exp(-gamma * v * v / 2) / math.sqrt(prec(v))

    Z = integrate.quad(weight, -np.inf, np.inf, limit=400, epsabs=0, epsrel=1e-11)[0]
    num = integrate.quad(lambda v: weight(v) * t * v**4 / prec(v), -np.inf, np.inf, limit=400, epsabs=0,
                         epsrel=1e-11)[0]
    return num / Z


# ----------------------------------------------------------------------------------------------


def test_zero_noise_step_is_a_gradient_step():
    w = jnp.array([0.3, -1.2, 0.7, 2.0])
    w_star = jnp.array([0.1, 0.0, -0.5, 1.0])
    g = jax.grad(quadratic_loss)(w, jnp.asarray(CURV))
    eps, gamma, nbeta = 1e-3, 2.0, 50.0
    out = np.asarray(sgld_step(jax.random.key(0), w, g, w_star, eps=eps, gamma=gamma, nbeta=nbeta, noise=0.0))
    # gradient step of size eps/2 on U(w) = nbeta L(w) + gamma/2 |w - w*|^2, computed independently
    wn, ws = np.asarray(w), np.asarray(w_star)
    gradU = nbeta * CURV * wn + gamma * (wn - ws)
    np.testing.assert_allclose(out, wn - 0.5 * eps * gradU, rtol=0, atol=1e-15)


def test_zero_noise_chain_is_gradient_descent():
    """A whole chain with noise 0 reproduces gradient descent on U step by step (from a centre that is
    not the minimum, so the loss gradient is not zero)."""
    w_star = np.array([0.4, -0.2, 1.0, 0.5])
    res = estimate_llc(jax.random.key(1), quadratic_loss, jnp.asarray(w_star), jnp.asarray(CURV),
                       config=SGLDConfig(nbeta=3.0, eps=0.01, gamma=0.5, chains=8, draws=50, noise=0.0, escape_tol=1e9))
    w = w_star.copy()
    losses = []
    for _ in range(50):
        w = w - 0.005 * (3.0 * CURV * w + 0.5 * (w - w_star))
        losses.append(0.5 * np.sum(CURV * w * w))
    np.testing.assert_allclose(res.loss_trace[0], losses, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(res.loss_trace[0], res.loss_trace[7])


def test_regular_model_d_over_2():
    nbeta, eps, gamma = 1000.0, 1e-5, 1.0
    res = estimate_llc(jax.random.key(2), quadratic_loss, jnp.zeros(4), jnp.asarray(CURV),
                       config=SGLDConfig(nbeta=nbeta, eps=eps, gamma=gamma, chains=8, burnin=2000, draws=20000))
    exact = exact_gaussian(CURV, nbeta, gamma, eps)
    assert res.diagnostics.excluded == ()
    assert abs(res.llc - exact) <= 4 * res.llc_se
    # and d/2 = 2 up to the known bias |exact - 2| (localisation and step size, < 1% here:
    # (1/2) sum_i eps kappa_i / 4 ~ 0.008 and -(1/2) sum_i gamma / kappa_i ~ -0.002)
    assert abs(res.llc - 2.0) <= 4 * res.llc_se + abs(exact - 2.0)
    assert abs(exact - 2.0) < 0.02
    assert res.diagnostics.acceptance_mean > 0.95


def test_unused_variables_contribute_zero():
    nbeta, eps, gamma = 1000.0, 1e-5, 1.0
    h = np.array([1.0, 2.0, 0.0, 0.0])  # w_2, w_3 do not enter the loss
    res = estimate_llc(jax.random.key(3), quadratic_loss, jnp.zeros(4), jnp.asarray(h),
                       config=SGLDConfig(nbeta=nbeta, eps=eps, gamma=gamma, chains=8, burnin=2000, draws=20000))
    exact = exact_gaussian(h[:2], nbeta, gamma, eps)  # the two unused directions add exactly 0
    assert abs(res.llc - exact) <= 4 * res.llc_se
    assert abs(res.llc - 1.0) <= 4 * res.llc_se + abs(exact - 1.0)


@pytest.fixture(scope="module")
def crossing_setup():
    t, gamma = 1000.0, 4.0
    return t, gamma, crossing_truth(t, gamma)


def test_crossing_quadrature_tends_to_lambda():
    """The target E[nbeta K] of the localized tempered posterior tends to lambda = 1/4 (corrections
    O(t^{-1/4})): check the quadrature itself, independently of SGLD."""
    vals = [crossing_truth(t, 1.0) for t in (1e4, 1e8, 1e12, 1e16)]
    errs = [abs(v - 0.25) for v in vals]
    assert errs[-1] < 2e-3
    assert all(e2 < e1 for e1, e2 in zip(errs, errs[1:]))


def test_normal_crossing(crossing_setup):
    t, gamma, truth = crossing_setup
    res = estimate_llc(jax.random.key(4), crossing, jnp.zeros(2),
                       config=SGLDConfig(nbeta=t, eps=1e-4, gamma=gamma, chains=16, burnin=3000, draws=20000))
    # discretisation bias: the stiffest direction has eps * kappa ~ 1e-4 * 12 sqrt(t) ~ 0.04, i.e. a
    # relative bias of order eps kappa / 4 ~ 1%; allow 2% of the truth on top of 4 standard errors
    assert res.diagnostics.excluded == ()
    assert abs(res.llc - truth) <= 4 * res.llc_se + 0.02 * truth, (res.llc, res.llc_se, truth)
    # the finite-t target is not lambda itself: the known gap is what separates them
    assert abs(truth - 0.25) < 0.1
