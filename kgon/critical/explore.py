"""Exploration around the certified points and closure of the representatives under the lattice moves.

0. **Exploration** (:func:`explore`). The certified endpoints are closed under local exploration:
   every level found is perturbed (four points per level, noise scales 0.03 / 0.1 / 0.3; single
   dead-bias sign flips and output switches, i.e. the neighbours in the sigma+/sigma- lattice,
   :func:`kgon.critical.variants.bias_flips`; column moves, i.e. a live column killed, split with a
   dead one into parallel copies, or a dead one grown along a live one,
   :func:`kgon.critical.variants.column_moves`; steps along its two lowest non-zero Hessian
   eigenvectors) and re-solved, for up to ``rounds`` rounds or until a round finds no new critical
   value; then one pass of steps along the most unstable mode at up to two further members of every
   saddle level (a flat saddle level's unstable mode leads to different minima from different
   members). Saddles near the low-loss families have small basins of attraction for the Newton
   iteration; the exploration finds them from their neighbours, which makes the catalogue (nearly)
   independent of the seed.
2b. **Lattice closure** (:func:`lattice_closure`). The representatives are closed under the exact
   sigma+/sigma- lattice moves (one dead bias sign flipped, one firing column switched off, one
   output-off column switched on, certified without a Newton step): a flip on a new level adds it,
   a regular flip on a level whose representative is irregular replaces that representative. The
   exploration flips only one member of each level, which may lie elsewhere on a flat critical set;
   without the closure the zero-bias 4-gon family (every sigma+ and sigma-) would be complete or not
   depending on rounding in the Newton iteration.

The step numbers are those of the whole search (:mod:`kgon.critical.driver`); docs/zoo.md.
"""

from __future__ import annotations

import numpy as np

from kgon.critical.levels import LEVEL_TOL, choose_representatives, distinct_members, split_levels
from kgon.critical.refine import clean, refine_critical
from kgon.critical.search import ModelSpec, certify, hessians, unflatten
from kgon.critical.variants import bias_flips, column_moves
from kgon.naming import polygon_info

__all__ = ["explore", "lattice_closure"]

MODE_STEPS = (0.1, -0.1, 0.3, -0.3)
"""Step lengths along a Hessian eigenvector (mode following) in :func:`explore`."""


def explore(X: np.ndarray, L: np.ndarray, model: ModelSpec, rng: np.random.Generator, *, rounds: int,
            per_level: int, n_modes: int = 2, mode_members: int = 3) -> tuple[np.ndarray, np.ndarray, int]:
    """Closure of the found set under local exploration (module docstring, step 0).

    Each round perturbs ``per_level`` points of every level not explored before (scales 0.03, 0.1,
    0.3 in turn; noise from ``rng``), flips single biases (:func:`kgon.critical.variants.bias_flips`:
    the neighbouring sigma+/sigma- family members), moves columns
    (:func:`kgon.critical.variants.column_moves`) and steps of +-0.1, +-0.3 (``MODE_STEPS``) along the
    ``n_modes`` lowest non-zero Hessian eigenvectors (the unstable and softest directions: mode
    following), solves grad L = 0 from them and adds the certified endpoints; it stops early when a
    round finds no new level. After the rounds, one pass
    of the same steps along the most unstable direction at up to ``mode_members`` - 1 further
    members of every saddle level that differ modulo symmetry (:func:`_unstable_modes_of_members`).
    Returns the enlarged (X, L) and the number of exploration starts used.
    """
    r, c = model.r, model.c
    used = 0
    explored: list[float] = []
    for _ in range(rounds):
        groups = split_levels(L)
        starts = []
        fresh = []
        for grp in groups:
            if any(abs(L[grp[0]] - v) <= LEVEL_TOL for v in explored):
                continue
            explored.append(float(L[grp[0]]))
            fresh.append(grp)
            for q in range(per_level):
                x = X[grp[q % len(grp)]]
                scale = (0.03, 0.1, 0.3)[q % 3]
                starts.append(x + scale * rng.normal(size=x.shape))
        # bias flips: each dead column's bias sign, each live column's output switched off / on;
        # column moves: a live column killed, split into a dead one, or a dead one grown along it
        for g in fresh:
            starts.extend(bias_flips(X[g[0]], r, c))
            starts.extend(column_moves(X[g[0]], r, c))
        # mode following: +- the softest / most negative Hessian eigenvectors (zero modes skipped)
        if fresh and n_modes:
            Hs = hessians(np.array([X[g[0]] for g in fresh]), model)
            for g, H in zip(fresh, Hs):
                lam, vec = np.linalg.eigh(0.5 * (H + H.T))
                tol = 1e-8 * max(1.0, float(np.max(np.abs(lam))))
                modes = [j for j in np.argsort(lam) if abs(lam[j]) > tol][:n_modes]
                for j in modes:
                    for step in MODE_STEPS:
                        starts.append(X[g[0]] + step * vec[:, j])
        if not starts:
            break
        S, SL, ok = refine_critical(np.array(starts), model)
        used += len(starts)
        S, SL = S[ok], SL[ok]
        levels = np.array([L[g[0]] for g in groups])
        new = np.array([np.min(np.abs(levels - v)) > LEVEL_TOL for v in SL], dtype=bool)
        X = np.concatenate([X, S])
        L = np.concatenate([L, SL])
        if not np.any(new):
            break
    if mode_members > 1 and n_modes:
        X, L, n = _unstable_modes_of_members(X, L, model, mode_members)
        used += n
    return X, L, used


