"""Levels of certified points and the choice of one representative per level (docs/zoo.md).

1. **Levels.** Certified points are grouped by critical value (|L - L'| <= ``LEVEL_TOL`` = 1e-9,
   :func:`split_levels`). Points of one level are identified modulo symmetry *and* modulo the flat
   directions of the critical set: many low-loss critical points are not isolated (free dead and
   output-off biases, output-off columns that slide along a ray, columns that split into parallel
   copies with the same loss, polygons with zero bias whose vertices can move while all overlaps stay
   <= 0), and the loss is constant on each connected critical set, so one level is reported as one
   catalogue point. (Two *different* critical sets with exactly the same loss would be merged; none
   occur among the regular families, whose distinct-looking variants such as the adjacent and
   opposite 4-- are connected through such flat moves.)
2. **Representative** (:func:`choose_representatives`). Members with distinct column patterns are
   turned into structured variants (:func:`kgon.critical.variants.structured_variants`: nearly dead
   columns zeroed, output-off columns killed, parallel copies merged, then snapped to a regular
   polygon) and polished by the Newton iteration if needed; regular polygons are *grown*
   (:func:`kgon.critical.variants.grow_polygon`: free dead columns turned into output-off vertices of
   a larger polygon, every choice of off vertices up to the dihedral symmetry). Variants that are
   certified and lie on the same level are candidates. The representative is the regular candidate
   with the largest k (the paper's naming: "4++-" rather than "3++" for the same level), then an
   exactly constructed one, then the smallest ||w||^2, then the one with the cleanest entries
   (sum |x - round(x, 7)|), then the smallest canonical pose; a level without a regular candidate is
   represented by its member of smallest ||w||^2 and named ``"irregular-<hash>"``
   (:mod:`kgon.naming`). Representatives are put in a canonical pose
   (:func:`kgon.symmetry.canonical_pose`), so that equal levels give bit-for-bit (regular polygons) or
   nearly (irregular points) equal representatives under any seed.
"""

from __future__ import annotations

import numpy as np

from kgon.critical.refine import certified_clean
from kgon.critical.search import ModelSpec, certify, flatten, solve_critical, unflatten
from kgon.critical.variants import grow_polygon, structured_variants
from kgon.naming import polygon_info
from kgon.symmetry import canonical_pose

__all__ = ["LEVEL_TOL", "choose_representatives", "distinct_members", "split_levels"]

LEVEL_TOL = 1e-9
"""Critical values closer than this are one level (one catalogue point)."""


def split_levels(L: np.ndarray) -> list[np.ndarray]:
    """Indices of ``L`` grouped into levels: sorted by value, a new level where the gap to the previous
    value exceeds ``LEVEL_TOL``. ``L`` must not be empty."""
    order = np.argsort(L, kind="stable")
    groups, cur = [], [order[0]]
    for i in order[1:]:
        if L[i] - L[cur[-1]] <= LEVEL_TOL:
            cur.append(i)
        else:
            groups.append(np.array(cur))
            cur = [i]
    groups.append(np.array(cur))
    return groups


def _sqnorm(x: np.ndarray) -> float:
    return float(np.sum(x * x))


def _gram_key(x: np.ndarray, r: int, c: int) -> tuple:
    W, b = unflatten(x, r, c)
    G = W.T @ W
    return tuple(sorted(np.round(np.concatenate([G.ravel(), b]), 6).tolist()))


def _pose_key(x: np.ndarray, model: ModelSpec) -> tuple:
    """The canonical pose (:func:`kgon.symmetry.canonical_pose`) rounded to 1e-6, as a tuple: equal
    for points in one O(r) x S_c orbit, and it tells apart e.g. the adjacent and opposite 4-- ."""
    W, b = canonical_pose(*unflatten(x, model.r, model.c), importance=model.importance)
    return tuple((np.round(flatten(W, b), 6) + 0.0).tolist())


