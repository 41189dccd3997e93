"""Refinement of search endpoints: the Newton solve, canonical cleaning and certification.

:func:`refine_critical` solves grad L = 0 from given starting points (:func:`kgon.critical.search.solve_critical`),
puts every endpoint in canonical form (:func:`clean`: short columns exactly zero, free biases at canonical
values) and certifies it (|grad L| <= ``GRAD_TOL`` = 1e-9, :func:`kgon.critical.search.certify`).
Endpoints where the Newton iteration stalls at a kink of the potential with a small gradient
(<= ``RESCUE_TOL``) are replaced by the nearest certified structured variant
(:func:`kgon.critical.variants.structured_variants`: regular-polygon snapping); docs/zoo.md.
"""

from __future__ import annotations

import numpy as np

from kgon.critical.search import DEAD_TOL, ModelSpec, as_model, certify, flatten, solve_critical, unflatten
from kgon.critical.variants import structured_variants

__all__ = ["RESCUE_TOL", "certified_clean", "clean", "refine_critical"]

RESCUE_TOL = 1e-4
"""Newton endpoints with GRAD_TOL < |grad L| <= RESCUE_TOL are snapped to regular polygons."""


def clean(X: np.ndarray, r: int, c: int, dead_tol: float = 1e-7) -> np.ndarray:
    """Canonicalize every row (short columns to 0, free biases to canonical values); a batched
    version of :func:`kgon.symmetry.canonicalize`."""
    W, b = unflatten(X, r, c)
    W = W.copy()
    b = b.copy()
    norms = np.linalg.norm(W, axis=-2)  # (n, c)
    W = np.where((norms <= dead_tol)[:, None, :], 0.0, W)
    dead = norms <= dead_tol
    G = np.swapaxes(W, -1, -2) @ W
    top = np.maximum(G.max(axis=-1), 0.0)  # max_j a_ij, clipped at 0
    off = ~dead & (b <= -top + 1e-9)
    b = np.where(dead & (b <= 0), -1.0 / (2 * c), b)
    b = np.where(off, -1.5 * top, b)
    return flatten(W, b)


def certified_clean(X: np.ndarray, model: ModelSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Canonicalize and certify. Columns shorter than 1e-4 are zeroed where the result is still
    certified (else only those shorter than 1e-7); rows that fail are re-polished once. Returns
    (X, L, grad_norm, ok): the cleaned rows, their losses, gradient norms and the certified mask."""
    r, c = model.r, model.c
    Xc = clean(X, r, c, dead_tol=DEAD_TOL)
    L, gn, ok = certify(Xc, model)
    if not np.all(ok):
        Xf = clean(X[~ok], r, c)
        Lf, gf, okf = certify(Xf, model)
        Xc[~ok], L[~ok], gn[~ok], ok[~ok] = Xf, Lf, gf, okf
    bad = ~ok & np.all(np.isfinite(X), axis=1)
    if np.any(bad):
        Xp = clean(solve_critical(Xc[bad], model, iters=40), r, c)
        L2, g2, ok2 = certify(Xp, model)
        Xc[bad], L[bad], gn[bad], ok[bad] = Xp, L2, g2, ok2
    return Xc, L, gn, ok


def refine_critical(X: np.ndarray, r, c: int | None = None, *, iters: int = 200
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The search's refinement from given starting points: Newton (LM) solve, clean, certify.

    Endpoints that are nearly but not certifiably critical (|grad L| <= ``RESCUE_TOL``; the Newton
    iteration stalls at kinks of the potential, e.g. at 4-gons with zero bias) are replaced by the
    nearest (Euclidean) of their structured variants that is certified
    (:func:`kgon.critical.variants.structured_variants`: regular-polygon snapping). Returns (X, L, ok):
    endpoints, losses and the certified mask. ``r, c``: the uniform model's shape, or ``r`` a
    :class:`kgon.critical.search.ModelSpec` and ``c`` omitted.
    """
    model = as_model(r, c)
    r, c = model.r, model.c
    S = solve_critical(np.asarray(X, dtype=np.float64), model, iters=iters)
    S, L, gn, ok = certified_clean(S, model)
    stuck = np.nonzero(~ok & (gn <= RESCUE_TOL))[0]
    if stuck.size:
        cands, owner = [], []
        for i in stuck:
            for Wv, bv in structured_variants(*unflatten(S[i], r, c)):
                cands.append(flatten(Wv, bv))
                owner.append(i)
        if cands:
            C = clean(np.array(cands), r, c)
            LC, gC, okC = certify(C, model)
            if np.any(~okC):
                P = solve_critical(C[~okC], model, iters=30)
                P, LP, gP, okP = certified_clean(P, model)
                C[~okC], LC[~okC], gC[~okC], okC[~okC] = P, LP, gP, okP
            best: dict[int, tuple[float, int]] = {}
            for j in np.nonzero(okC)[0]:
                i = owner[j]
                dist = float(np.sum((C[j] - S[i]) ** 2))
                if i not in best or dist < best[i][0]:
                    best[i] = (dist, j)
            for i, (_, j) in best.items():
                S[i], L[i], gn[i], ok[i] = C[j], LC[j], gC[j], True
    return S, L, ok
