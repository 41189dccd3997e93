"""Critical points followed in the feature importance, and the importance at which the global minimum changes.

With importance I = (1, ..., 1, u) (the last feature weighted by u > 0; docs/general.md) the two
lowest critical levels of the uniform model at c features (Chen et al. 2023, §4) are

- the **(c-1)+ family member**: a regular (c-1)-gon on the first c - 1 features and the last feature
  dead with the positive bias 1/(2c). Its columns do not interact with the last output, so its loss
  is exactly affine in u: L = A + u B, B = (1/c) (1/3 - 1/(4c)) (the last output's term at its
  optimal bias; docs/general.md);
- the **c-gon** (all c columns live), which for u != 1 is no longer regular: the last column
  shrinks as u decreases and the configuration is an irregular certified minimum.

At c = 6 the c-gon is the global minimum of the uniform model (L = 0.04819 < 0.06180 for 5+), and
for small u the 5+ is lower, so the catalogue's global minimum changes at a threshold u*.
:func:`importance_threshold` finds it: both minima are **followed** in u from their exact u = 1
forms (:func:`kgon.kgon`), each step re-solved by the catalogue's Newton refinement
(:func:`kgon.critical.refine.refine_critical`) from the previous solution and **re-certified**
(|grad L| <= 1e-9 and no negative Hessian eigenvalue); the sign change of the difference of the
two certified losses is bracketed on the path and the root found with Brent's method
(``scipy.optimize.brentq``), every evaluation re-solved from the nearest followed solution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from kgon.critical.refine import refine_critical
from kgon.critical.search import ModelSpec, flatten, hessians, unflatten
from kgon.polygons import kgon as exact_kgon
from kgon.validation import check_float, check_int

__all__ = ["ImportanceThreshold", "follow_importance", "importance_threshold"]

_ZERO_TOL = 1e-8


@dataclass(frozen=True)
class ImportanceThreshold:
    """Result of :func:`importance_threshold`.

    Attributes
    ----------
    c, r : int
        Model shape; the importance is (1, ..., 1, u).
    threshold : float
        u* at which the two certified minima have equal loss.
    xtol : float
        Absolute tolerance of the root finder on u.
    loss : float
        The common loss at u*.
    below, above : str
        Which minimum is the lower one for u < u* and for u > u*: ``"(c-1)+"`` (e.g. ``"5+"``) or
        ``"c-column"`` (e.g. ``"6-column"``).
    W_family, b_family, W_columns, b_columns : ndarray
        The two certified minima at u* (the (c-1)+ family member and the c-column configuration).
    path : tuple of (u, loss_family, loss_columns)
        The followed values on the coarse path from u = 1 down to the bracket.
    """

    c: int
    r: int
    threshold: float
    xtol: float
    loss: float
    below: str
    above: str
    W_family: np.ndarray
    b_family: np.ndarray
    W_columns: np.ndarray
    b_columns: np.ndarray
    path: tuple[tuple[float, float, float], ...]

    def to_dict(self) -> dict:
        return {
            "c": self.c, "r": self.r, "threshold": self.threshold, "xtol": self.xtol, "loss": self.loss,
            "below": self.below, "above": self.above,
            "W_family": self.W_family.tolist(), "b_family": self.b_family.tolist(),
            "W_columns": self.W_columns.tolist(), "b_columns": self.b_columns.tolist(),
            "path": [list(p) for p in self.path],
        }


def _model(c: int, r: int, u: float) -> ModelSpec:
    return ModelSpec(c=c, r=r, importance=(1.0,) * (c - 1) + (float(u),))


def _resolve(x: np.ndarray, model: ModelSpec) -> tuple[np.ndarray, float] | None:
    """Refine from x at the model; the certified point and its loss if it is a minimum, else None."""
    return _resolve_many(np.asarray(x, dtype=np.float64)[None], model)[0]


def _resolve_many(X: np.ndarray, model: ModelSpec) -> list[tuple[np.ndarray, float] | None]:
    """:func:`_resolve` for each row of X, in one batch."""
    S, L, ok = refine_critical(X, model)
    Hs = hessians(S, model)
    out = []
    for x, lo, good, H in zip(S, L, ok, Hs):
        lam = np.linalg.eigvalsh(0.5 * (H + H.T))
        neg = np.any(lam < -_ZERO_TOL * max(1.0, float(np.max(np.abs(lam)))))
        out.append((x, float(lo)) if good and not neg else None)
    return out


def follow_importance(W, b, importances, *, max_halvings: int = 6) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Follow a certified minimum (W, b) through a sequence of importance vectors.

    Each importance of the sequence is reached from the previous solution by re-solving grad L = 0
    (:func:`kgon.critical.refine.refine_critical`) and re-certifying (|grad L| <= 1e-9, Hessian
    without negative eigenvalues); a step that fails is split in two (linear interpolation of the
    importance), at most ``max_halvings`` times.

    Parameters
    ----------
    W : array_like, shape (r, c)
    b : array_like, shape (c,)
        A critical point of the potential with the first importance of the sequence.
    importances : sequence of sequences of c floats > 0
        The importance vectors, in order.
    max_halvings : int, keyword-only
        How often a failed step may be halved.

    Returns
    -------
    list of (W, b, loss)
        The certified minimum at each importance of the sequence.

    Raises
    ------
    ValueError
        If the minimum cannot be followed (it stops being a certified minimum: the branch ends).
    """
    W = np.asarray(W, dtype=np.float64)
    r, c = W.shape
    check_int("max_halvings", max_halvings, minimum=0)
    x = flatten(W, b)
    prev = None
    out = []

    def reach(x0, imp0, imp1, depth):
        got = _resolve(x0, ModelSpec(c=c, r=r, importance=tuple(imp1)))
        if got is not None or imp0 is None or depth >= max_halvings:
            return got
        mid = 0.5 * (imp0 + imp1)
        half = reach(x0, imp0, mid, depth + 1)
        return None if half is None else reach(half[0], mid, imp1, depth + 1)

    for imp in importances:
        imp = np.asarray(imp, dtype=np.float64)
        res = reach(x, prev, imp, 0)
        if res is None:
            raise ValueError(f"the minimum could not be followed to importance {imp.tolist()} "
                             f"(no certified minimum near the previous solution).")
        x, loss = res
        prev = imp
        Wn, bn = unflatten(x, r, c)
        out.append((Wn, bn, loss))
    return out


