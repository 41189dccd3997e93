"""Exact learning coefficients of models where they are known, with a true parameter at the most
singular point of the true set (for validating LLC estimators; docs/llc.md).

Conventions. A model is a loss ``loss_fn(w, data)`` on a pytree ``w``; ``K(w) = L(w) - L(w0)`` is the
population loss relative to the truth and lambda the real log canonical threshold of K at the true
parameter returned (Watanabe 2009, "Algebraic Geometry and Statistical Learning Theory", ch. 2;
docs/dynamics.md §4). The learning coefficient is invariant under K -> c K (c > 0), so the factor 1/2 of a
Gaussian likelihood does not matter for lambda (it does for the finite-n value an estimator sees).

Known values:

- **Regular model** with d parameters and a non-degenerate Hessian: lambda = d / 2, multiplicity 1.
- **Normal crossing** K(w) = prod_i w_i^(2 k_i) near w = 0 (k_i >= 0 integers, at least one > 0):
  lambda = min_{i: k_i > 0} 1 / (2 k_i), multiplicity m = #{i : 1/(2 k_i) = lambda}; the variables with
  k_i = 0 are unused and contribute 0 (Watanabe 2009, ch. 2, "normal crossing"; Lau et al. 2023, §A).
- **Deep linear network** f(x) = W_L ... W_1 x with widths H_1 (input), ..., H_{L+1} (output), W_l of
  shape (H_{l+1}, H_l), Gaussian noise, and a true map of rank r (Aoyagi 2024, "Consideration on the
  learning efficiency of multiple-layered neural networks with linear units", Neural Networks 172,
  Theorem 1): with Delta_j = H_j - r, take the subset S of {1, ..., L+1} with |S| = l + 1 such that

      max_{j in S} Delta_j < min_{k not in S} Delta_k,
      sum_{j in S} Delta_j >= l max_{j in S} Delta_j,
      sum_{j in S} Delta_j <  l min_{k not in S} Delta_k

  (conditions on the complement dropped when S is everything; S is found among the sets of the l + 1
  smallest Delta_j), and with D = sum_{j in S} Delta_j, M = ceil(D / l), a = D - (M - 1) l:

      lambda = ( -r^2 + r (H_1 + H_{L+1}) ) / 2 + a (l - a) / (4 l) - l (l - 1) / 4 (D / l)^2
               + 1/2 sum_{i < j in S} Delta_i Delta_j,

  and its multiplicity (the order theta of the largest pole of the zeta function, Theorem 1 ibid.)
  m = a (l - a) + 1: 1 when l divides D (a = l), otherwise > 1. One layer (L = 1) is regular: m = 1.
  For two layers this is the parity rule of reduced-rank regression (below): m = 2 exactly when
  D = M + H + N - 3 r (case 1) is odd.

- **Reduced-rank regression** (two layers, widths M, H, N, rank r; Aoyagi & Watanabe 2005, "Stochastic
  complexities of reduced rank regression in Bayesian estimation", Neural Networks 18, Main Theorem):
  if N + r <= M + H, M + r <= N + H and H + r <= M + N: lambda = (2 (H + r)(M + N) - (M - N)^2 -
  (H + r)^2 + [M + H + N + r odd]) / 8; else if M + H < N + r: (H M - H r + N r) / 2; else if
  N + H < M + r: (H N - H r + M r) / 2; else (M + N < H + r): M N / 2; multiplicity 2 in case 1 with
  M + H + N + r odd, 1 otherwise. Both agree with the deep-linear formulas for L = 2 (tested).
- **TMS** critical points: the catalogue's value (``kgon.default_catalogue(c).get(label).llc``; the
  exact k-gon values of docs/zoo.md, e.g. 7 for the 5-gon and 8.5 for the 6-gon at c = 6).

True parameters at the most singular point: for a deep linear network of rank r the true map A = U
diag(s) V^T is routed through the first r units of every hidden layer (W_1 = [diag(s) V_r^T; 0],
W_l = [I_r 0; 0 0], W_L = [U_r 0]) and every other weight is zero (rank 0: all weights zero); for a
normal crossing and a regular model w = 0; for the TMS the catalogue point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import kgon
from kgon.validation import check_int

__all__ = [
    "KnownTruth",
    "dln_llc",
    "dln_multiplicity",
    "rrr_llc",
    "rrr_multiplicity",
    "normal_crossing_llc",
    "dln_truth",
    "dln_data",
    "dln_loss",
    "dln_samples",
    "normal_crossing_truth",
    "normal_crossing_loss",
    "regular_truth",
    "tms_truth",
]


@dataclass(frozen=True)
class KnownTruth:
    """A model with a known learning coefficient and a true parameter at its most singular point.

    Attributes
    ----------
    name : str
        E.g. ``"dln(5,3,5) rank 0"``.
    llc : float
        The learning coefficient lambda.
    multiplicity : int or None
        Its multiplicity m (None where the reference does not state it).
    d : int
        Number of parameters.
    w_star : tuple of ndarray
        The true parameter (a pytree: tuple of float64 arrays).
    reference : str
        Where lambda comes from.
    true_map : ndarray or None
        Deep linear networks: the true matrix A (output x input).
    """

    name: str
    llc: float
    multiplicity: int | None
    d: int
    w_star: tuple
    reference: str
    true_map: np.ndarray | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "llc": self.llc, "multiplicity": self.multiplicity, "d": self.d,
                "reference": self.reference}


def _widths(widths) -> tuple[int, ...]:
    try:
        ws = tuple(widths)
    except TypeError:
        raise ValueError(f"`widths` must be a sequence of at least 2 positive integers; got {widths!r}.") from None
    if len(ws) < 2:
        raise ValueError(f"`widths` must be a sequence of at least 2 positive integers; got {widths!r}.")
    return tuple(check_int("widths", h, minimum=1) for h in ws)


def _check_rank(rank, ws) -> int:
    return check_int("rank", rank, minimum=0, maximum=min(ws))


def _aoyagi_subset(delta: np.ndarray) -> np.ndarray:
    order = np.argsort(delta, kind="stable")
    for size in range(2, delta.size + 1):
        S = delta[order[:size]]
        rest = delta[order[size:]]
        ell = size - 1
        if rest.size and not S.max() < rest.min():
            continue
        if not S.sum() >= ell * S.max():
            continue
        if rest.size and not S.sum() < ell * rest.min():
            continue
        return S
    raise ValueError(f"no subset satisfies Aoyagi's conditions for Delta = {delta.tolist()} (a bug).")


def _aoyagi_terms(ws: tuple[int, ...], r: int) -> tuple[np.ndarray, int, int, int]:
    """(S, l, D, a) of Aoyagi's Theorem 1 (module docstring) for widths ``ws`` (L >= 2) and rank ``r``."""
    S = _aoyagi_subset(np.array(ws, dtype=np.int64) - r)
    ell = S.size - 1
    D = int(S.sum())
    M = -(-D // ell)
    return S, ell, D, D - (M - 1) * ell


def dln_llc(widths, rank: int) -> float:
    """Learning coefficient of a deep linear network with a true map of rank ``rank`` (module
    docstring; Aoyagi 2024, Theorem 1).

    Parameters
    ----------
    widths : sequence of int
        (H_1 = input, H_2, ..., H_{L+1} = output), L >= 1 layers.
    rank : int
        Rank r of the true map, 0 <= r <= min(widths).

    Examples: (5, 3, 5) rank 0 -> 6.5, (3, 3, 3) rank 1 -> 4, (8, 4, 8) rank 0 -> 14.
    """
    ws = _widths(widths)
    r = _check_rank(rank, ws)
    if len(ws) == 2:  # one layer: a regular model (d = H_1 H_2 parameters)
        return ws[0] * ws[1] / 2.0
    S, ell, D, a = _aoyagi_terms(ws, r)
    pairs = sum(int(S[i]) * int(S[j]) for i in range(S.size) for j in range(i + 1, S.size))
    lam = (Fraction(-r * r + r * (ws[0] + ws[-1]), 2) + Fraction(a * (ell - a), 4 * ell)
           - Fraction((ell - 1) * D * D, 4 * ell) + Fraction(pairs, 2))  # exact rational arithmetic
    return float(lam)


def dln_multiplicity(widths, rank: int) -> int:
    """Multiplicity m = a (l - a) + 1 of the learning coefficient of a deep linear network (module
    docstring; Aoyagi 2024, Theorem 1, the order theta): the free energy is n lambda - (m - 1) log log n
    + O_p(1), and the SGLD estimate's finite-n target is lambda - (m - 1) / log(n beta) (docs/llc.md §4).

    Examples: (5, 3, 5) rank 0 -> 2, (8, 4, 8) rank 0 -> 1, (4, 3, 3, 4) rank 0 -> 3, (6, 3, 3, 6) rank 0 -> 1.
    """
    ws = _widths(widths)
    r = _check_rank(rank, ws)
    if len(ws) == 2:  # one layer: regular
        return 1
    _, ell, _, a = _aoyagi_terms(ws, r)
    return a * (ell - a) + 1


def rrr_llc(M: int, H: int, N: int, rank: int) -> float:
    """Learning coefficient of reduced-rank regression x (dim M) -> H -> N with a true map of rank
    ``rank`` (Aoyagi & Watanabe 2005, Main Theorem; module docstring)."""
    M = check_int("M", M, minimum=1)
    H = check_int("H", H, minimum=1)
    N = check_int("N", N, minimum=1)
    r = check_int("rank", rank, minimum=0, maximum=min(M, H, N))
    if N + r <= M + H and M + r <= N + H and H + r <= M + N:
        odd = (M + H + N + r) % 2
        return (2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2 + odd) / 8.0
    if M + H < N + r:
        return (H * M - H * r + N * r) / 2.0
    if N + H < M + r:
        return (H * N - H * r + M * r) / 2.0
    return M * N / 2.0


def rrr_multiplicity(M: int, H: int, N: int, rank: int) -> int:
    """Multiplicity of the learning coefficient of reduced-rank regression (Aoyagi & Watanabe 2005, Main
    Theorem): 2 if N + r <= M + H, M + r <= N + H, H + r <= M + N and M + H + N + r is odd, else 1."""
    M = check_int("M", M, minimum=1)
    H = check_int("H", H, minimum=1)
    N = check_int("N", N, minimum=1)
    r = check_int("rank", rank, minimum=0, maximum=min(M, H, N))
    case1 = N + r <= M + H and M + r <= N + H and H + r <= M + N
    return 2 if case1 and (M + H + N + r) % 2 else 1


def normal_crossing_llc(k) -> tuple[float, int]:
    """(lambda, multiplicity) of K(w) = prod_i w_i^(2 k_i) at w = 0: lambda = min_{k_i > 0} 1/(2 k_i),
    m = #{i : 1/(2 k_i) = lambda} (module docstring)."""
    ks = tuple(check_int("k", x, minimum=0) for x in k)
    pos = [x for x in ks if x > 0]
    if not pos:
        raise ValueError(f"`k` must contain at least one positive exponent; got {k!r}.")
    kmax = max(pos)
    return 1.0 / (2 * kmax), sum(1 for x in ks if x == kmax)


# ----------------------------------------------------------------------------------------------
# models and true parameters


def dln_truth(widths, rank: int, *, singular_values=None, rng_seed: int = 0) -> KnownTruth:
    """A deep linear network with a true map of rank ``rank`` and the true parameter at the most
    singular point (module docstring).

    Parameters
    ----------
    widths : sequence of int
        (input, hidden..., output).
    rank : int
        0 <= rank <= min(widths).
    singular_values : sequence of float, keyword-only
        The r nonzero singular values of the true map (default all 1).
    rng_seed : int, keyword-only
        Seed of the (numpy) random orthogonal U, V of A = U diag(s) V^T.
    """
    ws = _widths(widths)
    r = _check_rank(rank, ws)
    s = np.ones(r) if singular_values is None else np.asarray(singular_values, dtype=np.float64).reshape(-1)
    if s.shape != (r,) or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"`singular_values` must be {r} positive numbers; got {singular_values!r}.")
    gen = np.random.default_rng(check_int("rng_seed", rng_seed, minimum=0))
    U = np.linalg.qr(gen.standard_normal((ws[-1], ws[-1])))[0][:, :r]
    V = np.linalg.qr(gen.standard_normal((ws[0], ws[0])))[0][:, :r]
    L = len(ws) - 1
    mats = []
    for k in range(L):
        W = np.zeros((ws[k + 1], ws[k]))
        if r:
            if k == 0 and L == 1:
                W = U @ np.diag(s) @ V.T
            elif k == 0:
                W[:r, :] = np.diag(s) @ V.T
            elif k == L - 1:
                W[:, :r] = U
            else:
                W[:r, :r] = np.eye(r)
        mats.append(W)
    A = U @ np.diag(s) @ V.T
    name = f"dln({','.join(map(str, ws))}) rank {r}"
    ref = ("Aoyagi 2024, Neural Networks 172, Theorem 1" if L >= 2 else "regular model (d/2)")
    return KnownTruth(name=name, llc=dln_llc(ws, r), multiplicity=dln_multiplicity(ws, r), d=sum(W.size for W in mats),
                      w_star=tuple(mats), reference=ref, true_map=A)


