"""Feature importance in the critical-point search and catalogue (docs/general.md, docs/zoo.md).

With importance I = (1, ..., 1) everything is today's model; with non-uniform I only permutations among
features of equal importance are symmetries; at c = 6 with I = (1, 1, 1, 1, 1, u) the global minimum
changes from the 5+ to a 6-column configuration at u* (kgon.critical.continuation), checked against an
independent scipy minimisation of the closed form.
"""

import math

import numpy as np
import pytest

import kgon
from kgon.critical.catalogue import SearchConfig
from kgon.critical.search import ModelSpec, certify, flatten, gradient_norm
from kgon.naming import irregular_name
from kgon.symmetry import automorphism_count, canonical_pose, multiplicity

U_DEAD_PLUS_TERM = 7 / 144  # (1/c) (1/3 - 1/(4c)) at c = 6: the last output's term of the 5+ at b = 1/(2c)


def _five_plus():
    """The 5+ of the frozen c = 6 catalogue (exact, conftest) with its dead+ column moved last."""
    from conftest import FROZEN_CATALOGUE6

    from kgon.critical.catalogue import Catalogue

    p = Catalogue.from_json(FROZEN_CATALOGUE6.read_text()).get("5+")
    W, b = np.array(p.W), np.array(p.b)
    dead = int(np.argmin(np.linalg.norm(W, axis=0)))
    perm = [i for i in range(6) if i != dead] + [dead]
    return W[:, perm], b[perm], p.loss


def test_model_spec_uniform_is_none_and_validated():
    assert ModelSpec(6, importance=(1,) * 6) == ModelSpec(6) and ModelSpec(6, importance=[1.0] * 6).importance is None
    assert hash(ModelSpec(6, importance=(1,) * 6)) == hash(ModelSpec(6))
    spec = ModelSpec(6, r=3, importance=(1, 1, 1, 1, 1, 0.5))
    assert spec.importance == (1.0, 1.0, 1.0, 1.0, 1.0, 0.5) and spec.key().endswith("|I=1.0,1.0,1.0,1.0,1.0,0.5")
    for bad in ((1, 1, 1), (1, 1, 1, 1, 1, 0), (1, 1, 1, 1, 1, float("nan")), (1, 1, 1, 1, 1, -2)):
        with pytest.raises(ValueError, match="importance"):
            ModelSpec(6, importance=bad)
    with pytest.raises(ValueError, match="importance"):
        SearchConfig(c=6, importance=(1, 2))
    cfg = SearchConfig(c=6, importance=(1,) * 6)
    assert cfg.importance is None and "importance" not in cfg.to_dict()  # uniform dicts are unchanged
    cfg = SearchConfig(c=6, importance=(1, 1, 1, 1, 1, 0.5))
    assert SearchConfig.from_dict(cfg.to_dict()) == cfg


def test_uniform_importance_certifies_bit_for_bit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 18))
    L0, g0, _ = certify(X, 2, 6)
    L1, g1, _ = certify(X, ModelSpec(6, importance=(1,) * 6))
    assert np.array_equal(L0, L1) and np.array_equal(g0, g1)


def test_weighted_five_plus_is_certified_with_the_affine_loss():
    """The 5+ with the dead+ column on the feature of importance u: L(u) = L(1) - (1 - u) 7/144, |grad| <= 1e-9."""
    W, b, L1 = _five_plus()
    assert np.linalg.norm(W[:, 5]) == 0 and b[5] > 0
    for u in (0.3, 0.7, 2.0):
        L, gn, ok = certify(flatten(W, b)[None], ModelSpec(6, importance=(1, 1, 1, 1, 1, u)))
        assert ok[0] and gn[0] <= 1e-9
        assert L[0] == pytest.approx(L1 - (1 - u) * U_DEAD_PLUS_TERM, abs=1e-14)
        assert L[0] == pytest.approx(kgon.potential(W, b, importance=[1, 1, 1, 1, 1, u]), abs=1e-15)


def test_symmetry_counts_only_permutations_among_equal_importance():
    W, b, _ = _five_plus()
    imp = (1, 1, 1, 1, 1, 0.5)
    assert multiplicity(W, b) == 72  # 6! / 10 (the frozen catalogue's 5+)
    assert automorphism_count(W, b, importance=imp) == 10 and multiplicity(W, b, importance=imp) == 12  # 5! / 10
    # the distinguished feature inside the pentagon: only the reflection through its vertex survives
    perm = [5, 1, 2, 3, 4, 0]
    assert automorphism_count(W[:, perm], b[perm], importance=imp) == 2
    assert multiplicity(W[:, perm], b[perm], importance=imp) == 60
    assert multiplicity(W, b, importance=(1,) * 6) == 72


