"""The multi-temperature fit of the learning coefficient and its multiplicity (docs/llc.md §4).

With Z(t) = int exp(-t K(w)) phi(w) dw ~ C t^-lambda (log t)^(m - 1) (Watanabe 2009, "Algebraic
Geometry and Statistical Learning Theory", ch. 6; t = n beta), the mean loss of the tempered posterior
is -d log Z / dt = lambda / t - (m - 1) / (t log t) + O(1 / (t log^2 t)); with data (Watanabe 2013,
"A widely applicable Bayesian information criterion", JMLR 14, Theorem 4) E_beta[n L_n] = n L_n(w0)
+ lambda / beta + O_p(1), and the O_p(1) term does not depend on beta to this order (for a quadratic
loss centred at w* it is exactly -xi_n = -n (L_n(w*) - min L_n), docs/llc.md §4). So

    n (E_beta[L_n] - L_n(w*)) = lambda / beta - (m - 1) / (beta log(n beta)) + c,

and the plain estimate lambda_hat(beta) = n beta (E_beta[L_n] - L_n(w*)) at inverse temperature
beta_k, t_k = n beta_k, is

    lambda_hat_k = lambda - (m - 1) / log t_k + c beta_k,                                    (*)

*linear* in (lambda, m - 1, c). The constant c is needed: it is the O(beta) bias that the
two-temperature estimate removes (-8.7% of d/2 for a regular model at n = 1e5, centred at the true
parameter), so dropping it would bias lambda by c beta. Three temperatures determine the three
coefficients; more give a goodness-of-fit chi^2. The fit is weighted least squares with the weights
1 / se_k^2 of the plain estimates. Per chain (chains coupled across the temperatures: same keys) the
coefficients are the same linear map of that chain's plain estimates, so the covariance of the
coefficients is taken over the chains and contains the chains' correlation across temperatures.

The (m - 1) / log t term changes slowly with t, so the fit needs temperatures spread over a wide
range of log t, and m is far less precise than lambda (docs/llc.md §4 gives the factors). The test of
m = 1 is one-sided (m >= 1 by definition): m = 1 is rejected at ``level`` if (m_hat - 1) / se_m
exceeds the upper ``level`` quantile (Student t with chains - 1 degrees of freedom when the errors
come from the chains, normal when standard errors are given).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

__all__ = ["MultiTemperatureFit", "fit_multi_temperature", "multi_temperature_design", "multi_temperature_model"]


@dataclass(frozen=True)
class MultiTemperatureFit:
    """The fit (*) of the module docstring.

    Attributes
    ----------
    llc, llc_se : float
        lambda and its standard error.
    multiplicity, multiplicity_se : float
        m (real-valued) and its standard error.
    const, const_se : float
        c of (*) (the beta-independent part of n (E_beta[L_n] - L_n(w*))); without ``n``, the
        coefficient of t_k = n beta_k (c / n).
    cov : ndarray (3, 3)
        Covariance of (lambda, m, const).
    nbetas : ndarray (K,)
        The temperatures t_k = n beta_k.
    values, values_se : ndarray (K,)
        The plain estimates lambda_hat_k and their standard errors.
    fitted : ndarray (K,)
        The fitted lambda_hat_k of (*).
    chi2 : float
        sum_k (residual_k / se_k)^2 (goodness of fit; NaN for K = 3).
    dof : int
        K - 3 (the chi^2's degrees of freedom).
    m1_statistic, m1_pvalue : float
        (m - 1) / se_m and its one-sided p-value.
    m1_rejected : bool
        m = 1 rejected at ``level``.
    level : float
        The test's level.
    chains : int
        Chains the errors come from (0: from the given standard errors).
    fixed_multiplicity : float or None
        m held fixed (then ``multiplicity_se`` = 0 and no test), or None.
    chain_llc : ndarray
        Per-chain values: lambda fitted to each chain's plain estimates (NaN for a chain not finite at
        every temperature; empty when means were given).
    """

    llc: float
    llc_se: float
    multiplicity: float
    multiplicity_se: float
    const: float
    const_se: float
    cov: np.ndarray
    nbetas: np.ndarray
    values: np.ndarray
    values_se: np.ndarray
    fitted: np.ndarray
    chi2: float
    dof: int
    m1_statistic: float
    m1_pvalue: float
    m1_rejected: bool
    level: float
    chains: int
    fixed_multiplicity: float | None = None
    chain_llc: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def to_dict(self) -> dict:
        f = _jf
        return {"llc": f(self.llc), "llc_se": f(self.llc_se), "multiplicity": f(self.multiplicity),
                "multiplicity_se": f(self.multiplicity_se), "const": f(self.const), "const_se": f(self.const_se),
                "nbetas": [float(x) for x in self.nbetas], "values": [f(x) for x in self.values],
                "values_se": [f(x) for x in self.values_se], "fitted": [f(x) for x in self.fitted],
                "chi2": f(self.chi2), "dof": self.dof, "m1_statistic": f(self.m1_statistic),
                "m1_pvalue": f(self.m1_pvalue), "m1_rejected": self.m1_rejected, "level": self.level,
                "chains": self.chains, "fixed_multiplicity": self.fixed_multiplicity}


def _jf(x):
    x = float(x)
    return x if math.isfinite(x) else None


def multi_temperature_design(nbetas, *, scale: float | None = None) -> np.ndarray:
    """Design matrix of (*) for the coefficients (lambda, m - 1, c'): rows (1, -1 / log t_k, t_k / scale),
    t_k = ``nbetas`` (all > 1), c' = c scale / n (``scale`` default max t_k, for conditioning)."""
    t = np.asarray(nbetas, dtype=np.float64).reshape(-1)
    scale = float(t.max()) if scale is None else float(scale)
    return np.stack([np.ones_like(t), -1.0 / np.log(t), t / scale], axis=1)


def multi_temperature_model(nbetas, llc, multiplicity, const=0.0, *, n=None):
    """The plain estimates (*) predicts at t_k = ``nbetas``: lambda - (m - 1) / log t_k + c t_k / n
    (``const`` = c needs ``n``; c = 0 without it)."""
    t = np.asarray(nbetas, dtype=np.float64)
    out = llc - (multiplicity - 1.0) / np.log(t)
    if const and n is None:
        raise ValueError("`n` is needed with a nonzero `const` (the term is const * n beta / n).")
    return out + (const * t / n if const else 0.0)


def fit_multi_temperature(nbetas, values, values_se=None, *, n: int | None = None, level: float = 0.05,
                          fixed_multiplicity: float | None = None) -> MultiTemperatureFit:
    """Weighted least-squares fit of (*) (module docstring) to plain estimates at K temperatures.

    Parameters
    ----------
    nbetas : sequence of float, length K
        t_k = n beta_k (all > 1, distinct; K >= 3, or K >= 2 with ``fixed_multiplicity``).
    values : array (K,) or (K, C)
        The plain estimates lambda_hat_k = n beta_k (E_beta_k[L_n] - L_n(w*)): their means (then
        ``values_se`` is required), or per chain (C >= 2 chains, the same chain index coupled across the
        temperatures; NaN marks an excluded chain, and a chain counts only where it is finite at every
        temperature): the coefficients are fitted per chain and averaged, their covariance is the
        chains' covariance / C.
    values_se : array (K,), optional
        Standard errors of the means (weights 1 / se^2); per-chain values: default their standard
        errors over the chains.
    n : int, keyword-only, optional
        Data size, to report c (beta_k = t_k / n); without it ``const`` is the coefficient of t_k.
    level : float, keyword-only
        Level of the one-sided test of m = 1 (in (0, 1)).
    fixed_multiplicity : float, keyword-only, optional
        Hold m at this value (>= 1) and fit (lambda, c) only.

    Returns
    -------
    MultiTemperatureFit
    """
    t = np.asarray(nbetas, dtype=np.float64).reshape(-1)
    K = t.size
    need = 3 if fixed_multiplicity is None else 2
    if K < need or not np.all(np.isfinite(t)) or np.any(t <= 1.0) or np.unique(t).size != K:
        raise ValueError(f"`nbetas` must be at least {need} distinct finite numbers > 1 (n beta at each temperature); "
                         f"got {nbetas!r}.")
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"`level` must be in (0, 1); got {level!r}.")
    if fixed_multiplicity is not None and not (math.isfinite(fixed_multiplicity) and fixed_multiplicity >= 1):
        raise ValueError(f"`fixed_multiplicity` must be a number >= 1 or None; got {fixed_multiplicity!r}.")
    if n is not None and not (float(n) >= 1):
        raise ValueError(f"`n` must be a positive data size or None; got {n!r}.")
    v = np.asarray(values, dtype=np.float64)
    if v.ndim not in (1, 2) or v.shape[0] != K:
        raise ValueError(f"`values` must have shape (K,) or (K, chains) with K = {K} temperatures; "
                         f"got shape {v.shape}.")
    per_chain = v.ndim == 2
    chain_llc = np.zeros(0)
    ok, v, means, se = _chain_means(v, values_se, K)
    C = v.shape[1] if per_chain else 0
    if per_chain:
        chain_llc = np.full(ok.size, np.nan)
    X = multi_temperature_design(t)
    shift = np.zeros(K)
    if fixed_multiplicity is not None:
        shift = (fixed_multiplicity - 1.0) * X[:, 1]
        X = X[:, [0, 2]]
    w = 1.0 / np.maximum(se, 1e-300) ** 2
    if not np.all(np.isfinite(w)):
        raise ValueError(f"`values_se` must be finite and positive; got {se.tolist()}.")
    A = np.linalg.solve(X.T @ (w[:, None] * X), X.T * w)  # coefficients = A @ (values - shift)
    coef = A @ (means - shift)
    if per_chain:
        per = A @ (v - shift[:, None])
        cov = np.atleast_2d(np.cov(per)) / C
        chain_llc[ok] = per[0]
    else:
        cov = A @ np.diag(se ** 2) @ A.T
    fitted = X @ coef + shift
    resid = means - fitted
    dof = K - X.shape[1]
    chi2 = float(np.sum(resid ** 2 * w)) if dof > 0 else float("nan")
    full = _full(coef, cov, fixed_multiplicity)
    coef3, cov3 = full
    scale = float(t.max())
    units = (n / scale) if n is not None else (1.0 / scale)  # c = c' n / scale; without n: per unit t
    J = np.diag([1.0, 1.0, units])
    cov3 = J @ cov3 @ J.T
    lam, mm1, c = coef3[0], coef3[1], coef3[2] * units
    m = mm1 + 1.0
    m_se = math.sqrt(max(cov3[1, 1], 0.0))
    if fixed_multiplicity is None and m_se > 0:
        z = mm1 / m_se
        p = float(stats.t.sf(z, C - 1) if C else stats.norm.sf(z))
    else:
        z, p = float("nan"), float("nan")
    return MultiTemperatureFit(
        llc=float(lam), llc_se=math.sqrt(max(cov3[0, 0], 0.0)), multiplicity=float(m), multiplicity_se=m_se,
        const=float(c), const_se=math.sqrt(max(cov3[2, 2], 0.0)),
        cov=cov3, nbetas=t, values=means, values_se=se, fitted=fitted, chi2=chi2, dof=dof, m1_statistic=float(z),
        m1_pvalue=p, m1_rejected=bool(p < level) if math.isfinite(p) else False, level=level, chains=C,
        fixed_multiplicity=None if fixed_multiplicity is None else float(fixed_multiplicity), chain_llc=chain_llc,
    )


