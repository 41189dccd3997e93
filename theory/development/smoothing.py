"""Smoothing of noisy curves and their slopes: Gaussian-process regression and a Gaussian kernel smoother.

Both smoothers act on samples (x_k, y_k), typically x = log10(t) of checkpoint steps t and y an LLC
estimate, and return the smoothed curve *and its derivative* dy/dx in closed form (no finite
differences of noisy values).

**Gaussian process** (seed 002, Hoogland et al. 2024, Appendix A.5: "we first fit a Gaussian process
with some smoothing to the LLC-over-time curve"). Squared-exponential kernel
k(x, x') = s^2 exp(-(x - x')^2 / (2 l^2)) with length scale l = ``bandwidth``, a constant mean (the
sample mean), noise variance sigma^2 (default: median(Delta y^2) / (2 * 0.4549), the median squared
first difference of y over its value for white noise, a robust estimate that ignores a slow trend) and
signal variance s^2 = max(var(y) - sigma^2, ``signal_floor`` var(y)) (what is left of the variance after
the noise). Posterior mean and its derivative:

    m(x) = ybar + k(x, X) alpha,   m'(x) = sum_k -(x - x_k) / l^2 k(x, x_k) alpha_k,
    alpha = (K + sigma^2 I)^{-1} (y - ybar).

**Kernel smoother** (Nadaraya-Watson) with Gaussian weights w_k(x) = exp(-(x - x_k)^2 / (2 h^2)),
h = ``bandwidth``: m(x) = sum w_k y_k / sum w_k, and m'(x) by the quotient rule.

The bandwidth is in the units of x (decades of t when x = log10 t); it sets the shortest feature the
smoothed curve can follow. At least :data:`MIN_POINTS` finite samples are required.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["MIN_POINTS", "SmoothedCurve", "smooth_curve"]

MIN_POINTS = 5
"""Fewest finite samples a smoother accepts (a slope needs a few points per bandwidth)."""

_METHODS = ("gp", "kernel")
_MEDIAN_CHI2_1 = 0.454936423119572  # median of chi^2 with one degree of freedom


@dataclass(frozen=True, eq=False)
class SmoothedCurve:
    """A smoothed curve y(x) and its slope dy/dx at the sample positions ``x``.

    Attributes
    ----------
    x : ndarray (K,)
        Sample positions (as given, non-finite samples included).
    y : ndarray (K,)
        Raw values.
    smooth : ndarray (K,)
        Smoothed values at ``x``.
    slope : ndarray (K,)
        d smooth / dx at ``x``.
    config : dict
        method, bandwidth, noise (the GP's sigma^2, None for the kernel smoother), points used.
    """

    x: np.ndarray
    y: np.ndarray
    smooth: np.ndarray
    slope: np.ndarray
    config: dict = field(default_factory=dict)


def _positive(name, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not math.isfinite(value) \
            or value <= 0:
        raise ValueError(f"`{name}` must be a positive finite number; got {value!r}.")
    return float(value)


def smooth_curve(x, y, *, bandwidth: float = 0.25, method: str = "gp", noise: float | None = None,
                 signal_floor: float = 0.05) -> SmoothedCurve:
    """Smooth y(x) and differentiate it (module docstring for the formulas).

    Parameters
    ----------
    x, y : array_like (K,)
        Samples; non-finite y are ignored in the fit (the curve is still evaluated there).
    bandwidth : float, keyword-only
        GP length scale or kernel width, in units of x (default 0.25).
    method : {"gp", "kernel"}, keyword-only
        Gaussian-process posterior mean (default, as in seed 002) or Nadaraya-Watson kernel smoother.
    noise : float, keyword-only
        GP noise variance sigma^2; default from the first differences (module docstring).
    signal_floor : float, keyword-only
        Smallest GP signal variance as a fraction of var(y) (default 0.05).

    Returns
    -------
    SmoothedCurve

    Raises
    ------
    ValueError
        Fewer than :data:`MIN_POINTS` finite samples, mismatched shapes, bad hyperparameters.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or y.shape != x.shape:
        raise ValueError(f"`x` and `y` must be 1-D arrays of the same length; got shapes {x.shape}, {y.shape}.")
    h = _positive("bandwidth", bandwidth)
    if method not in _METHODS:
        raise ValueError(f"`method` must be one of {list(_METHODS)}; got {method!r}.")
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < MIN_POINTS:
        raise ValueError(f"too few checkpoints for the smoother: {int(ok.sum())} finite value(s), need at least "
                         f"{MIN_POINTS}.")
    xs, ys = x[ok], y[ok]
    d = x[:, None] - xs[None, :]
    w = np.exp(-0.5 * (d / h) ** 2)
    sigma2 = None
    if method == "kernel":
        S0 = w.sum(1)
        S1 = (w * ys).sum(1)
        dw = -d / h ** 2 * w
        smooth = S1 / S0
        slope = ((dw * ys).sum(1) * S0 - S1 * dw.sum(1)) / S0 ** 2
    else:
        ybar = float(ys.mean())
        var = float(ys.var()) or 1.0
        if noise is None:
            diffs = np.diff(ys)
            sigma2 = float(np.median(diffs ** 2)) / (2.0 * _MEDIAN_CHI2_1)
            sigma2 = max(sigma2, 1e-10 * var)
        else:
            sigma2 = _positive("noise", noise)
        s2 = max(var - sigma2, signal_floor * var)
        dd = xs[:, None] - xs[None, :]
        Kxx = s2 * np.exp(-0.5 * (dd / h) ** 2) + sigma2 * np.eye(xs.size)
        alpha = np.linalg.solve(Kxx, ys - ybar)
        k = s2 * w
        smooth = ybar + k @ alpha
        slope = (-d / h ** 2 * k) @ alpha
    return SmoothedCurve(x=x, y=y, smooth=smooth, slope=slope,
                         config={"method": method, "bandwidth": h, "noise": sigma2, "points": int(ok.sum())})
