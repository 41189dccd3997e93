"""Stochastic-gradient Langevin dynamics: the pure step and the compiled chain runner (docs/dynamics.md §4).

SGLD (Welling & Teh 2011) on U(w) = n beta L(w) + (gamma / 2) ||w - w*||^2,

    w  <-  w - (eps / 2) ( n beta grad L_m(w) + gamma (w - w*) ) + N(0, eps I),

L_m the loss on a minibatch of size m (m = n: full batch). :func:`sgld_step` is the pure update; a
chain is a ``jax.lax.scan`` over chunks of :data:`CHUNK` steps, chains are ``jax.vmap``-ed, and the
chunk is compiled once per (loss function, batch size, shapes) and reused for any data, step size,
temperature and chain length (:func:`chain_runner`). Parameters may be any pytree (e.g. ``(W, b)``).

The **MALA acceptance** of each step (the Metropolis-adjusted Langevin acceptance probability the
same proposal would have, min(1, exp(-U(w') + U(w) - |w - w' + eps/2 grad U(w')|^2/(2 eps) +
|w' - w + eps/2 grad U(w)|^2/(2 eps)))) measures the discretisation error: near 1 the SGLD draws are
close to the target, well below 1 the step size biases the estimate. In minibatch mode both ends of
the step use the same minibatch (two evaluations per step), so the acceptance refers to the
minibatch target.

The LLC estimator built on these chains is :func:`sampling.estimate_llc` (:mod:`sampling.dynamics.llc`).
"""

from __future__ import annotations

import math
from functools import lru_cache, partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from kgon.validation import check_int

__all__ = ["sgld_step", "default_nbeta", "chain_runner", "as_typed_key", "split_keys", "quadratic_loss", "CHUNK"]


def quadratic_loss(w, curvature):
    """The regular model L(w) = 1/2 sum_i h_i w_i^2 with h = ``curvature`` (for validation: its LLC is
    #{i: h_i > 0} / 2, and directions with h_i = 0 are unused variables). Pass the curvature as data:
    ``estimate_llc(key, quadratic_loss, w_star, h, nbeta=...)``."""
    return 0.5 * jnp.sum(curvature * w * w)


def default_nbeta(n: int) -> float:
    """n beta with beta = 1 / log n (n >= 2)."""
    n = check_int("n", n, minimum=2)
    return n / math.log(n)


# ----------------------------------------------------------------------------------------------
# the pure step


def _tree_normal(rng_key, tree):
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    keys = jax.random.split(rng_key, len(leaves))
    return jax.tree_util.tree_unflatten(
        treedef, [jax.random.normal(k, jnp.shape(x), dtype=jnp.result_type(x)) for k, x in zip(keys, leaves)]
    )


def _tree_sum_sq(tree):
    return sum(jnp.sum(jnp.square(x)) for x in jax.tree_util.tree_leaves(tree))


def sgld_step(rng_key, w, grad_loss, w_star, *, eps, gamma, nbeta, noise=1.0):
    """One SGLD update (pure; any pytree of parameters).

        w' = w - (eps / 2) ( nbeta * grad_loss + gamma (w - w*) ) + noise * sqrt(eps) xi,  xi ~ N(0, I)

    docs/dynamics.md §4; Welling & Teh (2011) eq. 4; Lau et al. (2023) eq. 11. With ``noise = 0`` this is
    exactly a gradient step of size eps/2 on U(w) = nbeta L(w) + gamma/2 ||w - w*||^2.

    Parameters
    ----------
    rng_key : jax PRNG key
    w, grad_loss, w_star : pytrees of the same structure
        Current parameters, the (minibatch) loss gradient at w, and the localisation centre.
    eps, gamma, nbeta : float, keyword-only
        Step size, localisation strength and n * beta.
    noise : float, keyword-only
        Scale of the injected noise (1 = SGLD, 0 = gradient descent).
    """
    xi = _tree_normal(rng_key, w)
    return jax.tree_util.tree_map(
        lambda x, g, x0, z: x - 0.5 * eps * (nbeta * g + gamma * (x - x0)) + noise * jnp.sqrt(eps) * z,
        w, grad_loss, w_star, xi,
    )


def _drift(w, g, w_star, gamma, nbeta):
    return jax.tree_util.tree_map(lambda x, gg, x0: nbeta * gg + gamma * (x - x0), w, g, w_star)


def _mala_log_accept(w, w_new, U, U_new, gU, gU_new, eps):
    """log of the MALA acceptance ratio of the move w -> w_new (module docstring)."""
    fwd = _tree_sum_sq(jax.tree_util.tree_map(lambda a, b, g: a - b + 0.5 * eps * g, w_new, w, gU))
    bwd = _tree_sum_sq(jax.tree_util.tree_map(lambda a, b, g: a - b + 0.5 * eps * g, w, w_new, gU_new))
    return -U_new + U - bwd / (2 * eps) + fwd / (2 * eps)


# ----------------------------------------------------------------------------------------------
# chains


def _take(data, idx):
    return jax.tree_util.tree_map(lambda a: a[idx], data)


def as_typed_key(key):
    """A typed JAX key array (``jax.random.key``) from a typed or raw uint32 (``PRNGKey``) key array."""
    if jnp.issubdtype(getattr(key, "dtype", np.uint32), jax.dtypes.prng_key):
        return key
    return jax.random.wrap_key_data(jnp.asarray(key, dtype=jnp.uint32))