def _lowest_exact_minimum(c: int, r: int, k: int, sigma_plus: int) -> np.ndarray:
    """The exact k^{sigma+}-gon (:func:`kgon.kgon`) of lowest loss that is a certified minimum of the
    uniform model, flattened; ``ValueError`` if there is none."""
    sols = [s for s in exact_kgon(k, c, sigma_plus=sigma_plus, r=r).solutions]
    mins = [s for s in sols if _resolve(flatten(s.W, s.b), _model(c, r, 1.0)) is not None]
    if not mins:
        raise ValueError(f"no certified {k}{'+' * sigma_plus}-gon minimum at c = {c}, r = {r}.")
    s = min(mins, key=lambda s: s.loss)
    return flatten(np.asarray(s.W, float), np.asarray(s.b, float))


def _coarse_path(xf: np.ndarray, xc: np.ndarray, c: int, r: int, *, step: float, u_min: float
                 ) -> tuple[list[tuple[float, float, float]], dict[str, np.ndarray]]:
    """Follow the (c-1)+ minimum ``xf`` and the c-column minimum ``xc`` from u = 1 down in steps of
    ``step`` until the c-column one is the higher; returns the path [(u, loss_family, loss_columns)],
    whose last two values of u bracket u*, and the two followed solutions at the upper end of the
    bracket (``"f"``, ``"c"``). ``ValueError`` if the c-gon is not below at u = 1 or there is no
    sign change above ``u_min``."""
    fam = f"{c - 1}+"
    path = []
    us = [1.0]
    while us[-1] - step > u_min - 1e-12:
        us.append(round(us[-1] - step, 12))
    sols_f, sols_c = [], []
    for u in us:
        m = _model(c, r, u)
        for xs, sols in ((xf, sols_f), (xc, sols_c)):
            start = sols[-1][0] if sols else xs
            seq = [m.weights()] if not sols else [_model(c, r, path[-1][0]).weights(), m.weights()]
            W1, b1, lo = follow_importance(*unflatten(start, r, c), seq)[-1]
            sols.append((flatten(W1, b1), lo))
        path.append((u, sols_f[-1][1], sols_c[-1][1]))
        d = sols_c[-1][1] - sols_f[-1][1]
        if u == 1.0 and d >= 0:
            raise ValueError(f"the {c}-gon is not below the {fam} at u = 1 (difference {d:.3g}).")
        if d > 0:
            return path, {"f": sols_f[-2][0], "c": sols_c[-2][0]}
    raise ValueError(f"the {c}-column minimum stays below the {fam} down to u = {us[-1]}.")


