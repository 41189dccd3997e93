"""The data-conditional refined free energy in closed form: the copies' empirical losses.

On a data set D_n the copies sigma of a phase alpha (its feature permutations, M of them,
``distinct_permutations``) have equal population loss but different empirical losses. Expanding
each copy's integral around its population refined minimiser w_sigma (the minimiser of
beta n L + |w|^2 / 2, permuted) to first order in the data, beta n L_n = beta n L + beta n (L_n - L),

    F_n^data(alpha) = F_n^pop(alpha) - log( (1/M) sum_sigma exp(-(Y_sigma + R_sigma)) ),
    Y_sigma = beta n ( L_n(w_sigma) - L(w_sigma) ),
    R_sigma = -(1/2) g_sigma^T H^+ g_sigma,   g_sigma = beta n grad(L_n - L)(w_sigma),

with F_n^pop the population-level refined free energy (Laplace + prior + orbit + copies + flat mass +
finite-n boundary term, :func:`theory.free_energy` with ``order="refined"``) and H = beta n Hess L + I
over the live coordinates, transverse to the SO(2) orbit (the directions Laplace integrates). Y is
O(sqrt n) (the TMS is not realizable: L > 0 at every minimum), R is O(1): the minimum of the copy's
quadratic model on the data. Written as

    F_n^data = F_n^pop + Ybar + T_copy,     Ybar = mean_sigma Y_sigma,
    T_copy = -log( (1/M) sum_sigma exp(-(Y_sigma + R_sigma - Ybar)) ),

Ybar is the data shift of the energy (the same for every copy when they see the same data) and
T_copy the copy term, exactly 0 without relaxation when all copies see the same data (the regular
6-gon: every feature has the same neighbours).

Exact evaluation. A copy sigma = (W[:, s], b[s]) has per-sample loss l_{s(i)}(mu) on the input
mu e_i (:mod:`kgon.fluctuation`), so

    n L_n(w_sigma) = sum_i T[i, s(i)],   T[i, m] = sum over the samples of feature i of l_m(mu; w),

c^2 numbers per phase and n for all M copies. Each l_m is piecewise quadratic in mu with kinks at
t_jm = -b_j / a_jm, so T (and its gradient in w) follows from the counts and the sums of mu and mu^2
of each feature's samples on either side of each kink: one sort of the first n samples and c^3
binary searches (prefix sums, as ``sampling.empirical_potential``), exact to rounding.

Reference: docs/free_energy.md ("The data term"); Watanabe (2009), ch. 6 (the expansion of the
free energy on a data set).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from theory.free_energies.phases import refined_phases

__all__ = [
    "PopulationExpansion",
    "DataFreeEnergy",
    "population_expansion",
    "population_free_energy",
    "loss_sums",
    "copy_energies",
    "data_free_energy",
    "RELAXATION_DEFAULT",
    "SECOND_ORDER_DEFAULT",
    "population_second_order",
    "phase_label",
    "check_beta",
    "check_grid",
    "copy_term",
    "data_setup",
    "softmax_occupancy",
    "first_up_crossing",
    "stream_energies",
]

RELAXATION_DEFAULT = False
"""Whether the O(1) relaxation term R_sigma enters by default (docs/free_energy.md, "The data term":
on the measured streams it moves every crossing earlier and raises the occupancy deviations, so it is
off; both are reported there)."""


SECOND_ORDER_DEFAULT = False
"""Whether the second-order Laplace term of the population free energy enters by default
(docs/free_energy.md, "Beyond Laplace in closed form": it closes part of the gap to the exact population
integrals, not all of it; off by default so the stored tables stay reproducible)."""


@dataclass(frozen=True)
class PopulationExpansion:
    """A phase's population refined minimiser and what the data term needs of it.

    Attributes
    ----------
    label : str
    n, beta : float
    W, b : ndarray (r, c), (c,)
        The minimiser w_hat of beta n L(w) + |w_live|^2 / 2 over the live coordinates, from the
        catalogue point (dead columns stay at the point).
    loss : float
        L(w_hat), the population loss there.
    live_index : ndarray of int
        Positions of the live coordinates in z = (W.ravel(), b).
    hessian_pinv : ndarray (d_live, d_live)
        Pseudo-inverse of H = beta n Hess L + I over the live coordinates, restricted to the
        complement of the orbit tangent (0 along the tangent).
    perms : ndarray of int (M, c)
        One feature permutation s per distinct copy (W[:, s], b[s]).
    """

    label: str
    n: float
    beta: float
    W: np.ndarray
    b: np.ndarray
    loss: float
    live_index: np.ndarray
    hessian_pinv: np.ndarray
    perms: np.ndarray


def phase_label(p) -> str:
    """The label of a catalogue point (``label`` or ``name``)."""
    return str(getattr(p, "label", None) or getattr(p, "name"))


def _live_index(r: int, c: int, live: list[int]) -> np.ndarray:
    return np.array([a * c + j for a in range(r) for j in live] + [r * c + j for j in live], dtype=int)


@lru_cache(maxsize=None)
def _objective(r: int, c: int):
    """jit-compiled value-and-gradient and Hessian of beta n L(z) + |z_live|^2 / 2 in all of z = (W, b),
    the live coordinates marked by ``mask`` (one compilation per shape, shared by every phase)."""
    import jax  # deferred: jax start-up only when a free energy is computed
    import jax.numpy as jnp

    from kgon.evaluators import potential_jax

    def f(z, mask, bn):
        return bn * potential_jax(z[: r * c].reshape(r, c), z[r * c :]) + 0.5 * jnp.sum(mask * z * z)

    return jax.jit(jax.value_and_grad(f)), jax.jit(jax.hessian(f))


def _transverse(t: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns) of the complement of t (all directions if t = 0)."""
    d = len(t)
    nt = float(np.linalg.norm(t))
    if nt == 0:
        return np.eye(d)
    Q, _ = np.linalg.qr(np.column_stack([t / nt, np.eye(d)]))
    return Q[:, 1:d]


