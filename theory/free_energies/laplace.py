"""Laplace's method over the live coordinates of a phase, transverse to its SO(2) orbit.

For f(x) = beta n L(w(x)) + |x|^2 / 2 over the live coordinates x of w = (W, b) (the dead columns held
at the point), Laplace's method around the minimiser x_hat gives

    -log int exp(-f(x)) dx ~= f(x_hat) + 1/2 log det'(H / 2 pi) - log(orbit length),

H the Hessian of f restricted to the directions orthogonal to the orbit tangent (det' its
determinant). This module holds the minimiser and the Hessian (:func:`laplace_terms`), the jit-compiled
objectives and the orbit coordinates they need (docs/free_energy.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import minimize

from kgon.evaluators import potential_jax
from theory.free_energies.terms import LOG_2PI

__all__ = [
    "LaplaceResult",
    "flat_index",
    "full_objective",
    "laplace_terms",
    "live_objective",
    "orbit_speed",
    "orbit_tangent",
    "set_coordinates",
    "transverse_basis",
]


def flat_index(r: int, c: int, live: list[int]) -> np.ndarray:
    """Indices of the live coordinates in z = (W.ravel(), b) (W row-major: W[a, j] at a c + j)."""
    return np.array([a * c + j for a in range(r) for j in live] + [r * c + j for j in live], dtype=int)


def set_coordinates(z0: np.ndarray, idx: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A copy of the flat parameter vector ``z0`` with the coordinates ``idx`` set to ``x``."""
    z = np.array(z0, dtype=float)
    z[idx] = x
    return z


def orbit_tangent(z: np.ndarray, r: int, c: int, idx: np.ndarray) -> np.ndarray:
    """Tangent of the SO(2) orbit at z in the live coordinates ``idx``: d/dtheta (R_theta W) = J W,
    J the rotation by pi / 2 (the biases do not move)."""
    W = z[: r * c].reshape(r, c)
    J = np.array([[0.0, -1.0], [1.0, 0.0]])
    t = np.concatenate([(J @ W).ravel(), np.zeros(c)])
    return t[idx]


def orbit_speed(X: np.ndarray, that: np.ndarray, r: int, n_live: int) -> np.ndarray:
    """<t_hat, J x> for a batch of live coordinate vectors x (W part first, row-major over live): the
    volume element of the orbit coordinates w = R_theta x (docs/free_energy.md)."""
    W = X[:, : r * n_live].reshape(len(X), r, n_live)
    JW = np.stack([-W[:, 1], W[:, 0]], axis=1).reshape(len(X), -1)
    return JW @ that[: r * n_live]


