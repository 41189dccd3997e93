"""NUTS on the TMS posterior: chains in parallel over CPU devices, vectorised within a device.

Engine. numpyro's functional NUTS kernel (``numpyro.infer.hmc.hmc(potential_fn_gen=..., algo="NUTS")``,
Hoffman & Gelman 2014, with numpyro's windowed step-size / diagonal mass-matrix adaptation) is
applied to a batch of *replicas*, each targeting

    p_beta(z)  proportional to  prior(z) exp( -beta E(z) ),       E(z) = n L_n(z) for the TMS,

with its own inverse temperature beta and its own adapted step size and mass matrix. Replicas are
laid out as (chains, temperatures): the chains are split over the host CPU devices with
``jax.pmap`` (the device count is set by ``kgon.configure_jax()`` before JAX starts) and vectorised with
``jax.vmap`` within a device. Independent NUTS chains (:func:`run_nuts`) are the case of one
temperature beta = 1; parallel tempering (:mod:`sampling.mcmc.tempering`) adds replica-exchange moves
between the temperatures of a chain after every NUTS transition.

The data enter the jitted functions as arguments (a pytree), not as compile-time constants, and
the run is split into chunks (``lax.scan``) so that a progress bar can follow it.

Reference: Hoffman & Gelman 2014 (NUTS); Phan, Pradhan & Jankowiak 2019 (numpyro).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer.hmc import hmc

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
from sampling.model import log_prior, unflatten

__all__ = ["NutsConfig", "NutsResult", "run_nuts", "initial_points", "PhaseMixingWarning", "ChainsResult", "nuts_chains", "tms_data", "tms_energy"]


# --------------------------------------------------------------------------------------------
# the engine (shared with sampling.mcmc.tempering)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Trace:
    """Raw output of :func:`_sample` (numpy; leading axes (chains, sweeps[, temperatures]))."""

    z: np.ndarray  # (C, T, d): draws of the beta = 1 slot (slot 0)
    energy: np.ndarray  # (C, T, K): E(z) of every slot
    accept_prob: np.ndarray  # (C, T, K)
    num_steps: np.ndarray  # (C, T, K)
    diverging: np.ndarray  # (C, T, K)
    swap_prob: np.ndarray  # (C, T, K-1): Metropolis swap probability of proposed pairs, nan if not proposed
    round_trips: np.ndarray  # (C,)
    step_size: np.ndarray  # (C, K) after warmup
    betas: np.ndarray  # (K,) final ladder
    ladder_history: tuple  # ladders used during warmup (tuning rounds)


def _device_layout(chains: int) -> int:
    """Largest number of local devices that divides ``chains``."""
    ndev = jax.local_device_count()
    for d in range(min(ndev, chains), 0, -1):
        if chains % d == 0:
            return d
    return 1


def _tune_ladder(betas: np.ndarray, reject: np.ndarray) -> np.ndarray:
    """Equalise swap rejection rates along the ladder (Syed et al. 2021, "NRPT", §5.1).

    The communication barrier Lambda(beta) is the piecewise-linear interpolation (in log beta) of
    the cumulative rejection rates; the new ladder places beta_k at Lambda = k Lambda_total / (K-1),
    keeping the end points (beta_0 = 1, beta_{K-1} = beta_min).
    """
    K = betas.size
    if K < 3 or not np.all(np.isfinite(reject)):
        return betas
    x = np.log(betas[::-1])  # increasing
    lam = np.concatenate([[0.0], np.cumsum(np.maximum(reject[::-1], 1e-3))])
    targets = np.linspace(0.0, lam[-1], K)
    new = np.exp(np.interp(targets, lam, x))[::-1]
    new[0], new[-1] = betas[0], betas[-1]
    return new


def _map_batch(fn, B: int):
    """``jax.vmap(fn)`` over a leading batch axis of size B; for B = 1 the unbatched function with the
    axis squeezed and restored (a much smaller program: no lock-step selects in the NUTS loops)."""
    if B > 1:
        return jax.vmap(fn)

    def single(*args):
        out = fn(*jax.tree.map(lambda x: x[0], args))
        return jax.tree.map(lambda x: x[None], out)

    return single


@functools.lru_cache(maxsize=32)
def _kernels(energy_fn, log_prior_fn, warmup: int, target_accept: float, max_tree_depth: int, K: int, per: int,
             d: int, swaps: bool):
    """The pmapped init / chunk / re-potential functions for one configuration (cached, so that
    repeated runs with the same settings reuse the compiled code)."""
    def pe_gen(beta, dat):
        return lambda z: -log_prior_fn(z) + beta * energy_fn(dat, z)

    init_kernel, sample_kernel = hmc(potential_fn_gen=pe_gen, algo="NUTS")
    value_and_grad_E = jax.value_and_grad(energy_fn, argnums=1)

    def init_dev(z, bt, keys, dat):  # per device: z (B, d), bt (B,), keys (B, ...) -> the scan carry
        def one(z1, b1, k1):
            return init_kernel(
                z1,
                warmup,
                target_accept_prob=target_accept,
                max_tree_depth=max_tree_depth,
                model_args=(b1, dat),
                rng_key=k1,
            )

        state = _map_batch(one, per * K)(z, bt, keys)
        ident = jnp.tile(jnp.arange(K), (per, 1))
        last = jnp.zeros((per, K), dtype=int)
        trips = jnp.zeros(per, dtype=int)
        return (state, jnp.zeros((), dtype=int), ident, last, trips)

    def swap_chain(E, bt, u, parity):
        """One round of even/odd replica exchange for one chain: permutation of its K slots."""
        k = jnp.arange(K - 1)
        log_a = (bt[:-1] - bt[1:]) * (E[:-1] - E[1:])
        prop = (k % 2) == parity
        acc = prop & (jnp.log(u) < log_a)
        up = jnp.zeros(K, dtype=int).at[:-1].set(acc.astype(int))
        down = jnp.zeros(K, dtype=int).at[1:].set(acc.astype(int))
        perm = jnp.arange(K) + up - down
        p = jnp.where(prop, jnp.minimum(1.0, jnp.exp(jnp.minimum(log_a, 0.0))), jnp.nan)
        return perm, p

    def chunk_dev(carry, bt, keys, dat):
        """Scan over L sweeps on one device. keys: (L, 2, key)."""

        def body(carry, key):
            state, sweep, ident, last, trips = carry
            state = _map_batch(lambda s, b1: sample_kernel(s, model_args=(b1, dat)), per * K)(state, bt)
            if swaps and K > 1:
                E, gE = jax.vmap(value_and_grad_E, in_axes=(None, 0))(dat, state.z)
                u = jax.random.uniform(key, (per, K - 1))
                parity = sweep % 2
                perm, p = jax.vmap(lambda e, uu: swap_chain(e, bt[:K], uu, parity))(E.reshape(per, K), u)
                flat = (perm + (jnp.arange(per) * K)[:, None]).reshape(-1)
                z = state.z[flat]
                E, gE = E[flat], gE[flat]
                lp, glp = jax.vmap(jax.value_and_grad(log_prior_fn))(z)
                state = state._replace(z=z, potential_energy=-lp + bt * E, z_grad=-glp + bt[:, None] * gE)
                ident = jnp.take_along_axis(ident, perm, axis=1)
                # round trips: a replica reaching the hot end after having visited the cold end
                cold, hot = ident[:, 0], ident[:, K - 1]
                rows = jnp.arange(per)
                trips = trips + (last[rows, hot] == 1).astype(int)
                last = last.at[rows, hot].set(2)
                last = last.at[rows, cold].set(1)
            else:
                E = jax.vmap(energy_fn, in_axes=(None, 0))(dat, state.z)
                p = jnp.full((per, max(K - 1, 0)), jnp.nan)
            rec = dict(
                z=state.z.reshape(per, K, d)[:, 0],
                energy=E.reshape(per, K),
                accept_prob=state.accept_prob.reshape(per, K),
                num_steps=state.num_steps.reshape(per, K),
                diverging=state.diverging.reshape(per, K),
                swap_prob=p,
            )
            return (state, sweep + 1, ident, last, trips), rec

        return jax.lax.scan(body, carry, keys)

    def repot(z, bt, dat):
        """Potential energies and gradients of the states z under the (new) ladder bt."""
        E, gE = jax.vmap(value_and_grad_E, in_axes=(None, 0))(dat, z)
        lp, glp = jax.vmap(jax.value_and_grad(log_prior_fn))(z)
        return -lp + bt * E, -glp + bt[:, None] * gE

    return (
        jax.pmap(init_dev, in_axes=(0, 0, 0, None)),
        jax.pmap(chunk_dev, in_axes=(0, 0, 1, None)),
        jax.pmap(repot, in_axes=(0, 0, None)),
    )



def _sample(
    rng_key,
    *,
    energy_fn: Callable[[Any, jax.Array], jax.Array],
    data: Any,
    init_z: np.ndarray,
    betas: np.ndarray,
    warmup: int,
    samples: int,
    swaps: bool,
    log_prior_fn: Callable[[jax.Array], jax.Array] = log_prior,
    target_accept: float = 0.8,
    max_tree_depth: int = 10,
    tune_ladder: bool = False,
    progress: bool = False,
    n_chunks: int = 20,
    desc: str = "sampling",
) -> _Trace:
    """Run NUTS on C chains x K temperatures (module docstring); returns all sweeps, warmup included.

    ``init_z`` has shape (C, K, d); ``betas`` shape (K,), decreasing with betas[0] = 1 (the slot
    whose draws are recorded). ``energy_fn(data, z)`` is E(z) for one flat z.
    """
    init_z = np.asarray(init_z, dtype=np.float64)
    C, K, d = init_z.shape
    betas = np.asarray(betas, dtype=np.float64)
    ndev = _device_layout(C)
    per = C // ndev
    B = per * K
    total = warmup + samples
    n_chunks = max(1, min(n_chunks, total))
    L = math.ceil(total / n_chunks)
    n_chunks = math.ceil(total / L)

    init_p, chunk_p, repot_p = _kernels(
        energy_fn, log_prior_fn, warmup, target_accept, max_tree_depth, K, per, d, bool(swaps)
    )

    k_init, k_run = jax.random.split(rng_key)
    keys0 = jax.random.split(k_init, C * K).reshape((ndev, B) + jax.random.split(k_init, 1).shape[1:])
    bt_dev = np.tile(betas, (ndev, per))
    carry = init_p(jnp.asarray(init_z.reshape(ndev, B, d)), jnp.asarray(bt_dev), keys0, data)

    # ladder tuning rounds (chunk indices) in the first half of the warmup
    tune_at = set()
    if tune_ladder and swaps and K > 2:
        for frac in (0.125, 0.25, 0.5):
            idx = int(frac * warmup) // L
            if 0 < idx and (idx + 1) * L <= warmup:
                tune_at.add(idx)
    history = [betas.copy()]
    recs = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, unit="sweep", leave=False)
    try:
        run_keys = jax.random.split(k_run, n_chunks)
        for ci in range(n_chunks):
            keys = jax.random.split(run_keys[ci], L * ndev).reshape((L, ndev) + run_keys.shape[1:])
            carry, rec = chunk_p(carry, jnp.asarray(bt_dev), keys, data)
            rec = jax.tree.map(np.asarray, rec)
            recs.append(rec)
            if bar is not None:
                bar.update(min(L, total - ci * L))
            if ci in tune_at:
                sp = np.concatenate([r["swap_prob"] for r in recs[-max(1, len(recs) // 2):]], axis=1)
                reject = 1.0 - np.nanmean(sp.reshape(-1, K - 1), axis=0)
                betas = _tune_ladder(betas, reject)
                history.append(betas.copy())
                bt_dev = np.tile(betas, (ndev, per))
                # potential energies and gradients of the current states under the new ladder
                st = carry[0]
                pe, g = repot_p(st.z, jnp.asarray(bt_dev), data)
                carry = (st._replace(potential_energy=pe, z_grad=g),) + tuple(carry[1:])
    finally:
        if bar is not None:
            bar.close()

    def cat(name):
        # per chunk: (ndev, L, per, ...) -> (C, sweeps, ...)
        arr = np.concatenate([r[name] for r in recs], axis=1)[:, :total]
        arr = np.moveaxis(arr, 1, 2)  # (ndev, per, T, ...)
        return arr.reshape((C, total) + arr.shape[3:])

    step = np.asarray(carry[0].adapt_state.step_size).reshape(C, K)
    return _Trace(
        z=cat("z"),
        energy=cat("energy"),
        accept_prob=cat("accept_prob"),
        num_steps=cat("num_steps"),
        diverging=cat("diverging"),
        swap_prob=cat("swap_prob"),
        round_trips=np.asarray(carry[4]).reshape(C),
        step_size=step,
        betas=betas,
        ladder_history=tuple(history),
    )


# --------------------------------------------------------------------------------------------
# initialisation
# --------------------------------------------------------------------------------------------


def _random_orthogonal(rng: np.random.Generator, r: int) -> np.ndarray:
    q, rr = np.linalg.qr(rng.normal(size=(r, r)))
    return q * np.sign(np.diag(rr))[None, :]


def initial_points(rng_key, init, *, count: int, r: int, c: int, catalogue=None, jitter: float = 1e-2) -> np.ndarray:
    """Starting points z (count, r c + c) for chains.

    Parameters
    ----------
    rng_key : jax PRNG key
    init : "prior", "catalogue", a catalogue label, a sequence of labels, a CriticalPoint, or an
        array of shape (count, r c + c)
        "prior": independent N(0, I) draws. "catalogue": cycle through the catalogue's local minima
        (no negative Hessian eigenvalue) in order of loss. Catalogue points are placed in a random
        O(r) orientation and feature order (the same phase) plus N(0, jitter^2) noise.
    count, r, c : int
    catalogue : kgon.Catalogue, optional
        Needed for "catalogue" and labels.
    """
    seed = int(np.asarray(jax.random.randint(rng_key, (), 0, 2**31 - 1)))
    rng = np.random.default_rng(seed)
    d = r * c + c
    if isinstance(init, str) and init == "prior":
        return rng.normal(size=(count, d))
    if isinstance(init, np.ndarray) or (hasattr(init, "shape") and not hasattr(init, "W")):
        z = np.asarray(init, dtype=np.float64)
        if z.shape != (count, d):
            raise ValueError(f"`init` array must have shape ({count}, {d}); got {z.shape}.")
        return z.copy()
    points = _init_points(init, catalogue)
    out = np.empty((count, d))
    for k in range(count):
        p = points[k % len(points)]
        W = np.asarray(p.W, dtype=np.float64)
        b = np.asarray(p.b, dtype=np.float64)
        if W.shape != (r, c):
            raise ValueError(f"catalogue point {p.label!r} has shape {W.shape}; expected ({r}, {c}).")
        perm = rng.permutation(c)
        W = _random_orthogonal(rng, r) @ W[:, perm]
        b = b[perm]
        out[k] = np.concatenate([W.ravel(), b]) + jitter * rng.normal(size=d)
    return out


def _init_points(init, catalogue) -> list:
    if hasattr(init, "W") and hasattr(init, "b"):
        return [init]
    if catalogue is None:
        raise ValueError(f"`init` = {init!r} needs a `catalogue`; got None.")
    if isinstance(init, str) and init == "catalogue":
        pts = [p for p in catalogue.points if getattr(p, "hessian_signature", (0,))[0] == 0]
        if not pts:
            raise ValueError("`catalogue` has no local minima to initialise chains from.")
        return pts
    labels = [init] if isinstance(init, str) else list(init)
    known = set(catalogue.labels())
    bad = [lab for lab in labels if lab not in known]
    if bad or not labels:
        raise ValueError(
            f"`init` must be 'prior', 'catalogue', catalogue labels, a CriticalPoint or an array; got {init!r}."
        )
    return [catalogue.get(lab) for lab in labels]


# --------------------------------------------------------------------------------------------
# public NUTS runner
# --------------------------------------------------------------------------------------------


def check_sampler_settings(cfg) -> None:
    """Validate the settings that :class:`NutsConfig` and ``TemperingConfig`` share (chains, warmup,
    samples, target_accept, max_tree_depth, init, r, threshold, beta); raises ``ValueError``."""
    _check_common(chains=cfg.chains, warmup=cfg.warmup, samples=cfg.samples,
                  target_accept=cfg.target_accept, max_tree_depth=cfg.max_tree_depth)
    _check_init_repr(cfg.init)
    check_int("r", cfg.r, minimum=1)
    _check_threshold(cfg.threshold)
    check_float("beta", cfg.beta, positive=True)


def _check_init_repr(init) -> str:
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
class NutsResult:
    """Posterior draws of independent NUTS chains and their diagnostics.

    Attributes
    ----------
    W : ndarray, shape (chains, samples, r, c)
    b : ndarray, shape (chains, samples, c)
    loss : ndarray, shape (chains, samples)
        L_n at each draw.
    diverging : ndarray of bool, shape (chains, samples)
    accept_prob : ndarray, shape (chains, samples)
    num_steps : ndarray of int, shape (chains, samples)
        Leapfrog steps per transition (gradient evaluations).
    step_size : ndarray, shape (chains,)
        Adapted step sizes.
    rhat_loss, ess_loss : float
        Split R-hat and bulk effective sample size of the loss over chains (symmetry invariant).
    divergences : int
        Post-warmup divergent transitions, all chains.
    labels : ndarray of str or None, shape (chains, samples)
        Phase label of each draw (``kgon.classify``) when a catalogue was given.
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

    W: np.ndarray
    b: np.ndarray
    loss: np.ndarray
    diverging: np.ndarray
    accept_prob: np.ndarray
    num_steps: np.ndarray
    step_size: np.ndarray
    rhat_loss: float
    ess_loss: float
    divergences: int
    labels: np.ndarray | None
    phase_switches: tuple[int, ...] | None
    n: int
    c: int
    r: int
    config: NutsConfig = field(default_factory=NutsConfig)
    seed: tuple[int, ...] = ()
    devices: int = 1


