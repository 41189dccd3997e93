"""Critical-point search of the closed-form TMS potential (docs/zoo.md).

Every critical point (minimum or saddle) of L(W, b) solves grad L(w) = 0, w = (W, b) in R^d,
d = r c + c. The search

1. draws ``n_starts`` starting points of three kinds (a third each): Gaussian random parameters;
   perturbed regular polygons (k live columns of a common length at angles 2 pi m / k in a random
   plane, a common bias, n_off output-off vertices, n_plus dead columns with positive bias, the
   others negative, plus noise; the starts cycle through every (k, n_off, n_plus) so that each
   polygon family is seeded, :func:`polygon_shapes`); and endpoints of plain gradient descent
   from Gaussian starts (which end near minima and
   plateau saddles);
2. solves grad L = 0 from every start with a damped Gauss-Newton (Levenberg-Marquardt) iteration in
   float64, batched with ``jax.vmap``:

       (H^2 + mu I) delta = -H g,    g = grad L(w),  H = hess L(w),

   accepting a step only if it lowers |g| (then mu <- mu / 3, else mu <- 4 mu). L is C^1 and only
   piecewise C^2, so H is the Hessian of the active piece (a generalized Jacobian of g); the
   iteration is a semismooth Newton method and converges quadratically to regular zeros of g, and
   the step is the least-norm one along flat directions (free dead biases, ...). g and H are
   computed in closed form from the first and second derivatives of the pair terms, which
   depend on W only through the Gram matrix G = W^T W (:func:`analytic_value_grad_hess`; the
   same numbers as ``jax.hessian`` of the potential to rounding, ~20x cheaper), once per
   iteration at the trial point;
3. cleans each endpoint (columns shorter than ``DEAD_TOL`` = 1e-4 set exactly to zero where the
   result is still certified, otherwise only those shorter than 1e-7; free biases moved to a
   canonical value, see :func:`kgon.symmetry.canonicalize`) and **certifies** it: the full gradient
   norm |grad L| <= 1e-9 (``GRAD_TOL``). Endpoints that fail are dropped and counted as
   non-converged.

Endpoints at which the Newton iteration stalls at a kink with a small gradient (<= 1e-4) are
snapped to regular polygons and certified there (``kgon.critical.refine.refine_critical``).
Deduplication, naming and geometry are done on the certified points by :mod:`kgon.critical.driver`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from kgon.evaluators import pair_term_fn, potential_jax
from kgon.symbolic import check_input_dist
from kgon.validation import check_feature_weights, check_int

__all__ = [
    "ModelSpec",
    "as_model",
    "GRAD_TOL",
    "DEAD_TOL",
    "solve_critical",
    "gradient_descent",
    "make_starts",
    "polygon_shapes",
    "certify",
    "gradient_norm",
    "loss_and_grad_norm",
    "flatten",
    "unflatten",
    "hessians",
    "loss_fn",
    "loss_fn_model",
    "loss_fn_args",
    "analytic_value_grad_hess",
]

GRAD_TOL = 1e-9
"""Certification threshold on the full Euclidean gradient norm |grad L(W, b)|."""

DEAD_TOL = 1e-4
"""Columns with |W_i| below this are set exactly to zero ("dead") if the result stays certified."""

_CHUNK = 256  # batch size of the compiled solvers (inputs are padded to a multiple of it)
_SMALL = 4  # batch size for at most this many rows


@dataclass(frozen=True)
class ModelSpec:
    """The model whose potential the search works on: c features, hidden dimension r, importance, inputs.

    Hashable and frozen: it keys the compiled solvers and the catalogue cache.

    Attributes
    ----------
    c : int
        Number of features (>= 2).
    r : int
        Hidden dimension (>= 1). Default 2.
    importance : tuple of float or None
        Feature importance I_j > 0 weighting output coordinate j (:func:`kgon.potential`); c finite
        positive numbers. ``None`` (the default) and all ones are the uniform model and are stored as
        ``None``, so that the uniform model's computations never see an importance vector.
    input_dist : {"uniform", "point"}
        The input distribution: ``"uniform"`` (the default, mu ~ Uniform[0, 1], the TMS) or ``"point"``
        (every input at mu = 1: the memorization setting, c = T training examples; :func:`kgon.potential`).
        The default leaves :meth:`key` and every stored form of the uniform model unchanged.
    """

    c: int
    r: int = 2
    importance: tuple[float, ...] | None = None
    input_dist: str = "uniform"

    def __post_init__(self):
        check_int("c", self.c, minimum=2)
        check_int("r", self.r, minimum=1)
        check_input_dist(self.input_dist)
        if self.importance is not None:
            arr = check_feature_weights("importance", self.importance, self.c)
            imp = tuple(float(v) for v in arr)
            object.__setattr__(self, "importance", None if all(v == 1.0 for v in imp) else imp)

    @property
    def uniform(self) -> bool:
        """True for the uniform model (importance all ones)."""
        return self.importance is None

    @property
    def point(self) -> bool:
        """True for point inputs (``input_dist == "point"``)."""
        return self.input_dist == "point"

    @property
    def d(self) -> int:
        """Number of parameters r c + c."""
        return self.r * self.c + self.c

    def weights(self) -> np.ndarray:
        """The importance as an array of shape (c,) (ones for the uniform model)."""
        return np.ones(self.c) if self.importance is None else np.array(self.importance)

    def key(self) -> str:
        """Text key: ``"c=<c>|r=<r>"``, plus ``"|I=<I_1>,...,<I_c>"`` (repr of each float) if the
        importance is not uniform, plus ``"|inputs=point"`` for point inputs."""
        out = f"c={self.c}|r={self.r}"
        if self.importance is not None:
            out += "|I=" + ",".join(repr(v) for v in self.importance)
        if self.point:
            out += "|inputs=point"
        return out


def as_model(r, c: int | None = None) -> ModelSpec:
    """A :class:`ModelSpec` from ``r`` (a ModelSpec, returned as is) or from the pair (r, c) (uniform model)."""
    if isinstance(r, ModelSpec):
        if c is not None and c != r.c:
            raise ValueError(f"`c` = {c!r} does not match the model's c = {r.c}.")
        return r
    if c is None:
        raise ValueError("`c` is required when `r` is an int (or pass a ModelSpec).")
    return ModelSpec(c=c, r=r)


def _split(x, r: int, c: int):
    return x[: r * c].reshape(r, c), x[r * c :]


def flatten(W, b) -> np.ndarray:
    """w = (W.ravel() row-major, b): the parameter vector of length r c + c."""
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.concatenate([W.reshape(W.shape[:-2] + (-1,)), b], axis=-1)


def unflatten(x, r: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`flatten`."""
    x = np.asarray(x, dtype=np.float64)
    return x[..., : r * c].reshape(x.shape[:-1] + (r, c)), x[..., r * c :]


