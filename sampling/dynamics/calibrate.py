"""Self-calibrating SGLD: choose the step size eps (and the localisation gamma) at fixed n beta
(docs/llc.md, "Calibration").

Theory. At fixed n beta the SGLD estimate lambda_hat(eps) has a discretisation bias O(eps) (for a
Gaussian direction of curvature kappa exactly (1/2)(eps kappa/4)/(1 - eps kappa/4); docs/dynamics.md
§4): as a function of eps it has a *plateau* at small eps and bends away beyond it. Chains of a
fixed number of steps confound this with mixing (a small step covers less SGLD time t = eps x steps,
and an unmixed chain started at w* reads too low), so every setting of the sweep runs the **same
SGLD time**: ``burnin`` and ``draws`` are counted at a reference step (default eps = 1/(8 n beta)) and
scale as reference / eps. The sweep goes down a geometric grid (default eps = 2^-k / (n beta),
k = 0..8) and checks, per setting:

1. **healthy**: no chain excluded (nan / diverged / escaped; :func:`sampling.dynamics.llc_result.summarize_chains`);
2. **accurate step**: mean MALA acceptance of the same proposal >= ``min_acceptance`` (default 0.99):
   the Metropolis-adjusted Langevin test of the discretisation error would reject < 1% of the moves;
3. **stationary**: the chains' mean of n beta (L - L*) over the second half of the draws differs from
   the first half by at most 2 standard errors (over chains) + ``plateau_rtol`` times the estimate
   (default 1%): the chain has mixed within the SGLD time;
4. **on the plateau**: the estimate agrees with the estimate at the next smaller eps that also passes
   1-3, within 2 combined standard errors + ``plateau_rtol`` times the estimate.

The chosen eps is the *largest* that passes 1-4 (largest: the fewest steps for the SGLD time; on the
plateau: no step-size bias measurable at the sweep's precision); the sweep stops there (the smaller
steps, the expensive ones, are not run). If a setting passes 1-3 but no smaller one does, it is
chosen only when it is the only one passing 1-3, with that said in the reason ("plateau not
confirmed"). If none passes, the estimate is NaN and the reason lists why each setting failed. With
several gammas the calibration is done per gamma and the *smallest* gamma with a chosen eps wins (the
weakest localisation that still keeps the chains healthy and stationary: localisation only serves to
keep chains in w*'s basin, and a stronger one biases the finite-n estimate down).

Cost. Every sweep setting runs ``sweep_fraction`` (default 0.4) of the final estimate's SGLD time. At
fixed time a setting's steps scale as 1/eps, so with the early stop the sweep costs about
0.4 x (1 + 1/2 + 1/4 + ... + 2) ~ 1.6x the final estimate's steps when the grid is entered above the
chosen step (acceptance: <= 5x; ``tests/benchmarks/bench_llc_truths.py`` measures the wall-time
ratio). The final estimate is a fresh run (new key) at the chosen setting with the full SGLD time.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from sampling.dynamics.llc_result import summarize_chains

__all__ = ["CalibrationSetting", "Calibration", "DEFAULT_EPS_SCALES", "ESTIMATE_EPS_SCALES", "choose_setting",
           "sweep_setting"]

DEFAULT_EPS_SCALES = tuple(2.0 ** -k for k in range(8))
"""Grid of eps * n beta of the trajectory calibration (1, 1/2, ..., 1/128; ``sampling.llc_trajectory``)."""

ESTIMATE_EPS_SCALES = tuple(2.0 ** -k for k in range(9))
"""Default grid of eps * n beta of ``estimate_llc(calibrate=True)`` (1, 1/2, ..., 1/256; the sweep stops at
the first confirmed plateau, so the smallest, most expensive steps run only where nothing larger passes:
deep networks need 1/256)."""

DEFAULT_REFERENCE_SCALE = 1.0 / 8
"""eps * n beta at which ``burnin`` and ``draws`` are counted in calibration mode (module docstring)."""


@dataclass(frozen=True)
class CalibrationSetting:
    """One (eps, gamma) of the calibration sweep and its checks (module docstring)."""

    eps: float
    gamma: float
    llc: float
    llc_se: float
    acceptance: float
    excluded_chains: int
    drift: float
    drift_se: float
    healthy: bool
    accurate: bool
    stationary: bool
    on_plateau: bool
    failures: tuple[str, ...]
    steps: int = 0

    @property
    def passes(self) -> bool:
        """Checks 1-3 (healthy, accurate step, stationary)."""
        return self.healthy and self.accurate and self.stationary

    def to_dict(self) -> dict:
        return {"eps": self.eps, "gamma": self.gamma, "llc": _jf(self.llc), "llc_se": _jf(self.llc_se),
                "acceptance": _jf(self.acceptance), "excluded_chains": self.excluded_chains,
                "drift": _jf(self.drift), "drift_se": _jf(self.drift_se), "healthy": self.healthy,
                "accurate": self.accurate, "stationary": self.stationary, "on_plateau": self.on_plateau,
                "failures": list(self.failures), "steps": self.steps}


@dataclass(frozen=True)
class Calibration:
    """The calibration sweep and its decision.

    Attributes
    ----------
    settings : tuple of CalibrationSetting
        Every (eps, gamma) tried, in order (gamma ascending, eps descending).
    chosen : int or None
        Index of the chosen setting (None: nothing passed; the estimate is NaN).
    reason : str
        Why that setting was chosen, or why none was.
    steps_per_setting : int
        Burn-in + draws at ``reference_eps`` (every setting runs the same SGLD time; its own step count
        is ``CalibrationSetting.steps``).
    sweep_steps : int
        Total SGLD steps of the sweep (all chains and settings).
    min_acceptance, plateau_rtol : float
        The thresholds used.
    sweep_seconds, estimate_seconds : float
        Wall time of the sweep and of the final estimate (the final estimate's compilation is shared
        with the sweep: same loss, shapes and chain count).
    """

    settings: tuple[CalibrationSetting, ...]
    chosen: int | None
    reason: str
    steps_per_setting: int
    sweep_steps: int
    min_acceptance: float
    plateau_rtol: float
    sweep_seconds: float = float("nan")
    estimate_seconds: float = float("nan")
    reference_eps: float = float("nan")

    @property
    def cost_ratio(self) -> float:
        """Wall time of the sweep / wall time of the final estimate."""
        return self.sweep_seconds / self.estimate_seconds if self.estimate_seconds > 0 else float("nan")

    @property
    def eps(self) -> float:
        return self.settings[self.chosen].eps if self.chosen is not None else float("nan")

    @property
    def gamma(self) -> float:
        return self.settings[self.chosen].gamma if self.chosen is not None else float("nan")

    def to_dict(self) -> dict:
        return {"settings": [s.to_dict() for s in self.settings], "chosen": self.chosen, "reason": self.reason,
                "eps": _jf(self.eps), "gamma": _jf(self.gamma), "steps_per_setting": self.steps_per_setting,
                "sweep_steps": self.sweep_steps, "min_acceptance": self.min_acceptance,
                "reference_eps": _jf(self.reference_eps), "cost_ratio": _jf(self.cost_ratio),
                "plateau_rtol": self.plateau_rtol, "sweep_seconds": _jf(self.sweep_seconds),
                "estimate_seconds": _jf(self.estimate_seconds)}


def _jf(x):
    x = float(x)
    return x if math.isfinite(x) else None


def sweep_setting(losses, accept, loss_star, *, eps, gamma, nbeta, burnin, d, min_acceptance, plateau_rtol,
                  max_excluded_fraction=0.0, divergence_threshold=None, escape_tol=1.0,
                  block=1) -> CalibrationSetting:
    """Checks 1-3 of one sweep setting from its raw traces (chain health by
    :func:`sampling.dynamics.llc_result.summarize_chains` with ``divergence_threshold``, ``escape_tol``
    and ``block``). ``max_excluded_fraction``: check 1 tolerates that fraction of excluded chains (0 for
    one centre; pooled chains of many centres along a trajectory, where some centres are not minima,
    use more)."""
    llc, _, se, chain_llc, healthy, diag = summarize_chains(
        losses, accept, loss_star, nbeta=nbeta, burnin=burnin, d=d, min_acceptance=min_acceptance,
        divergence_threshold=divergence_threshold, escape_tol=escape_tol, block=block)
    draws = nbeta * (np.asarray(losses, dtype=np.float64)[:, burnin:] - loss_star)
    h = draws.shape[1] // 2
    with np.errstate(invalid="ignore"):
        diff = draws[:, h:].mean(axis=1) - draws[:, :h].mean(axis=1)
    diff = diff[healthy] if healthy.any() else diff
    drift = float(np.mean(diff)) if diff.size else float("nan")
    drift_se = float(np.std(diff, ddof=1) / math.sqrt(diff.size)) if diff.size >= 2 else float("nan")
    failures = []
    ok_health = len(diag.excluded) <= max_excluded_fraction * draws.shape[0] and math.isfinite(llc)
    if not ok_health:
        failures.append(f"{len(diag.excluded)} of {draws.shape[0]} chains excluded "
                        f"({', '.join(sorted({r.split(':')[0] for _, r in diag.excluded})) or 'no estimate'})")
    acc = diag.acceptance_mean
    ok_acc = math.isfinite(acc) and acc >= min_acceptance
    if not ok_acc:
        failures.append(f"MALA acceptance {acc:.3f} < {min_acceptance:g}")
    tol = 2 * (drift_se if math.isfinite(drift_se) else 0.0) + plateau_rtol * abs(llc if math.isfinite(llc) else 0.0)
    ok_stat = math.isfinite(drift) and abs(drift) <= tol
    if not ok_stat:
        failures.append(f"not stationary: second half - first half of the draws = {drift:.3g} "
                        f"(allowed {tol:.3g})")
    return CalibrationSetting(eps=float(eps), gamma=float(gamma), llc=float(llc), llc_se=float(se),
                              acceptance=float(acc), excluded_chains=len(diag.excluded), drift=drift,
                              drift_se=drift_se, healthy=ok_health, accurate=ok_acc, stationary=ok_stat,
                              on_plateau=False, failures=tuple(failures))


def _agree(a: CalibrationSetting, b: CalibrationSetting, rtol: float) -> bool:
    se = math.sqrt(sum(x * x for x in (a.llc_se, b.llc_se) if math.isfinite(x)))
    return abs(a.llc - b.llc) <= 2 * se + rtol * abs(b.llc)


def choose_setting(settings: list[CalibrationSetting], *, plateau_rtol: float) -> tuple[list, int | None, str]:
    """Check 4 and the choice (module docstring). ``settings`` ordered gamma ascending, eps descending.
    Returns (settings with ``on_plateau`` filled in, chosen index or None, reason)."""
    out = list(settings)
    gammas = sorted({s.gamma for s in settings})
    per_gamma = []
    for g in gammas:
        idx = [i for i, s in enumerate(out) if s.gamma == g]
        idx.sort(key=lambda i: -out[i].eps)
        passing = [i for i in idx if out[i].passes]
        nxt = {}
        for j, i in enumerate(passing[:-1]):
            k = passing[j + 1]
            if _agree(out[i], out[k], plateau_rtol):
                out[i] = dataclasses.replace(out[i], on_plateau=True)
                nxt[i] = k
        plateau = [i for i in passing if out[i].on_plateau]
        if plateau:
            i = plateau[0]
            k = nxt[i]
            per_gamma.append((i, f"eps = {out[i].eps:.3g} (gamma = {g:g}) is the largest step that is healthy, "
                                 f"accurate (MALA acceptance {out[i].acceptance:.3f}), stationary and on the plateau "
                                 f"(estimate {out[i].llc:.3f} agrees with {out[k].llc:.3f} at eps = {out[k].eps:.3g})"))
        elif len(passing) == 1:
            i = passing[0]
            per_gamma.append((i, f"eps = {out[i].eps:.3g} (gamma = {g:g}) is the only step that is healthy, accurate "
                                 f"and stationary; plateau not confirmed (no smaller step mixed within the budget)"))
        elif passing:
            vals = ", ".join(f"{out[i].llc:.3f} at {out[i].eps:.3g}" for i in passing)
            per_gamma.append((None, f"gamma = {g:g}: no plateau: the estimate changes with the step at every step "
                                    f"that passes the checks ({vals})"))
        else:
            per_gamma.append((None, f"gamma = {g:g}: no step passes: " + "; ".join(
                f"eps = {out[i].eps:.3g}: {', '.join(out[i].failures)}" for i in idx)))
    for i, why in per_gamma:
        if i is not None:
            if len(gammas) > 1:
                why += "; the smallest gamma with a valid step (weakest localisation)"
            return out, i, why
    return out, None, "no setting passes the calibration checks: " + " | ".join(w for _, w in per_gamma)
