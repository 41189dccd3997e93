"""The result of an SGLD LLC estimate and the health of its chains (docs/dynamics.md §4, docs/llc.md).

Every chain is checked and the unhealthy ones are *excluded from the mean and listed with the reason*
(:class:`LLCDiagnostics`, :func:`summarize_chains`):

- ``nan``: a non-finite loss;
- ``diverged``: n beta (L(w_t) - L_n(w*)) exceeded ``divergence_threshold`` (default 10 d, d the number
  of parameters; the tempered posterior of a regular model puts n beta (L - L*) ~ chi^2_d / 2);
- ``escaped``: the chain found loss well below the centre, min_t n beta (L(w_t) - L_n(w*)) <
  -``escape_tol`` (default 1: a likelihood ratio e), or a negative chain value lambda_c. Such a chain has
  left w*'s basin (or w* is not a local minimum of L_n) and its value is meaningless. In minibatch
  mode the recorded losses scatter around L_n(w), so the minimum is taken over means of 20 blocks of
  consecutive draws, with the tolerance widened by three standard errors of a block mean (the batches are
  independent), and the divergence check over means of blocks of the same length (single minibatch
  losses scatter by n beta sigma / sqrt(m), above 10 d by themselves at n beta ~ 1e4: docs/llc.md §1).

Per chain lambda_c = n beta (mean_t L(w_t) - L_n(w*)); the estimate is the mean over the healthy
chains and its Monte Carlo error the standard deviation of the chain values over sqrt(number of
healthy chains).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kgon.io import finite_or_none
from sampling.dynamics.sgld_config import SGLDConfig

__all__ = ["LLCDiagnostics", "LLCResult", "summarize_chains", "escape_block"]


def escape_block(config: SGLDConfig) -> int:
    """Draws per block of the escape check: 1 in full batch, ``draws // 20`` (>= 1) with minibatches,
    whose single losses scatter around L_n(w)."""
    return 1 if config.batch_size is None else max(1, int(config.draws) // 20)


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
            "acceptance_mean": finite_or_none(self.acceptance_mean),
            "min_delta": [finite_or_none(x) for x in self.min_delta],
            "llc_all_chains": finite_or_none(self.llc_all_chains),
            "warnings": list(self.warnings),
        }


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
        The settings used, resolved (nbeta, eps, chains, burnin, draws, estimator, divergence_threshold
        filled in; the chosen eps, gamma, burnin and draws when calibrated).
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
        Two-temperature: the plain estimates at beta1 and at beta2 = ``beta_ratio`` x beta1 (empty for plain);
        multi-temperature: the plain estimates at beta x ``config.temperatures``.
    multiplicity, multiplicity_se : float
        Multi-temperature: the multiplicity m of the learning coefficient (real-valued) and its standard
        error (NaN for the other estimators); ``llc`` is then the fitted lambda
        (:mod:`sampling.dynamics.multi_temperature`, docs/llc.md §4).
    multiplicity_one_rejected : bool or None
        Multi-temperature: whether m = 1 is rejected at ``config.multiplicity_level`` (None otherwise).
    multi_temperature : MultiTemperatureFit or None
        Multi-temperature: the fit (per-temperature values, covariance, goodness of fit, the test).
    n : int or None
        The data size, if known.
    d : int
        Number of parameters.
    context : dict
        Records added by wrappers (e.g. :func:`sampling.tms_llc`: the refined centre and its checks).
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
    multiplicity: float = float("nan")
    multiplicity_se: float = float("nan")
    multiplicity_one_rejected: bool | None = None
    multi_temperature: Any = None
    n: int | None = None
    d: int = 0
    context: dict = field(default_factory=dict)

    @property
    def calibrated(self) -> bool:
        """Whether eps (and gamma) were chosen by the calibration sweep."""
        return self.calibration is not None

    def to_dict(self) -> dict:
        """JSON-able summary (no traces): keys llc, llc_std, llc_se, chain_llc, healthy, loss_star,
        diagnostics, config, n, d, calibrated, seed, calibration, reason, estimator, llc_plain, llc_plain_se,
        multiplicity, multiplicity_se, multiplicity_one_rejected, multi_temperature,
        parts (each part's summary without its own parts and calibration); ``context`` is left out (it may
        hold arrays)."""
        return {
            "estimator": self.estimator,
            "llc_plain": finite_or_none(self.llc_plain),
            "llc_plain_se": finite_or_none(self.llc_plain_se),
            "parts": [{k: v for k, v in p.to_dict().items() if k not in ("parts", "calibration")} for p in self.parts],
            "multiplicity": finite_or_none(self.multiplicity),
            "multiplicity_se": finite_or_none(self.multiplicity_se),
            "multiplicity_one_rejected": self.multiplicity_one_rejected,
            "multi_temperature": None if self.multi_temperature is None else self.multi_temperature.to_dict(),
            "llc": finite_or_none(self.llc),
            "llc_std": finite_or_none(self.llc_std),
            "llc_se": finite_or_none(self.llc_se),
            "chain_llc": [finite_or_none(x) for x in self.chain_llc],
            "healthy": [bool(h) for h in self.healthy],
            "loss_star": finite_or_none(self.loss_star),
            "diagnostics": self.diagnostics.to_dict(),
            "config": self.config.to_dict(),
            "n": self.n,
            "d": self.d,
            "calibrated": self.calibrated,
            "seed": list(self.seed),
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
            "reason": self.reason,
        }


def _block_means(x: np.ndarray, block: int) -> np.ndarray:
    """Means over consecutive blocks of ``block`` steps along the last axis (the whole trace if shorter)."""
    b = max(1, int(block))
    nb = x.shape[1] // b
    if nb == 0:
        return x.mean(axis=1, keepdims=True)
    return x[:, : nb * b].reshape(x.shape[0], nb, b).mean(axis=2)


def chain_mean(values, mask) -> tuple[float, float, float, int]:
    """``(mean, std, se, k)`` of the per-chain ``values`` where ``mask`` holds (k chains): NaN mean without a
    chain, NaN std and se (= std / sqrt k) with fewer than two."""
    vals = np.asarray(values, dtype=np.float64)[np.asarray(mask, dtype=bool)]
    k = int(vals.size)
    mean = float(vals.mean()) if k else float("nan")
    std = float(vals.std(ddof=1)) if k >= 2 else float("nan")
    return mean, std, std / math.sqrt(k) if k >= 2 else float("nan"), k


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
        The divergence and escape checks use means over blocks of this many consecutive steps (1: every
        step; larger for minibatch traces, whose single values scatter around L_n(w) by n beta sigma /
        sqrt(m), which at large n beta exceeds the divergence threshold by itself).

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
        diverged = ~nan & (np.nanmax(_block_means(nbeta * (losses - loss_star), block), axis=1) > thr)
        min_delta = np.where(nan, np.nan, np.nanmin(_block_means(delta, block), axis=1))
        # minibatch traces: a block mean scatters by sd / sqrt(block) around the chain's loss (fresh batches are
        # independent), so the escape tolerance widens by three of those (0 in full batch, block = 1)
        noise = 3.0 * np.nanstd(delta, axis=1) / math.sqrt(int(block)) if int(block) > 1 else 0.0
        escaped = ~nan & ~diverged & ((min_delta < -escape_tol - noise) | (chain_llc < 0))
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
    llc, std, se, k = chain_mean(chain_llc, healthy)
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
