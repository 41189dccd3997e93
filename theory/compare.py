"""Theoretical versus empirical phase occupancy (SCIENCE.md §4; Chen et al. 2023, Fig. "occupancy").

The empirical occupancy at sample size n is the fraction of posterior draws classified into each
catalogue phase. Draws labelled ``"other"`` (not near any catalogue point, e.g. the broad posterior
at small n) and draws in catalogue phases without a finite LLC (no free energy) are reported
separately as ``other``; the comparison uses the occupancy *conditional on being in a
catalogue phase*, p_obs(alpha) = occ(alpha) / (1 - occ(other)), against the theoretical softmax of
-F_n restricted to the compared phases.

Only transitions between globally dominant phases (``BayesianTransition.globally_dominant``) are compared:
elsewhere both occupancies are exponentially small and their crossing is not observable.
Observed crossing of a transition alpha -> beta: the n where d(n) = p_obs(beta) - p_obs(alpha)
changes sign, by linear interpolation in log n between the bracketing sample sizes; its confidence
interval comes from a parametric bootstrap (each observed occupancy redrawn from a normal with its
reported standard error) and is the 16-84 % range (a 68 % interval).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from theory.free_energy import occupancy, phases_of, transitions

__all__ = ["EmpiricalOccupancy", "OccupancyComparison", "CrossingComparison", "compare_occupancy", "as_empirical"]

OTHER = "other"


@dataclass(frozen=True)
class EmpiricalOccupancy:
    """Observed occupancy at one n: ``occupancy[label]`` and its standard error ``occupancy_err``."""

    n: float
    occupancy: Mapping[str, float]
    occupancy_err: Mapping[str, float]
    method: str = "unknown"


def as_empirical(item: Any) -> EmpiricalOccupancy:
    """Coerce an ``sampling.OccupancyResult``, a dict (``tmsphase posterior --json`` result) or an
    EmpiricalOccupancy into an EmpiricalOccupancy."""
    if isinstance(item, EmpiricalOccupancy):
        return item
    get = item.get if isinstance(item, Mapping) else (lambda k, d=None: getattr(item, k, d))
    n = get("n")
    occ = get("occupancy")
    if n is None or occ is None:
        raise ValueError(f"`empirical` entries need `n` and `occupancy`; got {type(item).__name__}.")
    err = get("occupancy_err") or {}
    return EmpiricalOccupancy(float(n), dict(occ), dict(err), str(get("method", "unknown") or "unknown"))


@dataclass(frozen=True)
class CrossingComparison:
    """Predicted vs observed crossing n of one transition. ``observed`` is None if not bracketed."""

    from_label: str
    to_label: str
    kind: str
    predicted: float
    observed: float | None
    ci_low: float | None
    ci_high: float | None

    def to_dict(self) -> dict:
        return {
            "from": self.from_label,
            "to": self.to_label,
            "type": self.kind,
            "n_predicted": self.predicted,
            "n_observed": self.observed,
            "n_observed_ci": [self.ci_low, self.ci_high],
        }


@dataclass(frozen=True)
class OccupancyComparison:
    """Per n and phase: predicted and observed occupancy (with error); per transition: crossings.

    Attributes
    ----------
    ns : ndarray
        Sample sizes of the empirical data, ascending.
    labels : tuple of str
        Compared phases.
    predicted, observed, observed_err : dict label -> ndarray over ns
        Theoretical and (conditional) empirical occupancy.
    other : ndarray
        Fraction of draws classified "other" at each n.
    methods : tuple of str
        The sampling method that produced each n.
    crossings : tuple of CrossingComparison
    mean_abs_diff : float
        Mean over n and phases of |observed - predicted| (the scalar disagreement summary).
    max_z : float
        Largest |observed - predicted| / max(err, 0.01) over n and phases.
    """

    ns: np.ndarray
    labels: tuple[str, ...]
    predicted: dict[str, np.ndarray]
    observed: dict[str, np.ndarray]
    observed_err: dict[str, np.ndarray]
    other: np.ndarray
    methods: tuple[str, ...]
    crossings: tuple[CrossingComparison, ...]
    mean_abs_diff: float
    max_z: float
    catalogue_phases: tuple = field(default=(), repr=False)

    def to_dict(self) -> dict:
        return {
            "ns": self.ns.tolist(),
            "labels": list(self.labels),
            "methods": list(self.methods),
            "predicted": {k: v.tolist() for k, v in self.predicted.items()},
            "observed": {k: v.tolist() for k, v in self.observed.items()},
            "observed_err": {k: v.tolist() for k, v in self.observed_err.items()},
            "other": self.other.tolist(),
            "crossings": [c.to_dict() for c in self.crossings],
            "mean_abs_diff": self.mean_abs_diff,
            "max_z": self.max_z,
        }


def _interp_crossing(logn: np.ndarray, d: np.ndarray, weight: np.ndarray) -> float | None:
    """Sign change of d (from < 0 to >= 0) by linear interpolation in log n.

    If d changes sign more than once (noise where both occupancies are small), the change where the
    two phases together hold the most mass (``weight``, the smaller of its values at the bracketing
    points) is taken.
    """
    best, best_w = None, -1.0
    for i in range(len(d) - 1):
        if d[i] < 0 <= d[i + 1]:
            w = min(weight[i], weight[i + 1])
            if w > 0.02 and w > best_w:  # both phases must hold mass at the bracketing points
                t = -d[i] / (d[i + 1] - d[i])
                best, best_w = float(math.exp(logn[i] + t * (logn[i + 1] - logn[i]))), w
    return best


def compare_occupancy(
    catalogue,
    empirical: Sequence[Any],
    *,
    labels: Sequence[str] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> OccupancyComparison:
    """Compare theoretical and empirical phase occupancy.

    Parameters
    ----------
    catalogue : kgon.Catalogue or iterable of phases
        Source of L, lambda and c per phase.
    empirical : sequence
        One entry per n: ``sampling.OccupancyResult``, a ``tmsphase posterior --json`` result dict,
        or :class:`EmpiricalOccupancy`.
    labels : sequence of str, optional
        Phases to compare; default: every phase observed in ``empirical`` (except "other").
    n_boot : int
        Parametric bootstrap replicates for the crossing confidence intervals.
    seed : int
        Seed of the bootstrap.

    Raises
    ------
    ValueError
        Empty ``empirical``, a non-positive n, or observed phases the catalogue lacks.
    """
    emp = sorted((as_empirical(e) for e in empirical), key=lambda e: e.n)
    if not emp:
        raise ValueError("`empirical` must contain at least one occupancy measurement; got none.")
    ns = np.array([e.n for e in emp])
    if np.any(ns <= 0) or not np.all(np.isfinite(ns)):
        raise ValueError(f"`n` of every empirical entry must be positive; got {ns.tolist()}.")
    pts = list(getattr(catalogue, "points", catalogue))
    all_labels = {str(getattr(p, "label", None) or getattr(p, "name")) for p in pts}
    modelled = {p.label for p in phases_of(catalogue)}
    seen = sorted({lab for e in emp for lab in e.occupancy if lab != OTHER})
    unknown = [lab for lab in seen if lab not in all_labels]
    if unknown:
        raise ValueError(
            f"`empirical` has phases {unknown} that the catalogue lacks (catalogue phases: {sorted(all_labels)})."
        )
    if labels is not None:
        bad = [lab for lab in labels if lab not in modelled]
        if bad:
            raise ValueError(f"`labels` must be catalogue phases with a finite llc {sorted(modelled)}; got {bad}.")
        labs = tuple(labels)
    else:
        labs = tuple(lab for lab in seen if lab in modelled)
    if not labs:
        raise ValueError(
            "`empirical` has no draws in any catalogue phase with a known llc (only 'other' or unmodelled "
            "phases); nothing to compare."
        )
    theory = occupancy(catalogue, ns, labels=labs)
    # draws outside the compared phases ("other" and catalogue phases without a free energy)
    other = np.array([1.0 - sum(float(e.occupancy.get(lab, 0.0)) for lab in labs) for e in emp])
    other = np.clip(other, 0.0, 1.0)
    denom = np.clip(1.0 - other, 1e-12, None)
    obs = {lab: np.array([float(e.occupancy.get(lab, 0.0)) for e in emp]) / denom for lab in labs}
    err = {lab: np.array([float(e.occupancy_err.get(lab, 0.0)) for e in emp]) / denom for lab in labs}
    diffs = np.stack([np.abs(obs[lab] - theory.probs[lab]) for lab in labs])
    zs = np.stack([diffs[i] / np.maximum(err[lab], 0.01) for i, lab in enumerate(labs)])

    rng = np.random.default_rng(seed)
    logn = np.log(ns)
    crossings = []
    for t in transitions(catalogue, labels=labs):
        if not t.globally_dominant:
            continue  # not visible as a crossing of the dominant occupancies
        if not (ns.min() / 2 <= t.n_critical <= ns.max() * 2):
            continue  # outside the sampled range of n
        d = obs[t.to_label] - obs[t.from_label]
        mass = obs[t.to_label] + obs[t.from_label]
        observed = _interp_crossing(logn, d, mass)
        lo = hi = None
        if observed is not None and len(ns) > 1:
            sd = np.hypot(err[t.to_label], err[t.from_label])
            boots = []
            for _ in range(n_boot):
                val = _interp_crossing(logn, d + rng.normal(size=d.shape) * sd, mass)
                if val is not None:
                    boots.append(val)
            if boots:
                lo, hi = (float(x) for x in np.quantile(boots, [0.16, 0.84]))
        crossings.append(CrossingComparison(t.from_label, t.to_label, t.kind, t.n_critical, observed, lo, hi))
    return OccupancyComparison(
        ns=ns,
        labels=labs,
        predicted={lab: theory.probs[lab] for lab in labs},
        observed=obs,
        observed_err=err,
        other=other,
        methods=tuple(e.method for e in emp),
        crossings=tuple(crossings),
        mean_abs_diff=float(diffs.mean()),
        max_z=float(zs.max()),
        catalogue_phases=tuple(phases_of(catalogue)),
    )
