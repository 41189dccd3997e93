"""The zero-loss regular polygons of the point-input potential (memorization; docs/failure.md).

With every input at mu = 1 (``input_dist="point"``, :func:`kgon.potential`) the TMS is the memorization
setting of Henighan et al. (2023), "Superposition, Memorization, and Double Descent": T normalized,
nearly orthogonal training examples in an r = 2 latent space behave like c = T features, each seen
only at mu = 1. The loss is

    L(W, b) = (1/c) sum_{i,j} (delta_ij - ReLU(W_j . W_i + b_j))^2,

zero exactly when every own output W_i . W_i + b_i is 1 and every other pre-activation
W_j . W_i + b_j is <= 0. A regular k-gon of radius R (vertex m at angle 2 pi m / k) with every live
bias b has own pre-activation R^2 + b and largest cross pre-activation R^2 cos(2 pi / k) + b (the two
neighbours), so it reconstructs its k inputs exactly iff b = 1 - R^2 and R^2 (1 - cos(2 pi / k)) >= 1:
a half-line of zero-loss polygons, starting at

    R^2 = 1 / (1 - cos(2 pi / k)),   b = -R^2 cos(2 pi / k),

where the neighbours' pre-activations are exactly 0 (a kink of L: the loss is C^1, not C^2, there).
Every point of the half-line is a critical point (global minimum when k = c). With c > k features
the other c - k columns are dead: a dead feature with b <= 0 costs 1/c (its own input is never
reconstructed), with the positive bias b = 1/c (the mean of its target over the c inputs) it costs
(c - 1)/c^2. For k >= 4 the live bias is <= 0, so the dead features' inputs (h = 0) switch every
live output off and the polygon is a critical point with loss (c - k - sigma+)/c + sigma+ (c - 1)/c^2
(:func:`memorization_loss`); for k = 3 < c the live bias 1/3 > 0 lets the dead inputs fire the live
outputs, and this construction is not a critical point.
"""

from __future__ import annotations

import math

import numpy as np

from kgon.critical.search import GRAD_TOL, gradient_norm
from kgon.evaluators import potential_numpy
from kgon.polygons import KgonPoint, KgonResult
from kgon.validation import check_int

__all__ = ["memorization_kgon", "memorization_loss", "memorization_polygon", "memorization_radius"]


def memorization_radius(k: int) -> float:
    """R = (1 - cos(2 pi / k))^(-1/2), the smallest zero-loss radius of the point-input k-gon.

    At this radius a regular k-gon with bias 1 - R^2 reconstructs all k point inputs exactly and its
    neighbours' pre-activations are exactly 0 (module docstring)."""
    k = check_int("k", k, minimum=3)
    return 1.0 / math.sqrt(1.0 - math.cos(2 * math.pi / k))


