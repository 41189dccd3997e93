"""The critical-point search as a whole: starts, refinement, exploration, levels, measurement (docs/zoo.md).

:func:`find_critical_points` (or :func:`run_search` with a :class:`kgon.critical.catalogue.SearchConfig`)
runs the search of :mod:`kgon.critical.search` and turns the certified endpoints into a
:class:`kgon.critical.catalogue.Catalogue`. Besides the random, polygon and gradient-descent starts,
the exact regular k^{sigma+}-gons of :func:`kgon.kgon` for k = c-2..c are added as starts (a few
seconds), so that the largest polygon families are always present. The steps, each in its module:

0. exploration around the certified endpoints (:mod:`kgon.critical.explore`, :func:`kgon.critical.explore.explore`);
1. levels: certified points grouped by critical value (:mod:`kgon.critical.levels`);
2. one representative per level, in canonical pose (:func:`kgon.critical.levels.choose_representatives`,
   with the structural variants of :mod:`kgon.critical.variants`);
2b. closure of the representatives under the sigma+/sigma- lattice moves
   (:func:`kgon.critical.explore.lattice_closure`);
3. geometry and LLC, 4. the constant c_alpha, 5. the multiplicity, 6. which points are kept
   (:mod:`kgon.critical.measure`).

Newton endpoints are refined, cleaned and certified by :func:`kgon.critical.refine.refine_critical`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from kgon.config import require_x64
from kgon.critical.catalogue import Catalogue, SearchConfig
from kgon.critical.explore import explore, lattice_closure
from kgon.critical.levels import LEVEL_TOL, choose_representatives
from kgon.critical.measure import measure
from kgon.critical.refine import refine_critical
from kgon.critical.search import GRAD_TOL, ModelSpec, flatten, gradient_descent, make_starts
from kgon.memorization import memorization_polygon
from kgon.polygons import kgon as exact_kgon

__all__ = ["default_n_starts", "exact_polygon_starts", "find_critical_points", "run_search"]


def default_n_starts(c: int, r: int) -> int:
    """The number of starting points of a search whose ``n_starts`` is None: 200 c."""
    return 200 * c


def exact_polygon_starts(r: int, c: int, *, input_dist: str = "uniform") -> np.ndarray:
    """Flattened exact k^{sigma+}-gons (``kgon.kgon``) for k = c-2..c, every sigma+, sigma- = 0.

    With ``input_dist="point"`` the zero-loss polygons of :func:`kgon.memorization.memorization_polygon`
    instead (k = c-2..c, k >= 3, every sigma+; the resultant solver of ``kgon.kgon`` is built for
    uniform inputs)."""
    rows = []
    if ModelSpec(c=c, r=r, input_dist=input_dist).point:
        for k in range(max(3, c - 2), c + 1) if r >= 2 else ():
            for sp in range(c - k + 1):
                rows.append(flatten(*memorization_polygon(k, c, r=r, sigma_plus=sp)))
        return np.array(rows).reshape(len(rows), r * c + c)
    for k in range(max(2, c - 2), c + 1):
        for sp in range(c - k + 1):
            for sol in exact_kgon(k, c, sigma_plus=sp, r=r).solutions:
                rows.append(np.asarray(flatten(np.asarray(sol.W, float), np.asarray(sol.b, float))))
    return np.array(rows).reshape(len(rows), r * c + c)


def find_critical_points(
    c: int,
    *,
    r: int = 2,
    n_starts: int | None = None,
    seed: int = 0,
    max_loss: float | None = None,
    max_index: int | None = 0,
    explore_rounds: int = 3,
    numerical_llc: bool = True,
    importance=None,
    input_dist: str = "uniform",
) -> Catalogue:
    """Find, certify, deduplicate, name and measure the critical points of the TMS potential.

    Parameters
    ----------
    c : int
        Number of features (>= 2).
    r : int, keyword-only
        Hidden dimension (>= 1).
    n_starts : int, keyword-only
        Number of starting points (default 200 c); a third random, a third perturbed regular
        polygons, a third gradient-descent endpoints (:mod:`kgon.critical.search`).
    seed : int, keyword-only
        Seed of the starting points (numpy ``default_rng``). The numerical LLC uses a key derived
        from (c, r) only, so equal representatives get equal estimates under any seed.
    max_loss : float, keyword-only
        Keep only points with loss <= max_loss (None: all).
    max_index : int or None, keyword-only
        Keep irregular points only if their Hessian index (number of negative eigenvalues) is at most
        this (default 0: minima); regular polygons (minima or saddles) are always kept. None keeps
        every certified point (:mod:`kgon.critical.measure`, step 6).
    explore_rounds : int, keyword-only
        Rounds of local exploration around the found points (:mod:`kgon.critical.explore`, step 0; default 3).
    numerical_llc : bool, keyword-only
        Run the numerical LLC (:func:`kgon.llc.llc_numerical`) for every point (default True).
    importance : sequence of c floats > 0, keyword-only
        Feature importance I_j of the potential (:func:`kgon.potential`); None (default) or all ones:
        the uniform model, with results identical to a call without it. Only permutations among
        features of equal importance are symmetries (:mod:`kgon.symmetry`); the importance enters
        the names of irregular points and the seed of the numerical LLC.
    input_dist : {"uniform", "point"}, keyword-only
        ``"uniform"`` (default): mu ~ Uniform[0, 1]. ``"point"``: every input at mu = 1, the memorization
        setting with c = T training examples (:func:`kgon.potential`; docs/failure.md, Memorization).

    Returns
    -------
    Catalogue
        Points sorted by loss; ``n_converged`` says how many of the ``n_starts`` starts were certified.

    Raises
    ------
    ValueError
        On invalid arguments, or if no start converged to a certified critical point.

    Notes
    -----
    Method in the docstrings of :mod:`kgon.critical.search` and of this module's steps. References:
    Chen et al. (2023), "Dynamical versus Bayesian phase transitions in a toy model of superposition",
    §4; docs/zoo.md.
    """
    require_x64("kgon.find_critical_points")
    config = SearchConfig(c=c, r=r, n_starts=n_starts, seed=seed, max_loss=max_loss, max_index=max_index,
                          explore_rounds=explore_rounds, numerical_llc=numerical_llc, importance=importance,
                          input_dist=input_dist)
    return run_search(config)


def run_search(config: SearchConfig) -> Catalogue:
    """The catalogue of the search with settings ``config`` (:func:`find_critical_points`, which builds
    the config from its arguments, describes them). The catalogue holds ``config`` with ``n_starts``
    filled in (:func:`default_n_starts` when None) and ``max_loss`` as a float.
    """
    require_x64("kgon.critical.driver.run_search")
    if not isinstance(config, SearchConfig):
        raise ValueError(f"`config` must be a kgon.SearchConfig; got {type(config).__name__}.")
    if config.n_starts is None:
        config = dataclasses.replace(config, n_starts=default_n_starts(config.c, config.r))
    if config.max_loss is not None:
        config = dataclasses.replace(config, max_loss=float(config.max_loss))
    model, max_loss = config.model, config.max_loss
    rng = np.random.default_rng(config.seed)
    X, L, n_conv, exact = _certified_starts(config, rng)
    if max_loss is not None:
        keep = L <= max_loss + LEVEL_TOL
        X, L = X[keep], L[keep]
    n_explore = 0
    if X.shape[0] and config.explore_rounds:
        X, L, n_explore = explore(X, L, model, rng, rounds=config.explore_rounds, per_level=4)
        if max_loss is not None:
            keep = L <= max_loss + LEVEL_TOL
            X, L = X[keep], L[keep]
    reps = choose_representatives(X, L, model) if X.shape[0] else []
    reps, n_lattice = lattice_closure(reps, model, max_loss=max_loss)
    if max_loss is not None:
        reps = [(x, lo) for x, lo in reps if lo <= max_loss]
    points = measure(reps, model, numerical_llc=config.numerical_llc, max_index=config.max_index)
    stats = {"grad_tol": GRAD_TOL, "level_tol": LEVEL_TOL, "n_explore": n_explore, "n_lattice": n_lattice,
             "exact_starts": exact[0], "exact_converged": exact[1]}
    return Catalogue(config.c, config.r, tuple(points), config.seed, config.n_starts, n_conv, max_loss,
                     config=config, stats=stats)


def _certified_starts(config: SearchConfig, rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray, int, tuple[int, int]]:
    """The certified endpoints (X, L) of the starts, the number of the ``config.n_starts`` requested
    starts certified, and (number, number certified) of the exact polygon starts.

    Raises ``ValueError`` if no start converged to a certified critical point.
    """
    model, n_starts = config.model, config.n_starts
    X0, kind = make_starts(rng, n_starts, model)
    gd = kind == 2
    if np.any(gd):
        X0[gd] = gradient_descent(X0[gd], model)
    # the exact regular k-gons of the largest families (resultant solver), so that polygons whose
    # (length, bias) lie outside the random polygon starts' ranges are never missed (the 10-gon at
    # c = 10 has l = -b = golden ratio)
    exact = exact_polygon_starts(model.r, model.c, input_dist=model.input_dist)
    X0 = np.concatenate([X0, exact])
    X, L, ok = refine_critical(X0, model)
    # n_converged counts the same set as n_starts (the requested starts); the exact polygon starts
    # are counted separately in the stats
    n_conv = int(ok[:n_starts].sum())
    n_exact_conv = int(ok[n_starts:].sum())
    if n_conv + n_exact_conv == 0:
        raise ValueError(
            f"no start converged to a certified critical point (|grad L| <= {GRAD_TOL:g}) at {model.key()} "
            f"with n_starts = {n_starts}; increase `n_starts`."
        )
    return X[ok], L[ok], n_conv, (int(exact.shape[0]), n_exact_conv)
