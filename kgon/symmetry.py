"""Symmetries of the TMS potential: column types, canonical free directions, orbits, alignment.

L(W, b) is invariant under W -> Q W (Q in O(r)) and under permuting the features (columns of W
together with the entries of b), docs/zoo.md. With feature importance I (:func:`kgon.potential`) only
permutations among features of equal importance are symmetries: the functions below that take
``importance`` count and use only those (``None``: uniform, every permutation). Modulo O(r), a
parameter is determined by the Gram matrix G = W^T W and b; modulo both, by (G, b) up to a
simultaneous permutation.

Some coordinates are *free* at a critical point (the loss is locally constant along them):

- a **dead** column (W_i = 0) with b_i < 0 never fires: b_i is free on (-inf, 0);
- a live column whose output never fires on any input (b_i <= -max(0, max_j a_ij), a_ij = W_i.W_j,
  the "sigma-minus" or **off** columns) has its bias free below that bound.

:func:`canonicalize` moves these biases to fixed values (-1/(2c) for dead columns, as in
``kgon.kgon_params``; -3/2 max_j a_ij for off columns) so that equal points compare equal; the
classifier compares free biases only by region (:mod:`kgon.classification`).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = [
    "DEAD",
    "DEAD_POS",
    "OFF",
    "ON",
    "column_types",
    "canonicalize",
    "automorphism_count",
    "multiplicity",
    "procrustes",
    "orbit_tangents",
    "canonical_pose",
    "dead_columns",
    "orbit_copies",
    "distinct_permutations",
]

DEAD, DEAD_POS, OFF, ON = "dead", "dead+", "off", "on"


def column_types(W: np.ndarray, b: np.ndarray, *, tol: float = 1e-7) -> list[str]:
    """Type of each column: ``"dead"`` (W_i = 0, b_i <= 0), ``"dead+"`` (W_i = 0, b_i > 0),
    ``"off"`` (live, output never fires: b_i <= -max(0, max_j a_ij) + tol) or ``"on"``.

    Parameters
    ----------
    W : ndarray, shape (r, c)
    b : ndarray, shape (c,)
    tol : float
        Columns with |W_i| <= tol count as dead; the off condition is checked with this slack.
    """
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    norms = np.linalg.norm(W, axis=0)
    G = W.T @ W
    out = []
    for i in range(W.shape[1]):
        if norms[i] <= tol:
            out.append(DEAD_POS if b[i] > 0 else DEAD)
        elif b[i] <= -max(0.0, float(G[i].max())) + tol:
            out.append(OFF)
        else:
            out.append(ON)
    return out


def canonicalize(W: np.ndarray, b: np.ndarray, *, dead_tol: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """Canonical representative along the free directions (module docstring).

    Columns with |W_i| <= ``dead_tol`` are set to zero; dead columns with b_i <= 0 get
    b_i = -1/(2c); off columns get b_i = -3/2 max_j a_ij. Returns new arrays.
    """
    W = np.array(W, dtype=np.float64, copy=True)
    b = np.array(b, dtype=np.float64, copy=True)
    c = W.shape[1]
    norms = np.linalg.norm(W, axis=0)
    W[:, norms <= dead_tol] = 0.0
    types = column_types(W, b, tol=1e-9)
    G = W.T @ W
    for i, t in enumerate(types):
        if t == DEAD:
            b[i] = -1.0 / (2 * c)
        elif t == OFF:
            b[i] = -1.5 * float(G[i].max())
    W[np.abs(W) < 1e-300] = 0.0
    return W, b


def _invariants(W: np.ndarray, b: np.ndarray):
    W, b = canonicalize(W, b)
    return W.T @ W, b


def _weights(importance, c: int) -> np.ndarray | None:
    """``None`` for uniform importance (None or all ones), else the importance as an array of shape (c,)."""
    if importance is None:
        return None
    w = np.asarray(importance, dtype=np.float64).reshape(-1)
    if w.shape != (c,):
        raise ValueError(f"`importance` must have one entry per feature, shape ({c},); got shape {w.shape}.")
    return None if np.all(w == 1.0) else w


def automorphism_count(W: np.ndarray, b: np.ndarray, *, tol: float = 1e-6, importance=None) -> int:
    """Number of feature permutations pi with (G, b) o pi = (G, b), G = W^T W (after canonicalize).

    A permutation that preserves the Gram matrix and the biases is realised by some Q in O(r), so
    this is the order of the point's stabiliser in S_c modulo O(r). Identical columns ("twins":
    same bias, same Gram row, e.g. the dead columns) are permuted freely, so
    |Aut| = prod_classes (size!) * |Aut(quotient)|, and the automorphisms of the quotient (one column
    per twin class, classes mapped to classes of equal size) are counted by backtracking with
    pruning on the Gram entries. With ``importance``, only permutations that map every feature to
    one of equal importance count.
    """
    G, bb = _invariants(W, b)
    c = G.shape[0]
    w = _weights(importance, c)
    wt = np.zeros(c) if w is None else w
    # twin classes
    cls = [-1] * c
    reps: list[int] = []
    for i in range(c):
        for k, j in enumerate(reps):
            if (
                abs(bb[i] - bb[j]) <= tol
                and wt[i] == wt[j]
                and abs(G[i, i] - G[j, j]) <= tol
                and abs(G[i, j] - G[i, i]) <= tol
                and all(abs(G[i, m] - G[j, m]) <= tol for m in range(c) if m not in (i, j))
            ):
                cls[i] = k
                break
        else:
            cls[i] = len(reps)
            reps.append(i)
    sizes = [cls.count(k) for k in range(len(reps))]
    n = len(reps)
    Gq = G[np.ix_(reps, reps)]
    bq = bb[reps]
    wq = wt[reps]
    cand = [
        [q for q in range(n) if sizes[q] == sizes[p] and abs(Gq[q, q] - Gq[p, p]) <= tol and abs(bq[q] - bq[p]) <= tol
         and wq[q] == wq[p]]
        for p in range(n)
    ]
    count = 0
    assign = [-1] * n
    used = [False] * n

    def rec(p: int) -> None:
        nonlocal count
        if p == n:
            count += 1
            return
        for q in cand[p]:
            if used[q]:
                continue
            if any(abs(Gq[p, s] - Gq[q, assign[s]]) > tol for s in range(p)):
                continue
            used[q] = True
            assign[p] = q
            rec(p + 1)
            used[q] = False
            assign[p] = -1

    rec(0)
    return count * math.prod(math.factorial(s) for s in sizes)


def multiplicity(W: np.ndarray, b: np.ndarray, *, tol: float = 1e-6, importance=None) -> int:
    """Number of distinct feature-permuted copies of the point modulo O(r): |S| / |Aut|, with S = S_c
    (c!) for uniform importance, else the permutations among features of equal importance
    (prod over the distinct importance values of (number of features with it)!)."""
    c = np.shape(W)[1]
    w = _weights(importance, c)
    if w is None:
        order = math.factorial(c)
    else:
        order = math.prod(math.factorial(int(np.sum(w == v))) for v in np.unique(w))
    return order // automorphism_count(W, b, tol=tol, importance=importance)


def procrustes(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Q in O(r) minimising ||Q A - B||_F (A, B shape (..., r, m)); batched over leading axes."""
    M = B @ np.swapaxes(A, -1, -2)
    U, _, Vt = np.linalg.svd(M)
    return U @ Vt


