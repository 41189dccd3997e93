"""The critical-point search at scale (docs/zoo.md, "Cost"): the closed-form Hessian of the Newton
iteration, and the default search against reference sets that lose no point.

Reference sets: ``tests/fixtures/zoo_reference_c{7,8,9}_r2.json`` hold every point that the search
before the closed-form Hessian and the lattice closure found at r = 2 (name, loss, Hessian
signature, an orbit-invariant key); ``tests/fixtures/catalogue_c{7,8}_r3.json`` are full r = 3
catalogues of that search. The slow tests run today's default search and require each reference
point to be found again: same loss within 1e-9 (one level), same name and (at C^2 points) Hessian
index. Stored irregular "minima" at kinks along which the loss descends are saddles and must be
absent (``_kink_saddles``).
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kgon
from kgon.critical.measure import kink_descent
from kgon.critical.search import (
    ModelSpec,
    analytic_value_grad_hess,
    flatten,
    hessians,
    loss_and_grad_norm,
    loss_fn_args,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.mark.parametrize("r, c, weighted", [
    (3, 4, True),
    pytest.param(2, 6, False, marks=pytest.mark.slow),
    pytest.param(2, 9, False, marks=pytest.mark.slow),
    pytest.param(3, 7, False, marks=pytest.mark.slow),
])
def test_closed_form_hessian_equals_autodiff(r, c, weighted):
    """Value, gradient and Hessian of the closed form (pair-term derivatives assembled through
    G = W^T W) equal jax's autodiff of the potential to rounding, at random points (every case of
    the pair term occurs) and at points with exact zero overlaps and biases (kinks)."""
    rng = np.random.default_rng(10 * r + c)
    imp = jnp.asarray(rng.uniform(0.5, 2.0, c)) if weighted else jnp.ones(c)
    f = loss_fn_args(r, c, weighted)
    vgh = jax.jit(jax.vmap(analytic_value_grad_hess(r, c, weighted), in_axes=(0, None)))
    ref_g = jax.jit(jax.vmap(jax.grad(f), in_axes=(0, None)))
    ref_h = jax.jit(jax.vmap(jax.hessian(f), in_axes=(0, None)))
    d = r * c + c
    X = rng.normal(size=(24, d)) * rng.uniform(0.3, 1.5, size=(24, 1))
    # an exact square (zero overlaps) with zero biases, and its dead columns: kinks of the potential
    sq = np.zeros((r, c))
    sq[0, 0], sq[1, 1], sq[0, 2], sq[1, 3] = 1.0, 1.0, -1.0, -1.0
    X[0] = np.concatenate([sq.ravel(), np.zeros(c)])
    X[1] = np.concatenate([sq.ravel(), -np.full(c, 1.0 / (2 * c))])
    L, g, H = vgh(jnp.asarray(X), imp)
    scale = max(1.0, float(jnp.max(jnp.abs(H))))
    np.testing.assert_allclose(np.asarray(L), np.asarray(jax.jit(jax.vmap(f, in_axes=(0, None)))(jnp.asarray(X), imp)),
                               rtol=0, atol=1e-13)
    np.testing.assert_allclose(np.asarray(g), np.asarray(ref_g(jnp.asarray(X), imp)), rtol=0, atol=1e-13)
    np.testing.assert_allclose(np.asarray(H), np.asarray(ref_h(jnp.asarray(X), imp)), rtol=0, atol=1e-12 * scale)
    assert np.max(np.abs(np.asarray(H) - np.swapaxes(np.asarray(H), 1, 2))) <= 1e-13 * scale


def _missing(reference: list[dict], cat) -> list[str]:
    """Reference points with no catalogue point of the same level, name and Hessian index (number of
    negative eigenvalues). The zero count is not compared: on a non-isolated critical set it depends
    on the representative (irregular-279f3c11 at c = 9 has 1 or 2 zero eigenvalues at two of its
    points; a slightly live dead column is one flat direction more or less)."""
    out = []
    for p in reference:
        hit = [q for q in cat.points if abs(q.loss - p["loss"]) <= 1e-9]
        # the index is compared where the Hessian decides it (C^2 points): at the kinks of the
        # zero-bias families it depends on which side of the kink the representative sits
        smooth = p.get("smooth", True) and (not hit or hit[0].smooth)
        if not hit or hit[0].name != p["name"] or (smooth and hit[0].hessian_signature[0] != p["hessian_signature"][0]):
            out.append(f"{p['name']} (loss {p['loss']:.10f}, signature {p['hessian_signature']})")
    return out


def _reference_r2(c: int) -> list[dict]:
    return json.loads((FIXTURES / f"zoo_reference_c{c}_r2.json").read_text())["points"]


def _reference_r3(c: int) -> list[dict]:
    return json.loads((FIXTURES / f"catalogue_c{c}_r3.json").read_text())["critical_points"]




def _kink_saddles(reference: list[dict], model) -> set[str]:
    """Names of stored irregular points listed as minima (Hessian index 0) at a kink of L (not C^2)
    along which L descends at second order (:func:`kgon.critical.measure.kink_descent`): the
    stored search took the index of the Hessian of one smooth piece; they are saddles, and a
    catalogue of minima must not hold them."""
    out = set()
    for p in reference:
        if p["k"] is None and not p["smooth"] and p["hessian_signature"][0] == 0:
            if kink_descent(flatten(np.array(p["W"]), np.array(p["b"])), model) is not None:
                out.add(p["name"])
    return out


# the stored r = 3 "minima" that are saddles at kinks: at c = 7 and 8 the same configuration, a regular
# hexagon (on-bias -0.618) plus a unit column with zero bias orthogonal to its plane (plus a dead column
# at c = 8); L-BFGS from 1e-5 noise leaves both to a lower loss
KINK_SADDLES_R3 = {7: {"irregular-51641b82"}, 8: {"irregular-7ad4192e"}}
# Reference points the default search may miss, by name: irregular-53f49e43 (r = 3, c = 7; loss 0.0113040,
# an index-3 saddle) is reached by one exploration path only; with jax 0.10.2 the search's rounding takes
# another path and misses it (the code of the session that stored the reference misses it as well with that
# jax version; docs/zoo.md). Allowed, not required, so the test holds for either outcome.
KNOWN_MISSES_R3 = {7: {"irregular-53f49e43"}, 8: set()}


def test_stored_kink_minimum_is_a_saddle():
    """irregular-7ad4192e of the stored r = 3, c = 8 catalogue (a regular hexagon with on-bias
    -0.618, a unit column with zero bias orthogonal to its plane, a dead column) is certified critical
    and has Hessian index 0 at its stored representative, whose overlaps with the unit column are
    exactly 0 (the pair terms there sit at a = b = 0, a kink); yet L decreases along a direction found
    from the Hessians of the pieces that meet there, at second order (the decrease grows as t^2)."""
    ref = {p["name"]: p for p in _reference_r3(8)}
    p = ref["irregular-7ad4192e"]
    model = ModelSpec(c=8, r=3)
    x = flatten(np.array(p["W"]), np.array(p["b"]))
    L0, gn = loss_and_grad_norm(x[None], model)
    assert gn[0] <= 1e-9 and abs(L0[0] - p["loss"]) <= 1e-12
    lam = np.linalg.eigvalsh(hessians(x[None], model)[0])
    assert lam[0] > -1e-12  # the stored index 0: the Hessian of the piece at exact zeros
    v = kink_descent(x, model)
    assert v is not None
    t = np.array([1e-4, 1e-3, 1e-2])
    dL = loss_and_grad_norm(x[None] + t[:, None] * v[None], model)[0] - L0[0]
    assert np.all(dL < 0)
    curv = 2 * dL / t**2  # the one-sided second derivative along v: negative and nearly constant
    assert np.all(curv < -1e-5) and np.ptp(curv) < 0.1 * abs(curv[0])
    # the other stored irregular minima at kinks of this catalogue are not flagged
    assert _kink_saddles(_reference_r3(8), model) == {"irregular-7ad4192e"}


@pytest.mark.slow
@pytest.mark.parametrize("c", [7, 8])
def test_default_search_finds_every_reference_point_r2(c):
    """The default r = 2 search at c = 7, 8 (one search each, shared by three checks): every point is
    critical (gradient <= 1e-9), every stored reference point is found, and (acceptance 4 at default
    settings) every regular k-gon (k = c-2..c, any sigma+) that the independent exact solver kgon.kgon
    certifies is a level of the catalogue. (c = 9's search, ~3-5 minutes, is the stored reference of the
    next test and tests/benchmarks/bench_catalogue_scale.py.)"""
    cat = kgon.find_critical_points(c, r=2, seed=0, numerical_llc=False)
    assert cat.n_converged > 0 and all(p.grad_norm <= 1e-9 for p in cat.points)
    if c <= 8:
        levels = np.array([p.loss for p in cat.points])
        n = 0
        for k in range(c - 2, c + 1):
            for sp in range(c - k + 1):
                for sol in kgon.kgon(k, c, sigma_plus=sp).solutions:
                    n += 1
                    assert np.min(np.abs(levels - sol.loss)) < 1e-9, (k, sp, sol.loss)
        assert n >= 4
    ref = _reference_r2(c)
    assert _missing(ref, cat) == []
    # the orbit-invariant key of the regular polygons: sorted column norms (the biases are not
    # compared: a dead column's negative bias is free, and the two searches leave it at different values)
    for p in ref:
        if p["k"] is None:
            continue
        q = next(q for q in cat.points if abs(q.loss - p["loss"]) <= 1e-9)
        np.testing.assert_allclose(np.sort(np.linalg.norm(q.W, axis=0)), p["key"]["norms"], atol=2e-6)


@pytest.mark.slow  # ~15 s of exact solves
def test_stored_c9_reference_polygons_are_the_exact_solver_s():
    """The stored default search at c = 9, r = 2 (tests/fixtures/zoo_reference_c9_r2.json; the search
    itself is benchmarked, not rerun): every regular polygon level it holds is a solution of the
    independent exact solver kgon.kgon with the same (k, sigma+, sigma-), at the same loss, and every
    k-gon with k = 7..9 that the solver certifies is among its levels."""
    ref = _reference_r2(9)
    levels = np.array([p["loss"] for p in ref])
    polygons = [p for p in ref if p["k"] is not None and p["k"] >= 2]  # k = 0: every column dead
    assert len(polygons) >= 4
    for p in polygons:
        sols = kgon.kgon(p["k"], 9, sigma_plus=p["sigma_plus"], sigma_minus=p["sigma_minus"]).solutions
        assert min(abs(s.loss - p["loss"]) for s in sols) < 1e-9, p["name"]
    for k in range(7, 10):
        for sp in range(9 - k + 1):
            for sol in kgon.kgon(k, 9, sigma_plus=sp).solutions:
                assert np.min(np.abs(levels - sol.loss)) < 1e-9, (k, sp, sol.loss)


@pytest.mark.slow
@pytest.mark.parametrize("c", [7, 8])
def test_default_search_finds_every_reference_point_r3(c):
    cat = kgon.find_critical_points(c, r=3, seed=0, numerical_llc=False)
    ref = _reference_r3(c)
    saddles = _kink_saddles(ref, ModelSpec(c=c, r=3))
    assert saddles == KINK_SADDLES_R3[c]
    missed = {m.split(" ")[0] for m in _missing(ref, cat)} - saddles
    assert missed <= KNOWN_MISSES_R3[c], sorted(missed)
    # the stored "minima" that descend (saddles at kinks) are not in the catalogue of minima
    for p in ref:
        if p["name"] in saddles:
            assert not [q for q in cat.points if abs(q.loss - p["loss"]) <= 1e-9], p["name"]