def _se(values_se, K):
    se = np.asarray(values_se, dtype=np.float64).reshape(-1)
    if se.shape != (K,) or not np.all(np.isfinite(se)) or np.any(se <= 0):
        raise ValueError(f"`values_se` must be {K} finite positive standard errors; got {values_se!r}.")
    return se


def _full(coef, cov, fixed):
    """(lambda, m - 1, c') and their 3 x 3 covariance (m - 1 fixed: inserted with zero variance)."""
    if fixed is None:
        return np.asarray(coef, dtype=np.float64), np.asarray(cov, dtype=np.float64)
    c3 = np.array([coef[0], fixed - 1.0, coef[1]])
    v3 = np.zeros((3, 3))
    v3[np.ix_([0, 2], [0, 2])] = cov
    return c3, v3


def _chain_means(v: np.ndarray, values_se, K: int):
    """``(ok, v, means, se)``: per-chain values (K, C) keep the chains finite at every temperature
    (``ok``), their means and standard errors (from the chains unless ``values_se`` is given); means
    (K,) need ``values_se``."""
    if v.ndim == 2:
        ok = np.all(np.isfinite(v), axis=0)
        C = int(ok.sum())
        if C < 2:
            raise ValueError(f"`values` per chain needs at least 2 chains finite at every temperature; got {C}.")
        v = v[:, ok]
        se = v.std(axis=1, ddof=1) / math.sqrt(C) if values_se is None else _se(values_se, K)
        return ok, v, v.mean(axis=1), se
    if values_se is None:
        raise ValueError("`values_se` is required when `values` are means (shape (K,)).")
    return np.zeros(0, bool), v, v, _se(values_se, K)
