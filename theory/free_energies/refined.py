"""Refined local free energy of a phase: every O(1) term the leading order drops (docs/free_energy.md).

For a phase alpha (a neighbourhood U_alpha of the critical point w*_alpha, with all its symmetric
copies) at inverse temperature beta, sample size n and prior phi = N(0, I_d) (docs/index.md):

    F_n(alpha) = -log  int_{U_alpha} phi(w) exp(-beta n L_n(w)) dw
               = beta n L_n(w_hat) + lambda log n - (m - 1) log log n + C_n(alpha) + o(1),

where w_hat is the phase's minimiser of beta n L_n(w) + |w|^2 / 2 on the data set (or on the
population loss L when no data set is given). For a phase whose parameters split into *live*
coordinates, in which the loss is C^2, and *dead columns* (W_j = 0, b_j <= 0) that leave the loss
exactly constant in a region R, Laplace's method over the live coordinates (orbit direction
excluded), the length of the SO(2) orbit and the prior mass of R give exactly (m = 1)

    C_n(alpha) = [1/2 log det'(H / 2 pi) - lambda log n]          laplace
               + [|w_hat_live|^2 / 2 + (d_live / 2) log 2 pi]       prior   (-log phi_live(w_hat))
               - log(2 pi ||W_hat||_F)                              orbit   (length of the SO(2) orbit)
               - log(2 M)                                           copies  (M = catalogue multiplicity,
                                                                             2 = the two components of O(2))
               - log P_phi(R)                                       flat    (prior mass of the flat region)

with H = beta n Hess L_n(w_hat) + I restricted to the live coordinates orthogonal to the orbit
tangent (d' = d_live - 1 directions, lambda = d' / 2) and det' its determinant. The terms sum to
F_n exactly up to the error of Laplace's method (O(1/n) for a C^3 live part); a user sees where the
nats come from. Points where the loss is not C^2 in the live coordinates (the kinked 4-gons) have no
Laplace term: :func:`refined_terms` integrates them numerically over their classifier cell
(:func:`theory.free_energies.nongaussian.kinked_terms`) when given the catalogue, and refuses them
otherwise.

This module orchestrates the terms; each lives in its own module: :mod:`~theory.free_energies.laplace`,
:mod:`~theory.free_energies.copies`, :mod:`~theory.free_energies.dead_columns` (flat and
boundary terms), :mod:`~theory.free_energies.nongaussian`.

References: Watanabe (2009), *Algebraic Geometry and Statistical Learning Theory*, ch. 6 (the
asymptotic form and the multiplicity m); Chen et al. (2023), §5; docs/free_energy.md (derivation of
every term, the orbit volume form and the known-truth tests).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from kgon.evaluators import potential as population_loss
from kgon.symmetry import dead_columns, orbit_copies
from sampling.fast_potential import empirical_potential
from theory.free_energies.copies import copies_term, copy_candidates, copy_expansions
from theory.free_energies.dead_columns import batch_loss, boundary_term, cached_flat_region_mass
from theory.free_energies.laplace import (
    flat_index,
    laplace_terms,
    live_objective,
    orbit_tangent,
    set_coordinates,
)
from theory.free_energies.nongaussian import importance_correction, kinked_terms
from theory.free_energies.terms import LOG_2PI, FreeEnergyTerms, check_nongaussian_draws

__all__ = [
    "LiveLaplace",
    "check_refined_point",
    "dead_column_terms",
    "integrator_defaults",
    "live_laplace",
    "nongaussian_term",
    "point_loss",
    "refined_terms",
    "resolve_potential",
]


def check_refined_point(point, n, beta, nongaussian_draws, catalogue) -> str:
    """Validate the arguments of :func:`refined_terms`; returns the point's label."""
    if not (isinstance(n, (int, float, np.integer, np.floating)) and math.isfinite(n) and n > 0):
        raise ValueError(f"`n` must be a positive finite sample size; got {n!r}.")
    if not (isinstance(beta, (int, float)) and math.isfinite(beta) and beta > 0):
        raise ValueError(f"`beta` must be a positive finite inverse temperature; got {beta!r}.")
    check_nongaussian_draws(nongaussian_draws)
    label = str(getattr(point, "label", None) or getattr(point, "name"))
    sig = tuple(getattr(point, "hessian_signature", (0, 0, 0)))
    if sig[0] > 0:
        raise ValueError(f"`point` {label!r} is a saddle (Hessian signature {sig}); saddles are not phases.")
    if not getattr(point, "smooth", True) and (catalogue is None or nongaussian_draws == 0):
        raise ValueError(
            f"`point` {label!r} is not C^2 (a kinked point): its refined free energy is the numerical local "
            "integral over its classifier cell; pass `catalogue` (and `threshold`) and nongaussian_draws != 0."
        )
    r = np.asarray(point.W).shape[0]
    if r != 2:
        raise ValueError(f"`point` must have r = 2 hidden dimensions (the SO(2) orbit); got r = {r}.")
    return label


