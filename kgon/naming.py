"""Names of critical points (SCIENCE.md §3; Chen et al. 2023, §4).

A critical point is a **k^{sigma+, sigma-}-gon**, named ``k`` + ``"+"`` * sigma+ + ``"-"`` * sigma-
(e.g. ``"5+"``, ``"4++-"``), when

- its k live (non-zero) columns have a common length and, in the plane they span, sit at the
  vertices of a regular k-gon (consecutive angles 2 pi / k; k = 1 is a single column, k = 2 an
  antipodal pair);
- its live columns whose output fires ("on") share a common bias;
- sigma- counts the live columns whose output never fires ("off": b_i <= -max_j W_i.W_j, for a
  polygon b_i <= -|W_i|^2) and sigma+ the dead (zero) columns with a positive bias (1/(2c) at a
  critical point).

The **0-gon** has no live column: W = 0. With every bias <= 0 (all outputs dead, loss 1/3, the
constant prediction 0) it is named ``"0"``; dead columns with the positive bias 1/(2c) add ``"+"``.

Every other certified point is kept and named ``"irregular-<8 hex digits>"``, the first 8 hex digits
of the SHA-1 of ``"<c>|<r>|<loss rounded to 1e-9>"``: the name is reproducible across searches and
seeds because it depends only on the critical value (distinct critical values at the same (c, r)
get distinct names up to hash collisions, which the catalogue resolves with its labels).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from kgon.symmetry import DEAD_POS, OFF, ON, column_types

__all__ = ["PolygonInfo", "polygon_info", "point_name", "irregular_name"]


@dataclass(frozen=True)
class PolygonInfo:
    """Structure of a point: ``k`` (None if the live columns are not a regular polygon), the two
    counts and the column types (``"on"``, ``"off"``, ``"dead"``, ``"dead+"``)."""

    k: int | None
    sigma_plus: int
    sigma_minus: int
    n_live: int
    types: tuple[str, ...]
    regular: bool


def polygon_info(W, b, *, tol: float = 1e-6) -> PolygonInfo:
    """Classify the columns of (W, b) and test whether the live ones form a regular polygon.

    Lengths, angles (radians) and on-biases are compared with absolute tolerance ``tol``.
    """
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    types = tuple(column_types(W, b))
    live = [i for i, t in enumerate(types) if t in (ON, OFF)]
    on = [i for i, t in enumerate(types) if t == ON]
    sigma_plus = sum(t == DEAD_POS for t in types)
    sigma_minus = sum(t == OFF for t in types)
    k = len(live)
    regular = _is_regular(W[:, live], tol) and (len(on) == 0 or np.ptp(b[on]) <= tol)
    if live and not on:
        regular = False  # all live outputs off: a flat family, not an isolated polygon
    return PolygonInfo(k if regular else None, sigma_plus, sigma_minus, k, types, regular)


def _is_regular(V: np.ndarray, tol: float) -> bool:
    k = V.shape[1]
    if k == 0:
        return True  # the 0-gon: no live column
    lengths = np.linalg.norm(V, axis=0)
    if np.ptp(lengths) > tol * max(1.0, lengths.max()):
        return False
    if k == 1:
        return True
    # the plane spanned by the columns (rank <= 2 required)
    U, s, _ = np.linalg.svd(V, full_matrices=False)
    if s.size > 2 and s[2] > tol * max(1.0, s[0]):
        return False
    z = U[:, :2].T @ V if U.shape[1] >= 2 else np.vstack([U[:, :1].T @ V, np.zeros((1, k))])
    ang = np.sort(np.mod(np.arctan2(z[1], z[0]), 2 * np.pi))
    gaps = np.diff(np.concatenate([ang, [ang[0] + 2 * np.pi]]))
    return bool(np.all(np.abs(gaps - 2 * np.pi / k) <= tol))


def irregular_name(c: int, r: int, loss: float) -> str:
    """``"irregular-<hash>"`` for a point that is not a regular polygon (module docstring)."""
    key = f"{int(c)}|{int(r)}|{round(float(loss), 9):.9f}"
    return "irregular-" + hashlib.sha1(key.encode()).hexdigest()[:8]


def point_name(W, b, loss: float) -> str:
    """The name of a certified critical point (module docstring)."""
    W = np.asarray(W, dtype=np.float64)
    info = polygon_info(W, b)
    if info.regular:
        return f"{info.k}" + "+" * info.sigma_plus + "-" * info.sigma_minus
    r, c = W.shape
    return irregular_name(c, r, loss)