def _check_common(*, chains, warmup, samples, target_accept, max_tree_depth):
    chains = check_int("chains", chains, minimum=1)
    warmup = check_int("warmup", warmup, minimum=0)
    samples = check_int("samples", samples, minimum=1)
    if isinstance(target_accept, bool) or not isinstance(target_accept, (int, float)) or not 0 < target_accept < 1:
        raise ValueError(f"`target_accept` must be a number in (0, 1); got {target_accept!r}.")
    max_tree_depth = check_int("max_tree_depth", max_tree_depth, minimum=1, maximum=15)
    return chains, warmup, samples, float(target_accept), max_tree_depth


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
    config = NutsConfig(chains=chains, warmup=warmup, samples=samples, init=_init_repr(init), r=r, threshold=threshold,
                        target_accept=target_accept, max_tree_depth=max_tree_depth, beta=beta)
    chains, warmup, samples, r, beta = config.chains, config.warmup, config.samples, config.r, float(config.beta)
    target_accept, max_tree_depth = float(config.target_accept), config.max_tree_depth
    c = dataset.c
    k_init, k_run = jax.random.split(rng_key)
    z0 = initial_points(k_init, init, count=chains, r=r, c=c, catalogue=catalogue)
    pot = empirical_potential(dataset)
    tr = _sample(
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
    return NutsResult(
        W=np.asarray(W), b=np.asarray(b), loss=loss, diverging=diverging,
        accept_prob=tr.accept_prob[:, warmup:, 0], num_steps=tr.num_steps[:, warmup:, 0],
        step_size=tr.step_size[:, 0], rhat_loss=diag.rhat_loss, ess_loss=diag.ess_loss,
        divergences=diag.divergences, labels=labels, phase_switches=switches,
        n=dataset.n, c=c, r=r, config=config, seed=key_data(rng_key), devices=_device_layout(chains),
    )


def _init_repr(init) -> str:
    """A short string for ``init`` (the value recorded in the configs)."""
    if isinstance(init, str):
        return init
    if hasattr(init, "label"):
        return str(init.label)
    if isinstance(init, np.ndarray) or hasattr(init, "shape"):
        return "array"
    return ",".join(str(x) for x in init)


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
    chains, warmup, samples, target_accept, max_tree_depth = _check_common(
        chains=init_z.shape[0], warmup=warmup, samples=samples, target_accept=target_accept,
        max_tree_depth=max_tree_depth,
    )
    tr = _sample(
        rng_key, energy_fn=energy_fn, data=data, init_z=init_z[:, None, :], betas=np.ones(1), warmup=warmup,
        samples=samples, swaps=False, log_prior_fn=log_prior if log_prior_fn is None else log_prior_fn,
        target_accept=target_accept, max_tree_depth=max_tree_depth, progress=progress, desc="NUTS",
    )
    post = slice(warmup, warmup + samples)
    return ChainsResult(
        z=tr.z[:, post], energy=tr.energy[:, post, 0], diverging=tr.diverging[:, post, 0].astype(bool),
        accept_prob=tr.accept_prob[:, post, 0], num_steps=tr.num_steps[:, post, 0], step_size=tr.step_size[:, 0],
        config=dict(chains=chains, warmup=warmup, samples=samples, target_accept=target_accept,
                    max_tree_depth=max_tree_depth, devices=_device_layout(chains)),
        seed=key_data(rng_key),
    )