def orbit_tangents(W: np.ndarray) -> np.ndarray:
    """Tangent vectors of the O(r) orbit at (W, b): (A W, 0) for a basis of so(r).

    Returns an array of shape (r (r - 1) / 2, r c + c) (flattened like ``kgon.critical.search.flatten``).
    """
    r, c = W.shape
    out = []
    for p, q in itertools.combinations(range(r), 2):
        A = np.zeros((r, r))
        A[p, q], A[q, p] = 1.0, -1.0
        out.append(np.concatenate([(A @ W).ravel(), np.zeros(c)]))
    return np.array(out).reshape(-1, r * c + c)


def canonical_pose(W: np.ndarray, b: np.ndarray, *, importance=None) -> tuple[np.ndarray, np.ndarray]:
    """A canonical element of the O(r) x S_c orbit of (W, b) (for reproducible representatives).

    r = 2: one of the longest firing ("on") columns (else of the longest live columns) is rotated
    onto the positive first axis, with or without the reflection y -> -y; of these choices the one
    whose list of (angle, length, bias) of the live columns, ordered by angle, is lexicographically
    smallest is taken; live columns are ordered by angle, then come the dead columns with positive
    bias, then the other dead columns. r >= 3: the principal axes of the live columns
    (signs fixed so the largest component of each axis is positive), columns ordered by decreasing
    length. Entries below 1e-13 in absolute value are set to zero. Free biases are not changed.

    With non-uniform ``importance`` the symmetry group is O(r) x (permutations among features of
    equal importance): the importance joins the comparison keys (as the last entry of each column's
    tuple), and each column is then placed in a position of its own importance class (the positions of
    a class are kept; within a class the columns take the order above), so the result is a point of
    the same weighted model.
    """
    W = np.array(W, dtype=np.float64, copy=True)
    b = np.array(b, dtype=np.float64, copy=True)
    r, c = W.shape
    w = _weights(importance, c)
    types = column_types(W, b)
    live = [i for i in range(c) if types[i] in (ON, OFF)]
    on = [i for i in range(c) if types[i] == ON]
    norms = np.linalg.norm(W, axis=0)
    dead_pos = [i for i in range(c) if types[i] == DEAD_POS]
    dead = [i for i in range(c) if types[i] == DEAD]
    if live and r == 2:
        pool = on or live
        top = max(round(float(norms[i]), 9) for i in pool)
        anchors = [i for i in pool if round(float(norms[i]), 9) == top]
        best_key, best = None, None
        for anchor in anchors:
            th = np.arctan2(W[1, anchor], W[0, anchor])
            R = np.array([[np.cos(th), np.sin(th)], [-np.sin(th), np.cos(th)]])
            for refl in (False, True):
                W1 = R @ W if th != 0.0 else W.copy()
                W1[1, anchor] = 0.0
                if refl:
                    W1[1] = -W1[1]
                ang = np.mod(np.arctan2(W1[1, live], W1[0, live]), 2 * np.pi)
                ang = np.where(np.abs(ang - 2 * np.pi) < 1e-12, 0.0, ang)
                sort_keys = (np.round(b[live], 9), np.round(norms[live], 9), np.round(ang, 9))
                if w is not None:
                    sort_keys = (w[live],) + sort_keys
                order = np.lexsort(sort_keys)
                key = tuple(
                    (round(float(ang[j]), 9), round(float(norms[live[j]]), 9), round(float(b[live[j]]), 9))
                    + (() if w is None else (float(w[live[j]]),))
                    for j in order
                )
                if best_key is None or key < best_key:
                    best_key, best = key, (W1, [live[j] for j in order])
        W, order_live = best
    elif live and r > 2:
        U, _, _ = np.linalg.svd(W[:, live], full_matrices=True)
        for a in range(r):
            k = np.argmax(np.abs(U[:, a]))
            if U[k, a] < 0:
                U[:, a] = -U[:, a]
        W = U.T @ W
        order_live = sorted(
            live, key=lambda i: (-round(norms[i], 9), round(float(b[i]), 9)) + (() if w is None else (float(w[i]),))
        )
    else:
        order_live = live
    order = order_live + dead_pos + dead
    if w is not None:  # each column into a position of its own importance class
        placed = [0] * c
        for v in np.unique(w):
            positions = [i for i in range(c) if w[i] == v]
            for pos, col in zip(positions, [i for i in order if w[i] == v]):
                placed[pos] = col
        order = placed
    W = W[:, order]
    b = b[order]
    W[np.abs(W) < 1e-13] = 0.0
    return W, b


