"""Argument checks shared by the public functions (DESIGN.md convention 4)."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["check_feature_weights", "check_float", "check_int", "check_params", "check_rc"]


def check_int(name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int, or raise ``ValueError`` naming the argument and allowed range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"`{name}` must be an integer; got {value!r}.")
    value = int(value)
    if minimum is not None and value < minimum:
        allowed = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise ValueError(f"`{name}` must be an integer {allowed}; got {value}.")
    if maximum is not None and value > maximum:
        allowed = f"<= {maximum}" if minimum is None else f"in {minimum}..{maximum}"
        raise ValueError(f"`{name}` must be an integer {allowed}; got {value}.")
    return value


def check_float(
    name: str, value, *, positive: bool = False, minimum: float | None = None, maximum: float | None = None
) -> float:
    """Return ``value`` as a finite float, or raise ``ValueError`` naming the argument and what is allowed.

    ``positive``: require > 0; ``minimum`` / ``maximum``: closed bounds.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
        raise ValueError(f"`{name}` must be a finite number; got {value!r}.")
    value = float(value)
    if positive and not value > 0:
        raise ValueError(f"`{name}` must be a positive number; got {value!r}.")
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be a number >= {minimum}; got {value!r}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"`{name}` must be a number <= {maximum}; got {value!r}.")
    return value


def check_rc(*, r: int, c: int) -> tuple[int, int]:
    """Validate the model shape: r >= 1 hidden dimensions, c >= 2 features."""
    return check_int("r", r, minimum=1), check_int("c", c, minimum=2)


def check_params(W, b) -> tuple[np.ndarray, np.ndarray]:
    """Validate a parameter (W, b) given as arrays, possibly batched.

    ``W`` has shape (..., r, c) with r >= 1, c >= 2 and ``b`` shape (..., c) with the same leading
    shape; both finite. Returns float64 numpy arrays.
    """
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if W.ndim < 2:
        raise ValueError(f"`W` must have shape (r, c) (or (..., r, c) for a batch); got shape {W.shape}.")
    r, c = W.shape[-2:]
    if r < 1 or c < 2:
        raise ValueError(f"`W` must have r >= 1 rows and c >= 2 columns; got shape {W.shape}.")
    if b.shape != W.shape[:-2] + (c,):
        raise ValueError(
            f"`b` must have shape {W.shape[:-2] + (c,)} to match `W` of shape {W.shape}; got shape {b.shape}."
        )
    if not np.all(np.isfinite(W)):
        raise ValueError("`W` must be finite; got NaN or infinite entries.")
    if not np.all(np.isfinite(b)):
        raise ValueError("`b` must be finite; got NaN or infinite entries.")
    return W, b


def check_feature_weights(name: str, value, c: int) -> np.ndarray | None:
    """Validate per-feature weights (importance I or input scale s): ``None`` or c finite positive numbers.

    Returns ``None`` unchanged (uniform weights, the paper's model) or a float64 array of shape (c,).
    """
    if value is None:
        return None
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (c,):
        raise ValueError(f"`{name}` must have one entry per feature, shape ({c},); got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"`{name}` must be finite and > 0 for every feature; got {arr.tolist()}.")
    return arr
