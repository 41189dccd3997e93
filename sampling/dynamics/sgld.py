"""SGLD estimation of the local learning coefficient, with diagnostics (docs/dynamics.md §4).

The estimator of Lau et al. (2023) ("Quantifying degeneracy in singular models via the learning
coefficient", eq. 10) as used by Chen et al. (2023) and Hoogland et al. (2024, Appendix A):

    lambda_hat(w*) = n beta ( E_{w ~ p_loc}[ L_n(w) ] - L_n(w*) ),    beta = 1 / log n,

    p_loc(w)  proportional to  exp( -n beta L_n(w) - (gamma / 2) ||w - w*||^2 ),

with the expectation estimated by stochastic-gradient Langevin dynamics (Welling & Teh 2011),

    w  <-  w - (eps / 2) ( n beta grad L_m(w) + gamma (w - w*) ) + N(0, eps I),

L_m the loss on a minibatch of size m (m = n: full batch). Several chains start at w* (optionally
with N(0, ``init_noise``^2) jitter); the first ``burnin`` steps are discarded and the loss is averaged
over the next ``draws`` steps. Per chain, lambda_c = n beta (mean_t L(w_t) - L_n(w*)); the estimate is
the mean over the *healthy* chains and its Monte Carlo error the standard deviation of the chain
values over sqrt(number of healthy chains).

Implementation: JAX. :func:`sgld_step` is the pure update; a chain is a ``jax.lax.scan`` over chunks
of :data:`CHUNK` steps, chains are ``jax.vmap``-ed, and the chunk is compiled once per (loss
function, batch size, shapes) and reused for any data, step size, temperature and chain length.
Parameters may be any pytree (e.g. ``(W, b)``).

**n beta.** Default ``n / log n`` with n the data size (beta = 1/log n, the "WBIC" temperature).

**Diagnostics.** Every chain is checked and the unhealthy ones are *excluded from the mean and
listed with the reason* (:class:`LLCDiagnostics`):

- ``nan``: a non-finite loss;
- ``diverged``: n beta (L(w_t) - L_n(w*)) exceeded ``divergence_threshold`` (default 10 d, d the number
  of parameters; the tempered posterior of a regular model puts n beta (L - L*) ~ chi^2_d / 2);
- ``escaped``: the chain found loss well below the centre, min_t n beta (L(w_t) - L_n(w*)) <
  -``escape_tol`` (default 1: a likelihood ratio e), or a negative chain value lambda_c. Such a chain has
  left w*'s basin (or w* is not a local minimum of L_n) and its value is meaningless. In minibatch
  mode the recorded losses scatter around L_n(w), so the minimum is taken over means of 20 blocks of
  consecutive draws.

**Calibration** (``calibrate=True``; :mod:`sampling.dynamics.calibrate`, docs/llc.md): eps is chosen
by a sweep at fixed n beta and fixed SGLD time (health, MALA acceptance >= 0.99, stationarity, the
small-step plateau); the result carries the sweep and the reason, and is NaN with the reason when no
step passes. Settings are held in a typed, frozen :class:`SGLDConfig`.

**Two-temperature estimate** (``estimator="two_temperature"``, the default with ``calibrate=True``;
docs/llc.md §4): a second set of chains at beta2 = beta / 2, coupled to the first (same keys, step and
steps), and lambda_2T = n (E_beta[L_n] - E_beta2[L_n]) / (1/beta - 1/beta2) (Watanabe 2013, JMLR 14):
L_n(w*) cancels, and with it the O(beta) bias beta xi_n, xi_n = n (L_n(w*) - min L_n), of the plain
estimate at a centre that is not the empirical minimum (exact for a quadratic loss). The result keeps
the plain estimate (``llc_plain``) and both runs (``parts``).

The **MALA acceptance** of each step (the Metropolis-adjusted Langevin acceptance probability the
same proposal would have, min(1, exp(-U(w') + U(w) - |w - w' + eps/2 grad U(w')|^2/(2 eps) +
|w' - w + eps/2 grad U(w)|^2/(2 eps))), U = n beta L + gamma/2 ||w - w*||^2) measures the discretisation
error: near 1 the SGLD draws are close to the target, well below 1 (``min_acceptance``, default 0.9)
the step size biases the estimate and a warning is recorded. In minibatch mode both ends of the step
use the same minibatch (two evaluations per step), so the acceptance refers to the minibatch target.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from kgon.validation import check_int
from sampling.data import key_data

__all__ = ["sgld_step", "estimate_llc", "LLCResult", "LLCDiagnostics", "SGLDConfig", "default_nbeta", "chain_runner",
           "summarize_chains", "as_typed_key", "quadratic_loss", "CHUNK", "ESTIMATORS", "combine_two_temperatures"]


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


def _split_keys(keys, num: int):
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
        two = _split_keys(keys, 2)
        state = init(two[..., 0], w_star, data, init_noise)
        k_run = two[..., 1]
        step_keys = _split_keys(k_run, n_chunks * CHUNK).reshape(k_run.shape + (n_chunks, CHUNK))
        Ls, As = [], []
        for c in range(n_chunks):
            state, (L, A) = adv(state, step_keys[..., c, :], w_star, data, eps, gamma, nbeta, noise)
            Ls.append(L)
            As.append(A)
        losses = np.concatenate([np.asarray(x) for x in Ls], axis=-1)[..., :n_steps]
        accept = np.concatenate([np.asarray(x) for x in As], axis=-1)[..., :n_steps]
        return losses, accept, np.asarray(loss(w_star, data))

    return run


# ----------------------------------------------------------------------------------------------
# configuration


@dataclass(frozen=True)
class SGLDConfig:
    """Settings of one SGLD LLC estimate (:func:`estimate_llc`), validated on construction.

    Attributes
    ----------
    nbeta : float
        n * beta (> 0).
    eps, gamma : float
        Step size (> 0) and localisation strength (>= 0).
    chains, burnin, draws : int
        Chains (>= 1), discarded steps (>= 0), averaged steps (>= 1).
    n : int or None
        Data size (>= 1), if known.
    batch_size : int or None
        Minibatch size (None: full batch).
    noise, init_noise : float
        Noise scale (>= 0; 1 = SGLD) and start jitter (>= 0).
    d : int
        Number of parameters.
    divergence_threshold, escape_tol, min_acceptance : float
        Health thresholds (module docstring); ``divergence_threshold`` resolved (10 d by default).
    escape_block : int
        Block length of the escape check (1 in full batch).
    calibrated : bool
        Whether eps and gamma were chosen by the calibration sweep (:mod:`sampling.dynamics.calibrate`).
    context : tuple of (str, value)
        Extra entries recorded by wrappers (e.g. :func:`sampling.tms_llc`: the refined centre).

    Read access by key (``config["eps"]``) works for the fields and the ``context`` entries.
    """

    nbeta: float
    eps: float
    gamma: float
    chains: int = 4
    burnin: int = 0
    draws: int = 500
    n: int | None = None
    batch_size: int | None = None
    noise: float = 1.0
    init_noise: float = 0.0
    d: int = 0
    divergence_threshold: float | None = None
    escape_tol: float = 1.0
    min_acceptance: float = 0.9
    escape_block: int = 1
    calibrated: bool = False
    context: tuple = ()

    def __post_init__(self):
        set_ = partial(object.__setattr__, self)
        set_("nbeta", _check_float("nbeta", self.nbeta, positive=True))
        set_("eps", _check_float("eps", self.eps, positive=True))
        set_("gamma", _check_float("gamma", self.gamma, nonneg=True))
        set_("chains", check_int("chains", self.chains, minimum=1))
        set_("burnin", check_int("burnin", self.burnin, minimum=0))
        set_("draws", check_int("draws", self.draws, minimum=1))
        if self.n is not None:
            set_("n", check_int("n", self.n, minimum=1))
        if self.batch_size is not None:
            set_("batch_size", check_int("batch_size", self.batch_size, minimum=1))
        set_("noise", _check_float("noise", self.noise, nonneg=True))
        set_("init_noise", _check_float("init_noise", self.init_noise, nonneg=True))
        set_("d", check_int("d", self.d, minimum=0))
        if self.divergence_threshold is not None:
            set_("divergence_threshold", _check_float("divergence_threshold", self.divergence_threshold, positive=True))
        set_("escape_tol", _check_float("escape_tol", self.escape_tol, nonneg=True))
        set_("min_acceptance", _check_float("min_acceptance", self.min_acceptance, nonneg=True))
        if self.min_acceptance > 1:
            raise ValueError(f"`min_acceptance` must be in [0, 1]; got {self.min_acceptance!r}.")
        set_("escape_block", check_int("escape_block", self.escape_block, minimum=1))
        if not isinstance(self.calibrated, bool):
            raise ValueError(f"`calibrated` must be a bool; got {self.calibrated!r}.")
        ctx = dict(self.context) if not isinstance(self.context, dict) else self.context
        set_("context", tuple(ctx.items()))

    def __getitem__(self, key: str):
        if key in _CONFIG_FIELDS:
            return getattr(self, key)
        ctx = dict(self.context)
        if key in ctx:
            return ctx[key]
        raise KeyError(key)

    def get(self, key: str, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def keys(self):
        return [f for f in _CONFIG_FIELDS if f != "context"] + [k for k, _ in self.context]

    def items(self):
        return [(k, self[k]) for k in self.keys()]

    def with_context(self, **entries) -> "SGLDConfig":
        """A copy with ``entries`` added to ``context``."""
        ctx = dict(self.context)
        ctx.update(entries)
        return dataclasses.replace(self, context=tuple(ctx.items()))

    def to_dict(self) -> dict:
        return dict(self.items())


_CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(SGLDConfig))


# ----------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class LLCDiagnostics:
    """Health of the SGLD chains of one estimate (module docstring).

    Attributes
    ----------
    nan_chains, diverged_chains, escaped_chains : tuple of int
        Chain indices with a non-finite loss / a loss above the divergence threshold / a loss well
        below the centre (or a negative chain value).
    excluded : tuple of (int, str)
        Every excluded chain with its reason (the union of the three lists above).
    acceptance : tuple of float
        Mean MALA acceptance probability of each chain over its draws.
    acceptance_mean : float
        Mean over chains.
    min_delta : tuple of float
        min_t n beta (L(w_t) - L_n(w*)) of each chain over its draws.
    llc_all_chains : float
        The mean over *all* chains with a finite value (for the record; not the estimate).
    warnings : tuple of str
        Human-readable warnings (low acceptance, few healthy chains, ...).
    """

    nan_chains: tuple[int, ...]
    diverged_chains: tuple[int, ...]
    escaped_chains: tuple[int, ...]
    excluded: tuple[tuple[int, str], ...]
    acceptance: tuple[float, ...]
    acceptance_mean: float
    min_delta: tuple[float, ...]
    llc_all_chains: float
    warnings: tuple[str, ...] = ()

    @property
    def healthy(self) -> bool:
        """No chain excluded and no warning."""
        return not self.excluded and not self.warnings

    def to_dict(self) -> dict:
        return {
            "nan_chains": list(self.nan_chains),
            "diverged_chains": list(self.diverged_chains),
            "escaped_chains": list(self.escaped_chains),
            "excluded": [{"chain": c, "reason": r} for c, r in self.excluded],
            "acceptance": list(self.acceptance),
            "acceptance_mean": _json_float(self.acceptance_mean),
            "min_delta": [_json_float(x) for x in self.min_delta],
            "llc_all_chains": _json_float(self.llc_all_chains),
            "warnings": list(self.warnings),
        }


def _json_float(x):
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True, eq=False)
class LLCResult:
    """An SGLD estimate of the local learning coefficient at w*.

    Attributes
    ----------
    llc : float
        Mean of the healthy chains' values (NaN if no chain is healthy).
    llc_std : float
        Standard deviation of the healthy chains' values (ddof = 1; NaN with fewer than 2).
    llc_se : float
        Monte Carlo standard error ``llc_std / sqrt(healthy chains)``.
    chain_llc : ndarray, shape (chains,)
        lambda_c of every chain (including excluded ones).
    healthy : ndarray of bool, shape (chains,)
    loss_star : float
        L_n(w*) (full data).
    loss_trace : ndarray, shape (chains, burnin + draws)
        Loss after every step (minibatch loss in minibatch mode).
    acceptance_trace : ndarray, shape (chains, burnin + draws)
        MALA acceptance probability of every step.
    diagnostics : LLCDiagnostics
    config : SGLDConfig
        nbeta, eps, gamma, chains, burnin, draws, batch_size, n, noise, init_noise, thresholds.
    seed : tuple of int
        The PRNG key data.
    calibration : Calibration or None
        The calibration sweep (``estimate_llc(..., calibrate=True)``): every setting's estimate,
        acceptance and checks, the chosen one and why (:mod:`sampling.dynamics.calibrate`).
    reason : str
        Why ``llc`` is NaN, if it is ("" otherwise).
    estimator : str
        Which estimate ``llc`` is: ``"plain"`` (n beta (E_beta[L_n] - L_n(w*)), Lau et al. 2023 eq. 10)
        or ``"two_temperature"`` (n (E_beta1[L_n] - E_beta2[L_n]) / (1/beta1 - 1/beta2), docs/llc.md §4;
        then ``chain_llc`` and ``healthy`` are per pair of chains (chain c at beta1 with chain c at beta2)
        and ``loss_trace`` / ``acceptance_trace`` / ``diagnostics`` / ``config`` are those at beta1).
    llc_plain, llc_plain_se : float
        The plain estimate at n beta = ``config.nbeta`` and its standard error (= ``llc``, ``llc_se`` when
        ``estimator == "plain"``).
    parts : tuple of LLCResult
        Two-temperature: the plain estimates at beta1 and at beta2 = ``beta_ratio`` x beta1 (empty for plain).
    """

    llc: float
    llc_std: float
    llc_se: float
    chain_llc: np.ndarray
    healthy: np.ndarray
    loss_star: float
    loss_trace: np.ndarray
    acceptance_trace: np.ndarray
    diagnostics: LLCDiagnostics
    config: SGLDConfig
    seed: tuple[int, ...] = ()
    calibration: Any = None
    reason: str = ""
    estimator: str = "plain"
    llc_plain: float = float("nan")
    llc_plain_se: float = float("nan")
    parts: tuple = ()

    def to_dict(self) -> dict:
        """JSON-able summary (no traces): keys llc, llc_std, llc_se, chain_llc, healthy, loss_star,
        diagnostics, config, seed, calibration, reason, estimator, llc_plain, llc_plain_se, parts (each
        part's summary without its own parts and calibration)."""
        return {
            "estimator": self.estimator,
            "llc_plain": _json_float(self.llc_plain),
            "llc_plain_se": _json_float(self.llc_plain_se),
            "parts": [{k: v for k, v in p.to_dict().items() if k not in ("parts", "calibration")} for p in self.parts],
            "llc": _json_float(self.llc),
            "llc_std": _json_float(self.llc_std),
            "llc_se": _json_float(self.llc_se),
            "chain_llc": [_json_float(x) for x in self.chain_llc],
            "healthy": [bool(h) for h in self.healthy],
            "loss_star": _json_float(self.loss_star),
            "diagnostics": self.diagnostics.to_dict(),
            "config": self.config.to_dict(),
            "seed": list(self.seed),
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
            "reason": self.reason,
        }


def summarize_chains(losses, accept, loss_star, *, nbeta, burnin, d, divergence_threshold=None,
                     escape_tol=1.0, min_acceptance=0.9, block=1):
    """Chain values, health checks and the estimate from raw traces (module docstring).

    Parameters
    ----------
    losses, accept : array, shape (chains, burnin + draws)
    loss_star : float
        L_n(w*).
    nbeta : float
    burnin : int
    d : int
        Number of parameters (for the default divergence threshold 10 d).
    block : int
        The escape check uses means over blocks of this many consecutive draws (1: every draw; larger
        for minibatch traces, whose single values scatter around L_n(w)).

    Returns
    -------
    (llc, llc_std, llc_se, chain_llc, healthy, diagnostics)
    """
    losses = np.asarray(losses, dtype=np.float64)
    accept = np.asarray(accept, dtype=np.float64)
    thr = 10.0 * d if divergence_threshold is None else float(divergence_threshold)
    draws = losses[:, burnin:]
    delta = nbeta * (draws - loss_star)
    with np.errstate(invalid="ignore"):
        chain_llc = delta.mean(axis=1)
        nan = ~np.all(np.isfinite(losses), axis=1)
        diverged = ~nan & (np.nanmax(nbeta * (losses - loss_star), axis=1) > thr)
        nb = max(1, delta.shape[1] // max(1, int(block)))
        blocks = delta[:, : nb * max(1, int(block))].reshape(delta.shape[0], nb, -1).mean(axis=2)
        min_delta = np.where(nan, np.nan, np.nanmin(blocks, axis=1))
        escaped = ~nan & ~diverged & ((min_delta < -escape_tol) | (chain_llc < 0))
    healthy = ~(nan | diverged | escaped)
    excluded = []
    for c in range(losses.shape[0]):
        if nan[c]:
            excluded.append((c, "nan"))
        elif diverged[c]:
            excluded.append((c, f"diverged: n*beta*(L - L*) exceeded {thr:g}"))
        elif escaped[c]:
            excluded.append((c, f"escaped to lower loss: min n*beta*(L - L*) = {min_delta[c]:.3g}, "
                                f"chain value {chain_llc[c]:.3g}"))
    acc = np.nanmean(accept[:, burnin:], axis=1) if accept.shape[1] > burnin else np.full(losses.shape[0], np.nan)
    acc_mean = float(np.nanmean(acc)) if np.any(np.isfinite(acc)) else float("nan")
    k = int(healthy.sum())
    vals = chain_llc[healthy]
    llc = float(vals.mean()) if k else float("nan")
    std = float(vals.std(ddof=1)) if k >= 2 else float("nan")
    se = std / math.sqrt(k) if k >= 2 else float("nan")
    warnings = []
    if math.isfinite(acc_mean) and acc_mean < min_acceptance:
        warnings.append(f"low MALA acceptance {acc_mean:.3f} < {min_acceptance:g}: the step size eps biases "
                        "the estimate; decrease eps")
    if k == 0:
        warnings.append("no healthy chain: the estimate is undefined (NaN)")
    elif k < losses.shape[0]:
        warnings.append(f"{losses.shape[0] - k} of {losses.shape[0]} chains excluded")
    if k == 1:
        warnings.append("only one healthy chain: no Monte Carlo error available")
    finite = np.isfinite(chain_llc)
    diag = LLCDiagnostics(
        nan_chains=tuple(int(i) for i in np.nonzero(nan)[0]),
        diverged_chains=tuple(int(i) for i in np.nonzero(diverged)[0]),
        escaped_chains=tuple(int(i) for i in np.nonzero(escaped)[0]),
        excluded=tuple(excluded),
        acceptance=tuple(float(a) for a in acc),
        acceptance_mean=acc_mean,
        min_delta=tuple(float(x) for x in min_delta),
        llc_all_chains=float(chain_llc[finite].mean()) if finite.any() else float("nan"),
        warnings=tuple(warnings),
    )
    return llc, std, se, chain_llc, healthy, diag


# ----------------------------------------------------------------------------------------------
# the estimator


def _check_float(name, value, *, positive=False, nonneg=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number; got {value!r}.")
    value = float(value)
    if positive and value <= 0:
        raise ValueError(f"`{name}` must be a positive number; got {value!r}.")
    if nonneg and value < 0:
        raise ValueError(f"`{name}` must be a non-negative number; got {value!r}.")
    return value


def _leading_size(data) -> int:
    leaves = jax.tree_util.tree_leaves(data)
    if not leaves:
        raise ValueError("`data` must contain arrays with a leading sample axis for minibatching.")
    sizes = {int(np.shape(x)[0]) if np.ndim(x) else -1 for x in leaves}
    if len(sizes) != 1 or -1 in sizes:
        raise ValueError(f"every array in `data` must have the same leading (sample) axis; got sizes {sorted(sizes)}.")
    return sizes.pop()


def estimate_llc(
    rng_key,
    loss_fn: Callable[[Any, Any], Any],
    w_star,
    data=None,
    *,
    n: int | None = None,
    nbeta: float | None = None,
    eps: float | None = None,
    gamma: float = 1.0,
    chains: int = 4,
    burnin: int | None = None,
    draws: int | None = None,
    batch_size: int | None = None,
    noise: float = 1.0,
    init_noise: float = 0.0,
    divergence_threshold: float | None = None,
    escape_tol: float = 1.0,
    min_acceptance: float = 0.9,
    calibrate: bool = False,
    eps_grid=None,
    gamma_grid=None,
    calibration_acceptance: float = 0.99,
    plateau_rtol: float = 0.01,
    sweep_fraction: float = 0.4,
    reference_eps: float | None = None,
    estimator: str | None = None,
    beta_ratio: float = 0.5,
) -> LLCResult:
    """Estimate the local learning coefficient at ``w_star`` with SGLD (module docstring).

    lambda_hat = n beta ( E_loc[L_n(w)] - L_n(w*) ),  SGLD  w <- w - eps/2 (n beta grad L_m + gamma (w - w*))
    + N(0, eps); Lau et al. (2023) eq. 10-11, docs/dynamics.md §4.

    Parameters
    ----------
    rng_key : jax PRNG key
    loss_fn : callable ``loss_fn(w, data) -> scalar``
        The empirical loss L_n (or L_m on a minibatch ``data`` subset); jax-traceable. Reuse the same
        function object across calls to reuse the compiled chains.
    w_star : pytree of arrays
        The centre w* (e.g. a critical point).
    data : pytree, optional
        Passed to ``loss_fn`` (full batch) or subsampled along its leading axis (``batch_size``).
    n : int, keyword-only
        Data size for the default n beta = n / log n; inferred from ``data``'s leading axis if omitted.
    nbeta : float, keyword-only
        n * beta; overrides the default.
    eps, gamma : float, keyword-only
        Step size (> 0) and localisation strength (>= 0). Default 1e-3 and 1 (the paper's). With
        ``calibrate=True`` eps is chosen (passing it is an error) and gamma is the default of
        ``gamma_grid``.
    chains, burnin, draws : int, keyword-only
        Number of chains (>= 1), discarded steps (>= 0) and averaged steps (>= 1). Default 4, 0, 500
        (with ``calibrate=True``: 4, 40000, 160000).
    batch_size : int, keyword-only
        Minibatch size m (samples drawn with replacement each step); None = full batch.
    noise : float, keyword-only
        Noise scale (1 = SGLD; 0 = gradient descent, for tests).
    init_noise : float, keyword-only
        Standard deviation of the chains' jitter around w* at the start.
    divergence_threshold, escape_tol, min_acceptance : float, keyword-only
        Health thresholds (module docstring).
    calibrate : bool, keyword-only
        Choose eps (and gamma) by a short sweep at fixed n beta and fixed SGLD time
        (:mod:`sampling.dynamics.calibrate`, docs/llc.md): the largest step that is healthy, has MALA
        acceptance >= ``calibration_acceptance``, a stationary loss trace and an estimate on the
        small-step plateau; then a fresh estimate there.
        If no setting passes, the estimate is NaN and ``reason`` says why.
    eps_grid : sequence of float, keyword-only
        Steps to try (default ``ESTIMATE_EPS_SCALES / nbeta`` = 2^-k / (n beta), k = 0..8).
    gamma_grid : sequence of float, keyword-only
        Localisations to try (default ``(gamma,)``); the smallest one with a valid step is used.
    calibration_acceptance, plateau_rtol, sweep_fraction : float, keyword-only
        Calibration thresholds (default 0.99, 0.01) and the sweep chains' length as a fraction of the
        final chains' (default 0.4).
    reference_eps : float, keyword-only
        With ``calibrate=True`` every step size runs the same SGLD time t = eps x steps: ``burnin`` and
        ``draws`` are the steps at ``reference_eps`` (default 1 / (8 n beta)) and scale as
        reference_eps / eps (the final estimate at the chosen eps likewise).
    estimator : {"plain", "two_temperature"} or None, keyword-only
        ``"plain"``: lambda_hat = n beta (E_beta[L_n] - L_n(w*)) (Lau et al. 2023 eq. 10; the papers' SGLD
        numbers). ``"two_temperature"``: also run beta2 = ``beta_ratio`` x beta (chains coupled to the
        beta chains: same keys, step and number of steps) and report lambda_hat_2T = n (E_beta[L_n] - E_beta2[L_n]) / (1/beta - 1/beta2) (Watanabe
        2013, JMLR 14, the two-temperature estimate of lambda; docs/llc.md §4): L_n(w*) cancels, and with
        it the O(beta) finite-n bias beta xi_n of the plain estimate centred at a point that is not the
        empirical minimum (exact for a quadratic loss). Default (None): ``"two_temperature"`` with
        ``calibrate=True``, ``"plain"`` otherwise. The result carries both (``llc_plain``, ``parts``).
    beta_ratio : float, keyword-only
        beta2 / beta for the two-temperature estimate (in (0, 1); default 1/2: lambda_hat_2T =
        2 lambda_hat(beta/2) - lambda_hat(beta), a Richardson extrapolation of the plain estimate to beta -> 0).

    Returns
    -------
    LLCResult
    """
    if not callable(loss_fn):
        raise ValueError(f"`loss_fn` must be callable; got {type(loss_fn).__name__}.")
    if not isinstance(calibrate, bool):
        raise ValueError(f"`calibrate` must be True or False; got {calibrate!r}.")
    if calibrate and eps is not None:
        raise ValueError(f"`eps` is chosen by the calibration; got eps={eps!r} with calibrate=True "
                         "(pass eps_grid to restrict the steps tried).")
    if estimator is None:
        estimator = "two_temperature" if calibrate else "plain"
    if estimator not in ESTIMATORS:
        raise ValueError(f"`estimator` must be one of {ESTIMATORS} or None; got {estimator!r}.")
    beta_ratio = _check_float("beta_ratio", beta_ratio, positive=True)
    if not beta_ratio < 1.0:
        raise ValueError(f"`beta_ratio` must be in (0, 1) (beta2 = beta_ratio x beta, a hotter second run); "
                         f"got {beta_ratio!r}.")
    if burnin is None:
        burnin = 40000 if calibrate else 0
    if draws is None:
        draws = 160000 if calibrate else 500
    n_data = None
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, minimum=1)
        n_data = _leading_size(data)
    if n is None and data is not None and batch_size is not None:
        n = n_data
    if nbeta is None:
        if n is None:
            raise ValueError("`nbeta` is needed when the data size `n` is not given (default nbeta = n / log n).")
        nbeta = default_nbeta(n)
    w_star = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype=jnp.float64), w_star)
    d = int(sum(np.size(x) for x in jax.tree_util.tree_leaves(w_star)))
    block = 1 if batch_size is None else max(1, check_int("draws", draws, minimum=1) // 20)
    base = SGLDConfig(
        nbeta=nbeta, eps=1e-3 if eps is None else eps, gamma=gamma, chains=chains, burnin=burnin, draws=draws, n=n,
        batch_size=batch_size, noise=noise, init_noise=init_noise, d=d, divergence_threshold=divergence_threshold,
        escape_tol=escape_tol, min_acceptance=min_acceptance, escape_block=block,
    )
    ratio = beta_ratio if estimator == "two_temperature" else None
    if not calibrate:
        res = _estimate(rng_key, loss_fn, w_star, data, base, n_data)
        return res if ratio is None else _two_temperature(rng_key, loss_fn, w_star, data, res, n_data, ratio)
    return _calibrated(rng_key, loss_fn, w_star, data, base, n_data, eps_grid=eps_grid, gamma_grid=gamma_grid,
                       calibration_acceptance=calibration_acceptance, plateau_rtol=plateau_rtol,
                       sweep_fraction=sweep_fraction, reference_eps=reference_eps, beta_ratio=ratio)


ESTIMATORS = ("plain", "two_temperature")
"""The estimates ``estimate_llc(estimator=...)`` can report as ``llc``."""


def combine_two_temperatures(llc1, llc2, ratio):
    """The two-temperature estimate from plain estimates at beta1 and beta2 = ``ratio`` x beta1.

    With lambda_b = n beta (E_beta[L_n] - L_n(w*)), i.e. n E_beta[L_n] = n L_n(w*) + lambda_b / beta:

        lambda_2T = n (E_beta1[L_n] - E_beta2[L_n]) / (1/beta1 - 1/beta2) = (ratio lambda_1 - lambda_2) / (ratio - 1)

    (ratio = 1/2: 2 lambda_2 - lambda_1). Works elementwise on arrays (e.g. per pair of chains).
    docs/llc.md §4; Watanabe (2013), JMLR 14, the two-temperature estimate of lambda.
    """
    return (ratio * np.asarray(llc1, dtype=np.float64) - np.asarray(llc2, dtype=np.float64)) / (ratio - 1.0)


def _two_temperature(rng_key, loss_fn, w_star, data, res1: LLCResult, n_data, ratio) -> LLCResult:
    """Add the run at beta2 = ratio x beta1 < beta1 to the plain result ``res1`` (run with ``rng_key``) and
    report the two-temperature estimate per pair of chains.

    The beta2 chains are *coupled* to the beta1 chains: same keys, so the same start and the same
    Gaussian increments at every step (synchronous coupling), the same step eps and the same number of
    steps (the same SGLD time; eps n beta2 = ratio x eps n beta1, a smaller discretisation error). The
    paired chain values are then strongly positively correlated and the Monte Carlo error of
    lambda_2T = (ratio lambda_1 - lambda_2) / (ratio - 1) is far below that of independent chains
    (docs/llc.md §4)."""
    c1 = res1.config
    cfg2 = dataclasses.replace(c1, nbeta=c1.nbeta * ratio)
    res2 = _estimate(rng_key, loss_fn, w_star, data, cfg2, n_data)
    pair = combine_two_temperatures(res1.chain_llc, res2.chain_llc, ratio)
    healthy = np.asarray(res1.healthy) & np.asarray(res2.healthy)
    k = int(healthy.sum())
    llc = float(pair[healthy].mean()) if k else float("nan")
    std = float(pair[healthy].std(ddof=1)) if k >= 2 else float("nan")
    se = std / math.sqrt(k) if k >= 2 else float("nan")
    reason = ""
    if not k:
        why = [f"beta{i + 1}: {r.reason or 'no healthy chain'}" for i, r in enumerate((res1, res2)) if not r.healthy.any()]
        reason = "no pair of healthy chains at the two temperatures" + (": " + "; ".join(why) if why else "")
    elif llc <= 0:
        reason = (f"the two-temperature estimate {llc:.4g} is not positive (plain estimates {res1.llc:.4g} at n beta "
                  f"= {c1.nbeta:.4g}, {res2.llc:.4g} at {cfg2.nbeta:.4g}): not reported as an estimate")
        llc, std, se = float("nan"), float("nan"), float("nan")
    return dataclasses.replace(res1, llc=llc, llc_std=std, llc_se=se, chain_llc=pair, healthy=healthy, reason=reason,
                               estimator="two_temperature", llc_plain=res1.llc, llc_plain_se=res1.llc_se,
                               parts=(res1, res2))


def _estimate(rng_key, loss_fn, w_star, data, cfg: SGLDConfig, n_data, *, calibration=None) -> LLCResult:
    """One estimate with settings ``cfg`` (validated)."""
    run = chain_runner(loss_fn, batch_size=cfg.batch_size, n_data=n_data, n_steps=cfg.burnin + cfg.draws)
    keys = jax.random.split(as_typed_key(rng_key), cfg.chains)
    losses, accept, loss_star = run(keys, w_star, data, cfg.eps, cfg.gamma, cfg.nbeta, cfg.noise, cfg.init_noise)
    loss_star = float(loss_star)
    llc, std, se, chain_llc, healthy, diag = summarize_chains(
        losses, accept, loss_star, nbeta=cfg.nbeta, burnin=cfg.burnin, d=cfg.d,
        divergence_threshold=cfg.divergence_threshold, escape_tol=cfg.escape_tol,
        min_acceptance=cfg.min_acceptance, block=cfg.escape_block,
    )
    if cfg.divergence_threshold is None:
        cfg = dataclasses.replace(cfg, divergence_threshold=10.0 * max(cfg.d, 1))
    reason = ""
    if not math.isfinite(llc):
        reason = "no healthy chain: " + "; ".join(f"chain {c}: {r}" for c, r in diag.excluded) if diag.excluded \
            else "no finite estimate"
    return LLCResult(
        llc=llc, llc_std=std, llc_se=se, chain_llc=chain_llc, healthy=healthy, loss_star=loss_star,
        loss_trace=np.asarray(losses), acceptance_trace=np.asarray(accept), diagnostics=diag, config=cfg,
        seed=key_data(rng_key), calibration=calibration, reason=reason, llc_plain=llc, llc_plain_se=se,
    )


def _calibrated(rng_key, loss_fn, w_star, data, base: SGLDConfig, n_data, *, eps_grid, gamma_grid,
                calibration_acceptance, plateau_rtol, sweep_fraction, reference_eps, beta_ratio=None) -> LLCResult:
    """The calibration sweep and the final estimate (:mod:`sampling.dynamics.calibrate`)."""
    from sampling.dynamics.calibrate import (
        DEFAULT_REFERENCE_SCALE,
        ESTIMATE_EPS_SCALES,
        Calibration,
        choose_setting,
        sweep_setting,
    )

    calibration_acceptance = _check_float("calibration_acceptance", calibration_acceptance, nonneg=True)
    plateau_rtol = _check_float("plateau_rtol", plateau_rtol, nonneg=True)
    sweep_fraction = _check_float("sweep_fraction", sweep_fraction, positive=True)
    eps_list = _grid("eps_grid", eps_grid, [x / base.nbeta for x in ESTIMATE_EPS_SCALES], positive=True)
    gamma_list = _grid("gamma_grid", gamma_grid, [base.gamma], positive=False)
    ref = DEFAULT_REFERENCE_SCALE / base.nbeta if reference_eps is None else \
        _check_float("reference_eps", reference_eps, positive=True)

    def steps(e, fraction):  # the same SGLD time t = eps * steps for every step size
        return (int(math.ceil(fraction * base.burnin * ref / e)),
                max(2, int(math.ceil(fraction * base.draws * ref / e))))

    k_sweep, k_final = jax.random.split(as_typed_key(rng_key))
    keys = jax.random.split(k_sweep, base.chains)  # common random numbers across the settings
    # compile once outside the timed sweep (one chunk; the sweep and the final estimate reuse it)
    chain_runner(loss_fn, batch_size=base.batch_size, n_data=n_data, n_steps=1)(
        keys, w_star, data, eps_list[-1], gamma_list[0], base.nbeta, base.noise, base.init_noise)
    settings, total = [], 0
    t0 = time.perf_counter()
    for g in sorted(gamma_list):
        for e in sorted(eps_list, reverse=True):
            b_s, d_s = steps(e, sweep_fraction)
            run = chain_runner(loss_fn, batch_size=base.batch_size, n_data=n_data, n_steps=b_s + d_s)
            losses, accept, loss_star = run(keys, w_star, data, e, g, base.nbeta, base.noise, base.init_noise)
            total += base.chains * (b_s + d_s)
            settings.append(dataclasses.replace(sweep_setting(
                losses, accept, float(loss_star), eps=e, gamma=g, nbeta=base.nbeta, burnin=b_s, d=base.d,
                min_acceptance=calibration_acceptance, plateau_rtol=plateau_rtol, summarize=summarize_chains,
                divergence_threshold=base.divergence_threshold, escape_tol=base.escape_tol,
                block=1 if base.batch_size is None else max(1, d_s // 20),
            ), steps=b_s + d_s))
            # early stop: this gamma's plateau is confirmed once two neighbouring passing steps agree
            out, ch, _ = choose_setting([x for x in settings if x.gamma == g], plateau_rtol=plateau_rtol)
            if ch is not None and out[ch].on_plateau:
                break
    settings, chosen, why = choose_setting(settings, plateau_rtol=plateau_rtol)
    cal = Calibration(settings=tuple(settings), chosen=chosen, reason=why,
                      steps_per_setting=int(base.burnin + base.draws), sweep_steps=total,
                      min_acceptance=calibration_acceptance, plateau_rtol=plateau_rtol,
                      sweep_seconds=time.perf_counter() - t0, reference_eps=ref)
    if chosen is None:
        cfg = dataclasses.replace(base, calibrated=True)
        nan = float("nan")
        C = base.chains
        diag = LLCDiagnostics(nan_chains=(), diverged_chains=(), escaped_chains=(), excluded=(), acceptance=(),
                              acceptance_mean=nan, min_delta=(), llc_all_chains=nan, warnings=(why,))
        return LLCResult(llc=nan, llc_std=nan, llc_se=nan, chain_llc=np.full(C, nan), healthy=np.zeros(C, bool),
                         loss_star=float(loss_star), loss_trace=np.zeros((C, 0)), acceptance_trace=np.zeros((C, 0)),
                         diagnostics=diag, config=cfg, seed=key_data(rng_key), calibration=cal, reason=why,
                         estimator="plain" if beta_ratio is None else "two_temperature")
    s = settings[chosen]
    b_f, d_f = steps(s.eps, 1.0)
    cfg = dataclasses.replace(base, eps=s.eps, gamma=s.gamma, burnin=b_f, draws=d_f, calibrated=True,
                              escape_block=1 if base.batch_size is None else max(1, d_f // 20))
    t1 = time.perf_counter()
    res = _estimate(k_final, loss_fn, w_star, data, cfg, n_data)
    if beta_ratio is not None:
        res = _two_temperature(k_final, loss_fn, w_star, data, res, n_data, beta_ratio)
    cal = dataclasses.replace(cal, estimate_seconds=time.perf_counter() - t1)
    return dataclasses.replace(res, seed=key_data(rng_key), calibration=cal)


def _grid(name, values, default, *, positive):
    if values is None:
        return list(default)
    try:
        vals = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a sequence of numbers; got {values!r}.") from None
    if not vals or not all(math.isfinite(v) and (v > 0 if positive else v >= 0) for v in vals):
        kind = "positive" if positive else "non-negative"
        raise ValueError(f"`{name}` must be a non-empty sequence of finite {kind} numbers; got {values!r}.")
    return sorted(set(vals))