def resolve_potential(n, data, potential):
    """The empirical potential of ``data`` (or ``potential`` itself), None for the population loss;
    raises ValueError if ``n`` differs from the data set size."""
    if data is None and potential is None:
        return None
    if potential is None:
        potential = empirical_potential(data)
    if int(potential.n) != int(round(n)):
        raise ValueError(f"`n` must equal the data set size {int(potential.n)}; got {n!r}.")
    return potential


def dead_column_terms(W0, b0, dead, *, potential, bn: float, flat_draws: int, seed: int, finite_n: bool,
                      label: str) -> tuple[float, float, float, float]:
    """(flat, flat_err, numerical, numerical_err): -log P(R) (:func:`~theory.free_energies.dead_columns.
    flat_region_mass`, ``seed``) and the finite-n boundary term (:func:`~theory.free_energies.
    dead_columns.boundary_term`, ``seed`` + 1; 0 without dead columns or without ``finite_n``)."""
    flat_mass, flat_se = cached_flat_region_mass(W0, b0, dead, draws=flat_draws, seed=seed)
    if flat_mass <= 0:
        raise ValueError(f"the flat region of {label!r} has no prior mass in {flat_draws} draws; raise `flat_draws`.")
    flat = -math.log(flat_mass)
    flat_err = flat_se / flat_mass
    numerical = numerical_err = 0.0
    if dead and finite_n:
        kind = "population" if potential is None else "data"
        numerical, numerical_err = boundary_term(
            W0, b0, dead, batch_loss(kind, potential), bn=bn, flat=flat, flat_rel_err=flat_se / flat_mass,
            draws=flat_draws, seed=seed + 1, population=potential is None)
    return flat, flat_err, numerical, numerical_err


class LiveLaplace(NamedTuple):
    """Laplace's method over the live coordinates of a phase (:func:`live_laplace`).

    ``loss`` L_n(w_hat) (of the quadratic model at the Newton point if the minimiser left the phase),
    ``half_logdet`` 1/2 log det'(H / 2 pi), ``llc`` lambda = d' / 2, ``prior`` -log phi_live(w_hat),
    ``orbit`` -log(2 pi ||W_hat||_F) (0 if the orbit is a point)."""

    loss: float
    half_logdet: float
    llc: float
    prior: float
    orbit: float


def live_laplace(W0, b0, live, *, potential, bn: float, max_shift: float) -> LiveLaplace:
    """Minimise beta n L + |w_live|^2 / 2 over the live coordinates from the point and take the
    Laplace terms there (:func:`~theory.free_energies.laplace.laplace_terms`, orbit excluded)."""
    r, c = W0.shape
    kind = "population" if potential is None else "data"
    z0 = np.concatenate([W0.ravel(), b0])
    idx = flat_index(r, c, live)
    fg, hess, lossf = live_objective(r, c, tuple(idx.tolist()), kind)
    zj = jnp.asarray(z0)
    lap = laplace_terms(
        lambda x: tuple(np.asarray(v, dtype=float) for v in fg(jnp.asarray(x), zj, potential, bn)),
        lambda x: np.asarray(hess(jnp.asarray(x), zj, potential, bn)),
        z0[idx],
        tangent=lambda x: orbit_tangent(set_coordinates(z0, idx, x), r, c, idx),
        max_shift=max_shift,
    )
    x = lap.x
    What = set_coordinates(z0, idx, x)[: r * c].reshape(r, c)
    orbit = -math.log(2.0 * math.pi * float(np.linalg.norm(What))) if lap.orbit_excluded else 0.0
    prior = 0.5 * float(x @ x) + 0.5 * len(idx) * LOG_2PI
    if lap.newton_fallback:  # energy of the quadratic model at the Newton point
        L = (lap.value - 0.5 * float(x @ x)) / bn
    else:
        L = float(lossf(jnp.asarray(x), zj, potential))
    return LiveLaplace(L, lap.half_logdet, lap.dim / 2.0, prior, orbit)


