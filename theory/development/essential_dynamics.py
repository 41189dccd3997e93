"""Essential dynamics: the geometry of the developmental trajectory in function space (seed 002, §3.2 and
Appendix B; Hoogland et al. 2024).

1. **Probe outputs.** The model's outputs on a fixed probe set, stacked into one vector per checkpoint.
   For the TMS the probe inputs are x = mu e_i for every feature i and every mu of a grid
   (:func:`tms_probe_outputs`; output ReLU(W^T W x + b) in R^c), so the vector has c * len(mu) * c
   entries; any other model passes its own (K, P) array.
2. **PCA** of the (K, P) matrix of checkpoints (centred), top ``n_components`` principal components.
3. **Smoothing** of the PC scores with a Gaussian kernel of width ``sigma`` decades in the parameter
   s = log10 t (Nadaraya-Watson, evaluated on a uniform grid of ``oversample`` points per checkpoint;
   seed 002, B.8, smooths with a Gaussian kernel too).
4. **Plane curves** gamma = (z_i(s), z_j(s)) for every pair i < j of PCs: curvature
   kappa = (x' y'' - y' x'') / (x'^2 + y'^2)^{3/2}, osculating circles of radius 1/|kappa| centred on the
   **evolute** e = gamma + N / kappa (N the unit normal rotated +90 degrees from the tangent).
   A **vertex** is a stationary point of the curvature (a cusp of the evolute; Bruce & Giblin 1992,
   Prop. 7.2): a local extremum of log|kappa| with prominence at least ``vertex_prominence``
   (natural-log units), excluding minima of |kappa| where kappa changes sign (inflections). A **cusp**
   is a local minimum of the speed |gamma'| at which the tangent turns by
   more than ``cusp_angle`` degrees between the points ``cusp_window`` grid points before and after.
   Vertices within 3 ``cusp_window`` of a cusp are dropped (the curvature diverges at a cusp), and
   neither is reported within ``cusp_window`` grid points of the ends (one-sided differences).
5. **Forms** (B.3, Definition B.5): a time at which *every* pair of PCs has a cusp or a vertex within
   ``coincidence`` decades. Its point f* in PC space is lifted from the pairs: for a vertex the
   centre of its osculating circle, for a cusp the singular point itself; each PC's coordinate is the
   mean over the pairs that contain it, and ``lift_residual`` is the largest deviation of a pair's
   coordinate from that mean (small when the centres are consistent, i.e. the form lifts).
6. **Form potential**: the squared distance in function space from each checkpoint's outputs to the
   form, ||f(t) - (mean + f* V^T)||^2 (raw outputs, no smoothing).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import find_peaks

from kgon.validation import check_int

__all__ = ["CurveFeatures", "EssentialDynamics", "Form", "curve_features", "essential_dynamics",
           "tms_probe_outputs"]

DEFAULT_MU = (0.2, 0.4, 0.6, 0.8, 1.0)


def tms_probe_outputs(W, b, *, mu=DEFAULT_MU) -> np.ndarray:
    """TMS outputs ReLU(W^T W x + b) on the probe inputs x = mu e_i (all features i, all mu in ``mu``).

    ``W`` (..., r, c), ``b`` (..., c) -> (..., c * len(mu) * c), ordered (feature i, mu, output j)."""
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64).ravel()
    if mu.size == 0 or not np.all(np.isfinite(mu)):
        raise ValueError(f"`mu` must be a non-empty list of finite magnitudes; got {mu!r}.")
    G = np.einsum("...ri,...rj->...ij", W, W)  # (..., c, c): row i = response to e_i
    out = np.maximum(mu[:, None, None] * G[..., None, :, :] + b[..., None, None, :], 0.0)  # (..., m, c, c)
    out = np.swapaxes(out, -3, -2)  # (..., c(input), m, c(output))
    return out.reshape(out.shape[:-3] + (-1,))


@dataclass(frozen=True, eq=False)
class CurveFeatures:
    """Geometry of one smoothed plane curve sampled on the grid ``s``.

    Attributes: ``s``, ``xy`` (n, 2), ``curvature`` (n,), ``evolute`` (n, 2), ``speed`` (n,),
    ``vertices`` and ``cusps`` (grid indices)."""

    s: np.ndarray
    xy: np.ndarray
    curvature: np.ndarray
    evolute: np.ndarray
    speed: np.ndarray
    vertices: np.ndarray
    cusps: np.ndarray


def curve_features(s, xy, *, vertex_prominence: float = 0.5, cusp_angle: float = 90.0,
                   cusp_window: int = 3) -> CurveFeatures:
    """Curvature, evolute, vertices and cusps of a plane curve sampled at increasing parameters ``s``
    (module docstring, step 4); ``xy`` (n, 2). Derivatives by second-order finite differences in s."""
    s = np.asarray(s, dtype=np.float64)
    xy = np.asarray(xy, dtype=np.float64)
    if s.ndim != 1 or xy.shape != (s.size, 2) or s.size < 5:
        raise ValueError(f"`s` must be (n,) with n >= 5 and `xy` (n, 2); got {s.shape}, {xy.shape}.")
    d1 = np.gradient(xy, s, axis=0)
    d2 = np.gradient(d1, s, axis=0)
    speed = np.hypot(d1[:, 0], d1[:, 1])
    cross = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = cross / speed ** 3
        normal = np.stack([-d1[:, 1], d1[:, 0]], 1) / speed[:, None]
        evol = xy + normal / kappa[:, None]
    w = int(cusp_window)
    n = s.size
    cusps = []
    for k in range(max(w, 1), n - max(w, 1)):
        if speed[k] <= speed[k - 1] and speed[k] <= speed[k + 1]:
            a, c = max(k - w, 0), min(k + w, n - 1)
            u, v = d1[a], d1[c]
            cosang = float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-300))
            if math.degrees(math.acos(max(-1.0, min(1.0, cosang)))) > cusp_angle:
                cusps.append(k)
    with np.errstate(divide="ignore"):
        lk = np.log(np.abs(kappa) + 1e-300)
    lk = np.where(np.isfinite(lk), lk, np.nanmax(np.where(np.isfinite(lk), lk, -np.inf)))
    pk, _ = find_peaks(lk, prominence=vertex_prominence)
    tr, _ = find_peaks(-lk, prominence=vertex_prominence)
    sgn = np.sign(kappa)
    # a minimum of |kappa| where kappa changes sign is an inflection, not a vertex
    tr = [k for k in tr.tolist() if np.all(sgn[max(k - w, 0): k + w + 1] == sgn[k]) and sgn[k] != 0]
    verts = [int(k) for k in sorted(set(pk.tolist()) | set(tr))
             if all(abs(k - c) > 3 * w for c in cusps) and w <= k < n - w]
    return CurveFeatures(s=s, xy=xy, curvature=kappa, evolute=evol, speed=speed,
                         vertices=np.array(verts, dtype=int), cusps=np.array(cusps, dtype=int))


@dataclass(frozen=True)
class Form:
    """A form: ``step`` (and ``s`` = log10 step), the point ``point`` in PC space, ``lift_residual`` and
    per pair of PCs the kind of event (``"vertex"`` or ``"cusp"``)."""

    step: int
    s: float
    point: tuple
    lift_residual: float
    events: dict


@dataclass(frozen=True, eq=False)
class EssentialDynamics:
    """PCA of probe outputs over checkpoints, smoothed PC curves, their geometry and the forms.

    Attributes
    ----------
    steps : ndarray (K,)
    used : ndarray of int
        Checkpoints entering the PCA (t >= ``min_step``).
    scores : ndarray (len(used), n)
        Raw PC scores.
    explained : ndarray (n,)
        Fraction of the variance per PC.
    components : ndarray (n, P)
    mean : ndarray (P,)
    grid : ndarray (G,)
        log10 t of the smoothing grid.
    smooth : ndarray (G, n)
        Smoothed PC scores on the grid.
    pairs : dict
        (i, j) -> CurveFeatures.
    forms : tuple of Form
    form_potential : ndarray (n_forms, K)
        NaN at checkpoints not used.
    config : dict
    """

    steps: np.ndarray
    used: np.ndarray
    scores: np.ndarray
    explained: np.ndarray
    components: np.ndarray
    mean: np.ndarray
    grid: np.ndarray
    smooth: np.ndarray
    pairs: dict
    forms: tuple
    form_potential: np.ndarray
    config: dict = field(default_factory=dict)

    @property
    def form_steps(self) -> list[int]:
        return [f.step for f in self.forms]

    def to_dict(self) -> dict:
        return {"explained_variance": [float(x) for x in self.explained],
                "forms": [{"step": f.step, "point": [float(x) for x in f.point], "lift_residual": f.lift_residual,
                           "events": {f"{i},{j}": e for (i, j), e in f.events.items()}} for f in self.forms],
                "vertices": {f"{i},{j}": [int(round(10 ** cf.s[k])) for k in cf.vertices]
                             for (i, j), cf in self.pairs.items()},
                "cusps": {f"{i},{j}": [int(round(10 ** cf.s[k])) for k in cf.cusps]
                          for (i, j), cf in self.pairs.items()},
                "config": dict(self.config)}


def essential_dynamics(outputs, steps, *, n_components: int = 3, sigma: float = 0.1, oversample: int = 4,
                       min_step: int = 1, vertex_prominence: float = 0.5, cusp_angle: float = 90.0,
                       cusp_window: int = 3, coincidence: float = 0.1) -> EssentialDynamics:
    """Essential dynamics of a trajectory of outputs (module docstring).

    Parameters
    ----------
    outputs : array_like (K, P)
        Probe outputs per checkpoint (e.g. :func:`tms_probe_outputs`).
    steps : array_like (K,)
    n_components : int, keyword-only
        Principal components kept (default 3: three pairs).
    sigma : float, keyword-only
        Gaussian smoothing width in decades of t (default 0.1).
    oversample : int, keyword-only
        Grid points per checkpoint for the smoothed curve (default 4).
    min_step : int, keyword-only
        First step used (default 1; step 0 has no log t).
    vertex_prominence, cusp_angle, cusp_window : keyword-only
        Vertex and cusp criteria (:func:`curve_features`; defaults 0.5, 90 degrees, 3 grid points).
    coincidence : float, keyword-only
        Largest spread in decades of the events that make a form (default 0.1).

    Raises
    ------
    ValueError
        Fewer than 5 checkpoints, fewer than two components, or no variation across checkpoints.
    """
    X = np.asarray(outputs, dtype=np.float64)
    steps = np.asarray(steps)
    if X.ndim != 2 or steps.shape != (X.shape[0],):
        raise ValueError(f"`outputs` must be (K, P) and `steps` (K,); got {X.shape}, {steps.shape}.")
    n_components = check_int("n_components", n_components, minimum=2)
    oversample = check_int("oversample", oversample, minimum=1)
    if not (isinstance(sigma, (int, float)) and sigma > 0):
        raise ValueError(f"`sigma` must be a positive number of decades; got {sigma!r}.")
    used = np.nonzero((steps >= max(min_step, 1)) & np.all(np.isfinite(X), axis=1))[0]
    if used.size < 5:
        raise ValueError(f"too few checkpoints for the smoother: {used.size} usable (t >= {min_step}, finite "
                         "outputs); need at least 5.")
    Xu = X[used]
    mean = Xu.mean(0)
    U, S, Vt = np.linalg.svd(Xu - mean, full_matrices=False)
    if not S[0] > 0:
        raise ValueError("the outputs do not change across checkpoints; there is no trajectory to analyse.")
    n = min(n_components, Vt.shape[0])
    scores = (Xu - mean) @ Vt[:n].T
    explained = S[:n] ** 2 / float((S ** 2).sum())
    lt = np.log10(steps[used].astype(np.float64))
    grid = np.linspace(lt[0], lt[-1], oversample * used.size)
    wts = np.exp(-0.5 * ((grid[:, None] - lt[None, :]) / sigma) ** 2)
    smooth = (wts @ scores) / wts.sum(1, keepdims=True)
    pairs = {}
    for i, j in itertools.combinations(range(n), 2):
        pairs[(i, j)] = curve_features(grid, smooth[:, [i, j]], vertex_prominence=vertex_prominence,
                                       cusp_angle=cusp_angle, cusp_window=cusp_window)
    # forms: times where every pair has an event within `coincidence` decades
    events = {p: sorted([(grid[k], "vertex", k) for k in cf.vertices] + [(grid[k], "cusp", k) for k in cf.cusps])
              for p, cf in pairs.items()}
    first = list(pairs)[0]
    forms = []
    for s0, _, _ in events[first]:
        chosen = {}
        for p, ev in events.items():
            near = [e for e in ev if abs(e[0] - s0) <= coincidence]
            if not near:
                break
            chosen[p] = min(near, key=lambda e: abs(e[0] - s0))
        else:
            times = [e[0] for e in chosen.values()]
            if max(times) - min(times) > coincidence:
                continue
            coords = [[] for _ in range(n)]
            for (i, j), (_, kind, k) in chosen.items():
                cf = pairs[(i, j)]
                pt = cf.evolute[k] if kind == "vertex" else cf.xy[k]
                if not np.all(np.isfinite(pt)):
                    pt = cf.xy[k]
                coords[i].append(pt[0])
                coords[j].append(pt[1])
            point = np.array([np.mean(cs) for cs in coords])
            resid = max(abs(v - point[m]) for m, cs in enumerate(coords) for v in cs)
            sm = float(np.median(times))
            if forms and sm - forms[-1].s <= coincidence:
                continue
            forms.append(Form(step=int(round(10 ** sm)), s=sm, point=tuple(float(x) for x in point),
                              lift_residual=float(resid), events={p: e[1] for p, e in chosen.items()}))
    pot = np.full((len(forms), steps.size), np.nan)
    for f_, form in enumerate(forms):
        lift = mean + np.asarray(form.point) @ Vt[:n]
        pot[f_, used] = ((Xu - lift) ** 2).sum(1)
    config = {"n_components": n, "sigma": float(sigma), "oversample": oversample, "min_step": int(min_step),
              "vertex_prominence": float(vertex_prominence), "cusp_angle": float(cusp_angle),
              "cusp_window": int(cusp_window), "coincidence": float(coincidence)}
    return EssentialDynamics(steps=steps, used=used, scores=scores, explained=explained, components=Vt[:n],
                             mean=mean, grid=grid, smooth=smooth, pairs=pairs, forms=tuple(forms),
                             form_potential=pot, config=config)
