"""SGLD estimation of the local learning coefficient (docs/dynamics.md §4, docs/llc.md).

The estimator of Lau et al. (2023) ("Quantifying degeneracy in singular models via the learning
coefficient", eq. 10) as used by Chen et al. (2023) and Hoogland et al. (2024, Appendix A):

    lambda_hat(w*) = n beta ( E_{w ~ p_loc}[ L_n(w) ] - L_n(w*) ),    beta = 1 / log n,

    p_loc(w)  proportional to  exp( -n beta L_n(w) - (gamma / 2) ||w - w*||^2 ),

with the expectation estimated by SGLD chains (:mod:`sampling.dynamics.sgld`) started at w*
(optionally with N(0, ``init_noise``^2) jitter); the first ``burnin`` steps are discarded and the
loss is averaged over the next ``draws`` steps. Per chain lambda_c = n beta (mean_t L(w_t) -
L_n(w*)); the estimate is the mean over the healthy chains (:mod:`sampling.dynamics.llc_result`).
Default n beta = n / log n with n the data size (the "WBIC" temperature). Every setting is an
:class:`sampling.SGLDConfig` field.

**Calibration** (``calibrate=True``; :mod:`sampling.dynamics.calibrate`, docs/llc.md): eps is chosen
by a sweep at fixed n beta and fixed SGLD time (health, MALA acceptance >= 0.99, stationarity, the
small-step plateau); the result carries the sweep and the reason, and is NaN with the reason when no
step passes.

**Two-temperature estimate** (``estimator="two_temperature"``, the default with ``calibrate=True``;
docs/llc.md §4): a second set of chains at beta2 = beta / 2, coupled to the first (same keys, step and
steps), and lambda_2T = n (E_beta[L_n] - E_beta2[L_n]) / (1/beta - 1/beta2) (Watanabe 2013, JMLR 14):
L_n(w*) cancels, and with it the O(beta) bias beta xi_n, xi_n = n (L_n(w*) - min L_n), of the plain
estimate at a centre that is not the empirical minimum (exact for a quadratic loss). The result keeps
the plain estimate (``llc_plain``) and both runs (``parts``).

**Multi-temperature estimate** (``estimator="multi_temperature"``; docs/llc.md §4b): chains at beta x
``config.temperatures`` (default 1, 1/2, 1/4, 1/16, 1/64), coupled to those at beta, each with the step
calibrated per temperature (:func:`_tempered_run`), the plain estimates corrected in the quadratic
directions (:func:`sampling.gaussian_correction`), and the weighted fit lambda_hat_k = lambda - (m - 1) /
log(n beta_k) + c beta_k + a sqrt(beta_k) (:mod:`sampling.dynamics.multi_temperature`; the data set's
fluctuation term a sqrt(beta_k) with five or more temperatures): ``llc`` is lambda, with
``multiplicity``, ``multiplicity_se`` and ``multiplicity_one_rejected``.

**Multiplicity-corrected estimate** (``estimator="multiplicity_corrected"``; docs/llc.md §4c): the same
chains and fit; ``llc`` is the two coldest temperatures' two-temperature estimate plus (m - 1) kappa with
each chain's fitted m (:func:`sampling.corrected_two_temperature`), m = 1 with a warning where the fit is
outside the expansion's range.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from sampling.data import key_data
from sampling.dynamics.calibrate import (
    DEFAULT_REFERENCE_SCALE,
    ESTIMATE_EPS_SCALES,
    Calibration,
    choose_setting,
    sweep_setting,
)
from sampling.dynamics.llc_result import LLCDiagnostics, LLCResult, chain_mean, escape_block, summarize_chains
from sampling.dynamics.multi_temperature import (
    corrected_two_temperature,
    fit_multi_temperature,
    gaussian_correction,
    outside_expansion,
)
from sampling.dynamics.sgld import as_typed_key, chain_runner, default_nbeta
from sampling.dynamics.sgld_config import ESTIMATORS, SGLDConfig

__all__ = ["estimate_llc", "combine_two_temperatures", "ESTIMATORS", "resolve_config", "leading_size"]


def leading_size(data) -> int:
    """The common leading (sample) axis of every array of the pytree ``data``."""
    leaves = jax.tree_util.tree_leaves(data)
    if not leaves:
        raise ValueError("`data` must contain arrays with a leading sample axis for minibatching.")
    sizes = {int(np.shape(x)[0]) if np.ndim(x) else -1 for x in leaves}
    if len(sizes) != 1 or -1 in sizes:
        raise ValueError(f"every array in `data` must have the same leading (sample) axis; got sizes {sorted(sizes)}.")
    return sizes.pop()


def resolve_config(config: SGLDConfig | None, *, calibrate: bool, n: int | None, chains: int = 4) -> SGLDConfig:
    """``config`` with the defaults of :func:`estimate_llc` filled in: nbeta = n / log n, chains,
    burnin and draws (0 and 500; calibrated: 40000 and 160000 at the reference step), eps = 1e-3
    (None when calibrating: the sweep chooses it) and the estimator."""
    config = SGLDConfig() if config is None else config
    if not isinstance(config, SGLDConfig):
        raise ValueError(f"`config` must be a sampling.SGLDConfig or None; got {type(config).__name__}.")
    if not isinstance(calibrate, bool):
        raise ValueError(f"`calibrate` must be True or False; got {calibrate!r}.")
    if calibrate and config.eps is not None:
        raise ValueError(f"`eps` is chosen by the calibration; got eps={config.eps!r} with calibrate=True "
                         "(pass eps_grid to restrict the steps tried).")
    nbeta = config.nbeta
    if nbeta is None:
        if n is None:
            raise ValueError("`nbeta` is needed when the data size `n` is not given (default nbeta = n / log n).")
        nbeta = default_nbeta(n)
    return dataclasses.replace(
        config, nbeta=nbeta, eps=None if calibrate else (1e-3 if config.eps is None else config.eps),
        chains=chains if config.chains is None else config.chains,
        burnin=(40000 if calibrate else 0) if config.burnin is None else config.burnin,
        draws=(160000 if calibrate else 500) if config.draws is None else config.draws,
        estimator=("two_temperature" if calibrate else "plain") if config.estimator is None else config.estimator,
    )


def estimate_llc(
    rng_key,
    loss_fn: Callable[[Any, Any], Any],
    w_star,
    data=None,
    *,
    n: int | None = None,
    calibrate: bool = False,
    config: SGLDConfig | None = None,
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
        Passed to ``loss_fn`` (full batch) or subsampled along its leading axis (``config.batch_size``).
    n : int, keyword-only
        Data size for the default n beta = n / log n; inferred from ``data``'s leading axis in minibatch
        mode if omitted.
    calibrate : bool, keyword-only
        Choose eps (and gamma, from ``config.gamma_grid``) by a short sweep at fixed n beta and fixed
        SGLD time (:mod:`sampling.dynamics.calibrate`, docs/llc.md): the largest step that is healthy,
        has MALA acceptance >= ``config.calibration_acceptance``, a stationary loss trace and an estimate
        on the small-step plateau; then a fresh estimate there. ``burnin`` and ``draws`` are the steps at
        ``config.reference_eps`` and scale as reference_eps / eps. If no setting passes, the estimate is
        NaN and ``reason`` says why.
    config : SGLDConfig, keyword-only
        Every other setting (:class:`sampling.SGLDConfig`). Defaults here: eps = 1e-3, gamma = 1,
        4 chains, burnin 0, draws 500 (calibrated: 40000 and 160000 at the reference step), full batch,
        the plain estimator (calibrated: two-temperature).

    Returns
    -------
    LLCResult
    """
    if not callable(loss_fn):
        raise ValueError(f"`loss_fn` must be callable; got {type(loss_fn).__name__}.")
    n_data = None
    if config is not None and config.batch_size is not None:
        n_data = leading_size(data)
        if n is None:
            n = n_data
    cfg = resolve_config(config, calibrate=calibrate, n=n)
    w_star = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype=jnp.float64), w_star)
    d = int(sum(np.size(x) for x in jax.tree_util.tree_leaves(w_star)))
    problem = _Problem(loss_fn, w_star, data, n_data, n, d)
    if calibrate:
        return _calibrated(rng_key, problem, cfg)
    return _final(rng_key, problem, cfg)


