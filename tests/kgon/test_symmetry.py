"""The structure of a point (kgon.symmetry): dead columns, distinct copies, SO(2) orbits."""

from __future__ import annotations

import numpy as np
import pytest

from kgon import dead_columns, distinct_permutations, orbit_copies


@pytest.mark.parametrize("label", ["6", "5", "5+", "4"])
def test_copies_equal_catalogue_multiplicity(catalogue6, label):
    p = catalogue6.get(label)
    perms = distinct_permutations(p.W, p.b)
    assert len(perms) == p.multiplicity
    assert orbit_copies(p.multiplicity, p.W) == 2 * p.multiplicity  # two SO(2) orbits per O(2) orbit
    assert perms[0] == tuple(range(6))


def test_dead_columns_need_zero_weight_and_nonpositive_bias():
    W = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1e-3]])
    b = np.array([0.1, -0.5, 0.2, -0.1])
    assert dead_columns(W, b) == [1]  # column 2 has b > 0 (dead+), column 3 is live


def test_distinct_permutations_of_two_equal_columns():
    """Two equal live columns and one dead column: 3! / 2! = 3 classes, the identity first."""
    W = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    b = np.array([0.0, 0.0, -0.5])
    perms = distinct_permutations(W, b)
    assert len(perms) == 3 and perms[0] == (0, 1, 2)
    assert {p.index(2) for p in perms} == {0, 1, 2}  # one class per position of the dead column


def test_orbit_copies_of_a_zero_point_and_refusals():
    assert orbit_copies(3, np.zeros((2, 4))) == 3  # W = 0: the orbit is a point, no reflection pair
    with pytest.raises(ValueError, match="`multiplicity` must be a positive integer"):
        orbit_copies(0, np.ones((2, 2)))
    with pytest.raises(ValueError, match="at most 8 columns"):
        distinct_permutations(np.zeros((2, 9)), np.zeros(9))
