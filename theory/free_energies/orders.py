"""Free energies of every phase at the leading or refined order, Bayesian phase transitions and
theoretical phase occupancy.

For a phase alpha (a neighbourhood of the critical point w*_alpha) the local free energy is
(Watanabe 2009; Chen et al. 2023, §5; docs/index.md)

    F_n(alpha) ~= n L(w*_alpha) + lambda_alpha log n + c_alpha,

and the theoretical occupancy is P_n(alpha) = exp(-F_n(alpha)) / sum_beta exp(-F_n(beta)).

A Bayesian phase transition alpha -> beta happens where F_n(alpha) = F_n(beta), i.e. at the roots of

    f(n) = dL n + dlambda log n + dc = 0,      dX = X_beta - X_alpha.

With x = (dL / dlambda) n this is x e^x = (dL / dlambda) e^{-dc / dlambda}, solved exactly by the two
real branches W_0, W_{-1} of the Lambert W function (dL = 0 or dlambda = 0 are solved directly).

Type (Hoogland et al. 2024, Appendix A.2): at a root the dominant phase changes from ``from`` to
``to``; the transition is **Type A** if ``to`` has lower loss and higher LLC, **Type B** if ``to`` has
lower LLC without lower loss, and **constant** if neither (``to`` has lower loss and not higher LLC:
only the constant-order term delayed it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np
from scipy.special import lambertw

from theory.free_energies.terms import check_nongaussian_anneal, check_nongaussian_draws

ORDERS = ("leading", "refined")

__all__ = [
    "ORDERS",
    "Phase",
    "BayesianTransition",
    "TheoreticalOccupancy",
    "free_energy",
    "occupancy",
    "transitions",
    "crossing_roots",
    "phases_of",
    "MIN_TRANSITION_N",
    "significant_transitions",
    "SimplePhase",
    "check_beta",
    "check_ns",
    "check_order",
    "data_prefix",
    "refined_phases",
    "free_energy_terms",
    "transition_kind",
]


class Phase(Protocol):
    """What the free energy needs of a phase (``kgon.CriticalPoint`` satisfies it)."""

    label: str
    loss: float
    llc: float
    constant: float


@dataclass(frozen=True)
class SimplePhase:
    """A :class:`Phase` as plain values: label, loss L, learning coefficient lambda and constant c."""

    label: str
    loss: float
    llc: float
    constant: float


def phases_of(catalogue, *, labels: Sequence[str] | None = None, minima_only: bool = False) -> list[Phase]:
    """The phases of a catalogue (a ``kgon.Catalogue`` or any iterable of Phase-like objects).

    Parameters
    ----------
    catalogue : Catalogue or iterable
        Objects with ``label`` (or ``name``), ``loss``, ``llc`` and ``constant``.
    labels : sequence of str, optional
        Keep only these phases (in this order). Unknown labels raise ``ValueError``.
    minima_only : bool
        Keep only points with no negative Hessian eigenvalue (``hessian_signature[0] == 0``), i.e.
        drop saddles, whose neighbourhoods are not phases in the free-energy sense.
    """
    points = list(getattr(catalogue, "points", catalogue))
    out: list[Phase] = []
    for p in points:
        label = getattr(p, "label", None) or getattr(p, "name")
        llc = getattr(p, "llc", None)
        if llc is None or not np.isfinite(llc):
            continue
        if minima_only and getattr(p, "hessian_signature", (0, 0, 0))[0] > 0:
            continue
        out.append(SimplePhase(str(label), float(p.loss), float(llc), float(p.constant)))
    if not out:
        raise ValueError("`catalogue` must contain at least one phase with a finite llc; got an empty catalogue.")
    if labels is not None:
        by = {p.label: p for p in out}
        missing = [lab for lab in labels if lab not in by]
        if missing:
            raise ValueError(f"`labels` must name catalogue phases {sorted(by)}; got unknown {missing}.")
        out = [by[lab] for lab in labels]
    seen = set()
    for p in out:
        if p.label in seen:
            raise ValueError(f"`catalogue` has duplicate phase label {p.label!r}; labels must be unique.")
        seen.add(p.label)
    return out


def check_ns(ns) -> np.ndarray:
    """Validate sample sizes ``n`` (positive, finite, at least one); returns them as a 1-d float array."""
    arr = np.atleast_1d(np.asarray(ns, dtype=np.float64))
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"`n` must be positive finite sample sizes; got {np.asarray(ns).tolist()!r}.")
    return arr


def check_order(order) -> str:
    """Validate ``order`` (one of :data:`ORDERS`); returns it."""
    if order not in ORDERS:
        raise ValueError(f"`order` must be one of {list(ORDERS)}; got {order!r}.")
    return order


def check_beta(beta) -> float:
    """Validate the inverse temperature ``beta`` (positive, finite); returns it as a float."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta) or beta <= 0:
        raise ValueError(f"`beta` must be a positive finite inverse temperature; got {beta!r}.")
    return float(beta)


