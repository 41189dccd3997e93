"""The data-conditional free energy with every copy's Laplace term on the data set (closed form).

:mod:`theory.data_term` expands each copy's integral to first order in the data: the energy shift
Y_sigma = beta n (L_n - L)(w_sigma) at the population refined minimiser, with the population Hessian.
Here each copy's Gaussian is taken on the data set itself. With f = beta n L + |x|^2 / 2 (population)
and f_sigma = beta n L_n(sigma w(x)) + |x|^2 / 2 (copy sigma on the data), both over the live
coordinates transverse to the SO(2) orbit at the population refined minimiser x_hat, one Newton step
of f_sigma from x_hat gives

    D_sigma = [f_sigma(x_hat) - f(x_hat)] - (1/2) g_sigma^T H_sigma^-1 g_sigma
              + (1/2) [log det H_sigma - log det H],

g_sigma = grad f_sigma(x_hat), H_sigma = Hess f_sigma(x_hat) (the data Hessian: the curvature of the
samples whose ReLU is on, eigenvalues floored at the prior's 1 where a copy is not convex on the data)
and H the population Hessian. The first bracket is Y_sigma; the second the copy's relaxation on its
own data Hessian (R_sigma of theory.data_term used the population one); the third the change of its
Gaussian volume, O(d / sqrt n), of either sign. Then

    F_n^data(alpha) = F_n^pop(alpha) + F^(2)(alpha) - log( (1/M) sum_sigma exp(-D_sigma) ),

F_n^pop the population refined free energy (dead columns and flat masses included) and F^(2) its
second-order Laplace term (:func:`theory.data_term.population_second_order`, included by default here:
the data's Laplace terms and the population's non-Gaussian term are separate orders of the same
expansion). The third derivatives are the population's: the empirical loss is piecewise quadratic in
w (each sample's ReLU switches on and off), so its own third derivatives are zero almost everywhere
and carry none of the smooth curvature the population's carry.

Evaluation: a copy sigma on the data equals the unpermuted point on the data with the features
relabelled, so every copy uses the same live coordinates and orbit basis, and the data Hessians of
all M copies are one vmapped jax call over permuted tables of ``sampling.empirical_potential``
(exact: per-feature prefix sums). No sampling. docs/free_energy.md ("The data set's Laplace term").
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

from theory.data_term import DataFreeEnergy, copy_term, data_setup, population_expansion
from theory.free_energies.laplace import orbit_tangent, transverse_basis

__all__ = ["GRID_POINTS", "copy_laplace_shifts", "data_laplace_free_energy", "midpoint_grid"]


@lru_cache(maxsize=None)
def _copies_derivatives(r: int, c: int, idx: tuple):
    """jit of (value, gradient, Hessian) over the live coordinates ``idx`` of
    bn L_n(W, b) + |x|^2 / 2 for a stack of relabelled potentials (one per copy)."""
    import jax  # deferred: jax start-up only when a free energy is computed
    import jax.numpy as jnp

    from sampling.fast_potential import EmpiricalPotential

    ix = jnp.asarray(idx)

    def f(x, z0, m, prefix, suffix, n, bn):
        z = z0.at[ix].set(x)
        pot = EmpiricalPotential(m=m, prefix=prefix, suffix=suffix, n=n, c=c)
        return bn * pot.value(z[: r * c].reshape(r, c), z[r * c :]) + 0.5 * jnp.sum(x * x)

    def one(x, z0, m, prefix, suffix, n, bn):
        v, g = jax.value_and_grad(f)(x, z0, m, prefix, suffix, n, bn)
        return v, g, jax.hessian(f)(x, z0, m, prefix, suffix, n, bn)

    return jax.jit(jax.vmap(one, in_axes=(None, None, 0, 1, 1, None, None)))


def copy_laplace_shifts(point, potential, n: float, *, beta: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(D_sigma, Y_sigma) (module docstring) of every distinct copy of ``point``'s phase on the data set
    whose ``sampling.empirical_potential`` is ``potential`` (its n samples), at sample size ``n``."""
    import jax.numpy as jnp  # deferred: jax start-up

    e = population_expansion(point, n, beta=beta)
    idx = np.asarray(e.live_index, int)
    if not idx.size:
        return np.zeros(len(e.perms)), np.zeros(len(e.perms))
    r, c = e.W.shape
    bn = float(beta) * float(n)
    z = np.concatenate([e.W.ravel(), e.b])
    x = z[idx]
    t = orbit_tangent(z, r, c, idx)
    B = transverse_basis(t / np.linalg.norm(t))
    inv = np.argsort(e.perms, axis=1)  # copy s on the data = the point on the data relabelled by s^-1
    m = jnp.asarray(np.asarray(potential.m)[inv])  # (M, c, N)
    prefix = jnp.asarray(np.asarray(potential.prefix)[:, inv])  # (3, M, c, N + 1)
    suffix = jnp.asarray(np.asarray(potential.suffix)[:, inv])
    derivs = _copies_derivatives(r, c, tuple(idx.tolist()))
    v, g, H = (np.asarray(a, float) for a in derivs(jnp.asarray(x), jnp.asarray(z), m, prefix, suffix, potential.n,
                                                     bn))
    f_pop = bn * e.loss + 0.5 * float(x @ x)
    H_pop = np.linalg.pinv(B.T @ np.asarray(e.hessian_pinv) @ B)  # transverse population Hessian of f
    H_pop = 0.5 * (H_pop + H_pop.T)
    logdet_pop = float(np.linalg.slogdet(H_pop)[1])
    H_smooth = _active_set_hessian(e, derivs, x, z, bn)
    Y = v - f_pop  # the prior cancels: Y_sigma = beta n (L_n(sigma w_hat) - L(w_hat))
    Hs, steps = [], []
    for k in range(len(v)):
        Hk = H_pop + B.T @ (0.5 * (H[k] + H[k].T) - H_smooth) @ B
        ev, U = np.linalg.eigh(0.5 * (Hk + Hk.T))
        ev = np.maximum(ev, 1.0)  # the prior's curvature floor (a copy that is not convex on the data)
        Hs.append((U * ev) @ U.T)
        steps.append(-(U @ ((U.T @ (B.T @ g[k])) / ev)))
    delta = np.array(steps)  # each copy's Newton step (transverse coordinates)
    jvp = _population_hessian_jvp(r, c, tuple(idx.tolist()))
    dH = np.asarray(jvp(jnp.asarray(x), jnp.asarray(z), jnp.asarray(delta @ B.T), bn), float)
    out = np.empty(len(v))
    for k in range(len(v)):
        T = B.T @ (0.5 * (dH[k] + dH[k].T)) @ B  # f_abc delta_c: the Hessian's change along the step
        ev = np.maximum(np.linalg.eigvalsh(Hs[k] + T), 1.0)
        gd = float(B.T @ g[k] @ delta[k])
        out[k] = Y[k] + 0.5 * gd + float(delta[k] @ T @ delta[k]) / 6.0 \
            + 0.5 * (float(np.sum(np.log(ev))) - logdet_pop)
    return out, Y


