"""The general Toy Model of Superposition on data: input density, importance, posterior and LLC.

Elhage et al. (2022) train the TMS autoencoder f(x) = ReLU(W^T W x + b) on inputs whose features are
active independently with probability p = 1 - S (S the sparsity), uniform on [0, s_i] when active, with
the squared error of output j weighted by its importance I_j (docs/general.md; the population loss is
:func:`kgon.population_loss_density`). This module is the sampling side of that model:

- :func:`make_general_dataset`: a data set D_n of dense inputs (S = None: the high-sparsity inputs of
  :func:`sampling.make_dataset`, x = s_i mu e_i);
- :func:`general_loss_fn`: the empirical loss L_n(W, b) = (1/n) sum_k sum_j I_j (x_kj - f_j(x_k))^2 as a
  jax function ``loss(params, X)`` of ``params = (W, b)``, for :func:`sampling.estimate_llc` (SGLD);
- :func:`general_posterior`: NUTS chains on p(w | D_n) proportional to N(w; 0, I) exp(-beta n L_n(w))
  (:func:`sampling.nuts_chains`), with the loss trace and its chain diagnostics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from kgon.density import reconstruction_loss
from kgon.validation import check_feature_weights, check_int
from sampling.data import key_data, make_dataset
from sampling.mcmc.diagnostics import chain_diagnostics
from sampling.mcmc.draws import DrawsView, PosteriorDraws
from sampling.mcmc.nuts import ChainsResult, nuts_chains
from sampling.model import flatten, unflatten

__all__ = ["GeneralDataset", "GeneralPosterior", "general_loss_fn", "general_posterior", "make_general_dataset"]


@dataclass(frozen=True, eq=False)
class GeneralDataset:
    """A data set of the general TMS: dense inputs X (n, c).

    Attributes
    ----------
    X : ndarray, shape (n, c)
        The inputs, one per row (read-only).
    sparsity : float or None
        S of the input density (None: high-sparsity inputs, exactly one active feature).
    input_scale : tuple of float or None
        Input scales s_i (None: all ones).
    key : tuple of int
        The raw PRNG key data that produced the set.
    """

    X: np.ndarray
    sparsity: float | None
    input_scale: tuple[float, ...] | None
    key: tuple[int, ...]

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def c(self) -> int:
        return int(self.X.shape[1])


def make_general_dataset(rng_key, n: int, c: int, *, sparsity: float | None = None,
                         input_scale=None) -> GeneralDataset:
    """Draw n inputs of the general TMS with c features.

    x_ki = s_i u_ki 1[v_ki < 1 - S] with u, v independent uniforms on [0, 1) (Elhage et al. 2022);
    ``sparsity=None`` draws the high-sparsity inputs x_k = s_{i_k} mu_k e_{i_k} of
    :func:`sampling.make_dataset` (same key, same features and magnitudes).

    Parameters
    ----------
    rng_key : jax PRNG key
        Source of randomness; the same key gives the same data set.
    n, c : int
        Number of samples (>= 1) and features (>= 2).
    sparsity : float or None, keyword-only
        S in [0, 1), or None for the high-sparsity limit.
    input_scale : sequence of c positive floats, optional, keyword-only

    Returns
    -------
    GeneralDataset
    """
    n = check_int("n", n, minimum=1)
    c = check_int("c", c, minimum=2)
    scale = check_feature_weights("input_scale", input_scale, c)
    if sparsity is not None and (isinstance(sparsity, bool) or not isinstance(sparsity, (int, float))
                                 or not 0.0 <= sparsity < 1.0):
        raise ValueError(f"`sparsity` must be None or a number in [0, 1); got {sparsity!r}.")
    key = key_data(rng_key)
    if sparsity is None:
        ds = make_dataset(rng_key, n, c)
        X = np.zeros((n, c))
        X[np.arange(n), ds.features] = ds.mu
    else:
        gen = np.random.default_rng([*key, 0x5A])  # a stream apart from the high-sparsity data of this key
        active = gen.random((n, c)) < 1.0 - float(sparsity)
        X = np.where(active, gen.random((n, c)), 0.0)
    if scale is not None:
        X = X * scale
    X.setflags(write=False)
    return GeneralDataset(X=X, sparsity=None if sparsity is None else float(sparsity),
                          input_scale=None if scale is None else tuple(scale.tolist()), key=key)


@lru_cache(maxsize=None)
def general_loss_fn(importance: tuple[float, ...] | None = None) -> Callable:
    """The empirical loss ``loss((W, b), X)`` = (1/n) sum_k sum_j I_j (x_kj - ReLU((W^T W x_k)_j + b_j))^2.

    A jax function (jit/grad/vmap-compatible), one object per ``importance`` (so compiled SGLD and NUTS
    kernels are reused). Pass it to :func:`sampling.estimate_llc` with ``data=dataset.X``; minibatches
    subsample the rows of X.
    """
    imp = None if importance is None else jnp.asarray(np.asarray(importance, dtype=np.float64))

    def loss(params, X):
        W, b = params
        return jnp.mean(reconstruction_loss(X, W, b, importance=imp, xp=jnp))

    return loss


@dataclass(frozen=True, eq=False)
class GeneralPosterior(DrawsView):
    """NUTS draws of the general-TMS posterior (:func:`general_posterior`).

    Attributes
    ----------
    draws : PosteriorDraws
        The draws (W, b, loss, diverging; also read as ``post.W``, ``post.b``, ``post.loss``).
    chains : ChainsResult
        The sampler's output (energies, divergences, acceptance, step sizes).
    diagnostics : object
        Split R-hat and ESS of the loss and the divergence count (:func:`sampling.chain_diagnostics`).
    n, r, c : int
    sparsity : float or None
    importance : tuple of float or None
    beta : float
    seed : tuple of int
    """

    draws: PosteriorDraws
    chains: ChainsResult
    diagnostics: object
    n: int
    r: int
    c: int
    sparsity: float | None
    importance: tuple[float, ...] | None
    beta: float
    seed: tuple[int, ...]


def _energy(loss_fn, r: int, c: int, nbeta: float):
    def energy(X, z):
        W, b = unflatten(z, r, c)
        return nbeta * loss_fn((W, b), X)

    return energy


def general_posterior(
    rng_key,
    dataset: GeneralDataset,
    *,
    r: int = 2,
    importance=None,
    beta: float = 1.0,
    init=None,
    chains: int = 4,
    warmup: int = 500,
    samples: int = 500,
    progress: bool = False,
) -> GeneralPosterior:
    """NUTS on the general-TMS posterior p(w | D_n) proportional to N(w; 0, I) exp(-beta n L_n(w)).

    The convention of docs/index.md (beta = 1) with L_n the importance-weighted empirical loss of
    :func:`general_loss_fn` on ``dataset``.

    Parameters
    ----------
    rng_key : jax PRNG key
    dataset : GeneralDataset
    r : int, keyword-only
        Hidden dimension (>= 1).
    importance : sequence of c positive floats, optional, keyword-only
    beta : float, keyword-only
        Inverse temperature (> 0); 1 is the posterior.
    init : tuple (W, b) of arrays, optional, keyword-only
        Starting point of every chain (default: N(0, 1) draws from the prior).
    chains, warmup, samples : int, keyword-only
    progress : bool, keyword-only

    Returns
    -------
    GeneralPosterior
    """
    if not isinstance(dataset, GeneralDataset):
        raise ValueError(f"`dataset` must be a GeneralDataset; got {type(dataset).__name__}.")
    r = check_int("r", r, minimum=1)
    c = dataset.c
    imp = check_feature_weights("importance", importance, c)
    imp = None if imp is None else tuple(imp.tolist())
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not (math.isfinite(beta) and beta > 0):
        raise ValueError(f"`beta` must be a positive finite number; got {beta!r}.")
    chains = check_int("chains", chains, minimum=1)
    k_init, k_run = jax.random.split(rng_key)
    if init is None:
        init_z = np.asarray(jax.random.normal(k_init, (chains, r * c + c), dtype=jnp.float64))
    else:
        z0 = np.asarray(flatten(*init), dtype=np.float64)
        if z0.shape != (r * c + c,):
            raise ValueError(f"`init` must be (W, b) with W of shape ({r}, {c}) and b of shape ({c},).")
        init_z = np.tile(z0, (chains, 1))
    loss_fn = general_loss_fn(imp)
    nbeta = float(beta) * dataset.n
    X = jnp.asarray(dataset.X)
    res = nuts_chains(k_run, _energy(loss_fn, r, c, nbeta), init_z, warmup=warmup, samples=samples, data=X,
                      progress=progress)
    loss = res.energy / nbeta
    W, b = unflatten(res.z, r, c)
    draws = PosteriorDraws(W=np.asarray(W), b=np.asarray(b), loss=loss, diverging=np.asarray(res.diverging, dtype=bool),
                           n=dataset.n, beta=float(beta))
    return GeneralPosterior(
        draws=draws, chains=res,
        diagnostics=chain_diagnostics(loss, res.diverging), n=dataset.n, r=r, c=c, sparsity=dataset.sparsity,
        importance=imp, beta=float(beta), seed=key_data(rng_key),
    )