def _unstable_modes_of_members(X: np.ndarray, L: np.ndarray, model: ModelSpec, mode_members: int
                               ) -> tuple[np.ndarray, np.ndarray, int]:
    """Steps along the most unstable mode at up to ``mode_members`` - 1 further members of each level
    (:func:`kgon.critical.levels.distinct_members`), re-solved; returns the enlarged (X, L) and the
    number of starts.

    A level is often a flat continuum (output-off columns that turn freely, ...), and its unstable
    mode leads to different minima from different members: the minimum irregular-be2d8e69 at c = 9
    lies along the unstable mode of one member of the saddle level 0.1506903, not of the member the
    exploration rounds step from. It is one pass after the rounds, so the rounds do not depend on it.
    """
    r, c = model.r, model.c
    bases = [x for g in split_levels(L) for x in distinct_members(X, g, r, c, mode_members)[1:]]
    starts = []
    if bases:
        for x, H in zip(bases, hessians(np.array(bases), model)):
            lam, vec = np.linalg.eigh(0.5 * (H + H.T))
            tol = 1e-8 * max(1.0, float(np.max(np.abs(lam))))
            for j in np.nonzero(lam < -tol)[0][:1]:
                for step in MODE_STEPS:
                    starts.append(x + step * vec[:, j])
    if not starts:
        return X, L, 0
    S, SL, ok = refine_critical(np.array(starts), model)
    return np.concatenate([X, S[ok]]), np.concatenate([L, SL[ok]]), len(starts)


def lattice_closure(reps: list[tuple[np.ndarray, float]], model: ModelSpec, *, max_loss: float | None,
                    rounds: int = 8) -> tuple[list[tuple[np.ndarray, float]], int]:
    """Close the representatives under the sigma+/sigma- lattice (module docstring, step 2b).

    Every representative (a clean, canonically posed point: for the regular families the exact
    polygon) is changed by :func:`kgon.critical.variants.bias_flips` (one dead bias sign flipped, one firing column
    switched off, one output-off column switched on) and certified as it is (no Newton iteration:
    the exploration already re-solves flips; here only the exact neighbours count, such as every
    member of the zero-bias 4-gon family). A certified point on a level not yet present, or
    a regular polygon on a level whose representative is not regular, makes that level's
    representative be chosen again (:func:`kgon.critical.levels.choose_representatives` on the level's representative
    and the new points); the changed representatives are flipped in the next round, until a round
    changes nothing. (The exploration flips one member of each level, which may lie elsewhere on a
    flat critical set, where a flip is not a neighbour in the lattice; and a level reached only at
    such members may otherwise get an irregular representative.) Returns the loss-sorted
    representatives and the number of flipped starts.
    """
    r, c = model.r, model.c
    out = list(reps)
    regular = [polygon_info(*unflatten(x, r, c)).regular for x, _ in out]
    todo = list(range(len(out)))
    used = 0
    for _ in range(rounds):
        starts = [y for i in todo for y in bias_flips(out[i][0], r, c)]
        if not starts:
            break
        S = clean(np.array(starts), r, c)
        SL, _, ok = certify(S, model)
        used += len(starts)
        S, SL = S[ok], SL[ok]
        if max_loss is not None:
            keep = SL <= max_loss + LEVEL_TOL
            S, SL = S[keep], SL[keep]
        levels = np.array([lo for _, lo in out])
        pick = []
        for s_idx, v in enumerate(SL):
            j = int(np.argmin(np.abs(levels - v)))
            if abs(levels[j] - v) > LEVEL_TOL:
                pick.append(s_idx)
            elif not regular[j] and polygon_info(*unflatten(S[s_idx], r, c)).regular:
                pick.append(s_idx)
        if not pick:
            break
        pick = np.array(pick)
        touched = sorted({int(np.argmin(np.abs(levels - v))) for v in SL[pick]
                          if np.min(np.abs(levels - v)) <= LEVEL_TOL})
        Xs = np.concatenate([np.array([out[j][0] for j in touched]).reshape(len(touched), S.shape[1]), S[pick]])
        Ls = np.concatenate([np.array([out[j][1] for j in touched]), SL[pick]])
        todo = []
        for x, lo in choose_representatives(Xs, Ls, model):
            j = int(np.argmin(np.abs(levels - lo)))
            is_reg = polygon_info(*unflatten(x, r, c)).regular
            if abs(levels[j] - lo) <= LEVEL_TOL:
                if is_reg and not regular[j]:
                    out[j], regular[j] = (x, lo), True
                    todo.append(j)
            else:
                out.append((x, lo))
                regular.append(is_reg)
                todo.append(len(out) - 1)
        if not todo:
            break
    out.sort(key=lambda t: t[1])
    return out, used