@lru_cache(maxsize=None)
def _population_hessian_jvp(r: int, c: int, idx: tuple):
    """jit of the directional derivative of the population Hessian of beta n L + |x|^2 / 2 over the
    live coordinates along each row of ``V`` (the third derivatives contracted once)."""
    import jax  # deferred: jax start-up
    import jax.numpy as jnp

    from kgon.evaluators import potential_jax

    ix = jnp.asarray(idx)

    def f(x, z0, bn):
        z = z0.at[ix].set(x)
        return bn * potential_jax(z[: r * c].reshape(r, c), z[r * c :]) + 0.5 * jnp.sum(x * x)

    hess = jax.hessian(f)

    def along(x, z0, v, bn):
        return jax.jvp(lambda y: hess(y, z0, bn), (x,), (v,))[1]

    return jax.jit(jax.vmap(along, in_axes=(None, None, 0, None)))


GRID_POINTS = 20_000
"""Magnitudes per feature of the midpoint grid on which :func:`_active_set_hessian` averages the empirical
Hessian (its error is O(1 / GRID_POINTS^2) per smooth piece)."""


def _active_set_hessian(e, derivs, x, z, bn: float) -> np.ndarray:
    """The population mean of the empirical loss's autodiff Hessian (beta n times the curvature of the
    samples whose ReLU is on), on a midpoint grid of ``GRID_POINTS`` magnitudes per feature.

    Each sample's loss has a kink where its ReLU switches (the output starts at 0 while the target is mu:
    the gradient jumps), so the empirical Hessian misses the switches' (negative) curvature that the
    population Hessian carries; the data's change of the Hessian is the empirical Hessian minus this mean,
    added to the population Hessian."""
    import jax.numpy as jnp  # deferred: jax start-up

    key = (e.W.tobytes(), e.b.tobytes(), e.n, e.beta)
    if key not in _SMOOTH:
        pot = _grid_potential(e.W.shape[1])
        _, _, H = derivs(jnp.asarray(x), jnp.asarray(z), pot.m[None], pot.prefix[:, None], pot.suffix[:, None], pot.n,
                         bn)
        _SMOOTH[key] = 0.5 * (np.asarray(H[0], float) + np.asarray(H[0], float).T)
    return _SMOOTH[key]


