"""Argument checks shared by the public functions (DESIGN.md convention 4)."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["check_int", "check_rc", "check_params"]


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
