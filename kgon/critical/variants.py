"""Structural variants of a critical point: exact moves between the members of the critical families.

Many low-loss critical points are not isolated (free dead and output-off biases, output-off columns
that slide along a ray, columns that split into parallel copies with the same loss, polygons with zero
bias whose vertices can move while all overlaps stay <= 0), and the Newton iteration of
:mod:`kgon.critical.search` ends anywhere on such a critical set. The moves here turn a point into
the structured members of its family and into its neighbours (docs/zoo.md):

- :func:`structured_variants`: nearly dead columns zeroed, output-off columns killed
  (:func:`kill_off`), parallel copies merged (:func:`merge_parallel`), then *snapped* to a regular
  polygon (:func:`snap_regular`: live columns at the vertices of a regular k-gon in their angular
  order with their mean on-length and on-bias, also with on-bias exactly 0 when it is within 1e-3 of
  it); used for the rescue of stalled Newton endpoints (:mod:`kgon.critical.refine`) and for the
  choice of representatives (:mod:`kgon.critical.levels`);
- :func:`grow_polygon`: a regular polygon with free dead columns turned into output-off vertices of a
  larger polygon (every choice of off vertices up to the dihedral symmetry);
- :func:`bias_flips`: the neighbours in the sigma+/sigma- lattice (one dead bias sign flipped, one
  firing column switched off, one output-off column switched on);
- :func:`column_moves`: a live column killed, split with a dead one into parallel copies, or a dead
  one grown along a live one.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from kgon.critical.search import DEAD_TOL, flatten, unflatten
from kgon.naming import polygon_info
from kgon.symmetry import DEAD, DEAD_POS, OFF, ON, column_types

__all__ = [
    "bias_flips",
    "column_moves",
    "grow_polygon",
    "kill_off",
    "merge_parallel",
    "snap_regular",
    "structured_variants",
]


def structured_variants(W: np.ndarray, b: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Structured variants of a point: output-off columns killed, parallel columns merged, and the
    regular polygons snapped from each (module docstring). The point itself is not included."""
    variants = [(W, b)]
    norms = np.linalg.norm(W, axis=0)
    short = (norms > 0) & (norms < 1e-3 * max(1.0, float(norms.max())))
    if np.any(short):  # nearly dead columns made dead
        W0 = W.copy()
        W0[:, short] = 0.0
        variants.append((W0, b))
    for Wv, bv in list(variants):
        killed = kill_off(Wv, bv)
        if killed is not None:
            variants.append(killed)
    for Wv, bv in list(variants):
        merged = merge_parallel(Wv, bv)
        if merged is not None:
            variants.append(merged)
    for Wv, bv in list(variants):
        variants.extend(snap_regular(Wv, bv))
    return variants[1:]




