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

**The data set's fluctuation term.** Watanabe's expansion (2013, Theorem 4) has one more term between
lambda / beta and the O_p(1) constant: E_beta[n L_n] = n L_n(w0) + lambda / beta + U_n sqrt(lambda /
(2 beta)) + O_p(1), U_n a random variable of the data set (zero in a regular model), so the plain
estimate carries a sqrt(beta_k) term that (*) lacks, which the three-term fit absorbs into lambda and
m. ``fluctuation=True`` fits it, a sqrt(beta_k) with a = U_n sqrt(lambda / 2): four coefficients, so
at least four temperatures, at a larger noise amplification (docs/llc.md §4b).

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

__all__ = ["MultiTemperatureFit", "fit_multi_temperature", "multi_temperature_design", "multi_temperature_model",
           "gaussian_correction", "corrected_two_temperature", "outside_expansion"]


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
    cov : ndarray (3, 3), or (4, 4) with the fluctuation term
        Covariance of (lambda, m, const[, fluctuation]).
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
    correction : ndarray (K,)
        What was added to the plain estimates before the fit (:func:`gaussian_correction`; zeros when
        none: ``values`` are the corrected estimates).
    quadratic_directions : int
        Directions the correction counts.
    fluctuation, fluctuation_se : float or None
        a of the term a sqrt(beta_k) (with ``n``; else per unit sqrt(t_k / max t)) and its standard error,
        when fitted.
    chain_multiplicity : ndarray
        Per-chain m, like ``chain_llc``.
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
    correction: np.ndarray = field(default_factory=lambda: np.zeros(0))
    quadratic_directions: int = 0
    fluctuation: float | None = None
    fluctuation_se: float | None = None
    chain_multiplicity: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def to_dict(self) -> dict:
        f = _jf
        return {"llc": f(self.llc), "llc_se": f(self.llc_se), "multiplicity": f(self.multiplicity),
                "multiplicity_se": f(self.multiplicity_se), "const": f(self.const), "const_se": f(self.const_se),
                "nbetas": [float(x) for x in self.nbetas], "values": [f(x) for x in self.values],
                "values_se": [f(x) for x in self.values_se], "fitted": [f(x) for x in self.fitted],
                "chi2": f(self.chi2), "dof": self.dof, "m1_statistic": f(self.m1_statistic),
                "m1_pvalue": f(self.m1_pvalue), "m1_rejected": self.m1_rejected, "level": self.level,
                "chains": self.chains, "fixed_multiplicity": self.fixed_multiplicity,
                "correction": [f(x) for x in self.correction], "quadratic_directions": self.quadratic_directions,
                "fluctuation": None if self.fluctuation is None else f(self.fluctuation),
                "fluctuation_se": None if self.fluctuation_se is None else f(self.fluctuation_se)}


def _jf(x):
    x = float(x)
    return x if math.isfinite(x) else None


def gaussian_correction(curvatures, nbetas, eps, gamma) -> np.ndarray:
    """What the SGLD chains' plain estimate misses in the quadratic directions, per temperature.

    In a direction where L = L* + h x^2 / 2, SGLD at t = n beta with localisation gamma and step eps
    is the AR(1) chain x' = x - (eps / 2) a x + sqrt(eps) xi, a = t h + gamma, whose stationary variance
    is 1 / (a (1 - eps a / 4)); so the direction contributes t h / (2 a (1 - eps a / 4)) to the plain
    estimate instead of its 1/2. The localisation's part, gamma / (2 a), grows 64x from t0 to t0 / 64,
    a drift the multi-temperature fit reads as multiplicity (docs/llc.md §4b); the step's part is the
    same at every temperature when eps_k t_k is fixed.

    Parameters
    ----------
    curvatures : array (q,)
        The positive Hessian eigenvalues h_i of the directions counted (> 0).
    nbetas, eps : arrays (K,)
        t_k = n beta_k and the step of each temperature (eps_k a < 4 in every direction).
    gamma : float
        Localisation strength (>= 0).

    Returns
    -------
    ndarray (K,): sum_i [1/2 - t_k h_i / (2 a (1 - eps_k a / 4))], to add to the plain estimates.
    """
    h = np.asarray(curvatures, dtype=np.float64).reshape(1, -1)
    t = np.asarray(nbetas, dtype=np.float64).reshape(-1, 1)
    e = np.broadcast_to(np.asarray(eps, dtype=np.float64).reshape(-1, 1), t.shape)
    if h.size and (not np.all(np.isfinite(h)) or np.any(h <= 0)):
        raise ValueError(f"`curvatures` must be positive; got {curvatures!r}.")
    a = t * h + float(gamma)
    if np.any(e * a >= 4.0):
        raise ValueError("the step is unstable in a quadratic direction (eps (n beta h + gamma) >= 4).")
    return np.sum(0.5 - t * h / (2.0 * a * (1.0 - e * a / 4.0)), axis=1)