def importance_threshold(c: int = 6, *, r: int = 2, step: float = 0.05, u_min: float = 0.05,
                         xtol: float = 1e-10) -> ImportanceThreshold:
    """The importance u* of the last feature at which the global minimum changes (module docstring).

    I = (1, ..., 1, u). Follows the (c-1)+ family member and the c-gon from u = 1 downwards in steps
    of ``step`` (re-solved and re-certified at every step) until the difference of their losses
    changes sign, then finds the root with ``scipy.optimize.brentq`` to ``xtol``.

    Parameters
    ----------
    c : int
        Number of features (>= 3).
    r : int, keyword-only
        Hidden dimension (>= 2).
    step : float, keyword-only
        Step in u of the coarse path (0 < step <= 0.5).
    u_min : float, keyword-only
        Smallest u tried (0 < u_min < 1).
    xtol : float, keyword-only
        Absolute tolerance on u* (> 0).

    Returns
    -------
    ImportanceThreshold

    Raises
    ------
    ValueError
        On bad arguments, if the c-gon is not below the (c-1)+ at u = 1, if a branch cannot be
        followed, or if there is no sign change above ``u_min``.

    Notes
    -----
    At c = 6, r = 2: u* = 0.658198 (docs/general.md, docs/zoo.md). References: Chen et al. (2023), §4; Elhage et al.
    (2022) for the importance.
    """
    c = check_int("c", c, minimum=3)
    r = check_int("r", r, minimum=2)
    step = check_float("step", step)
    if not 0 < step <= 0.5:
        raise ValueError(f"`step` must be in (0, 0.5]; got {step!r}.")
    u_min = check_float("u_min", u_min)
    if not 0 < u_min < 1:
        raise ValueError(f"`u_min` must be in (0, 1); got {u_min!r}.")
    xtol = check_float("xtol", xtol)
    if not xtol > 0:
        raise ValueError(f"`xtol` must be > 0; got {xtol!r}.")

    # kgon_params: the dead+ column is the last feature
    xf, xc = _lowest_exact_minimum(c, r, c - 1, 1), _lowest_exact_minimum(c, r, c, 0)
    fam = f"{c - 1}+"
    cols = f"{c}-column"
    path, starts = _coarse_path(xf, xc, c, r, step=step, u_min=u_min)
    u_hi, u_lo = path[-2][0], path[-1][0]

    def solve_both(u):
        got = _resolve_many(np.array([starts["f"], starts["c"]]), _model(c, r, u))
        for g, what in zip(got, (fam, cols)):
            if g is None:
                raise ValueError(f"the {what} minimum was lost at u = {u!r}.")
        return {"f": got[0], "c": got[1]}

    def diff(u):
        s = solve_both(u)
        return s["c"][1] - s["f"][1]

    u_star = float(brentq(diff, u_lo, u_hi, xtol=xtol, rtol=4 * np.finfo(float).eps, maxiter=200))
    s = solve_both(u_star)
    Wf, bf = unflatten(s["f"][0], r, c)
    Wc, bc = unflatten(s["c"][0], r, c)
    return ImportanceThreshold(c=c, r=r, threshold=u_star, xtol=xtol, loss=0.5 * (s["f"][1] + s["c"][1]),
                               below=fam, above=cols, W_family=Wf, b_family=bf, W_columns=Wc, b_columns=bc,
                               path=tuple(path))

