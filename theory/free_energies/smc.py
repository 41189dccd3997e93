"""One annealed sequential Monte Carlo integrator for every phase integral (docs/free_energy.md).

For an unnormalised integrand g and a normalised proposal q on the same space it estimates

    Z = int_A g(x) dx

by moving N particles drawn from q through the tempered targets

    pi_k(x) ∝ q(x)^(1 - beta_k) g(x)^beta_k 1_A(x),   0 = beta_0 < beta_1 < ... < beta_K = 1

(annealed importance sampling, Neal 2001; with resampling, Del Moral, Doucet & Jasra 2006). Each
particle carries the incremental log weight (beta_k - beta_(k-1)) (log g - log q) at its current
state; when the effective sample size falls below ``ess_fraction`` N the mean weight goes into the
normalising constant and the particles are resampled (:func:`systematic_resample`); each target is
then left invariant by the ``moves`` (e.g. :class:`RandomWalk`). The schedule (0, 1) without moves is
plain importance sampling from q.

The layout follows blackjax's tempered SMC (``blackjax/smc/base.py``, ``smc/tempered.py``,
``smc/resampling.py``): the problem is given as functions of a particle state, the resampling scheme
is its own function and the diagnostics come back as an :class:`SMCInfo`. Randomness is a numpy
``Generator`` (or a seed) consumed in a fixed order: the proposal's draws, then per target the
resampling uniform (when resampling) and each move's normal and uniform draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

__all__ = ["RandomWalk", "SMCInfo", "anneal", "final_estimate", "quadratic_schedule", "systematic_resample", "take"]


class SMCInfo(NamedTuple):
    """Diagnostics of one :func:`anneal` run.

    Attributes
    ----------
    particles : tuple of ndarray
        The final particle state (every array has the particles on its first axis).
    log_weights : ndarray, shape (N,)
        Final log weights since the last resampling, -inf where ``final_mask`` excludes a particle.
    log_z_resampled : float
        Sum over the resampling events of log(mean weight): the part of log Z already banked.
    ess : float
        Effective sample size (sum w)^2 / sum w^2 of the final weights (0 if none is positive).
    max_weight : float
        Largest final weight over their sum.
    relative_variance : float
        Var(w) / (mean(w)^2 N) of the final weights: the squared relative standard error of Z from
        the last stage alone (it understates the error of the whole run; repeat with another seed).
    resamples : int
        Number of resampling events.
    acceptance : tuple of float
        Mean acceptance rate of the moves at each target they were applied to.
    """

    particles: tuple
    log_weights: np.ndarray
    log_z_resampled: float
    ess: float
    max_weight: float
    relative_variance: float
    resamples: int
    acceptance: tuple


def quadratic_schedule(targets: int) -> np.ndarray:
    """beta_k = (k / K)^2, k = 0..K, for K = ``targets`` >= 1 (K = 0 gives (0, 1): importance sampling)."""
    if not (isinstance(targets, (int, np.integer)) and not isinstance(targets, bool) and targets >= 0):
        raise ValueError(f"`targets` must be an integer >= 0; got {targets!r}.")
    k = max(int(targets), 1)
    return (np.arange(k + 1) / k) ** 2


def systematic_resample(rng: np.random.Generator, weights) -> np.ndarray:
    """Indices of N particles drawn by systematic resampling from ``weights`` (Kitagawa 1996).

    One uniform U ~ U(0, 1) gives the points u_i = (U + i) / N, i = 0..N-1; index j is taken once for
    every u_i in (W_(j-1), W_j], W_j = sum_(l <= j) w_l / sum w the normalised cumulative weights, so
    index j appears floor(N w_j / sum w) or ceil(N w_j / sum w) times.

    Parameters
    ----------
    rng : numpy.random.Generator
        Consumes one uniform.
    weights : array, shape (N,)
        Non-negative, finite, with a positive sum.
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise ValueError("`weights` must be a 1-d array of finite non-negative numbers with a positive sum; "
                         f"got shape {w.shape}, sum {w.sum()!r}.")
    N = len(w)
    u = (rng.uniform() + np.arange(N)) / N
    return np.minimum(np.searchsorted(np.cumsum(w) / w.sum(), u), N - 1)