def corrected_two_temperature(nbetas, values, multiplicity):
    """The two-temperature estimate of the two coldest temperatures, corrected for the multiplicity m.

    By (*) the plain estimates at t_1 > t_2 (t = n beta, r = t_2 / t_1) combine to

        (r lambda_hat_1 - lambda_hat_2) / (r - 1) = lambda - (m - 1) kappa,
        kappa = (r / log t_1 - 1 / log t_2) / (r - 1)      (r = 1/2: 2 / log t_2 - 1 / log t_1),

    the c beta term cancelling; so lambda = that + (m - 1) kappa. With m from the fit over the whole ladder
    this uses the hot temperatures only through m, whose error enters multiplied by kappa (~0.13 at
    n beta = n / log n, n = 1e5), where the fit's lambda carries their localisation corrections with the
    full leverage of the ladder (docs/llc.md §4c).

    Parameters
    ----------
    nbetas : sequence of float (K >= 2)
        t_k = n beta_k (> 1, distinct); the two largest are used.
    values : array (K,) or (K, C)
        Plain (or corrected) estimates per temperature, per chain or their means.
    multiplicity : float or array (C,)
        m, per chain or one value.

    Returns
    -------
    ndarray (C,) or float: lambda per chain (or for the means).
    """
    t = np.asarray(nbetas, dtype=np.float64).reshape(-1)
    v = np.asarray(values, dtype=np.float64)
    if t.size < 2 or np.unique(t).size != t.size or np.any(t <= 1.0) or v.shape[:1] != t.shape:
        raise ValueError(f"`nbetas` must be at least 2 distinct numbers > 1, one per row of `values`; got {nbetas!r} "
                         f"and values of shape {v.shape}.")
    i1, i2 = np.argsort(t)[::-1][:2]
    r = t[i2] / t[i1]
    kappa = (r / math.log(t[i1]) - 1.0 / math.log(t[i2])) / (r - 1.0)
    return (r * v[i1] - v[i2]) / (r - 1.0) + (np.asarray(multiplicity, dtype=np.float64) - 1.0) * kappa


def multi_temperature_design(nbetas, *, scale: float | None = None, fluctuation: bool = False) -> np.ndarray:
    """Design matrix of (*) for the coefficients (lambda, m - 1, c'[, a']): rows (1, -1 / log t_k,
    t_k / scale[, sqrt(t_k / scale)]), t_k = ``nbetas`` (all > 1), c' = c scale / n, a' = a sqrt(scale / n)
    (``scale`` default max t_k, for conditioning)."""
    t = np.asarray(nbetas, dtype=np.float64).reshape(-1)
    scale = float(t.max()) if scale is None else float(scale)
    cols = [np.ones_like(t), -1.0 / np.log(t), t / scale] + ([np.sqrt(t / scale)] if fluctuation else [])
    return np.stack(cols, axis=1)


def multi_temperature_model(nbetas, llc, multiplicity, const=0.0, fluctuation=0.0, *, n=None):
    """The plain estimates (*) predicts at t_k = ``nbetas``: lambda - (m - 1) / log t_k + c t_k / n
    + a sqrt(t_k / n) (``const`` = c and ``fluctuation`` = a need ``n``; zero without it)."""
    t = np.asarray(nbetas, dtype=np.float64)
    out = llc - (multiplicity - 1.0) / np.log(t)
    if (const or fluctuation) and n is None:
        raise ValueError("`n` is needed with a nonzero `const` or `fluctuation` (the terms are in beta = n beta / n).")
    return out + (const * t / n if const else 0.0) + (fluctuation * np.sqrt(t / n) if fluctuation else 0.0)