def choose_representatives(
    X: np.ndarray, L: np.ndarray, model: ModelSpec, max_members: int = 40
) -> list[tuple[np.ndarray, float]]:
    """One (x, loss) per level of the certified points (X, L) (module docstring, steps 1-2)."""
    r, c = model.r, model.c
    groups = split_levels(L)
    # candidate variants of the members of every level, polished in one batch
    cands, cand_level = [], []
    for g_idx, grp in enumerate(groups):
        # members with distinct column-norm / bias patterns first (up to max_members)
        ordered = grp[np.argsort([_sqnorm(X[i]) for i in grp], kind="stable")]
        members, patterns = [], set()
        for i in ordered:
            W, b = unflatten(X[i], r, c)
            pat = (tuple(np.round(np.sort(np.linalg.norm(W, axis=0)), 2)), tuple(np.round(np.sort(b), 2)))
            if pat not in patterns:
                patterns.add(pat)
                members.append(i)
        members = members[:max_members]
        seen = set()
        for i in members:
            W, b = unflatten(X[i], r, c)
            for Wv, bv in structured_variants(W, b):
                key = _gram_key(flatten(Wv, bv), r, c)
                if key in seen:
                    continue
                seen.add(key)
                cands.append(flatten(Wv, bv))
                cand_level.append(g_idx)
    # pool entries: (x, exact) - exact = a constructed variant certified without polishing
    pool: dict[int, list[tuple[np.ndarray, bool]]] = {g: [(X[i], False) for i in grp] for g, grp in enumerate(groups)}
    if cands:
        C0 = np.array(cands)
        L0, _, ok0 = certify(C0, model)
        S = C0.copy()
        SL = L0.copy()
        ok = ok0.copy()
        if np.any(~ok0):
            P = solve_critical(C0[~ok0], model, iters=30)
            P, PL, _, okp = certified_clean(P, model)
            S[~ok0], SL[~ok0], ok[~ok0] = P, PL, okp
        for s_idx in np.nonzero(ok)[0]:
            g_idx = cand_level[s_idx]
            if abs(SL[s_idx] - L[groups[g_idx][0]]) <= LEVEL_TOL:
                pool[g_idx].append((S[s_idx], bool(ok0[s_idx])))
    # grow: the regular candidates of each level with free dead columns turned into output-off
    # vertices of a larger polygon (4++- and 3++ lie on one level; the paper names it 4++-)
    grow, grow_level = [], []
    for g_idx in range(len(groups)):
        regs, keys = [], set()
        for x, exact in pool[g_idx]:
            if exact and polygon_info(*unflatten(x, r, c)).regular:
                key = _gram_key(x, r, c)
                if key not in keys:
                    keys.add(key)
                    regs.append(x)
        for x in regs[:12]:
            for Wv, bv in grow_polygon(*unflatten(x, r, c)):
                grow.append(flatten(Wv, bv))
                grow_level.append(g_idx)
    if grow:
        G0 = np.array(grow)
        LG, _, okG = certify(G0, model)
        for j in np.nonzero(okG)[0]:
            g_idx = grow_level[j]
            if abs(LG[j] - L[groups[g_idx][0]]) <= LEVEL_TOL:
                pool[g_idx].append((G0[j], True))
    reps = []
    for g_idx, grp in enumerate(groups):
        best, best_key = None, None
        for x, exact in pool[g_idx]:
            info = polygon_info(*unflatten(x, r, c))
            key = (
                -(info.k or 0) if info.regular else (-info.n_live if info.polytope else 1),
                not exact,
                round(_sqnorm(x), 6),
                round(float(np.sum(np.abs(x - np.round(x, 7)))), 10),  # prefer clean values (l = 1, b = 0)
                _pose_key(x, model),
            )
            if best_key is None or key < best_key:
                best, best_key = x, key
        reps.append((best, float(L[grp].min())))
    return _finalize(reps, model)


def _finalize(reps: list[tuple[np.ndarray, float]], model: ModelSpec) -> list[tuple[np.ndarray, float]]:
    """Put each representative in canonical pose (:func:`kgon.symmetry.canonical_pose`) with biases
    below 1e-10 set to zero, keeping each step only if the point stays certified on its level."""
    if not reps:
        return reps
    r, c = model.r, model.c
    posed, zeroed = [], []
    for x, _ in reps:
        W, b = canonical_pose(*unflatten(x, r, c), importance=model.importance)
        posed.append(flatten(W, b))
        b0 = b.copy()
        b0[np.abs(b0) < 1e-10] = 0.0
        zeroed.append(flatten(W, b0))
    out = []
    Lp, _, okp = certify(np.array(posed), model)
    Lz, _, okz = certify(np.array(zeroed), model)
    for i, (x, lo) in enumerate(reps):
        if okz[i] and abs(Lz[i] - lo) <= LEVEL_TOL:
            out.append((zeroed[i], lo))
        elif okp[i] and abs(Lp[i] - lo) <= LEVEL_TOL:
            out.append((posed[i], lo))
        else:
            out.append((x, lo))
    return out


def distinct_members(X: np.ndarray, grp: np.ndarray, r: int, c: int, n: int) -> list[np.ndarray]:
    """Up to ``n`` members of a level (in the level's order, the first always) whose Gram matrices
    and biases differ (:func:`_gram_key`, sorted entries rounded to 1e-6): distinct modulo O(r) x S_c."""
    out, keys = [], set()
    for i in grp:
        key = _gram_key(X[i], r, c)
        if key not in keys:
            keys.add(key)
            out.append(X[i])
            if len(out) == n:
                break
    return out
