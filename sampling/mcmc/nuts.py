"""NUTS on the TMS posterior: independent chains, in parallel over CPU devices, vectorised within a device.

:func:`run_nuts` runs the replica engine of :mod:`sampling.mcmc.engine` (numpyro's NUTS kernel on a
batch of replicas, each with its own adapted step size and mass matrix) with one temperature,
beta = 1 (or the posterior's ``beta``), and returns the draws with their diagnostics
(:class:`NutsResult`); parallel tempering (:mod:`sampling.mcmc.tempering`) runs the same engine over
a ladder of temperatures.

Reference: Hoffman & Gelman 2014 (NUTS); Phan, Pradhan & Jankowiak 2019 (numpyro).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from kgon.validation import check_float, check_int
from sampling.data import Dataset, key_data
from sampling.fast_potential import EmpiricalPotential, empirical_potential
from sampling.mcmc.diagnostics import (
    PhaseMixingWarning,
    chain_diagnostics,
    classify_draws,
    phase_switches,
    warn_if_not_mixing,
)
from sampling.mcmc.draws import DrawsView, PosteriorDraws
from sampling.mcmc.engine import check_engine_settings, device_layout, sample_replicas
from sampling.mcmc.init import init_repr, initial_points
from sampling.model import log_prior, unflatten

__all__ = ["NutsConfig", "NutsResult", "run_nuts", "initial_points", "PhaseMixingWarning", "ChainsResult",
           "nuts_chains", "tms_data", "tms_energy", "check_sampler_settings"]


# --------------------------------------------------------------------------------------------
# public NUTS runner
# --------------------------------------------------------------------------------------------


def check_sampler_settings(cfg) -> None:
    """Validate the settings that :class:`NutsConfig` and ``TemperingConfig`` share (chains, warmup,
    samples, target_accept, max_tree_depth, init, r, threshold, beta); raises ``ValueError``."""
    check_engine_settings(chains=cfg.chains, warmup=cfg.warmup, samples=cfg.samples,
                  target_accept=cfg.target_accept, max_tree_depth=cfg.max_tree_depth)
    _checkinit_repr(cfg.init)
    check_int("r", cfg.r, minimum=1)
    _check_threshold(cfg.threshold)
    check_float("beta", cfg.beta, positive=True)


def _checkinit_repr(init) -> str:
    if not isinstance(init, str) or not init:
        raise ValueError(f"`init` must be a non-empty string ('prior', 'catalogue', labels); got {init!r}.")
    return init


def _check_threshold(threshold) -> float | None:
    if threshold is None:
        return None
    return check_float("threshold", threshold, positive=True)


@dataclass(frozen=True)
class NutsConfig:
    """Settings of :func:`run_nuts` (validated on construction; held by :class:`NutsResult`).

    Attributes
    ----------
    chains : int
        Independent chains (>= 1). Default 4.
    warmup : int
        Adaptation transitions per chain, discarded (>= 0). Default 500.
    samples : int
        Recorded transitions per chain (>= 1). Default 500.
    init : str
        Chain initialisation as recorded: ``"prior"`` (default), ``"catalogue"``, comma-separated
        labels, a label, or ``"array"`` (:func:`initial_points`).
    r : int
        Hidden dimensions (>= 1). Default 2.
    threshold : float or None
        Classification distance threshold (> 0); None: the ``kgon.classify`` default.
    target_accept : float
        Target acceptance of the step-size adaptation, in (0, 1). Default 0.8.
    max_tree_depth : int
        Largest NUTS tree depth, 1..15 (2^depth leapfrog steps). Default 10.
    beta : float
        Inverse temperature of the likelihood, > 0: the target is phi(w) exp(-beta n L_n(w)).
        Default 1 (the Bayesian posterior).
    """

    chains: int = 4
    warmup: int = 500
    samples: int = 500
    init: str = "prior"
    r: int = 2
    threshold: float | None = None
    target_accept: float = 0.8
    max_tree_depth: int = 10
    beta: float = 1.0

    def __post_init__(self):
        check_sampler_settings(self)

    def to_dict(self) -> dict:
        """The fields as a JSON-able dict (``method`` = ``"nuts"`` added)."""
        return dict(dataclasses.asdict(self), method="nuts")


@dataclass(frozen=True)
class NutsResult(DrawsView):
    """Posterior draws of independent NUTS chains and their diagnostics.

    Attributes
    ----------
    draws : PosteriorDraws
        The draws (W, b, loss, diverging, labels; also read as ``res.W``, ``res.b``, ...).
    accept_prob : ndarray, shape (chains, samples)
    num_steps : ndarray of int, shape (chains, samples)
        Leapfrog steps per transition (gradient evaluations).
    step_size : ndarray, shape (chains,)
        Adapted step sizes.
    rhat_loss, ess_loss : float
        Split R-hat and bulk effective sample size of the loss over chains (symmetry invariant).
    divergences : int
        Post-warmup divergent transitions, all chains.
    phase_switches : tuple of int or None
        Label changes along each chain (ignoring "other" draws).
    n, c, r : int
    config : NutsConfig
        The settings of the run.
    seed : tuple of int
        The PRNG key data of the run.
    devices : int
        CPU devices the chains ran on.
    """

    draws: PosteriorDraws
    accept_prob: np.ndarray
    num_steps: np.ndarray
    step_size: np.ndarray
    rhat_loss: float
    ess_loss: float
    divergences: int
    phase_switches: tuple[int, ...] | None
    n: int
    c: int
    r: int
    config: NutsConfig = field(default_factory=NutsConfig)
    seed: tuple[int, ...] = ()
    devices: int = 1


@functools.lru_cache(maxsize=None)
def tms_energy(r: int, c: int) -> Callable[[tuple[EmpiricalPotential, jax.Array], jax.Array], jax.Array]:
    """E(z) = beta n L_n(W, b) for flat z (the likelihood term of the TMS posterior at inverse temperature beta).

    The data argument is the pair ``(potential, beta)``; beta is a traced value, so runs at
    different beta share one compiled sampler.
    """

    def energy(data: tuple[EmpiricalPotential, jax.Array], z):
        pot, beta = data
        W, b = unflatten(z, r, c)
        return beta * pot.n * pot.value(W, b)

    return energy


def tms_data(potential: EmpiricalPotential, beta: float):
    """The data argument of :func:`tms_energy`: ``(potential, beta)`` with beta as a float64 array."""
    return (potential, jnp.asarray(beta, dtype=jnp.float64))


def run_nuts(
    rng_key,
    dataset: Dataset,
    *,
    chains: int = 4,
    warmup: int = 500,
    samples: int = 500,
    init="prior",
    r: int = 2,
    catalogue=None,
    threshold: float | None = None,
    target_accept: float = 0.8,
    max_tree_depth: int = 10,
    beta: float = 1.0,
    progress: bool = False,
) -> NutsResult:
    """Independent NUTS chains on the TMS posterior phi(w) exp(-beta n L_n(w)) (docs/sampling.md).

    Chains run in parallel over the host CPU devices (vectorised within a device), each with its
    own windowed step-size and diagonal mass-matrix adaptation during ``warmup``. The likelihood
    is the exact fast L_n (:func:`sampling.empirical_potential`).

    Diagnostics use only symmetry-invariant quantities: split R-hat and ESS of the loss L_n, the
    divergences, and (with a ``catalogue``) the phase label of each draw and the number of phase
    switches per chain. A :class:`PhaseMixingWarning` is issued when chains disagree about their
    dominant phase: then the chains measure their starting basins, not the posterior mass (use
    :func:`sampling.run_tempering`).

    Parameters
    ----------
    rng_key : jax PRNG key
    dataset : Dataset
    chains : int, >= 1
    warmup : int, >= 0
        Adaptation transitions per chain (discarded).
    samples : int, >= 1
        Recorded transitions per chain.
    init : "prior" (default), "catalogue", catalogue label(s), CriticalPoint, or array (chains, d)
        See :func:`initial_points`.
    r : int
        Hidden dimensions (2 in the paper).
    catalogue : kgon.Catalogue, optional
        For catalogue initialisation and for classifying the draws.
    threshold : float, optional
        Classification distance threshold (``kgon.classify`` default when None).
    target_accept : float in (0, 1)
        Target acceptance of the step-size adaptation.
    max_tree_depth : int
        Largest NUTS tree depth (2^depth leapfrog steps).
    beta : float, > 0
        Inverse temperature of the likelihood (default 1: the Bayesian posterior; beta = 1 / log n
        is the WBIC temperature, Watanabe 2013).
    progress : bool
        Show a tqdm progress bar.
    """
    if not isinstance(dataset, Dataset):
        raise ValueError(f"`dataset` must be a sampling.Dataset; got {type(dataset).__name__}.")
    check_float("beta", beta, positive=True)
    config = NutsConfig(chains=chains, warmup=warmup, samples=samples, init=init_repr(init), r=r, threshold=threshold,
                        target_accept=target_accept, max_tree_depth=max_tree_depth, beta=beta)
    chains, warmup, samples, r, beta = config.chains, config.warmup, config.samples, config.r, float(config.beta)
    target_accept, max_tree_depth = float(config.target_accept), config.max_tree_depth
    c = dataset.c
    k_init, k_run = jax.random.split(rng_key)
    z0 = initial_points(k_init, init, count=chains, r=r, c=c, catalogue=catalogue)
    pot = empirical_potential(dataset)
    tr = sample_replicas(
        k_run,
        energy_fn=tms_energy(r, c),
        data=tms_data(pot, beta),
        init_z=z0[:, None, :],
        betas=np.ones(1),
        warmup=warmup,
        samples=samples,
        swaps=False,
        target_accept=target_accept,
        max_tree_depth=max_tree_depth,
        progress=progress,
        desc=f"NUTS n={dataset.n}",
    )
    z = tr.z[:, warmup:]
    W, b = unflatten(z, r, c)
    loss = tr.energy[:, warmup:, 0] / (beta * dataset.n)
    diverging = tr.diverging[:, warmup:, 0].astype(bool)
    diag = chain_diagnostics(loss, diverging)
    labels = switches = None
    if catalogue is not None:
        labels = classify_draws(np.asarray(W), np.asarray(b), catalogue, threshold=threshold)
        switches = phase_switches(labels)
        warn_if_not_mixing(labels, method="nuts", n=dataset.n)
    draws = PosteriorDraws(W=np.asarray(W), b=np.asarray(b), loss=loss, diverging=diverging, n=dataset.n, beta=beta,
                           labels=labels)
    return NutsResult(
        draws=draws, accept_prob=tr.accept_prob[:, warmup:, 0], num_steps=tr.num_steps[:, warmup:, 0],
        step_size=tr.step_size[:, 0], rhat_loss=diag.rhat_loss, ess_loss=diag.ess_loss,
        divergences=diag.divergences, phase_switches=switches,
        n=dataset.n, c=c, r=r, config=config, seed=key_data(rng_key), devices=device_layout(chains),
    )


@dataclass(frozen=True)
class ChainsResult:
    """Output of :func:`nuts_chains` (generic target, flat parameters).

    z : (chains, samples, d) draws; energy : (chains, samples) E(z); diverging : (chains, samples);
    accept_prob, num_steps : (chains, samples); step_size : (chains,); config; seed.
    """

    z: np.ndarray
    energy: np.ndarray
    diverging: np.ndarray
    accept_prob: np.ndarray
    num_steps: np.ndarray
    step_size: np.ndarray
    config: dict = field(default_factory=dict)
    seed: tuple[int, ...] = ()


def nuts_chains(
    rng_key,
    energy_fn: Callable[[Any, jax.Array], jax.Array],
    init_z,
    *,
    warmup: int,
    samples: int,
    data: Any = None,
    log_prior_fn: Callable[[jax.Array], jax.Array] | None = None,
    target_accept: float = 0.8,
    max_tree_depth: int = 10,
    progress: bool = False,
) -> ChainsResult:
    """Independent NUTS chains on p(z) ~ prior(z) exp(-E(z)) for any target (the engine of
    :func:`run_nuts`; chains in parallel over CPU devices).

    ``energy_fn(data, z)`` is E for one flat z; ``init_z`` has shape (chains, d); ``log_prior_fn``
    defaults to the standard normal.
    """
    init_z = np.asarray(init_z, dtype=np.float64)
    if init_z.ndim != 2:
        raise ValueError(f"`init_z` must have shape (chains, d); got {init_z.shape}.")
    chains, warmup, samples, target_accept, max_tree_depth = check_engine_settings(
        chains=init_z.shape[0], warmup=warmup, samples=samples, target_accept=target_accept,
        max_tree_depth=max_tree_depth,
    )
    tr = sample_replicas(
        rng_key, energy_fn=energy_fn, data=data, init_z=init_z[:, None, :], betas=np.ones(1), warmup=warmup,
        samples=samples, swaps=False, log_prior_fn=log_prior if log_prior_fn is None else log_prior_fn,
        target_accept=target_accept, max_tree_depth=max_tree_depth, progress=progress, desc="NUTS",
    )
    post = slice(warmup, warmup + samples)
    return ChainsResult(
        z=tr.z[:, post], energy=tr.energy[:, post, 0], diverging=tr.diverging[:, post, 0].astype(bool),
        accept_prob=tr.accept_prob[:, post, 0], num_steps=tr.num_steps[:, post, 0], step_size=tr.step_size[:, 0],
        config=dict(chains=chains, warmup=warmup, samples=samples, target_accept=target_accept,
                    max_tree_depth=max_tree_depth, devices=device_layout(chains)),
        seed=key_data(rng_key),
    )
