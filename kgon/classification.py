"""Phase classification: which catalogue critical point is a parameter near, modulo symmetry.

The **phase distance** of w = (W, b) to a catalogue point w* = (W*, b*) is

    d(w, w*) = min_{Q in O(r), pi in S_c}  sqrt( sum_j cost_j( Q W_{pi(j)}, b_{pi(j)} ) ),

a Euclidean distance in parameter space after the best rotation/reflection of the hidden space and
the best matching of features (docs/zoo.md), where the cost of putting column
(v, beta) on slot j of w* respects the slot's free directions (:mod:`kgon.symmetry`):

- live slot with firing output ("on"):   |v - W*_j|^2 + (beta - b*_j)^2;
- live slot whose output never fires ("off", free bias below u_j = -max(0, max_k W*_j.W*_k)):
  |v - W*_j|^2 + max(beta - u_j, 0)^2;
- dead slot with free bias (b <= 0):      |v|^2 + max(beta, 0)^2;
- dead slot with positive bias 1/(2c):    |v|^2 + dist(beta, (0, 1/c])^2 - compared by region: the
  side b > 0 of the kink at b = 0 (the basin of 1/(2c)) within 1/(2c) of the critical value.

Free biases are thus compared only by region, as the flat directions require: a dead feature with
bias -0.01 or -5 is equally at the point, and the 5 / 5+ (4 / 4+, ...) pairs, which differ only in
the sign of one dead bias, are separated at b = 0.

Computation: for each candidate alignment (r = 2: the sample's longest column rotated onto each
live slot, with and without reflection; r >= 3: the two longest columns Procrustes-aligned to each
ordered pair of live slots, with the reflection through their plane; r = 1: +-1) the optimal
matching pi is an assignment problem (exact: identical slots are merged into classes with
capacities, the row-wise minimum is taken when it respects the capacities and
``scipy.optimize.linear_sum_assignment`` is used otherwise); Q is then refined by orthogonal
Procrustes on the matched live columns and the matching recomputed. Points whose lower bound
(the sorted column norms matched, |(|v| - |W*_j|)|^2) exceeds the threshold are skipped.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from kgon.symmetry import DEAD, DEAD_POS, OFF, ON, column_types, procrustes

__all__ = ["classify", "phase_distance", "phase_distances", "DEFAULT_THRESHOLD", "OTHER"]

DEFAULT_THRESHOLD = 0.5
"""Default distance above which a parameter is labelled ``"other"``."""

OTHER = "other"


@dataclass(frozen=True)
class _Slots:
    W: np.ndarray  # (r, c)
    b: np.ndarray  # (c,)
    types: tuple[str, ...]
    upper: np.ndarray  # off slots: upper end of the free bias interval
    classes: np.ndarray  # class id per slot (identical slots share one)
    class_rep: np.ndarray  # one slot index per class
    capacity: np.ndarray  # slots per class
    live: np.ndarray  # indices of live slots
    beta: float


def _slots(W: np.ndarray, b: np.ndarray) -> _Slots:
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    c = W.shape[1]
    types = tuple(column_types(W, b))
    G = W.T @ W
    upper = np.array([-max(0.0, float(G[j].max())) for j in range(c)])
    keys, classes, rep, cap = {}, np.empty(c, dtype=int), [], []
    for j in range(c):
        if types[j] in (DEAD, DEAD_POS):
            key = (types[j],)
        else:
            key = (types[j], j)
        if key not in keys:
            keys[key] = len(rep)
            rep.append(j)
            cap.append(0)
        classes[j] = keys[key]
        cap[keys[key]] += 1
    live = np.array([j for j in range(c) if types[j] in (ON, OFF)], dtype=int)
    return _Slots(W, b, types, upper, classes, np.array(rep), np.array(cap), live, 1.0 / (2 * c))


def _cost_matrix(S: _Slots, QW: np.ndarray, bs: np.ndarray) -> np.ndarray:
    """cost[..., i, j] of putting sample column i (rotated: QW (..., r, c)) on slot j."""
    c = S.W.shape[1]
    out = np.empty(QW.shape[:-2] + (c, c))
    norm2 = np.sum(QW * QW, axis=-2)  # (..., c)
    for j, t in enumerate(S.types):
        if t == ON:
            out[..., j] = np.sum((QW - S.W[:, j : j + 1]) ** 2, axis=-2) + (bs - S.b[j]) ** 2
        elif t == OFF:
            out[..., j] = np.sum((QW - S.W[:, j : j + 1]) ** 2, axis=-2) + np.maximum(bs - S.upper[j], 0.0) ** 2
        elif t == DEAD:
            out[..., j] = norm2 + np.maximum(bs, 0.0) ** 2
        else:  # dead slot with positive bias: region (0, 2 beta]
            out[..., j] = norm2 + np.maximum(-bs, 0.0) ** 2 + np.maximum(bs - 2 * S.beta, 0.0) ** 2
    return out


def _assign(S: _Slots, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Optimal assignment for a batch of cost matrices C (n, c, c): (total cost (n,), slot of
    each sample column (n, c))."""
    n, c, _ = C.shape
    Cc = C[:, :, S.class_rep]  # (n, c, n_classes)
    arg = np.argmin(Cc, axis=-1)
    counts = np.zeros((n, S.capacity.size), dtype=int)
    np.add.at(counts, (np.repeat(np.arange(n), c), arg.ravel()), 1)
    ok = np.all(counts <= S.capacity[None, :], axis=1)
    total = np.take_along_axis(Cc, arg[..., None], axis=-1)[..., 0].sum(axis=1)
    slot_of = np.empty((n, c), dtype=int)
    # expand classes to concrete slots for the fast path
    if np.any(ok):
        members = [np.nonzero(S.classes == k)[0] for k in range(S.capacity.size)]
        idx_ok = np.nonzero(ok)[0]
        for k, mem in enumerate(members):
            hit = arg[idx_ok] == k  # (m, c)
            rank = np.cumsum(hit, axis=1) - 1
            rows, cols = np.nonzero(hit)
            slot_of[idx_ok[rows], cols] = mem[rank[rows, cols]]
    for s in np.nonzero(~ok)[0]:
        ri, ci = linear_sum_assignment(C[s])
        slot_of[s, ri] = ci
        total[s] = C[s, ri, ci].sum()
    return total, slot_of


