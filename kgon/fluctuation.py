"""Per-feature losses of a TMS configuration and their exact moments over the input distribution.

For one input x = mu e_i (feature i, magnitude mu in [0, 1]) the loss of (W, b) is

    l(mu e_i; W, b) = sum_j ( mu delta_ji - ReLU(a_ji mu + b_j) )^2 =: l_i(mu),     a_ji = W_j . W_i,

so the population loss is L(W, b) = (1/c) sum_i int_0^1 l_i(mu) dmu (docs/index.md, Conventions).
Each l_i is piecewise quadratic in mu, with a kink wherever one ReLU switches,
mu = t_ji = -b_j / a_ji in (0, 1). The fluctuations of the empirical loss over data sets are sums of
these functions over the samples, so their mean and covariance are integrals of l_i and of products
l_i l'_m of two configurations (of degree 4 in mu between the kinks of both): Gauss-Legendre with
3 nodes on every piece between consecutive kinks integrates them exactly (to rounding).

This is the population maths behind the data-conditional free energy of docs/free_energy.md
("The data term"): a feature permutation sigma of a configuration has the per-feature losses
l_{sigma(i)}, so the empirical losses of all copies of a phase follow from the c x c sums
T[i, m] = sum over the samples of feature i of l_m(mu).
"""

from __future__ import annotations

import numpy as np

__all__ = ["feature_losses", "feature_loss_kinks", "feature_loss_moments"]

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(3)  # exact for degree <= 5


def _check(W, b) -> tuple[np.ndarray, np.ndarray]:
    W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if W.ndim != 2 or b.shape != (W.shape[1],):
        raise ValueError(f"`W` must have shape (r, c) and `b` shape (c,); got {W.shape} and {b.shape}.")
    return W, b


def feature_losses(W, b, mu) -> np.ndarray:
    """l_m(mu; W, b) = sum_j (mu delta_jm - ReLU(a_jm mu + b_j))^2 for every input feature m.

    Parameters
    ----------
    W : array (r, c)
        Column W[:, m] is feature m's embedding.
    b : array (c,)
    mu : array (...)
        Magnitudes (any shape).

    Returns
    -------
    ndarray (..., c)
        The loss of the input mu e_m, for m = 0..c-1 (module docstring).
    """
    W, b = _check(W, b)
    A = W.T @ W  # A[j, m] = a_jm
    mu = np.asarray(mu, dtype=np.float64)[..., None, None]  # (..., 1, 1): axes j, m
    delta = np.eye(A.shape[0])
    out = mu * delta - np.maximum(A * mu + b[:, None], 0.0)
    return np.sum(out * out, axis=-2)


def feature_loss_kinks(W, b) -> np.ndarray:
    """The sorted distinct kinks t_jm = -b_j / a_jm in (0, 1) of every l_m (ReLU switching points)."""
    W, b = _check(W, b)
    A = W.T @ W
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -b[:, None] / A
    t = t[np.isfinite(t) & (t > 0) & (t < 1)]
    return np.unique(t)


def feature_loss_moments(Ws, bs) -> tuple[np.ndarray, np.ndarray]:
    """Exact first and second moments of the per-feature losses of several configurations.

    For configurations p = 0..P-1 (``Ws[p]``, ``bs[p]``) and input features m,

        mean[p, m] = int_0^1 l^p_m(mu) dmu,
        second[p, m, q, k] = int_0^1 l^p_m(mu) l^q_k(mu) dmu,

    by 3-node Gauss-Legendre on every piece between the kinks of all configurations (exact: the
    integrands are polynomials of degree <= 4 there). With x = mu e_i, i uniform over the c features,
    a configuration's loss l(x) = l_i(mu) has E l = mean[p].mean() (= L(W_p, b_p)), and a sum over
    samples of feature i of l_m has per-sample second moment second[p, m, q, k] (docs/free_energy.md,
    "The Gaussian limit").

    Parameters
    ----------
    Ws : sequence of arrays (r, c)
    bs : sequence of arrays (c,)

    Returns
    -------
    mean : ndarray (P, c)
    second : ndarray (P, c, P, c)
    """
    Ws, bs = list(Ws), list(bs)
    if len(Ws) != len(bs) or not Ws:
        raise ValueError(f"`Ws` and `bs` must be non-empty and of equal length; got {len(Ws)} and {len(bs)}.")
    pairs = [_check(W, b) for W, b in zip(Ws, bs)]
    cs = {W.shape[1] for W, _ in pairs}
    if len(cs) != 1:
        raise ValueError(f"every configuration must have the same number of features; got {sorted(cs)}.")
    edges = np.unique(np.concatenate([[0.0, 1.0], *(feature_loss_kinks(W, b) for W, b in pairs)]))
    lo, hi = edges[:-1], edges[1:]
    half = 0.5 * (hi - lo)
    nodes = (0.5 * (hi + lo))[:, None] + half[:, None] * _GL_NODES[None, :]
    weights = (half[:, None] * _GL_WEIGHTS[None, :]).ravel()
    vals = np.stack([feature_losses(W, b, nodes.ravel()) for W, b in pairs], axis=1)  # (nodes, P, c)
    mean = np.einsum("k,kpm->pm", weights, vals)
    second = np.einsum("k,kpm,kql->pmql", weights, vals, vals)
    return mean, second