def dln_samples(rng_key, truth: KnownTruth, n: int, *, noise: float = 1.0):
    """The n samples ``(X, Y)``, x ~ N(0, I), y = A x + noise * N(0, I), of a deep linear network truth
    (float64 jax arrays, rows are samples): for per-sample losses and minibatches; :func:`dln_data` gives
    their sufficient statistics (same key, same draws)."""
    if truth.true_map is None:
        raise ValueError("`truth` must be a deep linear network (from dln_truth).")
    n = check_int("n", n, minimum=1)
    A = jnp.asarray(truth.true_map)
    kx, ke = jax.random.split(rng_key)
    X = jax.random.normal(kx, (n, A.shape[1]), dtype=jnp.float64)
    return X, X @ A.T + noise * jax.random.normal(ke, (n, A.shape[0]), dtype=jnp.float64)


def dln_data(rng_key, truth: KnownTruth, n: int, *, noise: float = 1.0):
    """Sufficient statistics of the n samples of :func:`dln_samples` for :func:`dln_loss`:
    ``(Sxx, Sxy, Syy) = (X^T X / n, X^T Y / n, tr(Y^T Y) / n)`` (float64 jax arrays)."""
    X, Y = dln_samples(rng_key, truth, n, noise=noise)
    n = X.shape[0]
    return (X.T @ X / n, X.T @ Y / n, jnp.sum(Y * Y) / n)


