"""Data sets and the exact fast empirical potential (acceptance 1)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sampling

_value_and_grad = jax.jit(lambda pot, W, b: pot.value_and_grad(W, b))
_value = jax.jit(lambda pot, W, b: pot.value(W, b))
_batched = jax.jit(lambda pot, W, b: jax.vmap(pot.value)(W, b))


def _direct(ds, W, b):
    """Direct sum over samples of L_n and its gradient, in extended precision (numpy longdouble)."""
    W = np.asarray(W, np.longdouble)
    b = np.asarray(b, np.longdouble)
    A = W.T @ W
    mu = ds.mu.astype(np.longdouble)
    f = ds.features
    pre = mu[:, None] * A[:, f].T + b[None, :]
    target = np.zeros_like(pre)
    target[np.arange(ds.n), f] = mu
    on = pre > 0
    e = target - np.where(on, pre, 0)
    L = np.sum(e * e) / ds.n
    g = -2 * e * on / ds.n  # dL / d pre
    G = np.zeros((ds.c, ds.c), np.longdouble)  # dL / dA[j, i]
    for i in range(ds.c):
        G[:, i] = (g[f == i] * mu[f == i, None]).sum(0)
    return float(L), np.asarray(W @ (G + G.T), float), np.asarray(g.sum(0), float)


def _points(catalogue, count_random, rng):
    pts = []
    for p in catalogue.points[:6]:  # 6, 5+, 5, ...: dead columns (a = 0), kinks inside [0, 1]
        pts.append((p.W + 0.01 * rng.normal(size=p.W.shape), p.b + 0.01 * rng.normal(size=p.b.shape)))
    pts.append((np.array([[1.0, 0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0, 0]]), np.array([0.3, -0.2, 0.1, -0.1, 0, 0.2])))
    for _ in range(count_random):
        pts.append((rng.normal(size=(2, 6)), rng.normal(size=6)))
    return pts


@pytest.mark.parametrize("n", [10, 1000, 10**6])
def test_fast_potential_equals_direct_sum(n, catalogue6):
    ds = sampling.make_dataset(jax.random.PRNGKey(n), n, 6)
    pot = sampling.empirical_potential(ds)
    rng = np.random.default_rng(n)
    pts = _points(catalogue6, 4, rng)
    if n == 10**6:  # the extended-precision reference costs ~1 s per point here: a catalogue point, a random one
        pts = pts[:1] + pts[6:7]
    for W, b in pts:
        L, (gW, gb) = _value_and_grad(pot, W, b)
        L_ref, gW_ref, gb_ref = _direct(ds, W, b)
        assert abs(float(L) - L_ref) <= 1e-12 * L_ref
        scale = max(np.abs(gW_ref).max(), np.abs(gb_ref).max())
        assert np.abs(np.asarray(gW) - gW_ref).max() <= 1e-12 * scale
        assert np.abs(np.asarray(gb) - gb_ref).max() <= 1e-12 * scale


def test_sample_on_kink_and_dense_reference():
    # a sample exactly at the kink mu = -b_j / a_ji: both formulas must agree there
    ds = sampling.Dataset(features=np.array([0, 0, 1, 1]), mu=np.array([0.25, 0.5, 0.5, 0.75]), c=2, n=4)
    W = np.array([[1.0, 0.5], [0.0, 0.0]])  # a_00 = 1, a_01 = a_10 = 0.5, a_11 = 0.25
    b = np.array([-0.5, -0.125])  # kinks at mu = 0.5 (j=0, i=0) and mu = 0.5 (j=1, i=1)
    pot = sampling.empirical_potential(ds)
    L_ref, _, _ = _direct(ds, W, b)
    assert float(_value(pot, W, b)) == pytest.approx(L_ref, rel=1e-14)
    dense = jax.jit(sampling.dense_loss)(jnp.asarray(ds.features), jnp.asarray(ds.mu), W, b)
    assert float(dense) == pytest.approx(L_ref, rel=1e-14)


def test_fast_potential_vmaps_and_matches_population_loss_in_the_limit(catalogue6):
    import kgon

    ds = sampling.make_dataset(jax.random.PRNGKey(1), 50_000, 6)
    pot = sampling.empirical_potential(ds)
    pts = catalogue6.points[:3]
    Ws = jnp.stack([p.W for p in pts])
    bs = jnp.stack([p.b for p in pts])
    batched = _batched(pot, Ws, bs)
    single = [float(_value(pot, p.W, p.b)) for p in pts]
    np.testing.assert_allclose(np.asarray(batched), single, rtol=1e-14)
    # L_n -> L: per-sample loss terms are bounded by ~1, so |L_n - L| < 5 / sqrt(n) w.h.p.
    for p, v in zip(pts, single):
        assert abs(v - float(kgon.potential(p.W, p.b))) < 5 / np.sqrt(ds.n)


def test_make_dataset_is_reproducible_nested_and_read_only():
    a = sampling.make_dataset(jax.random.PRNGKey(3), 1500, 6)
    b = sampling.make_dataset(jax.random.PRNGKey(3), 1500, 6)
    big = sampling.make_dataset(jax.random.PRNGKey(3), 5000, 6)
    other = sampling.make_dataset(jax.random.PRNGKey(4), 1500, 6)
    np.testing.assert_array_equal(a.mu, b.mu)
    np.testing.assert_array_equal(a.features, big.features[:1500])
    np.testing.assert_array_equal(a.mu, big.mu[:1500])
    assert not np.array_equal(a.mu, other.mu)
    assert a.mu.min() >= 0 and a.mu.max() < 1 and set(np.unique(a.features)) == set(range(6))
    # counts are Binomial(5000, 1/6): within 5 standard deviations
    assert np.all(np.abs(big.counts() - 5000 / 6) < 5 * np.sqrt(5000 * (1 / 6) * (5 / 6)))
    with pytest.raises(ValueError):
        a.mu[0] = 0.5
    x = a.inputs()
    assert x.shape == (1500, 6) and np.allclose(x.sum(1), a.mu)


@pytest.mark.parametrize(
    "n, c, match",
    [(0, 6, "`n` must be an integer >= 1; got 0."), (-3, 6, "`n`"), (10, 1, "`c` must be an integer >= 2; got 1."),
     (2.5, 6, "`n`")],
)
def test_make_dataset_bad_input(n, c, match):
    with pytest.raises(ValueError, match=match.replace("(", r"\(").replace(")", r"\)")):
        sampling.make_dataset(jax.random.PRNGKey(0), n, c)


def test_bad_dataset_and_potential_input():
    with pytest.raises(ValueError, match="`features` must be integers in 0..1"):
        sampling.Dataset(features=np.array([0, 2]), mu=np.array([0.1, 0.2]), c=2, n=2)
    with pytest.raises(ValueError, match="shape"):
        sampling.Dataset(features=np.array([0, 1]), mu=np.array([0.1]), c=2, n=2)
    with pytest.raises(ValueError, match="`dataset` must be a sampling.Dataset"):
        sampling.empirical_potential(np.zeros(3))
