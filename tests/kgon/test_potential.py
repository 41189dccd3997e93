"""The closed-form TMS potential against an independent quadrature, across backends."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp
import torch

import kgon

# ---------------------------------------------------------------------------------------------
# Independent reference: Gauss-Legendre quadrature of the defining integral on the pieces between
# the kinks. The integrand (mu*delta - ReLU(a*mu + b))^2 is a quadratic polynomial on each piece, so
# 3-point Gauss-Legendre is exact there; this shares no code with the closed form.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(3)


def _integral_reference(a: float, b: float, delta: float) -> float:
    pts = [0.0, 1.0]
    if a != 0.0:
        t = -b / a
        if 0.0 < t < 1.0:
            pts = [0.0, t, 1.0]
    total = 0.0
    for lo, hi in zip(pts[:-1], pts[1:]):
        mu = 0.5 * (hi - lo) * _GL_X + 0.5 * (hi + lo)
        f = (mu * delta - np.maximum(a * mu + b, 0.0)) ** 2
        total += 0.5 * (hi - lo) * np.dot(_GL_W, f)
    return total


def reference_potential(W: np.ndarray, b: np.ndarray) -> float:
    """L = (1/c) sum_i E_mu sum_j (mu delta_ij - ReLU((W^T W)_{ji} mu + b_j))^2 by quadrature."""
    c = W.shape[1]
    total = 0.0
    for i in range(c):
        for j in range(c):
            total += _integral_reference(float(W[:, j] @ W[:, i]), float(b[j]), float(i == j))
    return total / c


def _random_cases(n: int, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        r = int(rng.integers(1, 4))
        c = int(rng.integers(2, 11))
        W = rng.normal(scale=rng.choice([0.3, 1.0, 2.0]), size=(r, c))
        b = rng.normal(scale=rng.choice([0.2, 0.7, 1.5]), size=c)
        yield W, b


def _edge_cases():
    # zero columns, with negative, zero and positive biases
    W = np.array([[1.0, 0.0, -0.5, 0.0], [0.2, 0.0, 0.9, 0.0]])
    yield W, np.array([-0.1, -0.3, 0.2, 0.125])
    yield W, np.array([0.0, 0.0, 0.0, 0.0])
    # orthogonal columns (a_ij = 0) and b_j = 0
    yield np.array([[1.0, 0.0, -1.0], [0.0, 2.0, 0.0]]), np.array([0.0, 0.0, 0.0])
    yield np.array([[1.0, 0.0, -1.0], [0.0, 2.0, 0.0]]), np.array([0.3, -0.2, 0.0])
    # kinks exactly at mu = 1 (a + b = 0) and at mu = 0 (b = 0, a != 0)
    Wk = np.array([[1.0, 0.6], [0.0, 0.8]])  # a_01 = 0.6, |W_i|^2 = 1
    yield Wk, np.array([-0.6, -1.0])
    yield Wk, np.array([0.6, 1.0])
    yield Wk, np.array([0.0, 0.0])
    # the 4-gon (c = 4, r = 2) and the all-zero parameter
    yield np.array([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, -1.0]]), np.zeros(4)
    yield np.zeros((2, 5)), np.zeros(5)


CASES = list(_random_cases(200, seed=1)) + list(_edge_cases())


def test_closed_form_matches_independent_quadrature():
    worst = 0.0
    for W, b in CASES:
        ref = reference_potential(W, b)
        val = kgon.potential(W, b)
        worst = max(worst, abs(val - ref) / max(abs(ref), 1e-300))
    assert worst <= 1e-12, worst


def test_batched_numpy_matches_loop():
    rng = np.random.default_rng(2)
    W = rng.normal(size=(7, 2, 6))
    b = rng.normal(size=(7, 6)) * 0.5
    out = kgon.potential(W, b)
    assert out.shape == (7,)
    np.testing.assert_allclose(out, [reference_potential(W[i], b[i]) for i in range(7)], rtol=1e-12)


def test_backends_agree():
    vjit = jax.jit(kgon.potential_jax)
    worst = 0.0
    for W, b in CASES[::3]:
        v_np = kgon.potential(W, b)
        v_jax = float(vjit(jnp.asarray(W), jnp.asarray(b)))
        v_t = kgon.potential_torch(torch.tensor(W), torch.tensor(b)).item()
        worst = max(worst, abs(v_np - v_jax), abs(v_np - v_t))
    assert worst <= 1e-12


def test_jax_vmap_matches_numpy():
    rng = np.random.default_rng(3)
    W = rng.normal(size=(50, 2, 6))
    b = rng.normal(size=(50, 6)) * 0.5
    v = jax.jit(jax.vmap(kgon.potential_jax))(jnp.asarray(W), jnp.asarray(b))
    np.testing.assert_allclose(np.asarray(v), kgon.potential(W, b), rtol=1e-12, atol=0)


def test_gradients_jax_torch_and_finite_differences():
    rng = np.random.default_rng(4)
    for W, b in list(_random_cases(12, seed=5)):  # each new (r, c) compiles: 12 cases cover r = 1..3, c = 2..10
        _, (gW, gb) = kgon.potential_and_grad_jax(jnp.asarray(W), jnp.asarray(b))
        Wt = torch.tensor(W, requires_grad=True)
        bt = torch.tensor(b, requires_grad=True)
        kgon.potential_torch(Wt, bt).backward()
        np.testing.assert_allclose(np.asarray(gW), Wt.grad.numpy(), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(np.asarray(gb), bt.grad.numpy(), rtol=1e-10, atol=1e-13)
        # central finite differences on a few coordinates (the potential is C^1; O(h^2) error)
        h = 1e-6
        for _ in range(3):
            which = rng.integers(2)
            if which == 0:
                idx = (rng.integers(W.shape[0]), rng.integers(W.shape[1]))
                Wp, Wm = W.copy(), W.copy()
                Wp[idx] += h
                Wm[idx] -= h
                fd = (kgon.potential(Wp, b) - kgon.potential(Wm, b)) / (2 * h)
                assert abs(fd - float(gW[idx])) < 1e-6 * max(1.0, abs(fd))
            else:
                j = rng.integers(b.shape[0])
                bp, bm = b.copy(), b.copy()
                bp[j] += h
                bm[j] -= h
                fd = (kgon.potential(W, bp) - kgon.potential(W, bm)) / (2 * h)
                assert abs(fd - float(gb[j])) < 1e-6 * max(1.0, abs(fd))


def test_jax_gradient_finite_at_branch_boundaries():
    # a = 0 with b > 0 and b < 0, kink at 0 and at 1: the double-where keeps gradients finite
    for W, b in list(_edge_cases()):
        if np.all(b == 0) and np.all(np.sum(W**2, axis=0) == 0):
            continue
        _, (gW, gb) = kgon.potential_and_grad_jax(jnp.asarray(W), jnp.asarray(b))
        assert np.all(np.isfinite(np.asarray(gW))) and np.all(np.isfinite(np.asarray(gb)))


def test_symbolic_pair_term_matches_numeric():
    T = kgon.pair_term()
    a, bb, d = sp.symbols("a b delta", real=True)
    rng = np.random.default_rng(6)
    for _ in range(40):
        av, bv = rng.normal(size=2)
        dv = int(rng.integers(2))
        sym = float(T.subs({a: av, bb: bv, d: dv}))
        assert abs(sym - _integral_reference(av, bv, dv)) < 1e-13
        assert abs(sym - float(kgon.pair_term_numeric(av, bv, dv))) < 1e-13


def test_potential_expr_small_model_matches_evaluator():
    expr, Wsym, bsym = kgon.potential_expr(1, 3)
    rng = np.random.default_rng(7)
    W = rng.normal(size=(1, 3))
    b = rng.normal(size=3) * 0.5
    subs = {Wsym[0, i]: W[0, i] for i in range(3)}
    subs.update({bsym[i]: b[i] for i in range(3)})
    assert abs(float(expr.subs(subs)) - kgon.potential(W, b)) < 1e-12
    # the expression is differentiable symbolically: d/db_0 agrees with jax
    d0 = float(sp.diff(expr, bsym[0]).subs(subs))
    _, (_, gb) = kgon.potential_and_grad_jax(jnp.asarray(W), jnp.asarray(b))
    assert abs(d0 - float(gb[0])) < 1e-10


@pytest.mark.parametrize(
    "W, b, match",
    [
        (np.zeros((2, 3)), np.zeros(4), "`b` must have shape"),
        (np.zeros(3), np.zeros(3), "`W` must have shape"),
        (np.zeros((2, 1)), np.zeros(1), "c >= 2"),
        (np.full((2, 3), np.nan), np.zeros(3), "`W` must be finite"),
        (np.zeros((2, 3)), np.array([0.0, np.inf, 0.0]), "`b` must be finite"),
    ],
)
def test_bad_parameters(W, b, match):
    with pytest.raises(ValueError, match=match):
        kgon.potential(W, b)


def test_potential_expr_bad_shape():
    with pytest.raises(ValueError, match="`r`"):
        kgon.potential_expr(0, 3)
    with pytest.raises(ValueError, match="`c`"):
        kgon.potential_expr(2, 1)
