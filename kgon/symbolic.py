"""Symbolic derivation of the TMS potential in the high-sparsity limit.

The population loss of the tied ReLU autoencoder f(x) = ReLU(W^T W x + b) with inputs x = mu e_i,
i ~ Uniform{1..c}, mu ~ Uniform[0, 1] is (docs/index.md, Chen et al. 2023, the TMS potential)

    L(W, b) = (1/c) sum_i sum_j T(a_ji, b_j, delta_ij),
    T(a, b, delta) = int_0^1 (mu*delta - ReLU(a*mu + b))^2 dmu,     a_ij = W_i . W_j .

Writing g(mu) = a*mu + b for the pre-activation,

    T = delta^2/3 + int_{g > 0} ( g(mu)^2 - 2*delta*mu*g(mu) ) dmu,

so the only case analysis is the active set {mu in [0, 1] : g(mu) > 0}: all of [0, 1] ("full"), none
of it ("none"), [t, 1] with a > 0 ("mid_pos") or [0, t] with a < 0 ("mid_neg"), where t = -b/a is
the kink. sympy integrates each case; the mid_pos case is factored in s = a + b (the pre-activation
at mu = 1) so that it stays accurate when the kink approaches mu = 1.

Feature importance I_j (weights on the output coordinates) and input scales s_i (x = s_i mu e_i)
enter only through the pair terms: L = (1/c) sum_{i,j} I_j T(s_i a_ji, b_j, s_i delta_ij), since
(s_i mu delta_ij - ReLU(a_ji s_i mu + b_j))^2 is the integrand of T with a -> s_i a_ji, delta -> s_i delta_ij.

Point inputs (``input_dist="point"``): every input at mu = 1, x = e_i, the memorization setting of
Henighan et al. (2023) with T = c normalized, nearly orthogonal training examples (docs/failure.md,
Memorization). The integral over mu becomes its value at mu = 1, so the pair term is

    T_point(a, b, delta) = (delta - ReLU(a + b))^2,

with two cases: a + b > 0 ("on") and a + b <= 0 ("off"). Importance and input scales enter as above.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from kgon.validation import check_rc

__all__ = [
    "A",
    "B",
    "DELTA",
    "BRANCH_NAMES",
    "INPUT_DISTS",
    "POINT_BRANCH_NAMES",
    "check_input_dist",
    "pair_term",
    "pair_term_branches",
    "pair_term_conditions",
    "point_pair_term_branches",
    "potential_expr",
]

A, B, DELTA = sp.symbols("a b delta", real=True)
_MU, _S = sp.symbols("mu s", real=True)

BRANCH_NAMES = ("full", "none", "mid_pos", "mid_neg")

POINT_BRANCH_NAMES = ("on", "off")

INPUT_DISTS = ("uniform", "point")
"""The input distributions of the potential: mu ~ Uniform[0, 1] (the TMS) or every input at mu = 1."""


def check_input_dist(value) -> str:
    """Return ``value`` if it is one of :data:`INPUT_DISTS`, else raise ``ValueError`` naming it."""
    if not isinstance(value, str) or value not in INPUT_DISTS:
        raise ValueError(f"`input_dist` must be one of {', '.join(repr(v) for v in INPUT_DISTS)}; got {value!r}.")
    return value


@lru_cache(maxsize=None)
def point_pair_term_branches() -> dict[str, sp.Expr]:
    """The point-input pair term T_point(a, b, delta) = (delta - ReLU(a + b))^2 on its two cases.

    Returns
    -------
    dict
        ``{"on": (delta - a - b)^2 (where a + b > 0), "off": delta^2 (where a + b <= 0)}``.
    """
    # kept as a square (not expanded): no cancellation, and the term is >= 0 in floating point
    return {"on": ((DELTA * _MU - (A * _MU + B)) ** 2).subs(_MU, 1), "off": DELTA**2}


@lru_cache(maxsize=None)
def pair_term_branches() -> dict[str, sp.Expr]:
    """Closed form of T(a, b, delta) on each activation case, integrated by sympy.

    Returns
    -------
    dict
        ``{"full", "none", "mid_pos", "mid_neg"} -> sympy expression in (a, b, delta)``; see
        :func:`pair_term_conditions` for where each holds.
    """
    g = A * _MU + B
    extra = g**2 - 2 * DELTA * _MU * g
    base = sp.integrate((DELTA * _MU) ** 2, (_MU, 0, 1))
    kink = -B / A
    full = sp.factor(sp.integrate(extra, (_MU, 0, 1)))
    mid_pos_s = sp.factor(sp.expand(sp.integrate(extra, (_MU, kink, 1)).subs(B, _S - A)))
    mid_pos = mid_pos_s.subs(_S, A + B)
    mid_neg = sp.factor(sp.integrate(extra, (_MU, 0, kink)))
    return {
        "full": base + full,
        "none": base,
        "mid_pos": base + mid_pos,
        "mid_neg": base + mid_neg,
    }


def pair_term_conditions() -> dict[str, sp.Boolean]:
    """Where each branch of :func:`pair_term_branches` applies.

    The kink t = -b/a lies strictly inside (0, 1) exactly in the two ``mid`` cases; on the
    boundaries between cases the branches agree (T is continuous, and C^1 except at a = b = 0 with
    delta = 1).
    """
    return {
        "mid_pos": sp.And(A > 0, B < 0, A + B > 0),
        "mid_neg": sp.And(A < 0, B > 0, A + B < 0),
        "full": sp.Or(sp.And(A >= 0, B >= 0), sp.And(A < 0, A + B >= 0)),
        "none": sp.Or(sp.And(A >= 0, A + B <= 0), sp.And(A < 0, B <= 0)),
    }


@lru_cache(maxsize=None)
def pair_term(input_dist: str = "uniform") -> sp.Piecewise:
    """The pair term T(a, b, delta) = int_0^1 (mu*delta - ReLU(a*mu + b))^2 dmu as a sympy Piecewise.

    Symbols are ``kgon.symbolic.A, B, DELTA`` (named ``a, b, delta``). With ``input_dist="point"`` the
    point-input term (delta - ReLU(a + b))^2 (module docstring).

    Examples
    --------
    >>> import sympy as sp
    >>> from kgon import pair_term
    >>> from kgon.symbolic import A, B, DELTA
    >>> sp.nsimplify(pair_term().subs({A: 1, B: 0, DELTA: 1}))
    0
    """
    if check_input_dist(input_dist) == "point":
        br = point_pair_term_branches()
        return sp.Piecewise((br["on"], A + B > 0), (br["off"], True))
    br = pair_term_branches()
    cond = pair_term_conditions()
    return sp.Piecewise(*[(br[name], cond[name]) for name in ("mid_pos", "mid_neg", "full", "none")])


def potential_expr(r: int, c: int, *, importance=None, input_scale=None,
                   input_dist: str = "uniform") -> tuple[sp.Expr, sp.Matrix, sp.Matrix]:
    """The full closed-form potential L(W, b) for given small (r, c) as a sympy expression.

    Parameters
    ----------
    r : int
        Hidden dimension (>= 1).
    c : int
        Number of features (>= 2).
    importance : sequence of c numbers or sympy expressions, optional, keyword-only
        Output weights I_j (Elhage et al. 2022): the squared error of output j is weighted by I_j.
        ``None``: all ones.
    input_scale : sequence of c numbers or sympy expressions, optional, keyword-only
        Input scales s_i: feature i's input is x = s_i mu e_i. ``None``: all ones.
    input_dist : {"uniform", "point"}, keyword-only
        mu ~ Uniform[0, 1] (default) or every input at mu = 1 (:func:`pair_term`).

    Returns
    -------
    (expr, W, b)
        ``expr`` is L = (1/c) sum_{i,j} I_j T(s_i W_j . W_i, b_j, s_i delta_ij) (docs/index.md); ``W`` is
        the r x c matrix of symbols ``W_k_i`` and ``b`` the c x 1 matrix of symbols ``b_i`` it is written in.
    """
    check_rc(r=r, c=c)
    weights = {}
    for name, value in (("importance", importance), ("input_scale", input_scale)):
        value = [sp.Integer(1)] * c if value is None else [sp.sympify(v) for v in value]
        if len(value) != c:
            raise ValueError(f"`{name}` must have one entry per feature ({c}); got {len(value)}.")
        weights[name] = value
    imp, scale = weights["importance"], weights["input_scale"]
    W = sp.Matrix(r, c, lambda k, i: sp.Symbol(f"W_{k}_{i}", real=True))
    b = sp.Matrix(c, 1, lambda i, _: sp.Symbol(f"b_{i}", real=True))
    T = pair_term(check_input_dist(input_dist))
    terms = []
    for i in range(c):
        for j in range(c):
            a_ji = sum(W[k, j] * W[k, i] for k in range(r))
            sub = {A: scale[i] * a_ji, B: b[j], DELTA: scale[i] * int(i == j)}
            terms.append(imp[j] * T.subs(sub, simultaneous=True))
    return sp.Add(*terms) / c, W, b
