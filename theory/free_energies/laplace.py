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
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import minimize

from kgon.evaluators import potential_jax
from theory.free_energies.terms import LOG_2PI

__all__ = [
    "LaplaceResult",
    "SecondOrderLaplace",
    "flat_index",
    "full_objective",
    "laplace_terms",
    "live_objective",
    "orbit_speed",
    "orbit_tangent",
    "orbit_volume_slope",
    "second_order_laplace",
    "second_order_terms",
    "set_coordinates",
    "transverse_derivatives",
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


class SecondOrderLaplace(NamedTuple):
    """The O(1/n) term of Laplace's expansion of -log int exp(-f(y)) v(y) dy around the minimiser
    (:func:`second_order_terms`); ``total`` is what it adds to the Laplace free energy (nats).

    ``quartic`` (1/8) f_abcd S^ab S^cd, ``cubic_chain`` -(1/8) f_abc f_def S^ab S^cd S^ef,
    ``cubic_theta`` -(1/12) f_abc f_def S^ad S^be S^cf (S = H^-1), ``volume`` (1/2) a_d S^dc f_cab S^ab
    (a volume element v(y) = 1 + a . y, e.g. the orbit coordinates')."""

    quartic: float
    cubic_chain: float
    cubic_theta: float
    volume: float

    @property
    def total(self) -> float:
        return self.quartic + self.cubic_chain + self.cubic_theta + self.volume


def second_order_terms(hessian, f3, f4, *, volume_slope=None) -> SecondOrderLaplace:
    """The next term of Laplace's method from the derivatives of f at its minimiser.

    For F = -log int exp(-f(y)) (1 + a . y) dy with f(y) = f(0) + y^T H y / 2 + f_abc y^a y^b y^c / 6
    + f_abcd y^a y^b y^c y^d / 24 + ... (Shun & McCullagh 1995, eq. 3.2; the terms of order 1/n when
    f = n L + O(1)),

        F = f(0) + 1/2 log det(H / 2 pi)
            + (1/8) f_abcd S^ab S^cd - (1/8) f_abc f_def S^ab S^cd S^ef - (1/12) f_abc f_def S^ad S^be S^cf
            + (1/2) a_d S^dc f_cab S^ab + O(1/n^2),

    S = H^-1. The last term is -log(1 + a . E[y]) to first order, E[y]^d = -(1/2) S^dc f_cab S^ab the
    mean of y under exp(-f) at this order. Known truth: f = n (e^y - 1 - y) gives -1/(12 n)
    (Stirling's series of log Gamma(n)); tests/theory/test_second_order.py.

    Parameters
    ----------
    hessian, f3, f4 : arrays (d, d), (d, d, d), (d, d, d, d)
        Second, third and fourth derivatives of f at its minimiser.
    volume_slope : array (d,), optional
        a, the gradient of the volume element v(y) = 1 + a . y at the minimiser (default 0).
    """
    H = np.asarray(hessian, float)
    S = np.linalg.inv(0.5 * (H + H.T))
    f3, f4 = np.asarray(f3, float), np.asarray(f4, float)
    v = np.einsum("abc,ab->c", f3, S)
    quartic = float(np.einsum("abcd,ab,cd->", f4, S, S)) / 8.0
    chain = -float(v @ S @ v) / 8.0
    theta = -float(np.einsum("abc,def,ad,be,cf->", f3, f3, S, S, S, optimize=True)) / 12.0
    volume = 0.0 if volume_slope is None else 0.5 * float(np.asarray(volume_slope, float) @ S @ v)
    return SecondOrderLaplace(quartic, chain, theta, volume)


@lru_cache(maxsize=None)
def transverse_derivatives(r: int, c: int, idx: tuple, kind: str):
    """jit-compiled (H, f3, f4) of g(y) = f(x + B y) at y = 0, f = beta n L + |x|^2 / 2 over the live
    coordinates ``idx`` (as :func:`live_objective`; B the transverse basis): called as
    ``(x, B, z0, potential, bn)``."""
    index = np.asarray(idx)

    def g(y, x, B, z0, pot, bn):
        xx = x + B @ y
        z = z0.at[index].set(xx)
        return bn * _loss(z[: r * c].reshape(r, c), z[r * c :], pot, kind) + 0.5 * jnp.sum(xx * xx)

    h = jax.hessian(g)
    d3 = jax.jacfwd(h)
    d4 = jax.jacfwd(d3)

    def all_derivatives(x, B, z0, pot, bn):
        y = jnp.zeros(B.shape[1])
        return h(y, x, B, z0, pot, bn), d3(y, x, B, z0, pot, bn), d4(y, x, B, z0, pot, bn)

    return jax.jit(all_derivatives)


def second_order_laplace(W, b, live_index, *, bn: float, potential=None) -> SecondOrderLaplace:
    """:func:`second_order_terms` of a phase's live integral in its orbit coordinates.

    (W, b) is the minimiser of f = beta n L + |x|^2 / 2 over the live coordinates ``live_index`` of
    z = (W.ravel(), b) (population loss L; ``potential``: the empirical loss of a data set), ``bn`` =
    beta n. With w = R_theta (x + B y), B an orthonormal basis transverse to the orbit tangent
    t = J W, the volume element is <t_hat, J (x + B y)> dtheta dy = ||W||_F (1 + a . y) dtheta dy with
    a = B^T W / ||W||_F^2 (W part; J^T t_hat = -J t_hat = W / ||W||_F), exactly linear in y: the
    orbit's volume correction is the ``volume`` term (docs/free_energy.md, "Beyond Laplace in closed
    form")."""
    W, b = np.asarray(W, float), np.asarray(b, float)
    r, c = W.shape
    idx = np.asarray(live_index, int)
    z0 = np.concatenate([W.ravel(), b])
    x = z0[idx]
    t = orbit_tangent(z0, r, c, idx)
    tn = float(np.linalg.norm(t))
    if tn == 0:
        raise ValueError("`W` must be non-zero on the live columns (the orbit coordinates need ||W||_F > 0).")
    B = transverse_basis(t / tn)
    kind = "population" if potential is None else "data"
    H, f3, f4 = transverse_derivatives(r, c, tuple(idx.tolist()), kind)(
        jnp.asarray(x), jnp.asarray(B), jnp.asarray(z0), potential, float(bn))
    return second_order_terms(np.asarray(H), np.asarray(f3), np.asarray(f4),
                              volume_slope=orbit_volume_slope(x, idx, B, r * c))


def orbit_volume_slope(x, idx, B, n_w: int) -> np.ndarray:
    """a = B^T W / ||W||_F^2: the orbit coordinates' volume element <t_hat, J (x + B y)> is
    ||W||_F (1 + a . y) (``x`` the live coordinates at ``idx`` of z, the first ``n_w`` of z are W's)."""
    x = np.asarray(x, float)
    w_part = np.where(np.asarray(idx) < n_w, x, 0.0)
    return np.asarray(B).T @ w_part / float(w_part @ w_part)