def point_loss(W0, b0, potential) -> float:
    """L_n(W0, b0) on the data set of ``potential``, or the population loss L when it is None."""
    if potential is None:
        return float(population_loss(W0, b0))
    return float(potential.value(jnp.asarray(W0), jnp.asarray(b0)))


def integrator_defaults(on_data: bool, draws, anneal, dead_joint) -> tuple[int, int, bool]:
    """The non-Gaussian integrator's settings with the defaults of :func:`refined_terms` filled in:
    ``(draws, anneal, dead_joint)``."""
    if anneal is None:
        anneal = 100 if on_data else 0
    if dead_joint is None:  # jointly only under annealing (plain joint importance weights are heavy-tailed)
        dead_joint = on_data and draws != 0 and anneal > 0
    if draws is None:
        draws = (4000 if anneal else 20_000) if on_data else 0
    return draws, anneal, bool(dead_joint)


def nongaussian_term(expansions, W0, b0, *, potential, bn: float, label: str, catalogue, threshold, draws: int,
                     anneal: int, joint: bool, seed: int, n_orbits: int, dims: int,
                     laplace_value: float) -> tuple[float, float]:
    """F(exact) - ``laplace_value`` and its standard error, with F(exact) = -log Z - log(n_orbits) +
    (dims / 2) log 2 pi the free energy of the exact integral Z over every copy
    (:func:`~theory.free_energies.nongaussian.importance_correction`, the nearest-copy partition
    for c <= 8) and ``laplace_value`` the sum of the terms it replaces."""
    r, c = W0.shape
    partition = (*copy_candidates(W0, b0), np.arange(len(expansions))) if c <= 8 else None
    corr, err, info = importance_correction(
        expansions, (r, c), bn=bn, potential=potential, catalogue=catalogue, label=label, threshold=threshold,
        draws=int(draws), seed=seed, dead_joint=joint, anneal=int(anneal), partition=partition)
    F = -(corr + info["log_Z_laplace"]) - math.log(n_orbits) + 0.5 * dims * LOG_2PI
    return F - laplace_value, err


