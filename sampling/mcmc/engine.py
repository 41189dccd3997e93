"""The replica engine of NUTS and parallel tempering: chains in parallel over CPU devices, vectorised
within a device.

 numpyro's functional NUTS kernel (``numpyro.infer.hmc.hmc(potential_fn_gen=..., algo="NUTS")``,
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

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer.hmc import hmc
from tqdm.auto import tqdm

from kgon.validation import check_int
from sampling.model import log_prior

__all__ = ["Trace", "sample_replicas", "device_layout", "equalize_ladder", "check_engine_settings"]


@dataclass(frozen=True)
class Trace:
    """Raw output of :func:`sample_replicas` (numpy; leading axes (chains, sweeps[, temperatures]))."""

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


def device_layout(chains: int) -> int:
    """Largest number of local devices that divides ``chains``."""
    ndev = jax.local_device_count()
    for d in range(min(ndev, chains), 0, -1):
        if chains % d == 0:
            return d
    return 1


def equalize_ladder(betas: np.ndarray, reject: np.ndarray) -> np.ndarray:
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



def sample_replicas(
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
) -> Trace:
    """Run NUTS on C chains x K temperatures (module docstring); returns all sweeps, warmup included.

    ``init_z`` has shape (C, K, d); ``betas`` shape (K,), decreasing with betas[0] = 1 (the slot
    whose draws are recorded). ``energy_fn(data, z)`` is E(z) for one flat z.
    """
    init_z = np.asarray(init_z, dtype=np.float64)
    C, K, d = init_z.shape
    betas = np.asarray(betas, dtype=np.float64)
    ndev = device_layout(C)
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
                betas = equalize_ladder(betas, reject)
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
    return Trace(
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


def check_engine_settings(*, chains, warmup, samples, target_accept, max_tree_depth):
    """Validated (chains, warmup, samples, target_accept, max_tree_depth) of a run; raises ``ValueError``."""
    chains = check_int("chains", chains, minimum=1)
    warmup = check_int("warmup", warmup, minimum=0)
    samples = check_int("samples", samples, minimum=1)
    if isinstance(target_accept, bool) or not isinstance(target_accept, (int, float)) or not 0 < target_accept < 1:
        raise ValueError(f"`target_accept` must be a number in (0, 1); got {target_accept!r}.")
    max_tree_depth = check_int("max_tree_depth", max_tree_depth, minimum=1, maximum=15)
    return chains, warmup, samples, float(target_accept), max_tree_depth