def _final(rng_key, problem: _Problem, cfg: SGLDConfig) -> LLCResult:
    """The estimate ``cfg.estimator`` at the resolved settings ``cfg`` (plain, two- or multi-temperature)."""
    res = _estimate(rng_key, problem, cfg)
    if cfg.estimator == "two_temperature":
        return _two_temperature(rng_key, problem, res, cfg.beta_ratio)
    if cfg.estimator in ("multi_temperature", "multiplicity_corrected"):
        return _multi_temperature(rng_key, problem, res)
    return res


@dataclasses.dataclass(frozen=True)
class _Problem:
    """What every run of one estimate shares: the loss, the centre, the data and their sizes."""

    loss_fn: Callable
    w_star: Any
    data: Any
    n_data: int | None
    n: int | None
    d: int


def combine_two_temperatures(llc1, llc2, ratio):
    """The two-temperature estimate from plain estimates at beta1 and beta2 = ``ratio`` x beta1.

    With lambda_b = n beta (E_beta[L_n] - L_n(w*)), i.e. n E_beta[L_n] = n L_n(w*) + lambda_b / beta:

        lambda_2T = n (E_beta1[L_n] - E_beta2[L_n]) / (1/beta1 - 1/beta2) = (ratio lambda_1 - lambda_2) / (ratio - 1)

    (ratio = 1/2: 2 lambda_2 - lambda_1). Works elementwise on arrays (e.g. per pair of chains).
    docs/llc.md §4; Watanabe (2013), JMLR 14, the two-temperature estimate of lambda.
    """
    return (ratio * np.asarray(llc1, dtype=np.float64) - np.asarray(llc2, dtype=np.float64)) / (ratio - 1.0)


