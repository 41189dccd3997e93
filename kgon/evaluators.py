"""Fast evaluators of the closed-form TMS potential, generated from the sympy derivation.

Each branch of :func:`kgon.symbolic.pair_term_branches` is turned into backend-agnostic arithmetic
code by ``sympy.lambdify`` (no hand-copied formulas); the case selection on the signs of a, b and
a + b is done with the backend's ``where``. The ``mid`` branches divide by a, so they are evaluated
on "safe" arguments outside their own case (the double-where trick); this keeps values and
gradients finite under jax and torch autodiff.

Public evaluators (all compute L(W, b) = (1/c) sum_{i,j} I_j T(s_i W_j . W_i, b_j, s_i delta_ij), docs/index.md;
importance I and input scale s default to ones; ``input_dist="point"`` puts every input at mu = 1, the pair
term T_point(a, b, delta) = (delta - ReLU(a + b))^2 of :func:`kgon.symbolic.point_pair_term_branches`):

- :func:`potential` - numpy, validated, batched over leading axes;
- :func:`potential_numpy` - numpy, unvalidated core;
- :func:`potential_jax`, :func:`potential_and_grad_jax` - jax, jit/vmap/grad compatible;
- :func:`potential_torch` - torch, autograd compatible.
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import TYPE_CHECKING, Callable

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from kgon.symbolic import DELTA, A, B, check_input_dist, pair_term_branches, point_pair_term_branches
from kgon.validation import check_feature_weights, check_params

if TYPE_CHECKING:  # torch is imported by potential_torch itself, so importing kgon does not load it
    import torch

__all__ = [
    "pair_term_fn",
    "pair_term_numeric",
    "potential",
    "potential_numpy",
    "potential_jax",
    "potential_and_grad_jax",
    "potential_torch",
]


@lru_cache(maxsize=None)
def _branch_functions() -> dict[str, Callable]:
    """Lambdified branch expressions, plain arithmetic valid for numpy, jax and torch arrays."""
    return {
        name: sp.lambdify((A, B, DELTA), expr, modules=[{}], cse=True)
        for name, expr in pair_term_branches().items()
    }


def _pair_term(where, a, b, delta):
    """T(a, b, delta) elementwise with the backend's ``where`` (see module docstring)."""
    f = _branch_functions()
    mid_pos = (a > 0) & (b < 0) & (a + b > 0)
    mid_neg = (a < 0) & (b > 0) & (a + b < 0)
    full = ((a >= 0) & (b >= 0)) | ((a < 0) & (a + b >= 0))
    # safe arguments: inside each mid case the kink -b/a is in (0, 1); elsewhere use a fixed point
    # of that case so the unused branch stays finite (and so does its gradient).
    a_p, b_p = where(mid_pos, a, 1.0), where(mid_pos, b, -0.5)
    a_n, b_n = where(mid_neg, a, -1.0), where(mid_neg, b, 0.5)
    val = where(full, f["full"](a, b, delta), f["none"](a, b, delta))
    val = where(mid_neg, f["mid_neg"](a_n, b_n, delta), val)
    return where(mid_pos, f["mid_pos"](a_p, b_p, delta), val)


@lru_cache(maxsize=None)
def _point_branch_functions() -> dict[str, Callable]:
    """Lambdified point-input branches ("on", "off"), plain arithmetic for every backend."""
    return {
        name: sp.lambdify((A, B, DELTA), expr, modules=[{}], cse=True)
        for name, expr in point_pair_term_branches().items()
    }


def _point_pair_term(where, a, b, delta):
    """T_point(a, b, delta) = (delta - ReLU(a + b))^2 elementwise with the backend's ``where``."""
    f = _point_branch_functions()
    return where(a + b > 0, f["on"](a, b, delta), f["off"](a, b, delta) + 0.0 * a)