def loss_fn(r, c: int | None = None):
    """L(x) for flattened x of the model ``as_model(r, c)`` (jax; one function per model)."""
    return loss_fn_model(as_model(r, c))


@lru_cache(maxsize=None)
def loss_fn_model(model: ModelSpec):
    """L(x) of one model (jax function of x alone; the importance is a constant of it)."""
    f = loss_fn_args(model.r, model.c, not model.uniform, model.point)
    imp = model.weights()
    return lambda x: f(x, jnp.asarray(imp))


@lru_cache(maxsize=None)
def loss_fn_args(r: int, c: int, weighted: bool, point: bool = False):
    """L(x, imp): the importance as an argument, so that one compilation serves every importance
    vector (the continuation in the importance, :mod:`kgon.critical.continuation`); the uniform
    model ignores ``imp`` and evaluates the paper's unweighted potential. ``point``: point inputs
    (:class:`ModelSpec`)."""
    if point:
        def f(x, imp):
            W, b = _split(x, r, c)
            return potential_jax(W, b, importance=imp if weighted else None, input_dist="point")
    elif not weighted:
        def f(x, imp):
            W, b = _split(x, r, c)
            return potential_jax(W, b)
    else:
        def f(x, imp):
            W, b = _split(x, r, c)
            return potential_jax(W, b, importance=imp)

    return f


