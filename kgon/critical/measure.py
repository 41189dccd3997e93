"""Measurement of the representatives: geometry, LLC, constant, multiplicity, name (docs/zoo.md).

3. **Geometry and LLC.** Hessian spectrum and zero modes (:mod:`kgon.geometry`), the Hessian LLC
   where it is exact and the numerical LLC for every point (:mod:`kgon.llc`); ``llc`` is the
   Hessian value where it exists (``llc_method = "hessian"``), otherwise the numerical one.
4. **Constant.** c_alpha = (1/2) ||w*||^2 = -log phi(w*) + const for the N(0, I) prior, summed
   over W and the biases that are not free (dead negative and output-off biases count 0), docs/index.md
   (Conventions).
5. **Multiplicity** c! / |stabiliser| (:func:`kgon.symmetry.multiplicity`).
6. **Which points are kept.** Regular polygons always; irregular points only up to Hessian index
   ``max_index`` (default 0: minima). Irregular saddles are numerous near the low-loss families
   (at c = 6 a search finds ~90 critical values below L = 1/3 and every further round of
   exploration finds a few more: points where dead columns of a polygon turn slightly live,
   transition states between polygons), many have tiny basins of attraction, some differ from
   each other by less than the classifier can resolve, and no finite search is guaranteed to find
   all of them, so a catalogue that includes them depends on the seed. ``max_index=1`` adds the
   index-1 saddles (transition states) found, ``max_index=None`` every certified point found.
   With ``max_index=0`` an irregular point where L is not C^2 is kept only if L does not descend
   along the unstable directions of the smooth pieces meeting there (:func:`kink_descent`): at a
   kink the Hessian index depends on rounding.

The step numbers are those of the whole search (:mod:`kgon.critical.driver`).
"""

from __future__ import annotations

import hashlib

import jax
import numpy as np

from kgon.critical.catalogue import CriticalPoint
from kgon.critical.search import ModelSpec, hessians, loss_and_grad_norm, unflatten
from kgon.geometry import HessianGeometry, hessian_geometry
from kgon.llc import llc_hessian, llc_numerical
from kgon.naming import point_name, polygon_info
from kgon.symmetry import DEAD, OFF, column_types, multiplicity

__all__ = ["KINK_STEPS", "critical_constant", "kink_descent", "measure"]

KINK_STEPS = (1e-4, 1e-3)
"""Step lengths t of the descent test at kinks (:func:`kink_descent`)."""


def critical_constant(W: np.ndarray, b: np.ndarray) -> float:
    """c_alpha = 1/2 ||w*||^2 over W and the non-free biases (module docstring, step 4)."""
    types = column_types(W, b)
    free = np.array([t in (DEAD, OFF) for t in types])
    return 0.5 * (float(np.sum(W * W)) + float(np.sum(b[~free] ** 2)))


def kink_descent(x: np.ndarray, model: ModelSpec, *, n_pieces: int = 8, h: float = 1e-7) -> np.ndarray | None:
    """A direction v with L(x + t v) < L(x) for every t in ``KINK_STEPS``, found among the
    negative-curvature eigenvectors of the Hessians of the smooth pieces that meet at x, or None.

    At a kink of L (a pair term at a = b = 0 or a + b = 0; L is C^1 there, not C^2) the Hessian of
    the active piece, and so the Hessian index, depends on which side of the kink rounding puts the
    point: an irregular point whose live column with zero bias is orthogonal to the others has index
    0 with exactly zero overlaps and index 2 with overlaps of +-1e-10 (r = 3, c = 8, loss 0.077811).
    The pieces are sampled by evaluating the Hessian at x and at ``n_pieces`` points x + h u
    (u ~ N(0, I), fixed seed, so the test is deterministic); each eigenvector with a negative
    eigenvalue (below -1e-8 max(1, max |lambda|), the geometry's zero tolerance) is tried in both
    signs. A decrease at t = 1e-4 and at 1e-3, both > 1e-14, is a decrease at second order: x is
    not a local minimum (docs/zoo.md, "Minima at kinks").
    """
    x = np.asarray(x, dtype=np.float64)
    rng = np.random.default_rng(0)
    P = np.vstack([x[None], x[None] + h * rng.normal(size=(n_pieces, x.size))])
    dirs = []
    for H in hessians(P, model):
        lam, vec = np.linalg.eigh(0.5 * (H + H.T))
        tol = 1e-8 * max(1.0, float(np.max(np.abs(lam))))
        dirs.extend(s * vec[:, j] for j in np.nonzero(lam < -tol)[0] for s in (1.0, -1.0))
    if not dirs:
        return None
    steps = np.array(KINK_STEPS)
    T = np.array([x + t * v for v in dirs for t in steps])
    LT, _ = loss_and_grad_norm(np.vstack([x[None], T]), model)
    drop = (LT[1:] - LT[0]).reshape(len(dirs), steps.size)
    hit = np.nonzero(np.all(drop < -1e-14, axis=1))[0]
    return dirs[int(hit[0])] if hit.size else None