_SMOOTH: dict = {}


def midpoint_grid(c: int):
    """The population as a data set: ``GRID_POINTS`` magnitudes (k + 1/2) / GRID_POINTS of every feature
    (a ``sampling.Dataset`` whose empirical loss is the midpoint rule of the population loss)."""
    from sampling.data import Dataset  # deferred: jax start-up

    K = GRID_POINTS
    return Dataset(np.repeat(np.arange(c), K), np.tile((np.arange(K) + 0.5) / K, c), c, c * K)


@lru_cache(maxsize=None)
def _grid_potential(c: int):
    """``sampling.empirical_potential`` of :func:`midpoint_grid` (built once per c: it does not depend on
    the phase or n)."""
    from sampling import empirical_potential  # deferred: jax start-up

    return empirical_potential(midpoint_grid(c))


def data_laplace_free_energy(
    catalogue, data, ns, *, beta: float = 1.0, labels: Sequence[str] | None = None, second_order: bool = True,
) -> DataFreeEnergy:
    """F_n^pop + F^(2) - log mean_sigma exp(-D_sigma) of every phase :func:`theory.refined_phases` covers,
    at each n on the first n samples of ``data`` (module docstring; no sampling).

    Parameters
    ----------
    catalogue : kgon.Catalogue (or a list of its points)
    data : sampling.Dataset
        A data stream with at least max(ns) samples.
    ns : sequence of int
    beta : float
    labels : sequence of str, optional
    second_order : bool
        Include the population's second-order Laplace term (default True).

    Returns
    -------
    theory.data_term.DataFreeEnergy
        With ``shift`` = mean_sigma Y_sigma, ``copies`` = -log mean exp(-D_sigma) - shift and
        ``relaxation`` True (the data Hessian's).
    """
    from sampling import empirical_potential  # deferred: jax start-up
    from theory.free_energies.orders import data_prefix

    beta, grid, pts, labs, pop, so = data_setup(catalogue, data, ns, beta=beta, labels=labels,
                                                second_order=second_order)
    shift = {lab: np.zeros(len(grid)) for lab in labs}
    copies = {lab: np.zeros(len(grid)) for lab in labs}
    for g, n in enumerate(grid):
        pot = empirical_potential(data_prefix(data, int(n)))
        for p, lab in zip(pts, labs):
            D, Y = copy_laplace_shifts(p, pot, float(n), beta=beta)
            shift[lab][g], copies[lab][g] = copy_term(Y, D - Y)  # mean Y, -log mean exp(-D) - mean Y
    return DataFreeEnergy(grid.astype(float), labs, pop, shift, copies, True, beta, so)