def _candidate_rotations(S: _Slots, W: np.ndarray) -> np.ndarray:
    """Candidate Q (n, K, r, r) aligning the samples W (n, r, c) to the slots (module docstring)."""
    n, r, c = W.shape
    live = S.live
    eye = np.broadcast_to(np.eye(r), (n, 1, r, r))
    if live.size == 0:
        return eye.copy()
    norms = np.linalg.norm(W, axis=1)  # (n, c)
    order = np.argsort(-norms, axis=1)
    if r == 1:
        return np.concatenate([eye, -eye], axis=1)
    i1 = order[:, 0]
    u = W[np.arange(n), :, i1]  # (n, r)
    un = np.linalg.norm(u, axis=1)
    if r == 2:
        cands = []
        th_u = np.arctan2(u[:, 1], u[:, 0])
        for j in live:
            th_v = np.arctan2(S.W[1, j], S.W[0, j])
            for refl in (False, True):
                tu = -th_u if refl else th_u
                a = th_v - tu
                R = np.stack([np.stack([np.cos(a), -np.sin(a)], -1), np.stack([np.sin(a), np.cos(a)], -1)], -2)
                if refl:
                    R = R @ np.diag([1.0, -1.0])
                cands.append(R)
        Q = np.stack(cands, axis=1)
        Q[un == 0] = np.eye(2)
        return Q
    # r >= 3
    cands = []
    if live.size == 1:
        j = live[0]
        v = S.W[:, j] / np.linalg.norm(S.W[:, j])
        uu = u / np.where(un > 0, un, 1.0)[:, None]
        w = uu - v[None, :]
        wn = np.linalg.norm(w, axis=1, keepdims=True)
        w = np.where(wn > 1e-12, w / np.where(wn > 0, wn, 1.0), 0.0)
        H = np.eye(r)[None] - 2 * w[:, :, None] * w[:, None, :]
        return H[:, None]
    i2 = order[:, 1]
    A = np.stack([u, W[np.arange(n), :, i2]], axis=-1)  # (n, r, 2)
    for j1, j2 in itertools.permutations(live, 2):
        B = S.W[:, [j1, j2]]
        Q = procrustes(A, np.broadcast_to(B, A.shape))
        cands.append(Q)
        # the reflection through the target plane
        basis = np.linalg.svd(B, full_matrices=True)[0]
        if basis.shape[1] > 2:
            nvec = basis[:, 2]
            Hn = np.eye(r) - 2 * np.outer(nvec, nvec)
            cands.append(Hn[None] @ Q)
    return np.stack(cands, axis=1)