def test_canonical_pose_with_importance_keeps_each_feature_in_its_class():
    rng = np.random.default_rng(1)
    imp = np.array([1.0, 0.5, 1.0, 2.0, 0.5, 1.0])
    W = rng.normal(size=(2, 6))
    b = rng.normal(size=6) * 0.1
    W0, b0 = canonical_pose(W, b, importance=imp)
    L = kgon.potential(W, b, importance=imp)
    assert kgon.potential(W0, b0, importance=imp) == pytest.approx(L, abs=1e-13)
    for _ in range(5):
        # a random rotation/reflection and a random permutation within each importance class
        th = rng.uniform(0, 2 * np.pi)
        Q = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]]) @ np.diag([1, rng.choice([-1, 1])])
        perm = np.arange(6)
        for v in np.unique(imp):
            idx = np.nonzero(imp == v)[0]
            perm[idx] = rng.permutation(idx)
        W1, b1 = canonical_pose(Q @ W[:, perm], b[perm], importance=imp)
        np.testing.assert_allclose(W1, W0, atol=1e-9)
        np.testing.assert_allclose(b1, b0, atol=1e-12)


def test_irregular_names_hash_the_importance():
    assert irregular_name(6, 2, 0.05, importance=(1,) * 6) == irregular_name(6, 2, 0.05)
    assert irregular_name(6, 2, 0.05, importance=(1, 1, 1, 1, 1, 0.5)) != irregular_name(6, 2, 0.05)


# ------------------------------------------------------------------------------------------------
# the threshold u*: independent derivation with scipy


def _scipy_min(x0, u):
    from scipy.optimize import minimize

    imp = np.array([1, 1, 1, 1, 1, u], float)

    def f(x):
        return kgon.potential(x[:12].reshape(2, 6), x[12:], importance=imp)

    res = minimize(f, x0, method="BFGS", options={"gtol": 1e-11, "maxiter": 5000})
    return res.x, float(res.fun)


@pytest.mark.slow
def test_importance_threshold_matches_an_independent_scipy_derivation():
    from scipy.optimize import brentq

    from kgon.critical.continuation import importance_threshold

    res = importance_threshold(6)
    # independent: 5+ loss affine in u (exact), 6-column loss by BFGS on the closed form, continued from
    # the exact 6-gon at u = 1 down to the bracket, then Brent's method on the difference
    _, _, L5_1 = _five_plus()
    six = min(kgon.kgon(6, 6).solutions, key=lambda s: s.loss)
    assert six.loss == pytest.approx(0.04819237603150579, abs=1e-12)
    x = flatten(np.asarray(six.W, float), np.asarray(six.b, float))
    for u in (0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.68):
        x, _ = _scipy_min(x, u)
    x_hi = x

    def diff(u):
        return _scipy_min(x_hi, u)[1] - (L5_1 - (1 - u) * U_DEAD_PLUS_TERM)

    assert diff(0.68) < 0 < diff(0.63)
    u_star = brentq(diff, 0.63, 0.68, xtol=1e-12)
    assert res.threshold == pytest.approx(u_star, abs=1e-6)
    assert res.threshold == pytest.approx(0.658198, abs=1e-6)
    assert (res.below, res.above) == ("5+", "6-column")
    # both minima are certified with the weighted potential: |grad| <= 1e-9, no negative eigenvalue
    imp = (1, 1, 1, 1, 1, res.threshold)
    for W, b in ((res.W_family, res.b_family), (res.W_columns, res.b_columns)):
        assert gradient_norm(W, b, importance=imp) <= 1e-9
        geom = kgon.hessian_geometry(W, b, importance=imp)
        assert geom.signature[0] == 0
    assert np.all(np.linalg.norm(res.W_columns, axis=0) > 1.0)  # six live columns
    assert math.isclose(kgon.potential(res.W_columns, res.b_columns, importance=imp), res.loss, abs_tol=1e-12)


@pytest.mark.slow
def test_catalogue_global_minimum_changes_at_the_threshold():
    u_star = 0.658198
    below = kgon.find_critical_points(6, importance=(1, 1, 1, 1, 1, u_star - 0.02), n_starts=600,
                                      numerical_llc=False, explore_rounds=1)
    above = kgon.find_critical_points(6, importance=(1, 1, 1, 1, 1, u_star + 0.02), n_starts=600,
                                      numerical_llc=False, explore_rounds=1)
    lo, hi = below.points[0], above.points[0]
    assert lo.name == "5+" and lo.multiplicity == 12 and np.linalg.norm(lo.W[:, 5]) == 0
    assert hi.name.startswith("irregular-") and np.all(np.linalg.norm(hi.W, axis=0) > 1.0)
    assert hi.hessian_signature[0] == 0 and hi.multiplicity == 60  # the mirror through the u-feature
    assert above.get("5+").loss > hi.loss
    assert below.importance == (1.0, 1.0, 1.0, 1.0, 1.0, u_star - 0.02)