_EXPANSIONS: dict = {}


def population_expansion(point, n: float, *, beta: float = 1.0) -> PopulationExpansion:
    """The population refined minimiser of a catalogue point's phase at (n, beta), with the
    transverse Hessian pseudo-inverse and the distinct copies (cached per point, n and beta).

    The minimiser is found by BFGS from the catalogue point and polished by Newton steps
    transverse to the orbit (the same minimiser as the Laplace term of the refined free energy,
    docs/free_energy.md)."""
    import jax.numpy as jnp  # deferred: jax start-up
    from scipy.optimize import minimize

    from kgon.symmetry import dead_columns, distinct_permutations

    W0, b0 = np.asarray(point.W, float), np.asarray(point.b, float)
    key = (W0.tobytes(), b0.tobytes(), float(n), float(beta))
    if key in _EXPANSIONS:
        return _EXPANSIONS[key]
    r, c = W0.shape
    live = [j for j in range(c) if j not in dead_columns(W0, b0)]
    idx = _live_index(r, c, live)
    z0 = np.concatenate([W0.ravel(), b0])
    bn = float(beta) * float(n)
    perms = np.array(distinct_permutations(W0, b0), dtype=int)
    if not live:
        from kgon.evaluators import potential  # deferred: jax loads only when the closed form is evaluated

        e = PopulationExpansion(phase_label(point), float(n), float(beta), W0, b0, float(potential(W0, b0)), idx,
                                np.zeros((0, 0)), perms)
        _EXPANSIONS[key] = e
        return e
    fg, fh = _objective(r, c)
    mask = np.zeros_like(z0)
    mask[idx] = 1.0
    maskj = jnp.asarray(mask)

    def full(x):
        z = z0.copy()
        z[idx] = x
        return jnp.asarray(z)

    def vg(x):
        v, g = fg(full(x), maskj, bn)
        return float(v), np.asarray(g, float)[idx]

    def hess(x):
        return np.asarray(fh(full(x), maskj, bn))[np.ix_(idx, idx)]

    x = _newton(vg, hess, _warm_start(key, z0, idx), z0, r, c, idx)
    if x is None:  # no nearby solution to start from, or Newton left the basin: BFGS, then Newton
        xb = np.asarray(minimize(vg, z0[idx], jac=True, method="BFGS", options=dict(gtol=1e-10, maxiter=10_000)).x)
        x = _newton(vg, hess, xb, z0, r, c, idx)
        x = xb if x is None else x
    z = z0.copy()
    z[idx] = x
    B = _transverse(_tangent(z, r, c, idx))
    H = hess(x)
    Ht = B.T @ (0.5 * (H + H.T)) @ B
    ev = np.linalg.eigvalsh(Ht)
    if ev.min() <= 0:
        raise ValueError(f"the population Hessian of {phase_label(point)!r} at n = {n} is not positive definite "
                         f"transverse to the orbit (min eigenvalue {ev.min():.3g}).")
    v, _ = vg(x)
    W, b = z[: r * c].reshape(r, c), z[r * c :]
    loss = (v - 0.5 * float(x @ x)) / bn
    e = PopulationExpansion(phase_label(point), float(n), float(beta), W, b, float(loss), idx,
                            B @ np.linalg.solve(Ht, B.T), perms)
    _EXPANSIONS[key] = e
    return e