def split_keys(keys, num: int):
    """Split every key of a typed key array: shape keys.shape + (num,)."""
    flat = keys.reshape(-1)
    out = jax.vmap(lambda k: jax.random.split(k, num))(flat)
    return out.reshape(keys.shape + (num,))


CHUNK = 250
"""Steps per compiled scan: chains of any length reuse one compiled chunk (the last chunk's surplus
steps are run and discarded)."""


def _init_chain(rng_key, w_star, data, init_noise, *, loss_fn, batch_size):
    """Chain state at the start: w0 = w* + init_noise * N(0, I) (and L, grad L at w0 in full batch)."""
    w0 = jax.tree_util.tree_map(lambda x, z: x + init_noise * z, w_star, _tree_normal(rng_key, w_star))
    if batch_size is None:
        L0, g0 = jax.value_and_grad(loss_fn)(w0, data)
        return (w0, L0, g0)
    return (w0,)


def _advance(state, keys, w_star, data, eps, gamma, nbeta, noise, *, loss_fn, batch_size, n_data):
    """Run len(keys) SGLD steps of one chain from ``state``: (new state, (losses, accept))."""
    vg = jax.value_and_grad(loss_fn)

    def U_of(w, L):
        return nbeta * L + 0.5 * gamma * _tree_sum_sq(jax.tree_util.tree_map(jnp.subtract, w, w_star))

    def accept_prob(w, w_new, L, g, L_new, g_new):
        la = _mala_log_accept(w, w_new, U_of(w, L), U_of(w_new, L_new), _drift(w, g, w_star, gamma, nbeta),
                              _drift(w_new, g_new, w_star, gamma, nbeta), eps)
        return jnp.exp(jnp.minimum(la, 0.0))

    if batch_size is None:

        def body(carry, key):
            w, L, g = carry
            w_new = sgld_step(key, w, g, w_star, eps=eps, gamma=gamma, nbeta=nbeta, noise=noise)
            L_new, g_new = vg(w_new, data)
            return (w_new, L_new, g_new), (L_new, accept_prob(w, w_new, L, g, L_new, g_new))

    else:

        def body(carry, key):
            (w,) = carry
            k_b, k_s = jax.random.split(key)
            batch = _take(data, jax.random.randint(k_b, (batch_size,), 0, n_data))
            L, g = vg(w, batch)
            w_new = sgld_step(k_s, w, g, w_star, eps=eps, gamma=gamma, nbeta=nbeta, noise=noise)
            L_new, g_new = vg(w_new, batch)  # same minibatch at both ends (MALA acceptance)
            # record the minibatch loss at the new point (unbiased for L_n(w_new))
            return (w_new,), (L_new, accept_prob(w, w_new, L, g, L_new, g_new))

    return jax.lax.scan(body, state, keys)


@lru_cache(maxsize=64)
def _compiled(loss_fn: Callable, batch_size: int | None, n_data: int | None, centers: bool):
    """jit-compiled (init, advance, loss) for chains vmapped over keys (and over centres if ``centers``)."""
    init = partial(_init_chain, loss_fn=loss_fn, batch_size=batch_size)
    adv = partial(_advance, loss_fn=loss_fn, batch_size=batch_size, n_data=n_data)
    init_v = jax.vmap(init, in_axes=(0, None, None, None))
    adv_v = jax.vmap(adv, in_axes=(0, 0, None, None, None, None, None, None))
    loss = loss_fn
    if centers:
        init_v = jax.vmap(init_v, in_axes=(0, 0, 0, None))
        adv_v = jax.vmap(adv_v, in_axes=(0, 0, 0, 0, None, None, None, None))
        loss = jax.vmap(loss_fn)
    return jax.jit(init_v), jax.jit(adv_v), jax.jit(loss)


def chain_runner(loss_fn: Callable, *, batch_size: int | None, n_data: int | None, n_steps: int,
                 centers: bool = False):
    """A runner for ``n_steps``-step chains of ``loss_fn`` (compiled once per loss function, batch size
    and shapes, in chunks of :data:`CHUNK` steps, and reused for any data, step size, temperature and
    chain length).

    Returns ``f(keys, w_star, data, eps, gamma, nbeta, noise, init_noise) -> (losses (C, T), accept
    (C, T), loss_star)`` for keys of shape (C, ...). With ``centers=True`` everything has a leading
    axis of M centres: keys (M, C, ...), ``w_star`` and ``data`` stacked, outputs (M, C, T) and (M,).
    """
    init, adv, loss = _compiled(loss_fn, batch_size, n_data, centers)
    n_chunks = -(-n_steps // CHUNK)

    def run(keys, w_star, data, eps, gamma, nbeta, noise, init_noise):
        keys = as_typed_key(keys)
        two = split_keys(keys, 2)
        state = init(two[..., 0], w_star, data, init_noise)
        k_run = two[..., 1]
        step_keys = split_keys(k_run, n_chunks * CHUNK).reshape(k_run.shape + (n_chunks, CHUNK))
        Ls, As = [], []
        for c in range(n_chunks):
            state, (L, A) = adv(state, step_keys[..., c, :], w_star, data, eps, gamma, nbeta, noise)
            Ls.append(L)
            As.append(A)
        losses = np.concatenate([np.asarray(x) for x in Ls], axis=-1)[..., :n_steps]
        accept = np.concatenate([np.asarray(x) for x in As], axis=-1)[..., :n_steps]
        return losses, accept, np.asarray(loss(w_star, data))

    return run