def pair_term_fn(input_dist: str = "uniform") -> Callable:
    """The backend-agnostic pair term ``T(where, a, b, delta)`` of the input distribution ``input_dist``.

    ``"uniform"``: T(a, b, delta) = int_0^1 (mu delta - ReLU(a mu + b))^2 dmu; ``"point"``:
    T_point(a, b, delta) = (delta - ReLU(a + b))^2 (docs/failure.md, Memorization). ``where`` is the
    backend's ``where`` (numpy, jax.numpy or torch).
    """
    return _point_pair_term if check_input_dist(input_dist) == "point" else _pair_term


def pair_term_numeric(a, b, delta, *, input_dist: str = "uniform"):
    """Numpy evaluation of the pair term T(a, b, delta) = int_0^1 (mu*delta - ReLU(a*mu+b))^2 dmu.

    With ``input_dist="point"`` the point-input term (delta - ReLU(a + b))^2."""
    fn = pair_term_fn(input_dist)
    a, b, delta = (np.asarray(x, dtype=np.float64) for x in (a, b, delta))
    a, b, delta = np.broadcast_arrays(a, b, delta)
    return fn(np.where, a, b, delta)


def _feature_terms(where, G, b, eye, importance, input_scale, input_dist="uniform"):
    """The matrix of pair terms I_j T(s_i a_ji, b_j, s_i delta_ij), indexed (..., j, i).

    ``G`` is the Gram matrix (a_ij = W_i . W_j, symmetric), ``eye`` the identity; ``importance`` (I_j,
    weights on the output coordinates) and ``input_scale`` (s_i, the input x = s_i mu e_i) are ``None``
    for the uniform model or arrays of shape (..., c); ``input_dist`` picks the pair term
    (:func:`pair_term_fn`). Backend-agnostic: plain arithmetic and ``where``.
    """
    a, delta = G, eye
    if input_scale is not None:
        a, delta = G * input_scale[..., None, :], eye * input_scale[..., None, :]
    T = pair_term_fn(input_dist)(where, a, b[..., :, None], delta)
    if importance is not None:
        T = T * importance[..., :, None]
    return T


def potential_numpy(W: np.ndarray, b: np.ndarray, *, importance=None, input_scale=None,
                    input_dist: str = "uniform") -> np.ndarray:
    """Closed-form potential in numpy, no validation. ``W`` (..., r, c), ``b`` (..., c); see :func:`potential`."""
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    c = W.shape[-1]
    G = np.swapaxes(W, -1, -2) @ W
    opt = [None if x is None else np.asarray(x, dtype=np.float64) for x in (importance, input_scale)]
    return _feature_terms(np.where, G, b, np.eye(c), *opt, input_dist).sum(axis=(-2, -1)) / c