def measure(reps, model: ModelSpec, *, numerical_llc: bool, max_index: int | None = None) -> list[CriticalPoint]:
    """The catalogue points of the representatives ``reps`` (a list of (x, loss)), sorted by loss.

    Irregular points above Hessian index ``max_index`` (None: none dropped) and, with ``max_index`` 0,
    irregular kinks along which L descends (:func:`kink_descent`) are dropped (module docstring,
    step 6); the rest get their geometry, LLC (numerical as well if ``numerical_llc``), constant,
    multiplicity, name and a unique label.
    """
    reps, geoms = _kept_by_index(reps, model, max_index)
    if numerical_llc and reps:
        uniform = model.importance is None and not model.point
        llc_key = f"llc|{model.c}|{model.r}" if uniform else f"llc|{model.key()}"
        key_int = int(hashlib.sha1(llc_key.encode()).hexdigest()[:8], 16)
        nums = llc_numerical(jax.random.PRNGKey(key_int), [(x, lo, g) for (x, lo), g in zip(reps, geoms)], model)
    else:
        nums = [None] * len(reps)
    Xr = np.array([x for x, _ in reps]) if reps else np.zeros((0, model.d))
    Ls, gns = loss_and_grad_norm(Xr, model)
    raw = [_point_fields(x, geom, num, loss, gnorm, model)
           for (x, _), geom, num, loss, gnorm in zip(reps, geoms, nums, Ls, gns)]
    raw.sort(key=lambda d: d["loss"])
    counts: dict[str, int] = {}
    for d in raw:
        counts[d["name"]] = counts.get(d["name"], 0) + 1
    seen: dict[str, int] = {}
    points = []
    for d in raw:
        if counts[d["name"]] > 1:
            seen[d["name"]] = seen.get(d["name"], 0) + 1
            label = f"{d['name']}/{seen[d['name']]}"
        else:
            label = d["name"]
        points.append(CriticalPoint(label=label, **d))
    return points


def _kept_by_index(reps, model: ModelSpec, max_index: int | None) -> tuple[list, list[HessianGeometry]]:
    """The representatives kept by the index rule (module docstring, step 6) and their geometries.

    A cheap Hessian-index prefilter over the batch comes first, then the full geometry of the rest.
    """
    r, c, imp = model.r, model.c, model.importance
    if max_index is not None and reps:
        Hs = hessians(np.array([x for x, _ in reps]), model)
        kept = []
        for (x, lo), H in zip(reps, Hs):
            lam = np.linalg.eigvalsh(0.5 * (H + H.T))
            tol = 1e-8 * max(1.0, float(np.max(np.abs(lam))))
            if int(np.sum(lam < -tol)) <= max_index or polygon_info(*unflatten(x, r, c)).regular:
                kept.append((x, lo))
        reps = kept
    geoms, kept = [], []
    for x, lo in reps:
        W, b = unflatten(x, r, c)
        geom = hessian_geometry(W, b, importance=imp, input_dist=model.input_dist)
        if max_index is not None and not polygon_info(W, b).regular:
            if geom.signature[0] > max_index:
                continue
            # at a kink the Hessian's index depends on rounding; a minimum must not descend
            if max_index == 0 and not geom.smooth and kink_descent(x, model) is not None:
                continue
        geoms.append(geom)
        kept.append((x, lo))
    return kept, geoms


def _point_fields(x: np.ndarray, geom: HessianGeometry, num, loss, gnorm, model: ModelSpec) -> dict:
    """The fields of one :class:`kgon.critical.catalogue.CriticalPoint` except its label.

    ``num`` is the numerical LLC estimate (:func:`kgon.llc.llc_numerical`) or None; ``loss`` and
    ``gnorm`` are L and |grad L| at ``x``.
    """
    r, c, imp = model.r, model.c, model.importance
    W, b = unflatten(x, r, c)
    W = np.array(W)
    b = np.array(b)
    info = polygon_info(W, b)
    name = point_name(W, b, loss, importance=imp, input_dist=model.input_dist)
    lh = llc_hessian(geom)
    suffix = "-stable" if geom.signature[0] > 0 else ""
    if lh is not None:
        llc, llc_err, method = lh, 0.0, "hessian" + suffix
    elif num is not None and not num.escaped:
        llc, llc_err, method = num.value, num.err, "numerical" + suffix
    else:
        # no Hessian value (not C^2 or degenerate) and the sampler left the point
        llc, llc_err, method = float("nan"), float("nan"), "n/a" + suffix
    W.setflags(write=False)
    b.setflags(write=False)
    return dict(
        name=name,
        k=info.k,
        sigma_plus=info.sigma_plus,
        sigma_minus=info.sigma_minus,
        c=c,
        r=r,
        W=W,
        b=b,
        loss=float(loss),
        grad_norm=float(gnorm),
        llc=float(llc),
        llc_err=float(llc_err),
        llc_method=method,
        llc_hessian=lh,
        llc_numerical=None if num is None or num.escaped else num.value,
        constant=critical_constant(W, b),
        multiplicity=multiplicity(W, b, importance=imp),
        hessian_signature=tuple(int(v) for v in geom.signature),
        smooth=bool(geom.smooth),
        zero_modes=(geom.orbit_dim, geom.flat_dim, geom.degenerate_dim),
        llc_numerical_err=None if num is None or num.escaped else num.err,
    )