def _two_temperature(rng_key, problem: _Problem, res1: LLCResult, ratio) -> LLCResult:
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
    res2 = _estimate(rng_key, problem, cfg2)
    pair = combine_two_temperatures(res1.chain_llc, res2.chain_llc, ratio)
    healthy = np.asarray(res1.healthy) & np.asarray(res2.healthy)
    llc, std, se, k = chain_mean(pair, healthy)
    reason = ""
    if not k:
        why = [f"beta{i + 1}: {r.reason or 'no healthy chain'}" for i, r in enumerate((res1, res2))
               if not r.healthy.any()]
        reason = "no pair of healthy chains at the two temperatures" + (": " + "; ".join(why) if why else "")
    elif llc <= 0:
        reason = (f"the two-temperature estimate {llc:.4g} is not positive (plain estimates {res1.llc:.4g} at n beta "
                  f"= {c1.nbeta:.4g}, {res2.llc:.4g} at {cfg2.nbeta:.4g}): not reported as an estimate")
        llc, std, se = float("nan"), float("nan"), float("nan")
    return dataclasses.replace(res1, llc=llc, llc_std=std, llc_se=se, chain_llc=pair, healthy=healthy, reason=reason,
                               estimator="two_temperature", llc_plain=res1.llc, llc_plain_se=res1.llc_se,
                               parts=(res1, res2))


