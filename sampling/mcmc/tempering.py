"""Parallel tempering (replica exchange) for posterior mass across phases.

Independent chains started from dispersed points measure the basins of attraction of the phases
once n is large: the barriers between phases grow like n (docs/sampling.md). Parallel tempering runs,
for every chain, K replicas at inverse temperatures 1 = beta_0 > beta_1 > ... > beta_{K-1} on the
likelihood term,

    p_k(w)  proportional to  phi(w) exp( -beta_k E(w) ),         E(w) = n L_n(w) for the TMS,

(phi the N(0, I) prior, untempered, so that the hottest replica is close to the prior and moves
freely between phases). After every NUTS transition of every replica (vectorised numpyro NUTS, each
temperature with its own adapted step size and diagonal mass matrix, :mod:`sampling.mcmc.nuts`),
neighbouring temperatures (k, k+1) exchange states with the Metropolis probability

    min(1, exp( (beta_k - beta_{k+1}) (E(w_k) - E(w_{k+1})) )),

proposing the even pairs and the odd pairs on alternate sweeps (the non-reversible "DEO" scheme of
Okabe et al. 2001 / Syed et al. 2021, which lets replicas travel the ladder ballistically). The
states at beta_0 = 1 are exact draws from the posterior after convergence, and they visit the
phases with their posterior mass because each replica keeps cycling to the hot end and back.

Ladder: geometric between 1 and ``beta_min`` by default, then (``tune_ladder``) re-spaced during
the first half of the warmup so that all neighbouring pairs have the same rejection rate (the
communication barrier is equalised; Syed et al. 2021, §5.1). Reported: the per-pair swap
acceptance, the number of round trips (cold end -> hot end) and the adapted step sizes.

References: Swendsen & Wang 1986; Geyer 1991; Earl & Deem 2005 (review); Syed, Bouchard-Côté,
Deligiannidis & Doucet 2021 (non-reversible PT, JRSS-B).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from kgon.validation import check_float, check_int
from sampling.data import Dataset, key_data
from sampling.fast_potential import empirical_potential
from sampling.mcmc.diagnostics import chain_diagnostics, classify_draws, phase_switches, warn_if_not_mixing
from sampling.mcmc.draws import DrawsView, PosteriorDraws
from sampling.mcmc.engine import check_engine_settings, device_layout, sample_replicas
from sampling.mcmc.init import init_repr, initial_points
from sampling.mcmc.nuts import check_sampler_settings, tms_data, tms_energy
from sampling.model import log_prior, unflatten

__all__ = ["ParallelTemperingResult", "TemperingConfig", "TemperingResult", "parallel_tempering", "run_tempering",
           "geometric_ladder"]


def geometric_ladder(n_temps: int, beta_min: float) -> np.ndarray:
    """beta_k = beta_min^(k / (K - 1)), k = 0..K-1 (1 down to beta_min)."""
    n_temps = check_int("n_temps", n_temps, minimum=1)
    if isinstance(beta_min, bool) or not isinstance(beta_min, (int, float)) or not 0 < beta_min <= 1:
        raise ValueError(f"`beta_min` must be a number in (0, 1]; got {beta_min!r}.")
    if n_temps == 1:
        return np.ones(1)
    return float(beta_min) ** (np.arange(n_temps) / (n_temps - 1))


@dataclass(frozen=True)
class ParallelTemperingResult:
    """Output of :func:`parallel_tempering` (generic target, flat parameters).

    Attributes
    ----------
    z : ndarray, shape (chains, samples, d)
        Draws at beta = 1.
    energy : ndarray, shape (chains, samples)
        E(z) of the draws at beta = 1.
    energy_mean : ndarray, shape (K,)
        Posterior mean of E at each temperature (all chains, post warmup).
    betas : ndarray, shape (K,)
        The final (tuned) ladder, betas[0] = 1.
    swap_rate : ndarray, shape (K - 1,)
        Mean Metropolis acceptance of the proposed swaps of each neighbouring pair (post warmup).
    round_trips : ndarray of int, shape (chains,)
        Replicas returning to the hot end after visiting the cold end (whole run).
    step_size : ndarray, shape (chains, K)
    accept_prob : ndarray, shape (K,)
        Mean NUTS acceptance per temperature.
    num_steps : ndarray, shape (K,)
        Mean leapfrog steps per transition per temperature.
    diverging : ndarray of bool, shape (chains, samples)
        Divergences of the beta = 1 transitions.
    ladder_history : tuple of ndarray
        Ladders used during warmup (initial first).
    config : dict
    seed : tuple of int
    energy_ladder : ndarray or None, shape (chains, samples, K)
        E of every recorded draw at every temperature (the thermodynamic integral's input,
        :func:`sampling.thermodynamic_integral`).
    """

    z: np.ndarray
    energy: np.ndarray
    energy_mean: np.ndarray
    betas: np.ndarray
    swap_rate: np.ndarray
    round_trips: np.ndarray
    step_size: np.ndarray
    accept_prob: np.ndarray
    num_steps: np.ndarray
    diverging: np.ndarray
    ladder_history: tuple = ()
    config: dict = field(default_factory=dict)
    seed: tuple[int, ...] = ()
    energy_ladder: np.ndarray | None = None


def parallel_tempering(
    rng_key,
    energy_fn: Callable[[Any, jax.Array], jax.Array],
    init_z,
    *,
    betas,
    warmup: int,
    samples: int,
    data: Any = None,
    log_prior_fn: Callable[[jax.Array], jax.Array] | None = None,
    target_accept: float = 0.8,
    max_tree_depth: int = 6,
    tune_ladder: bool = True,
    progress: bool = False,
    desc: str = "tempering",
) -> ParallelTemperingResult:
    """Parallel tempering with NUTS moves on p_k(z) ~ prior(z) exp(-beta_k E(z)) (module docstring).

    Parameters
    ----------
    rng_key : jax PRNG key
    energy_fn : callable (data, z) -> float
        The tempered term E(z) (pure jax), e.g. n L_n.
    init_z : array, shape (chains, K, d)
        Starting point of every replica.
    betas : array, shape (K,)
        Decreasing inverse temperatures with betas[0] = 1.
    warmup, samples : int
        Sweeps (one NUTS transition of every replica plus one swap round) of adaptation and of
        recording.
    data : pytree, optional
        Passed to ``energy_fn`` as a traced argument.
    log_prior_fn : callable z -> float, optional
        The untempered log prior (default: standard normal).
    target_accept, max_tree_depth : NUTS settings (per replica).
    tune_ladder : bool
        Equalise the pairwise swap rejection rates during the first half of the warmup.
    progress : bool
        tqdm progress bar.
    """
    _, warmup, samples, target_accept, max_tree_depth = check_engine_settings(
        chains=1, warmup=warmup, samples=samples, target_accept=target_accept, max_tree_depth=max_tree_depth
    )
    betas = np.asarray(betas, dtype=np.float64)
    if betas.ndim != 1 or betas.size < 1 or not np.all(np.isfinite(betas)):
        raise ValueError(f"`betas` must be a non-empty 1-d array; got {betas!r}.")
    if betas[0] != 1.0 or np.any(np.diff(betas) >= 0) or betas[-1] <= 0:
        raise ValueError(f"`betas` must decrease strictly from betas[0] = 1 to a positive value; got {betas.tolist()}.")
    init_z = np.asarray(init_z, dtype=np.float64)
    if init_z.ndim != 3 or init_z.shape[1] != betas.size:
        raise ValueError(f"`init_z` must have shape (chains, {betas.size}, d); got {init_z.shape}.")
    tr = sample_replicas(
        rng_key,
        energy_fn=energy_fn,
        data=data,
        init_z=init_z,
        betas=betas,
        warmup=warmup,
        samples=samples,
        swaps=True,
        log_prior_fn=log_prior if log_prior_fn is None else log_prior_fn,
        target_accept=target_accept,
        max_tree_depth=max_tree_depth,
        tune_ladder=tune_ladder,
        progress=progress,
        desc=desc,
    )
    K = betas.size
    post = slice(warmup, warmup + samples)
    sp = tr.swap_prob[:, post].reshape(-1, max(K - 1, 0))
    swap_rate = np.nanmean(sp, axis=0) if K > 1 else np.zeros(0)
    config = dict(
        chains=init_z.shape[0], n_temps=K, warmup=warmup, samples=samples, target_accept=target_accept,
        max_tree_depth=max_tree_depth, tune_ladder=tune_ladder, initial_betas=betas.tolist(),
        devices=device_layout(init_z.shape[0]),
    )
    return ParallelTemperingResult(
        z=tr.z[:, post],
        energy=tr.energy[:, post, 0],
        energy_mean=tr.energy[:, post].mean(axis=(0, 1)),
        betas=tr.betas,
        swap_rate=swap_rate,
        round_trips=tr.round_trips,
        step_size=tr.step_size,
        accept_prob=tr.accept_prob[:, post].mean(axis=(0, 1)),
        num_steps=tr.num_steps[:, post].mean(axis=(0, 1)),
        diverging=tr.diverging[:, post, 0].astype(bool),
        ladder_history=tr.ladder_history,
        config=config,
        seed=key_data(rng_key),
        energy_ladder=np.asarray(tr.energy[:, post]),
    )


@dataclass(frozen=True)
class TemperingConfig:
    """Settings of :func:`run_tempering` (validated on construction; held by :class:`TemperingResult`).

    Attributes
    ----------
    chains : int
        Independent ladders (>= 1). Default 2.
    warmup, samples : int
        Sweeps of adaptation (>= 0) and of recording (>= 1). Default 500 each.
    n_temps : int or None
        Ladder size K (>= 1); None: :func:`default_ladder_size` (n) (a result holds the value used).
    beta_min : float or None
        Hottest ladder value, in (0, 1]; None: min(1, 1 / (beta n)) (a result holds the value used).
    init : str
        Initialisation of the target replicas as recorded (``"prior"`` default; see
        :func:`sampling.initial_points`).
    r : int
        Hidden dimensions (>= 1). Default 2.
    threshold : float or None
        Classification threshold (> 0); None: the ``kgon.classify`` default.
    target_accept : float
        NUTS target acceptance per replica, in (0, 1). Default 0.8.
    max_tree_depth : int
        NUTS tree depth per replica, 1..15. Default 6.
    tune_ladder : bool
        Equalise the swap rejection rates during warmup. Default True.
    beta : float
        Inverse temperature of the target replica, > 0: phi(w) exp(-beta n L_n(w)). Default 1.
    """

    chains: int = 2
    warmup: int = 500
    samples: int = 500
    n_temps: int | None = None
    beta_min: float | None = None
    init: str = "prior"
    r: int = 2
    threshold: float | None = None
    target_accept: float = 0.8
    max_tree_depth: int = 6
    tune_ladder: bool = True
    beta: float = 1.0

    def __post_init__(self):
        check_sampler_settings(self)
        if self.n_temps is not None:
            check_int("n_temps", self.n_temps, minimum=1)
        if self.beta_min is not None:
            check_float("beta_min", self.beta_min, positive=True, maximum=1.0)
        if not isinstance(self.tune_ladder, bool):
            raise ValueError(f"`tune_ladder` must be True or False; got {self.tune_ladder!r}.")

    def to_dict(self) -> dict:
        """The fields as a JSON-able dict (``method`` = ``"tempered"`` added)."""
        return dict(dataclasses.asdict(self), method="tempered")


@dataclass(frozen=True)
class TemperingResult(DrawsView):
    """Posterior draws at beta = 1 from parallel tempering on the TMS posterior, with diagnostics.

    Attributes
    ----------
    draws : PosteriorDraws
        The draws of the target replica (W, b, loss, diverging, labels; also read as ``res.W``, ...).
    rhat_loss, ess_loss : float
        Split R-hat and ESS of the loss over chains (beta = 1).
    divergences : int
    phase_switches : tuple of int or None
    pt : ParallelTemperingResult
        The ladder, swap rates, round trips, step sizes, per-temperature mean loss (``pt.z`` holds the
        flat draws).
    n, c, r : int
    config : TemperingConfig
        The settings, with ``n_temps`` and ``beta_min`` as used.
    seed : tuple of int
    """

    draws: PosteriorDraws
    rhat_loss: float
    ess_loss: float
    divergences: int
    phase_switches: tuple[int, ...] | None
    pt: ParallelTemperingResult
    n: int
    c: int
    r: int
    config: TemperingConfig = field(default_factory=TemperingConfig)
    seed: tuple[int, ...] = ()


def default_ladder_size(n: int) -> int:
    """Default number of temperatures for beta_min = 1/n: about 2.5 per e-fold of n, rounded up to a
    multiple of 4 (>= 4; so that nearby n share one compiled sampler).

    Swap rejection between neighbours at spacing delta in log beta is about delta sqrt(C / pi), C
    the heat capacity (~ the LLC, 7-8.5 near the c = 6 phases); 2.5 temperatures per e-fold gives
    swap acceptance around 0.5-0.6 (measured: docs/sampling.md).
    """
    k = int(math.ceil(2.5 * math.log(max(n, 2))))
    return max(4, 4 * math.ceil(k / 4))


def _with_ladder(config: TemperingConfig, n: int) -> TemperingConfig:
    """``config`` with the ladder size (default :func:`default_ladder_size`) and its hottest value
    (default min(1, 1 / (beta n)): one sample's worth of likelihood) filled in."""
    K = default_ladder_size(n) if config.n_temps is None else config.n_temps
    bmin = min(1.0, 1.0 / (float(config.beta) * n)) if config.beta_min is None else float(config.beta_min)
    return dataclasses.replace(config, n_temps=K, beta_min=bmin)


def run_tempering(
    rng_key,
    dataset: Dataset,
    *,
    chains: int = 2,
    warmup: int = 500,
    samples: int = 500,
    n_temps: int | None = None,
    beta_min: float | None = None,
    init="prior",
    r: int = 2,
    catalogue=None,
    threshold: float | None = None,
    target_accept: float = 0.8,
    max_tree_depth: int = 6,
    tune_ladder: bool = True,
    beta: float = 1.0,
    progress: bool = False,
) -> TemperingResult:
    """Parallel tempering on the TMS posterior phi(w) exp(-beta n L_n(w)) (docs/sampling.md).

    The target (recorded) replica is at inverse temperature ``beta``; replica k targets
    phi(w) exp(-beta_k beta n L_n(w)) with the ladder 1 = beta_0 > ... > beta_{K-1} = ``beta_min``.

    Parameters
    ----------
    rng_key : jax PRNG key
    dataset : Dataset
    chains : int, >= 1
        Independent ladders (run in parallel over CPU devices); the occupancy error is a bootstrap
        over them.
    warmup, samples : int
        Sweeps of adaptation / of recording.
    n_temps : int, optional
        Ladder size K (default :func:`default_ladder_size`).
    beta_min : float in (0, 1], optional
        Hottest ladder value (default min(1, 1/(beta n)): the hottest replica sees beta_min beta n = 1
        sample's worth of likelihood, essentially the prior).
    init : "prior" (default) or as :func:`sampling.initial_points`
        Starting points of the beta = 1 replicas; the other replicas start from prior draws.
    r : int
    catalogue : kgon.Catalogue, optional
        Classify the beta = 1 draws into phases.
    threshold : float, optional
        Classification threshold (``kgon.classify`` default when None).
    target_accept, max_tree_depth : NUTS settings per replica.
    tune_ladder : bool
        Equalise the swap rejection rates during warmup.
    beta : float, > 0
        Inverse temperature of the target replica (default 1: the Bayesian posterior).
    progress : bool
        tqdm progress bar.
    """
    if not isinstance(dataset, Dataset):
        raise ValueError(f"`dataset` must be a sampling.Dataset; got {type(dataset).__name__}.")
    check_float("beta", beta, positive=True)
    if beta_min is not None:
        geometric_ladder(1, beta_min)  # validates beta_min with its message
    config = TemperingConfig(chains=chains, warmup=warmup, samples=samples, n_temps=n_temps, beta_min=beta_min,
                             init=init_repr(init), r=r, threshold=threshold, target_accept=target_accept,
                             max_tree_depth=max_tree_depth, tune_ladder=tune_ladder, beta=beta)
    n, c = dataset.n, dataset.c
    beta = float(config.beta)
    config = _with_ladder(config, n)
    chains, r, K = config.chains, config.r, config.n_temps
    betas = geometric_ladder(K, config.beta_min)
    d = r * c + c
    k_init, k_prior, k_run = jax.random.split(rng_key, 3)
    z0 = np.array(jax.random.normal(k_prior, (chains, K, d), dtype=jnp.float64))
    z0[:, 0] = initial_points(k_init, init, count=chains, r=r, c=c, catalogue=catalogue)
    pot = empirical_potential(dataset)
    res = parallel_tempering(
        k_run,
        tms_energy(r, c),
        z0,
        betas=betas,
        warmup=warmup,
        samples=samples,
        data=tms_data(pot, beta),
        target_accept=target_accept,
        max_tree_depth=max_tree_depth,
        tune_ladder=tune_ladder,
        progress=progress,
        desc=f"tempering n={n}",
    )
    W, b = (np.asarray(x) for x in unflatten(res.z, r, c))
    loss = res.energy / (beta * n)
    diag = chain_diagnostics(loss, res.diverging)
    labels = switches = None
    if catalogue is not None:
        labels = classify_draws(W, b, catalogue, threshold=threshold)
        switches = phase_switches(labels)
        warn_if_not_mixing(labels, method="tempered", n=n)
    draws = PosteriorDraws(W=W, b=b, loss=loss, diverging=np.asarray(res.diverging, dtype=bool), n=n, beta=beta,
                           labels=labels)
    return TemperingResult(draws=draws, rhat_loss=diag.rhat_loss, ess_loss=diag.ess_loss,
                           divergences=diag.divergences, phase_switches=switches, pt=res, n=n, c=c, r=r,
                           config=config, seed=key_data(rng_key))