def potential(W, b, *, importance=None, input_scale=None, input_dist: str = "uniform") -> float | np.ndarray:
    """The TMS potential L(W, b) (population loss, high-sparsity limit), docs/index.md (conventions).

    L(W, b) = (1/c) sum_i int_0^1 sum_j I_j (s_i mu delta_ij - ReLU(a_ji s_i mu + b_j))^2 dmu,
    a_ji = W_j . W_i, i.e. (1/c) sum_{i,j} I_j T(s_i a_ji, b_j, s_i delta_ij) with the pair term T of
    :func:`kgon.pair_term`. With I = s = 1 (the default) this is the potential of Chen et al. (2023).

    Parameters
    ----------
    W : array_like, shape (r, c) or (..., r, c)
        Column ``W[:, i]`` is feature i's embedding. Any hidden dimension r >= 1: the potential depends
        on W only through the Gram matrix W^T W.
    b : array_like, shape (c,) or (..., c)
        Output biases.
    importance : array_like of shape (c,), optional, keyword-only
        Feature importance I_j > 0 weighting the squared error of output coordinate j (Elhage et al.
        2022): L_I = E sum_j I_j (x_j - f_j(x))^2. ``None``: all ones.
    input_scale : array_like of shape (c,), optional, keyword-only
        Input scaling s_i > 0: feature i's input is x = s_i mu e_i (the importance convention of the
        extension study that scales the inputs instead of weighting the outputs). ``None``: all ones.
    input_dist : {"uniform", "point"}, keyword-only
        ``"uniform"`` (default): mu ~ Uniform[0, 1]. ``"point"``: every input at mu = 1 (x = s_i e_i), the
        memorization setting with c = T normalized, nearly orthogonal examples (Henighan et al. 2023;
        docs/failure.md): L = (1/c) sum_{i,j} I_j (s_i delta_ij - ReLU(s_i a_ji + b_j))^2.

    Returns
    -------
    float or ndarray
        The loss; a float for a single parameter, an array of the leading shape for a batch.

    Raises
    ------
    ValueError
        If the shapes do not match, r < 1, c < 2, an entry is not finite, a weight is not > 0, or
        ``input_dist`` is not ``"uniform"`` or ``"point"``.
    """
    check_input_dist(input_dist)
    W, b = check_params(W, b)
    c = W.shape[-1]
    importance = check_feature_weights("importance", importance, c)
    input_scale = check_feature_weights("input_scale", input_scale, c)
    out = potential_numpy(W, b, importance=importance, input_scale=input_scale, input_dist=input_dist)
    return float(out) if out.ndim == 0 else out


def potential_jax(W, b, *, importance=None, input_scale=None, input_dist: str = "uniform"):
    """Closed-form potential in jax (float64 under ``kgon.configure_jax()``); jit-, vmap- and grad-compatible.

    ``W`` (r, c), ``b`` (c,); ``importance``, ``input_scale`` (arrays or ``None``) and ``input_dist`` as in
    :func:`potential`.
    """
    c = W.shape[-1]
    opt = [None if x is None else jnp.asarray(x) for x in (importance, input_scale)]
    return jnp.sum(_feature_terms(jnp.where, W.T @ W, b, jnp.eye(c), *opt, check_input_dist(input_dist))) / c


@partial(jax.jit, static_argnames=("input_dist",))
def _value_and_grad(W, b, importance, input_scale, input_dist="uniform"):
    loss = lambda W, b: potential_jax(W, b, importance=importance, input_scale=input_scale,  # noqa: E731
                                      input_dist=input_dist)
    return jax.value_and_grad(loss, argnums=(0, 1))(W, b)


def potential_and_grad_jax(W, b, *, importance=None, input_scale=None, input_dist: str = "uniform"):
    """(L, (dL/dW, dL/db)) in jax, jit-compiled; options as in :func:`potential`. ``jax.vmap`` for batches."""
    if check_input_dist(input_dist) == "uniform":
        return _value_and_grad(W, b, importance, input_scale)
    return _value_and_grad(W, b, importance, input_scale, input_dist=input_dist)


def potential_torch(W: torch.Tensor, b: torch.Tensor, *, importance=None, input_scale=None,
                    input_dist: str = "uniform") -> torch.Tensor:
    """Closed-form potential in torch (autograd-compatible); ``W`` (..., r, c), ``b`` (..., c).

    ``importance`` and ``input_scale`` as in :func:`potential` (tensors of shape (c,) or ``None``), and
    ``input_dist`` (``"uniform"`` or ``"point"``).
    """
    import torch  # deferred: importing kgon loads no torch (worker processes, CLI start-up)

    check_input_dist(input_dist)
    c = W.shape[-1]
    G = W.transpose(-1, -2) @ W
    eye = torch.eye(c, dtype=W.dtype, device=W.device)
    opt = [None if x is None else torch.as_tensor(x, dtype=W.dtype, device=W.device) for x in (importance, input_scale)]
    return _feature_terms(torch.where, G, b, eye, *opt, input_dist).sum(dim=(-2, -1)) / c