def _warm_start(key: tuple, z0: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The live coordinates of the cached minimiser of the same point and beta at the nearest n (log
    scale), or the catalogue point's if none is cached."""
    near = [(abs(math.log(k[2] / key[2])), e) for k, e in _EXPANSIONS.items() if k[:2] == key[:2] and k[3] == key[3]]
    if not near:
        return z0[idx]
    e = min(near, key=lambda t: t[0])[1]
    return np.concatenate([e.W.ravel(), e.b])[idx]


def _newton(vg, hess, x, z0, r, c, idx, *, steps: int = 20, tol: float = 1e-11):
    """Newton's method for the minimiser of f transverse to the orbit (the orbit direction is flat),
    from x; None if it does not converge (a step that raises f or a Hessian that is not positive
    definite)."""
    f0, _ = vg(x)
    for _ in range(steps):
        z = z0.copy()
        z[idx] = x
        B = _transverse(_tangent(z, r, c, idx))
        H = hess(x)
        Ht = B.T @ (0.5 * (H + H.T)) @ B
        _, g = vg(x)
        if np.linalg.eigvalsh(Ht).min() <= 0:
            return None
        step = B @ np.linalg.solve(Ht, B.T @ g)
        x_new = x - step
        f1, _ = vg(x_new)
        if f1 > f0 + 1e-9 * max(1.0, abs(f0)):
            return None
        x, f0 = x_new, f1
        if np.linalg.norm(step) < tol * max(1.0, np.linalg.norm(x)):
            return x
    return x if np.linalg.norm(step) < 1e-7 else None


def _tangent(z: np.ndarray, r: int, c: int, idx: np.ndarray) -> np.ndarray:
    """Tangent d/dtheta (R_theta W) = J W of the SO(2) orbit, in the live coordinates."""
    W = z[: r * c].reshape(r, c)
    J = np.array([[0.0, -1.0], [1.0, 0.0]])
    return np.concatenate([(J @ W).ravel(), np.zeros(c)])[idx]


_POPULATION: dict = {}
_SECOND_ORDER: dict = {}


def population_free_energy(points, ns, *, beta: float = 1.0, second_order: bool = False) -> dict[str, np.ndarray]:
    """F_n^pop(alpha): the population-level refined free energy (:func:`theory.free_energy`,
    ``order="refined"`` with no data: :func:`theory.free_energies.refined.refined_terms` on the population
    loss) of each point's phase, cached per (point, n, beta); with ``second_order`` plus
    :func:`population_second_order`. ``{label: array over ns}``."""
    from theory.free_energies.refined import refined_terms  # deferred: jax start-up

    out = _per_point(_POPULATION, points, ns, beta, lambda p, n: float(refined_terms(p, n, beta=beta).total))
    if second_order:
        so = population_second_order(points, ns, beta=beta)
        out = {lab: v + so[lab] for lab, v in out.items()}
    return out


def population_second_order(points, ns, *, beta: float = 1.0) -> dict[str, np.ndarray]:
    """The second-order Laplace term of each point's population live integral at each n
    (:func:`theory.free_energies.laplace.second_order_laplace` at the population refined minimiser, the
    orbit's volume element included; 0 for a phase without live columns), cached per (point, n, beta):

        (1/8) f_abcd S^ab S^cd - (1/8) f_abc f_def S^ab S^cd S^ef - (1/12) f_abc f_def S^ad S^be S^cf
        + (1/2) a_d S^dc f_cab S^ab,

    f = beta n L + |x|^2 / 2 in the coordinates transverse to the orbit, S = (Hess f)^-1 (Shun &
    McCullagh 1995; docs/free_energy.md, "Beyond Laplace in closed form"). ``{label: array over ns}``.
    The dead columns' coupling to the live ones is not in it."""
    from theory.free_energies.laplace import second_order_laplace  # deferred: jax and sympy load on use

    def term(p, n):
        e = population_expansion(p, n, beta=beta)
        if not len(e.live_index):
            return 0.0
        return float(second_order_laplace(e.W, e.b, e.live_index, bn=float(beta) * n).total)

    return _per_point(_SECOND_ORDER, points, ns, beta, term)


def _per_point(cache: dict, points, ns, beta: float, compute) -> dict[str, np.ndarray]:
    """``{label: array over ns}`` of ``compute(point, n)``, cached in ``cache`` per (point, n, beta)."""
    out = {}
    for p in points:
        W0, b0 = np.asarray(p.W, float), np.asarray(p.b, float)
        vals = []
        for n in np.atleast_1d(ns):
            key = (W0.tobytes(), b0.tobytes(), float(n), float(beta))
            if key not in cache:
                cache[key] = compute(p, float(n))
            vals.append(cache[key])
        out[phase_label(p)] = np.array(vals)
    return out


# ----------------------------------------------------------------------------------------------
# exact sums over the data: T[i, m] and its gradient, for many streams at once


@dataclass(frozen=True)
class _SortedPrefix:
    """The first n samples of K streams, sorted by (feature, mu) within each stream, with cumulative
    counts, sums of mu and of mu^2 (``cum[p, k, l]`` over the first l sorted samples of stream k)."""

    flat: np.ndarray  # sorted keys 2 c k + 2 i + mu, all streams concatenated
    cum: np.ndarray  # (3, K, n + 1)
    n: int
    c: int


def sorted_prefix(features: np.ndarray, mu: np.ndarray, n: int, c: int) -> _SortedPrefix:
    K = features.shape[0]
    key = 2.0 * features[:, :n] + mu[:, :n]
    order = np.argsort(key, axis=1, kind="stable")
    ks = np.take_along_axis(key, order, axis=1)
    ms = np.take_along_axis(mu[:, :n], order, axis=1)
    cum = np.zeros((3, K, n + 1))
    cum[0, :, 1:] = np.arange(1, n + 1)
    cum[1, :, 1:] = np.cumsum(ms, axis=1)
    cum[2, :, 1:] = np.cumsum(ms * ms, axis=1)
    flat = (ks + 2.0 * c * np.arange(K)[:, None]).ravel()
    return _SortedPrefix(flat, cum, n, c)


def _moments_below(sp: _SortedPrefix, t: np.ndarray) -> np.ndarray:
    """Counts, sums of mu and of mu^2 of each stream's samples of feature i with mu < t[j, m] (clipped
    to [-1/2, 3/2]): shape (3, K, i, j, m)."""
    K, c, n = sp.cum.shape[1], sp.c, sp.n
    base = 2.0 * c * np.arange(K)[:, None, None, None] + 2.0 * np.arange(c)[None, :, None, None]
    q = base + np.clip(t, -0.5, 1.5)[None, None]
    pos = np.searchsorted(sp.flat, q.ravel(), side="left").reshape(q.shape) - n * np.arange(K)[:, None, None, None]
    start = np.searchsorted(sp.flat, (base - 0.5).ravel()).reshape(K, c, 1, 1) - n * np.arange(K)[:, None, None, None]
    kk = np.arange(K)[:, None, None, None]
    return sp.cum[:, kk, pos] - sp.cum[:, kk, start]


def _feature_totals(sp: _SortedPrefix) -> np.ndarray:
    """Counts, sums of mu, mu^2 of each stream's samples of feature i: (3, K, i)."""
    K, c, n = sp.cum.shape[1], sp.c, sp.n
    base = 2.0 * c * np.arange(K)[:, None] + 2.0 * np.arange(c)[None, :]
    off = n * np.arange(K)[:, None]
    lo = np.searchsorted(sp.flat, (base - 0.5).ravel()).reshape(K, c) - off
    hi = np.searchsorted(sp.flat, (base + 1.5).ravel()).reshape(K, c) - off
    kk = np.arange(K)[:, None]
    return sp.cum[:, kk, hi] - sp.cum[:, kk, lo]


def loss_sums(W, b, sp: _SortedPrefix, *, grad: bool = False):
    """T[k, i, m] = sum over the samples of feature i (first n of stream k) of l_m(mu; W, b), exactly,
    and with ``grad`` its gradient in z = (W.ravel(), b), shape (K, c, c, (r + 1) c) (module docstring).

    With on-set moments X_p (the samples where ReLU(a_jm mu + b_j) is on) and off-set moments Y_p,

        T[i, m] = sum_j delta_jm Y_2 + (delta_jm - a_jm)^2 X_2 - 2 (delta_jm - a_jm) b_j X_1 + b_j^2 X_0.
    """
    W, b = np.asarray(W, float), np.asarray(b, float)
    r, c = W.shape
    A = W.T @ W
    pos, neg = A > 0, A < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(pos | neg, -b[:, None] / np.where(pos | neg, A, 1.0), 0.0)
    below = _moments_below(sp, t)  # (3, K, i, j, m)
    total = _feature_totals(sp)[:, :, :, None, None]  # (3, K, i, 1, 1)
    on_all = ((b[:, None] > 0) & ~(pos | neg))
    X = np.where(pos, total - below, np.where(neg, below, np.where(on_all, total, 0.0)))
    Y2 = total[2] - X[2]
    d = np.eye(c) - A  # (j, m)
    bj = b[:, None]
    T = np.sum(np.eye(c) * Y2 + d * d * X[2] - 2.0 * d * bj * X[1] + bj * bj * X[0], axis=2)  # (K, i, m)
    if not grad:
        return T
    DA = -2.0 * d * X[2] + 2.0 * bj * X[1]  # dT[i, m] / da_jm: (K, i, j, m)
    DB = -2.0 * d * X[1] + 2.0 * bj * X[0]  # dT[i, m] / db_j
    K = T.shape[0]
    gW = np.einsum("kiqm,am->kimaq", DA, W)  # column q gets DA[q, m] W_m
    gW[:, :, np.arange(c), :, np.arange(c)] += np.einsum("kijm,aj->mkia", DA, W)  # column m gets sum_j DA[j, m] W_j
    gb = np.transpose(DB, (0, 1, 3, 2))  # (K, i, m, q)
    return T, np.concatenate([gW.reshape(K, c, c, r * c), gb], axis=3)


def copy_energies(e: PopulationExpansion, sp: _SortedPrefix, *, relaxation: bool) -> tuple[np.ndarray, np.ndarray]:
    """(Y, R) of every copy of one phase on K streams, shapes (K, M): Y_sigma = beta n (L_n - L)(w_sigma)
    and R_sigma = -(1/2) g^T H^+ g (0 where ``relaxation`` is False) (module docstring)."""
    c = e.W.shape[1]
    ii = np.arange(c)
    if relaxation and len(e.live_index):
        T, G = loss_sums(e.W, e.b, sp, grad=True)
    else:
        T, G = loss_sums(e.W, e.b, sp), None
    Y = e.beta * (T[:, ii[None, :], e.perms].sum(axis=2) - sp.n * e.loss)  # (K, M)
    R = np.zeros_like(Y)
    if G is not None:
        z = np.concatenate([e.W.ravel(), e.b])
        g = e.beta * G[:, ii[None, :], e.perms].sum(axis=2)[..., e.live_index] + z[e.live_index]  # (K, M, d_live)
        R = -0.5 * np.einsum("kma,ab,kmb->km", g, e.hessian_pinv, g)
    return Y, R


@dataclass(frozen=True)
class DataFreeEnergy:
    """The data-conditional refined free energy in closed form, term by term (module docstring).

    Attributes
    ----------
    ns : ndarray
        Sample sizes (the first n samples of the data set at each).
    labels : tuple of str
    population : dict label -> ndarray over ns
        F_n^pop, the population-level refined free energy.
    shift : dict label -> ndarray
        Ybar = mean over the copies of Y_sigma (the data shift of the energy).
    copies : dict label -> ndarray
        T_copy = -log mean_sigma exp(-(Y_sigma + R_sigma - Ybar)) (with the relaxation if ``relaxation``).
    relaxation : bool
        Whether the O(1) relaxation term R_sigma is included.
    beta : float
    second_order : dict label -> ndarray, optional
        The second-order Laplace term of the population free energy (:func:`population_second_order`);
        zeros when it is not included (the default, :data:`SECOND_ORDER_DEFAULT`).
    """

    ns: np.ndarray
    labels: tuple
    population: dict
    shift: dict
    copies: dict
    relaxation: bool
    beta: float
    second_order: dict | None = None

    @property
    def total(self) -> dict:
        """F_n^data = population + second_order + shift + copies, ``{label: array over ns}``."""
        so = self.second_order or {}
        return {lab: self.population[lab] + so.get(lab, 0.0) + self.shift[lab] + self.copies[lab]
                for lab in self.labels}

    def occupancy(self, labels: Sequence[str] | None = None) -> dict:
        """Softmax of -F_n^data over ``labels`` (default all), ``{label: array over ns}``."""
        return softmax_occupancy(self.total, labels or self.labels)

    def to_dict(self) -> dict:
        so = self.second_order or {lab: np.zeros_like(self.ns) for lab in self.labels}
        return {"ns": self.ns.tolist(), "labels": list(self.labels), "beta": self.beta,
                "relaxation": self.relaxation,
                "second_order": {lab: np.asarray(so[lab]).tolist() for lab in self.labels},
                **{k: {lab: getattr(self, k)[lab].tolist() for lab in self.labels}
                   for k in ("population", "shift", "copies")},
                "total": {lab: v.tolist() for lab, v in self.total.items()}}


def softmax_occupancy(F: dict, labels) -> dict:
    """P(alpha) = exp(-F_alpha) / sum over ``labels`` of exp(-F_beta), elementwise over the arrays of F."""
    M = np.stack([np.asarray(F[lab], float) for lab in labels])
    E = np.exp(-(M - M.min(axis=0, keepdims=True)))
    P = E / E.sum(axis=0, keepdims=True)
    return {lab: P[i] for i, lab in enumerate(labels)}


def copy_term(Y: np.ndarray, R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Ybar, T_copy) over the last axis (the copies): Ybar = mean Y, T_copy = -log mean exp(-(Y + R - Ybar))."""
    Ybar = Y.mean(axis=-1)
    V = Y + R - Ybar[..., None]
    m = V.min(axis=-1)
    return Ybar, m - np.log(np.mean(np.exp(-(V - m[..., None])), axis=-1))


def check_beta(beta) -> float:
    """Validate an inverse temperature: a positive finite number."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta) or beta <= 0:
        raise ValueError(f"`beta` must be a positive finite inverse temperature; got {beta!r}.")
    return float(beta)


def check_grid(ns, data_n: int | None = None) -> np.ndarray:
    """Validate sample sizes: positive integers (at most ``data_n``); returns them as int64."""
    arr = np.atleast_1d(np.asarray(ns))
    if arr.size == 0 or not np.all(np.isfinite(arr.astype(float))) or np.any(arr < 1) or np.any(arr != np.round(arr)):
        raise ValueError(f"`ns` must be positive integer sample sizes; got {np.asarray(ns).tolist()!r}.")
    arr = arr.astype(np.int64)
    if data_n is not None and arr.max() > data_n:
        raise ValueError(f"`ns` must not exceed the size {data_n} of `data`; got max {int(arr.max())}.")
    return arr


def stream_energies(points, features: np.ndarray, mu: np.ndarray, ns, *, beta: float, relaxation: bool):
    """Ybar and T_copy of every point's phase on K streams (``features``, ``mu``: (K, N)) at each n:
    ``{label: (Ybar (K, len(ns)), T_copy (K, len(ns)))}``."""
    K = features.shape[0]
    out = {phase_label(p): (np.zeros((K, len(ns))), np.zeros((K, len(ns)))) for p in points}
    cc = np.asarray(points[0].W).shape[1]
    for g, n in enumerate(ns):
        sp = sorted_prefix(features, mu, int(n), cc)
        for p in points:
            e = population_expansion(p, float(n), beta=beta)
            Y, R = copy_energies(e, sp, relaxation=relaxation)
            ybar, tc = copy_term(Y, R)
            out[phase_label(p)][0][:, g] = ybar
            out[phase_label(p)][1][:, g] = tc
    return out


def data_free_energy(
    catalogue, data, ns, *, beta: float = 1.0, labels: Sequence[str] | None = None, relaxation: bool | None = None,
    second_order: bool | None = None,
) -> DataFreeEnergy:
    """The closed-form data-conditional refined free energy F_n^pop + Ybar + T_copy of every phase
    :func:`theory.refined_phases` covers (smooth minima and flat phases), at each n on the first n
    samples of ``data`` (module docstring; no sampling, no Monte Carlo beyond the population flat mass).

    Parameters
    ----------
    catalogue : kgon.Catalogue (or a list of its points)
    data : sampling.Dataset
        A data stream with at least max(ns) samples.
    ns : sequence of int
        Sample sizes.
    beta : float
        Inverse temperature (> 0).
    labels : sequence of str, optional
        Phases (default: every phase the refined order covers).
    relaxation : bool, optional
        Include the O(1) relaxation term R_sigma (default :data:`RELAXATION_DEFAULT`).
    second_order : bool, optional
        Add the second-order Laplace term of the population free energy (:func:`population_second_order`;
        default :data:`SECOND_ORDER_DEFAULT`; about 30 s of jax compilation per phase the first time,
        then 0.1 s per phase and n).

    Cost: the population parts (refined minimiser, Hessian, F^pop) are cached per (phase, n, beta):
    about 0.05 s per n for the four c = 6 phases the first time (after jax's compilation); the data
    part is one sort of n samples and c^3 binary searches per phase and n.
    """
    relaxation = RELAXATION_DEFAULT if relaxation is None else relaxation
    if not isinstance(relaxation, (bool, np.bool_)):
        raise ValueError(f"`relaxation` must be True or False; got {relaxation!r}.")
    second_order = SECOND_ORDER_DEFAULT if second_order is None else second_order
    beta, grid, pts, labs, pop, so = data_setup(catalogue, data, ns, beta=beta, labels=labels,
                                                second_order=second_order)
    terms = stream_energies(pts, data.features[None, :], data.mu[None, :], grid, beta=beta, relaxation=bool(relaxation))
    return DataFreeEnergy(grid.astype(float), labs, pop, {lab: terms[lab][0][0] for lab in labs},
                          {lab: terms[lab][1][0] for lab in labs}, bool(relaxation), beta, so)


def data_setup(catalogue, data, ns, *, beta, labels, second_order: bool) -> tuple:
    """``(beta, grid, points, labels, F^pop, F^(2))`` of a closed-form data-conditional free energy: the checked
    inputs (``data`` a ``sampling.Dataset``, ``ns`` at most its size) and, per covered phase, the population
    refined free energy and its second-order term (zeros unless ``second_order``); shared with
    :func:`theory.data_laplace.data_laplace_free_energy`."""
    from sampling.data import Dataset  # deferred: jax start-up

    beta = check_beta(beta)
    if not isinstance(data, Dataset):
        raise ValueError(f"`data` must be a sampling.Dataset; got {type(data).__name__}.")
    if not isinstance(second_order, (bool, np.bool_)):
        raise ValueError(f"`second_order` must be True or False; got {second_order!r}.")
    grid = check_grid(ns, data.n)
    pts, _ = refined_phases(catalogue, labels=labels)
    labs = tuple(phase_label(p) for p in pts)
    so = population_second_order(pts, grid, beta=beta) if second_order else {lab: np.zeros(len(grid)) for lab in labs}
    return beta, grid, pts, labs, population_free_energy(pts, grid, beta=beta), so


def first_up_crossing(ns, d) -> float | None:
    """First up-crossing of d (< 0 to >= 0) by linear interpolation in log n (the rule of
    ``sampling.crossing_estimate``); None if d never crosses."""
    d = np.asarray(d, float)
    ln = np.log(np.asarray(ns, float))
    k = np.nonzero((d[:-1] < 0) & (d[1:] >= 0))[0]
    if k.size == 0:
        return None
    k = int(k[0])
    t = d[k] / (d[k] - d[k + 1])
    return float(math.exp(ln[k] + t * (ln[k + 1] - ln[k])))