def dead_columns(W, b, *, tol: float = 1e-9) -> list[int]:
    """Columns j with W_j = 0 and b_j <= 0: their output is ReLU(b_j) = 0, so the loss is exactly
    flat in (W_j, b_j) inside a region around the point (docs/free_energy.md, the flat term).

    Parameters
    ----------
    W : array, shape (r, c)
    b : array, shape (c,)
    tol : float
        Columns with ``|W_j|`` < tol count as W_j = 0.
    """
    W, b = np.asarray(W, float), np.asarray(b, float)
    return [j for j in range(W.shape[1]) if np.linalg.norm(W[:, j]) < tol and b[j] <= 0]


def orbit_copies(multiplicity: int, W) -> int:
    """Number of distinct SO(r) orbits making up a phase: the catalogue multiplicity M (distinct O(r)
    orbits under feature permutations) times 2 (an O(2) orbit of a configuration with W != 0 in
    general position is two SO(2) orbits: a reflection is not a rotation); M when W = 0.

    Raises
    ------
    ValueError
        If ``multiplicity`` is not a positive integer.
    """
    if int(multiplicity) < 1:
        raise ValueError(f"`multiplicity` must be a positive integer; got {multiplicity!r}.")
    return int(multiplicity) * (2 if np.linalg.norm(np.asarray(W)) > 0 else 1)


def distinct_permutations(W, b, *, tol: float = 1e-6) -> list[tuple[int, ...]]:
    """Feature permutations sigma giving distinct O(2) orbits of (W, b) (one representative each).

    Two configurations lie on the same O(2) orbit exactly when their Gram matrices W^T W and biases
    agree, so the classes of (W[:, sigma], b[sigma]) are found by comparing (Gram, b) rounded to
    ``tol``. Their number is the catalogue multiplicity M (c! / ``|stabiliser|``); on a data set the
    copies are not equivalent (which feature is dead, which are neighbours), which is why the
    data-conditional free energy sums over them (docs/free_energy.md). The identity comes first.

    Raises
    ------
    ValueError
        If ``W`` has more than 8 columns (c! permutations are enumerated).
    """
    W, b = np.asarray(W, float), np.asarray(b, float)
    c = W.shape[1]
    if c > 8:
        raise ValueError(f"`W` must have at most 8 columns to enumerate permutations; got c = {c}.")
    seen: dict = {}
    G = W.T @ W
    for sig in itertools.permutations(range(c)):
        s = list(sig)
        key = (tuple(np.round(G[np.ix_(s, s)] / tol).astype(np.int64).ravel()),
               tuple(np.round(b[s] / tol).astype(np.int64)))
        seen.setdefault(key, tuple(sig))
    return list(seen.values())
