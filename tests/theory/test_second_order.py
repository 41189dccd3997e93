"""Known truths of the second-order Laplace term (theory.free_energies.laplace.second_order_terms)."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import digamma, gammaln

import kgon
from theory.free_energies.laplace import (
    flat_index,
    orbit_tangent,
    orbit_volume_slope,
    second_order_terms,
    transverse_basis,
)

kgon.configure_jax()


def derivatives(f, d, *params):
    """Hessian, third and fourth derivatives of f(y, *params) at y = 0 in R^d (one compiled program per
    (f, d): the parameters are traced, so a sweep over them compiles once)."""
    return tuple(np.asarray(x) for x in _derivatives(f, d, *params))


@functools.partial(jax.jit, static_argnums=(0, 1))
def _derivatives(f, d, *params):
    y = jnp.zeros(d)
    h = jax.hessian(lambda x: f(x, *params))
    return h(y), jax.jacfwd(h)(y), jax.jacfwd(jax.jacfwd(h))(y)


def _gamma(y, n):
    return n * phi(y[0])


def _sheared(y, n, k):
    return n * phi(y[0]) + n * phi(y[1] + k * y[0] ** 2)


def gamma_free_energy(n):
    """-log int exp(-n (e^y - 1 - y)) dy = -n + n log n - log Gamma(n) (u = n e^y)."""
    return -n + n * math.log(n) - gammaln(n)


def phi(u):
    return jnp.exp(u) - 1.0 - u


@pytest.mark.parametrize("n", [20.0, 200.0])
def test_gamma_integral(n):
    """f = n (e^y - 1 - y): exact - Laplace = -1/(12 n) + O(n^-3) (Stirling); the term gives -1/(12 n)."""
    H, f3, f4 = derivatives(_gamma, 1, n)
    so = second_order_terms(H, f3, f4)
    laplace = 0.5 * math.log(n / (2 * math.pi))
    assert so.total == pytest.approx(-1.0 / (12 * n), rel=1e-10)
    assert abs(gamma_free_energy(n) - laplace - so.total) < 0.02 / n**2  # the O(n^-3) remainder
    assert abs(gamma_free_energy(n) - laplace) > 0.05 / n  # Laplace alone misses the 1/n term


def test_sheared_integral_needs_every_coefficient():
    """f = n phi(y1) + n phi(y2 + k y1^2) (a shear, unit Jacobian): the integral is the product of two
    Gamma integrals for every k, while the quartic, chain and theta terms each move with k; only their
    sum with the coefficients 1/8, -1/8, -1/12 is k-independent, and the remainder is O(n^-2)."""
    res = []
    for n in (400.0, 1600.0):
        exact = 2 * gamma_free_energy(n)
        laplace = math.log(n / (2 * math.pi))
        for k in (0.0, 1.5):
            so = second_order_terms(*derivatives(_sheared, 2, n, k))
            res.append((n, k, exact - laplace - so.total, so))
    (_, _, r0, s0), (_, _, r1, s1), (_, _, r2, _), (_, _, r3, _) = res
    assert abs(s1.quartic - s0.quartic) > 2 / 400 and abs(s1.cubic_theta - s0.cubic_theta) > 2 / 400
    assert abs(r1) < 5.0 / 400**2 and abs(r3) < 5.0 / 1600**2
    assert abs(r1) / abs(r3) > 8  # O(n^-2)


def test_volume_term():
    """int exp(-n phi(y)) (1 + y) dy = Z (1 + psi(n) - log n): -log(1 + E y) with E y = -1/(2n) + O(n^-2)."""
    for n in (50.0, 500.0):
        H, f3, f4 = derivatives(_gamma, 1, n)
        so = second_order_terms(H, f3, f4, volume_slope=np.array([1.0]))
        exact_volume = -math.log(1.0 + digamma(n) - math.log(n))
        assert so.volume == pytest.approx(1.0 / (2 * n), rel=1e-10)
        assert abs(exact_volume - so.volume) < 1.0 / n**2


def test_orbit_volume_slope_matches_the_volume_element():
    """<t_hat, J (x + B y)> / ||W||_F = 1 + a . y exactly (linear), at a random point with a dead column."""
    rng = np.random.default_rng(3)
    r, c, live = 2, 4, [0, 1, 3]
    W, b = rng.normal(size=(r, c)), rng.normal(size=c)
    W[:, 2] = 0.0
    idx = flat_index(r, c, live)
    z = np.concatenate([W.ravel(), b])
    x = z[idx]
    t = orbit_tangent(z, r, c, idx)
    B = transverse_basis(t / np.linalg.norm(t))
    a = orbit_volume_slope(x, idx, B, r * c)
    for _ in range(3):
        y = rng.normal(size=B.shape[1])
        zz = z.copy()
        zz[idx] = x + B @ y
        vol = float(t / np.linalg.norm(t) @ orbit_tangent(zz, r, c, idx)) / np.linalg.norm(W)
        assert vol == pytest.approx(1.0 + a @ y, rel=1e-12)