def dln_loss(w, stats):
    """L_n(w) = (1 / 2n) sum_i ||y_i - W_L ... W_1 x_i||^2 from the sufficient statistics of
    :func:`dln_data` (exact, O(widths^3) per evaluation whatever n):
    1/2 tr(P Sxx P^T) - tr(P Sxy) + 1/2 Syy with P = W_L ... W_1."""
    Sxx, Sxy, Syy = stats
    P = w[0]
    for W in w[1:]:
        P = W @ P
    return 0.5 * jnp.sum((P @ Sxx) * P) - jnp.sum(P * Sxy.T) + 0.5 * Syy


def normal_crossing_loss(w, k):
    """K(w) = prod_i w_i^(2 k_i) (``k`` passed as data, an integer array)."""
    return jnp.prod(w ** (2 * k))


def normal_crossing_truth(k) -> KnownTruth:
    """The normal crossing prod_i w_i^(2 k_i) at w = 0 (loss :func:`normal_crossing_loss` with data
    ``jnp.asarray(k)``, no sample size: pass ``nbeta``)."""
    lam, m = normal_crossing_llc(k)
    ks = tuple(int(x) for x in k)
    return KnownTruth(name=f"normal crossing k={ks}", llc=lam, multiplicity=m, d=len(ks),
                      w_star=(np.zeros(len(ks)),), reference="Watanabe 2009, ch. 2 (normal crossing)")