def take(state: tuple, index) -> tuple:
    """The particles ``index`` (integer indices or a boolean mask) of every array of ``state``."""
    return tuple(a[index] for a in state)


@dataclass(frozen=True)
class RandomWalk:
    """Random-walk Metropolis moves leaving each tempered target of :func:`anneal` invariant.

    The proposal is x' = x + s eps L^T, eps ~ N(0, I), with L the Cholesky factor of the particles'
    weighted covariance C shrunk half-way to its diagonal (plus 1e-8 I) and scaled by
    (``scale`` / sqrt(d))^2 (Roberts, Gelman & Gilks 1997); x' is accepted with probability
    min(1, pi_k(x') / pi_k(x)). The step factor s starts at 1 and after each move is multiplied by
    exp(acceptance - ``target_acceptance``), one factor per run.

    Attributes
    ----------
    build : callable
        Positions (N, d) -> particle state whose first array is the positions (the other arrays are
        derived from them, e.g. the model's coordinates).
    steps : int
        Metropolis steps per target.
    scale, target_acceptance : float
    """

    build: Callable
    steps: int = 2
    scale: float = 2.38
    target_acceptance: float = 0.25

    def __post_init__(self):
        if not (isinstance(self.steps, (int, np.integer)) and not isinstance(self.steps, bool) and self.steps >= 1):
            raise ValueError(f"`steps` must be an integer >= 1; got {self.steps!r}.")

    def init(self) -> float:
        """The initial step factor s."""
        return 1.0

    def __call__(self, rng, state, log_q_values, log_g_values, weights, beta, step, *, log_q, log_g, support):
        """``steps`` Metropolis steps at inverse temperature ``beta``; returns
        ``(state, log_q_values, log_g_values, step, acceptance)`` with the mean acceptance of the last step."""
        S = state[0]
        N, dim = S.shape
        mu = weights @ S
        C = (S - mu).T @ ((S - mu) * weights[:, None])
        C = 0.5 * C + 0.5 * np.diag(np.diag(C)) + 1e-8 * np.eye(dim)
        Lc = np.linalg.cholesky(C) * (self.scale / math.sqrt(dim))
        ell0, ell1 = log_q_values, log_g_values
        rate = float("nan")
        for _ in range(self.steps):
            new_state = self.build(S + step * rng.standard_normal(S.shape) @ Lc.T)
            lq = log_q(new_state)
            ok = np.isfinite(lq)
            if support is not None:
                ok &= support(new_state)
            lg = np.full(N, -np.inf)
            if ok.any():
                lg[ok] = log_g(take(new_state, ok))
            cur = (1 - beta) * ell0 + beta * ell1
            new = np.where(ok, (1 - beta) * lq + beta * lg, -np.inf)
            acc = np.log(rng.uniform(size=N)) < new - cur
            state = tuple(np.where(acc.reshape((N,) + (1,) * (a.ndim - 1)), a, b) for a, b in zip(new_state, state))
            S = state[0]
            ell0, ell1 = np.where(acc, lq, ell0), np.where(acc, lg, ell1)
            rate = float(acc.mean())
            step *= math.exp(rate - self.target_acceptance)
        return state, ell0, ell1, step, rate