def _multi_temperature(rng_key, problem: _Problem, res1: LLCResult) -> LLCResult:
    """Add the runs at beta_k = beta x ``config.temperatures`` to the plain result ``res1`` (run with
    ``rng_key`` at beta) and report the multi-temperature fit of lambda and m
    (:func:`sampling.fit_multi_temperature`; docs/llc.md §4).

    As for the two-temperature estimate, the chains at every beta_k are coupled to those at beta (same
    keys and number of steps), and the fit is done per chain, so the errors contain the chains'
    correlation across temperatures. The step at each beta_k is :func:`_tempered_run`'s."""
    c1 = res1.config
    parts = [res1] + [_tempered_run(rng_key, problem, res1, r) for r in c1.temperatures if r != 1.0]
    nbetas = [p.config.nbeta for p in parts]
    values = np.array([np.where(p.healthy, p.chain_llc, np.nan) for p in parts])
    healthy = np.all(np.isfinite(values), axis=0)
    nan = float("nan")
    base = dict(estimator="multi_temperature", llc_plain=res1.llc, llc_plain_se=res1.llc_se, parts=tuple(parts),
                healthy=healthy)
    if int(healthy.sum()) < 2:
        reason = (f"{int(healthy.sum())} chain(s) healthy at every temperature (the fit needs 2): "
                  + "; ".join(f"n beta = {p.config.nbeta:.4g}: {p.reason or 'healthy'}" for p in parts))
        return dataclasses.replace(res1, llc=nan, llc_std=nan, llc_se=nan, chain_llc=np.full(healthy.size, nan),
                                   reason=reason, **base)
    h = _quadratic_curvatures(problem, c1.gamma, min(nbetas)) if c1.gaussian_correction else np.zeros(0)
    shift = gaussian_correction(h, nbetas, [p.config.eps for p in parts], c1.gamma)
    fit = fit_multi_temperature(nbetas, values + shift[:, None], n=problem.n, level=c1.multiplicity_level,
                                fluctuation=c1.fluctuation_term)
    fit = dataclasses.replace(fit, correction=shift, quadratic_directions=int(h.size))
    llc, se = fit.llc, fit.llc_se
    reason = ""
    plain = ", ".join(f"{p.llc:.4g} at n beta = {p.config.nbeta:.4g}" for p in parts)
    m, m_se = fit.multiplicity, fit.multiplicity_se
    if outside_expansion(fit, problem.d):
        reason = (f"the multi-temperature fit reads lambda = {llc:.4g} +- {se:.2g}, m = {m:.3g} +- {m_se:.2g}, "
                  f"outside the expansion's range 0 < lambda <= d / 2, 1 <= m <= d = {problem.d} (plain estimates "
                  f"{plain}): the hotter chains do not follow the expansion at w* (they left its neighbourhood, as on "
                  "the TMS phases at n beta / 64, docs/llc.md §4b); lambda not reported: use a colder ladder "
                  "(config.temperatures) or the two-temperature estimate")
        llc, se = nan, nan
    elif not llc > 0:
        reason = (f"the multi-temperature estimate {llc:.4g} is not positive (plain estimates {plain}): "
                  "not reported as an estimate")
        llc, se = nan, nan
    out = dataclasses.replace(
        res1, llc=llc, llc_se=se, llc_std=se * math.sqrt(fit.chains), chain_llc=fit.chain_llc, reason=reason,
        multiplicity=fit.multiplicity, multiplicity_se=fit.multiplicity_se,
        multiplicity_one_rejected=fit.m1_rejected, multi_temperature=fit, **base)
    if c1.estimator == "multiplicity_corrected":
        return _multiplicity_corrected(out, nbetas, values + shift[:, None])
    return out