def _bind(fn, model: ModelSpec):
    """``fn(X, *args, imp)`` with the model's importance bound as the last argument."""
    imp = jnp.asarray(model.weights())
    return lambda X, *args: fn(X, *args, imp)


@lru_cache(maxsize=None)
def _value_grad_compiled(r: int, c: int, weighted: bool, point: bool = False):
    f = loss_fn_args(r, c, weighted, point)
    return jax.jit(jax.vmap(jax.value_and_grad(f), in_axes=(0, None)))


def _value_grad_batched(model: ModelSpec):
    return _bind(_value_grad_compiled(model.r, model.c, not model.uniform, model.point), model)


@lru_cache(maxsize=None)
def _hessian_compiled(r: int, c: int, weighted: bool, point: bool = False):
    vgh = analytic_value_grad_hess(r, c, weighted, point)
    return jax.jit(jax.vmap(lambda x, imp: vgh(x, imp)[2], in_axes=(0, None)))


def _hessian_batched(model: ModelSpec):
    return _bind(_hessian_compiled(model.r, model.c, not model.uniform, model.point), model)


def _pair_derivatives(G, b, imp, weighted: bool, point: bool = False):
    """First and second derivatives of the pair terms I_j T(a, b_j, delta_ji) at a = G_ji (c x c,
    elementwise): P = dT/da, Q = dT/db, S = d2T/da2, U = d2T/da db, V = d2T/db2 (each times I_j),
    and the loss (1/c) sum_{j,i} I_j T (docs/index.md; :func:`kgon.evaluators.potential_jax`).

    The pair term is elementwise in (a, b), so the derivatives of the sum with respect to the
    matrices A = G and B_ji = b_j (taken as independent) are the elementwise derivatives; the second
    derivatives are two forward-mode passes over the gradient. The case selection (which smooth
    piece of T) is the same ``where`` as in the potential, so at kinks these are the derivatives of
    the active piece, as with ``jax.hessian`` of the potential. ``point``: the point-input pair term.
    """
    c = G.shape[-1]
    eye = jnp.eye(c)
    B = jnp.broadcast_to(b[:, None], (c, c))
    w = imp[:, None] if weighted else jnp.ones((c, 1))

    term = pair_term_fn("point" if point else "uniform")

    def total(A, Bm):
        return jnp.sum(w * term(jnp.where, A, Bm, eye))

    grad = jax.grad(total, argnums=(0, 1))
    ones, zeros = jnp.ones((c, c)), jnp.zeros((c, c))
    (P, Q), (S, U) = jax.jvp(grad, (G, B), (ones, zeros))
    _, (_, V) = jax.jvp(grad, (G, B), (zeros, ones))
    return total(G, B) / c, P, Q, S, U, V