def fit_multi_temperature(nbetas, values, values_se=None, *, n: int | None = None, level: float = 0.05,
                          fixed_multiplicity: float | None = None, fluctuation: bool = False) -> MultiTemperatureFit:
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
    fluctuation : bool, keyword-only
        Add the data set's fluctuation term a sqrt(beta_k) to (*) (module docstring; one more
        temperature needed).

    Returns
    -------
    MultiTemperatureFit
    """
    t = np.asarray(nbetas, dtype=np.float64).reshape(-1)
    K = t.size
    need = (3 if fixed_multiplicity is None else 2) + int(bool(fluctuation))
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
    ok, v, means, se = _chain_means(v, values_se, K)
    C = v.shape[1] if per_chain else 0
    chain_llc, chain_m = np.full(ok.size, np.nan), np.full(ok.size, np.nan)  # size 0 for means
    X = multi_temperature_design(t, fluctuation=fluctuation)
    shift = np.zeros(K)
    if fixed_multiplicity is not None:
        shift = (fixed_multiplicity - 1.0) * X[:, 1]
        X = np.delete(X, 1, axis=1)
    w = 1.0 / np.maximum(se, 1e-300) ** 2
    if not np.all(np.isfinite(w)):
        raise ValueError(f"`values_se` must be finite and positive; got {se.tolist()}.")
    A = np.linalg.solve(X.T @ (w[:, None] * X), X.T * w)  # coefficients = A @ (values - shift)
    coef = A @ (means - shift)
    if per_chain:
        per = A @ (v - shift[:, None])
        cov = np.atleast_2d(np.cov(per)) / C
        chain_llc[ok] = per[0]
        chain_m[ok] = fixed_multiplicity if fixed_multiplicity is not None else per[1] + 1.0
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
    J = np.diag([1.0, 1.0, units, math.sqrt(units)][:coef3.size])  # a = a' sqrt(n / scale)
    cov3 = J @ cov3 @ J.T
    lam, mm1, c = coef3[0], coef3[1], coef3[2] * units
    a, a_se = (coef3[3] * math.sqrt(units), math.sqrt(max(cov3[3, 3], 0.0))) if fluctuation else (0.0, 0.0)
    m = mm1 + 1.0
    m_se = math.sqrt(max(cov3[1, 1], 0.0))
    if fixed_multiplicity is None:
        # floor at the fit's roundoff: values identical at every temperature give m - 1 ~ 1e-14 with a
        # standard error ~ 1e-16, which is no evidence against m = 1
        z = mm1 / max(m_se, _roundoff(means))
        p = float(stats.t.sf(z, C - 1) if C else stats.norm.sf(z))
    else:
        z, p = float("nan"), float("nan")
    return MultiTemperatureFit(
        llc=float(lam), llc_se=math.sqrt(max(cov3[0, 0], 0.0)), multiplicity=float(m), multiplicity_se=m_se,
        const=float(c), const_se=math.sqrt(max(cov3[2, 2], 0.0)),
        cov=cov3, nbetas=t, values=means, values_se=se, fitted=fitted, chi2=chi2, dof=dof, m1_statistic=float(z),
        m1_pvalue=p, m1_rejected=bool(p < level) if math.isfinite(p) else False, level=level, chains=C,
        fixed_multiplicity=None if fixed_multiplicity is None else float(fixed_multiplicity), chain_llc=chain_llc,
        fluctuation=float(a) if fluctuation else None, fluctuation_se=float(a_se) if fluctuation else None,
        chain_multiplicity=chain_m,
    )


def _roundoff(means) -> float:
    """The fit's roundoff scale: a standard error below it is no evidence (values identical at every
    temperature give m - 1 ~ 1e-14 with a standard error ~ 1e-16)."""
    return 1e-9 * max(1.0, float(np.max(np.abs(means))))


def outside_expansion(fit: MultiTemperatureFit, d: int) -> bool:
    """Whether the fit reads (lambda, m) outside the range the expansion allows, 0 < lambda <= d / 2 and
    1 <= m <= d, by more than 3 standard errors (each at least the fit's roundoff scale): then the hotter
    chains do not follow the expansion at w* (docs/llc.md §4b)."""
    floor = _roundoff(fit.values)
    m_se, l_se = max(fit.multiplicity_se, floor), max(fit.llc_se, floor)
    return fit.multiplicity + 3 * m_se < 1 or fit.multiplicity - 3 * m_se > d or fit.llc - 3 * l_se > d / 2


def _se(values_se, K):
    se = np.asarray(values_se, dtype=np.float64).reshape(-1)
    if se.shape != (K,) or not np.all(np.isfinite(se)) or np.any(se <= 0):
        raise ValueError(f"`values_se` must be {K} finite positive standard errors; got {values_se!r}.")
    return se


def _full(coef, cov, fixed):
    """(lambda, m - 1, c'[, a']) and their covariance (m - 1 fixed: inserted with zero variance)."""
    if fixed is None:
        return np.asarray(coef, dtype=np.float64), np.asarray(cov, dtype=np.float64)
    k = len(coef) + 1
    c3 = np.insert(np.asarray(coef, dtype=np.float64), 1, fixed - 1.0)
    v3 = np.zeros((k, k))
    rest = [i for i in range(k) if i != 1]
    v3[np.ix_(rest, rest)] = cov
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