def _multiplicity_corrected(res: LLCResult, nbetas, values) -> LLCResult:
    """The multi-temperature result ``res`` reported as the two-temperature estimate of its two coldest
    temperatures corrected by the fitted m (:func:`sampling.corrected_two_temperature`, per chain). Where the
    fit is not reported (outside the expansion's range, or not positive), m is not estimated: the estimate
    is the uncorrected two-temperature one (m = 1 assumed), with a warning that says why."""
    fit, nan = res.multi_temperature, float("nan")
    usable = not res.reason
    m_chain = fit.chain_multiplicity if usable else np.ones(values.shape[1])
    lam = np.asarray(corrected_two_temperature(nbetas, values, m_chain), dtype=np.float64)
    llc, std, se, k = chain_mean(lam, np.isfinite(lam))
    warnings = res.diagnostics.warnings
    if not usable:
        warnings += (f"m not estimated ({res.reason}); lambda is the two-temperature estimate of the two coldest "
                     "temperatures with m = 1 assumed",)
    reason = ""
    if k < 2:
        reason = f"{k} chain(s) healthy at every temperature (the estimate needs 2)"
    elif not llc > 0:
        reason = f"the multiplicity-corrected estimate {llc:.4g} is not positive: not reported as an estimate"
    if reason:
        llc = std = se = nan
    return dataclasses.replace(
        res, llc=llc, llc_std=std, llc_se=se, chain_llc=lam, reason=reason,
        estimator="multiplicity_corrected", diagnostics=dataclasses.replace(res.diagnostics, warnings=warnings),
        multiplicity=fit.multiplicity if usable else nan, multiplicity_se=fit.multiplicity_se if usable else nan,
        multiplicity_one_rejected=fit.m1_rejected if usable else None)


MAX_HESSIAN_D = 1000
"""The multi-temperature estimate's Gaussian correction takes the Hessian at w* up to this many parameters."""


def _quadratic_curvatures(problem: _Problem, gamma: float, t_min: float) -> np.ndarray:
    """The Hessian eigenvalues h > 0 at w* whose directions are quadratic over the hottest chains' reach.

    A direction v (unit eigenvector, eigenvalue h) counts when the loss along it, over s = 3 posterior
    standard deviations at the hottest temperature (s = 3 / sqrt(t_min h + gamma)), is the parabola
    within 10%: |L(w* + s v) + L(w* - s v) - 2 L(w*) - h s^2| <= 0.1 h s^2 (the symmetric difference
    removes the gradient and the cubic term). Directions whose curvature is a data fluctuation on top
    of a singular (e.g. quartic) loss fail it. Empty when d > :data:`MAX_HESSIAN_D` (no correction)."""
    if problem.d > MAX_HESSIAN_D:
        return np.zeros(0)
    flat, unravel = ravel_pytree(problem.w_star)

    def f(x):
        return problem.loss_fn(unravel(x), problem.data)

    H = np.asarray(jax.jit(jax.hessian(f))(flat), dtype=np.float64)  # jit: eager is ~10x slower
    evals, evecs = np.linalg.eigh(0.5 * (H + H.T))
    keep = evals > 0
    if not keep.any():
        return np.zeros(0)
    h, V = evals[keep], evecs[:, keep]
    s = 3.0 / np.sqrt(t_min * h + gamma)
    steps = jnp.asarray(V * s[None, :]).T
    f0 = f(flat)
    sym = np.asarray(jax.jit(jax.vmap(lambda u: f(flat + u) + f(flat - u) - 2.0 * f0))(steps), dtype=np.float64)
    return h[np.abs(sym - h * s ** 2) <= 0.1 * h * s ** 2]