def refined_phases(
    catalogue, *, labels: Sequence[str] | None = None, kinked: bool = False
) -> tuple[list, dict[str, str]]:
    """The catalogue points the refined free energy covers, and the dropped ones with the reason.

    Kept: local minima and flat phases (no negative Hessian eigenvalue) that are C^2 in their live
    coordinates (at c = 6: 6, 5+, 5 and the all-dead 0-gon), and with ``kinked`` the kinked minima
    too (the 4-gon family, whose refined free energy is a numerical integral over the phase's
    classifier cell, minutes per phase and n: :func:`theory.free_energies.refined.refined_terms`). Dropped:
    saddles (their neighbourhoods are not phases) and, without ``kinked``, the kinked points.
    """
    if not isinstance(kinked, (bool, np.bool_)):
        raise ValueError(f"`kinked` must be True or False; got {kinked!r}.")
    points = list(getattr(catalogue, "points", catalogue))
    keep, dropped = [], {}
    for p in points:
        lab = str(getattr(p, "label", None) or getattr(p, "name"))
        if getattr(p, "hessian_signature", (0, 0, 0))[0] > 0:
            dropped[lab] = "saddle"
        elif getattr(p, "r", 2) != 2:
            dropped[lab] = "r != 2"
        elif not getattr(p, "smooth", True) and not kinked:
            dropped[lab] = "kinked (not C^2): numerical term only with kinked=True"
        else:
            keep.append(p)
    if labels is not None:
        by = {str(getattr(p, "label", None) or getattr(p, "name")): p for p in keep}
        bad = [lab for lab in labels if lab not in by]
        if bad:
            raise ValueError(f"`labels` must name phases the refined order covers {sorted(by)}; got {bad}.")
        keep = [by[lab] for lab in labels]
    if not keep:
        raise ValueError("`catalogue` has no phase the refined free energy covers (smooth local minima).")
    return keep, dropped


def data_prefix(data, n: float):
    """The first n samples of a data set (the nested data stream of ``sampling.make_dataset``)."""
    from sampling.data import Dataset  # deferred: sampling loads jax; the leading order needs neither

    k = int(round(float(n)))
    if k > data.n:
        raise ValueError(f"`n` = {k} exceeds the size {data.n} of `data`; pass a data set with at least max(n) "
                         "samples.")
    if k == data.n:
        return data
    return Dataset(data.features[:k], data.mu[:k], data.c, k, data.key)


def free_energy_terms(
    catalogue, n: float, *, labels=None, beta: float = 1.0, data=None, cells: bool | None = None,
    kinked: bool = False, **kwargs
) -> dict:
    """Refined free energy of every covered phase at one n, term by term: ``{label: FreeEnergyTerms}``
    (:func:`theory.free_energies.refined.refined_terms`; ``data``: a data set of at least n samples, its first n
    are used). With ``cells`` (default: when ``data`` is given) the non-Gaussian term integrates over
    each phase's cell as :func:`kgon.classify` draws it at the sampler's threshold
    (``sampling.occupancy_threshold``).
    ``kinked``: the kinked minima too (:func:`refined_phases`), each by its numerical local integral
    over its cell at that threshold (with or without data)."""
    # deferred: sampling and the refined order load jax; the leading order needs neither
    from sampling import empirical_potential, occupancy_threshold
    from theory.free_energies.refined import refined_terms

    beta = check_beta(beta)
    pts, _ = refined_phases(catalogue, labels=labels, kinked=kinked)
    pot = None if data is None else empirical_potential(data_prefix(data, n))
    cell = {"catalogue": catalogue, "threshold": occupancy_threshold(int(round(float(n))))} \
        if hasattr(catalogue, "points") else {}
    use_cells = (data is not None) if cells is None else bool(cells)
    if use_cells:
        kwargs = {**cell, **kwargs}  # the phase's cell as the sampler counts it
    out = {}
    for p in pts:
        kw = {**cell, **kwargs} if not getattr(p, "smooth", True) else kwargs
        t = refined_terms(p, n, beta=beta, potential=pot, **kw)
        out[t.label] = t
    return out


