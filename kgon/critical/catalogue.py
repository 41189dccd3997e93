"""The critical-point catalogue: certified, deduplicated, named critical points with LLC and constant.

:func:`find_critical_points` runs the search of :mod:`kgon.critical.search` and turns the certified endpoints
into a :class:`Catalogue` (docs/zoo.md). Besides the random, polygon and
gradient-descent starts, the exact regular k^{sigma+}-gons of :func:`kgon.kgon` for k = c-2..c are
added as starts (a few seconds), so that the largest polygon families are always present.

0. **Exploration.** The certified endpoints are closed under local exploration: every level found
   is perturbed (four points per level, noise scales 0.03 / 0.1 / 0.3; single dead-bias sign flips
   and output switches, i.e. the neighbours in the sigma+/sigma- lattice; column moves, i.e. a live
   column killed, split with a dead one into parallel copies, or a dead one grown along a live one
   (:func:`_column_moves`); steps along its two
   lowest non-zero Hessian eigenvectors) and re-solved, for up to
   ``explore_rounds`` rounds or until a round finds no new critical value; then one pass of steps
   along the most unstable mode at up to two further members of every saddle level (a flat saddle
   level's unstable mode leads to different minima from different members). Saddles near the
   low-loss families have small basins of attraction for the Newton iteration; the exploration
   finds them from their neighbours, which makes the catalogue (nearly) independent of the seed.
1. **Levels.** Certified points are grouped by critical value (|L - L'| <= 1e-9). Points of one
   level are identified modulo symmetry *and* modulo the flat directions of the critical set:
   many low-loss critical points are not isolated (free dead and output-off biases, output-off
   columns that slide along a ray, columns that split into parallel copies with the same loss,
   polygons with zero bias whose vertices can move while all overlaps stay <= 0), and the loss is
   constant on each connected critical set, so one level is reported as one catalogue point. (Two
   *different* critical sets with exactly the same loss would be merged; none occur among the
   regular families, whose distinct-looking variants such as the adjacent and opposite 4-- are
   connected through such flat moves.)
2. **Representative.** Members with distinct column patterns are turned into structured
   variants (:func:`_variants`: nearly dead columns zeroed, output-off columns killed, parallel
   copies merged, then *snapped* to a regular polygon: live columns at the vertices of a regular
   k-gon in their angular order with their mean on-length and on-bias, also with on-bias exactly
   0 when it is within 1e-3 of it) and polished by the Newton iteration if needed; regular
   polygons are *grown* (:func:`_grow_polygon`: free dead columns turned into output-off vertices
   of a larger polygon, every choice of off vertices up to the dihedral symmetry). Variants that
   are certified and lie on the same level are candidates. The representative is the regular
   candidate with the largest k (the paper's naming: "4++-" rather than "3++" for the same
   level), then an exactly constructed one, then the smallest ||w||^2, then the one with the
   cleanest entries (sum |x - round(x, 7)|), then the smallest canonical pose;
   a level without a regular candidate is represented by its member of smallest ||w||^2 and
   named ``"irregular-<hash>"`` (:mod:`kgon.naming`). Representatives are put in a canonical
   pose (:func:`kgon.symmetry.canonical_pose`), so that equal levels give bit-for-bit (regular
   polygons) or nearly (irregular points) equal representatives under any seed.
2b. **Lattice closure.** The representatives are closed under the exact sigma+/sigma- lattice
   moves (:func:`_lattice_closure`: one dead bias sign flipped, one firing column switched off, one
   output-off column switched on, certified without a Newton step): a flip on a new level adds it,
   a regular flip on a level whose representative is irregular replaces that representative.
   The exploration flips only one member of each level, which may lie elsewhere on a flat
   critical set; without the closure the zero-bias 4-gon family (every sigma+ and sigma-) was
   complete or not depending on rounding in the Newton iteration.
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
   along the unstable directions of the smooth pieces meeting there (:func:`_kink_descent`): at a
   kink the Hessian index depends on rounding.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import itertools
import json
import math
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jax
import numpy as np

from kgon.config import require_x64
from kgon.critical.search import (
    DEAD_TOL,
    GRAD_TOL,
    ModelSpec,
    as_model,
    certify,
    flatten,
    gradient_descent,
    hessians,
    make_starts,
    solve_critical,
    unflatten,
)
from kgon.geometry import hessian_geometry
from kgon.io import dumps_json, write_text_atomic
from kgon.llc import llc_hessian, llc_numerical
from kgon.naming import point_name, polygon_info
from kgon.polygons import kgon as _exact_kgon
from kgon.symmetry import DEAD, DEAD_POS, OFF, ON, canonical_pose, column_types, multiplicity
from kgon.validation import check_float, check_int

__all__ = [
    "CriticalPoint",
    "Catalogue",
    "SearchConfig",
    "find_critical_points",
    "default_catalogue",
    "default_catalogue_path",
    "refine_critical",
    "LEVEL_TOL",
    "RESCUE_TOL",
]

LEVEL_TOL = 1e-9
"""Critical values closer than this are one level (one catalogue point)."""

_JSON_KEYS = (
    "name",
    "label",
    "k",
    "sigma_plus",
    "sigma_minus",
    "c",
    "r",
    "loss",
    "llc",
    "llc_err",
    "llc_method",
    "llc_hessian",
    "llc_numerical",
    "constant",
    "multiplicity",
    "grad_norm",
    "hessian_signature",
    "smooth",
    "zero_modes",
    "W",
    "b",
)


def _float_or_nan(v) -> float:
    return float("nan") if v is None else float(v)


@dataclass(frozen=True, eq=False)
class CriticalPoint:
    """A certified critical point of the TMS potential (one catalogue entry).

    Attributes
    ----------
    name : str
        ``"5"``, ``"5+"``, ``"4++-"`` (:mod:`kgon.naming`) or ``"irregular-<8 hex>"``.
    label : str
        Unique within the catalogue: ``name`` if unique, else ``name + "/" + index``.
    k : int or None
        Vertices of the regular polygon of live columns (None for irregular points).
    sigma_plus, sigma_minus : int
        Dead columns with positive bias; live columns whose output never fires.
    c, r : int
        Model shape.
    W : ndarray, shape (r, c)
        Representative (read-only); free biases at canonical values (:func:`kgon.symmetry.canonicalize`).
    b : ndarray, shape (c,)
    loss : float
        L(W, b).
    grad_norm : float
        |grad L(W, b)| (<= 1e-9: certified).
    llc, llc_err : float
        The LLC and its uncertainty (0 for the exact Hessian value).
    llc_method : str
        ``"hessian"`` or ``"numerical"``; with suffix ``"-stable"`` for saddles (stable-subspace LLC,
        :mod:`kgon.llc`); ``"n/a"`` / ``"n/a-stable"`` (and ``llc`` NaN, ``null`` in JSON) where the
        Hessian does not decide lambda and the numerical chains escaped to lower loss (saddles at
        kinks of the potential, e.g. the 4-gon family members with output-off vertices).
    llc_hessian, llc_numerical : float or None
        The two methods' values (None where a method does not apply).
    constant : float
        c_alpha = (1/2) ||w*||^2 over W and non-free biases (docs/index.md, Conventions).
    multiplicity : int
        Number of distinct feature-permuted copies modulo O(r).
    hessian_signature : (int, int, int)
        Counts of negative, zero and positive Hessian eigenvalues.
    smooth : bool
        False where L is not C^2 at the point (the Hessian does not decide the geometry).
    zero_modes : (int, int, int)
        The zero eigenvalues split into (orbit, flat, degenerate) directions.
    llc_numerical_err : float or None
        Uncertainty of ``llc_numerical``.
    """

    name: str
    label: str
    k: int | None
    sigma_plus: int
    sigma_minus: int
    c: int
    r: int
    W: np.ndarray
    b: np.ndarray
    loss: float
    grad_norm: float
    llc: float
    llc_err: float
    llc_method: str
    llc_hessian: float | None
    llc_numerical: float | None
    constant: float
    multiplicity: int
    hessian_signature: tuple[int, int, int]
    smooth: bool
    zero_modes: tuple[int, int, int] = (0, 0, 0)
    llc_numerical_err: float | None = None

    @property
    def is_minimum(self) -> bool:
        """No negative Hessian eigenvalue (a local minimum where the Hessian decides; see ``smooth``)."""
        return self.hessian_signature[0] == 0

    def to_dict(self) -> dict:
        """JSON-able dict (keys of ``tmsphase critical-points --json``)."""
        out = {}
        for key in _JSON_KEYS:
            val = getattr(self, key)
            if isinstance(val, np.ndarray):
                val = val.tolist()
            elif isinstance(val, tuple):
                val = list(val)
            elif isinstance(val, float) and not math.isfinite(val):
                val = None  # strict JSON has no NaN
            out[key] = val
        out["llc_numerical_err"] = self.llc_numerical_err
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "CriticalPoint":
        W = np.array(d["W"], dtype=np.float64)
        b = np.array(d["b"], dtype=np.float64)
        W.setflags(write=False)
        b.setflags(write=False)
        return cls(
            name=d["name"],
            label=d["label"],
            k=d["k"],
            sigma_plus=int(d["sigma_plus"]),
            sigma_minus=int(d["sigma_minus"]),
            c=int(d["c"]),
            r=int(d["r"]),
            W=W,
            b=b,
            loss=float(d["loss"]),
            grad_norm=float(d["grad_norm"]),
            llc=_float_or_nan(d["llc"]),
            llc_err=_float_or_nan(d["llc_err"]),
            llc_method=d["llc_method"],
            llc_hessian=None if d["llc_hessian"] is None else float(d["llc_hessian"]),
            llc_numerical=None if d["llc_numerical"] is None else float(d["llc_numerical"]),
            constant=float(d["constant"]),
            multiplicity=int(d["multiplicity"]),
            hessian_signature=tuple(int(x) for x in d["hessian_signature"]),
            smooth=bool(d["smooth"]),
            zero_modes=tuple(int(x) for x in d.get("zero_modes", (0, 0, 0))),
            llc_numerical_err=d.get("llc_numerical_err"),
        )


@dataclass(frozen=True)
class SearchConfig:
    """Settings of :func:`find_critical_points` (validated on construction; held by :class:`Catalogue`).

    Attributes
    ----------
    c : int
        Number of features (>= 2).
    r : int
        Hidden dimension (>= 1). Default 2.
    n_starts : int or None
        Number of starting points (>= 1); None: 200 c (:func:`find_critical_points` records the value used).
    seed : int
        Seed of the starting points (>= 0). Default 0.
    max_loss : float or None
        Keep only points with loss <= max_loss; None: all.
    max_index : int or None
        Keep irregular points only up to this Hessian index (>= 0; default 0: minima); None: all.
    explore_rounds : int
        Rounds of local exploration (>= 0). Default 3.
    numerical_llc : bool
        Run the numerical LLC for every point. Default True.
    importance : tuple of float or None
        Feature importance I_j > 0 of the potential (:class:`kgon.critical.search.ModelSpec`); None (and
        all ones, stored as None) is the uniform model. Omitted from :meth:`to_dict` when None.
    """

    c: int
    r: int = 2
    n_starts: int | None = None
    seed: int = 0
    max_loss: float | None = None
    max_index: int | None = 0
    explore_rounds: int = 3
    numerical_llc: bool = True
    importance: tuple[float, ...] | None = None

    def __post_init__(self):
        check_int("c", self.c, minimum=2)
        check_int("r", self.r, minimum=1)
        object.__setattr__(self, "importance", ModelSpec(c=self.c, r=self.r, importance=self.importance).importance)
        if self.n_starts is not None:
            check_int("n_starts", self.n_starts, minimum=1)
        _check_seed(self.seed)
        if self.max_loss is not None:
            check_float("max_loss", self.max_loss)
        if self.max_index is not None:
            check_int("max_index", self.max_index, minimum=0)
        check_int("explore_rounds", self.explore_rounds, minimum=0)
        if not isinstance(self.numerical_llc, bool):
            raise ValueError(f"`numerical_llc` must be True or False; got {self.numerical_llc!r}.")

    @property
    def model(self) -> ModelSpec:
        """The model searched: (c, r, importance)."""
        return ModelSpec(c=self.c, r=self.r, importance=self.importance)

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        if out["importance"] is None:
            del out["importance"]  # the uniform model's dict is unchanged from before importance existed
        else:
            out["importance"] = list(out["importance"])
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "SearchConfig":
        """Inverse of :meth:`to_dict` (keys that are not fields are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True, eq=False)