def analytic_value_grad_hess(r: int, c: int, weighted: bool, point: bool = False):
    """(L, grad L, hess L)(x, imp) in closed form from the pair-term derivatives (L depends on W
    only through G = W^T W; see :func:`_pair_derivatives`). With a = G_ji, dG_ji/dW_ak =
    delta_jk W_ai + delta_ik W_aj:

        grad_W = W (P + P^T) / c,   grad_b_j = sum_i Q_ji / c,
        c H[(a,k),(b,l)] = delta_kl sum_i (S + S^T)_ki W_ai W_bi + (S + S^T)_kl W_al W_bk
                           + delta_ab (P + P^T)_kl,
        c H[(a,k), b_m] = delta_mk sum_i U_mi W_ai + U_mk W_am,   c H[b_m, b_n] = delta_mn sum_i V_mi,

    the exact Hessian of the active smooth piece, equal to ``jax.hessian`` of the potential up to
    rounding at a fraction of its cost (no d-fold forward pass through the pair terms). ``point``:
    point inputs (:class:`ModelSpec`).
    """
    d = r * c + c

    def vgh(x, imp):
        W, b = _split(x, r, c)
        G = W.T @ W
        L, P, Q, S, U, V = _pair_derivatives(G, b, imp, weighted, point)
        Ps, Ss = P + P.T, S + S.T
        gW = W @ Ps
        gb = jnp.sum(Q, axis=1)
        eye_c, eye_r = jnp.eye(c), jnp.eye(r)
        M = jnp.einsum("ki,ai,bi->akb", Ss, W, W)  # (r, c, r): the delta_kl block
        HWW = (
            M[:, :, :, None] * eye_c[None, :, None, :]
            + jnp.einsum("kl,al,bk->akbl", Ss, W, W)
            + eye_r[:, None, :, None] * Ps[None, :, None, :]
        ).reshape(r * c, r * c)
        WU = W @ U.T  # (r, c): (a, m) -> sum_i W_ai U_mi
        HWb = (WU[:, :, None] * eye_c[None, :, :] + W[:, None, :] * U.T[None, :, :]).reshape(r * c, c)
        Hbb = jnp.diag(jnp.sum(V, axis=1))
        H = jnp.concatenate(
            [jnp.concatenate([HWW, HWb], axis=1), jnp.concatenate([HWb.T, Hbb], axis=1)], axis=0
        ) / c
        g = jnp.concatenate([gW.reshape(-1), gb]) / c
        return L, g, H

    del d
    return vgh


@lru_cache(maxsize=None)
def _lm_compiled(r: int, c: int, weighted: bool, point: bool = False):
    """jit(vmap) Levenberg-Marquardt on grad L = 0 (module docstring, step 2); the number of
    iterations and the importance are traced arguments, so one compilation serves every call.

    The gradient and Hessian come from the closed form :func:`analytic_value_grad_hess` and are
    evaluated once per iteration, at the trial point; a rejected step keeps those of the current
    point (the iteration is the same as recomputing them there)."""
    vgh = analytic_value_grad_hess(r, c, weighted, point)
    d = r * c + c
    eye = jnp.eye(d)

    def solve_one(x0, iters, imp):
        def body(_, carry):
            x, mu, gv, Hv, g2 = carry
            rhs = Hv @ gv
            A = Hv @ Hv + mu * eye
            dx = -jnp.linalg.solve(A, rhs)
            xn = x + dx
            _, gn, Hn = vgh(xn, imp)
            g2n = jnp.sum(gn * gn)
            ok = jnp.isfinite(g2n) & (g2n < g2)
            x = jnp.where(ok, xn, x)
            gv = jnp.where(ok, gn, gv)
            Hv = jnp.where(ok, Hn, Hv)
            g2 = jnp.where(ok, g2n, g2)
            mu = jnp.where(ok, jnp.maximum(mu / 3.0, 1e-14), jnp.minimum(mu * 4.0, 1e8))
            return x, mu, gv, Hv, g2

        _, g0, H0 = vgh(x0, imp)
        x, _, _, _, _ = jax.lax.fori_loop(0, iters, body, (x0, jnp.asarray(1e-3), g0, H0, jnp.sum(g0 * g0)))
        return x

    return jax.jit(jax.vmap(solve_one, in_axes=(0, None, None)))


def _lm_solver(model: ModelSpec):
    return _bind(_lm_compiled(model.r, model.c, not model.uniform, model.point), model)


