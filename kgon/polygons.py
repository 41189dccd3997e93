"""Regular k-gon critical points of the TMS potential (docs/zoo.md; Chen et al. 2023, §4).

A k^{sigma+, sigma-}-gon in r >= 2 hidden dimensions has k live columns of equal length l at the
vertices of a regular k-gon (angles 2 pi m / k in the first two hidden coordinates); the c - k other
columns are zero ("dead"), sigma+ of them with the positive bias 1/(2c) and the rest with a negative
(free) bias; of the live columns, sigma- have a bias that switches their own output off
(b <= -l^2, a free direction) and the others share one bias b.

Reduction. Writing u = l^2 and a_ij = u cos(2 pi (i - j) / k), every "on" output sees the same
inputs, so the potential restricted to the family is

    c L(u, b) = (k - sigma-) [ sum_m T(u cos(2 pi m/k), b, delta_m0) + (c - k) ReLU(b)^2 ]
                + sigma-/3 + sigma+ (c beta^2 - beta + 1/3) + (c - k - sigma+)/3,   beta = 1/(2c).

On each activation chamber (which pair terms have their kink inside [0, 1]) this is a rational
function of (u, b); sympy builds it from the pair-term branches, clears denominators and eliminates u
with an exact resultant (cosines rounded to 40 digits), so *every* stationary point of the chamber's
analytic continuation is found; roots inside the closed chamber are polished by Newton's method in
float64 and then certified on the full potential (|grad L| <= 1e-9). The reduction only makes the
gradient vanish along the family; components that break the polygon's symmetry (for example when an
"off" vertex's neighbours still interfere) are checked by the certification, and a point that fails it
is reported as a rejection, never returned.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import lru_cache

import jax.numpy as jnp
import numpy as np
import sympy as sp

from kgon.config import require_x64
from kgon.evaluators import potential_and_grad_jax, potential_numpy
from kgon.symbolic import DELTA, A, B, pair_term_branches
from kgon.validation import check_int

__all__ = ["KgonPoint", "KgonResult", "kgon", "kgon_params", "GRAD_TOL"]

GRAD_TOL = 1e-9
_COS_DIGITS = 40
_U, _B = sp.symbols("u b", real=True)


@dataclass(frozen=True)
class KgonPoint:
    """A certified regular k-gon critical point.

    Attributes
    ----------
    name : str
        ``k`` + "+" * sigma_plus + "-" * sigma_minus, e.g. "5+", "4++-".
    k, c, r, sigma_plus, sigma_minus : int
        Polygon size, number of features, hidden dimension and the two bias counts.
    W : ndarray, shape (r, c)
        Columns 0..k-1 are the polygon (vertex m at angle 2 pi m / k), the rest are zero.
    b : ndarray, shape (c,)
    length : float
        l*, the common length of the live columns.
    bias_value : float
        b*, the common bias of the live columns whose output is on.
    loss : float
        L(W, b), closed form.
    grad_norm : float
        Euclidean norm of the full gradient of L at (W, b) (<= GRAD_TOL).
    off_vertices : tuple of int
        Which polygon vertices carry the output-off bias (sigma- of them).
    chamber : str
        The activation chamber the reduced solution lies in.
    """

    name: str
    k: int
    c: int
    r: int
    sigma_plus: int
    sigma_minus: int
    W: np.ndarray
    b: np.ndarray
    length: float
    bias_value: float
    loss: float
    grad_norm: float
    off_vertices: tuple[int, ...] = ()
    chamber: str = ""

    def to_dict(self) -> dict:
        """JSON-able dict with the keys of ``tmsphase kgon --json``."""
        return {
            "name": self.name,
            "k": self.k,
            "c": self.c,
            "r": self.r,
            "sigma_plus": self.sigma_plus,
            "sigma_minus": self.sigma_minus,
            "length": self.length,
            "bias_value": self.bias_value,
            "loss": self.loss,
            "grad_norm": self.grad_norm,
            "off_vertices": list(self.off_vertices),
            "W": self.W.tolist(),
            "b": self.b.tolist(),
        }


@dataclass(frozen=True)
class KgonResult:
    """Outcome of :func:`kgon`: the certified solutions (sorted by loss) or why there are none.

    ``rejected`` lists stationary points of the reduced problem that are *not* critical points of the
    full potential, as ``(length, bias_value, off_vertices, grad_norm)``.
    """

    k: int
    c: int
    r: int
    sigma_plus: int
    sigma_minus: int
    exists: bool
    reason: str | None
    solutions: tuple[KgonPoint, ...]
    rejected: tuple[tuple[float, float, tuple[int, ...], float], ...] = field(default=())

    def to_dict(self) -> dict:
        """JSON-able: the arguments (k, c, r, sigma_plus, sigma_minus), exists, solutions (and reason)."""
        out = {
            "k": self.k, "c": self.c, "r": self.r, "sigma_plus": self.sigma_plus, "sigma_minus": self.sigma_minus,
            "exists": self.exists, "solutions": [s.to_dict() for s in self.solutions],
        }
        if not self.exists:
            out["reason"] = self.reason
        return out


def _cosines(k: int) -> list[sp.Rational]:
    """cos(2 pi m / k), m = 0..k-1, as rationals accurate to _COS_DIGITS digits (exact 0, +-1)."""
    out = []
    for m in range(k):
        val = sp.cos(2 * sp.pi * sp.Rational(m, k))
        if val.is_rational:
            out.append(sp.Rational(val))
        else:
            out.append(sp.Rational(str(sp.N(val, _COS_DIGITS + 5))).limit_denominator(10**_COS_DIGITS))
    return out


def _chambers(k: int):
    """Yield (label, side, branch_of_m, lower, upper) activation chambers of the on-vertex outputs.

    side -1 (b < 0): rho = -b/u in [lower, upper); term m is "mid_pos" if cos_m >= upper else "none".
    side +1 (b > 0): rho = b/u in [lower, upper); term m with cos_m < 0 is "full" if |cos_m| <= lower
    else "mid_neg"; terms with cos_m >= 0 are "full".
    """
    cos = [float(x) for x in _cosines(k)]
    pos = sorted({round(x, 12) for x in cos if x > 1e-12}, reverse=True)
    for q, top in enumerate(pos):
        low = pos[q + 1] if q + 1 < len(pos) else 0.0
        branch = ["mid_pos" if x >= top - 1e-12 else "none" for x in cos]
        yield (f"b<0, {low:.4g} <= -b/l^2 < {top:.4g}", -1, branch, low, top)
    neg = sorted({round(-x, 12) for x in cos if x < -1e-12})
    edges = [0.0] + neg
    for q, low in enumerate(edges):
        up = edges[q + 1] if q + 1 < len(edges) else math.inf
        branch = ["full" if (x >= -1e-12 or -x <= low + 1e-12) else "mid_neg" for x in cos]
        yield (f"b>0, {low:.4g} <= b/l^2 < {up:.4g}", +1, branch, low, up)


@lru_cache(maxsize=None)
def _reduced_expr(k: int, c: int, n_on: int, sigma_plus: int, chamber_index: int
                  ) -> tuple[sp.Expr, str, int, float, float]:
    """c * L(u, b) on one chamber, as a sympy expression in (u, b)."""
    label, side, branch, low, up = list(_chambers(k))[chamber_index]
    br = pair_term_branches()
    cos = _cosines(k)
    on_sum = sum(
        br[branch[m]].subs({A: _U * cos[m], B: _B, DELTA: int(m == 0)}, simultaneous=True) for m in range(k)
    )
    if side > 0:
        on_sum += (c - k) * _B**2
    beta = sp.Rational(1, 2 * c)
    const = sp.Rational(k - n_on, 3) + sigma_plus * (c * beta**2 - beta + sp.Rational(1, 3))
    const += sp.Rational(c - k - sigma_plus, 3)
    return n_on * on_sum + const, label, side, low, up


def _stationary_points(expr: sp.Expr) -> list[tuple[float, float]]:
    """All real (u > 0, b) with d expr/du = d expr/db = 0, via an exact resultant in u."""
    gu = sp.together(sp.diff(expr, _U))
    gb = sp.together(sp.diff(expr, _B))
    pu = sp.Poly(sp.numer(gu), _U, _B)
    pb = sp.Poly(sp.numer(gb), _U, _B)
    # strip powers of u (u > 0) and common factors
    pu = sp.Poly(sp.factor_terms(pu.as_expr()) / _U ** min(m[0] for m in pu.monoms()), _U, _B)
    pb = sp.Poly(sp.factor_terms(pb.as_expr()) / _U ** min(m[0] for m in pb.monoms()), _U, _B)
    # a common factor is a curve of stationary points of the continuation (e.g. u + b = 0, where the
    # on vertices stop firing): divide it out, the rest has isolated solutions
    g = sp.gcd(pu, pb)
    if g.total_degree() > 0:
        pu, pb = sp.div(pu, g)[0], sp.div(pb, g)[0]
    if pb.total_degree() <= 0 or pu.total_degree() <= 0:
        return []
    res = sp.Poly(sp.resultant(pu.as_expr(), pb.as_expr(), _U), _B)
    if res.is_zero or res.degree() <= 0:
        return []
    b_roots = [float(rt) for rt in res.real_roots()]
    cands: list[tuple[float, float]] = []
    for b0 in b_roots:
        pu_b = sp.Poly(pu.as_expr().subs(_B, sp.Rational(repr(b0))), _U)
        if pu_b.is_zero or pu_b.degree() <= 0:
            continue
        coeffs = pu_b.all_coeffs()
        scale = max(abs(x) for x in coeffs)
        fc = np.trim_zeros(np.array([float(x / scale) for x in coeffs]), "f")
        if fc.size < 2 or not np.all(np.isfinite(fc)):
            continue
        for u0 in np.roots(fc):
            if abs(u0.imag) < 1e-6 * max(1.0, abs(u0.real)) and u0.real > 1e-12:
                cands.append((u0.real, b0))
    return cands


@lru_cache(maxsize=None)
def _derivatives(expr: sp.Expr):
    g = [sp.diff(expr, v) for v in (_U, _B)]
    H = [[sp.diff(gi, v) for v in (_U, _B)] for gi in g]
    return sp.lambdify((_U, _B), g, "numpy"), sp.lambdify((_U, _B), H, "numpy")


def _newton(expr: sp.Expr, u: float, b: float, steps: int = 50) -> tuple[float, float, float]:
    """Newton's method on grad L(u, b) = 0; returns (u, b, |grad|) (|grad| scaled by max(1, u))."""
    fg, fH = _derivatives(expr)
    x = np.array([u, b], dtype=np.float64)
    with np.errstate(all="ignore"):
        for _ in range(steps):
            gv = np.asarray(fg(*x), dtype=np.float64)
            if not np.all(np.isfinite(gv)) or np.linalg.norm(gv) < 1e-15:
                break
            try:
                step = np.linalg.solve(np.asarray(fH(*x), dtype=np.float64), gv)
            except np.linalg.LinAlgError:
                break
            if not np.all(np.isfinite(step)):
                break
            x = x - step
            if np.linalg.norm(step) < 1e-15 * max(1.0, np.linalg.norm(x)):
                break
        gv = np.asarray(fg(*x), dtype=np.float64)
    gnorm = float(np.linalg.norm(gv)) if np.all(np.isfinite(gv)) else math.inf
    return float(x[0]), float(x[1]), gnorm