def memorization_polygon(k: int, c: int | None = None, *, r: int = 2, sigma_plus: int = 0,
                         radius: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(W, b) of the zero-loss regular k-gon of the point-input potential (module docstring).

    Parameters
    ----------
    k : int
        Number of polygon vertices (live columns), k >= 3.
    c : int, optional
        Number of features, c >= k (default k). Columns k..c-1 are dead.
    r : int, keyword-only
        Hidden dimension (>= 2); the polygon lies in the first two hidden coordinates.
    sigma_plus : int, keyword-only
        Dead columns with the positive bias 1/c (0 <= sigma_plus <= c - k); the other dead columns get
        the free bias -1/(2c) (any b <= 0 is equivalent).
    radius : float, keyword-only
        R >= :func:`memorization_radius` (default: that smallest radius). Every live bias is 1 - R^2, so
        every own output is exactly 1.

    Returns
    -------
    (W, b)
        ``W`` of shape (r, c): vertex m at R (cos 2 pi m / k, sin 2 pi m / k); ``b`` of shape (c,). The
        point-input loss is (c - k - sigma_plus)/c + sigma_plus (c - 1)/c^2, all from the dead features
        (:func:`memorization_loss`); for k = 3 < c this is not a critical point (module docstring).
    """
    k = check_int("k", k, minimum=3)
    c = k if c is None else check_int("c", c, minimum=k)
    r = check_int("r", r, minimum=2)
    sigma_plus = check_int("sigma_plus", sigma_plus, minimum=0, maximum=c - k)
    r_min = memorization_radius(k)
    if radius is None:
        radius = r_min
    elif not (isinstance(radius, (int, float)) and math.isfinite(radius) and radius >= r_min * (1 - 1e-12)):
        raise ValueError(f"`radius` must be a number >= {r_min!r} (the smallest zero-loss radius at k = {k}); "
                         f"got {radius!r}.")
    ang = 2 * np.pi * np.arange(k) / k
    W = np.zeros((r, c))
    W[0, :k] = radius * np.cos(ang)
    W[1, :k] = radius * np.sin(ang)
    W[np.abs(W) < 1e-15 * radius] = 0.0
    b = np.full(c, -1.0 / (2 * c))
    # the smallest radius: b = -R^2 cos(2 pi / k), the form that makes the neighbours' pre-activation 0
    b[:k] = -radius**2 * math.cos(2 * math.pi / k) if radius == r_min else 1.0 - radius**2
    b[k : k + sigma_plus] = 1.0 / c
    return W, b


def memorization_loss(k: int, c: int | None = None, *, sigma_plus: int = 0) -> float:
    """The point-input loss of :func:`memorization_polygon`, (c - k - sigma_plus)/c + sigma_plus (c - 1)/c^2.

    Each dead feature with b <= 0 costs 1/c, with b = 1/c it costs (c - 1)/c^2; the live ones 0."""
    k = check_int("k", k, minimum=3)
    c = k if c is None else check_int("c", c, minimum=k)
    sigma_plus = check_int("sigma_plus", sigma_plus, minimum=0, maximum=c - k)
    return (c - k - sigma_plus) / c + sigma_plus * (c - 1) / c**2


def memorization_kgon(k: int, c: int, *, r: int = 2, sigma_plus: int = 0) -> KgonResult:
    """The zero-loss regular k^{sigma+}-gon of the point-input potential, as a :class:`kgon.KgonResult`.

    The counterpart of :func:`kgon.kgon` for ``input_dist="point"`` (``tmsphase kgon --input-dist point``).

    The solution is :func:`memorization_polygon` at its smallest radius, the end of a half-line of
    critical points with the same loss (module docstring); certified on the full point-input potential
    (``|grad L|`` <= 1e-9). For k = 3 < c there is no such polygon at the smallest radius (``exists`` False,
    with the reason).
    """
    k = check_int("k", k, minimum=3)
    c = check_int("c", c, minimum=k)
    r = check_int("r", r, minimum=2)
    sigma_plus = check_int("sigma_plus", sigma_plus, minimum=0, maximum=c - k)
    W, b = memorization_polygon(k, c, r=r, sigma_plus=sigma_plus)
    gnorm = gradient_norm(W, b, input_dist="point")
    if gnorm > GRAD_TOL:
        reason = (f"the zero-loss {k}-gon of smallest radius has the positive bias {b[0]:.6g}, so the {c - k} dead "
                  f"features' inputs fire its outputs (|grad L| = {gnorm:.3g}): not a critical point")
        return KgonResult(k, c, r, sigma_plus, 0, False, reason, ())
    W.setflags(write=False)
    b.setflags(write=False)
    name = f"{k}" + "+" * sigma_plus
    point = KgonPoint(name, k, c, r, sigma_plus, 0, W, b, memorization_radius(k), float(b[0]),
                      float(potential_numpy(W, b, input_dist="point")), gnorm, (), "point inputs, zero-loss boundary")
    return KgonResult(k, c, r, sigma_plus, 0, True, None, (point,))
