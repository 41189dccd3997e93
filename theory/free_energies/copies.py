"""The copies of a phase: their second-order expansions, the copies term and the nearest-copy partition.

A phase is the union of the SO(2) orbits of its copies: every distinct feature permutation sigma of
the point (:func:`kgon.symmetry.distinct_permutations`) and its reflection. On the population loss
the copies are equivalent and contribute -log(2 M); on a data set they differ (which feature is dead,
which are neighbours), and each copy is expanded to second order on the data (docs/free_energy.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from kgon.symmetry import dead_columns, distinct_permutations
from theory.free_energies.laplace import flat_index, full_objective, orbit_tangent, transverse_basis

__all__ = ["CopyExpansion", "copies_term", "copy_candidates", "copy_expansions", "nearest_copy"]


@dataclass(frozen=True)
class CopyExpansion:
    """Second-order expansion of f = beta n L + |w|^2 / 2 at one copy (a permuted catalogue point)
    over its live coordinates transverse to the orbit.

    Attributes
    ----------
    z0 : ndarray
        The copy's flat parameters (W.ravel(), b).
    idx : ndarray
        Indices of its live coordinates in z0.
    n_live : int
        Number of live columns.
    x_newton : ndarray
        Newton point (live coordinates).
    f_newton : float
        Value of the second-order model there.
    ev : ndarray
        Transverse Hessian eigenvalues, floored at 1 (the prior's curvature).
    BU : ndarray
        Their eigenvectors (columns, in live coordinates).
    t_hat : ndarray
        Unit orbit tangent at z0 (live coordinates).
    """

    z0: np.ndarray
    idx: np.ndarray
    n_live: int
    x_newton: np.ndarray
    f_newton: float
    ev: np.ndarray
    BU: np.ndarray
    t_hat: np.ndarray


def copy_expansions(W0: np.ndarray, b0: np.ndarray, potential, bn: float, *, all_copies: bool,
                     newton: bool = True) -> list:
    """:class:`CopyExpansion` of every distinct copy (``all_copies``) or of the point itself.

    One Newton step from each copy sigma w*: f(sigma w*) - g^T H^-1 g / 2 at sigma w* - H^-1 g, with H
    the Hessian transverse to the orbit tangent and its eigenvalues floored at 1 (the prior's
    curvature) where a copy is not convex on the data. ``potential`` None: the population loss.
    ``newton`` False: no step (the expansion is centred at the copy itself; for a kinked point,
    whose autodiff Hessian is one-sided, this only shapes a proposal)."""
    r, c = W0.shape
    kind = "population" if potential is None else "data"
    perms = distinct_permutations(W0, b0) if all_copies else [tuple(range(c))]
    Z0 = np.stack([np.concatenate([W0[:, list(p)].ravel(), b0[list(p)]]) for p in perms])
    _, fvg, fh = full_objective(r, c, kind)
    vals, grads = (np.asarray(v) for v in fvg(jnp.asarray(Z0), potential, bn))
    hs = np.asarray(fh(jnp.asarray(Z0), potential, bn))
    out = []
    for k, z0 in enumerate(Z0):
        Wk, bk = z0[: r * c].reshape(r, c), z0[r * c :]
        live = [j for j in range(c) if j not in dead_columns(Wk, bk)]
        idx = flat_index(r, c, live)
        g, H = grads[k][idx], hs[k][np.ix_(idx, idx)]
        t = orbit_tangent(z0, r, c, idx)
        t_hat = t / np.linalg.norm(t)
        B = transverse_basis(t_hat)
        gr = B.T @ g
        ev, U = np.linalg.eigh(B.T @ (0.5 * (H + H.T)) @ B)
        ev = np.maximum(ev, 1.0)  # the prior's curvature floor (a copy that is not convex on the data)
        step = U @ ((U.T @ gr) / ev) if newton else np.zeros_like(gr)
        out.append(CopyExpansion(z0, idx, len(live), z0[idx] - B @ step, float(vals[k]) - 0.5 * float(gr @ step),
                                  ev, B @ U, t_hat))
    return out


def copies_term(expansions: list) -> float:
    """-log sum over the distinct copies sigma of exp(-(V_sigma - V_id)), minus log 2 (reflections).

    On a data set the copies of a phase are not equivalent (which feature is dead, which features
    are neighbours). Each copy's Laplace value V_sigma = f_N + 1/2 log det' H is taken from its
    second-order expansion (:func:`copy_expansions`: one Newton step, which captures how much each
    copy relaxes on the data). For the population loss all V_sigma are equal and the term is
    -log(2 M).
    """
    V = np.array([e.f_newton + 0.5 * float(np.sum(np.log(e.ev))) for e in expansions])
    V = V - V[0]
    m = V.min()
    return -(-m + math.log(float(np.sum(np.exp(-(V - m))))) + math.log(2.0))


def copy_candidates(W0: np.ndarray, b0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct SO(2) orbits of a point's copies: every distinct feature permutation sigma
    (:func:`kgon.symmetry.distinct_permutations`, in its order) and then its reflection diag(1, -1) W_sigma.
    Returns (W (2M, 2, c), b (2M, c)): copy k is row k, its reflection row M + k."""
    perms = distinct_permutations(W0, b0)
    Ws = np.stack([W0[:, list(s)] for s in perms])
    bs = np.stack([b0[list(s)] for s in perms])
    refl = Ws.copy()
    refl[:, 1] *= -1.0
    return np.concatenate([Ws, refl]), np.concatenate([bs, bs])


def nearest_copy(W: np.ndarray, b: np.ndarray, cand_W: np.ndarray, cand_b: np.ndarray) -> np.ndarray:
    """Index of the candidate orbit (:func:`copy_candidates`) nearest to each (W, b) of a batch:
    min over rotations R of |R W - W_k|^2 + |b - b_k|^2, in closed form (2-d Procrustes:
    max_R tr(R W W_k^T) = sqrt((M11 + M22)^2 + (M21 - M12)^2), M = W W_k^T)."""
    def m(a, bb):  # M_ab for every (draw, candidate): (N, K)
        return W[:, a, :] @ cand_W[:, bb, :].T

    rot = np.sqrt((m(0, 0) + m(1, 1)) ** 2 + (m(1, 0) - m(0, 1)) ** 2)
    d = (np.sum(cand_W * cand_W, axis=(1, 2))[None, :] - 2.0 * rot
         + np.sum(cand_b * cand_b, axis=1)[None, :] - 2.0 * (b @ cand_b.T))  # + |W|^2 + |b|^2, same for all k
    return np.argmin(d, axis=1)
