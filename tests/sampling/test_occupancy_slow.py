"""Slow: c = 6 occupancy curves over 7 of 10 log-spaced n in [100, 10^4], both methods.

Run with ``pytest -m slow tests/sampling/test_occupancy_slow.py`` (about 25 minutes on 2 loaded cores; the
numbers are recorded in docs/sampling.md). Checks:

- the two methods agree where independent NUTS chains still mix (n <= 774);
- NUTS chains stop mixing at large n (R-hat of the loss > 1.1 somewhere at n >= 1292) while
  tempering keeps R-hat < 1.05 and puts the mass on the 6-gon;
- the 5 -> 6 crossing of the tempered curve is bracketed, with a bootstrap interval, and agrees
  with an independent refined Laplace evaluation of the phase free energies on the same data
  (:func:`_laplace_free_energy`) to within 2 nats of log-odds at n = 464.

The crossing (~320 on this data stream) lies below the ~600 of the seed's F_n = n L + lambda log n
+ c_alpha, whose constants omit the Hessian determinant and the prior mass of the 5-gon's flat
dead-column region (docs/sampling.md, "The 5 -> 6 crossing").
"""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sampling
from sampling.model import flatten, unflatten

NS = [100, 278, 464, 774, 1292, 2154, 10000]  # 7 of the 10 log-spaced n of docs/sampling.md (test time)
SETTINGS = {
    "tempered": dict(chains=2, warmup=300, samples=600),
    "nuts": dict(chains=4, warmup=300, samples=300),
}


def _laplace_free_energy(pot, point, *, dead_draws: int = 400_000) -> float:
    """-log of the posterior mass of a phase by Laplace's method around its MAP (regular points and
    points whose dead columns are exactly flat in a region R):

        F = min_w [n L_n(w) + |w|^2 / 2] + (1/2) log det' H - log(2 m 2 pi |W|_F) + (1/2) log 2 pi - log P(R),

    H the Hessian of the bracket over the live coordinates (orbit zero mode removed), m the
    catalogue multiplicity (times 2 for the reflection), 2 pi |W|_F the length of the rotation orbit,
    P(R) the N(0, I) mass of the dead-column parameters that keep L_n exactly constant.
    """
    from scipy.optimize import minimize

    W0, b0 = np.asarray(point.W), np.asarray(point.b)
    c = W0.shape[1]
    dead = [j for j in range(c) if np.linalg.norm(W0[:, j]) < 1e-9 and b0[j] <= 0]
    live = [j for j in range(c) if j not in dead]
    z0 = np.asarray(flatten(W0, b0))
    idx = np.array([k for k in range(3 * c) if (k % c if k < 2 * c else k - 2 * c) in live])

    def f(x):
        W, b = unflatten(jnp.asarray(z0).at[idx].set(x), 2, c)
        return pot.n * pot.value(W, b) + 0.5 * jnp.sum(x * x)

    fg, hess = jax.jit(jax.value_and_grad(f)), jax.jit(jax.hessian(f))
    res = minimize(lambda x: tuple(np.asarray(v) for v in fg(x)), z0[idx], jac=True, method="BFGS",
                   options=dict(gtol=1e-10, maxiter=5000))
    ev = np.linalg.eigvalsh(np.asarray(hess(res.x)))[1:]
    W, b = (np.asarray(a) for a in unflatten(jnp.asarray(z0).at[idx].set(res.x), 2, c))
    F = float(res.fun) + 0.5 * np.sum(np.log(ev)) - math.log(2 * point.multiplicity * 2 * math.pi * np.linalg.norm(W))
    F += 0.5 * math.log(2 * math.pi)
    if dead:
        rng = np.random.default_rng(0)
        ok = np.ones(dead_draws, bool)
        for _ in dead:
            Wd, bd = rng.normal(size=(dead_draws, 2)), rng.normal(size=dead_draws)
            a_in = Wd @ W[:, live]
            ok &= (bd <= 0) & (bd + np.sum(Wd * Wd, 1) <= 0) & (bd[:, None] + a_in <= 0).all(1)
            ok &= (a_in + b[live][None, :] <= 0).all(1)
        F -= math.log(ok.mean())
    return F


@pytest.fixture(scope="module")
def curves(catalogue6):
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sampling.PhaseMixingWarning)
        for method, s in SETTINGS.items():
            out[method] = sampling.occupancy_curve(
                jax.random.PRNGKey(0), c=6, ns=NS, method=method, catalogue=catalogue6, data_seed=0, **s
            )
    return out


@pytest.mark.slow
def test_methods_agree_while_nuts_mixes(curves):
    for t, u in zip(curves["tempered"], curves["nuts"]):
        if t.n > 774:
            continue
        for lab in ("5", "6"):
            diff = t.occupancy.get(lab, 0.0) - u.occupancy.get(lab, 0.0)
            se = math.hypot(t.occupancy_err.get(lab, 0.0), u.occupancy_err.get(lab, 0.0))
            assert abs(diff) < 4 * se + 0.03, (t.n, lab, diff, se)


@pytest.mark.slow
def test_tempering_mixes_where_nuts_does_not(curves):
    large_t = [r for r in curves["tempered"] if r.n >= 1292]
    large_u = [r for r in curves["nuts"] if r.n >= 1292]
    assert all(r.rhat_loss < 1.05 for r in curves["tempered"])
    assert all(r.occupancy.get("6", 0.0) > 0.95 for r in large_t)
    assert any(r.rhat_loss > 1.1 for r in large_u)
    assert all(r.config["method"] == "tempered" for r in curves["tempered"])


@pytest.mark.slow
def test_crossing_and_refined_laplace(curves, catalogue6):
    cr = sampling.crossing_estimate(curves["tempered"], from_label="5", to_label="6")
    assert cr.n is not None and cr.bracketed > 0.95
    assert cr.ci_low <= cr.n <= cr.ci_high
    assert 200 < cr.n < 700
    # independent check at n = 464 on the same data: log-odds of 6 vs 5 within 2 nats
    r = next(x for x in curves["tempered"] if x.n == 464)
    pot = sampling.empirical_potential(sampling.make_dataset(jax.random.PRNGKey(0), 464, 6))
    F6 = _laplace_free_energy(pot, catalogue6.get("6"))
    F5 = _laplace_free_energy(pot, catalogue6.get("5"))
    p5 = max(r.occupancy.get("5", 0.0), 1.0 / (r.config["chains"] * r.config["samples"]))
    assert abs(math.log(r.occupancy["6"] / p5) - (F5 - F6)) < 2.0