def free_energy(
    catalogue, n, *, labels: Sequence[str] | None = None, order: str = "leading", beta: float = 1.0, data=None,
    nongaussian_draws: int | None = None, kinked: bool = False, nongaussian_anneal: int | None = None,
) -> dict[str, np.ndarray]:
    """Local free energy of every phase at each n.

    ``order="leading"`` (default, the paper's): F_n = beta n L_alpha + lambda_alpha log n + c_alpha.
    ``order="refined"``: the refined local free energy with every O(1) term
    (:func:`free_energy_terms`, docs/free_energy.md) for the phases :func:`refined_phases` covers;
    with ``data`` (a ``sampling.Dataset`` with at least max(n) samples) it is data-conditional:
    at each n the first n samples. ``nongaussian_draws`` (refined order): draws of the non-Gaussian
    term's integral (default: 20,000 on a data set, none on the population loss; 0: leave it out;
    :func:`theory.free_energies.refined.refined_terms`). ``kinked`` (refined order): the kinked minima too, each by
    its numerical local integral over its classifier cell (:func:`refined_phases`; about a minute per
    phase and n on the population loss, more on a data set). ``nongaussian_anneal``: the non-Gaussian
    term's integrator (0: plain importance sampling; K: annealed SMC over K targets; default:
    :func:`theory.free_energies.refined.refined_terms`'s). Returns ``{label: array of F over n}``
    (0-d for scalar ``n``).
    """
    order = check_order(order)
    beta = check_beta(beta)
    scalar = np.ndim(n) == 0
    ns = check_ns(n)
    out = {}
    if order == "leading":
        if data is not None:
            raise ValueError("`data` needs order='refined' (the leading order uses the population loss).")
        for p in phases_of(catalogue, labels=labels):
            F = beta * ns * p.loss + p.llc * np.log(ns) + p.constant
            out[p.label] = F[0] if scalar else F
        return out
    check_nongaussian_draws(nongaussian_draws)
    check_nongaussian_anneal(nongaussian_anneal)
    extra = {} if nongaussian_draws is None else {"nongaussian_draws": int(nongaussian_draws)}
    if nongaussian_anneal is not None:
        extra["nongaussian_anneal"] = int(nongaussian_anneal)
    cols = [free_energy_terms(catalogue, float(x), labels=labels, beta=beta, data=data, kinked=kinked, **extra)
            for x in ns]
    for lab in cols[0]:
        F = np.array([col[lab].total for col in cols])
        out[lab] = F[0] if scalar else F
    return out


@dataclass(frozen=True)
class TheoreticalOccupancy:
    """Softmax of -F_n over phases. ``probs[label]`` has one entry per ``ns``; ``order`` and
    ``beta`` say which free energy; ``dropped`` lists catalogue phases left out and why (refined
    order: saddles and kinked points)."""

    ns: np.ndarray
    labels: tuple[str, ...]
    probs: dict[str, np.ndarray]
    order: str = "leading"
    beta: float = 1.0
    dropped: dict = field(default_factory=dict)

    def dominant(self) -> list[str]:
        """The phase with the largest occupancy at each n."""
        P = np.stack([self.probs[lab] for lab in self.labels])
        return [self.labels[i] for i in np.argmax(P, axis=0)]

    def to_dict(self) -> dict:
        return {"ns": self.ns.tolist(), "labels": list(self.labels), "order": self.order, "beta": self.beta,
                "probs": {k: v.tolist() for k, v in self.probs.items()}, "dropped": dict(self.dropped)}


def occupancy(
    catalogue, ns, *, labels: Sequence[str] | None = None, order: str = "leading", beta: float = 1.0, data=None,
    nongaussian_draws: int | None = None, kinked: bool = False, nongaussian_anneal: int | None = None,
) -> TheoreticalOccupancy:
    """Theoretical occupancy P_n(alpha) = exp(-F_n(alpha)) / sum_beta exp(-F_n(beta)) (docs/index.md)
    with the free energy of ``order`` (:func:`free_energy`; ``data`` makes it data-conditional;
    ``kinked``: the kinked minima too, numerically)."""
    ns = check_ns(ns)
    F = free_energy(catalogue, ns, labels=labels, order=order, beta=beta, data=data,
                    nongaussian_draws=nongaussian_draws, kinked=kinked, nongaussian_anneal=nongaussian_anneal)
    dropped = refined_phases(catalogue, kinked=kinked)[1] if order == "refined" else {}
    labs = tuple(F)
    M = np.stack([F[lab] for lab in labs])
    M = M - M.min(axis=0, keepdims=True)
    E = np.exp(-M)
    P = E / E.sum(axis=0, keepdims=True)
    return TheoreticalOccupancy(ns, labs, {lab: P[i] for i, lab in enumerate(labs)}, order, float(beta), dropped)


