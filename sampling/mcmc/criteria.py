"""Information criteria from posterior draws: WBIC and WAIC with the functional variance and the
singular fluctuation (docs/sampling.md, "Thermodynamics of the posterior").

- WBIC = E_{1/log n}[E], E = n L_n, estimates the free energy F = -log Z(1) with error O(sqrt(log n))
  (Watanabe 2013, JMLR 14, Thm 4; :func:`wbic`), from draws at beta = 1 / log n or interpolated
  between the temperatures of a ladder;
- WAIC = T_n + V_n / n with T_n the Bayes training loss and V_n the functional variance estimates the
  generalisation loss, and beta V_n / 2 is the singular fluctuation nu (Watanabe 2010, JMLR 11,
  eqs. 5-8; :func:`waic`).

In a realizable regular model with d parameters V_n -> d and the WBIC complexity term
(WBIC - n L_n(w_0)) / log n -> d/2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sampling.mcmc.thermodynamics import as_generator, check_chains_draws, check_ladder

__all__ = ["WAIC", "WBIC", "waic", "wbic"]


@dataclass(frozen=True)
class WBIC:
    """WBIC = E_{beta_w}[E], beta_w = 1 / log n (Watanabe 2013).

    Attributes
    ----------
    value : float
    err : float
        Monte Carlo standard error (nan when unknown).
    beta : float
        1 / log n.
    method : str
        ``"draws"`` (sampled at beta_w) or ``"ladder"`` (interpolated between ladder temperatures).
    """

    value: float
    err: float
    beta: float
    method: str

    def complexity(self, energy_min: float, n: int) -> float:
        """(WBIC - E(w_0)) / log n with E(w_0) = ``energy_min`` = n L_n at the optimum: tends to the
        learning coefficient lambda (d/2 in a regular model)."""
        return (self.value - float(energy_min)) / math.log(n)


def wbic(n: int, *, energy=None, betas=None, energy_mean=None, energy_var=None) -> WBIC:
    """WBIC at sample size n: the posterior mean of E = n L_n at beta = 1 / log n.

    Give ``energy`` (chains, draws) sampled at beta = 1 / log n (error: between-chain standard error
    of the chain means), or a ladder ``betas`` (decreasing) with per-temperature ``energy_mean`` (and
    ``energy_var``): then E_t[E] is interpolated at t = 1 / log n on u = log t, as f(u) = t E_t[E]
    (smooth where E_t ~ lambda / t + const), by cubic Hermite with f'(u) = t m - t^2 v when the
    variances are given, linearly otherwise.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"`n` must be an integer >= 2; got {n!r}.")
    bw = 1.0 / math.log(n)
    if energy is not None:
        E = check_chains_draws("energy", energy)
        err = float(E.mean(axis=1).std(ddof=1) / math.sqrt(E.shape[0])) if E.shape[0] >= 2 else float("nan")
        return WBIC(value=float(E.mean()), err=err, beta=bw, method="draws")
    if betas is None or energy_mean is None:
        raise ValueError("give `energy` (draws at beta = 1/log n) or `betas` with `energy_mean`.")
    t = check_ladder(betas)
    m = np.asarray(energy_mean, dtype=np.float64)
    if m.shape != t.shape:
        raise ValueError(f"`energy_mean` must have shape {t.shape}; got {m.shape}.")
    if not t[-1] <= bw <= t[0]:
        raise ValueError(f"the ladder [{t[-1]:.4g}, {t[0]:.4g}] must contain beta = 1/log n = {bw:.4g}.")
    k = int(np.searchsorted(-t, -bw, side="right")) - 1
    k = min(k, t.size - 2)
    ua, ub, u = math.log(t[k]), math.log(t[k + 1]), math.log(bw)
    fa, fb = t[k] * m[k], t[k + 1] * m[k + 1]
    s = (u - ua) / (ub - ua)
    if energy_var is None:
        f = fa + s * (fb - fa)
    else:
        v = np.asarray(energy_var, dtype=np.float64)
        h = ub - ua
        da, db = (fa - t[k] ** 2 * v[k]) * h, (fb - t[k + 1] ** 2 * v[k + 1]) * h
        f = ((2 * s**3 - 3 * s**2 + 1) * fa + (s**3 - 2 * s**2 + s) * da + (-2 * s**3 + 3 * s**2) * fb
             + (s**3 - s**2) * db)
    return WBIC(value=float(f / bw), err=float("nan"), beta=bw, method="ladder")


