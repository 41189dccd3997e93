"""Feature importance (output weights I) and input scales (x = s_i mu e_i) in the closed-form potential.

The closed form L = (1/c) sum_{i,j} I_j T(s_i a_ji, b_j, s_i delta_ij) is checked against an
independent computation: adaptive quadrature of the defining integral with the kinks as break points.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch
from scipy.integrate import quad

import kgon


def quadrature_loss(W, b, importance, input_scale):
    """(1/c) sum_i int_0^1 sum_j I_j (s_i mu delta_ij - ReLU(a_ji s_i mu + b_j))^2 dmu, by quadrature."""
    c = W.shape[1]
    G = W.T @ W
    total = 0.0
    for i in range(c):
        for j in range(c):
            a, delta = input_scale[i] * G[j, i], input_scale[i] * (i == j)
            kink = -b[j] / a if a != 0 else None
            points = [kink] if kink is not None and 0 < kink < 1 else None
            f = lambda mu: (delta * mu - max(a * mu + b[j], 0.0)) ** 2  # noqa: E731
            total += importance[j] * quad(f, 0.0, 1.0, points=points, epsabs=1e-14, epsrel=1e-13)[0]
    return total / c


@pytest.mark.parametrize("r", [2, 3, 4])
def test_weighted_closed_form_matches_quadrature(r):
    rng = np.random.default_rng(100 + r)
    c = 5
    for _ in range(4):
        W = rng.normal(size=(r, c))
        b = rng.normal(scale=0.5, size=c)
        importance = rng.uniform(0.05, 2.0, size=c)
        scale = rng.uniform(0.1, 1.5, size=c)
        for imp, s in ((importance, None), (None, scale), (importance, scale)):
            exact = quadrature_loss(W, b, np.ones(c) if imp is None else imp, np.ones(c) if s is None else s)
            got = kgon.potential(W, b, importance=imp, input_scale=s)
            assert got == pytest.approx(exact, rel=1e-11, abs=1e-13)


def test_unit_weights_are_the_uniform_model():
    rng = np.random.default_rng(7)
    W, b = rng.normal(size=(3, 4, 6)), rng.normal(size=(3, 6))
    plain = kgon.potential(W, b)
    ones = kgon.potential(W, b, importance=np.ones(6), input_scale=np.ones(6))
    np.testing.assert_allclose(ones, plain, rtol=0, atol=0)


def test_backends_agree_with_weights():
    rng = np.random.default_rng(3)
    W, b = rng.normal(size=(2, 6)), rng.normal(scale=0.4, size=6)
    imp, s = rng.uniform(0.1, 1.0, 6), rng.uniform(0.5, 1.2, 6)
    ref = kgon.potential(W, b, importance=imp, input_scale=s)
    import jax.numpy as jnp

    Wj, bj, impj, sj = jnp.asarray(W), jnp.asarray(b), jnp.asarray(imp), jnp.asarray(s)
    jx = float(kgon.potential_jax(Wj, bj, importance=impj, input_scale=sj))
    val, (gW, gb) = kgon.potential_and_grad_jax(Wj, bj, importance=impj, input_scale=sj)
    Wt = torch.tensor(W, requires_grad=True)
    tt = kgon.potential_torch(Wt, torch.tensor(b), importance=torch.tensor(imp), input_scale=torch.tensor(s))
    tt.backward()
    assert jx == pytest.approx(ref, rel=1e-13) and float(val) == pytest.approx(ref, rel=1e-13)
    assert float(tt.detach()) == pytest.approx(ref, rel=1e-13)
    np.testing.assert_allclose(np.asarray(gW), Wt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_importance_is_linear_in_the_output_weights():
    # L_I = sum_j I_j L^(j): the weights enter linearly, so unit vectors (allowed by the unvalidated
    # core only) decompose the loss by output coordinate.
    rng = np.random.default_rng(11)
    W, b = rng.normal(size=(2, 4)), rng.normal(scale=0.3, size=4)
    parts = [float(kgon.potential_numpy(W, b, importance=np.eye(4)[j])) for j in range(4)]
    imp = np.array([0.3, 1.7, 0.9, 2.2])
    assert kgon.potential(W, b, importance=imp) == pytest.approx(float(np.dot(imp, parts)), rel=1e-12)
    assert sum(parts) == pytest.approx(kgon.potential(W, b), rel=1e-12)


def test_symbolic_expression_with_weights():
    expr, Ws, bs = kgon.potential_expr(2, 3, importance=[1, sp.Rational(1, 2), 2],
                                       input_scale=[1, 1, sp.Rational(3, 4)])
    rng = np.random.default_rng(5)
    W, b = rng.normal(size=(2, 3)), rng.normal(scale=0.3, size=3)
    subs = {Ws[k, i]: W[k, i] for k in range(2) for i in range(3)} | {bs[i]: b[i] for i in range(3)}
    assert float(expr.subs(subs)) == pytest.approx(
        kgon.potential(W, b, importance=[1, 0.5, 2], input_scale=[1, 1, 0.75]), rel=1e-12
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"importance": [1, 1, 1]}, "`importance` must have one entry per feature"),
        ({"importance": [1, 1, 0, 1]}, "`importance` must be finite and > 0"),
        ({"input_scale": [1, np.nan, 1, 1]}, "`input_scale` must be finite and > 0"),
    ],
)
def test_bad_weights(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kgon.potential(np.ones((2, 4)), np.zeros(4), **kwargs)