def crossing_roots(dL: float, dlam: float, dc: float) -> list[float]:
    """All real roots n > 0 of dL n + dlam log n + dc = 0, exactly (Lambert W), ascending."""
    if dL == 0 and dlam == 0:
        return []
    if dlam == 0:
        n = -dc / dL
        return [n] if n > 0 else []
    if dL == 0:
        return [math.exp(-dc / dlam)]
    k = dL / dlam
    z = k * math.exp(-dc / dlam) if -dc / dlam < 700 else math.inf
    roots = []
    if not math.isfinite(z):
        return []
    branches = [0] if z >= 0 else ([0, -1] if z >= -1 / math.e else [])
    for br in branches:
        w = lambertw(z, br)
        if abs(w.imag) < 1e-12:
            n = float(w.real) / k
            if n > 0:
                roots.append(n)
    roots = sorted(set(roots))
    # polish with Newton on f(log n) for full float64 accuracy
    out = []
    for n in roots:
        x = math.log(n)
        for _ in range(6):
            f = dL * math.exp(x) + dlam * x + dc
            fp = dL * math.exp(x) + dlam
            if fp == 0:
                break
            x -= f / fp
        out.append(math.exp(x))
    return out


@dataclass(frozen=True)
class BayesianTransition:
    """A Bayesian phase transition: the dominant one of a pair changes at ``n_critical``.

    ``kind`` is "A", "B" or "constant" (module docstring); ``d_loss``, ``d_llc``, ``d_constant``
    are the differences ``to`` minus ``from``. ``globally_dominant`` says whether ``from`` or ``to``
    is the most occupied phase of the whole catalogue right at the crossing.
    """

    from_label: str
    to_label: str
    n_critical: float
    kind: str
    d_loss: float
    d_llc: float
    d_constant: float
    globally_dominant: bool

    def to_dict(self) -> dict:
        return {
            "from": self.from_label,
            "to": self.to_label,
            "n_critical": self.n_critical,
            "type": self.kind,
            "d_loss": self.d_loss,
            "d_llc": self.d_llc,
            "d_constant": self.d_constant,
            "globally_dominant": self.globally_dominant,
        }


def transition_kind(d_loss: float, d_llc: float) -> str:
    """Type of a transition to a phase with loss ``d_loss`` and LLC ``d_llc`` relative to the one it
    replaces: "A", "B" or "constant" (module docstring)."""
    if d_loss < 0 and d_llc > 0:
        return "A"
    if d_llc < 0 and d_loss >= 0:
        return "B"
    return "constant"


def transitions(
    catalogue,
    *,
    labels: Sequence[str] | None = None,
    n_min: float = 1.0,
    minima_only: bool = False,
    order: str = "leading",
    beta: float = 1.0,
    data=None,
    n_max: float | None = None,
    grid: int = 32,
) -> list[BayesianTransition]:
    """Every pairwise Bayesian phase transition with n_critical >= ``n_min``, sorted by n.

    Leading order: for each pair (alpha, beta) all roots of beta dL n + dlambda log n + dc = 0 are
    found exactly; at each root the phase with the lower free energy just after the root is ``to``.
    Refined order (:func:`free_energy`, phases of :func:`refined_phases`): F_b - F_a is scanned on
    ``grid`` log-spaced n in [max(n_min, 20), n_max] (default 10^4, or the size of ``data``) and
    each sign change is bisected (to 0.5% in n; to one sample with ``data``). ``d_constant`` is
    then the difference of the refined constants C_n at the root.
    """
    order = check_order(order)
    beta = check_beta(beta)
    if order == "refined":
        return _refined_transitions(catalogue, labels, n_min, beta, data, n_max, grid)
    if data is not None:
        raise ValueError("`data` needs order='refined' (the leading order uses the population loss).")
    phases = phases_of(catalogue, labels=labels, minima_only=minima_only)
    out: list[BayesianTransition] = []
    for i, a in enumerate(phases):
        for b in phases[i + 1 :]:
            dL, dlam, dc = b.loss - a.loss, b.llc - a.llc, b.constant - a.constant
            for n in crossing_roots(beta * dL, dlam, dc):
                if n < n_min:
                    continue
                slope = beta * dL + dlam / n  # d/dn (F_b - F_a) at the root
                src, dst, sign = (a, b, 1.0) if slope < 0 else (b, a, -1.0)
                F = free_energy(phases, n, beta=beta)
                best = min(F, key=F.get)
                top = {src.label, dst.label}
                dominant = best in top or math.isclose(F[best], F[src.label], rel_tol=0, abs_tol=1e-9)
                out.append(
                    BayesianTransition(
                        src.label, dst.label, float(n), transition_kind(sign * dL, sign * dlam),
                        sign * dL, sign * dlam, sign * dc, bool(dominant),
                    )
                )
    out.sort(key=lambda t: t.n_critical)
    return out


