"""The settings of an SGLD LLC estimate (:class:`SGLDConfig`; docs/llc.md, docs/dynamics.md §4).

One frozen, validated record of every SGLD hyperparameter, taken by :func:`sampling.estimate_llc`,
:func:`sampling.tms_llc`, :func:`sampling.llc_trajectory` and the functions built on them. A field
left ``None`` takes the default of the function it is passed to (e.g. 4 chains in ``estimate_llc``,
64 in ``tms_llc``); the config an :class:`sampling.LLCResult` carries has them resolved.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from kgon.validation import check_float, check_int

__all__ = ["SGLDConfig", "ESTIMATORS", "TEMPERATURE_STEPS"]

ESTIMATORS = ("plain", "two_temperature", "multi_temperature", "multiplicity_corrected")
TEMPERATURE_STEPS = ("scaled", "fixed")
"""The estimates :func:`sampling.estimate_llc` can report as ``llc`` (``SGLDConfig.estimator``)."""


def _grid(name: str, values, *, positive: bool) -> tuple[float, ...] | None:
    """``values`` as a sorted tuple of distinct finite floats (> 0 with ``positive``, else >= 0)."""
    if values is None:
        return None
    try:
        vals = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a sequence of numbers; got {values!r}.") from None
    if not vals or not all(math.isfinite(v) and (v > 0 if positive else v >= 0) for v in vals):
        kind = "positive" if positive else "non-negative"
        raise ValueError(f"`{name}` must be a non-empty sequence of finite {kind} numbers; got {values!r}.")
    return tuple(sorted(set(vals)))


@dataclass(frozen=True)
class SGLDConfig:
    """Settings of an SGLD LLC estimate, validated on construction (docs/llc.md).

    SGLD: w <- w - (eps/2) (n beta grad L_m(w) + gamma (w - w*)) + noise sqrt(eps) N(0, I), chains
    started at w* + init_noise N(0, I); lambda_hat = n beta (E[L_n] - L_n(w*)) over the draws after
    the burn-in (Lau et al. 2023 eq. 10-11; docs/dynamics.md §4). ``None``: the default of the function
    the config is passed to.

    Attributes
    ----------
    nbeta : float or None
        n beta (> 0); default n / log n.
    eps : float or None
        Step size (> 0). Chosen by the calibration when the function calibrates (then it must be None).
    gamma : float
        Localisation strength (>= 0); with calibration the default of ``gamma_grid``.
    chains, burnin, draws : int or None
        Chains (>= 1), discarded steps (>= 0), averaged steps (>= 1).
    batch_size : int or None
        Minibatch size m (samples drawn with replacement each step); None: full batch.
    noise, init_noise : float
        Noise scale (>= 0; 1 = SGLD, 0 = gradient descent) and the chains' start jitter (>= 0).
    divergence_threshold : float or None
        A chain with n beta (L - L*) above it is excluded (> 0; default 10 d, d the number of parameters).
    escape_tol : float
        A chain with a block mean of n beta (L - L*) below -escape_tol is excluded (>= 0).
    min_acceptance : float
        Mean MALA acceptance below which a warning is recorded (in [0, 1]).
    eps_grid, gamma_grid : tuple of float or None
        Calibration: steps (> 0) and localisations (>= 0) to try (default 2^-k / (n beta), k = 0..8,
        and ``(gamma,)``).
    calibration_acceptance : float
        Calibration: the MALA acceptance a step must reach (in [0, 1]).
    plateau_rtol : float
        Calibration: relative tolerance of the stationarity and plateau checks (>= 0).
    sweep_fraction : float
        Calibration: the sweep chains' SGLD time as a fraction of the final chains' (> 0).
    reference_eps : float or None
        Calibration: the step at which ``burnin`` and ``draws`` are counted (> 0; default 1 / (8 n beta)).
    estimator : {"plain", "two_temperature", "multi_temperature", "multiplicity_corrected"} or None
        The estimate reported (default: two-temperature when calibrated, plain otherwise; docs/llc.md §4).
        ``"multi_temperature"``: lambda and the multiplicity m from chains at beta x ``temperatures``
        (:mod:`sampling.dynamics.multi_temperature`). ``"multiplicity_corrected"``: the same chains; the
        two-temperature estimate of the two coldest temperatures plus (m - 1) kappa with that m
        (:func:`sampling.corrected_two_temperature`; m = 1 with a warning where the fit is outside the
        expansion's range).
    beta_ratio : float
        beta2 / beta of the two-temperature estimate (in (0, 1)).
    temperatures : tuple of float
        beta_k / beta of the multi-temperature estimate: at least 3 distinct values in (0, 1], one of them
        1 (default 1, 1/2, 1/4, 1/16, 1/64: a wide range of log(n beta_k), docs/llc.md §4b).
    temperature_step : {"scaled", "fixed"}
        Step of the multi-temperature estimate's run at beta_k (same number of steps): ``"scaled"``
        (default) calibrated per temperature, from eps_k = eps beta / beta_k (eps_k n beta_k = eps n beta,
        the calibrated discretisation, at every temperature), halved down to eps while a chain is
        unhealthy or the MALA acceptance falls below that at beta; ``"fixed"``: eps at every temperature
        (smaller discretisation error at the hot end, which the fit reads as multiplicity: docs/llc.md §4b).
    fluctuation_term : bool or None
        Multi-temperature estimate: fit the data set's fluctuation term a sqrt(beta_k) as well
        (:func:`sampling.fit_multi_temperature`; needs at least 4 temperatures). None (default): fitted
        when there are at least 5 temperatures (one degree of freedom left for the chi^2).
    gaussian_correction : bool
        Multi-temperature estimate: add to each plain estimate what SGLD misses in the quadratic
        directions at w* (localisation and step; :func:`sampling.gaussian_correction`; Hessian at w* for
        up to 1,000 parameters).
    multiplicity_level : float
        Level of the one-sided test of m = 1 (in (0, 1)).
    """

    nbeta: float | None = None
    eps: float | None = None
    gamma: float = 1.0
    chains: int | None = None
    burnin: int | None = None
    draws: int | None = None
    batch_size: int | None = None
    noise: float = 1.0
    init_noise: float = 0.0
    divergence_threshold: float | None = None
    escape_tol: float = 1.0
    min_acceptance: float = 0.9
    eps_grid: tuple[float, ...] | None = None
    gamma_grid: tuple[float, ...] | None = None
    calibration_acceptance: float = 0.99
    plateau_rtol: float = 0.01
    sweep_fraction: float = 0.4
    reference_eps: float | None = None
    estimator: str | None = None
    beta_ratio: float = 0.5
    temperatures: tuple[float, ...] = (1.0, 0.5, 0.25, 0.0625, 0.015625)
    temperature_step: str = "scaled"
    fluctuation_term: bool | None = None
    gaussian_correction: bool = True
    multiplicity_level: float = 0.05

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        def optional(name, check, **kw):
            value = getattr(self, name)
            if value is not None:
                put(name, check(name, value, **kw))

        optional("nbeta", check_float, positive=True)
        optional("eps", check_float, positive=True)
        put("gamma", check_float("gamma", self.gamma, minimum=0.0))
        optional("chains", check_int, minimum=1)
        optional("burnin", check_int, minimum=0)
        optional("draws", check_int, minimum=1)
        optional("batch_size", check_int, minimum=1)
        put("noise", check_float("noise", self.noise, minimum=0.0))
        put("init_noise", check_float("init_noise", self.init_noise, minimum=0.0))
        optional("divergence_threshold", check_float, positive=True)
        put("escape_tol", check_float("escape_tol", self.escape_tol, minimum=0.0))
        put("min_acceptance", check_float("min_acceptance", self.min_acceptance, minimum=0.0, maximum=1.0))
        put("eps_grid", _grid("eps_grid", self.eps_grid, positive=True))
        put("gamma_grid", _grid("gamma_grid", self.gamma_grid, positive=False))
        put("calibration_acceptance", check_float("calibration_acceptance", self.calibration_acceptance,
                                                  minimum=0.0, maximum=1.0))
        put("plateau_rtol", check_float("plateau_rtol", self.plateau_rtol, minimum=0.0))
        put("sweep_fraction", check_float("sweep_fraction", self.sweep_fraction, positive=True))
        optional("reference_eps", check_float, positive=True)
        if self.estimator is not None and self.estimator not in ESTIMATORS:
            raise ValueError(f"`estimator` must be one of {ESTIMATORS} or None; got {self.estimator!r}.")
        ratio = check_float("beta_ratio", self.beta_ratio, positive=True)
        if not ratio < 1.0:
            raise ValueError(f"`beta_ratio` must be in (0, 1) (beta2 = beta_ratio x beta, a hotter second run); "
                             f"got {ratio!r}.")
        put("beta_ratio", ratio)
        temps = _grid("temperatures", self.temperatures, positive=True)
        if len(temps) < 3 or max(temps) != 1.0:
            raise ValueError("`temperatures` must be at least 3 distinct ratios beta_k / beta in (0, 1], one of them "
                             f"1; got {self.temperatures!r}.")
        put("temperatures", tuple(sorted(temps, reverse=True)))
        if self.temperature_step not in TEMPERATURE_STEPS:
            raise ValueError(f"`temperature_step` must be one of {TEMPERATURE_STEPS}; got {self.temperature_step!r}.")
        if not isinstance(self.gaussian_correction, bool):
            raise ValueError(f"`gaussian_correction` must be True or False; got {self.gaussian_correction!r}.")
        if self.fluctuation_term is None:
            put("fluctuation_term", len(self.temperatures) >= 5)
        if not isinstance(self.fluctuation_term, bool):
            raise ValueError(f"`fluctuation_term` must be True, False or None; got {self.fluctuation_term!r}.")
        if self.fluctuation_term and len(self.temperatures) < 4:
            raise ValueError("`fluctuation_term` needs at least 4 `temperatures` (four coefficients); "
                             f"got {self.temperatures!r}.")
        put("multiplicity_level", check_float("multiplicity_level", self.multiplicity_level, positive=True,
                                              maximum=1.0))

    def to_dict(self) -> dict:
        """The fields as a JSON-able dict (grids as lists)."""
        out = asdict(self)
        for name in ("eps_grid", "gamma_grid", "temperatures"):
            if out[name] is not None:
                out[name] = list(out[name])
        return out
