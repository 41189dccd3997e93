"""Weight-covariance spectra across trajectories (seed 000, after Freedman et al. 2023).

At each checkpoint t the weights of R independent runs, flattened to vectors w_1(t), ..., w_R(t) in
R^D (after aligning every run to a reference modulo the symmetry, :func:`theory.development.align_runs`),
have the sample covariance

    C(t) = (1 / (R - 1)) sum_i (w_i(t) - wbar(t)) (w_i(t) - wbar(t))^T.

Developmental transitions are expected to show as **jumps** of its top eigenvalues, and the top
eigenvectors say which weights move together. C(t) is never formed: its top-k eigenpairs come from
the Lanczos method (:func:`scipy.sparse.linalg.eigsh`) on the linear operator v -> X^T (X v) / (R - 1)
with X the (R, D) centred data, O(R D) per product, so it scales to models with many weights (a dense
eigendecomposition is used only when D <= k + 1 or R is tiny, where Lanczos is not defined).

**Jumps.** A transition in one run adds a new direction of large variance, so it can raise any of the
top-k eigenvalues (the first transition lambda_1, the next one lambda_2, ...). The jump statistic is
the largest rise of log10 lambda_j over a centred window of ``window`` decades of t,

    Delta(t) = max_j [ log10 lambda_j(t 10^{w/2}) - log10 lambda_j(t 10^{-w/2}) ],

and the jumps are the largest Delta(t) above ``jump_threshold`` (default 0.3: an eigenvalue at least
doubles within 0.2 decades), greedily, at least ``window`` decades apart; jumps earlier than
``min_step`` are ignored (the initial noise spreading out is not a transition: it raises lambda
by ~0.5 decades per decade of t, i.e. ~0.1 per window).

**Over SGLD draws** (:func:`sgld_covariance`): the same spectrum of the draws of SGLD chains at one
checkpoint, one draw per ``thin`` steps per chain after ``burnin`` (seed 000 recommends a large
thinning factor, since consecutive SGLD draws are strongly autocorrelated, and many short chains).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

from kgon.validation import check_int
from sampling import SGLDConfig, default_nbeta, empirical_potential, sgld_step
from sampling.dynamics.trajectory import tms_loss
from theory.development.alignment import align_runs

__all__ = ["CovarianceSpectra", "covariance_spectra", "jump_statistic", "sgld_covariance", "top_eigen"]


def top_eigen(X, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Top-k eigenvalues (descending) and eigenvectors (D, k) of the sample covariance of the rows of
    ``X`` (R, D), by Lanczos on a matrix-free operator (module docstring)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"`X` must be (R, D) with R >= 2 samples; got shape {X.shape}.")
    R, D = X.shape
    k = check_int("k", k, minimum=1, maximum=D)
    Xc = X - X.mean(0)
    if D <= k + 1 or R <= 2 or min(R, D) <= k:
        C = Xc.T @ Xc / (R - 1)
        w, V = np.linalg.eigh(C)
        return w[::-1][:k].copy(), V[:, ::-1][:, :k].copy()
    op = LinearOperator((D, D), matvec=lambda v: Xc.T @ (Xc @ v) / (R - 1), dtype=np.float64)
    v0 = np.ones(D) / math.sqrt(D)
    w, V = eigsh(op, k=k, which="LA", v0=v0)
    order = np.argsort(w)[::-1]
    return np.maximum(w[order], 0.0), V[:, order]


@dataclass(frozen=True, eq=False)
class CovarianceSpectra:
    """Top-k eigenpairs of the across-run weight covariance at every checkpoint.

    Attributes
    ----------
    steps : ndarray (K,)
    eigenvalues : ndarray (K, k)
        Descending.
    eigenvectors : ndarray (K, D, k)
    jumps : ndarray of int
        Checkpoint indices of the jumps (module docstring).
    statistic : ndarray (K,)
        The jump statistic Delta(t) (NaN near the ends).
    jump_steps : list of int
    loadings : ndarray (K, k, c)
        Per eigenvector, the squared loading summed over each column's weights (W[:, j] and b[j]):
        which features' weights move.
    config : dict
        k, jump_threshold, min_step, aligned (bool), runs.
    """

    steps: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    jumps: np.ndarray
    statistic: np.ndarray
    jump_steps: list
    loadings: np.ndarray
    config: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"jump_steps": [int(s) for s in self.jump_steps],
                "top_eigenvalues": [[float(x) for x in row] for row in self.eigenvalues],
                "steps": [int(s) for s in self.steps], "config": dict(self.config)}


def jump_statistic(steps, eigenvalues, *, window: float = 0.2) -> np.ndarray:
    """Delta(t) = max_j [log10 lambda_j(t 10^{w/2}) - log10 lambda_j(t 10^{-w/2})] (module docstring),
    lambda_j interpolated linearly in log10 t; NaN where the window leaves the range or t < 1."""
    steps = np.asarray(steps, dtype=np.float64)
    lam = np.asarray(eigenvalues, dtype=np.float64)
    ok = steps >= 1
    lt = np.log10(steps[ok])
    ll = np.log10(np.maximum(lam[ok], 1e-300))
    out = np.full(steps.size, np.nan)
    vals = np.full(lt.size, np.nan)
    for m, x in enumerate(lt):
        lo, hi = x - window / 2, x + window / 2
        if lo < lt[0] or hi > lt[-1]:
            continue
        vals[m] = max(np.interp(hi, lt, ll[:, j]) - np.interp(lo, lt, ll[:, j]) for j in range(ll.shape[1]))
    out[ok] = vals
    return out


def _jumps(steps, stat, threshold, min_step, window):
    steps = np.asarray(steps, dtype=np.float64)
    lt = np.log10(np.maximum(steps, 1.0))
    cand = [k for k in range(steps.size) if steps[k] >= min_step and np.isfinite(stat[k]) and stat[k] > threshold]
    out = []
    for k in sorted(cand, key=lambda k: -stat[k]):
        if all(abs(lt[k] - lt[j]) > window for j in out):
            out.append(k)
    return np.array(sorted(out), dtype=int)


def _loadings(vecs, r, c):
    """(D, k) eigenvectors of flattened (W (r, c), b (c,)) -> (k, c) squared loading per column."""
    k = vecs.shape[1]
    Wv = vecs[: r * c].reshape(r, c, k)
    bv = vecs[r * c: r * c + c]
    return ((Wv ** 2).sum(0) + bv ** 2).T


def covariance_spectra(W, b, steps, *, k: int = 3, align: bool = True, reference: int = 0,
                       jump_threshold: float = 0.3, window: float = 0.2, min_step: int = 100) -> CovarianceSpectra:
    """Top-k eigenvalues of the across-run covariance of (W, b) at every checkpoint (module docstring).

    Parameters
    ----------
    W, b : array_like (R, K, r, c), (R, K, c)
        Checkpoints of R runs (R >= 3).
    steps : array_like (K,)
    k : int, keyword-only
        Eigenpairs per checkpoint (default 3).
    align : bool, keyword-only
        Align each run's trajectory to run ``reference`` modulo O(r) x S_c first (default True).
    jump_threshold : float, keyword-only
        Smallest increase of log10 lambda_j across the window that is a jump (default 0.3: an
        eigenvalue at least doubles).
    window : float, keyword-only
        Width of the centred window in decades (default 0.2); jumps closer than this are merged.
    min_step : int, keyword-only
        Ignore jumps before this step (default 100).
    """
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    steps = np.asarray(steps)
    if W.ndim != 4 or b.shape != W.shape[:2] + W.shape[3:] or steps.shape != (W.shape[1],):
        raise ValueError(f"`W` (R, K, r, c), `b` (R, K, c) and `steps` (K,) do not fit: {W.shape}, {b.shape}, "
                         f"{steps.shape}.")
    if W.shape[0] < 3:
        raise ValueError(f"the covariance across runs needs at least 3 runs; got {W.shape[0]}.")
    if align:
        W, b, _ = align_runs(W, b, reference=reference)
    R, K, r, c = W.shape
    X = np.concatenate([W.reshape(R, K, r * c), b], axis=2)  # (R, K, D)
    ok = np.all(np.isfinite(X), axis=(1, 2))
    X = X[ok]
    D = X.shape[2]
    kk = min(k, D)
    lam = np.zeros((K, kk))
    vec = np.zeros((K, D, kk))
    for t in range(K):
        lam[t], vec[t] = top_eigen(X[:, t], kk)
    stat = jump_statistic(steps, lam, window=window)
    jumps = _jumps(steps, stat, float(jump_threshold), min_step, window)
    load = np.stack([_loadings(vec[t], r, c) for t in range(K)])
    return CovarianceSpectra(steps=steps, eigenvalues=lam, eigenvectors=vec, jumps=jumps, statistic=stat,
                             jump_steps=[int(steps[j]) for j in jumps], loadings=load,
                             config={"k": kk, "jump_threshold": float(jump_threshold), "window": float(window),
                                     "min_step": int(min_step),
                                     "aligned": bool(align), "reference": int(reference), "runs": int(X.shape[0])})


def sgld_covariance(rng_key, W, b, dataset, *, k: int = 3, thin: int = 100,
                    config: SGLDConfig | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k covariance eigenpairs of SGLD draws at a fixed parameter (module docstring).

    ``config.chains`` chains (default 64, at least 2) start at (W, b), run ``config.burnin`` steps
    (default 500), then keep one draw every ``thin`` steps (``config.draws`` per chain, default 10); the
    SGLD step is :func:`sampling.sgld_step` on the exact empirical loss of ``dataset`` (full batch) with
    the localisation ``config.gamma`` (default 1), step ``config.eps`` (default 1e-3) and inverse
    temperature ``config.nbeta`` (default n / log n). Returns ``(eigenvalues (k,), eigenvectors (D, k),
    draws (chains * draws, D))``.
    """
    config = SGLDConfig() if config is None else config
    chains = check_int("chains", 64 if config.chains is None else config.chains, minimum=2)
    burnin = 500 if config.burnin is None else config.burnin
    draws = 10 if config.draws is None else config.draws
    eps = 1e-3 if config.eps is None else config.eps
    gamma = config.gamma
    thin = check_int("thin", thin, minimum=1)
    nbeta = default_nbeta(dataset.n) if config.nbeta is None else config.nbeta
    pot = empirical_potential(dataset)
    w_star = (jnp.asarray(W, dtype=jnp.float64), jnp.asarray(b, dtype=jnp.float64))
    grad = jax.grad(lambda w: tms_loss(w, pot))

    def step(w, key):
        return sgld_step(key, w, grad(w), w_star, eps=eps, gamma=gamma, nbeta=nbeta), None

    def block(w, key, n):
        w, _ = jax.lax.scan(step, w, jax.random.split(key, n))
        return w

    @jax.jit
    def chain(key):
        k0, k1 = jax.random.split(key)
        w = block(w_star, k0, max(burnin, 1)) if burnin else w_star

        def take(w, kk):
            w = block(w, kk, thin)
            return w, jnp.concatenate([jnp.ravel(w[0]), w[1]])

        _, out = jax.lax.scan(take, w, jax.random.split(k1, draws))
        return out

    keys = jax.random.split(rng_key, chains)
    samples = np.asarray(jax.vmap(chain)(keys)).reshape(chains * draws, -1)
    lam, vec = top_eigen(samples, min(k, samples.shape[1]))
    return lam, vec, samples