class Catalogue:
    """Certified critical points of the TMS potential at (c, r), sorted by loss.

    Attributes
    ----------
    c, r : int
    points : tuple of CriticalPoint
        Sorted by loss.
    seed : int
        Seed of the search.
    n_starts : int
        Number of starting points requested (random, perturbed-polygon and gradient-descent starts).
    n_converged : int
        How many of those ``n_starts`` starts ended at a certified point (|grad L| <= 1e-9), so
        ``n_converged <= n_starts``. The exact polygon starts that :func:`find_critical_points` adds
        are counted separately: ``stats["exact_starts"]`` and ``stats["exact_converged"]``.
    max_loss : float or None
        Points above this loss were not kept.
    config : SearchConfig or None
        The settings of the search (None for a hand-built catalogue).
    stats : dict
        Figures of the search run: ``grad_tol``, ``level_tol``, ``n_explore`` (exploration starts),
        ``exact_starts`` and ``exact_converged`` (the exact polygon starts).
    """

    c: int
    r: int
    points: tuple[CriticalPoint, ...]
    seed: int
    n_starts: int
    n_converged: int
    max_loss: float | None = None
    config: SearchConfig | None = None
    stats: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.points)

    @property
    def importance(self) -> tuple[float, ...] | None:
        """The feature importance of the potential (None: uniform), from ``config``."""
        return None if self.config is None else self.config.importance

    @property
    def model(self) -> ModelSpec:
        """The model of the catalogue, :class:`kgon.critical.search.ModelSpec` (c, r, importance)."""
        return ModelSpec(c=self.c, r=self.r, importance=self.importance)

    def __iter__(self):
        return iter(self.points)

    def labels(self) -> list[str]:
        """The unique labels, in loss order."""
        return [p.label for p in self.points]

    def names(self) -> list[str]:
        """The names, in loss order (may repeat only for irregular hash collisions)."""
        return [p.name for p in self.points]

    def get(self, label: str) -> CriticalPoint:
        """The point with this label (or, if no label matches, the unique point with this name)."""
        for p in self.points:
            if p.label == label:
                return p
        named = [p for p in self.points if p.name == label]
        if len(named) == 1:
            return named[0]
        raise KeyError(f"no critical point labelled {label!r} in the c = {self.c}, r = {self.r} catalogue; "
                       f"labels: {', '.join(self.labels())}")

    def to_dict(self) -> dict:
        return {
            "c": self.c,
            "r": self.r,
            "seed": self.seed,
            "n_starts": self.n_starts,
            "n_converged": self.n_converged,
            "max_loss": self.max_loss,
            "config": None if self.config is None else self.config.to_dict(),
            "stats": dict(self.stats),
            "critical_points": [p.to_dict() for p in self.points],
        }

    def to_json(self) -> str:
        """JSON text; :meth:`from_json` inverts it exactly (floats round-trip)."""
        return dumps_json(self.to_dict())

    @classmethod
    def from_json(cls, s: str) -> "Catalogue":
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(s))

    @classmethod
    def from_dict(cls, d: dict) -> "Catalogue":
        """Inverse of :meth:`to_dict` (also reads the older layout with the run figures in ``config``)."""
        config, stats = d.get("config"), d.get("stats")
        if stats is None and config:  # older layout: one dict of settings and figures
            names = {f.name for f in dataclasses.fields(SearchConfig)}
            stats = {k: v for k, v in config.items() if k not in names}
        return cls(
            c=int(d["c"]),
            r=int(d["r"]),
            points=tuple(CriticalPoint.from_dict(p) for p in d["critical_points"]),
            seed=int(d["seed"]),
            n_starts=int(d["n_starts"]),
            n_converged=int(d["n_converged"]),
            max_loss=d.get("max_loss"),
            config=SearchConfig.from_dict(config) if config else None,
            stats=dict(stats or {}),
        )

    def to_csv(self, path) -> None:
        """One row per point: the scalar fields plus W and b as JSON lists."""
        cols = [k for k in _JSON_KEYS] + ["llc_numerical_err"]
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(cols)
        for p in self.points:
            d = p.to_dict()
            w.writerow([dumps_json(d[k]) if isinstance(d[k], (list, tuple)) else d[k] for k in cols])
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, buf.getvalue())


