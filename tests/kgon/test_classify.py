"""The phase classifier (kgon.classify / kgon.phase_distance)."""

from __future__ import annotations

import numpy as np
import pytest

import kgon


def _noisy_copies(rng, p, n, noise):
    """n copies of point p: + noise per entry, random rotation/reflection, random feature permutation."""
    r, c = p.W.shape
    W = np.broadcast_to(p.W, (n, r, c)) + noise * rng.normal(size=(n, r, c))
    b = np.broadcast_to(p.b, (n, c)) + noise * rng.normal(size=(n, c))
    th = rng.uniform(0, 2 * np.pi, n)
    Q = np.stack([np.stack([np.cos(th), -np.sin(th)], -1), np.stack([np.sin(th), np.cos(th)], -1)], -2)
    refl = rng.random(n) < 0.5
    Q[refl] = Q[refl] @ np.diag([1.0, -1.0])
    W = Q @ W
    perm = np.array([rng.permutation(c) for _ in range(n)])
    return np.take_along_axis(W, perm[:, None, :], 2), np.take_along_axis(b, perm, 1)


def test_noisy_copies_of_every_point_labelled_correctly(catalogue6):
    # >= 99% for every catalogue point. 300 copies per point: with a true
    # error rate of 1% the chance of seeing < 99% correct... we require >= 297/300 per point and
    # >= 99.5% overall (the classifier's actual error rate is ~0, so this cannot flake).
    rng = np.random.default_rng(2024)
    total, wrong = 0, 0
    for p in catalogue6.points:
        W, b = _noisy_copies(rng, p, 300, 0.02)
        labels = kgon.classify(W, b, catalogue6)
        ok = np.mean(labels == p.label)
        assert ok >= 0.99, (p.label, ok, np.unique(labels[labels != p.label]))
        total += labels.size
        wrong += int(np.sum(labels != p.label))
    assert wrong / total <= 0.005


def test_phase_distance_is_invariant_and_zero_at_the_point(catalogue6):
    rng = np.random.default_rng(0)
    for p in catalogue6.points:
        W, b = _noisy_copies(rng, p, 5, 0.0)
        d = kgon.phase_distance(W, b, p)
        assert d.shape == (5,)
        assert np.all(d < 1e-6), p.label
        assert kgon.phase_distance(p.W, p.b, p) < 1e-6


def test_free_biases_compared_by_region(catalogue6):
    five, five_plus = catalogue6.get("5"), catalogue6.get("5+")
    dead = int(np.nonzero(np.linalg.norm(five.W, axis=0) == 0)[0][0])
    W = np.array(five.W)
    for beta in (-0.01, -0.5, -5.0):  # any negative bias of the dead feature is the 5-gon
        b = np.array(five.b)
        b[dead] = beta
        assert kgon.phase_distance(W, b, five) < 1e-12
        assert kgon.classify(W, b, catalogue6) == "5"
    b = np.array(five.b)
    b[dead] = 0.05  # positive side of the kink: the 5+ phase
    assert kgon.classify(W, b, catalogue6) == "5+"
    assert kgon.phase_distance(W, b, five_plus) < 1e-12


def test_far_parameters_are_other(catalogue6):
    rng = np.random.default_rng(1)
    W = rng.normal(0, 3.0, size=(50, 2, 6))
    b = rng.normal(0, 3.0, size=(50, 6))
    labels = kgon.classify(W, b, catalogue6)
    assert np.all(labels == "other")
    # a larger threshold admits them again (nearest point)
    labels = kgon.classify(W, b, catalogue6, threshold=1e6)
    assert not np.any(labels == "other")


def test_batch_shapes_and_single(catalogue6):
    six = catalogue6.get("6")
    W = np.broadcast_to(six.W, (2, 3, 2, 6))
    b = np.broadcast_to(six.b, (2, 3, 6))
    labels = kgon.classify(W, b, catalogue6)
    assert labels.shape == (2, 3) and np.all(labels == "6")
    single = kgon.classify(six.W, six.b, catalogue6)
    assert single.shape == () and str(single) == "6"
    D = kgon.phase_distances(six.W, six.b, catalogue6)
    assert D.shape == (len(catalogue6),)
    assert D[catalogue6.labels().index("6")] < 1e-12


@pytest.mark.parametrize(
    "W, b, thr, match",
    [
        (np.zeros((2, 5)), np.zeros(5), 0.5, "`W`"),
        (np.zeros((2, 6)), np.zeros(5), 0.5, "`b`"),
        (np.full((2, 6), np.nan), np.zeros(6), 0.5, "finite"),
        (np.zeros((2, 6)), np.zeros(6), -1.0, "`threshold`"),
    ],
)
def test_bad_input(catalogue6, W, b, thr, match):
    with pytest.raises(ValueError, match=match):
        kgon.classify(W, b, catalogue6, threshold=thr)
