"""Alignment of TMS parameters modulo the symmetry O(r) x S_c (rotation/reflection and feature permutation).

The TMS loss is invariant under W -> Q W P, b -> b P for Q in O(r) and a permutation matrix P, so
weights of independent runs can only be compared after choosing, for each run, the group element that
brings it closest to a reference. :func:`align_to_reference` solves

    min_{Q in O(r), pi in S_c}  sum_t ( || Q W_t[:, pi] - V_t ||_F^2 + || b_t[pi] - a_t ||^2 )

jointly over the checkpoints t of a trajectory (one transform per run, so an aligned trajectory is
still a trajectory), by alternating the orthogonal Procrustes solution for Q (:func:`kgon.symmetry.procrustes`)
and the linear assignment (Hungarian algorithm, :func:`scipy.optimize.linear_sum_assignment`) for pi,
from several starts: the identity permutation, the assignment of rotation-invariant column features
(lengths and biases), and for r = 2 the rotations/reflections that put each column onto the reference's
longest column. The best local optimum is returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from kgon.symmetry import procrustes
from kgon.validation import check_int

__all__ = ["Alignment", "align_to_reference", "align_runs"]


@dataclass(frozen=True, eq=False)
class Alignment:
    """The group element taking a parameter onto a reference: ``W_aligned = Q @ W[..., perm]``,
    ``b_aligned = b[..., perm]``; ``cost`` the residual sum of squares."""

    Q: np.ndarray
    perm: np.ndarray
    cost: float

    def apply(self, W, b):
        W = np.asarray(W, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        return np.einsum("ij,...jc->...ic", self.Q, W[..., self.perm]), b[..., self.perm]


def _as_traj(W, b):
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if W.ndim == 2:
        W, b = W[None], b[None]
    if W.ndim != 3 or b.shape != (W.shape[0], W.shape[2]):
        raise ValueError(f"`W` and `b` must have shapes (r, c) and (c,), or (T, r, c) and (T, c); got {W.shape} "
                         f"and {b.shape}.")
    return W, b


def _refine(W, b, V, a, perm, iters=50):
    for _ in range(iters):
        A = np.concatenate(list(W[:, :, perm]), axis=1)
        B = np.concatenate(list(V), axis=1)
        Q = procrustes(A, B)
        QW = np.einsum("ij,tjc->tic", Q, W)
        # cost[j, i]: reference column j <- run column i
        C = ((V[:, :, :, None] - QW[:, :, None, :]) ** 2).sum((0, 1)) + ((a[:, :, None] - b[:, None, :]) ** 2).sum(0)
        _, new = linear_sum_assignment(C)
        if np.array_equal(new, perm):
            break
        perm = new
    A = np.concatenate(list(W[:, :, perm]), axis=1)
    Q = procrustes(A, np.concatenate(list(V), axis=1))
    cost = float(((np.einsum("ij,tjc->tic", Q, W[:, :, perm]) - V) ** 2).sum() + ((b[:, perm] - a) ** 2).sum())
    return Q, perm, cost


def align_to_reference(W, b, W_ref, b_ref) -> Alignment:
    """The rotation/reflection Q in O(r) and permutation that best map (W, b) onto (W_ref, b_ref)
    (module docstring). Shapes (r, c), (c,) for one parameter or (T, r, c), (T, c) for a trajectory
    (one transform fitted to all T checkpoints)."""
    W, b = _as_traj(W, b)
    V, a = _as_traj(W_ref, b_ref)
    if V.shape != W.shape:
        raise ValueError(f"the reference must have the same shape as the parameters; got {V.shape} and {W.shape}.")
    T, r, c = W.shape
    starts = [np.arange(c)]
    fW = np.concatenate([np.linalg.norm(W, axis=1), b], axis=0)  # rotation-invariant column features (2T, c)
    fV = np.concatenate([np.linalg.norm(V, axis=1), a], axis=0)
    _, p = linear_sum_assignment(((fV[:, :, None] - fW[:, None, :]) ** 2).sum(0))
    starts.append(p)
    if r == 2:
        j0 = int(np.argmax(np.linalg.norm(V, axis=1).sum(0)))
        for i in range(c):
            for refl in (False, True):
                Wi = W.copy()
                if refl:
                    Wi[:, 1] *= -1
                Q = procrustes(Wi[:, :, [i]].transpose(1, 0, 2).reshape(r, T),
                               V[:, :, [j0]].transpose(1, 0, 2).reshape(r, T))
                QW = np.einsum("ij,tjc->tic", Q, Wi)
                C = ((V[:, :, :, None] - QW[:, :, None, :]) ** 2).sum((0, 1)) + \
                    ((a[:, :, None] - b[:, None, :]) ** 2).sum(0)
                starts.append(linear_sum_assignment(C)[1])
    best = None
    seen = set()
    for p in starts:
        t = tuple(int(x) for x in p)
        if t in seen:
            continue
        seen.add(t)
        Q, perm, cost = _refine(W, b, V, a, np.asarray(p))
        if best is None or cost < best[2] - 1e-12:
            best = (Q, perm, cost)
    return Alignment(Q=best[0], perm=np.asarray(best[1]), cost=best[2])


def align_runs(W, b, *, reference: int = 0) -> tuple[np.ndarray, np.ndarray, list[Alignment]]:
    """Align every run's whole trajectory to run ``reference`` (one transform per run, fitted over all
    checkpoints): ``W`` (R, K, r, c), ``b`` (R, K, c) -> aligned copies and the alignments."""
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if W.ndim != 4 or b.shape != W.shape[:2] + W.shape[3:]:
        raise ValueError(f"`W` must be (R, K, r, c) and `b` (R, K, c); got {W.shape} and {b.shape}.")
    reference = check_int("reference", reference, minimum=0, maximum=W.shape[0] - 1)
    ok = np.all(np.isfinite(W), axis=(0, 2, 3)) & np.all(np.isfinite(b), axis=(0, 2))
    Wa, ba, als = np.empty_like(W), np.empty_like(b), []
    for i in range(W.shape[0]):
        al = align_to_reference(W[i, ok], b[i, ok], W[reference, ok], b[reference, ok])
        Wa[i], ba[i] = al.apply(W[i], b[i])
        als.append(al)
    return Wa, ba, als