def _tempered_run(rng_key, problem: _Problem, res1: LLCResult, ratio: float) -> LLCResult:
    """The plain run at beta_k = ``ratio`` x beta of the multi-temperature estimate (same keys and steps
    as ``res1``, the run at beta).

    ``config.temperature_step = "fixed"``: the step eps of beta. ``"scaled"`` (default): the step is
    calibrated per temperature, starting from eps / ratio, at which eps_k n beta_k = eps n beta (the
    calibrated discretisation of the quadratic directions at every temperature, instead of one 64x
    smaller at the hot end, a drift the fit reads as multiplicity: docs/llc.md §4b), and halved (down
    to eps) while a chain is unhealthy or the MALA acceptance falls below min(calibration_acceptance,
    the acceptance at beta - 0.005): in singular directions the hot chains reach regions stiffer than
    t_k / t times the cold ones', where eps / ratio can be unstable."""
    c1 = res1.config
    cfg = dataclasses.replace(c1, nbeta=c1.nbeta * ratio)
    if c1.temperature_step == "fixed":
        return _estimate(rng_key, problem, cfg)
    floor = min(c1.calibration_acceptance, res1.diagnostics.acceptance_mean - 0.005)
    eps = c1.eps / ratio
    while True:
        res = _estimate(rng_key, problem, dataclasses.replace(cfg, eps=eps))
        if (bool(np.all(res.healthy)) and res.diagnostics.acceptance_mean >= floor) or eps <= c1.eps * (1 + 1e-9):
            return res
        eps = max(eps / 2, c1.eps)


def _estimate(rng_key, problem: _Problem, cfg: SGLDConfig) -> LLCResult:
    """One plain estimate with the resolved settings ``cfg``."""
    run = chain_runner(problem.loss_fn, batch_size=cfg.batch_size, n_data=problem.n_data,
                       n_steps=cfg.burnin + cfg.draws)
    keys = jax.random.split(as_typed_key(rng_key), cfg.chains)
    losses, accept, loss_star = run(keys, problem.w_star, problem.data, cfg.eps, cfg.gamma, cfg.nbeta, cfg.noise,
                                    cfg.init_noise)
    loss_star = float(loss_star)
    llc, std, se, chain_llc, healthy, diag = summarize_chains(
        losses, accept, loss_star, nbeta=cfg.nbeta, burnin=cfg.burnin, d=problem.d,
        divergence_threshold=cfg.divergence_threshold, escape_tol=cfg.escape_tol,
        min_acceptance=cfg.min_acceptance, block=escape_block(cfg),
    )
    if cfg.divergence_threshold is None:
        cfg = dataclasses.replace(cfg, divergence_threshold=10.0 * max(problem.d, 1))
    reason = ""
    if not math.isfinite(llc):
        reason = "no healthy chain: " + "; ".join(f"chain {c}: {r}" for c, r in diag.excluded) if diag.excluded \
            else "no finite estimate"
    return LLCResult(
        llc=llc, llc_std=std, llc_se=se, chain_llc=chain_llc, healthy=healthy, loss_star=loss_star,
        loss_trace=np.asarray(losses), acceptance_trace=np.asarray(accept), diagnostics=diag, config=cfg,
        seed=key_data(rng_key), reason=reason, llc_plain=llc, llc_plain_se=se, n=problem.n, d=problem.d,
    )


