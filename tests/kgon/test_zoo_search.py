"""The search itself - return to every point, seeds, other (c, r), bad input."""

from __future__ import annotations

import numpy as np
import pytest

import kgon
from kgon.critical.refine import refine_critical
from kgon.critical.search import flatten, unflatten


def _labels_set(cat):
    return [(p.label, round(p.loss, 8)) for p in cat.points]


def test_search_from_slightly_perturbed_points_returns_to_them(catalogue6):
    # acceptance 5: perturb every catalogue point (noise 3e-4 per entry, 4 copies each), run the
    # search's refinement (Newton solve, cleaning, regular snapping of endpoints stalled at kinks)
    # and check the endpoint is certified, on the same critical level and classified as that point
    rng = np.random.default_rng(5)
    X, want = [], []
    for p in catalogue6.points:
        for _ in range(4):
            X.append(flatten(p.W, p.b) + 3e-4 * rng.normal(size=p.W.size + p.b.size))
            want.append(p)
    r, c = catalogue6.r, catalogue6.c
    S, L, ok = refine_critical(np.array(X), r, c)
    assert np.all(ok)
    for s, lo, p in zip(S, L, want):
        assert abs(lo - p.loss) <= 1e-9, p.label
    # one catalogue point per critical level, so the same level is the same point; the endpoint
    # may have moved along a flat direction of the level (e.g. an output-off column sliding), so the
    # classifier is checked at its default threshold
    W, b = unflatten(S, r, c)
    labels = kgon.classify(W, b, catalogue6)
    assert list(labels) == [p.label for p in want]


@pytest.fixture(scope="module")
def cat4():
    return kgon.find_critical_points(4, n_starts=200, seed=0, numerical_llc=False)


@pytest.mark.slow  # two c = 4 searches, ~15 s (the c = 6 comparison is the next test)
def test_same_catalogue_for_two_seeds_small_c(cat4):
    # acceptance 1 (variant at c = 4)
    b = kgon.find_critical_points(4, n_starts=200, seed=7, numerical_llc=False)
    assert _labels_set(cat4) == _labels_set(b)
    assert "4" in cat4.names() and abs(cat4.get("4").loss) < 1e-15


@pytest.mark.slow
def test_same_catalogue_for_two_seeds_c6(catalogue6):
    other = kgon.find_critical_points(6, seed=1)
    assert _labels_set(other) == _labels_set(catalogue6)
    for p, q in zip(catalogue6.points, other.points):
        assert p.hessian_signature == q.hessian_signature
        assert p.multiplicity == q.multiplicity


@pytest.mark.slow
@pytest.mark.parametrize("c", [3, 4, 5, 10])
def test_works_for_c_3_to_10(c):
    # acceptance 4 (runs at every c; small searches, the per-start cost grows ~c^3; c = 6 at default settings
    # in test_same_catalogue_for_two_seeds_c6, c = 7, 8, 9 in tests/kgon/test_zoo_scale.py, same checks and more)
    cat = kgon.find_critical_points(c, n_starts=30 * c, seed=0, explore_rounds=1, numerical_llc=False)
    assert cat.n_converged > 0 and len(cat) > 0
    assert all(p.grad_norm <= 1e-9 for p in cat.points)
    if c <= 5:
        assert any(p.k == c for p in cat.points)  # the c-gon is found


@pytest.mark.slow
@pytest.mark.parametrize("c", [4, 5, 6])
def test_r3_runs(c):
    # r = 3 searches (the default run has none: they cost ~10 s of compilation each)
    cat = kgon.find_critical_points(c, r=3, n_starts=150 * c, seed=0)
    assert len(cat) >= 1 and cat.r == 3
    assert all(p.W.shape == (3, c) and p.grad_norm <= 1e-9 for p in cat.points)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"c": 1}, "`c`"),
        ({"c": 6, "r": 0}, "`r`"),
        ({"c": 6, "n_starts": 0}, "`n_starts`"),
        ({"c": 6, "seed": -1}, "`seed`"),
        ({"c": 6, "max_loss": float("nan")}, "`max_loss`"),
        ({"c": 6, "max_index": -1}, "`max_index`"),
        ({"c": 6, "explore_rounds": -2}, "`explore_rounds`"),
    ],
)
def test_bad_input(kwargs, match):
    c = kwargs.pop("c")
    with pytest.raises(ValueError, match=match):
        kgon.find_critical_points(c, **kwargs)


@pytest.mark.slow  # a third c = 4 search beside the fixture's
def test_max_loss_filters(cat4):
    cat = kgon.find_critical_points(4, n_starts=200, seed=0, max_loss=0.2, numerical_llc=False)
    assert all(p.loss <= 0.2 for p in cat.points)
    assert cat.max_loss == 0.2
    assert set(cat.labels()) <= {p.label for p in cat4.points if p.loss <= 0.2}