@dataclass(frozen=True)
class WAIC:
    """WAIC and the functional variance (Watanabe 2010), per sample (Watanabe's normalisation).

    Attributes
    ----------
    waic : float
        T_n + beta V_n / n, an estimate of the generalisation loss (per-sample negative log predictive
        density).
    training_loss : float
        T_n = -(1/n) sum_i log E_w[p(x_i | w)].
    functional_variance : float
        V_n = sum_i Var_w[log p(x_i | w)].
    singular_fluctuation : float
        nu = beta V_n / 2 (d/2 in a regular model at beta = 1).
    se : float
        Standard error of ``waic`` over the data points (the spread of the pointwise terms / sqrt(n)).
    mc_err : float
        Bootstrap standard error of V_n over chains (nan with one chain).
    n : int
    beta : float
    """

    waic: float
    training_loss: float
    functional_variance: float
    singular_fluctuation: float
    se: float
    mc_err: float
    n: int
    beta: float


def _waic_terms(ll: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    S = ll.shape[0]
    mx = ll.max(axis=0)
    lppd = mx + np.log(np.exp(ll - mx).sum(axis=0) / S)
    return -lppd, ll.var(axis=0, ddof=1)


def waic(log_lik, *, beta: float = 1.0, n_boot: int = 200, seed=0) -> WAIC:
    """WAIC = T_n + beta V_n / n from the pointwise log-likelihood of posterior draws.

    Parameters
    ----------
    log_lik : array, shape (chains, draws, n) or (draws, n)
        log p(x_i | w_s) of every data point x_i at every draw w_s of the posterior
        phi(w) prod_i p(x_i | w)^beta (for the TMS: -||x_i - f(x_i; w)||^2 - (c/2) log pi, the
        Gaussian likelihood with variance 1/2).
    beta : float, > 0
        Inverse temperature of the posterior the draws come from.
    n_boot : int
        Bootstrap replicates over chains for ``mc_err``.
    seed : int or numpy Generator

    Notes
    -----
    Watanabe 2010 (JMLR 11, 3571-3594), eqs. (5)-(8): E[G_n] = E[W_n] + o(1/n) with
    W_n = T_n + (beta / n) V_n, and E[V_n] -> 2 nu / beta.
    """
    ll = np.asarray(log_lik, dtype=np.float64)
    if ll.ndim == 2:
        ll = ll[None]
    if ll.ndim != 3 or ll.shape[0] * ll.shape[1] < 2 or not np.all(np.isfinite(ll)):
        raise ValueError("`log_lik` must be finite with shape (chains, draws, n) or (draws, n); got "
                         f"{np.shape(log_lik)}.")
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0:
        raise ValueError(f"`beta` must be a positive number; got {beta!r}.")
    C, _, n = ll.shape
    t_i, v_i = _waic_terms(ll.reshape(-1, n))
    T, V = float(t_i.mean()), float(v_i.sum())
    point = t_i + beta * v_i
    se = float(point.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    mc = float("nan")
    if C >= 2:
        rng = as_generator(seed)
        mc = float(np.std([_waic_terms(ll[rng.integers(0, C, C)].reshape(-1, n))[1].sum() for _ in range(n_boot)],
                          ddof=1))
    return WAIC(waic=T + beta * V / n, training_loss=T, functional_variance=V, singular_fluctuation=beta * V / 2,
                se=se, mc_err=mc, n=int(n), beta=float(beta))