def _sweep(keys, problem: _Problem, base: SGLDConfig, eps_list, gamma_list, ref):
    """The calibration sweep: per gamma (ascending) the steps (descending) until a plateau is confirmed.
    Returns (settings, total SGLD steps, loss at the centre)."""
    frac = base.sweep_fraction
    settings, total, loss_star = [], 0, float("nan")
    for g in sorted(gamma_list):
        for e in sorted(eps_list, reverse=True):
            b_s, d_s = _steps(base, ref, e, frac)
            run = chain_runner(problem.loss_fn, batch_size=base.batch_size, n_data=problem.n_data,
                               n_steps=b_s + d_s)
            losses, accept, loss_star = run(keys, problem.w_star, problem.data, e, g, base.nbeta, base.noise,
                                            base.init_noise)
            total += base.chains * (b_s + d_s)
            settings.append(dataclasses.replace(sweep_setting(
                losses, accept, float(loss_star), eps=e, gamma=g, nbeta=base.nbeta, burnin=b_s, d=problem.d,
                min_acceptance=base.calibration_acceptance, plateau_rtol=base.plateau_rtol,
                divergence_threshold=base.divergence_threshold, escape_tol=base.escape_tol,
                block=1 if base.batch_size is None else max(1, d_s // 20),
            ), steps=b_s + d_s))
            # early stop: this gamma's plateau is confirmed once two neighbouring passing steps agree
            out, ch, _ = choose_setting([x for x in settings if x.gamma == g], plateau_rtol=base.plateau_rtol)
            if ch is not None and out[ch].on_plateau:
                break
    return settings, total, float(loss_star)


def _steps(base: SGLDConfig, ref: float, eps: float, fraction: float) -> tuple[int, int]:
    """(burnin, draws) at step ``eps`` for the same SGLD time t = eps x steps as ``base`` at ``ref``."""
    return (int(math.ceil(fraction * base.burnin * ref / eps)),
            max(2, int(math.ceil(fraction * base.draws * ref / eps))))


def _calibrated(rng_key, problem: _Problem, base: SGLDConfig) -> LLCResult:
    """The calibration sweep and the final estimate (:mod:`sampling.dynamics.calibrate`)."""
    eps_list = list(base.eps_grid) if base.eps_grid is not None else [x / base.nbeta for x in ESTIMATE_EPS_SCALES]
    gamma_list = list(base.gamma_grid) if base.gamma_grid is not None else [base.gamma]
    ref = DEFAULT_REFERENCE_SCALE / base.nbeta if base.reference_eps is None else base.reference_eps
    k_sweep, k_final = jax.random.split(as_typed_key(rng_key))
    keys = jax.random.split(k_sweep, base.chains)  # common random numbers across the settings
    # compile once outside the timed sweep (one chunk; the sweep and the final estimate reuse it)
    chain_runner(problem.loss_fn, batch_size=base.batch_size, n_data=problem.n_data, n_steps=1)(
        keys, problem.w_star, problem.data, eps_list[-1], gamma_list[0], base.nbeta, base.noise, base.init_noise)
    t0 = time.perf_counter()
    settings, total, loss_star = _sweep(keys, problem, base, eps_list, gamma_list, ref)
    settings, chosen, why = choose_setting(settings, plateau_rtol=base.plateau_rtol)
    cal = Calibration(settings=tuple(settings), chosen=chosen, reason=why,
                      steps_per_setting=int(base.burnin + base.draws), sweep_steps=total,
                      min_acceptance=base.calibration_acceptance, plateau_rtol=base.plateau_rtol,
                      sweep_seconds=time.perf_counter() - t0, reference_eps=ref)
    if chosen is None:
        return _failed_calibration(rng_key, problem, base, cal, loss_star)
    s = settings[chosen]
    b_f, d_f = _steps(base, ref, s.eps, 1.0)
    cfg = dataclasses.replace(base, eps=s.eps, gamma=s.gamma, burnin=b_f, draws=d_f)
    t1 = time.perf_counter()
    res = _final(k_final, problem, cfg)
    cal = dataclasses.replace(cal, estimate_seconds=time.perf_counter() - t1)
    return dataclasses.replace(res, seed=key_data(rng_key), calibration=cal)


def _failed_calibration(rng_key, problem: _Problem, base: SGLDConfig, cal: Calibration, loss_star) -> LLCResult:
    """The NaN result of a calibration in which no step passed, with the sweep and its reason."""
    nan = float("nan")
    C = base.chains
    diag = LLCDiagnostics(nan_chains=(), diverged_chains=(), escaped_chains=(), excluded=(), acceptance=(),
                          acceptance_mean=nan, min_delta=(), llc_all_chains=nan, warnings=(cal.reason,))
    return LLCResult(llc=nan, llc_std=nan, llc_se=nan, chain_llc=np.full(C, nan), healthy=np.zeros(C, bool),
                     loss_star=float(loss_star), loss_trace=np.zeros((C, 0)), acceptance_trace=np.zeros((C, 0)),
                     diagnostics=diag, config=base, seed=key_data(rng_key), calibration=cal, reason=cal.reason,
                     estimator=base.estimator, n=problem.n, d=problem.d)