def _in_chamber(u: float, b: float, side: int, low: float, up: float, tol: float = 1e-9) -> bool:
    if u <= 0:
        return False
    rho = -b / u if side < 0 else b / u
    if side < 0 and (b > tol or rho > 1 - 1e-6):
        return False  # the on vertices must fire: l^2 + b > 0
    if side > 0 and b < -tol:
        return False
    return low - tol <= rho <= up + tol


def _off_subsets(k: int, sigma_minus: int) -> list[tuple[int, ...]]:
    """Subsets of sigma_minus polygon vertices, one per orbit of the dihedral group D_k."""
    seen, out = set(), []
    for sub in itertools.combinations(range(k), sigma_minus):
        images = []
        for s in range(k):
            for refl in (1, -1):
                images.append(tuple(sorted((refl * v + s) % k for v in sub)))
        key = min(images)
        if key not in seen:
            seen.add(key)
            out.append(sub)
    return out


def kgon_params(
    k: int,
    c: int,
    length: float,
    bias_value: float,
    *,
    sigma_plus: int = 0,
    off_vertices: tuple[int, ...] = (),
    r: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Build (W, b) of a k^{sigma+, sigma-}-gon with given length and on-bias.

    Vertex m sits at l (cos 2 pi m/k, sin 2 pi m/k) in the first two hidden coordinates. Dead columns
    k..k+sigma_plus-1 get the bias 1/(2c); the remaining dead columns the free negative bias -1/(2c);
    ``off_vertices`` get the free output-off bias -3/2 l^2 (any b <= -l^2 is equivalent).
    """
    W = np.zeros((r, c))
    ang = 2 * np.pi * np.arange(k) / k
    W[0, :k] = length * np.cos(ang)
    if r >= 2:
        W[1, :k] = length * np.sin(ang)
    b = np.full(c, -1.0 / (2 * c))
    b[:k] = bias_value
    b[k : k + sigma_plus] = 1.0 / (2 * c)
    for m in off_vertices:
        b[m] = -1.5 * length**2
    # cos/sin of exact multiples of pi/2 are rounded: clean tiny entries
    W[np.abs(W) < 1e-15 * max(1.0, abs(length))] = 0.0
    return W, b


def kgon(k: int, c: int, *, sigma_plus: int = 0, sigma_minus: int = 0, r: int = 2) -> KgonResult:
    """Find every regular k^{sigma+, sigma-}-gon critical point of the TMS potential.

    Parameters
    ----------
    k : int
        Number of polygon vertices (live columns), 2 <= k <= c.
    c : int
        Number of features, c >= 2.
    sigma_plus : int, keyword-only
        Dead columns with positive bias 1/(2c); 0 <= sigma_plus <= c - k.
    sigma_minus : int, keyword-only
        Live columns whose own output is switched off (b <= -l^2); 0 <= sigma_minus <= k.
    r : int, keyword-only
        Hidden dimension (>= 2; r = 1 allows only k = 2).

    Returns
    -------
    KgonResult
        ``exists`` and the certified solutions sorted by loss; if none, ``reason`` says why.

    Notes
    -----
    Method in the module docstring. Reference: Chen et al. (2023), "Dynamical versus Bayesian phase
    transitions in a toy model of superposition", §4 (k-gon critical points).
    """
    require_x64("kgon.kgon")
    c = check_int("c", c, minimum=2)
    k = check_int("k", k, minimum=2, maximum=c)
    r = check_int("r", r, minimum=1)
    if r == 1 and k > 2:
        raise ValueError(f"`r` must be >= 2 for a regular k-gon with k >= 3; got r = 1 with k = {k}.")
    sigma_plus = check_int("sigma_plus", sigma_plus, minimum=0, maximum=c - k)
    sigma_minus = check_int("sigma_minus", sigma_minus, minimum=0, maximum=k)

    def empty(reason: str, rejected=()) -> KgonResult:
        return KgonResult(k, c, r, sigma_plus, sigma_minus, False, reason, (), tuple(rejected))

    n_on = k - sigma_minus
    if n_on == 0:
        return empty(
            "all k live columns are switched off (sigma_minus = k): the loss does not depend on their "
            "length, so there is no isolated critical point, only a flat family"
        )
    name = f"{k}" + "+" * sigma_plus + "-" * sigma_minus
    reduced: list[tuple[float, float, str]] = []
    for idx, _ in enumerate(_chambers(k)):
        expr, label, side, low, up = _reduced_expr(k, c, n_on, sigma_plus, idx)
        for u0, b0 in _stationary_points(expr):
            u1, b1, gnorm = _newton(expr, u0, b0)
            if gnorm < 1e-10 and _in_chamber(u1, b1, side, low, up):
                reduced.append((math.sqrt(u1), b1, label))
    # deduplicate solutions found from neighbouring chamber closures
    uniq: list[tuple[float, float, str]] = []
    for sol in sorted(reduced):
        if not any(abs(sol[0] - q[0]) < 1e-7 and abs(sol[1] - q[1]) < 1e-7 for q in uniq):
            uniq.append(sol)
    if not uniq:
        return empty(
            f"the reduced potential L(l, b) of the {name}-gon at c = {c} has no stationary point with "
            "l > 0 inside any activation chamber where the on vertices fire"
        )
    solutions, rejected = [], []
    for length, bias, label in uniq:
        for off in _off_subsets(k, sigma_minus):
            W, b = kgon_params(k, c, length, bias, sigma_plus=sigma_plus, off_vertices=off, r=r)
            _, (gW, gb) = potential_and_grad_jax(jnp.asarray(W), jnp.asarray(b))
            gnorm = float(np.sqrt(np.sum(np.asarray(gW) ** 2) + np.sum(np.asarray(gb) ** 2)))
            if gnorm <= GRAD_TOL:
                W.setflags(write=False)
                b.setflags(write=False)
                solutions.append(
                    KgonPoint(
                        name, k, c, r, sigma_plus, sigma_minus, W, b, length, bias,
                        float(potential_numpy(W, b)), gnorm, tuple(off), label,
                    )
                )
            else:
                rejected.append((length, bias, tuple(off), gnorm))
    if not solutions:
        worst = min(g for *_, g in rejected)
        return empty(
            f"the reduced problem has {len(uniq)} stationary point(s), but none is a critical point of the "
            f"full potential (smallest full gradient norm {worst:.3g} > {GRAD_TOL:g}); the off vertices' "
            "neighbours still interfere, which breaks the polygon's symmetry",
            rejected,
        )
    solutions.sort(key=lambda s: s.loss)
    return KgonResult(k, c, r, sigma_plus, sigma_minus, True, None, tuple(solutions), tuple(rejected))