def anneal(
    rng,
    log_q: Callable,
    log_g: Callable,
    sample_q: Callable,
    schedule,
    moves: RandomWalk | None,
    *,
    particles: int,
    support: Callable | None = None,
    final_mask: Callable | None = None,
    ess_fraction: float = 0.5,
) -> tuple[float, SMCInfo]:
    """log Z = log int_A g(x) dx by annealed SMC from q (module docstring).

    Parameters
    ----------
    rng : numpy.random.Generator or int
        The random stream (an int seeds a new ``numpy.random.default_rng``).
    log_q : callable state -> (N,)
        Log density of the proposal (-inf outside its support).
    log_g : callable state -> (N,)
        Log integrand; called only on particles where ``log_q`` is finite and ``support`` holds,
        except once on the initial draws.
    sample_q : callable (rng, N) -> state
        N draws from q as a tuple of arrays (particles on the first axis; the first array holds the
        positions the moves act on).
    schedule : array
        beta_0 = 0 < ... < beta_K = 1 (:func:`quadratic_schedule`).
    moves : RandomWalk or None
        Moves applied at each intermediate target (None: annealed importance sampling without moves).
    particles : int
        N.
    support : callable state -> bool (N,), optional
        The region A every target is restricted to (everywhere if None).
    final_mask : callable state -> bool (N,), optional
        A further indicator multiplying g at beta = 1 only (the last weight).
    ess_fraction : float
        Resample when the effective sample size drops below this fraction of N.

    Returns
    -------
    (log Z, SMCInfo)
        log Z is -inf when no final particle has positive weight.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    betas = np.asarray(schedule, dtype=float)
    if betas.ndim != 1 or len(betas) < 2 or betas[0] != 0.0 or betas[-1] != 1.0 or np.any(np.diff(betas) <= 0):
        raise ValueError(f"`schedule` must increase from 0 to 1 (at least two entries); got {betas.tolist()!r}.")
    if not (isinstance(particles, (int, np.integer)) and not isinstance(particles, bool) and particles >= 2):
        raise ValueError(f"`particles` must be an integer >= 2; got {particles!r}.")
    N = int(particles)
    state = sample_q(rng, N)
    ell0, ell1 = log_q(state), log_g(state)
    log_w = np.zeros(N) if support is None else np.where(support(state), 0.0, -np.inf)
    log_z_acc, resamples, acceptance = 0.0, 0, []
    step = moves.init() if moves is not None else 1.0
    K = len(betas) - 1
    for k in range(1, K + 1):
        log_w += (betas[k] - betas[k - 1]) * (ell1 - ell0)
        if k == K:
            break
        mw = log_w.max()
        wv = np.exp(log_w - mw)
        if wv.sum() ** 2 / (wv * wv).sum() < ess_fraction * N:
            log_z_acc += mw + math.log(wv.mean())
            pick = systematic_resample(rng, wv)
            state, ell0, ell1 = take(state, pick), ell0[pick], ell1[pick]
            log_w, wv, resamples = np.zeros(N), np.ones(N), resamples + 1
        if moves is not None:
            state, ell0, ell1, step, rate = moves(rng, state, ell0, ell1, wv / wv.sum(), betas[k], step,
                                                  log_q=log_q, log_g=log_g, support=support)
            acceptance.append(rate)
    return final_estimate(state, log_w, log_z_acc, resamples, tuple(acceptance), final_mask)


def final_estimate(state, log_w, log_z_acc, resamples: int, acceptance: tuple, final_mask) -> tuple[float, SMCInfo]:
    """log Z = log_z_acc + log mean of the final weights (restricted by ``final_mask``), and the
    :class:`SMCInfo` of :func:`anneal`."""
    ok = np.isfinite(log_w)
    if final_mask is not None:
        ok &= final_mask(state)
    logw = np.where(ok, log_w, -np.inf)
    mm = logw.max()
    if not np.isfinite(mm):
        return -math.inf, SMCInfo(state, logw, log_z_acc, 0.0, 0.0, math.inf, resamples, acceptance)
    w = np.exp(logw - mm)
    log_z = log_z_acc + mm + math.log(w.mean())
    info = SMCInfo(state, logw, log_z_acc, float(w.sum()) ** 2 / float((w * w).sum()), float(w.max() / w.sum()),
                   float(w.var(ddof=1)) / float(w.mean()) ** 2 / len(w), resamples, acceptance)
    return log_z, info