def _distances_to_point(S: _Slots, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Phase distances (n,) of the samples W (n, r, c), b (n, c) to one point."""
    n, r, c = W.shape
    Q = _candidate_rotations(S, W)  # (n, K, r, r)
    K = Q.shape[1]
    QW = Q @ W[:, None]  # (n, K, r, c)
    bb = np.broadcast_to(b[:, None, :], (n, K, c))
    C = _cost_matrix(S, QW, bb)
    C = C.reshape(n * K, c, c)
    total, slot_of = _assign(S, C)
    total = total.reshape(n, K)
    best = np.argmin(total, axis=1)
    best_cost = total[np.arange(n), best]
    if S.live.size and r >= 2:
        # refine Q by Procrustes on the matched live columns of the best candidate
        so = slot_of.reshape(n, K, c)[np.arange(n), best]  # (n, c): slot of sample column i
        is_live = np.isin(so, S.live)
        A = W * is_live[:, None, :]
        B = S.W[:, so].transpose(1, 0, 2) * is_live[:, None, :]  # (n, r, c)
        Q2 = procrustes(A, B)
        C2 = _cost_matrix(S, Q2 @ W, b)
        t2, _ = _assign(S, C2)
        best_cost = np.minimum(best_cost, t2)
    return np.sqrt(np.maximum(best_cost, 0.0))


def _lower_bound(S: _Slots, W: np.ndarray) -> np.ndarray:
    """sqrt(sum (sorted |W_i| - sorted |W*_j|)^2) <= phase distance."""
    ns = np.sort(np.linalg.norm(W, axis=-2), axis=-1)
    ps = np.sort(np.linalg.norm(S.W, axis=0))
    return np.sqrt(np.sum((ns - ps) ** 2, axis=-1))


def _as_batch(W, b, catalogue_r: int, catalogue_c: int):
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if W.ndim < 2 or W.shape[-2:] != (catalogue_r, catalogue_c):
        raise ValueError(
            f"`W` must have shape (..., {catalogue_r}, {catalogue_c}) to match the catalogue; got shape {W.shape}."
        )
    if b.shape != W.shape[:-2] + (catalogue_c,):
        raise ValueError(f"`b` must have shape {W.shape[:-2] + (catalogue_c,)}; got shape {b.shape}.")
    if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
        raise ValueError("`W` and `b` must be finite; got NaN or infinite entries.")
    lead = W.shape[:-2]
    return W.reshape((-1, catalogue_r, catalogue_c)), b.reshape((-1, catalogue_c)), lead


def phase_distance(W, b, point) -> float | np.ndarray:
    """Phase distance d(w, w*) of (W, b) to a catalogue point (module docstring).

    Parameters
    ----------
    W : array_like, shape (r, c) or (..., r, c)
    b : array_like, shape (c,) or (..., c)
    point : CriticalPoint
        A catalogue point (anything with ``W`` and ``b`` of shapes (r, c), (c,)).

    Returns
    -------
    float or ndarray
        A float for a single parameter, an array of the leading shape for a batch.
    """
    r, c = np.shape(point.W)
    Wb, bb, lead = _as_batch(W, b, r, c)
    d = _distances_to_point(_slots(point.W, point.b), Wb, bb)
    return float(d[0]) if lead == () else d.reshape(lead)


def phase_distances(W, b, catalogue, *, cutoff: float | None = None) -> np.ndarray:
    """Phase distances of (W, b) (batched, (..., r, c)) to every catalogue point: shape (..., n_points).

    With ``cutoff``, distances to points whose lower bound exceeds it are not computed (returned as inf).
    """
    Wb, bb, lead = _as_batch(W, b, catalogue.r, catalogue.c)
    out = np.full((Wb.shape[0], len(catalogue.points)), np.inf)
    for p, point in enumerate(catalogue.points):
        S = _slots(point.W, point.b)
        todo = np.arange(Wb.shape[0])
        if cutoff is not None:
            todo = todo[_lower_bound(S, Wb) <= cutoff]
        if todo.size:
            out[todo, p] = _distances_to_point(S, Wb[todo], bb[todo])
    return out.reshape(lead + (len(catalogue.points),))


def classify(W, b, catalogue, *, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Label each parameter with its nearest catalogue point, or ``"other"``.

    Parameters
    ----------
    W : array_like, shape (r, c) or (..., r, c)
        Parameters to classify (e.g. posterior draws or SGD checkpoints).
    b : array_like, shape (c,) or (..., c)
    catalogue : Catalogue
        From :func:`kgon.find_critical_points` / :func:`kgon.default_catalogue`.
    threshold : float, keyword-only
        Largest phase distance (module docstring) that still counts as "at" a point; farther
        parameters get ``"other"``. Default 0.5.

    Returns
    -------
    ndarray of str
        Catalogue labels (``CriticalPoint.label``) or ``"other"``, of the leading shape of ``W``
        (0-d for a single parameter).
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
        raise ValueError(f"`threshold` must be a positive number; got {threshold!r}.")
    Wb, bb, lead = _as_batch(W, b, catalogue.r, catalogue.c)
    n = Wb.shape[0]
    best = np.full(n, np.inf)
    best_idx = np.full(n, -1)
    pts = list(catalogue.points)
    slots = [_slots(p.W, p.b) for p in pts]
    lbs = np.stack([_lower_bound(S, Wb) for S in slots], axis=1) if pts else np.zeros((n, 0))
    # visit points in order of their lower bound; skip those that cannot beat the current best
    for p in np.argsort(np.median(lbs, axis=0)) if pts else []:
        todo = np.nonzero((lbs[:, p] <= threshold) & (lbs[:, p] < best))[0]
        if todo.size == 0:
            continue
        d = _distances_to_point(slots[p], Wb[todo], bb[todo])
        better = d < best[todo]
        best[todo[better]] = d[better]
        best_idx[todo[better]] = p
    labels = np.array([pt.label for pt in pts] + [OTHER], dtype=object)
    out = labels[np.where((best_idx >= 0) & (best <= threshold), best_idx, len(pts))]
    out = out.astype(str)
    return out.reshape(lead)