# ----------------------------------------------------------------------------------------------
# building a catalogue


def _default_n_starts(c: int, r: int) -> int:
    return 200 * c


def _clean(X: np.ndarray, r: int, c: int, dead_tol: float = 1e-7) -> np.ndarray:
    """Canonicalize every row (short columns to 0, free biases to canonical values); a batched
    version of :func:`kgon.symmetry.canonicalize`."""
    W, b = unflatten(X, r, c)
    W = W.copy()
    b = b.copy()
    norms = np.linalg.norm(W, axis=-2)  # (n, c)
    W = np.where((norms <= dead_tol)[:, None, :], 0.0, W)
    dead = norms <= dead_tol
    G = np.swapaxes(W, -1, -2) @ W
    top = np.maximum(G.max(axis=-1), 0.0)  # max_j a_ij, clipped at 0
    off = ~dead & (b <= -top + 1e-9)
    b = np.where(dead & (b <= 0), -1.0 / (2 * c), b)
    b = np.where(off, -1.5 * top, b)
    return flatten(W, b)


def _certified_clean(X: np.ndarray, model: ModelSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canonicalize and certify. Columns shorter than 1e-4 are zeroed where the result is still
    certified (else only those shorter than 1e-7); rows that fail are re-polished once."""
    r, c = model.r, model.c
    Xc = _clean(X, r, c, dead_tol=DEAD_TOL)
    L, gn, ok = certify(Xc, model)
    if not np.all(ok):
        Xf = _clean(X[~ok], r, c)
        Lf, gf, okf = certify(Xf, model)
        Xc[~ok], L[~ok], gn[~ok], ok[~ok] = Xf, Lf, gf, okf
    bad = ~ok & np.all(np.isfinite(X), axis=1)
    if np.any(bad):
        Xp = _clean(solve_critical(Xc[bad], model, iters=40), r, c)
        L2, g2, ok2 = certify(Xp, model)
        Xc[bad], L[bad], gn[bad], ok[bad] = Xp, L2, g2, ok2
    return Xc, L, gn, ok


def _variants(W: np.ndarray, b: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Structured variants of a point: output-off columns killed, parallel columns merged, and the
    regular polygons snapped from each (module docstring, step 2). The point itself is not included."""
    variants = [(W, b)]
    norms = np.linalg.norm(W, axis=0)
    short = (norms > 0) & (norms < 1e-3 * max(1.0, float(norms.max())))
    if np.any(short):  # nearly dead columns made dead
        W0 = W.copy()
        W0[:, short] = 0.0
        variants.append((W0, b))
    for Wv, bv in list(variants):
        killed = _kill_off(Wv, bv)
        if killed is not None:
            variants.append(killed)
    for Wv, bv in list(variants):
        merged = _merge_parallel(Wv, bv)
        if merged is not None:
            variants.append(merged)
    for Wv, bv in list(variants):
        variants.extend(_snap_regular(Wv, bv))
    return variants[1:]


RESCUE_TOL = 1e-4
"""Newton endpoints with GRAD_TOL < |grad L| <= RESCUE_TOL are snapped to regular polygons."""


def refine_critical(X: np.ndarray, r, c: int | None = None, *, iters: int = 200
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The search's refinement from given starting points: Newton (LM) solve, clean, certify.

    Endpoints that are nearly but not certifiably critical (|grad L| <= ``RESCUE_TOL``; the Newton
    iteration stalls at kinks of the potential, e.g. at 4-gons with zero bias) are replaced by the
    nearest (Euclidean) of their structured variants (:func:`_variants`: regular-polygon snapping)
    that is certified. Returns (X, L, ok): endpoints, losses and the certified mask. ``r, c``: the
    uniform model's shape, or ``r`` a :class:`kgon.critical.search.ModelSpec` and ``c`` omitted.
    """
    model = as_model(r, c)
    r, c = model.r, model.c
    S = solve_critical(np.asarray(X, dtype=np.float64), model, iters=iters)
    S, L, gn, ok = _certified_clean(S, model)
    stuck = np.nonzero(~ok & (gn <= RESCUE_TOL))[0]
    if stuck.size:
        cands, owner = [], []
        for i in stuck:
            for Wv, bv in _variants(*unflatten(S[i], r, c)):
                cands.append(flatten(Wv, bv))
                owner.append(i)
        if cands:
            C = _clean(np.array(cands), r, c)
            LC, gC, okC = certify(C, model)
            if np.any(~okC):
                P = solve_critical(C[~okC], model, iters=30)
                P, LP, gP, okP = _certified_clean(P, model)
                C[~okC], LC[~okC], gC[~okC], okC[~okC] = P, LP, gP, okP
            best: dict[int, tuple[float, int]] = {}
            for j in np.nonzero(okC)[0]:
                i = owner[j]
                dist = float(np.sum((C[j] - S[i]) ** 2))
                if i not in best or dist < best[i][0]:
                    best[i] = (dist, j)
            for i, (_, j) in best.items():
                S[i], L[i], gn[i], ok[i] = C[j], LC[j], gC[j], True
    return S, L, ok


def _levels(L: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(L, kind="stable")
    groups, cur = [], [order[0]]
    for i in order[1:]:
        if L[i] - L[cur[-1]] <= LEVEL_TOL:
            cur.append(i)
        else:
            groups.append(np.array(cur))
            cur = [i]
    groups.append(np.array(cur))
    return groups


def _merge_parallel(W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Merge parallel live "on" columns with equal bias into one (lengths add in quadrature)."""
    W = W.copy()
    b = b.copy()
    c = W.shape[1]
    types = column_types(W, b)
    on = [i for i in range(c) if types[i] == ON]
    norms = np.linalg.norm(W, axis=0)
    changed = False
    for a_i, i in enumerate(on):
        if norms[i] == 0:
            continue
        for j in on[a_i + 1 :]:
            if norms[j] == 0:
                continue
            cosang = W[:, i] @ W[:, j] / (norms[i] * norms[j])
            if cosang > 1 - 1e-9 and abs(b[i] - b[j]) < 1e-7:
                new_len = math.hypot(norms[i], norms[j])
                W[:, i] *= new_len / norms[i]
                norms[i] = new_len
                W[:, j] = 0.0
                norms[j] = 0.0
                b[j] = -1.0 / (2 * c)
                changed = True
    return (W, b) if changed else None


def _kill_off(W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Output-off columns moved to zero (dead, bias -1/(2c)); often a flat move (module docstring)."""
    c = W.shape[1]
    types = column_types(W, b)
    off = [i for i in range(c) if types[i] == OFF]
    if not off:
        return None
    W = W.copy()
    b = b.copy()
    W[:, off] = 0.0
    b[off] = -1.0 / (2 * c)
    return W, b


def _snap_regular(W: np.ndarray, b: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The regular polygon nearest in structure to (W, b) (module docstring, step 2): live columns
    at the vertices in their angular order, with their mean on-length and mean on-bias; if that
    bias is within 1e-3 of zero, also the same polygon with on-bias exactly 0 (the kink where the
    zero-bias families sit). Empty if there is no firing column."""
    r, c = W.shape
    types = column_types(W, b)
    live = [i for i in range(c) if types[i] in (ON, OFF)]
    on = [i for i in range(c) if types[i] == ON]
    if not on or (r < 2 and len(live) > 2):
        return []
    k = len(live)
    norms = np.linalg.norm(W, axis=0)
    length = float(np.mean(norms[on]))
    bias = float(np.mean(b[on]))
    V = W[:, live]
    if r >= 2:
        U = np.linalg.svd(V, full_matrices=True)[0][:, :2]
    else:
        U = np.array([[1.0]])
    z = U.T @ V if r >= 2 else np.vstack([V, np.zeros((1, k))])
    theta = np.arctan2(z[1], z[0])
    order = np.argsort(np.mod(theta, 2 * np.pi))
    base = 2 * np.pi * np.arange(k) / k
    ang = base  # the polygon's rotation is irrelevant (O(r) symmetry): vertex 0 on the first axis
    W2 = np.zeros((r, c))
    b2 = np.where(b > 0, 1.0 / (2 * c), -1.0 / (2 * c))
    for rank, idx in enumerate(order):
        col = live[idx]
        vec2 = length * np.array([np.cos(ang[rank]), np.sin(ang[rank])])
        W2[:, col] = U @ vec2 if r >= 2 else vec2[:1]
        b2[col] = bias if types[col] == ON else -1.5 * length**2
    for i in range(c):
        if types[i] not in (ON, OFF):
            W2[:, i] = 0.0
    out = [(W2, b2)]
    if bias != 0.0 and abs(bias) < 1e-3:
        b3 = b2.copy()
        b3[on] = 0.0
        out.append((W2.copy(), b3))
    return out


def _grow_polygon(W: np.ndarray, b: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Regular (k + j)-gons, j >= 0, built from a regular k-gon by turning j of its free dead columns
    into output-off vertices: on columns keep their length l and bias, the off vertices (every
    choice of vertices up to the dihedral symmetry; j = 0 gives the siblings with the same counts)
    get length l and bias -3/2 l^2. Built with (l, bias) as given and rounded to 1e-7 (exact
    values such as l = 1, b = 0 of the zero-bias families when the search's are off by ~1e-9)."""
    r, c = W.shape
    info = polygon_info(W, b)
    if not info.regular or r < 2 or info.n_live == 0:
        return []
    types = info.types
    live = [i for i in range(c) if types[i] in (ON, OFF)]
    on = [i for i in range(c) if types[i] == ON]
    dead = [i for i in range(c) if types[i] == DEAD]
    length0 = float(np.linalg.norm(W[:, on[0]]))
    bias0 = float(np.mean(b[on]))
    values = {(length0, bias0), (round(length0, 7), round(bias0, 7) + 0.0)}
    n_off0 = len(live) - len(on)
    out = []
    for (length, bias), j in itertools.product(sorted(values), range(0, len(dead) + 1)):
        k2 = len(live) + j
        n_off = n_off0 + j
        seen = set()
        for off in itertools.combinations(range(k2), n_off):
            key = min(
                tuple(sorted((s * v + t) % k2 for v in off)) for t in range(k2) for s in (1, -1)
            )
            if key in seen:
                continue
            seen.add(key)
            W2 = np.zeros((r, c))
            b2 = b.copy()
            cols = list(on)
            off_cols = [i for i in live if types[i] == OFF] + dead[:j]
            on_iter = iter(cols)
            off_iter = iter(off_cols)
            for m in range(k2):
                col = next(off_iter) if m in off else next(on_iter)
                W2[0, col] = length * np.cos(2 * np.pi * m / k2)
                W2[1, col] = length * np.sin(2 * np.pi * m / k2)
                b2[col] = -1.5 * length**2 if m in off else bias
            W2[np.abs(W2) < 1e-15 * max(1.0, length)] = 0.0
            out.append((W2, b2))
    return out


def _sqnorm(x: np.ndarray) -> float:
    return float(np.sum(x * x))


def _gram_key(x: np.ndarray, r: int, c: int) -> tuple:
    W, b = unflatten(x, r, c)
    G = W.T @ W
    return tuple(sorted(np.round(np.concatenate([G.ravel(), b]), 6).tolist()))


def _pose_key(x: np.ndarray, model: ModelSpec) -> tuple:
    """The canonical pose (:func:`kgon.symmetry.canonical_pose`) rounded to 1e-6, as a tuple: equal
    for points in one O(r) x S_c orbit, and it tells apart e.g. the adjacent and opposite 4-- ."""
    W, b = canonical_pose(*unflatten(x, model.r, model.c), importance=model.importance)
    return tuple((np.round(flatten(W, b), 6) + 0.0).tolist())


def _constant(W: np.ndarray, b: np.ndarray) -> float:
    """c_alpha = 1/2 ||w*||^2 over W and the non-free biases (module docstring, step 4)."""
    types = column_types(W, b)
    free = np.array([t in (DEAD, OFF) for t in types])
    return 0.5 * (float(np.sum(W * W)) + float(np.sum(b[~free] ** 2)))


def _choose_representatives(
    X: np.ndarray, L: np.ndarray, model: ModelSpec, max_members: int = 40
) -> list[tuple[np.ndarray, float]]:
    """One (x, loss) per level (module docstring, steps 1-2)."""
    r, c = model.r, model.c
    groups = _levels(L)
    # candidate variants of the members of every level, polished in one batch
    cands, cand_level = [], []
    for g_idx, grp in enumerate(groups):
        # members with distinct column-norm / bias patterns first (up to max_members)
        ordered = grp[np.argsort([_sqnorm(X[i]) for i in grp], kind="stable")]
        members, patterns = [], set()
        for i in ordered:
            W, b = unflatten(X[i], r, c)
            pat = (tuple(np.round(np.sort(np.linalg.norm(W, axis=0)), 2)), tuple(np.round(np.sort(b), 2)))
            if pat not in patterns:
                patterns.add(pat)
                members.append(i)
        members = members[:max_members]
        seen = set()
        for i in members:
            W, b = unflatten(X[i], r, c)
            for Wv, bv in _variants(W, b):
                key = _gram_key(flatten(Wv, bv), r, c)
                if key in seen:
                    continue
                seen.add(key)
                cands.append(flatten(Wv, bv))
                cand_level.append(g_idx)
    # pool entries: (x, exact) - exact = a constructed variant certified without polishing
    pool: dict[int, list[tuple[np.ndarray, bool]]] = {g: [(X[i], False) for i in grp] for g, grp in enumerate(groups)}
    if cands:
        C0 = np.array(cands)
        L0, _, ok0 = certify(C0, model)
        S = C0.copy()
        SL = L0.copy()
        ok = ok0.copy()
        if np.any(~ok0):
            P = solve_critical(C0[~ok0], model, iters=30)
            P, PL, _, okp = _certified_clean(P, model)
            S[~ok0], SL[~ok0], ok[~ok0] = P, PL, okp
        for s_idx in np.nonzero(ok)[0]:
            g_idx = cand_level[s_idx]
            if abs(SL[s_idx] - L[groups[g_idx][0]]) <= LEVEL_TOL:
                pool[g_idx].append((S[s_idx], bool(ok0[s_idx])))
    # grow: the regular candidates of each level with free dead columns turned into output-off
    # vertices of a larger polygon (4++- and 3++ lie on one level; the paper names it 4++-)
    grow, grow_level = [], []
    for g_idx in range(len(groups)):
        regs, keys = [], set()
        for x, exact in pool[g_idx]:
            if exact and polygon_info(*unflatten(x, r, c)).regular:
                key = _gram_key(x, r, c)
                if key not in keys:
                    keys.add(key)
                    regs.append(x)
        for x in regs[:12]:
            for Wv, bv in _grow_polygon(*unflatten(x, r, c)):
                grow.append(flatten(Wv, bv))
                grow_level.append(g_idx)
    if grow:
        G0 = np.array(grow)
        LG, _, okG = certify(G0, model)
        for j in np.nonzero(okG)[0]:
            g_idx = grow_level[j]
            if abs(LG[j] - L[groups[g_idx][0]]) <= LEVEL_TOL:
                pool[g_idx].append((G0[j], True))
    reps = []
    for g_idx, grp in enumerate(groups):
        best, best_key = None, None
        for x, exact in pool[g_idx]:
            info = polygon_info(*unflatten(x, r, c))
            key = (
                -(info.k or 0) if info.regular else (-info.n_live if info.polytope else 1),
                not exact,
                round(_sqnorm(x), 6),
                round(float(np.sum(np.abs(x - np.round(x, 7)))), 10),  # prefer clean values (l = 1, b = 0)
                _pose_key(x, model),
            )
            if best_key is None or key < best_key:
                best, best_key = x, key
        reps.append((best, float(L[grp].min())))
    return _finalize(reps, model)


def _finalize(reps: list[tuple[np.ndarray, float]], model: ModelSpec) -> list[tuple[np.ndarray, float]]:
    """Put each representative in canonical pose (:func:`kgon.symmetry.canonical_pose`) with biases
    below 1e-10 set to zero, keeping each step only if the point stays certified on its level."""
    if not reps:
        return reps
    r, c = model.r, model.c
    posed, zeroed = [], []
    for x, _ in reps:
        W, b = canonical_pose(*unflatten(x, r, c), importance=model.importance)
        posed.append(flatten(W, b))
        b0 = b.copy()
        b0[np.abs(b0) < 1e-10] = 0.0
        zeroed.append(flatten(W, b0))
    out = []
    Lp, _, okp = certify(np.array(posed), model)
    Lz, _, okz = certify(np.array(zeroed), model)
    for i, (x, lo) in enumerate(reps):
        if okz[i] and abs(Lz[i] - lo) <= LEVEL_TOL:
            out.append((zeroed[i], lo))
        elif okp[i] and abs(Lp[i] - lo) <= LEVEL_TOL:
            out.append((posed[i], lo))
        else:
            out.append((x, lo))
    return out


def _bias_flips(x: np.ndarray, r: int, c: int) -> list[np.ndarray]:
    """Neighbours of x in the sigma+/sigma- lattice: one dead bias sign flipped (+-1/(2c)), one firing
    column switched off (b = -3/2 |W_i|^2) or one output-off column switched on (b = mean on-bias)."""
    W, b = unflatten(x, r, c)
    types = column_types(W, b)
    on = [i for i in range(c) if types[i] == ON]
    on_bias = float(np.mean(b[on])) if on else 0.0
    out = []
    for i, t in enumerate(types):
        b2 = b.copy()
        if t == DEAD:
            b2[i] = 1.0 / (2 * c)
        elif t == DEAD_POS:
            b2[i] = -1.0 / (2 * c)
        elif t == ON:
            b2[i] = -1.5 * float(W[:, i] @ W[:, i])
        else:
            b2[i] = on_bias
        out.append(flatten(W, b2))
    return out


def _column_moves(x: np.ndarray, r: int, c: int, grow: float = 0.03) -> list[np.ndarray]:
    """Neighbours of x that change which columns are live: each live column set to zero (its bias
    kept); each live column i split with each dead column d into two parallel copies W_i / sqrt(2)
    (the dead column taking b_i); each dead column d grown to length ``grow`` along each live column
    (its bias kept). Many irregular minima at c >= 8 are polygons with such split or slightly live
    columns, reached from their neighbours by these moves and hardly by random perturbations."""
    W, b = unflatten(x, r, c)
    norms = np.linalg.norm(W, axis=0)
    live = [i for i in range(c) if norms[i] > DEAD_TOL]
    dead = [i for i in range(c) if norms[i] <= DEAD_TOL]
    out = []
    for i in live:
        W2 = W.copy()
        W2[:, i] = 0.0
        out.append(flatten(W2, b))
    for d in dead:
        for i in live:
            W2, b2 = W.copy(), b.copy()
            W2[:, i] = W[:, i] / math.sqrt(2.0)
            W2[:, d] = W[:, i] / math.sqrt(2.0)
            b2[d] = b[i]
            out.append(flatten(W2, b2))
            W3 = W.copy()
            W3[:, d] = grow * W[:, i] / norms[i]
            out.append(flatten(W3, b))
    return out


def _distinct_members(X: np.ndarray, grp: np.ndarray, r: int, c: int, n: int) -> list[np.ndarray]:
    """Up to ``n`` members of a level (in the level's order, the first always) whose Gram matrices
    and biases differ (:func:`_gram_key`, sorted entries rounded to 1e-6): distinct modulo O(r) x S_c."""
    out, keys = [], set()
    for i in grp:
        key = _gram_key(X[i], r, c)
        if key not in keys:
            keys.add(key)
            out.append(X[i])
            if len(out) == n:
                break
    return out


def _explore(X: np.ndarray, L: np.ndarray, model: ModelSpec, rng: np.random.Generator, *, rounds: int,
             per_level: int, n_modes: int = 2, mode_members: int = 3) -> tuple[np.ndarray, np.ndarray, int]:
    """Closure of the found set under local exploration (module docstring, step 0).

    Each round perturbs ``per_level`` points of every level not explored before (scales 0.03, 0.1,
    0.3 in turn), flips single biases (:func:`_bias_flips`: the neighbouring sigma+/sigma- family
    members) and steps of +-0.1, +-0.3 along the ``n_modes`` lowest non-zero Hessian eigenvectors
    (the unstable and softest directions: mode following), solves grad L = 0 from them and adds the
    certified endpoints; it stops early when a round finds no new level. After the rounds, one pass
    of the same steps along the most unstable direction at up to ``mode_members`` - 1 further
    members of every saddle level that differ modulo symmetry (:func:`_distinct_members`).
    Returns the enlarged (X, L) and the number of exploration starts used.
    """
    r, c = model.r, model.c
    used = 0
    explored: list[float] = []
    for _ in range(rounds):
        groups = _levels(L)
        starts = []
        fresh = []
        for grp in groups:
            if any(abs(L[grp[0]] - v) <= LEVEL_TOL for v in explored):
                continue
            explored.append(float(L[grp[0]]))
            fresh.append(grp)
            for q in range(per_level):
                x = X[grp[q % len(grp)]]
                scale = (0.03, 0.1, 0.3)[q % 3]
                starts.append(x + scale * rng.normal(size=x.shape))
        # bias flips: each dead column's bias sign, each live column's output switched off / on;
        # column moves: a live column killed, split into a dead one, or a dead one grown along it
        for g in fresh:
            starts.extend(_bias_flips(X[g[0]], r, c))
            starts.extend(_column_moves(X[g[0]], r, c))
        # mode following: +- the softest / most negative Hessian eigenvectors (zero modes skipped)
        if fresh and n_modes:
            Hs = hessians(np.array([X[g[0]] for g in fresh]), model)
            for g, H in zip(fresh, Hs):
                lam, vec = np.linalg.eigh(0.5 * (H + H.T))
                tol = 1e-8 * max(1.0, float(np.max(np.abs(lam))))
                modes = [j for j in np.argsort(lam) if abs(lam[j]) > tol][:n_modes]
                for j in modes:
                    for step in (0.1, -0.1, 0.3, -0.3):
                        starts.append(X[g[0]] + step * vec[:, j])
        if not starts:
            break
        S, SL, ok = refine_critical(np.array(starts), model)
        used += len(starts)
        S, SL = S[ok], SL[ok]
        levels = np.array([L[g[0]] for g in groups])
        new = np.array([np.min(np.abs(levels - v)) > LEVEL_TOL for v in SL], dtype=bool)
        X = np.concatenate([X, S])
        L = np.concatenate([L, SL])
        if not np.any(new):
            break
    # the most unstable mode at further members of each saddle level: a level is often a flat continuum
    # (output-off columns that turn freely, ...), and its unstable mode leads to different minima
    # from different members (the minimum irregular-be2d8e69 at c = 9 lies along the unstable mode
    # of one member of the saddle level 0.1506903, not of the member explored above); a pass after
    # the rounds, so that the rounds, and what they find, are unchanged
    if mode_members > 1 and n_modes:
        bases = [x for g in _levels(L) for x in _distinct_members(X, g, r, c, mode_members)[1:]]
        starts = []
        if bases:
            for x, H in zip(bases, hessians(np.array(bases), model)):
                lam, vec = np.linalg.eigh(0.5 * (H + H.T))
                tol = 1e-8 * max(1.0, float(np.max(np.abs(lam))))
                for j in np.nonzero(lam < -tol)[0][:1]:
                    for step in (0.1, -0.1, 0.3, -0.3):
                        starts.append(x + step * vec[:, j])
        if starts:
            S, SL, ok = refine_critical(np.array(starts), model)
            used += len(starts)
            X = np.concatenate([X, S[ok]])
            L = np.concatenate([L, SL[ok]])
    return X, L, used


def _lattice_closure(reps: list[tuple[np.ndarray, float]], model: ModelSpec, *, max_loss: float | None,
                     rounds: int = 8) -> tuple[list[tuple[np.ndarray, float]], int]:
    """Close the representatives under the sigma+/sigma- lattice (module docstring, step 2b).

    Every representative (a clean, canonically posed point: for the regular families the exact
    polygon) is changed by :func:`_bias_flips` (one dead bias sign flipped, one firing column
    switched off, one output-off column switched on) and certified as it is (no Newton iteration:
    the exploration already re-solves flips; here only the exact neighbours count, such as every
    member of the zero-bias 4-gon family). A certified point on a level not yet present, or
    a regular polygon on a level whose representative is not regular, makes that level's
    representative be chosen again (:func:`_choose_representatives` on the level's representative
    and the new points); the changed representatives are flipped in the next round, until a round
    changes nothing. (The exploration flips one member of each level, which may lie elsewhere on a
    flat critical set, where a flip is not a neighbour in the lattice; and a level reached only at
    such members may otherwise get an irregular representative.) Returns the loss-sorted
    representatives and the number of flipped starts.
    """
    r, c = model.r, model.c
    out = list(reps)
    regular = [polygon_info(*unflatten(x, r, c)).regular for x, _ in out]
    todo = list(range(len(out)))
    used = 0
    for _ in range(rounds):
        starts = [y for i in todo for y in _bias_flips(out[i][0], r, c)]
        if not starts:
            break
        S = _clean(np.array(starts), r, c)
        SL, _, ok = certify(S, model)
        used += len(starts)
        S, SL = S[ok], SL[ok]
        if max_loss is not None:
            keep = SL <= max_loss + LEVEL_TOL
            S, SL = S[keep], SL[keep]
        levels = np.array([lo for _, lo in out])
        pick = []
        for s_idx, v in enumerate(SL):
            j = int(np.argmin(np.abs(levels - v)))
            if abs(levels[j] - v) > LEVEL_TOL:
                pick.append(s_idx)
            elif not regular[j] and polygon_info(*unflatten(S[s_idx], r, c)).regular:
                pick.append(s_idx)
        if not pick:
            break
        pick = np.array(pick)
        touched = sorted({int(np.argmin(np.abs(levels - v))) for v in SL[pick]
                          if np.min(np.abs(levels - v)) <= LEVEL_TOL})
        Xs = np.concatenate([np.array([out[j][0] for j in touched]).reshape(len(touched), S.shape[1]), S[pick]])
        Ls = np.concatenate([np.array([out[j][1] for j in touched]), SL[pick]])
        todo = []
        for x, lo in _choose_representatives(Xs, Ls, model):
            j = int(np.argmin(np.abs(levels - lo)))
            is_reg = polygon_info(*unflatten(x, r, c)).regular
            if abs(levels[j] - lo) <= LEVEL_TOL:
                if is_reg and not regular[j]:
                    out[j], regular[j] = (x, lo), True
                    todo.append(j)
            else:
                out.append((x, lo))
                regular.append(is_reg)
                todo.append(len(out) - 1)
        if not todo:
            break
    out.sort(key=lambda t: t[1])
    return out, used


def _check_seed(seed) -> int:
    return check_int("seed", seed, minimum=0)


def _exact_polygon_starts(r: int, c: int) -> np.ndarray:
    """Flattened exact k^{sigma+}-gons (``kgon.kgon``) for k = c-2..c, every sigma+, sigma- = 0."""
    rows = []
    for k in range(max(2, c - 2), c + 1):
        for sp in range(c - k + 1):
            for sol in _exact_kgon(k, c, sigma_plus=sp, r=r).solutions:
                rows.append(np.asarray(flatten(np.asarray(sol.W, float), np.asarray(sol.b, float))))
    return np.array(rows).reshape(len(rows), r * c + c)


def find_critical_points(
    c: int,
    *,
    r: int = 2,
    n_starts: int | None = None,
    seed: int = 0,
    max_loss: float | None = None,
    max_index: int | None = 0,
    explore_rounds: int = 3,
    numerical_llc: bool = True,
    importance=None,
) -> Catalogue:
    """Find, certify, deduplicate, name and measure the critical points of the TMS potential.

    Parameters
    ----------
    c : int
        Number of features (>= 2).
    r : int, keyword-only
        Hidden dimension (>= 1).
    n_starts : int, keyword-only
        Number of starting points (default 200 c); a third random, a third perturbed regular
        polygons, a third gradient-descent endpoints (:mod:`kgon.critical.search`).
    seed : int, keyword-only
        Seed of the starting points (numpy ``default_rng``). The numerical LLC uses a key derived
        from (c, r) only, so equal representatives get equal estimates under any seed.
    max_loss : float, keyword-only
        Keep only points with loss <= max_loss (None: all).
    max_index : int or None, keyword-only
        Keep irregular points only if their Hessian index (number of negative eigenvalues) is at most
        this (default 0: minima); regular polygons (minima or saddles) are always kept. None keeps
        every certified point (module docstring, step 6).
    explore_rounds : int, keyword-only
        Rounds of local exploration around the found points (module docstring, step 0; default 3).
    numerical_llc : bool, keyword-only
        Run the numerical LLC (:func:`kgon.llc.llc_numerical`) for every point (default True).
    importance : sequence of c floats > 0, keyword-only
        Feature importance I_j of the potential (:func:`kgon.potential`); None (default) or all ones:
        the uniform model, with results identical to a call without it. Only permutations among
        features of equal importance are symmetries (:mod:`kgon.symmetry`); the importance enters
        the names of irregular points and the seed of the numerical LLC.

    Returns
    -------
    Catalogue
        Points sorted by loss; ``n_converged`` says how many of the ``n_starts`` starts were certified.

    Raises
    ------
    ValueError
        On invalid arguments, or if no start converged to a certified critical point.

    Notes
    -----
    Method in the docstrings of :mod:`kgon.critical.search` and :mod:`kgon.critical.catalogue`. References: Chen et
    al. (2023), "Dynamical versus Bayesian phase transitions in a toy model of superposition",
    §4; docs/zoo.md.
    """
    require_x64("kgon.find_critical_points")
    config = SearchConfig(c=c, r=r, n_starts=n_starts, seed=seed, max_loss=max_loss, max_index=max_index,
                          explore_rounds=explore_rounds, numerical_llc=numerical_llc, importance=importance)
    if config.n_starts is None:
        config = dataclasses.replace(config, n_starts=_default_n_starts(c, r))
    if config.max_loss is not None:
        config = dataclasses.replace(config, max_loss=float(config.max_loss))
    c, r, n_starts, seed, max_loss = config.c, config.r, config.n_starts, config.seed, config.max_loss
    max_index, explore_rounds = config.max_index, config.explore_rounds
    model = config.model
    rng = np.random.default_rng(seed)
    X0, kind = make_starts(rng, n_starts, model)
    gd = kind == 2
    if np.any(gd):
        X0[gd] = gradient_descent(X0[gd], model)
    # the exact regular k-gons of the largest families (resultant solver), so that polygons whose
    # (length, bias) lie outside the random polygon starts' ranges are never missed (the 10-gon at
    # c = 10 has l = -b = golden ratio)
    exact = _exact_polygon_starts(r, c)
    X0 = np.concatenate([X0, exact])
    X, L, ok = refine_critical(X0, model)
    # n_converged counts the same set as n_starts (the requested starts); the exact polygon starts
    # are counted separately in the config
    n_conv = int(ok[:n_starts].sum())
    n_exact_conv = int(ok[n_starts:].sum())
    if n_conv + n_exact_conv == 0:
        raise ValueError(
            f"no start converged to a certified critical point (|grad L| <= {GRAD_TOL:g}) at {model.key()} "
            f"with n_starts = {n_starts}; increase `n_starts`."
        )
    X, L = X[ok], L[ok]
    if max_loss is not None:
        keep = L <= max_loss + LEVEL_TOL
        X, L = X[keep], L[keep]
    n_explore = 0
    if X.shape[0] and explore_rounds:
        X, L, n_explore = _explore(X, L, model, rng, rounds=explore_rounds, per_level=4)
        if max_loss is not None:
            keep = L <= max_loss + LEVEL_TOL
            X, L = X[keep], L[keep]
    reps = _choose_representatives(X, L, model) if X.shape[0] else []
    reps, n_lattice = _lattice_closure(reps, model, max_loss=max_loss)
    if max_loss is not None:
        reps = [(x, lo) for x, lo in reps if lo <= max_loss]
    points = _measure(reps, model, numerical_llc=numerical_llc, max_index=max_index)
    stats = {"grad_tol": GRAD_TOL, "level_tol": LEVEL_TOL, "n_explore": n_explore, "n_lattice": n_lattice,
             "exact_starts": int(exact.shape[0]), "exact_converged": n_exact_conv}
    return Catalogue(c, r, tuple(points), seed, n_starts, n_conv, max_loss, config=config, stats=stats)


_KINK_STEPS = (1e-4, 1e-3)
"""Step lengths t of the descent test at kinks (:func:`_kink_descent`)."""


def _kink_descent(x: np.ndarray, model: ModelSpec, *, n_pieces: int = 8, h: float = 1e-7) -> np.ndarray | None:
    """A direction v with L(x + t v) < L(x) for every t in ``_KINK_STEPS``, found among the
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
    from kgon.critical.search import loss_and_grad_norm

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
    steps = np.array(_KINK_STEPS)
    T = np.array([x + t * v for v in dirs for t in steps])
    LT, _ = loss_and_grad_norm(np.vstack([x[None], T]), model)
    drop = (LT[1:] - LT[0]).reshape(len(dirs), steps.size)
    hit = np.nonzero(np.all(drop < -1e-14, axis=1))[0]
    return dirs[int(hit[0])] if hit.size else None


def _measure(reps, model: ModelSpec, *, numerical_llc: bool, max_index: int | None = None) -> list[CriticalPoint]:
    from kgon.critical.search import loss_and_grad_norm

    r, c, imp = model.r, model.c, model.importance
    if max_index is not None and reps:
        # cheap prefilter on the Hessian index before the full geometry
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
        geom = hessian_geometry(W, b, importance=imp)
        if max_index is not None and not polygon_info(W, b).regular:
            if geom.signature[0] > max_index:
                continue
            # at a kink the Hessian's index depends on rounding; a minimum must not descend
            if max_index == 0 and not geom.smooth and _kink_descent(x, model) is not None:
                continue
        geoms.append(geom)
        kept.append((x, lo))
    reps = kept
    if numerical_llc and reps:
        llc_key = f"llc|{c}|{r}" if imp is None else f"llc|{model.key()}"
        key_int = int(hashlib.sha1(llc_key.encode()).hexdigest()[:8], 16)
        nums = llc_numerical(jax.random.PRNGKey(key_int), [(x, lo, g) for (x, lo), g in zip(reps, geoms)], model)
    else:
        nums = [None] * len(reps)
    Xr = np.array([x for x, _ in reps]) if reps else np.zeros((0, r * c + c))
    Ls, gns = loss_and_grad_norm(Xr, model)
    raw = []
    for (x, _), geom, num, loss, gnorm in zip(reps, geoms, nums, Ls, gns):
        W, b = unflatten(x, r, c)
        W = np.array(W)
        b = np.array(b)
        info = polygon_info(W, b)
        name = point_name(W, b, loss, importance=imp)
        lh = llc_hessian(geom)
        saddle = geom.signature[0] > 0
        suffix = "-stable" if saddle else ""
        if lh is not None:
            llc, llc_err, method = lh, 0.0, "hessian" + suffix
        elif num is not None and not num.escaped:
            llc, llc_err, method = num.value, num.err, "numerical" + suffix
        else:
            # no Hessian value (not C^2 or degenerate) and the sampler left the point
            llc, llc_err, method = float("nan"), float("nan"), "n/a" + suffix
        W.setflags(write=False)
        b.setflags(write=False)
        raw.append(
            dict(
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
                constant=_constant(W, b),
                multiplicity=multiplicity(W, b, importance=imp),
                hessian_signature=tuple(int(v) for v in geom.signature),
                smooth=bool(geom.smooth),
                zero_modes=(geom.orbit_dim, geom.flat_dim, geom.degenerate_dim),
                llc_numerical_err=None if num is None or num.escaped else num.err,
            )
        )
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


# ----------------------------------------------------------------------------------------------
# cached default catalogue

_CACHE_VERSION = "1"
_SOURCE_FILES = (  # relative to the kgon package
    "critical/search.py",
    "critical/catalogue.py",
    "symmetry.py",
    "naming.py",
    "geometry.py",
    "llc.py",
    "polygons.py",
    "evaluators.py",
)


def _code_hash() -> str:
    h = hashlib.sha1(_CACHE_VERSION.encode())
    package = Path(__file__).resolve().parents[1]
    for name in _SOURCE_FILES:
        h.update((package / name).read_bytes())
    return h.hexdigest()[:16]


def _cache_dir() -> Path:
    root = os.environ.get("TMSPHASE_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "tmsphase"


def default_catalogue_path(c: int, *, r: int = 2, max_loss: float | None = None, importance=None) -> Path:
    """The file under which :func:`default_catalogue` caches the catalogue at (c, r, max_loss, importance).

    ``$TMSPHASE_CACHE/catalogue-c<c>-r<r>-<key>.json`` (default directory ``~/.cache/tmsphase``); the
    key hashes the source of the search modules and the arguments (the importance only when it is not
    uniform), so a code change starts a new file.
    """
    model = ModelSpec(c=c, r=r, importance=importance)
    text = f"{_code_hash()}|c={c}|r={r}|max_loss={max_loss!r}"
    if not model.uniform:
        text += "|" + model.key()
    key = hashlib.sha1(text.encode()).hexdigest()[:16]
    return _cache_dir() / f"catalogue-c{c}-r{r}-{key}.json"


@lru_cache(maxsize=None)
def _default_catalogue_cached(c: int, r: int, max_loss: float | None, importance=None) -> Catalogue:
    path = default_catalogue_path(c, r=r, max_loss=max_loss, importance=importance)
    if path.exists():
        try:
            return Catalogue.from_json(path.read_text())
        except (ValueError, KeyError):
            pass  # corrupt cache entry: recompute
    cat = find_critical_points(c, r=r, seed=0, max_loss=max_loss, importance=importance)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, cat.to_json())
    except OSError:
        pass  # read-only cache location: keep the in-memory result
    return cat


def default_catalogue(c: int = 6, *, r: int = 2, max_loss: float | None = None, importance=None) -> Catalogue:
    """The catalogue at (c, r) with default search settings (seed 0), computed once and cached.

    Cached in memory and on disk under ``$TMSPHASE_CACHE`` (default ``~/.cache/tmsphase``), keyed by
    a hash of the code of the search modules and the arguments; a corrupt or missing file is
    recomputed.

    Parameters
    ----------
    c : int
        Number of features (>= 2).
    r : int, keyword-only
        Hidden dimension (>= 1).
    max_loss : float, keyword-only
        Keep only points with loss <= max_loss.
    importance : sequence of c floats > 0, keyword-only
        Feature importance (:func:`find_critical_points`); None or all ones: uniform.
    """
    c = check_int("c", c, minimum=2)
    r = check_int("r", r, minimum=1)
    importance = ModelSpec(c=c, r=r, importance=importance).importance
    if max_loss is not None:
        if isinstance(max_loss, bool) or not isinstance(max_loss, (int, float)) or not math.isfinite(max_loss):
            raise ValueError(f"`max_loss` must be a finite number or None; got {max_loss!r}.")
        max_loss = float(max_loss)
    return _default_catalogue_cached(c, r, max_loss, importance)
