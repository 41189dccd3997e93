"""Hessian geometry of a critical point: spectrum, symmetry zero modes, flat directions, smoothness.

At a critical point w* of L the Hessian H = hess L(w*) (of the active smooth piece; L is only C^1
at kinks, docs/zoo.md) has eigenvalues split into negative / zero / positive. The zero modes
contain

- the tangent space of the O(r) orbit, spanned by (A W*, 0) for A in so(r) (``orbit_dim`` of them);
- **flat** directions along which L is exactly constant near w* (free dead biases, dead columns
  whose outputs and inputs stay silent, output-off columns, ...): found by testing each coordinate
  line w* + t e_k and each single-column rotation circle (W_i -> R(t) W_i in a coordinate plane):
  L = L(w*) to 1e-15 at t in {+-1e-4, +-1e-3} (arc length); the flat dimension is that of the
  span of the tangents of the curves that pass, inside the zero eigenspace;
- **degenerate** directions: zero modes that are neither (the loss grows at higher than second order,
  or along a curved flat set); where they exist the Hessian does not determine the LLC.

``smooth`` is False where L is not C^2 at w*: the one-sided difference quotients of the exact
gradient, (g(w* + h v) - g(w*)) / h and (g(w*) - g(w* - h v)) / h with h = 1e-6, differ by more
than 1e-3 for some coordinate or random direction v (for a C^2 function they differ by O(h)). At
such points (e.g. 4-gons with zero bias, where pair terms sit at a = b = 0) the Hessian does not
decide the geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from kgon.config import require_x64
from kgon.critical.search import ModelSpec, flatten, loss_fn_model
from kgon.symmetry import orbit_tangents

__all__ = ["HessianGeometry", "hessian_geometry", "ZERO_TOL"]

ZERO_TOL = 1e-8
"""Eigenvalues with |lambda| <= ZERO_TOL * max(1, max |lambda|) count as zero."""


@dataclass(frozen=True)
class HessianGeometry:
    """Spectral geometry of a critical point (module docstring).

    Attributes
    ----------
    eigenvalues : ndarray, shape (d,)
        Hessian eigenvalues, ascending.
    eigenvectors : ndarray, shape (d, d)
        Columns are the corresponding orthonormal eigenvectors (flattened as ``flatten(W, b)``).
    signature : (int, int, int)
        Counts of negative, zero and positive eigenvalues.
    orbit_dim, flat_dim, degenerate_dim : int
        Zero modes from the O(r) orbit, from exactly flat directions, and the rest
        (``orbit_dim + flat_dim + degenerate_dim == signature[1]``).
    smooth : bool
        Whether L is C^2 at the point.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    signature: tuple[int, int, int]
    orbit_dim: int
    flat_dim: int
    degenerate_dim: int
    smooth: bool

    @property
    def rank(self) -> int:
        return self.signature[0] + self.signature[2]

    @property
    def nondegenerate(self) -> bool:
        """True where every zero mode is an orbit or flat direction and L is C^2."""
        return self.smooth and self.degenerate_dim == 0


@lru_cache(maxsize=None)
def _grad_hess(model: ModelSpec):
    f = loss_fn_model(model)
    return jax.jit(jax.grad(f)), jax.jit(jax.hessian(f)), jax.jit(jax.vmap(f)), jax.jit(jax.vmap(jax.grad(f)))


def _span_dim(V: np.ndarray, tol: float = 1e-8) -> int:
    if V.size == 0:
        return 0
    s = np.linalg.svd(V, compute_uv=False)
    return int(np.sum(s > tol * max(1.0, s[0])))