@lru_cache(maxsize=None)
def _gd_compiled(r: int, c: int, weighted: bool, steps: int, lr: float, point: bool = False):
    g = jax.grad(loss_fn_args(r, c, weighted, point))

    def run_one(x0, imp):
        def body(x, _):
            return x - lr * g(x, imp), None

        x, _ = jax.lax.scan(body, x0, None, length=steps)
        return x

    return jax.jit(jax.vmap(run_one, in_axes=(0, None)))


def _gd_solver(model: ModelSpec, steps: int, lr: float):
    return _bind(_gd_compiled(model.r, model.c, not model.uniform, steps, lr, model.point), model)


def _chunked(fn, X: np.ndarray, *args) -> np.ndarray:
    """Apply a compiled batched function in fixed-size chunks (one compilation per shape: chunks of
    256 rows, or of ``_SMALL`` rows for at most that many, e.g. the continuation's single points)."""
    n = X.shape[0]
    if n == 0:
        return X.copy()
    size = _SMALL if n <= _SMALL else _CHUNK
    outs = []
    for s in range(0, n, size):
        blk = X[s : s + size]
        pad = size - blk.shape[0]
        if pad:
            blk = np.concatenate([blk, np.repeat(blk[-1:], pad, axis=0)], axis=0)
        out = np.asarray(fn(jnp.asarray(blk), *args))
        outs.append(out[: size - pad])
    return np.concatenate(outs, axis=0)


def solve_critical(X: np.ndarray, r, c: int | None = None, *, iters: int = 200) -> np.ndarray:
    """Run the LM iteration on grad L = 0 from each row of ``X`` (shape (n, r c + c)).

    ``r, c``: the shape of the uniform model, or ``r`` a :class:`ModelSpec` (and ``c`` omitted); the
    same for every function of this module that takes ``r, c``."""
    X = np.asarray(X, dtype=np.float64)
    model = as_model(r, c)
    solver = _lm_solver(model)
    first = min(int(iters), 40)
    out = _chunked(solver, X, jnp.asarray(first))
    if iters > first and out.shape[0]:
        # continue only the rows that are not yet converged (most are after 40 iterations)
        _, gn = loss_and_grad_norm(out, model)
        todo = ~(gn <= 1e-3 * GRAD_TOL)
        if np.any(todo):
            out[todo] = _chunked(solver, out[todo], jnp.asarray(int(iters) - first))
    return out


def gradient_descent(X: np.ndarray, r, c: int | None = None, *, steps: int = 1500, lr: float = 0.1) -> np.ndarray:
    """Plain gradient descent w <- w - lr grad L(w) from each row of ``X``."""
    return _chunked(_gd_solver(as_model(r, c), steps, lr), np.asarray(X, dtype=np.float64))


def loss_and_grad_norm(X: np.ndarray, r, c: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """L(w) and |grad L(w)| for each row of ``X``."""
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] == 0:
        return np.zeros(0), np.zeros(0)
    fn = _value_grad_batched(as_model(r, c))
    vals, grads = [], []
    size = _SMALL if X.shape[0] <= _SMALL else _CHUNK
    for s in range(0, X.shape[0], size):
        blk = X[s : s + size]
        pad = size - blk.shape[0]
        if pad:
            blk = np.concatenate([blk, np.repeat(blk[-1:], pad, axis=0)], axis=0)
        v, gr = fn(jnp.asarray(blk))
        vals.append(np.asarray(v)[: size - pad])
        grads.append(np.asarray(gr)[: size - pad])
    g = np.concatenate(grads)
    return np.concatenate(vals), np.sqrt(np.sum(g * g, axis=-1))


def gradient_norm(W, b, *, importance=None, input_dist: str = "uniform") -> float:
    """|grad L(W, b)| (full Euclidean norm over W and b) for one parameter (``importance`` and
    ``input_dist`` as in :class:`ModelSpec`)."""
    r, c = np.shape(W)
    model = ModelSpec(c=c, r=r, importance=importance, input_dist=input_dist)
    _, gn = loss_and_grad_norm(flatten(W, b)[None], model)
    return float(gn[0])


