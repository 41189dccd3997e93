"""The critical-point catalogue's types: certified points, the search settings, the catalogue, JSON and CSV.

:class:`CriticalPoint` is one catalogue entry (a certified, named, measured critical point);
:class:`SearchConfig` the settings of :func:`kgon.critical.driver.find_critical_points` (the model, a
:class:`kgon.critical.search.ModelSpec`, and the search's own settings); :class:`Catalogue` the points
at one model, sorted by loss, with the settings and figures of the search that found them. JSON
(:meth:`Catalogue.to_json`, strict, floats round-trip exactly) and CSV (:meth:`Catalogue.to_csv`).
The search itself is described in :mod:`kgon.critical.driver` and docs/zoo.md.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kgon.critical.search import ModelSpec
from kgon.io import dumps_json, write_text_atomic
from kgon.validation import check_float, check_int

__all__ = ["Catalogue", "CriticalPoint", "SearchConfig"]

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
        ``|grad L(W, b)|`` (<= 1e-9: certified).
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


_CONFIG_KEYS = ("c", "r", "n_starts", "seed", "max_loss", "max_index", "explore_rounds", "numerical_llc",
                "importance", "input_dist")
"""Keys of :meth:`SearchConfig.to_dict`, in order."""


@dataclass(frozen=True, init=False)
class SearchConfig:
    """Settings of :func:`kgon.critical.driver.find_critical_points` (validated on construction; held by
    :class:`Catalogue`).

    Built from a model, ``SearchConfig(ModelSpec(6, r=2), n_starts=...)``, or from the model's fields,
    ``SearchConfig(c=6, r=2, importance=None, n_starts=...)`` (not both).

    Attributes
    ----------
    model : ModelSpec
        The model searched: c features (>= 2), hidden dimension r (>= 1, default 2) and the feature
        importance I_j > 0 (None, and all ones, is the uniform model); :class:`kgon.critical.search.ModelSpec`.
    n_starts : int or None
        Number of starting points (>= 1); None: 200 c (:func:`kgon.critical.driver.find_critical_points`
        records the value used).
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

    Notes
    -----
    The model's fields are also read as ``c``, ``r``, ``importance`` and ``input_dist``; :meth:`to_dict`
    writes them flat (``importance`` omitted when None, ``input_dist`` when ``"uniform"``, so the uniform
    model's stored form does not mention it).
    """

    model: ModelSpec
    n_starts: int | None = None
    seed: int = 0
    max_loss: float | None = None
    max_index: int | None = 0
    explore_rounds: int = 3
    numerical_llc: bool = True

    def __init__(self, model: ModelSpec | None = None, *, c: int | None = None, r: int | None = None,
                 importance=None, n_starts: int | None = None, seed: int = 0, max_loss: float | None = None,
                 max_index: int | None = 0, explore_rounds: int = 3, numerical_llc: bool = True,
                 input_dist: str | None = None):
        if model is None:
            if c is None:
                raise ValueError("`c` is required (or pass `model`, a kgon.critical.search.ModelSpec).")
            model = ModelSpec(c=c, r=2 if r is None else r, importance=importance,
                              input_dist="uniform" if input_dist is None else input_dist)
        elif not isinstance(model, ModelSpec):
            raise ValueError(f"`model` must be a kgon.critical.search.ModelSpec; got {model!r}.")
        elif c is not None or r is not None or importance is not None or input_dist is not None:
            raise ValueError("pass either `model` or `c`, `r`, `importance`, `input_dist`, not both.")
        if n_starts is not None:
            check_int("n_starts", n_starts, minimum=1)
        check_int("seed", seed, minimum=0)
        if max_loss is not None:
            check_float("max_loss", max_loss)
        if max_index is not None:
            check_int("max_index", max_index, minimum=0)
        check_int("explore_rounds", explore_rounds, minimum=0)
        if not isinstance(numerical_llc, bool):
            raise ValueError(f"`numerical_llc` must be True or False; got {numerical_llc!r}.")
        for name, value in (("model", model), ("n_starts", n_starts), ("seed", seed), ("max_loss", max_loss),
                            ("max_index", max_index), ("explore_rounds", explore_rounds),
                            ("numerical_llc", numerical_llc)):
            object.__setattr__(self, name, value)

    @property
    def c(self) -> int:
        """Number of features (``model.c``)."""
        return self.model.c

    @property
    def r(self) -> int:
        """Hidden dimension (``model.r``)."""
        return self.model.r

    @property
    def importance(self) -> tuple[float, ...] | None:
        """Feature importance (``model.importance``; None: uniform)."""
        return self.model.importance

    @property
    def input_dist(self) -> str:
        """Input distribution (``model.input_dist``: ``"uniform"`` or ``"point"``)."""
        return self.model.input_dist

    def to_dict(self) -> dict:
        """Flat JSON-able dict: c, r, the search settings, ``importance`` unless the model is uniform, and
        ``input_dist`` for point inputs."""
        out = {"c": self.c, "r": self.r}
        out.update({f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "model"})
        if self.importance is not None:
            out["importance"] = list(self.importance)
        if self.model.point:
            out["input_dist"] = self.input_dist
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "SearchConfig":
        """Inverse of :meth:`to_dict` (other keys are ignored)."""
        return cls(**{k: v for k, v in d.items() if k in _CONFIG_KEYS})


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
        How many of those ``n_starts`` starts ended at a certified point (``|grad L|`` <= 1e-9), so
        ``n_converged <= n_starts``. The exact polygon starts that the search adds
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
    def input_dist(self) -> str:
        """The input distribution of the potential (``"uniform"`` or ``"point"``), from ``config``."""
        return "uniform" if self.config is None else self.config.input_dist

    @property
    def model(self) -> ModelSpec:
        """The model of the catalogue, :class:`kgon.critical.search.ModelSpec` (c, r, importance, input_dist)."""
        return ModelSpec(c=self.c, r=self.r, importance=self.importance, input_dist=self.input_dist)

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
        """Inverse of :meth:`to_dict`; a dict without ``stats`` takes the run figures from the keys of
        ``config`` that are not settings."""
        config, stats = d.get("config"), d.get("stats")
        if stats is None and config:  # settings and run figures in one dict
            stats = {k: v for k, v in config.items() if k not in _CONFIG_KEYS}
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
