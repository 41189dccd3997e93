"""The non-Gaussian term: the exact integral of a phase over its cell, over every copy, divided by
its Laplace value (docs/free_energy.md).

Each copy's integral is computed by :func:`theory.free_energies.smc.anneal` (plain importance
sampling from a Student-t proposal in orbit coordinates, or annealed SMC from it) on the target of
:class:`CopyTarget`; :func:`importance_correction` allocates the particles to the copies and
combines them; :func:`kinked_terms` is the numerical local free energy of a kinked phase (no Laplace
term) by the same integral.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
from scipy.special import gammaln

from kgon.classification import classify
from kgon.evaluators import potential as population_loss
from kgon.symmetry import dead_columns, orbit_copies
from theory.free_energies import smc
from theory.free_energies.copies import CopyExpansion, copy_candidates, copy_expansions, nearest_copy
from theory.free_energies.dead_columns import dead_log_q, dead_proposal
from theory.free_energies.laplace import full_objective, orbit_speed
from theory.free_energies.terms import LOG_2PI, FreeEnergyTerms

__all__ = [
    "CopyTarget",
    "combine_copies",
    "copy_laplace_log_z",
    "importance_correction",
    "kinked_terms",
    "log_student_t",
    "nongaussian_correction",
]


def log_student_t(T: np.ndarray, nu: float) -> np.ndarray:
    """Log density of the standard multivariate Student t with ``nu`` degrees of freedom at each row
    of ``T`` (shape (N, k))."""
    k = T.shape[1]
    return (gammaln((nu + k) / 2) - gammaln(nu / 2) - 0.5 * k * math.log(nu * math.pi)
            - 0.5 * (nu + k) * np.log1p(np.sum(T * T, axis=1) / nu))


def nongaussian_correction(
    W,
    b,
    *,
    bn: float,
    potential=None,
    all_copies: bool | None = None,
    catalogue=None,
    label: str | None = None,
    threshold: float | None = None,
    draws: int = 20_000,
    nu: float = 5.0,
    scale: float = 1.2,
    seed: int = 0,
    chunk: int = 2048,
    dead_joint: bool = False,
    anneal: int = 0,
    mh_steps: int = 2,
    partition: bool = True,
) -> tuple[float, float, dict]:
    """log(Z / Z_Laplace) for the live integral of a phase, by importance sampling, over its copies.

    For each copy sigma of the point (every distinct feature permutation on a data set; the point
    itself for the population loss, whose copies are equal) the live integral

        Z_sigma = int exp(-f(w)) dw,   f = beta n L_n(w) + |w_live|^2 / 2 (dead columns held),

    is written in orbit coordinates w = R_theta (x_sigma + B y) (y transverse to the orbit tangent
    t at the copy's point, x_sigma its Newton point), whose volume element is |<t_hat, J(x_sigma +
    B y)>| dtheta dy, so Z_sigma = 2 pi E_q[ exp(-f) |<t_hat, J x>| / q(y) ] with q a multivariate
    Student t (``nu``) centred at the Newton point with scale ``scale`` H^(-1/2), H the transverse
    Hessian (eigenvalues floored at the prior's curvature 1, as in the copies term). Z_Laplace is
    the same integral with f replaced by its second-order expansion: 2 pi |<t_hat, J x_sigma>|
    exp(-f_N) (2 pi)^(k/2) det(H)^(-1/2). Draws are allocated to the copies in proportion to
    their Laplace weight (stratified); copies below 1e-3 of the largest weight are not sampled and
    keep the weighted mean ratio of the others. With ``catalogue`` and ``label`` a draw counts only
    if :func:`kgon.classify` (``threshold``) assigns it to ``label``: the integral is then over
    the phase's cell exactly as a sampler's occupancy counts it.

    ``dead_joint``: the dead columns (W_j, b_j), instead of being held at the point, are drawn
    jointly with the live coordinates (W_j ~ N(0, 0.5^2 I), b_j = -|N(0, 1.2^2)|: the 5 side of
    the 5 / 5+ split b_j = 0) and the integrand carries their prior and the true loss: Z is then
    the whole integral over the cell, live x dead (the volume element is unchanged: the dead
    coordinates rotate with theta but the tangent's dead part lies in their span).

    ``anneal`` = K > 0: annealed sequential Monte Carlo (:func:`theory.free_energies.smc.anneal`;
    Neal 2001; Del Moral, Doucet & Jasra 2006) from the proposal q to the integrand g over the
    targets q^(1 - beta_k) g^beta_k, beta_k = (k / K)^2, with systematic resampling when the
    effective sample size falls below half and ``mh_steps`` random-walk Metropolis moves per target
    (covariance: the particles' weighted covariance, 2.38^2 / d scaled); the cell indicator enters
    at beta = 1 (the last weight), and ``draws`` is the number of particles (at least 200 per sampled
    copy: with a few dozen per copy the estimate lies 0.15-0.25 nats below the 200-per-copy and
    plain-importance values in 14-17 dimensions, presumably the O(1/N) bias of moves adapted to the
    population). Its weights stay balanced where the proposal misses the integrand's tails: on the
    5-gon's cell at n = 450 plain importance sampling keeps an effective sample size of ~1% of its
    draws, with rare draws e^5 above the rest (docs/free_energy.md). K = 0 is plain importance
    sampling (the schedule (0, 1) of the same integrator).

    Returns ``(log Z/Z_Laplace, standard error, info)``; ``info`` holds the number of copies, how
    many were sampled, the total effective sample size (of the final weights under annealing; its
    standard error is that of the final weights only and understates the error: repeat with
    another seed) and log Z_Laplace (summed over the copies, so log Z = correction +
    log_Z_laplace). The correction is what Laplace's method misses at finite n (its error is O(1/n)
    only asymptotically; at n ~ 400 it is 1-3 nats here, docs/free_energy.md).
    """
    W0, b0 = np.asarray(W, float), np.asarray(b, float)
    if all_copies is None:
        all_copies = potential is not None
    expansions = copy_expansions(W0, b0, potential, bn, all_copies=all_copies)
    part = (*copy_candidates(W0, b0), np.arange(len(expansions))) if partition else None
    return importance_correction(expansions, W0.shape, bn=bn, potential=potential, catalogue=catalogue, partition=part,
                                 label=label, threshold=threshold, draws=draws, nu=nu, scale=scale, seed=seed,
                                  chunk=chunk, dead_joint=dead_joint, anneal=anneal, mh_steps=mh_steps)


@dataclass(frozen=True)
class CopyTarget:
    """The integral of one copy as an :func:`theory.free_energies.smc.anneal` problem.

    Particle state (S, X, Z): S = (T, D) the sampler's positions (T the transverse Student-t
    coordinates, D the dead-column coordinates when ``joint``), X = x_sigma + scale T H^(-1/2) U^T B^T
    the live coordinates and Z the full flat parameters (W.ravel(), b). The proposal q is the Student
    t (``nu``) in T times, when ``joint``, :func:`theory.free_energies.dead_columns.dead_proposal` in
    D; the integrand g = exp(-f(w)) |<t_hat, J x>| 2 pi with f = beta n L + |w|^2 / 2 (the dead
    coordinates' prior left out when they are held: it is in P(R)).

    Attributes
    ----------
    e : CopyExpansion
    r, c : int
    fval : callable
        Batched f (:func:`theory.free_energies.laplace.full_objective`).
    potential : sampling.EmpiricalPotential or None
    bn, nu, scale : float
    chunk : int
        Batch size of the jit-compiled f (padded to it).
    joint : bool
    """

    e: CopyExpansion
    r: int
    c: int
    fval: object
    potential: object
    bn: float
    nu: float
    scale: float
    chunk: int
    joint: bool

    @property
    def dead_idx(self) -> np.ndarray:
        """Indices of the dead coordinates in Z."""
        return np.setdiff1d(np.arange(len(self.e.z0)), self.e.idx)

    def build(self, S: np.ndarray) -> tuple:
        """The particle state (S, X, Z) of positions S."""
        e, kd = self.e, len(self.e.ev)
        T, D = S[:, :kd], S[:, kd:]
        X = e.x_newton[None, :] + (self.scale * T / np.sqrt(e.ev)) @ e.BU.T
        Z = np.tile(e.z0, (len(S), 1))
        Z[:, e.idx] = X
        if self.joint:
            Z[:, self.dead_idx] = D
        return S, X, Z

    def sample(self, rng: np.random.Generator, N: int) -> tuple:
        """N draws from q: the Student-t coordinates, then (``joint``) the dead columns."""
        kd = len(self.e.ev)
        T = rng.standard_normal((N, kd)) / np.sqrt(rng.chisquare(self.nu, N) / self.nu)[:, None]
        D = np.zeros((N, 0))
        if self.joint:
            _, D, _ = dead_proposal(rng, N, self.e.z0, self.e.idx, self.r, self.c)
        return self.build(np.concatenate([T, D], axis=1))

    def log_q(self, state: tuple) -> np.ndarray:
        """log q at each particle (-inf where a dead bias is positive)."""
        S, e, kd = state[0], self.e, len(self.e.ev)
        lq = log_student_t(S[:, :kd], self.nu) - kd * math.log(self.scale) + 0.5 * float(np.sum(np.log(e.ev)))
        if self.joint:
            lq = lq + dead_log_q(S[:, kd:], self.dead_idx >= self.r * self.c)
        return lq

    def log_g(self, state: tuple) -> np.ndarray:
        """log g = -f + log |<t_hat, J x>| + log 2 pi at each particle."""
        _, X, Z = state
        pad = (-len(Z)) % self.chunk
        zp = np.concatenate([Z, np.repeat(Z[:1], pad, axis=0)]) if pad else Z
        fv = np.concatenate([np.asarray(self.fval(jnp.asarray(zp[i : i + self.chunk]), self.potential, self.bn))
                             for i in range(0, len(zp), self.chunk)])[: len(Z)]
        if not self.joint:
            fv = fv - 0.5 * float(np.sum(self.e.z0[self.dead_idx] ** 2))  # the dead coordinates' prior is in P(R)
        speed = np.abs(orbit_speed(X, self.e.t_hat, self.r, self.e.n_live))
        with np.errstate(divide="ignore"):
            return -fv + np.log(speed) + LOG_2PI

    def split(self, state: tuple) -> tuple[np.ndarray, np.ndarray]:
        """(W (N, r, c), b (N, c)) of each particle."""
        Z = state[2]
        return Z[:, : self.r * self.c].reshape(len(Z), self.r, self.c), Z[:, self.r * self.c :]


def copy_laplace_log_z(expansions: list, r: int) -> np.ndarray:
    """log Z_Laplace of each copy: 2 pi |<t_hat, J x_sigma>| exp(-f_N) (2 pi)^(k/2) det(H)^(-1/2)."""
    return np.array([LOG_2PI + math.log(abs(float(orbit_speed(e.x_newton[None], e.t_hat, r, e.n_live)[0])))
                     - e.f_newton + 0.5 * len(e.ev) * LOG_2PI - 0.5 * float(np.sum(np.log(e.ev)))
                     for e in expansions])


def combine_copies(est: np.ndarray, rel_var: np.ndarray, lz: np.ndarray,
                   keep: np.ndarray) -> tuple[float, float, float]:
    """log(Z / Z_Laplace) summed over the copies, its standard error and log Z_Laplace.

    ``est``: log Z of each sampled copy (-inf outside the cell); ``rel_var``: its squared relative
    error; ``lz``: log Z_Laplace of every copy; ``keep``: the sampled copies. The copies not sampled
    take the Laplace-weighted mean ratio Z / Z_Laplace of the sampled ones."""
    m = lz.max()
    pi = np.exp(lz - m)
    pi /= pi.sum()
    ratio = np.exp(est[keep] - lz[keep])
    mean_ratio = float(np.sum(pi[keep] * ratio) / np.sum(pi[keep]))
    Z_is = np.exp(est[keep] - m).sum() + mean_ratio * np.exp(lz[~keep] - m).sum()
    Z_lap = np.exp(lz - m).sum()
    se = math.sqrt(float(np.sum(np.exp(2 * (est[keep] - m)) * rel_var[keep]))) / Z_is
    return math.log(Z_is / Z_lap), se, float(m + math.log(Z_lap))


def _check_integrator(draws, anneal_targets, mh_steps) -> None:
    if not (isinstance(draws, (int, np.integer)) and draws >= 100):
        raise ValueError(f"`draws` must be an integer >= 100; got {draws!r}.")
    if not (isinstance(anneal_targets, (int, np.integer)) and anneal_targets >= 0):
        raise ValueError(f"`anneal` must be an integer >= 0 (number of tempered targets); got {anneal_targets!r}.")
    if not (isinstance(mh_steps, (int, np.integer)) and mh_steps >= 1):
        raise ValueError(f"`mh_steps` must be an integer >= 1; got {mh_steps!r}.")


def importance_correction(expansions, shape, *, bn, potential, catalogue, label, threshold, draws, nu=5.0,
                          scale=1.2, seed=0, chunk=2048, dead_joint: bool = False, anneal: int = 0,
                          mh_steps: int = 2, partition=None) -> tuple[float, float, dict]:
    """:func:`nongaussian_correction` from the copies' expansions
    (:func:`theory.free_energies.copies.copy_expansions`).

    ``dead_joint``: the dead columns are sampled jointly with the live ones
    (:func:`theory.free_energies.dead_columns.dead_proposal`) instead of held at the point, and the
    integrand carries their prior: the estimate is then of the whole integral over the phase's cell,
    live x dead, divided by the live Laplace value.

    ``partition`` = (cand_W, cand_b, index): a draw of copy k counts only where its nearest copy
    orbit (:func:`theory.free_energies.copies.nearest_copy`) is ``index[k]``: the cell is cut into one
    piece per copy (an equivariant partition, so on the population loss every piece has the same
    integral), which keeps one copy's draws from counting the neighbouring copies' pieces where flat
    directions join them. Every copy draws from one random stream (``seed``), in the copies' order."""
    _check_integrator(draws, anneal, mh_steps)
    r, c = shape
    fval = full_objective(r, c, "population" if potential is None else "data")[0]
    lz = copy_laplace_log_z(expansions, r)
    pi = np.exp(lz - lz.max())
    pi /= pi.sum()
    keep = pi >= 1e-3 * pi.max()
    rng = np.random.default_rng(seed)
    est = np.full(len(expansions), -np.inf)
    rel_var = np.zeros(len(expansions))
    ess = wmax = 0.0
    outside: list[int] = []
    kw = {} if threshold is None else {"threshold": threshold}
    for k, e in enumerate(expansions):
        if not keep[k]:
            continue
        target = CopyTarget(e, r, c, fval, potential, bn, nu, scale, chunk,
                            bool(dead_joint and len(e.z0) > len(e.idx)))

        def in_piece(state, k=k, target=target):  # the copy's piece of the partition
            return nearest_copy(*target.split(state), partition[0], partition[1]) == partition[2][k]

        def in_cell(state, target=target, in_piece=in_piece):
            ok = np.ones(len(state[0]), bool)
            if catalogue is not None and label is not None:
                ok &= classify(*target.split(state), catalogue, **kw) == label
            return ok & in_piece(state) if partition is not None else ok

        log_z, info = smc.anneal(
            rng, target.log_q, target.log_g, target.sample, smc.quadratic_schedule(anneal),
            smc.RandomWalk(target.build, steps=mh_steps), particles=max(200, int(round(draws * pi[k]))),
            support=in_piece if partition is not None else None, final_mask=in_cell)
        if not np.isfinite(log_z):
            # no draw of this copy ended in the phase's cell: on this data set the copy's
            # neighbourhood belongs to another phase (its integral over the cell is negligible)
            outside.append(k)
            continue
        est[k], rel_var[k] = log_z, info.relative_variance
        ess += info.ess
        wmax = max(wmax, info.max_weight)
    if len(outside) == int(keep.sum()):
        raise ValueError(f"no importance draw fell in the phase {label!r}; the Laplace Gaussian is far outside "
                         "the phase's cell (raise `draws` or check the phase).")
    corr, se, log_z_laplace = combine_copies(est, rel_var, lz, keep)
    info = {"copies": len(expansions), "sampled": int(keep.sum()), "outside": outside, "ess": ess, "max_weight": wmax,
            "log_ratio_copies": est - lz, "log_weight_copies": lz - lz.max(), "log_Z_laplace": log_z_laplace}
    return corr, se, info


def kinked_terms(point, label: str, n: float, beta: float, potential, *, catalogue, threshold, seed: int,
                 particles: int, anneal: int) -> FreeEnergyTerms:
    """Numerical local free energy of a kinked phase (L not C^2 at its point: no Laplace term).

    F_n = -log int_cell phi(w) exp(-beta n L_n(w)) dw over the phase's classifier cell (the phase
    as a sampler counts it, :func:`kgon.classify` at ``threshold``) by the annealed sequential
    Monte Carlo of :func:`nongaussian_correction` (``anneal`` tempered targets, ``particles``
    particles, dead columns jointly), from a Student-t proposal centred at each copy of the point
    whose shape is the one-sided autodiff Hessian there, floored at the prior's curvature (a
    proposal only: the annealing corrects it). Reported as ``energy`` = beta n L_n(w*) at the
    catalogue point, ``lambda_log_n`` with the catalogue's numerical learning coefficient (for
    orientation), and ``numerical`` = the rest, with its Monte Carlo error ``numerical_err``; every
    other term is 0 (docs/free_energy.md)."""
    W0, b0 = np.asarray(point.W, float), np.asarray(point.b, float)
    r, c = W0.shape
    bn = beta * n
    dead = dead_columns(W0, b0)
    z0 = np.concatenate([W0.ravel(), b0])
    kind = "population" if potential is None else "data"
    expansions = copy_expansions(W0, b0, potential, bn, all_copies=kind == "data", newton=False)
    cand_W, cand_b = copy_candidates(W0, b0)  # copy k (in expansions' order) is candidate k
    corr, err, info = importance_correction(
        expansions, (r, c), bn=bn, potential=potential, catalogue=catalogue, label=label, threshold=threshold,
        draws=int(particles), seed=seed + 2, dead_joint=bool(dead), anneal=int(anneal),
        partition=(cand_W, cand_b, np.arange(len(expansions))))
    n_orbits = 2 if kind == "data" else orbit_copies(point.multiplicity, W0)
    F = -(corr + info["log_Z_laplace"]) - math.log(n_orbits) + 0.5 * len(z0) * LOG_2PI  # every coordinate sampled
    if kind == "population":
        L = float(population_loss(W0, b0))
    else:
        L = float(potential.value(jnp.asarray(W0), jnp.asarray(b0)))
    lam = float(getattr(point, "llc", float("nan")))
    lam = lam if math.isfinite(lam) else 0.0
    energy, lam_log_n = bn * L, lam * math.log(n)
    return FreeEnergyTerms(
        label=label, n=n, beta=beta, energy=energy, lambda_log_n=lam_log_n, loglog=0.0, laplace=0.0, prior=0.0,
        orbit=0.0, copies=0.0, flat=0.0, flat_err=0.0, numerical=F - energy - lam_log_n, numerical_err=err, llc=lam,
        multiplicity_m=1, loss=L, data=kind == "data")
