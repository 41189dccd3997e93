"""The LLC of the TMS: at a critical point (calibrated) and along SGD trajectories (docs/dynamics.md §4-6).

:func:`tms_llc` estimates lambda_hat(w*) = n beta (E_loc[L_n] - L_n(w*)) (:mod:`sampling.dynamics.sgld`) for a TMS
parameter w* = (W*, b*) and a data set, with the exact O(c^2 log n) empirical loss
(:func:`sampling.empirical_potential`, full batch) or minibatches of the direct loss. Two steps make
the estimate at a *catalogue* point calibrated:

1. **Free directions moved inside.** A catalogue point stores its free biases (dead columns with
   b <= 0, "off" columns whose output never fires) at canonical values close to the boundary b = 0
   (dead: -1/(2c)). Past that boundary the loss *drops* (the 5-gon's dead bias crossing 0 turns it into
   the 5^{+}-gon, 1/144 lower), so a chain started there escapes. With ``free_bias`` (default -1) these
   biases are moved to b = free_bias (dead) and b = -max_j a_ij + free_bias (off), which leaves L and
   the critical set unchanged (the LLC of a critical set does not depend on where on it one stands,
   away from its boundary).
2. **Refined centre.** L_n(w*) must be the value at the *empirical* critical point near w*, not at
   the population one: otherwise lambda_hat picks up n beta (L_n(w*) - min L_n) = O(beta d / 2) of
   spurious loss difference. With ``refine=True`` w* is first moved by gradient descent on L_n
   (step ``refine_lr``) until |grad L_n| <= ``refine_tol``.

**Step size.** eps = 0.02 / (n beta) by default. The TMS Hessian eigenvalues near the k-gons are
<= ~2, so along every direction eps kappa / 4 <= 1% (kappa = n beta h) and the harmonic
discretisation bias of SGLD, (1/2) (eps kappa / 4) / (1 - eps kappa / 4) per direction, stays below
~0.5% of lambda.

**Chain length.** The variance along a direction of curvature h relaxes in tau = 1 / (eps n beta h)
steps. By default the chains run ``burnin_tau`` = 3 relaxation times of the slowest *curved*
direction of L_n at the centre (smallest Hessian eigenvalue above 1e-3 of the largest; flat, orbit
and degenerate directions excluded) as burn-in and ``draws_tau`` = 10 as draws (6-gon: tau ~ 2400
steps; 5-gon ~ 870). Flat directions are not equilibrated: there the chain only diffuses,
sqrt(eps t) per coordinate, and longer chains let a dead column's weights reach the walls where its
output starts to fire (for the 5-gon at |W_6| ~ 0.24), which adds a positive contribution that grows
with the chain length (docs/dynamics.md); tying the length to the curved directions keeps it small.

:func:`llc_trajectory` runs the paper's setting (full batch, eps = 1e-3, gamma = 1, 500 steps,
beta = 1 / log n with the training-set size n; Chen et al. 2023 §6) at SGD checkpoints
(:class:`sampling.SGDResult`), each checkpoint with its own run's training set, all centres and chains
in one vmapped program. The checkpoints are used as they are (no refinement), as in the paper.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kgon.io import finite_or_none
from kgon.validation import check_float, check_int
from sampling.data import Dataset, key_data
from sampling.dynamics.calibrate import (
    DEFAULT_EPS_SCALES,
    DEFAULT_REFERENCE_SCALE,
    Calibration,
    choose_setting,
    sweep_setting,
)
from sampling.dynamics.llc import estimate_llc
from sampling.dynamics.llc_result import LLCResult, summarize_chains
from sampling.dynamics.sgld import as_typed_key, chain_runner, default_nbeta
from sampling.dynamics.sgld_config import SGLDConfig
from sampling.fast_potential import EmpiricalPotential, dense_loss, empirical_potential

__all__ = [
    "tms_llc",
    "relaxation_time",
    "refine_center",
    "move_free_biases",
    "llc_trajectory",
    "TrajectoryLLC",
    "tms_loss",
    "tms_minibatch_loss",
    "DEFAULT_EPS_SCALE",
]

DEFAULT_EPS_SCALE = 0.02
"""Default eps * n beta for :func:`tms_llc` (module docstring)."""


def tms_loss(w, potential: EmpiricalPotential):
    """L_n(W, b) with the exact fast evaluator; ``w = (W, b)``. (A module-level function so that the
    compiled SGLD chains are reused across calls.)"""
    W, b = w
    return potential.value(W, b)


def tms_minibatch_loss(w, batch):
    """Direct loss of a minibatch ``batch = (features, mu)``; ``w = (W, b)``."""
    W, b = w
    features, mu = batch
    return dense_loss(features, mu, W, b)


def move_free_biases(W, b, *, free_bias: float = -1.0, tol: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """Move free biases away from their boundary (module docstring, step 1).

    Dead columns (``|W_i|`` <= tol) with b_i <= 0 get b_i = free_bias; live columns whose output never
    fires (b_i <= -max(0, max_j W_i.W_j) + tol) get b_i = -max(0, max_j W_i.W_j) + free_bias. Other
    entries are unchanged; L(W, b) is unchanged. ``free_bias`` must be negative.
    """
    free_bias = check_float("free_bias", free_bias)
    if free_bias >= 0:
        raise ValueError(f"`free_bias` must be negative; got {free_bias!r}.")
    W = np.array(W, dtype=np.float64)
    b = np.array(b, dtype=np.float64)
    G = W.T @ W
    norms = np.linalg.norm(W, axis=0)
    for i in range(W.shape[1]):
        if norms[i] <= tol:
            if b[i] <= 0:
                b[i] = free_bias
        else:
            top = max(0.0, float(G[i].max()))
            if b[i] <= -top + tol:
                b[i] = -top + free_bias
    return W, b


@jax.jit
def _gd(w, potential, lr, tol, max_steps):
    vg = jax.value_and_grad(tms_loss)

    def gnorm(g):
        return jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree_util.tree_leaves(g)))

    def cond(state):
        _, _, g, k = state
        return (gnorm(g) > tol) & (k < max_steps)

    def body(state):
        w, _, g, k = state
        w = jax.tree_util.tree_map(lambda x, gg: x - lr * gg, w, g)
        L, g = vg(w, potential)
        return w, L, g, k + 1

    L0, g0 = vg(w, potential)
    return jax.lax.while_loop(cond, body, (w, L0, g0, 0))


def refine_center(W, b, dataset: Dataset | EmpiricalPotential, *, lr: float = 0.5, tol: float = 1e-10,
                  max_steps: int = 100_000) -> tuple[np.ndarray, np.ndarray, float, float, int]:
    """Gradient descent on L_n from (W, b) to the nearby empirical critical point (module docstring).

    Returns ``(W, b, L_n, |grad L_n|, steps)``. Raises ``ValueError`` if the iteration does not reach
    ``tol`` within ``max_steps`` (the point is then not near a critical point of L_n).
    """
    lr = check_float("lr", lr, positive=True)
    tol = check_float("tol", tol, positive=True)
    max_steps = check_int("max_steps", max_steps, minimum=1)
    pot = dataset if isinstance(dataset, EmpiricalPotential) else empirical_potential(dataset)
    w0 = (jnp.asarray(W, dtype=jnp.float64), jnp.asarray(b, dtype=jnp.float64))
    (Wr, br), L, g, k = _gd(w0, pot, lr, tol, max_steps)
    gn = float(jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree_util.tree_leaves(g))))
    if not (gn <= tol):
        raise ValueError(
            f"refining the centre by gradient descent on L_n did not converge: |grad L_n| = {gn:.3g} > "
            f"tol = {tol:g} after {int(k)} steps (lr = {lr:g}); the point is not near a critical point of L_n."
        )
    return np.asarray(Wr), np.asarray(br), float(L), gn, int(k)


def relaxation_time(W, b, potential: EmpiricalPotential, *, nbeta: float, eps: float,
                    flat_rtol: float = 1e-3) -> tuple[float, float]:
    """(h_slow, tau): the smallest curvature of L_n at (W, b) that is not flat and the SGLD relaxation
    time tau = 1 / (eps n beta h_slow) of the variance along it (module docstring, "chain length").

    Hessian eigenvalues with |h| <= ``flat_rtol`` max |h| count as flat (orbit, free and degenerate
    directions); |h| is used for negative ones (saddles).
    """
    x0 = jnp.concatenate([jnp.ravel(jnp.asarray(W)), jnp.asarray(b)])
    r, c = np.shape(W)

    def f(x):
        return tms_loss((x[: r * c].reshape(r, c), x[r * c :]), potential)

    h = np.abs(np.linalg.eigvalsh(np.asarray(jax.jit(jax.hessian(f))(x0))))
    curved = h[h > flat_rtol * h.max()] if h.max() > 0 else h
    h_slow = float(curved.min()) if curved.size else float(h.max())
    if not h_slow > 0:
        raise ValueError("the Hessian of L_n at the centre vanishes; pass `burnin` and `draws` explicitly.")
    return h_slow, 1.0 / (eps * nbeta * h_slow)


def tms_llc(
    rng_key,
    W,
    b,
    dataset: Dataset,
    *,
    calibrate: bool = False,
    config: SGLDConfig | None = None,
    refine: bool = True,
    free_bias: float | None = -1.0,
    burnin_tau: float = 3.0,
    draws_tau: float = 10.0,
) -> LLCResult:
    """SGLD estimate of the LLC of the TMS at (W, b) for a data set (module docstring).

    Parameters
    ----------
    rng_key : jax PRNG key
    W, b : array_like, shapes (r, c), (c,)
        The centre, e.g. a catalogue point's ``W`` and ``b``.
    dataset : Dataset
        The data D_n (:func:`sampling.make_dataset`).
    calibrate : bool, keyword-only
        Choose eps by the calibration sweep of :func:`sampling.estimate_llc`; ``burnin`` and ``draws``
        (by default from the relaxation time at the default eps) are the steps at the default eps
        (``config.reference_eps``), and every step size runs the same SGLD time eps x steps.
    config : SGLDConfig, keyword-only
        SGLD settings (:class:`sampling.SGLDConfig`). Defaults here: n beta = n / log n, eps =
        ``DEFAULT_EPS_SCALE / nbeta`` = 0.02 / (n beta), 64 chains (many short chains rather than few
        long ones: "chain length" in the module docstring), ``burnin`` and ``draws`` ``burnin_tau`` and
        ``draws_tau`` relaxation times of the slowest curved direction; the rest as in
        :func:`sampling.estimate_llc`.
    refine : bool, keyword-only
        Move the centre to the empirical critical point first (default True).
    free_bias : float or None, keyword-only
        Move free biases to this depth first (default -1; None: leave them).
    burnin_tau, draws_tau : float, keyword-only
        Defaults 3 and 10.

    Returns
    -------
    LLCResult
        ``context`` records ``refined``, ``refine_grad_norm``, ``refine_steps``, ``free_bias``,
        ``center_W`` and ``center_b`` (the centre actually used), ``slowest_curvature`` and
        ``relaxation_steps``.
    """
    if not isinstance(dataset, Dataset):
        raise ValueError(f"`dataset` must be a sampling.Dataset; got {type(dataset).__name__}.")
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if W.ndim != 2 or b.shape != (W.shape[1],) or W.shape[1] != dataset.c:
        raise ValueError(f"`W` and `b` must have shapes (r, {dataset.c}) and ({dataset.c},); got {W.shape}, {b.shape}.")
    config = SGLDConfig() if config is None else config
    if not isinstance(calibrate, bool):
        raise ValueError(f"`calibrate` must be True or False; got {calibrate!r}.")
    if calibrate and config.eps is not None:
        raise ValueError(f"`eps` is chosen by the calibration; got eps={config.eps!r} with calibrate=True.")
    nbeta = default_nbeta(dataset.n) if config.nbeta is None else config.nbeta
    # the default step also sets the chain length (relaxation times) when calibrating
    eps = DEFAULT_EPS_SCALE / nbeta if config.eps is None else config.eps
    if free_bias is not None:
        W, b = move_free_biases(W, b, free_bias=free_bias)
    pot = empirical_potential(dataset)
    info = {"refined": bool(refine), "refine_grad_norm": None, "refine_steps": 0}
    if refine:
        W, b, _, gn, k = refine_center(W, b, pot)
        info.update(refine_grad_norm=gn, refine_steps=k)
    w_star = (jnp.asarray(W), jnp.asarray(b))
    burnin, draws = config.burnin, config.draws
    h_slow, tau = relaxation_time(W, b, pot, nbeta=nbeta, eps=eps) if burnin is None or draws is None else (None, None)
    if burnin is None:
        burnin = int(math.ceil(check_float("burnin_tau", burnin_tau, minimum=0.0) * tau))
    if draws is None:
        draws = max(1, int(math.ceil(check_float("draws_tau", draws_tau, positive=True) * tau)))
    info.update(slowest_curvature=h_slow, relaxation_steps=tau)
    config = dataclasses.replace(
        config, nbeta=nbeta, burnin=burnin, draws=draws, chains=64 if config.chains is None else config.chains,
        eps=None if calibrate else eps,
        reference_eps=(config.reference_eps or eps) if calibrate else config.reference_eps)
    if config.batch_size is None:
        res = estimate_llc(rng_key, tms_loss, w_star, pot, n=dataset.n, calibrate=calibrate, config=config)
    else:
        data = (jnp.asarray(dataset.features), jnp.asarray(dataset.mu))
        res = estimate_llc(rng_key, tms_minibatch_loss, w_star, data, n=dataset.n, calibrate=calibrate,
                           config=config)
    context = dict(res.context, **info, free_bias=free_bias, center_W=W.tolist(), center_b=b.tolist())
    return dataclasses.replace(res, context=context)


# ----------------------------------------------------------------------------------------------
# along SGD trajectories


@dataclass(frozen=True, eq=False)
class TrajectoryLLC:
    """SGLD LLC estimates at SGD checkpoints (R runs x K checkpoints x C chains; NaN where not computed).

    Attributes
    ----------
    steps : ndarray of int, shape (K,)
        The SGD result's checkpoint steps.
    computed : ndarray of bool, shape (R, K)
        Where an estimate was attempted.
    llc : ndarray, shape (R, K)
        Mean over the healthy chains (NaN where not computed or no chain is healthy).
    llc_se : ndarray, shape (R, K)
        Standard error over the healthy chains.
    chain_llc : ndarray, shape (R, K, C)
    healthy : ndarray of bool, shape (R, K, C)
    acceptance : ndarray, shape (R, K)
        Mean MALA acceptance.
    reasons : dict
        Number of excluded chains per reason (``"nan"``, ``"diverged"``, ``"escaped"``).
    config : dict
    seed : tuple of int
    calibration : Calibration or None
        The step-size sweep when calibrated (one eps for all centres; :func:`llc_trajectory`).
    reason : str
        Why every estimate is NaN, if the calibration found no valid step ("" otherwise).
    """

    steps: np.ndarray
    computed: np.ndarray
    llc: np.ndarray
    llc_se: np.ndarray
    chain_llc: np.ndarray
    healthy: np.ndarray
    acceptance: np.ndarray
    reasons: dict
    config: dict = field(default_factory=dict)
    seed: tuple[int, ...] = ()
    calibration: Any = None
    reason: str = ""

    def to_dict(self) -> dict:
        """JSON-able summary: per run the (step, llc, llc_se) of every computed checkpoint."""
        runs = []
        for i in range(self.llc.shape[0]):
            ks = np.nonzero(self.computed[i])[0]
            runs.append([[int(self.steps[k]), finite_or_none(self.llc[i, k]), finite_or_none(self.llc_se[i, k])]
                         for k in ks])
        return {"config": dict(self.config), "excluded_chains": dict(self.reasons), "runs": runs,
                "calibration": None if self.calibration is None else self.calibration.to_dict(),
                "reason": self.reason}


def _stack_potentials(pots: list[EmpiricalPotential]) -> EmpiricalPotential:
    """One EmpiricalPotential with a leading axis on every leaf (for vmap), padded to a common N
    (magnitudes with +inf, prefix sums with their total, suffix sums with 0, as within one set)."""
    N = max(p.m.shape[1] for p in pots)
    padded = []
    for p in pots:
        k = N - p.m.shape[1]
        padded.append(dataclasses.replace(
            p,
            m=jnp.pad(p.m, ((0, 0), (0, k)), constant_values=jnp.inf),
            prefix=jnp.pad(p.prefix, ((0, 0), (0, 0), (0, k)), mode="edge"),
            suffix=jnp.pad(p.suffix, ((0, 0), (0, 0), (0, k))),
        ))
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *padded)


def _select_indices(K: int, checkpoints) -> np.ndarray:
    if checkpoints is None:
        return np.arange(K)
    if isinstance(checkpoints, (int, np.integer)) and not isinstance(checkpoints, bool):
        m = check_int("checkpoints", checkpoints, minimum=1)
        return np.unique(np.round(np.linspace(0, K - 1, min(m, K))).astype(int))
    idx = np.unique(np.asarray(checkpoints, dtype=int))
    if idx.size == 0 or idx.min() < 0 or idx.max() >= K:
        raise ValueError(f"`checkpoints` must be indices in 0..{K - 1}; got {checkpoints!r}.")
    return idx


def llc_trajectory(
    rng_key,
    result,
    *,
    checkpoints=None,
    centers=None,
    calibrate: bool | None = None,
    config: SGLDConfig | None = None,
    chunk: int = 128,
    calibration_centers: int = 16,
) -> TrajectoryLLC:
    """SGLD LLC at the checkpoints of SGD runs, the paper's setting by default (module docstring).

    Parameters
    ----------
    rng_key : jax PRNG key
    result : SGDResult
    checkpoints : None, int or sequence of int, keyword-only
        For every run: all checkpoints (None), that many spread evenly over the checkpoint list (int),
        or these checkpoint indices.
    centers : array of int, shape (M, 2), keyword-only
        Explicit (run, checkpoint index) pairs instead of ``checkpoints``.
    calibrate : bool, keyword-only
        Choose one eps for all centres by the calibration sweep (:mod:`sampling.dynamics.calibrate`) on
        up to ``calibration_centers`` evenly spaced centres, their chains pooled (check 1 tolerates 25%
        excluded chains: plateaus at points that are not minima of L_n lose chains). Default: on when
        ``config.eps`` is not given. If no step passes, every estimate is NaN and ``reason`` says why.
    config : SGLDConfig, keyword-only
        SGLD settings (:class:`sampling.SGLDConfig`; used: nbeta, eps, gamma, chains, burnin, draws,
        escape_tol and the calibration's eps_grid, calibration_acceptance, plateau_rtol,
        sweep_fraction, reference_eps). Defaults here: n beta = n / log n with n the training-set size,
        eps = 1e-3 (the paper's) when not calibrated, 4 chains, burnin 0, draws 500 (at the reference
        step when calibrated), eps grid 2^-k / (n beta), k = 0..7.
    chunk : int, keyword-only
        Centres per compiled batch (memory bound).

    Returns
    -------
    TrajectoryLLC
    """
    cfg = result.config
    config = SGLDConfig() if config is None else config
    if calibrate is None:
        calibrate = config.eps is None
    if not isinstance(calibrate, bool):
        raise ValueError(f"`calibrate` must be True, False or None; got {calibrate!r}.")
    if calibrate and config.eps is not None:
        raise ValueError(f"`eps` is chosen by the calibration; got eps={config.eps!r} with calibrate=True.")
    calibration_centers = check_int("calibration_centers", calibration_centers, minimum=1)
    chunk = check_int("chunk", chunk, minimum=1)
    config = dataclasses.replace(
        config, nbeta=default_nbeta(cfg.n) if config.nbeta is None else config.nbeta,
        eps=1e-3 if config.eps is None else config.eps, chains=4 if config.chains is None else config.chains,
        burnin=0 if config.burnin is None else config.burnin, draws=500 if config.draws is None else config.draws)
    R, K = result.train_loss.shape
    run_of, ck_of = _centers(R, K, centers, checkpoints)
    stacked = _stack_potentials([empirical_potential(Dataset(features=result.features[i], mu=result.mu[i], c=cfg.c,
                                                                 n=cfg.n)) for i in range(R)])
    Wc = result.W[run_of, ck_of]
    bc = result.b[run_of, ck_of]
    ok = np.all(np.isfinite(Wc), axis=(1, 2)) & np.all(np.isfinite(bc), axis=1)
    M = run_of.size
    keys = jax.random.split(as_typed_key(rng_key), (max(M, 1), config.chains))
    todo = np.nonzero(ok)[0]
    d = cfg.r * cfg.c + cfg.c
    calibration, reason = None, ""
    if calibrate and todo.size:
        sub = todo[np.unique(np.round(np.linspace(0, todo.size - 1, min(calibration_centers, todo.size))).astype(int))]
        width = min(chunk, todo.size)  # the final run's batch shape: one compilation for both
        pad = np.concatenate([sub, np.full(max(0, width - sub.size), sub[-1])])
        calibration = _calibrate_trajectory(keys[pad], Wc[pad], bc[pad], jax.tree_util.tree_map(
            lambda a: a[run_of[pad]], stacked), config, d=d, used=sub.size)
        if calibration.chosen is None:
            reason = calibration.reason
            todo = todo[:0]
        else:  # the same SGLD time at the chosen step
            ref, eps = calibration.reference_eps, calibration.eps
            config = dataclasses.replace(config, eps=eps, burnin=int(math.ceil(config.burnin * ref / eps)),
                                         draws=max(1, int(math.ceil(config.draws * ref / eps))))
    losses, accept, lstar = _run_centers(keys, Wc, bc, stacked, run_of, todo, config, chunk)
    out = _summarize_centers(losses, accept, lstar, run_of, ck_of, todo, (R, K), config, d)
    record = {"nbeta": config.nbeta, "n": cfg.n, "eps": config.eps, "gamma": config.gamma, "chains": config.chains,
              "burnin": config.burnin, "draws": config.draws, "escape_tol": config.escape_tol, "centers": int(M),
              "calibrated": bool(calibrate)}
    return TrajectoryLLC(steps=np.asarray(result.steps), **out, config=record, seed=key_data(rng_key),
                         calibration=calibration, reason=reason)


def _centers(R: int, K: int, centers, checkpoints) -> tuple[np.ndarray, np.ndarray]:
    """(run index, checkpoint index) of every centre, from ``centers`` or ``checkpoints``."""
    if centers is not None:
        pairs = np.asarray(centers, dtype=int).reshape(-1, 2)
        if pairs.size and (pairs[:, 0].min() < 0 or pairs[:, 0].max() >= R or pairs[:, 1].min() < 0
                           or pairs[:, 1].max() >= K):
            raise ValueError(f"`centers` must be (run, checkpoint) pairs in 0..{R - 1} x 0..{K - 1}.")
        pairs = np.unique(pairs, axis=0)
        return pairs[:, 0], pairs[:, 1]
    idx = _select_indices(K, checkpoints)
    return np.repeat(np.arange(R), idx.size), np.tile(idx, R)


def _run_centers(keys, Wc, bc, stacked, run_of, todo, config: SGLDConfig, chunk: int):
    """Loss and acceptance traces (M, chains, T) and L_n(w*) (M,) of the centres ``todo`` (NaN elsewhere),
    in batches of ``chunk`` centres padded to one shape (one compilation)."""
    M, chains, T = run_of.size, config.chains, config.burnin + config.draws
    losses = np.full((M, chains, T), np.nan)
    accept = np.full((M, chains, T), np.nan)
    lstar = np.full(M, np.nan)
    run = chain_runner(tms_loss, batch_size=None, n_data=None, n_steps=T, centers=True)
    size = min(chunk, max(1, todo.size))
    for s in range(0, todo.size, size):
        sel = todo[s : s + size]
        pad = np.concatenate([sel, np.full(size - sel.size, sel[-1])])  # fixed shape: compile once
        data = jax.tree_util.tree_map(lambda a: a[run_of[pad]], stacked)
        w_star = (jnp.asarray(Wc[pad]), jnp.asarray(bc[pad]))
        L, A, Ls = run(keys[pad], w_star, data, config.eps, config.gamma, config.nbeta, 1.0, 0.0)
        losses[sel] = np.asarray(L)[: sel.size]
        accept[sel] = np.asarray(A)[: sel.size]
        lstar[sel] = np.asarray(Ls)[: sel.size]
    return losses, accept, lstar


def _summarize_centers(losses, accept, lstar, run_of, ck_of, todo, shape, config: SGLDConfig, d: int) -> dict:
    """The per-checkpoint fields of :class:`TrajectoryLLC` from the traces of the centres."""
    R, K = shape
    chains = config.chains
    computed = np.zeros((R, K), dtype=bool)
    llc = np.full((R, K), np.nan)
    se = np.full((R, K), np.nan)
    chain_llc = np.full((R, K, chains), np.nan)
    healthy = np.zeros((R, K, chains), dtype=bool)
    acc = np.full((R, K), np.nan)
    reasons = {"nan": 0, "diverged": 0, "escaped": 0}
    computed[run_of, ck_of] = True
    for j in todo:
        i, k = run_of[j], ck_of[j]
        v, _, e, cl, h, diag = summarize_chains(losses[j], accept[j], lstar[j], nbeta=config.nbeta,
                                                burnin=config.burnin, d=d, escape_tol=config.escape_tol)
        llc[i, k], se[i, k], chain_llc[i, k], healthy[i, k], acc[i, k] = v, e, cl, h, diag.acceptance_mean
        reasons["nan"] += len(diag.nan_chains)
        reasons["diverged"] += len(diag.diverged_chains)
        reasons["escaped"] += len(diag.escaped_chains)
    return dict(computed=computed, llc=llc, llc_se=se, chain_llc=chain_llc, healthy=healthy, acceptance=acc,
                reasons=reasons)


def _calibrate_trajectory(keys, Wc, bc, data, config: SGLDConfig, *, d, used):
    """One eps for many centres: the calibration sweep of :mod:`sampling.dynamics.calibrate` with the
    chains of the first ``used`` centres pooled (n beta (L - L_n(w*_m)) per centre m; the rest is
    padding to the final run's batch shape)."""
    nbeta, gamma, burnin, draws = config.nbeta, config.gamma, config.burnin, config.draws
    sweep_fraction, plateau_rtol = config.sweep_fraction, config.plateau_rtol
    min_acceptance, escape_tol = config.calibration_acceptance, config.escape_tol
    ref = DEFAULT_REFERENCE_SCALE / nbeta if config.reference_eps is None else config.reference_eps
    grid = config.eps_grid if config.eps_grid is not None else [x / nbeta for x in DEFAULT_EPS_SCALES]
    w_star = (jnp.asarray(Wc), jnp.asarray(bc))
    settings, total = [], 0
    t0 = time.perf_counter()
    for e in sorted(grid, reverse=True):
        # the same SGLD time for every step size: burnin and draws are counted at eps = ref
        b_s = int(math.ceil(sweep_fraction * burnin * ref / e))
        d_s = max(2, int(math.ceil(sweep_fraction * draws * ref / e)))
        run = chain_runner(tms_loss, batch_size=None, n_data=None, n_steps=b_s + d_s, centers=True)
        L, A, Ls = run(keys, w_star, data, e, gamma, nbeta, 1.0, 0.0)
        L = (np.asarray(L) - np.asarray(Ls)[:, None, None])[:used]
        C = L.shape[0] * L.shape[1]
        settings.append(sweep_setting(L.reshape(C, -1), np.asarray(A)[:used].reshape(C, -1), 0.0, eps=e, gamma=gamma,
                                      nbeta=nbeta, burnin=b_s, d=d, min_acceptance=min_acceptance,
                                      plateau_rtol=plateau_rtol, max_excluded_fraction=0.25,
                                      escape_tol=escape_tol))
        settings[-1] = dataclasses.replace(settings[-1], steps=b_s + d_s)
        total += C * (b_s + d_s)
        out, ch, _ = choose_setting(settings, plateau_rtol=plateau_rtol)
        if ch is not None and out[ch].on_plateau:
            break
    settings, chosen, why = choose_setting(settings, plateau_rtol=plateau_rtol)
    return Calibration(settings=tuple(settings), chosen=chosen, reason=why, steps_per_setting=burnin + draws,
                       sweep_steps=total, min_acceptance=min_acceptance, plateau_rtol=plateau_rtol,
                       sweep_seconds=time.perf_counter() - t0, reference_eps=ref)
