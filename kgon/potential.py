"""Fast evaluators of the closed-form TMS potential, generated from the sympy derivation.

Each branch of :func:`kgon.symbolic.pair_term_branches` is turned into backend-agnostic arithmetic
code by ``sympy.lambdify`` (no hand-copied formulas); the case selection on the signs of a, b and
a + b is done with the backend's ``where``. The ``mid`` branches divide by a, so they are evaluated
on "safe" arguments outside their own case (the double-where trick); this keeps values and
gradients finite under jax and torch autodiff.

Public evaluators (all compute L(W, b) = (1/c) sum_{i,j} T(W_j . W_i, b_j, delta_ij), SCIENCE.md §2):

- :func:`potential` - numpy, validated, batched over leading axes;
- :func:`potential_numpy` - numpy, unvalidated core;
- :func:`potential_jax`, :func:`potential_and_grad_jax` - jax, jit/vmap/grad compatible;
- :func:`potential_torch` - torch, autograd compatible.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np
import sympy as sp
import torch

import jax
import jax.numpy as jnp
from kgon.symbolic import A, B, DELTA, pair_term_branches
from kgon.validation import check_params

__all__ = [
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


def pair_term_numeric(a, b, delta):
    """Numpy evaluation of the pair term T(a, b, delta) = int_0^1 (mu*delta - ReLU(a*mu+b))^2 dmu."""
    a, b, delta = (np.asarray(x, dtype=np.float64) for x in (a, b, delta))
    a, b, delta = np.broadcast_arrays(a, b, delta)
    return _pair_term(np.where, a, b, delta)


def potential_numpy(W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Closed-form potential in numpy, no validation. ``W`` (..., r, c), ``b`` (..., c)."""
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    c = W.shape[-1]
    G = np.swapaxes(W, -1, -2) @ W
    T = _pair_term(np.where, G, b[..., :, None], np.eye(c))
    return T.sum(axis=(-2, -1)) / c


def potential(W, b) -> float | np.ndarray:
    """The TMS potential L(W, b) (population loss, high-sparsity limit), SCIENCE.md §2.

    L(W, b) = (1/c) sum_i int_0^1 sum_j (mu*delta_ij - ReLU(a_ji*mu + b_j))^2 dmu, a_ji = W_j . W_i.

    Parameters
    ----------
    W : array_like, shape (r, c) or (..., r, c)
        Column ``W[:, i]`` is feature i's embedding.
    b : array_like, shape (c,) or (..., c)
        Output biases.

    Returns
    -------
    float or ndarray
        The loss; a float for a single parameter, an array of the leading shape for a batch.

    Raises
    ------
    ValueError
        If the shapes do not match, r < 1, c < 2, or an entry is not finite.
    """
    W, b = check_params(W, b)
    out = potential_numpy(W, b)
    return float(out) if out.ndim == 0 else out


def potential_jax(W, b):
    """Closed-form potential in jax (float64). jit-, vmap- and grad-compatible; ``W`` (r, c), ``b`` (c,)."""
    c = W.shape[-1]
    G = W.T @ W
    T = _pair_term(jnp.where, G, b[:, None], jnp.eye(c))
    return jnp.sum(T) / c


_value_and_grad = jax.jit(jax.value_and_grad(potential_jax, argnums=(0, 1)))


def potential_and_grad_jax(W, b):
    """(L, (dL/dW, dL/db)) in jax, jit-compiled. Use ``jax.vmap`` for batches."""
    return _value_and_grad(W, b)


def potential_torch(W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Closed-form potential in torch (autograd-compatible); ``W`` (..., r, c), ``b`` (..., c)."""
    c = W.shape[-1]
    G = W.transpose(-1, -2) @ W
    eye = torch.eye(c, dtype=W.dtype, device=W.device)
    T = _pair_term(torch.where, G, b[..., :, None], eye)
    return T.sum(dim=(-2, -1)) / c