def _refined_transitions(catalogue, labels, n_min, beta, data, n_max, grid) -> list[BayesianTransition]:
    pts, _ = refined_phases(catalogue, labels=labels)
    lo = max(float(n_min), 20.0)
    hi = float(n_max) if n_max is not None else (float(data.n) if data is not None else 1e4)
    if not hi > lo:
        raise ValueError(f"`n_max` must exceed max(n_min, 20) = {lo}; got {hi}.")
    ns = np.geomspace(lo, hi, int(grid))
    if data is not None:
        ns = np.unique(np.round(ns))
    terms = [free_energy_terms(pts, float(x), beta=beta, data=data) for x in ns]
    labs = list(terms[0])
    out: list[BayesianTransition] = []
    for i, a in enumerate(labs):
        for b in labs[i + 1 :]:
            d = np.array([t[b].total - t[a].total for t in terms])
            for k in range(len(ns) - 1):
                if np.sign(d[k]) == np.sign(d[k + 1]) or d[k] == 0:
                    continue
                x0, x1, d0 = ns[k], ns[k + 1], d[k]
                sub = [p for p in pts if str(getattr(p, "label", None) or p.name) in (a, b)]
                while (x1 - x0 > 1) if data is not None else (x1 / x0 > 1.005):
                    xm = float(round(math.sqrt(x0 * x1))) if data is not None else math.sqrt(x0 * x1)
                    if xm in (x0, x1):
                        break
                    tm = free_energy_terms(sub, xm, beta=beta, data=data)
                    dm = tm[b].total - tm[a].total
                    if np.sign(dm) == np.sign(d0):
                        x0, d0 = xm, dm
                    else:
                        x1 = xm
                n = math.sqrt(x0 * x1) if data is None else float(x1)
                T = free_energy_terms(pts, n if data is None else int(n), beta=beta, data=data)
                src, dst = (a, b) if d[k] > 0 else (b, a)  # F_b - F_a falls through 0: b takes over
                best = min(T, key=lambda lab: T[lab].total)
                dL = T[dst].loss - T[src].loss
                dlam = T[dst].llc - T[src].llc
                out.append(
                    BayesianTransition(
                        src, dst, float(n), transition_kind(dL, dlam), dL, dlam, T[dst].constant - T[src].constant,
                        bool(best in (src, dst)),
                    )
                )
    out.sort(key=lambda t: t.n_critical)
    return out


MIN_TRANSITION_N = 20.0
"""Smallest n at which a root of F_n(alpha) = F_n(beta) is reported as a Bayesian transition.

The leading-order free energy n L + lambda log n + c omits O(1) terms that differ between phases by
several nats (docs/sampling.md, "The 5 -> 6 crossing"); below n ~ 20 the terms it keeps are of the
same size as the ones it omits, so its roots there (e.g. 4++ -> 4+ at n ~ 1 at c = 6, where the loss
goes up) say nothing about the posterior."""


def significant_transitions(
    catalogue, *, n_min: float = MIN_TRANSITION_N, include_all: bool = False
) -> list[BayesianTransition]:
    """The Bayesian phase transitions worth drawing and listing, sorted by n.

    Computed over ALL local minima of ``catalogue`` (``minima_only=True``; a subset would make phases
    look dominant that are not): the crossings at which the globally dominant phase changes
    (``globally_dominant``) with n_critical >= ``n_min`` (:data:`MIN_TRANSITION_N`). With
    ``include_all`` every pairwise crossing of :func:`transitions` at n >= 1 instead (``tmsphase
    transitions --all``).
    """
    if include_all:
        return transitions(catalogue, minima_only=True)
    return [t for t in transitions(catalogue, n_min=n_min, minima_only=True) if t.globally_dominant]