def merge_parallel(W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Merge parallel live "on" columns with equal bias into one (lengths add in quadrature)."""
    W = W.copy()
    b = b.copy()
    c = W.shape[1]
    types = column_types(W, b)
    on = [i for i in range(c) if types[i] == ON]
    norms = np.linalg.norm(W, axis=0)
    changed = False
    for a_i, i in enumerate(on):
        if norms[i] == 0:
            continue
        for j in on[a_i + 1 :]:
            if norms[j] == 0:
                continue
            cosang = W[:, i] @ W[:, j] / (norms[i] * norms[j])
            if cosang > 1 - 1e-9 and abs(b[i] - b[j]) < 1e-7:
                new_len = math.hypot(norms[i], norms[j])
                W[:, i] *= new_len / norms[i]
                norms[i] = new_len
                W[:, j] = 0.0
                norms[j] = 0.0
                b[j] = -1.0 / (2 * c)
                changed = True
    return (W, b) if changed else None


def kill_off(W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Output-off columns moved to zero (dead, bias -1/(2c)); often a flat move (module docstring)."""
    c = W.shape[1]
    types = column_types(W, b)
    off = [i for i in range(c) if types[i] == OFF]
    if not off:
        return None
    W = W.copy()
    b = b.copy()
    W[:, off] = 0.0
    b[off] = -1.0 / (2 * c)
    return W, b


def snap_regular(W: np.ndarray, b: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The regular polygon nearest in structure to (W, b) (module docstring): live columns
    at the vertices in their angular order, with their mean on-length and mean on-bias; if that
    bias is within 1e-3 of zero, also the same polygon with on-bias exactly 0 (the kink where the
    zero-bias families sit). Empty if there is no firing column."""
    r, c = W.shape
    types = column_types(W, b)
    live = [i for i in range(c) if types[i] in (ON, OFF)]
    on = [i for i in range(c) if types[i] == ON]
    if not on or (r < 2 and len(live) > 2):
        return []
    k = len(live)
    norms = np.linalg.norm(W, axis=0)
    length = float(np.mean(norms[on]))
    bias = float(np.mean(b[on]))
    V = W[:, live]
    if r >= 2:
        U = np.linalg.svd(V, full_matrices=True)[0][:, :2]
    else:
        U = np.array([[1.0]])
    z = U.T @ V if r >= 2 else np.vstack([V, np.zeros((1, k))])
    theta = np.arctan2(z[1], z[0])
    order = np.argsort(np.mod(theta, 2 * np.pi))
    base = 2 * np.pi * np.arange(k) / k
    ang = base  # the polygon's rotation is irrelevant (O(r) symmetry): vertex 0 on the first axis
    W2 = np.zeros((r, c))
    b2 = np.where(b > 0, 1.0 / (2 * c), -1.0 / (2 * c))
    for rank, idx in enumerate(order):
        col = live[idx]
        vec2 = length * np.array([np.cos(ang[rank]), np.sin(ang[rank])])
        W2[:, col] = U @ vec2 if r >= 2 else vec2[:1]
        b2[col] = bias if types[col] == ON else -1.5 * length**2
    for i in range(c):
        if types[i] not in (ON, OFF):
            W2[:, i] = 0.0
    out = [(W2, b2)]
    if bias != 0.0 and abs(bias) < 1e-3:
        b3 = b2.copy()
        b3[on] = 0.0
        out.append((W2.copy(), b3))
    return out


def grow_polygon(W: np.ndarray, b: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Regular (k + j)-gons, j >= 0, built from a regular k-gon by turning j of its free dead columns
    into output-off vertices: on columns keep their length l and bias, the off vertices (every
    choice of vertices up to the dihedral symmetry; j = 0 gives the siblings with the same counts)
    get length l and bias -3/2 l^2. Built with (l, bias) as given and rounded to 1e-7 (exact
    values such as l = 1, b = 0 of the zero-bias families when the search's are off by ~1e-9)."""
    r, c = W.shape
    info = polygon_info(W, b)
    if not info.regular or r < 2 or info.n_live == 0:
        return []
    types = info.types
    live = [i for i in range(c) if types[i] in (ON, OFF)]
    on = [i for i in range(c) if types[i] == ON]
    dead = [i for i in range(c) if types[i] == DEAD]
    length0 = float(np.linalg.norm(W[:, on[0]]))
    bias0 = float(np.mean(b[on]))
    values = {(length0, bias0), (round(length0, 7), round(bias0, 7) + 0.0)}
    n_off0 = len(live) - len(on)
    out = []
    for (length, bias), j in itertools.product(sorted(values), range(0, len(dead) + 1)):
        k2 = len(live) + j
        n_off = n_off0 + j
        seen = set()
        for off in itertools.combinations(range(k2), n_off):
            key = min(
                tuple(sorted((s * v + t) % k2 for v in off)) for t in range(k2) for s in (1, -1)
            )
            if key in seen:
                continue
            seen.add(key)
            W2 = np.zeros((r, c))
            b2 = b.copy()
            cols = list(on)
            off_cols = [i for i in live if types[i] == OFF] + dead[:j]
            on_iter = iter(cols)
            off_iter = iter(off_cols)
            for m in range(k2):
                col = next(off_iter) if m in off else next(on_iter)
                W2[0, col] = length * np.cos(2 * np.pi * m / k2)
                W2[1, col] = length * np.sin(2 * np.pi * m / k2)
                b2[col] = -1.5 * length**2 if m in off else bias
            W2[np.abs(W2) < 1e-15 * max(1.0, length)] = 0.0
            out.append((W2, b2))
    return out




def bias_flips(x: np.ndarray, r: int, c: int) -> list[np.ndarray]:
    """Neighbours of x in the sigma+/sigma- lattice: one dead bias sign flipped (+-1/(2c)), one firing
    column switched off (b = -3/2 |W_i|^2) or one output-off column switched on (b = mean on-bias)."""
    W, b = unflatten(x, r, c)
    types = column_types(W, b)
    on = [i for i in range(c) if types[i] == ON]
    on_bias = float(np.mean(b[on])) if on else 0.0
    out = []
    for i, t in enumerate(types):
        b2 = b.copy()
        if t == DEAD:
            b2[i] = 1.0 / (2 * c)
        elif t == DEAD_POS:
            b2[i] = -1.0 / (2 * c)
        elif t == ON:
            b2[i] = -1.5 * float(W[:, i] @ W[:, i])
        else:
            b2[i] = on_bias
        out.append(flatten(W, b2))
    return out


def column_moves(x: np.ndarray, r: int, c: int, grow: float = 0.03) -> list[np.ndarray]:
    """Neighbours of x that change which columns are live: each live column set to zero (its bias
    kept); each live column i split with each dead column d into two parallel copies W_i / sqrt(2)
    (the dead column taking b_i); each dead column d grown to length ``grow`` along each live column
    (its bias kept). Many irregular minima at c >= 8 are polygons with such split or slightly live
    columns, reached from their neighbours by these moves and hardly by random perturbations."""
    W, b = unflatten(x, r, c)
    norms = np.linalg.norm(W, axis=0)
    live = [i for i in range(c) if norms[i] > DEAD_TOL]
    dead = [i for i in range(c) if norms[i] <= DEAD_TOL]
    out = []
    for i in live:
        W2 = W.copy()
        W2[:, i] = 0.0
        out.append(flatten(W2, b))
    for d in dead:
        for i in live:
            W2, b2 = W.copy(), b.copy()
            W2[:, i] = W[:, i] / math.sqrt(2.0)
            W2[:, d] = W[:, i] / math.sqrt(2.0)
            b2[d] = b[i]
            out.append(flatten(W2, b2))
            W3 = W.copy()
            W3[:, d] = grow * W[:, i] / norms[i]
            out.append(flatten(W3, b))
    return out