def hessians(X: np.ndarray, r, c: int | None = None) -> np.ndarray:
    """Hessian of L (of the active smooth piece at kinks) at each row of ``X``; shape (n, d, d)."""
    X = np.asarray(X, dtype=np.float64)
    model = as_model(r, c)
    return _chunked(_hessian_batched(model), X) if X.shape[0] else np.zeros((0, model.d, model.d))


def make_starts(rng: np.random.Generator, n: int, r, c: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Starting points: (random, perturbed polygons, to-be-descended random) in thirds.

    Returns ``(X, kind)`` with ``X`` shape (n, r c + c) and ``kind`` 0 (random), 1 (polygon),
    2 (gradient-descent start; the caller descends these before solving).
    """
    model = as_model(r, c)
    r, c, d = model.r, model.c, model.d
    kind = np.arange(n) % 3
    X = np.empty((n, d))
    shapes = polygon_shapes(c)
    n_poly = 0
    for s in range(n):
        if kind[s] == 1:
            X[s] = flatten(*_polygon_start(rng, r, c, shapes[n_poly % len(shapes)]))
            n_poly += 1
        else:
            scale = rng.uniform(0.3, 1.3)
            W = rng.normal(0.0, scale / np.sqrt(r), (r, c))
            b = rng.normal(-0.1, 0.3, c)
            X[s] = flatten(W, b)
    return X, kind


def polygon_shapes(c: int) -> list[tuple[int, int, int]]:
    """All (k, n_off, n_plus) with 2 <= k <= c, 0 <= n_off < k, 0 <= n_plus <= c - k: the polygon
    starts cycle through them so that every family is seeded."""
    return [(k, n_off, n_plus) for k in range(2, c + 1) for n_off in range(k) for n_plus in range(c - k + 1)]


def _polygon_start(
    rng: np.random.Generator, r: int, c: int, shape: tuple[int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """A perturbed regular polygon in a random 2-plane (see module docstring).

    ``shape = (k, n_off, n_plus)``: k vertices of which n_off random ones get the output-off bias
    -3/2 l^2, and n_plus of the c - k dead columns the positive bias 1/(2c) (the others -1/(2c)).
    Length l ~ U(0.7, 1.5) (U(0.9, 1.1) for k <= 4, whose families sit at l = 1), bias
    ~ U(-0.8, 0.1) (U(-0.1, 0.05) for k <= 4), noise ~ U(0.005, 0.08) per entry.
    """
    k, n_off, n_plus = shape
    small = k <= 4
    length = rng.uniform(0.9, 1.1) if small else rng.uniform(0.7, 1.5)
    bias = rng.uniform(-0.1, 0.05) if small else rng.uniform(-0.8, 0.1)
    basis = np.linalg.qr(rng.normal(size=(r, 2)))[0] if r > 2 else np.eye(r)[:, :2]
    phase = rng.uniform(0, 2 * np.pi)
    ang = phase + 2 * np.pi * np.arange(k) / k
    W = np.zeros((r, c))
    W[:, :k] = basis @ (length * np.stack([np.cos(ang), np.sin(ang)]))
    b = np.empty(c)
    b[:k] = bias
    off = rng.choice(k, size=n_off, replace=False)
    b[off] = -1.5 * length**2
    b[k:] = -1.0 / (2 * c)
    b[k : k + n_plus] = 1.0 / (2 * c)
    noise = rng.uniform(0.005, 0.08)
    W += noise * rng.normal(size=W.shape)
    b += noise * rng.normal(size=b.shape)
    perm = rng.permutation(c)
    return W[:, perm], b[perm]


def certify(X: np.ndarray, r, c: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Losses, gradient norms and the certified mask (|grad L| <= GRAD_TOL) for rows of ``X``."""
    L, gn = loss_and_grad_norm(X, r, c)
    ok = np.isfinite(L) & np.isfinite(gn) & (gn <= GRAD_TOL)
    return L, gn, ok