def regular_truth(d: int) -> KnownTruth:
    """A regular model with d parameters (e.g. the quadratic loss 1/2 sum h_i w_i^2, h_i > 0): d / 2 at 0."""
    d = check_int("d", d, minimum=1)
    return KnownTruth(name=f"regular d={d}", llc=d / 2.0, multiplicity=1, d=d, w_star=(np.zeros(d),),
                      reference="regular model: lambda = d/2 (Watanabe 2009)")


def tms_truth(label: str, c: int, *, r: int = 2, catalogue: Any = None) -> KnownTruth:
    """The TMS catalogue point ``label`` at (r, c) with its catalogue learning coefficient
    (``kgon.default_catalogue``; docs/zoo.md). ``w_star = (W, b)``."""
    cat = kgon.default_catalogue(c, r=r) if catalogue is None else catalogue
    try:
        p = cat.get(label)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
    if p.llc is None or not math.isfinite(p.llc):
        raise ValueError(f"the catalogue has no learning coefficient for `label` = {label!r} at c = {c}.")
    W, b = np.asarray(p.W, dtype=np.float64), np.asarray(p.b, dtype=np.float64)
    return KnownTruth(name=f"tms {p.label} (c={c}, r={r})", llc=float(p.llc), multiplicity=None,
                      d=W.size + b.size, w_star=(W, b), reference=f"kgon catalogue ({p.llc_method})")
