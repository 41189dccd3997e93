"""Theoretical versus empirical phase occupancy (docs/index.md; Chen et al. 2023, Fig. "occupancy").

The empirical occupancy at sample size n is the fraction of posterior draws classified into each
catalogue phase. Draws labelled ``"other"`` (not near any catalogue point, e.g. the broad posterior
at small n) and draws in catalogue phases without a finite LLC (no free energy) are reported
separately as ``other``; the comparison uses the occupancy *conditional on being in a
catalogue phase*, p_obs(alpha) = occ(alpha) / (1 - occ(other)), against the theoretical softmax of
-F_n restricted to the compared phases.

Only transitions between globally dominant phases (``BayesianTransition.globally_dominant``) are compared:
elsewhere both occupancies are exponentially small and their crossing is not observable.
Observed crossing of a transition alpha -> beta: ``sampling.crossing_estimate`` (the one crossing
estimator of the toolkit) on the conditional occupancies: where p_obs(beta) - p_obs(alpha) changes
sign from < 0 to >= 0, by linear interpolation in log n (the first such change where the two phases
hold more than 0.02 together, as the predicted crossing is the first), with a parametric-bootstrap interval of explicit
coverage ``level`` (0.95 by default, as ``tmsphase posterior``).

``order="refined"`` compares with the refined local free energy (docs/free_energy.md) of the phases
it covers (smooth local minima and flat phases; kinked points and saddles are left out), optionally
data-conditional (``data``: the data stream of the posterior run, at least max(n) samples), in closed
form (the first-order data term, :func:`theory.data_free_energy`: seconds). ``order="exact"`` compares
with the same posterior mass integrated numerically over each phase's cell (annealed SMC, minutes per
phase and n): a check of the sampler, not the theory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from theory.free_energies.orders import (
    BayesianTransition,
    check_beta,
    check_order,
    occupancy,
    phases_of,
    refined_phases,
    transition_kind,
    transitions,
)

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
    level: float = 0.95

    def to_dict(self) -> dict:
        return {
            "from": self.from_label,
            "to": self.to_label,
            "type": self.kind,
            "n_predicted": self.predicted,
            "n_observed": self.observed,
            "interval": [self.ci_low, self.ci_high],
            "level": self.level,
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
        Mean over n and phases of ``|observed - predicted|`` (the scalar disagreement summary).
    max_z : float
        Largest ``|observed - predicted|`` / max(err, 0.01) over n and phases.
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
    order: str = "leading"
    beta: float = 1.0
    dropped: dict = field(default_factory=dict)

    def max_abs_deviation(self, *, n_min: float = 0.0, labels: Sequence[str] | None = None) -> float:
        """Largest ``|observed - predicted|`` over the n >= ``n_min`` and ``labels`` (default all)."""
        labs = self.labels if labels is None else [lab for lab in labels if lab in self.labels]
        keep = self.ns >= n_min
        if not labs or not keep.any():
            return float("nan")
        return float(max(np.max(np.abs(self.observed[lab][keep] - self.predicted[lab][keep])) for lab in labs))

    @classmethod
    def from_dict(cls, d: Mapping) -> "OccupancyComparison":
        """The comparison written by :meth:`to_dict` (without ``catalogue_phases``, which it does not hold)."""
        arr = lambda m: {k: np.asarray(v, dtype=float) for k, v in m.items()}  # noqa: E731
        crossings = tuple(
            CrossingComparison(c["from"], c["to"], c["type"], c["n_predicted"], c["n_observed"], c["interval"][0],
                               c["interval"][1], c.get("level", 0.95))
            for c in d["crossings"]
        )
        return cls(
            ns=np.asarray(d["ns"], dtype=float), labels=tuple(d["labels"]), predicted=arr(d["predicted"]),
            observed=arr(d["observed"]), observed_err=arr(d["observed_err"]), other=np.asarray(d["other"], dtype=float),
            methods=tuple(d["methods"]), crossings=crossings, mean_abs_diff=d["mean_abs_diff"], max_z=d["max_z"],
            order=d.get("order", "leading"), beta=d.get("beta", 1.0), dropped=dict(d.get("dropped", {})),
        )

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
            "max_abs_deviation": self.max_abs_deviation(),
            "max_z": self.max_z,
            "order": self.order,
            "beta": self.beta,
            "dropped": dict(self.dropped),
        }


def compare_occupancy(
    catalogue,
    empirical: Sequence[Any],
    *,
    labels: Sequence[str] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    order: str = "leading",
    beta: float = 1.0,
    data=None,
    level: float = 0.95,
    nongaussian_draws: int | None = None,
    nongaussian_anneal: int | None = None,
    relaxation: bool | None = None,
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
    order : "leading" (default), "refined" or "exact"
        Free energy of the prediction (:func:`theory.free_energy`): the paper's leading order, the
        refined order (closed form; on ``data`` with the first-order data term) or the exact one (the
        numerical integral of each phase's cell, on ``data`` or the population loss).
    beta : float
        Inverse temperature of the posterior (1: docs/index.md; 1/2: unit-noise Gaussian).
    data : sampling.Dataset, optional
        The data stream of the posterior run (refined and exact orders): data-conditional prediction.
    level : float
        Coverage of the observed crossing's bootstrap interval (``sampling.crossing_estimate``).
    nongaussian_draws, nongaussian_anneal : int, optional
        Draws (particles) and annealing targets of the non-Gaussian term (exact order, or the refined
        order on the population loss; :func:`theory.free_energy`, defaults there).
    relaxation : bool, optional
        The closed-form data term's O(1) relaxation term (refined order with ``data``; default
        ``theory.data_term.RELAXATION_DEFAULT``).

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
    order = check_order(order)
    beta = check_beta(beta)
    labs, dropped = _compared_labels(catalogue, emp, labels, order)
    theory = occupancy(catalogue, ns, labels=labs, order=order, beta=beta, data=data,
                       nongaussian_draws=nongaussian_draws, nongaussian_anneal=nongaussian_anneal,
                       relaxation=relaxation)
    # draws outside the compared phases ("other" and catalogue phases without a free energy)
    other = np.array([1.0 - sum(float(e.occupancy.get(lab, 0.0)) for lab in labs) for e in emp])
    other = np.clip(other, 0.0, 1.0)
    denom = np.clip(1.0 - other, 1e-12, None)
    obs = {lab: np.array([float(e.occupancy.get(lab, 0.0)) for e in emp]) / denom for lab in labs}
    err = {lab: np.array([float(e.occupancy_err.get(lab, 0.0) or 0.0) for e in emp]) / denom for lab in labs}
    diffs = np.stack([np.abs(obs[lab] - theory.probs[lab]) for lab in labs])
    zs = np.stack([diffs[i] / np.maximum(err[lab], 0.01) for i, lab in enumerate(labs)])
    crossings = _crossings(catalogue, theory, ns, obs, err, labs, order=order, beta=beta, data=data, n_boot=n_boot,
                           seed=seed, level=level)
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
        order=order,
        beta=beta,
        dropped=dropped,
    )


def _compared_labels(catalogue, emp, labels, order) -> tuple[tuple[str, ...], dict]:
    """The phases to compare (``labels`` or every observed phase the ``order`` models) and the
    catalogue phases that order leaves out, with the reason; raises ValueError on unknown phases."""
    pts = list(getattr(catalogue, "points", catalogue))
    all_labels = {str(getattr(p, "label", None) or getattr(p, "name")) for p in pts}
    if order != "leading":
        kept, dropped = refined_phases(catalogue)
        modelled = {str(getattr(p, "label", None) or p.name) for p in kept}
    else:
        dropped = {}
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
            raise ValueError(f"`labels` must be catalogue phases the {order} order models {sorted(modelled)}; "
                             f"got {bad}.")
        labs = tuple(labels)
    else:
        labs = tuple(lab for lab in seen if lab in modelled)
    if not labs:
        raise ValueError(
            "`empirical` has no draws in any catalogue phase with a known llc (only 'other' or unmodelled "
            "phases); nothing to compare."
        )
    return labs, dropped


def _crossings(catalogue, theory, ns, obs, err, labs, *, order, beta, data, n_boot, seed, level) -> list:
    """The predicted crossings of the dominant phase within the sampled n (halved / doubled) with the
    observed crossing and its bootstrap interval (``sampling.crossing_estimate``) where n has more
    than one entry."""
    from sampling import crossing_estimate  # deferred: sampling loads jax; the comparison tables need none

    rows = [
        {"n": float(n), "occupancy": {lab: float(obs[lab][i]) for lab in labs},
         "occupancy_err": {lab: float(err[lab][i]) for lab in labs}}
        for i, n in enumerate(ns)
    ]
    if order == "exact" or (order == "refined" and data is not None):
        ts = _grid_crossings(theory, catalogue)
    elif order == "refined":
        ts = transitions(catalogue, labels=labs, order="refined", beta=beta,
                         n_min=ns.min() / 2, n_max=ns.max() * 2, grid=max(12, 2 * len(ns)))
    else:
        ts = transitions(catalogue, labels=labs, beta=beta)
    crossings = []
    for t in ts:
        if not t.globally_dominant:
            continue  # not visible as a crossing of the dominant occupancies
        if not (ns.min() / 2 <= t.n_critical <= ns.max() * 2):
            continue  # outside the sampled range of n
        lo = hi = observed = None
        if len(ns) > 1:
            est = crossing_estimate(rows, from_label=t.from_label, to_label=t.to_label, n_boot=n_boot,
                                    rng_key=None if seed == 0 else _key(seed), level=level,
                                    min_mass=0.02)
            observed, lo, hi = est.n, est.ci_low, est.ci_high
        crossings.append(CrossingComparison(t.from_label, t.to_label, t.kind, t.n_critical, observed, lo, hi, level))
    return crossings


def _grid_crossings(theory, catalogue) -> list:
    """Crossings of the dominant phase on the sampled grid of n (data-conditional and exact orders).

    There F_n is evaluated at the sampled n only (the exact order integrates every phase numerically;
    the closed-form data term is read at the same n as the observed occupancy, so that both crossings
    come from the same interpolation, docs/free_energy.md); where the dominant phase changes from a to b between two
    sampled n, the crossing is where log(P_b / P_a) = F_a - F_b reaches 0, linear in log n between
    them, the same interpolation the observed crossing uses. Each ordered pair is reported once
    (its first crossing)."""
    by = {str(getattr(p, "label", None) or p.name): p for p in getattr(catalogue, "points", catalogue)}
    dom = theory.dominant()
    ln = np.log(theory.ns.astype(float))
    out, seen = [], set()
    for k in range(len(dom) - 1):
        a, b = dom[k], dom[k + 1]
        if a == b or (a, b) in seen:
            continue
        seen.add((a, b))
        d0 = math.log(theory.probs[b][k]) - math.log(theory.probs[a][k])
        d1 = math.log(theory.probs[b][k + 1]) - math.log(theory.probs[a][k + 1])
        t = d0 / (d0 - d1) if d1 != d0 else 0.5
        n = float(np.exp(ln[k] + t * (ln[k + 1] - ln[k])))
        dL = float(by[b].loss - by[a].loss)
        dlam = float(by[b].llc - by[a].llc) if by[b].llc is not None and by[a].llc is not None else float("nan")
        out.append(BayesianTransition(a, b, n, transition_kind(dL, dlam), dL, dlam, float("nan"), True))
    return out


def _key(seed: int):
    import jax  # deferred: start-up time (only the bootstrap of a seeded comparison needs jax)

    return jax.random.PRNGKey(seed)
