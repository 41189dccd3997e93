"""The LLC of the TMS at catalogue points (acceptance 2 as a slow test)."""

from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kgon
from sampling import SGLDConfig, move_free_biases, refine_center, tms_llc
from sampling.data import make_dataset
from sampling.fast_potential import empirical_potential


@pytest.fixture(scope="module")
def data_1e5():
    return make_dataset(jax.random.key(11), 100_000, 6)


def test_move_free_biases_keeps_the_loss(catalogue6):
    p = catalogue6.get("5")
    W, b = move_free_biases(p.W, p.b, free_bias=-1.0)
    dead = np.linalg.norm(p.W, axis=0) == 0
    assert dead.sum() == 1 and b[dead][0] == -1.0
    np.testing.assert_array_equal(b[~dead], p.b[~dead])
    assert kgon.potential(W, b) == pytest.approx(p.loss, abs=1e-15)
    with pytest.raises(ValueError, match="`free_bias` must be negative"):
        move_free_biases(p.W, p.b, free_bias=0.5)


def test_refine_center_reaches_the_empirical_critical_point(catalogue6, data_1e5):
    p = catalogue6.get("6")
    pot = empirical_potential(data_1e5)
    W, b, L, gn, steps = refine_center(p.W, p.b, pot)
    L0 = float(pot.value(p.W, p.b))
    assert gn <= 1e-10 and steps > 0
    assert L < L0  # the population critical point is not critical for L_n
    # it moved by O(1/sqrt(n)), not to another phase
    assert kgon.phase_distance(W, b, p) < 0.1
    with pytest.raises(ValueError, match="did not converge"):
        refine_center(p.W, p.b, pot, max_steps=3)


def test_six_gon_is_non_degenerate(catalogue6, data_1e5):
    """The k = c polygon: lambda = d'/2 = 17/2 (18 parameters, one orbit direction). Tolerance: 4
    standard errors plus the known harmonic finite-n bias (localisation gamma and step eps, computed
    from the Hessian of L_n at the centre) plus 0.1 for anharmonic terms (measured: < 0.05 at n = 1e5).
    A 5x larger step than the default (eps n beta = 0.1) keeps the test short; its bias (~2%) is part
    of the harmonic prediction."""
    p = catalogue6.get("6")
    nb = 100_000 / math.log(100_000)
    res = tms_llc(jax.random.key(0), p.W, p.b, data_1e5, config=SGLDConfig(eps=0.1 / nb, chains=8))
    assert res.diagnostics.excluded == () and res.diagnostics.acceptance_mean > 0.9
    # the harmonic prediction for this very chain: (1/2) sum n beta h / kappa / (1 - eps kappa / 4)
    Wc, bc = np.array(res.context["center_W"]), np.array(res.context["center_b"])
    pot = empirical_potential(data_1e5)
    x0 = np.concatenate([Wc.ravel(), bc])
    H = np.asarray(jax.jit(jax.hessian(lambda x: pot.value(x[:12].reshape(2, 6), x[12:])))(x0))
    h = np.linalg.eigvalsh(H)
    h = h[h > 1e-3 * h.max()]
    assert h.size == 17
    nb, eps, gamma = res.config.nbeta, res.config.eps, res.config.gamma
    k = nb * h + gamma
    harmonic = float(np.sum(nb * h / k / (2 * (1 - eps * k / 4))))
    assert abs(harmonic - 8.5) < 0.3
    assert abs(res.llc - 8.5) <= 4 * res.llc_se + abs(harmonic - 8.5) + 0.1, (res.llc, res.llc_se)


def test_five_gon_escapes_are_detected(catalogue6, data_1e5):
    """With the dead bias next to the boundary b = 0 past which the loss drops to the 5+ level (the
    catalogue's canonical value is -1/12; here -0.02) chains escape: they are flagged and excluded,
    never averaged in."""
    p = catalogue6.get("5")
    data = data_1e5
    eps = 0.1 * math.log(100_000) / 100_000
    b = np.array(p.b)
    dead = np.linalg.norm(p.W, axis=0) == 0
    b[dead] = -0.02
    res = tms_llc(jax.random.key(1), p.W, b, data, free_bias=None,
                  config=SGLDConfig(eps=eps, chains=8, burnin=0, draws=3000))
    esc = res.diagnostics.escaped_chains
    assert len(esc) >= 1
    assert all(not res.healthy[c] for c in esc)
    assert all(res.diagnostics.min_delta[c] < -1 for c in esc)
    if res.healthy.any():
        assert res.llc == pytest.approx(res.chain_llc[res.healthy].mean())
    # moving the free bias inside the critical set removes the escapes
    safe = tms_llc(jax.random.key(1), p.W, b, data, config=SGLDConfig(eps=eps, chains=8, burnin=0, draws=3000))
    assert safe.diagnostics.escaped_chains == ()


def test_minibatch_loss_matches_the_exact_loss(catalogue6):
    """The minibatch path of tms_llc evaluates the direct loss on (features, mu) subsets; on the full
    data it equals the exact fast L_n (the generic minibatch SGLD is tested in test_llc_diagnostics)."""
    from sampling.dynamics.trajectory import tms_loss, tms_minibatch_loss

    p = catalogue6.get("5+")
    data = make_dataset(jax.random.key(4), 3000, 6)
    w = (jnp.asarray(p.W) * 1.01, jnp.asarray(p.b) + 0.003)
    full = float(tms_loss(w, empirical_potential(data)))
    mb = float(tms_minibatch_loss(w, (jnp.asarray(data.features), jnp.asarray(data.mu))))
    assert mb == pytest.approx(full, rel=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("label,truth", [("5", 7.0), ("6", 8.5)])
def test_acceptance_llc_at_1e5(label, truth, catalogue6):
    """Acceptance 2: ``tmsphase llc`` defaults at n = 1e5 within 5% of 7 and 8.5."""
    import contextlib
    import io

    from theory.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["llc", "--point", label, "--c", "6", "--n", "100000", "--json"]) == 0
    out = json.loads(buf.getvalue())
    assert abs(out["llc"] - truth) <= 0.05 * truth, out
    assert out["diagnostics"]["excluded"] == []
