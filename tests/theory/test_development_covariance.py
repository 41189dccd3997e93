"""Known answers for the weight-covariance spectra and the symmetry alignment (seed 000)."""

import numpy as np
import pytest

from theory import (
    align_runs,
    align_to_reference,
    covariance_spectra,
    score_near_transitions,
    score_on_plateaus,
    top_eigen,
)


def test_lanczos_matches_dense_eigendecomposition():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 80)) * np.linspace(3, 0.1, 80)
    lam, vec = top_eigen(X, 4)
    C = np.cov(X, rowvar=False)
    w, V = np.linalg.eigh(C)
    assert np.allclose(lam, w[::-1][:4], rtol=1e-8)
    assert np.allclose(np.abs(np.sum(vec * V[:, ::-1][:, :4], 0)), 1, atol=1e-6)


def test_planted_rank_one_jump():
    # R runs of small noise (variance 1e-4 per weight) until step t_j, then each run moves by a_i v
    # along one fixed direction v (a_i ~ N(0, 1)): lambda_1 jumps from ~1e-4 to ~1, its eigenvector is v
    rng = np.random.default_rng(2)
    R, r, c = 40, 2, 5
    D = r * c + c
    steps = np.concatenate([[0], np.unique(np.round(np.geomspace(1, 1e5, 80)).astype(int))])
    K = steps.size
    v = np.zeros(D)
    v[[3, 3 + c]] = 1 / np.sqrt(2)  # column 3 of W: weights (0, 3) and (1, 3)
    a = rng.normal(size=R)
    X = 0.01 * rng.normal(size=(R, K, D)) + (steps >= 3000)[None, :, None] * a[:, None, None] * v
    W = X[..., : r * c].reshape(R, K, r, c)
    b = X[..., r * c:]
    cs = covariance_spectra(W, b, steps, k=3, align=False)
    before, after = cs.eigenvalues[steps < 3000, 0], cs.eigenvalues[steps >= 3000, 0]
    assert np.all(before < 3e-4) and np.allclose(after, np.var(a, ddof=1), rtol=0.05)
    assert len(cs.jump_steps) == 1 and abs(np.log10(cs.jump_steps[0] / 3000)) <= 0.15
    k = int(np.nonzero(steps >= 3000)[0][0])
    assert abs(cs.eigenvectors[k, :, 0] @ v) > 0.999
    assert int(np.argmax(cs.loadings[k, 0])) == 3  # the eigenvector loads on column 3
    # the second eigenvalue stays at the noise level
    assert np.all(cs.eigenvalues[:, 1] < 3e-4)


def test_alignment_recovers_rotation_reflection_and_permutation():
    rng = np.random.default_rng(3)
    V, a = rng.normal(size=(5, 2, 6)), rng.normal(size=(5, 6))  # a trajectory of 5 checkpoints
    th = 2.1
    Q = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]]) @ np.diag([1.0, -1.0])
    perm = rng.permutation(6)
    W = np.einsum("ij,tjc->tic", Q.T, V)[:, :, np.argsort(perm)]
    b = a[:, np.argsort(perm)]
    al = align_to_reference(W, b, V, a)
    Wa, ba = al.apply(W, b)
    assert al.cost < 1e-20 and np.allclose(Wa, V) and np.allclose(ba, a)
    # batched over runs; run 0 is the reference and its alignment is the identity
    Wr = np.stack([V, W + 1e-3 * rng.normal(size=W.shape)])
    br = np.stack([a, b])
    Wal, bal, als = align_runs(Wr, br)
    assert np.array_equal(als[0].perm, np.arange(6)) and np.allclose(als[0].Q, np.eye(2))
    assert np.abs(Wal[1] - V).max() < 0.01 and np.abs(bal[1] - a).max() < 0.01


def test_scoring_rules():
    # plateaus [1, 1000] (3 decades) and [10^3.5, 2e5]; detections: on the first, 0.08 decades past its
    # end (correct), 0.25 decades from both (wrong)
    pls = [[[0, 1000, "4"], [10 ** 3.5, 200000, "5"]]]
    s = score_on_plateaus([[100, 1200, 10 ** 3.25]], pls)
    assert (s.detections, s.correct, s.targets, s.recalled) == (3, 2, 2, 1)
    s = score_on_plateaus([[100, 10 ** 3.5]], [[[0, 1000, "4"], [10 ** 3.75, 10 ** 4.1, "5"]]])
    assert s.precision == 0.5 and (s.targets, s.recalled) == (1, 1)  # the second plateau is < 0.5 decades
    t = score_near_transitions([30000, 100], [20000, 90000])
    assert (t.precision, t.recall) == (0.5, 0.5)
    with pytest.raises(ValueError, match="no run has a transition"):
        score_near_transitions([100], [])
    with pytest.raises(ValueError, match="at least 3 runs"):
        covariance_spectra(np.zeros((2, 4, 2, 3)), np.zeros((2, 4, 3)), np.arange(4))
