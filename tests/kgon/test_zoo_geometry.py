"""Symmetry (canonical pose, automorphisms), naming and Hessian geometry of
catalogue points."""

from __future__ import annotations

import math

import numpy as np
import pytest

import kgon
from kgon.geometry import hessian_geometry
from kgon.naming import irregular_name, point_name, polygon_info
from kgon.symmetry import automorphism_count, canonical_pose, canonicalize, column_types, multiplicity


@pytest.fixture(scope="module")
def polys(catalogue6):
    return {name: catalogue6.get(name) for name in ("6", "5", "5+", "4++-", "4")}


def _random_symmetry(rng, W, b):
    th = rng.uniform(0, 2 * np.pi)
    Q = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    if rng.random() < 0.5:
        Q = Q @ np.diag([1.0, -1.0])
    perm = rng.permutation(W.shape[1])
    return (Q @ W)[:, perm], b[perm]


def test_names_from_structure(polys):
    for name in ("6", "5", "5+", "4++-"):
        p = polys[name]
        assert point_name(p.W, p.b, p.loss) == name
    info = polygon_info(polys["4++-"].W, polys["4++-"].b)
    assert (info.k, info.sigma_plus, info.sigma_minus) == (4, 2, 1)
    W = np.array(polys["5"].W)
    W[:, 0] *= 1.1  # no longer regular
    assert point_name(W, polys["5"].b, 0.123).startswith("irregular-")
    assert irregular_name(6, 2, 0.1234567891) == irregular_name(6, 2, 0.12345678912)
    assert len(irregular_name(6, 2, 0.1).split("-")[1]) == 8
    # a zero-loss level evaluates to +-1e-17 at different representatives: one name (the hash of "0")
    assert irregular_name(5, 3, -1e-17) == irregular_name(5, 3, 1e-17) == irregular_name(5, 3, -0.0)
    assert irregular_name(5, 3, -0.0) == "irregular-1e521637"


def test_column_types_and_canonical_free_biases(polys):
    p = polys["4++-"]
    types = column_types(p.W, p.b)
    assert sorted(types) == sorted(["on", "on", "on", "off", "dead+", "dead+"])
    b = np.array(p.b)
    b[types.index("off")] = -7.0  # anywhere in the free region
    W2, b2 = canonicalize(p.W, b)
    assert b2[types.index("off")] == pytest.approx(-1.5 * float(np.max(p.W.T @ p.W)))


def test_automorphisms_and_multiplicity(polys):
    assert automorphism_count(polys["6"].W, polys["6"].b) == 12  # dihedral group D_6
    assert multiplicity(polys["6"].W, polys["6"].b) == math.factorial(6) // 12
    assert automorphism_count(polys["5"].W, polys["5"].b) == 10


def test_canonical_pose_is_an_orbit_invariant(polys):
    rng = np.random.default_rng(3)
    for name in ("6", "5+", "4++-"):
        p = polys[name]
        W0, b0 = canonical_pose(p.W, p.b)
        for _ in range(5):
            W1, b1 = canonical_pose(*_random_symmetry(rng, np.array(p.W), np.array(p.b)))
            assert np.allclose(W0, W1, atol=1e-12) and np.allclose(b0, b1, atol=1e-12)
        assert kgon.potential(W0, b0) == pytest.approx(p.loss, abs=1e-14)


def test_hessian_geometry_regular_and_kinked(polys):
    six = hessian_geometry(polys["6"].W, polys["6"].b)
    assert six.signature == (0, 1, 17) and six.orbit_dim == 1 and six.smooth and six.nondegenerate
    five = hessian_geometry(polys["5"].W, polys["5"].b)
    # zero modes: rotation + the dead column (W_j in R^2, free bias)
    assert (five.orbit_dim, five.flat_dim, five.degenerate_dim) == (1, 3, 0)
    assert five.rank == 14
    four = hessian_geometry(polys["4"].W, polys["4"].b)
    assert not four.smooth  # zero bias, orthogonal neighbours: pair terms at a = b = 0 (docs/index.md)