def transverse_basis(t_hat: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns) of the complement of the unit vector ``t_hat``."""
    d = len(t_hat)
    Q, _ = np.linalg.qr(np.column_stack([t_hat, np.eye(d)]))
    return Q[:, 1:d]


def _loss(W, b, pot, kind: str):
    """L (``kind`` "population", closed form) or L_n (``pot.value``, a data set) at (W, b)."""
    return potential_jax(W, b) if kind == "population" else pot.value(W, b)


@lru_cache(maxsize=None)
def live_objective(r: int, c: int, idx: tuple, kind: str):
    """jit-compiled (value and gradient, Hessian, loss) of f(x) = beta n L(z) + |x|^2 / 2 over the live
    coordinates ``idx`` of z (the others held at ``z0``): called as ``(x, z0, potential, bn)``
    (the loss as ``(x, z0, potential)``); ``kind`` "population" (potential None) or "data"."""
    idx = np.asarray(idx)

    def unpack(x, z0):
        z = z0.at[idx].set(x)
        return z[: r * c].reshape(r, c), z[r * c :]

    def f(x, z0, pot, bn):
        W, b = unpack(x, z0)
        return bn * _loss(W, b, pot, kind) + 0.5 * jnp.sum(x * x)

    def loss(x, z0, pot):
        W, b = unpack(x, z0)
        return _loss(W, b, pot, kind)

    return jax.jit(jax.value_and_grad(f)), jax.jit(jax.hessian(f)), jax.jit(loss)


@lru_cache(maxsize=None)
def full_objective(r: int, c: int, kind: str):
    """Batched f(z) = beta n L(z) + |z|^2 / 2 over all coordinates: jit-compiled (values, values and
    gradients, Hessians), each called as ``(Z, potential, bn)`` with Z of shape (N, r c + c)."""

    def f(z, pot, bn):
        W, b = z[: r * c].reshape(r, c), z[r * c :]
        return bn * _loss(W, b, pot, kind) + 0.5 * jnp.sum(z * z)

    axes = (0, None, None)
    return (jax.jit(jax.vmap(f, in_axes=axes)), jax.jit(jax.vmap(jax.value_and_grad(f), in_axes=axes)),
            jax.jit(jax.vmap(jax.hessian(f), in_axes=axes)))


@dataclass(frozen=True)
class LaplaceResult:
    """Laplace's method for -log int exp(-f(x)) dx around the minimiser ``x`` of f.

    ``half_logdet`` = 1/2 log det'(H / 2 pi) over the ``dim`` directions orthogonal to the orbit
    tangent (all directions if ``orbit_excluded`` is False); ``value`` = f(x). Then

        -log int exp(-f) dx ~= value + half_logdet - log(orbit length)

    (the orbit length is the caller's: the integral along the orbit of an f invariant under it).
    """

    x: np.ndarray
    value: float
    half_logdet: float
    dim: int
    orbit_excluded: bool
    newton_fallback: bool = False


def laplace_terms(
    value_and_grad, hessian, x0, *, tangent=None, gtol: float = 1e-9, max_shift: float | None = None
) -> LaplaceResult:
    """Minimise f from ``x0`` (BFGS) and return the Laplace terms at the minimiser.

    Parameters
    ----------
    value_and_grad : callable x -> (f(x), grad f(x))
    hessian : callable x -> Hessian of f (d x d)
    x0 : array
        Start of the minimisation.
    tangent : callable x -> vector, optional
        Tangent of a one-dimensional orbit along which f is invariant (e.g. the SO(2) rotation of
        W); the Hessian is restricted to its orthogonal complement (det'), and the integral along the
        orbit is the caller's orbit length. Returns a zero vector where the orbit is a point.
    max_shift : float, optional
        If the minimiser lies further than this from ``x0`` (transverse to the orbit), the
        minimisation has left the phase (on a small data set a shallow minimum can slide to a
        neighbouring phase); then the Gaussian of the second-order expansion at ``x0`` is used
        instead: value f(x0) - g^T H^-1 g / 2 at x0 - H^-1 g (one Newton step).

    Raises
    ------
    ValueError
        If the restricted Hessian is not positive definite at the minimiser.
    """
    res = minimize(value_and_grad, np.asarray(x0, float), jac=True, method="BFGS",
                   options=dict(gtol=gtol, maxiter=10_000))
    x = np.asarray(res.x, float)
    x0 = np.asarray(x0, float)
    value = float(res.fun)
    newton = False
    if max_shift is not None:
        dx = x - x0
        if tangent is not None:
            t0 = np.asarray(tangent(x0), float)
            if np.linalg.norm(t0) > 0:
                t0 = t0 / np.linalg.norm(t0)
                dx = dx - (dx @ t0) * t0
        newton = bool(np.linalg.norm(dx) > max_shift)
    if newton:
        x = x0
    H = np.asarray(hessian(x), float)
    H = 0.5 * (H + H.T)
    excluded = False
    if tangent is not None:
        t = np.asarray(tangent(x), float)
        tn = np.linalg.norm(t)
        if tn > 0:
            B = transverse_basis(t / tn)
            H = B.T @ H @ B
            excluded = True
    ev = np.linalg.eigvalsh(H)
    if np.any(ev <= 0):
        raise ValueError(f"the Hessian at the minimiser is not positive definite (min eigenvalue {ev.min():.3g}).")
    half_logdet = 0.5 * float(np.sum(np.log(ev))) - 0.5 * H.shape[0] * LOG_2PI
    if newton:
        f0, g = value_and_grad(x0)
        g = np.asarray(g, float)
        if excluded:
            g = B.T @ g
            step = B @ np.linalg.solve(H, g)
        else:
            step = np.linalg.solve(H, g)
        value = float(f0) - 0.5 * float(g @ np.linalg.solve(H, g))
        x = x0 - step
    return LaplaceResult(x, value, half_logdet, H.shape[0], excluded, newton)