def _candidate_curves(W: np.ndarray, b: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate flat curves through w*: coordinate lines w* + t e_k, and exact rotations of a single
    column W_i in each coordinate plane (L may be constant along such a circle but not along its
    tangent line). Returns (unit tangents (n, d), points (n, len(ts), d))."""
    r, c = W.shape
    x = flatten(W, b)
    d = x.size
    tangents = [np.eye(d)]
    points = [x[None, None, :] + ts[None, :, None] * np.eye(d)[:, None, :]]
    for i in range(c):
        if np.linalg.norm(W[:, i]) == 0:
            continue
        for p in range(r):
            for q in range(p + 1, r):
                A = np.zeros((r, r))
                A[p, q], A[q, p] = 1.0, -1.0
                Wd = np.zeros((r, c))
                Wd[:, i] = A @ W[:, i]
                v = flatten(Wd, np.zeros(c))
                nv = np.linalg.norm(v)
                if nv == 0:
                    continue
                pts = []
                for t in ts:
                    th = t / nv  # arc length t along the circle
                    R = np.eye(r)
                    R[p, p] = R[q, q] = np.cos(th)
                    R[p, q], R[q, p] = np.sin(th), -np.sin(th)
                    Wt = W.copy()
                    Wt[:, i] = R @ W[:, i]
                    pts.append(flatten(Wt, b))
                tangents.append((v / nv)[None])
                points.append(np.array(pts)[None])
    return np.concatenate(tangents), np.concatenate(points)


def hessian_geometry(W, b, *, importance=None, input_dist: str = "uniform") -> HessianGeometry:
    """Hessian spectrum of L at a critical point (W, b) with its zero modes classified.

    Parameters
    ----------
    W : array_like, shape (r, c)
    b : array_like, shape (c,)
    importance : array_like of shape (c,), optional, keyword-only
        Feature importance of the potential (:func:`kgon.potential`); None: uniform.
    input_dist : {"uniform", "point"}, keyword-only
        Input distribution of the potential (:func:`kgon.potential`); default ``"uniform"``.

    Returns
    -------
    HessianGeometry
    """
    require_x64("kgon.hessian_geometry")
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    r, c = W.shape
    x = flatten(W, b)
    g, hess, fv, gv = _grad_hess(ModelSpec(c=c, r=r, importance=importance, input_dist=input_dist))
    H = np.asarray(hess(jnp.asarray(x)))
    H = 0.5 * (H + H.T)
    lam, vec = np.linalg.eigh(H)
    tol = ZERO_TOL * max(1.0, float(np.max(np.abs(lam))))
    n_neg = int(np.sum(lam < -tol))
    n_pos = int(np.sum(lam > tol))
    n_zero = lam.size - n_neg - n_pos
    Z = vec[:, np.abs(lam) <= tol]
    # orbit
    T = orbit_tangents(W)
    orbit_dim = _span_dim(T)
    # flat directions among candidate directions, tested on the loss
    L0 = float(fv(jnp.asarray(x[None]))[0])
    ts = np.array([1e-4, -1e-4, 1e-3, -1e-3])
    cand, pts = _candidate_curves(W, b, ts)
    vals = np.asarray(fv(jnp.asarray(pts.reshape(-1, x.size)))).reshape(cand.shape[0], ts.size)
    flat = cand[np.all(np.abs(vals - L0) <= 1e-15, axis=1)]
    # flat directions are zero modes; count the dimension of (orbit + flat) inside the zero space
    if Z.shape[1]:
        both = np.vstack([T.reshape(-1, x.size), flat]) if flat.size else T.reshape(-1, x.size)
        proj = both @ Z  # components inside the zero space
        of_dim = min(_span_dim(proj), n_zero)
        flat_dim = max(0, of_dim - orbit_dim)
    else:
        flat_dim = 0
        orbit_dim = 0
    degenerate_dim = n_zero - orbit_dim - flat_dim
    smooth = _is_c2(x, gv, r, c)
    return HessianGeometry(lam, vec, (n_neg, n_zero, n_pos), orbit_dim, flat_dim, degenerate_dim, smooth)


def _is_c2(x: np.ndarray, gv, r: int, c: int, *, h: float = 1e-6, tol: float = 1e-3) -> bool:
    d = x.size
    rng = np.random.default_rng(0)
    rand = rng.normal(size=(8, d))
    dirs = np.vstack([np.eye(d), rand / np.linalg.norm(rand, axis=1, keepdims=True)])
    pts = np.concatenate([x[None] + h * dirs, x[None], x[None] - h * dirs])
    G = np.asarray(gv(jnp.asarray(pts)))
    n = dirs.shape[0]
    gp, g0, gm = G[:n], G[n], G[n + 1 :]
    jump = np.linalg.norm((gp - g0) / h - (g0 - gm) / h, axis=1)
    return bool(np.all(jump <= tol))
