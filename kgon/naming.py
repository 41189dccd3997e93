"""Names of critical points (docs/zoo.md; Chen et al. 2023, §4).

A critical point is a **k^{sigma+, sigma-}-gon**, named ``k`` + ``"+"`` * sigma+ + ``"-"`` * sigma-
(e.g. ``"5+"``, ``"4++-"``), when

- its k live (non-zero) columns have a common length and, in the plane they span, sit at the
  vertices of a regular k-gon (consecutive angles 2 pi / k; k = 1 is a single column, k = 2 an
  antipodal pair);
- its live columns whose output fires ("on") share a common bias;
- sigma- counts the live columns whose output never fires ("off": b_i <= -max_j W_i.W_j, for a
  polygon b_i <= -|W_i|^2) and sigma+ the dead (zero) columns with a positive bias (1/(2c) at a
  critical point).

For r >= 3 the live columns may instead be the vertices of a **regular polytope** of dimension m >= 3
(equal lengths, the normalised Gram matrix of a template, rank m): the simplex (``"tetrahedron"``,
``"simplex4"``, ...), the cross-polytope (``"octahedron"``, ``"cross4"``, ...), the hypercube
(``"cube"``, ``"tesseract"``), the icosahedron, the dodecahedron and the 24-cell; the name carries the
same ``+``/``-`` suffixes. A planar regular k-gon keeps its polygon name in any r (a k-gon family
embedded in a plane of R^r).

The **0-gon** has no live column: W = 0. With every bias <= 0 (all outputs dead, loss 1/3, the
constant prediction 0) it is named ``"0"``; dead columns with the positive bias 1/(2c) add ``"+"``.

Every other certified point is kept and named ``"irregular-<8 hex digits>"``, the first 8 hex digits
of the SHA-1 of ``"<c>|<r>|<loss rounded to 1e-9>"`` (with non-uniform importance I followed by
``"|I=<I_1>,...,<I_c>"``, each rounded to 1e-12, and with point inputs by ``"|inputs=point"``; a rounded
loss of -0 is written as 0): the name is
reproducible across searches and seeds because it depends only on the critical value, which is
constant on a level even where the level is a continuum of configurations (distinct critical values
at the same (c, r) get distinct names up to hash collisions, which the catalogue resolves with its
labels; a critical value within rounding error of a multiple of 5e-10 could still be rounded either
way, none is known).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from kgon.symmetry import DEAD_POS, OFF, ON, column_types

__all__ = ["PolygonInfo", "irregular_name", "point_name", "polygon_info", "polytope_name", "polytope_templates"]


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
    polytope: str | None = None
    """Name of the regular polytope (dimension >= 3) the live columns form, if any (module docstring)."""


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
    polytope = None
    if not regular and on and np.ptp(b[on]) <= tol:
        polytope = polytope_name(W[:, live], tol=tol)
    return PolygonInfo(k if regular else None, sigma_plus, sigma_minus, k, types, regular, polytope)


def polytope_templates() -> dict[str, np.ndarray]:
    """Unit vertex sets (columns) of the regular polytopes of dimension 3 and 4 named here."""
    out: dict[str, np.ndarray] = {}
    for m, name in ((3, "tetrahedron"), (4, "simplex4"), (5, "simplex5")):
        E = np.eye(m + 1) - 1.0 / (m + 1)  # centred basis of R^{m+1}: a simplex in its m-dim span
        E = np.linalg.svd(E)[0][:, :m].T @ E  # coordinates in that span
        out[name] = E / np.linalg.norm(E, axis=0)
    for m, name in ((3, "octahedron"), (4, "cross4"), (5, "cross5")):
        out[name] = np.hstack([np.eye(m), -np.eye(m)])
    for m, name in ((3, "cube"), (4, "tesseract")):
        grid = np.array(np.meshgrid(*[[-1.0, 1.0]] * m, indexing="ij")).reshape(m, -1)
        out[name] = grid / np.sqrt(m)
    g = (1 + np.sqrt(5)) / 2
    ico = [(0, s1, s2 * g) for s1 in (-1, 1) for s2 in (-1, 1)]
    ico = np.array([v[i:] + v[:i] for v in ico for i in range(3)], dtype=float).T
    out["icosahedron"] = ico / np.linalg.norm(ico, axis=0)
    dod = [np.array(v, dtype=float) for v in np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T]
    for s1 in (-1, 1):
        for s2 in (-1, 1):
            v = (0.0, s1 / g, s2 * g)
            dod += [np.array(v[i:] + v[:i]) for i in range(3)]
    dod = np.array(dod).T
    out["dodecahedron"] = dod / np.linalg.norm(dod, axis=0)
    c24 = [np.roll(v, i) for v in ([1, 1, 0, 0], [1, 0, 1, 0]) for i in range(4)]
    signs = [np.array(p) for p in np.array(np.meshgrid(*[[-1, 1]] * 4)).reshape(4, -1).T]
    c24 = {tuple(s * np.asarray(v, float)) for v in c24 for s in signs}
    c24 = np.array(sorted(c24)).T
    out["24-cell"] = c24 / np.linalg.norm(c24, axis=0)
    return out


_TEMPLATES: dict[str, np.ndarray] | None = None


def polytope_name(V, *, tol: float = 1e-6) -> str | None:
    """Name of the regular polytope of dimension >= 3 whose vertices are the columns of V, or None.

    The columns must have a common length and their normalised Gram matrix V^T V / l^2 must match a
    template's (same rank, and each row the same multiset of inner products as the template's rows,
    within ``tol``); these polytopes are vertex-transitive, so this identifies them up to isometry.
    """
    global _TEMPLATES
    V = np.asarray(V, dtype=np.float64)
    k = V.shape[1]
    if k < 4:
        return None
    lengths = np.linalg.norm(V, axis=0)
    if lengths.min() <= tol or np.ptp(lengths) > tol * max(1.0, lengths.max()):
        return None
    N = (V.T @ V) / lengths.mean() ** 2
    rank = int(np.sum(np.linalg.svd(V, compute_uv=False) > tol * lengths.max()))
    rows = np.sort(N, axis=1)
    if _TEMPLATES is None:
        _TEMPLATES = polytope_templates()
    for name, T in _TEMPLATES.items():
        if T.shape[1] != k or np.linalg.matrix_rank(T) != rank:
            continue
        trow = np.sort(T.T @ T, axis=1)[0]
        if np.all(np.abs(rows - trow) <= 10 * tol):
            return name
    return None


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


def irregular_name(c: int, r: int, loss: float, *, importance=None, input_dist: str = "uniform") -> str:
    """``"irregular-<hash>"`` for a point that is not a regular polygon (module docstring); the
    importance (None or all ones: uniform) and point inputs (``input_dist="point"``) enter the hash."""
    # + 0.0 turns a rounded -0.0 into 0.0: a zero-loss level evaluates to +-1e-17 at different
    # representatives of one continuum, which must not give two names
    key = f"{int(c)}|{int(r)}|{round(float(loss), 9) + 0.0:.9f}"
    if importance is not None and not all(float(v) == 1.0 for v in importance):
        key += "|I=" + ",".join(f"{round(float(v), 12):.12f}" for v in importance)
    if input_dist == "point":
        key += "|inputs=point"
    return "irregular-" + hashlib.sha1(key.encode()).hexdigest()[:8]


def point_name(W, b, loss: float, *, importance=None, input_dist: str = "uniform") -> str:
    """The name of a certified critical point (module docstring); ``importance`` and ``input_dist``
    enter only the hash of irregular names."""
    W = np.asarray(W, dtype=np.float64)
    info = polygon_info(W, b)
    suffix = "+" * info.sigma_plus + "-" * info.sigma_minus
    if info.regular:
        return f"{info.k}{suffix}"
    if info.polytope is not None:
        return f"{info.polytope}{suffix}"
    r, c = W.shape
    return irregular_name(c, r, loss, importance=importance, input_dist=input_dist)

