"""Regular polytopes in r >= 3 hidden dimensions: naming, and the octahedron as the c = 6, r = 3 minimum."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import special_ortho_group

import kgon
from kgon.naming import point_name, polygon_info, polytope_name, polytope_templates


@pytest.mark.parametrize("name", sorted(polytope_templates()))
def test_rotated_scaled_templates_are_named(name):
    T = polytope_templates()[name]
    m = np.linalg.matrix_rank(T)
    Q = special_ortho_group.rvs(m, random_state=3)
    V = 1.3 * Q @ T
    assert polytope_name(V) == name
    # embedded in a larger hidden space with a permutation of the columns
    V5 = np.vstack([V, np.zeros((5 - m, V.shape[1]))]) if m < 5 else V
    perm = np.random.default_rng(0).permutation(V.shape[1])
    assert polytope_name(V5[:, perm]) == name


def test_distorted_or_mixed_sets_are_not_named():
    T = polytope_templates()["octahedron"].copy()
    T[:, 0] *= 1.01  # unequal lengths
    assert polytope_name(T) is None
    T = polytope_templates()["cube"].copy()
    T[:, 0] = -T[:, 0] * 0 + T[:, 1]  # a repeated vertex
    assert polytope_name(T) is None
    assert polytope_name(np.eye(3)) is None  # three orthogonal vectors: not a polytope here


def test_octahedron_is_a_zero_loss_critical_point_and_named_with_suffixes():
    W = np.hstack([np.eye(3), -np.eye(3)])
    b = np.zeros(6)
    assert kgon.potential(W, b) == 0.0
    assert point_name(W, b, 0.0) == "octahedron"
    # with a dead column at the positive bias 1/(2c): the suffix "+"
    W7 = np.hstack([W, np.zeros((3, 1))])
    b7 = np.r_[b, 1 / 14]
    info = polygon_info(W7, b7)
    assert info.polytope == "octahedron" and info.sigma_plus == 1
    assert point_name(W7, b7, kgon.potential(W7, b7)) == "octahedron+"
    # a planar regular polygon keeps its polygon name in r = 3
    ang = 2 * np.pi * np.arange(5) / 5
    W5 = np.vstack([np.cos(ang), np.sin(ang), np.zeros(5)])
    assert point_name(W5, -0.2 * np.ones(5), 0.1) == "5"


@pytest.mark.slow
def test_r3_c6_catalogue_global_minimum_is_the_octahedron():
    cat = kgon.find_critical_points(6, r=3, n_starts=300, seed=0, numerical_llc=False)
    best = min(cat.points, key=lambda p: p.loss)
    assert best.loss < 1e-12
    assert best.name == "octahedron"
