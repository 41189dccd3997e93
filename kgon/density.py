"""The TMS population loss under a general input density (Elhage et al. 2022, "Toy Models of Superposition").

Each feature is active independently with probability p = 1 - S (S the *sparsity*); an active feature i
takes the value x_i = s_i u_i with u_i ~ Uniform[0, 1] (s_i the input scale, 1 by default); the loss
weights output coordinate j by its importance I_j (docs/index.md, conventions; docs/general.md):

    L_S(W, b) = E_x sum_j I_j (x_j - ReLU((W^T W x)_j + b_j))^2.

There is no closed form for all of it, but most of it is exact. Split the expectation by the active set
A = {i : x_i != 0}, P(A) = p^|A| (1 - p)^(c - |A|):

- A empty: the output is ReLU(b), exactly sum_j I_j ReLU(b_j)^2;
- |A| = 1: the high-sparsity closed form, exactly c * L_HS(W, b) summed over the c singletons, with L_HS
  the potential of :func:`kgon.potential` (same I and s);
- |A| = k >= 2: estimated by randomised quasi-Monte Carlo (scrambled Sobol points), stratified by k:
  P(|A| = k) E[loss | |A| = k], with the k-subset drawn uniformly by ranking c uniforms. The standard
  error comes from independent scramblings (replicates).

So L_S = (1-p)^c L_0 + c p (1-p)^(c-1) L_HS + sum_{k >= 2} P(|A| = k) E_k, and as S -> 1 the ratio
L_S / P(exactly one active) tends to L_HS when every b_j <= 0 (then L_0 = 0); the remainder is O(p).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import qmc

from kgon.evaluators import potential_numpy
from kgon.validation import check_feature_weights, check_int, check_params

__all__ = ["DensityLoss", "population_loss_density", "reconstruction_loss"]


def reconstruction_loss(X, W, b, *, importance=None, xp=np):
    """Per-sample weighted squared error sum_j I_j (x_j - ReLU((W^T W x)_j + b_j))^2.

    Parameters
    ----------
    X : array_like, shape (n, c)
        Inputs, one per row.
    W : array_like, shape (r, c) or (..., r, c)
        One parameter or a batch.
    b : array_like, shape (c,) or (..., c)
    importance : array_like of shape (c,), optional, keyword-only
        Output weights I_j (default all ones).
    xp : module, keyword-only
        The array backend: ``numpy`` (default, float64) or ``jax.numpy`` (jit- and grad-compatible;
        the empirical loss of the samplers, :mod:`sampling.general`).

    Returns
    -------
    array, shape (..., n)
    """
    if xp is np:
        X, W, b = (np.asarray(v, dtype=np.float64) for v in (X, W, b))
    G = xp.swapaxes(W, -1, -2) @ W  # (..., c, c), symmetric
    err = (X - xp.maximum(X @ G + b[..., None, :], 0.0)) ** 2
    if importance is not None:
        err = err * xp.asarray(importance)
    return err.sum(axis=-1)


@dataclass(frozen=True)
class DensityLoss:
    """The population loss L_S(W, b) under the input density with sparsity S (module docstring).

    Attributes
    ----------
    value : float (or ndarray for a batch of parameters)
        The estimate of L_S: ``exact_part + sampled_part``.
    stderr : float
        Standard error of ``value`` (from the randomised QMC replicates; 0 where nothing is sampled).
    exact_part : float
        The exact contribution of inputs with at most one active feature.
    sampled_part : float
        The RQMC estimate of the contribution of inputs with two or more active features.
    p_one : float
        P(exactly one feature active) = c p (1 - p)^(c - 1).
    high_sparsity : float
        The high-sparsity closed form L_HS(W, b) (the limit of ``value / p_one`` as S -> 1 for b <= 0).
    sparsity, n_points, replicates, seed
        The settings that produced the estimate.
    """

    value: float
    stderr: float
    exact_part: float
    sampled_part: float
    p_one: float
    high_sparsity: float
    sparsity: float
    n_points: int
    replicates: int
    seed: int

    def to_dict(self) -> dict:
        """Dictionary of every field (arrays as nested lists)."""
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()}


def _size_probabilities(c: int, p: float) -> np.ndarray:
    """P(|A| = k), k = 0..c, for c independent features active with probability p."""
    k = np.arange(c + 1)
    logc = np.array([math.lgamma(c + 1) - math.lgamma(j + 1) - math.lgamma(c - j + 1) for j in k])
    with np.errstate(divide="ignore"):
        logp = logc + k * (math.log(p) if p > 0 else -np.inf) + (c - k) * (math.log1p(-p) if p < 1 else -np.inf)
    out = np.exp(np.nan_to_num(logp, nan=-np.inf))
    if p == 0:
        out = (k == 0).astype(float)
    if p == 1:
        out = (k == c).astype(float)
    return out


def _conditional_means(W, b, importance, scale, k: int, n_points: int, replicates: int, seed: int) -> np.ndarray:
    """RQMC estimates of E[loss | |A| = k], shape (replicates, ...) for parameters W (..., r, c)."""
    c = W.shape[-1]
    batch = W.shape[:-2]
    means = np.empty((replicates,) + batch)
    chunk = max(1, int(2**24 // (n_points * c)))  # bounded memory over the parameter batch
    Wf, bf = W.reshape((-1,) + W.shape[-2:]), b.reshape(-1, c)
    for rep in range(replicates):
        sobol = qmc.Sobol(d=c + k, scramble=True, seed=np.random.default_rng([seed, k, rep]))
        U = sobol.random(n_points)
        active = np.argsort(U[:, :c], axis=1)[:, :k]  # a uniform k-subset per point
        X = np.zeros((n_points, c))
        np.put_along_axis(X, active, U[:, c:] * scale[active], axis=1)
        vals = np.concatenate([
            reconstruction_loss(X, Wf[i:i + chunk], bf[i:i + chunk], importance=importance).mean(-1)
            for i in range(0, len(Wf), chunk)
        ])
        means[rep] = vals.reshape(batch)
    return means


def population_loss_density(
    W,
    b,
    *,
    sparsity: float,
    importance=None,
    input_scale=None,
    n_points: int = 4096,
    replicates: int = 8,
    seed: int = 0,
) -> DensityLoss:
    """Population loss of the TMS autoencoder when each feature is active with probability 1 - S.

    L_S(W, b) = E_x sum_j I_j (x_j - ReLU((W^T W x)_j + b_j))^2 with x_i = s_i u_i on the active set
    (module docstring for the decomposition: sets of size <= 1 exact, larger sets by stratified RQMC).

    Parameters
    ----------
    W : array_like, shape (r, c) or (..., r, c)
        One parameter, or a batch (then the fields of the result are arrays of the batch shape; the
        same quasi-random points serve every parameter of the batch).
    b : array_like, shape (c,) or (..., c)
    sparsity : float, keyword-only
        S in [0, 1): each feature is active with probability p = 1 - S. (S -> 1 is the high-sparsity
        limit of :func:`kgon.potential`, reached through ``value / p_one``.)
    importance, input_scale : array_like of shape (c,), optional, keyword-only
        Output weights I_j and input scales s_i, as in :func:`kgon.potential`.
    n_points : int, keyword-only
        Sobol points per active-set size and replicate (a power of 2 keeps the Sobol balance).
    replicates : int, keyword-only
        Independent scramblings (>= 2), for the standard error.
    seed : int, keyword-only
        Seed of the scramblings; the same seed gives the same estimate.

    Returns
    -------
    DensityLoss
    """
    W, b = check_params(W, b)
    c = W.shape[-1]
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not (0.0 <= float(sparsity) < 1.0):
        raise ValueError(f"`sparsity` must be a number in [0, 1); got {sparsity!r}.")
    importance = check_feature_weights("importance", importance, c)
    scale = check_feature_weights("input_scale", input_scale, c)
    n_points = check_int("n_points", n_points, minimum=16)
    replicates = check_int("replicates", replicates, minimum=2)
    seed = check_int("seed", seed, minimum=0)
    p = 1.0 - float(sparsity)
    probs = _size_probabilities(c, p)
    imp = np.ones(c) if importance is None else importance
    s = np.ones(c) if scale is None else scale
    l_empty = np.sum(imp * np.maximum(b, 0.0) ** 2, axis=-1)
    l_hs = potential_numpy(W, b, importance=importance, input_scale=scale)
    exact = probs[0] * l_empty + probs[1] * l_hs
    sampled, var = np.zeros(W.shape[:-2]), np.zeros(W.shape[:-2])
    for k in range(2, c + 1):
        if probs[k] == 0.0:
            continue
        means = _conditional_means(W, b, importance, s, k, n_points, replicates, seed)
        sampled = sampled + probs[k] * means.mean(axis=0)
        var = var + probs[k] ** 2 * means.var(axis=0, ddof=1) / replicates
    scalar = W.ndim == 2
    conv = float if scalar else np.asarray
    return DensityLoss(
        value=conv(exact + sampled),
        stderr=conv(np.sqrt(var)),
        exact_part=conv(exact),
        sampled_part=conv(sampled),
        p_one=float(probs[1]),
        high_sparsity=conv(l_hs),
        sparsity=float(sparsity),
        n_points=n_points,
        replicates=replicates,
        seed=seed,
    )
