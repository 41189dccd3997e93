"""Known learning coefficients (sampling.dynamics.truths): hand-computed values, multiplicity, and the
deep-linear formula (Aoyagi 2024) against reduced-rank regression (Aoyagi & Watanabe 2005)."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sampling import (
    dln_data,
    dln_llc,
    dln_loss,
    dln_multiplicity,
    dln_truth,
    normal_crossing_llc,
    normal_crossing_truth,
    regular_truth,
    rrr_llc,
    rrr_multiplicity,
    tms_truth,
)


@pytest.mark.parametrize("widths, rank, expected", [
    ((5, 3, 5), 0, 6.5),    # the cases
    ((3, 3, 3), 1, 4.0),
    ((8, 4, 8), 0, 14.0),
    # by hand (Aoyagi 2024, Theorem 1): (4,3,3,4) rank 0: Delta = (4,3,3,4); S = all four (l = 3):
    # D = 14 >= 3*4; M = 5, a = 14 - 12 = 2; 0 + 2*1/12 - 3*2/4*(14/3)^2 + (12+12+16+9+12+12)/2 = 4
    ((4, 3, 3, 4), 0, 4.0),
    # full rank with all widths equal: identifiable, lambda = (input * output) / 2
    ((3, 3, 3, 3), 3, 4.5),
    ((4, 4, 4), 4, 8.0),
    # one layer: a regular model, d / 2
    ((3, 5), 0, 7.5),
])
def test_dln_hand_values(widths, rank, expected):
    assert dln_llc(widths, rank) == expected


def test_rrr_hand_values():
    # Aoyagi & Watanabe 2005, case 1 odd: (2 (H+r)(M+N) - (M-N)^2 - (H+r)^2 + 1) / 8
    assert rrr_llc(5, 3, 5, 0) == (2 * 3 * 10 - 0 - 9 + 1) / 8
    # case 4 (M + N < H + r): M N / 2
    assert rrr_llc(1, 4, 2, 0) == 1.0
    # case 2 (M + H < N + r): (H M - H r + N r) / 2
    assert rrr_llc(2, 1, 4, 1) == (2 - 1 + 4) / 2


def test_dln_two_layers_equals_rrr():
    for M, H, N in itertools.product(range(1, 7), repeat=3):
        for r in range(min(M, H, N) + 1):
            assert dln_llc((M, H, N), r) == rrr_llc(M, H, N, r), (M, H, N, r)


@pytest.mark.parametrize("widths, rank, m", [
    # Aoyagi (2024), Theorem 1: m = a (l - a) + 1; the benchmark's cases (docs/llc.md §3)
    ((4, 3, 3, 4), 0, 3), ((5, 4, 3, 5), 1, 3), ((3, 4, 5, 4, 3), 1, 3),  # l = 3, a = 2, 1, 1
    ((5, 3, 5), 0, 2),                                                    # l = 2, D = 13 odd
    ((3, 3, 3), 1, 1), ((8, 4, 8), 0, 1), ((6, 3, 3, 6), 0, 1),            # l divides D
    ((1, 1, 1, 1), 0, 3),        # (w1 w2 w3)^2: the normal crossing of three variables, m = 3
    ((2, 1, 2), 0, 2),           # |a|^2 |b|^2, a, b in R^2: lambda = 1 attained by both factors
    ((2, 2, 2, 2, 2), 0, 5),     # equal widths: a (L - a) + 1 with L = 4, D = 10, a = 2
    ((4, 6), 0, 1),              # one layer: regular
])
def test_dln_multiplicity(widths, rank, m):
    assert dln_multiplicity(widths, rank) == m
    assert dln_truth(widths, rank).multiplicity == m


def test_dln_two_layer_multiplicity_is_the_rrr_parity_rule():
    for M, H, N in itertools.product(range(1, 7), repeat=3):
        for r in range(min(M, H, N) + 1):
            assert dln_multiplicity((M, H, N), r) == rrr_multiplicity(M, H, N, r), (M, H, N, r)


def _zero_fiber_components(widths):
    """Codimensions of the loci of {W_L ... W_1 = 0} by rank data, computed here independently of
    sampling.dynamics.truths: W_l maps V_{l-1} (dim k_{l-1}; V_0 = the input, k_0 = H_1) onto V_l (dim
    k_l), with k_L = 0. The locus has dimension sum_l [k_l (k_{l-1} + H_{l+1} - k_l) + H_{l+1} (H_l -
    k_{l-1})]. Returns (C, theta): the smallest codimension and how many loci attain it."""
    L = len(widths) - 1
    d = sum(a * b for a, b in zip(widths, widths[1:]))
    codims = []
    for ks in itertools.product(*(range(min(widths[0], widths[j + 1]) + 1) for j in range(L - 1))):
        ks = (widths[0],) + ks + (0,)
        if any(ks[j + 1] > min(ks[j], widths[j + 1]) for j in range(L)):
            continue
        dim = sum(ks[j + 1] * (ks[j] + widths[j + 1] - ks[j + 1]) + widths[j + 1] * (widths[j] - ks[j])
                  for j in range(L))
        codims.append(d - dim)
    C = min(codims)
    return C, codims.count(C)


def test_dln_rank0_equals_half_the_codimension_of_the_zero_fiber():
    # Pepin Lehalleur & Rimanyi (2024, "Geometry of fibers of the multiplication map of deep linear
    # neural networks", arXiv:2411.19920): the RLCT of ||W_L ... W_1||^2 at 0 is C / 2, C the codimension
    # of {W_L ... W_1 = 0}; an independent check of Aoyagi's formula for rank 0 at every depth
    for L in (2, 3, 4):
        for widths in itertools.product(range(1, 5), repeat=L + 1):
            C, _ = _zero_fiber_components(widths)
            assert dln_llc(widths, 0) == C / 2, widths
    # the number theta of top-dimensional components (docs/llc.md §3: the benchmark's three-layer cases
    # (4,3,3,4) and (5,4,3,5) rank 1 (= (4,3,2,4) rank 0 shifted) have theta = 3, (6,3,3,6) has 1)
    assert _zero_fiber_components((5, 3, 5)) == (13, 2)
    assert _zero_fiber_components((8, 4, 8)) == (28, 1)
    assert _zero_fiber_components((4, 3, 3, 4)) == (8, 3)
    assert _zero_fiber_components((4, 3, 2, 4)) == (6, 3)
    assert _zero_fiber_components((6, 3, 3, 6)) == (9, 1)
    assert _zero_fiber_components((1, 1, 1, 1)) == (1, 3)  # (w1 w2 w3)^2: lambda 1/2, multiplicity 3


def test_dln_llc_increases_with_rank_and_is_at_most_regular():
    for widths in [(5, 3, 5), (4, 3, 3, 4), (6, 4, 3, 5), (3, 4, 5, 4, 3)]:
        vals = [dln_llc(widths, r) for r in range(min(widths) + 1)]
        assert all(b >= a for a, b in zip(vals, vals[1:]))
        d = sum(a * b for a, b in zip(widths, widths[1:]))
        assert vals[-1] <= d / 2


def test_normal_crossing_and_multiplicity():
    assert normal_crossing_llc((1, 2)) == (0.25, 1)
    assert normal_crossing_llc((2, 1, 2)) == (0.25, 2)   # multiplicity 2: two exponents attain it
    assert normal_crossing_llc((1, 1, 1)) == (0.5, 3)
    assert normal_crossing_llc((0, 3)) == (1 / 6, 1)     # unused variable contributes nothing
    t = normal_crossing_truth((2, 1, 2))
    assert t.llc == 0.25 and t.multiplicity == 2 and np.all(t.w_star[0] == 0)
    assert regular_truth(7).llc == 3.5


def test_validation_messages():
    with pytest.raises(ValueError, match="`rank`"):
        dln_llc((3, 2, 3), 3)
    with pytest.raises(ValueError, match="`widths`"):
        dln_llc((3,), 0)
    with pytest.raises(ValueError, match="`k`"):
        normal_crossing_llc((0, 0))


@pytest.mark.parametrize("widths, rank", [((5, 3, 5), 0), ((3, 3, 3), 1), ((4, 3, 3, 4), 2), ((3, 4), 2)])
def test_dln_true_parameter_realises_the_map(widths, rank):
    t = dln_truth(widths, rank, singular_values=np.arange(1, rank + 1) if rank else None)
    P = t.w_star[0]
    for W in t.w_star[1:]:
        P = W @ P
    np.testing.assert_allclose(P, t.true_map, atol=1e-12)
    assert np.linalg.matrix_rank(t.true_map) == rank
    assert t.d == sum(a * b for a, b in zip(widths, widths[1:]))
    if len(widths) > 2:
        # most singular point: only r units of every hidden layer are used
        for W in t.w_star[:-1]:
            assert np.count_nonzero(np.linalg.norm(W, axis=1)) == rank


def test_dln_loss_matches_direct_sum():
    t = dln_truth((4, 3, 2), 1)
    key = jax.random.key(0)
    stats = dln_data(key, t, 500)
    kx, ke = jax.random.split(key)
    X = jax.random.normal(kx, (500, 4))
    Y = X @ jnp.asarray(t.true_map).T + jax.random.normal(ke, (500, 2))
    w = tuple(jnp.asarray(np.random.default_rng(1).standard_normal(W.shape)) for W in t.w_star)
    direct = 0.5 * jnp.mean(jnp.sum((Y - X @ (w[1] @ w[0]).T) ** 2, axis=1))
    assert float(dln_loss(w, stats)) == pytest.approx(float(direct), rel=1e-12)


def test_tms_truth_from_catalogue(catalogue6):
    t = tms_truth("6", 6, catalogue=catalogue6)
    assert t.llc == pytest.approx(8.5)
    assert t.w_star[0].shape == (2, 6) and t.d == 18
    with pytest.raises(ValueError):
        tms_truth("no-such-point", 6, catalogue=catalogue6)