def refined_terms(point, n: float, *, beta: float = 1.0, data=None, potential=None, flat_draws: int = 50_000,
                  seed: int = 0, finite_n: bool = True, max_shift: float = 0.3, nongaussian_draws: int | None = None,
                  catalogue=None, threshold: float | None = None, nongaussian_anneal: int | None = None,
                  dead_joint: bool | None = None) -> FreeEnergyTerms:
    """Refined local free energy of the phase of a catalogue point, term by term (module docstring).

    Parameters
    ----------
    point : kgon.CriticalPoint
        A local minimum or flat phase (``hessian_signature[0] == 0``) that is C^2 in its live
        coordinates (``point.smooth``); its ``multiplicity`` counts the O(2) orbits.
    n : float
        Sample size (> 0).
    beta : float
        Inverse temperature (> 0); 1 is the convention of docs/index.md, 1/2 a unit-noise Gaussian.
    data : sampling.Dataset, optional
        Data-conditional free energy: the energy and the Hessian are those of L_n on this data set
        (``n`` must equal its size). Default: the population loss L.
    potential : sampling.EmpiricalPotential, optional
        A precomputed ``sampling.empirical_potential(data)`` (saves the O(n log n) set-up).
    flat_draws, seed : int
        Monte Carlo draws and seed of :func:`flat_region_mass` and :func:`dead_column_integral`.
    finite_n : bool
        Include the finite-n dead-column term (``numerical`` = -log I_n + log P(R), the prior mass
        just outside the flat region where the loss grows only like the cube of the distance; it
        decays like n^(-1/3)). False: the asymptotic constant only.
    max_shift : float
        If the minimiser of beta n L_n + |w|^2/2 moves further than this from the catalogue point
        (it left the phase), the second-order expansion at the point is used
        (:func:`laplace_terms`).
    nongaussian_draws : int, optional
        Importance draws of :func:`nongaussian_correction` (the exact live integral over its
        Laplace approximation, over every copy on a data set; particles under annealing); 0 leaves
        the term out (Laplace only). Default on a data set: 4,000 particles (annealed, at least 200
        per sampled copy; 20,000 draws if ``nongaussian_anneal=0``); 0 for the population loss (below
        n ~ 150 the Gaussian proposal fails there: the population-level order stays Laplace's,
        docs/free_energy.md). A kinked point (numerical term) defaults to 4,000 particles.
    catalogue, threshold : optional
        With a catalogue, the importance draws count only inside the phase's cell as
        :func:`kgon.classify` (``threshold``) draws it, i.e. the phase as a sampler counts it.
    nongaussian_anneal : int, optional
        0: plain importance sampling from the Student-t proposal. K > 0: annealed sequential Monte
        Carlo from the proposal to the integrand over K tempered targets
        (:func:`nongaussian_correction`; ``nongaussian_draws`` is then the number of particles).
        Default: 100 on a data set and for kinked points (plain importance sampling has heavy-tailed
        weights on the 5-gon's cell and, below n ~ 500, on the 6-gon's: docs/free_energy.md), else 0.
    dead_joint : bool, optional
        For a phase with dead columns, integrate them jointly with the live coordinates (their
        prior, the true loss and the cell) instead of as the product of the live integral with
        the dead column held at the point and the dead integral with the live columns held
        (``flat`` + ``numerical``). ``nongaussian`` is then the exact joint free energy minus all
        the other terms, so the total is the joint integral and the terms still sum to it.
        Default: True on a data set when the non-Gaussian term is computed by annealing, else False
        (plain joint importance sampling has heavy-tailed weights, docs/free_energy.md).

    Raises
    ------
    ValueError
        A saddle, a non-C^2 point, bad ``n``/``beta``, or ``n`` different from the data set size.
    """
    label = check_refined_point(point, n, beta, nongaussian_draws, catalogue)
    W0, b0 = np.asarray(point.W, float), np.asarray(point.b, float)
    dead = dead_columns(W0, b0)
    live = [j for j in range(W0.shape[1]) if j not in dead]
    potential = resolve_potential(n, data, potential)
    on_data, bn = potential is not None, float(beta) * float(n)
    if not getattr(point, "smooth", True):
        particles = 4000 if nongaussian_draws is None else int(nongaussian_draws)
        return kinked_terms(point, label, float(n), float(beta), potential, catalogue=catalogue, threshold=threshold,
                            seed=seed, particles=particles, anneal=int(nongaussian_anneal or 100))
    flat, flat_err, numerical, numerical_err = dead_column_terms(
        W0, b0, dead, potential=potential, bn=bn, flat_draws=flat_draws, seed=seed, finite_n=finite_n, label=label)
    copies = -math.log(orbit_copies(point.multiplicity, W0))
    if on_data and live:
        expansions = copy_expansions(W0, b0, potential, bn, all_copies=True)
        copies = copies_term(expansions)
    if not live:  # everything flat (the all-dead 0-gon): F = beta n L - log P(R)
        L = point_loss(W0, b0, potential)
        return FreeEnergyTerms(label, float(n), float(beta), bn * L, 0.0, 0.0, 0.0, 0.0, 0.0, copies, flat, flat_err,
                               numerical, numerical_err, 0.0, 1, L, on_data)
    lap = live_laplace(W0, b0, live, potential=potential, bn=bn, max_shift=max_shift)
    lam_log_n = lap.llc * math.log(n)
    draws, anneal, dead_joint = integrator_defaults(on_data, nongaussian_draws, nongaussian_anneal, dead_joint)
    joint, ng, ng_err = dead_joint and bool(dead), 0.0, 0.0
    if draws:  # nongaussian = F(exact) - (energy + laplace + prior + orbit + copies [+ flat + numerical if joint])
        expansions = expansions if on_data else copy_expansions(W0, b0, None, bn, all_copies=False)
        laplace_value = bn * lap.loss + lap.half_logdet + lap.prior + lap.orbit + copies
        if joint:
            laplace_value = laplace_value + flat + numerical
        ng, ng_err = nongaussian_term(
            expansions, W0, b0, potential=potential, bn=bn, label=label, catalogue=catalogue, threshold=threshold,
            draws=draws, anneal=anneal, joint=joint, seed=seed + 2,
            n_orbits=2 if on_data else orbit_copies(point.multiplicity, W0),
            dims=W0.size + b0.size if joint else (W0.shape[0] + 1) * len(live), laplace_value=laplace_value)
    return FreeEnergyTerms(
        label=label, n=float(n), beta=float(beta), energy=bn * lap.loss, lambda_log_n=lam_log_n, loglog=0.0,
        laplace=lap.half_logdet - lam_log_n, prior=lap.prior, orbit=lap.orbit, copies=copies, flat=flat,
        flat_err=flat_err, numerical=numerical, numerical_err=numerical_err, llc=lap.llc, multiplicity_m=1,
        loss=lap.loss, data=on_data, nongaussian=ng, nongaussian_err=ng_err,
    )
