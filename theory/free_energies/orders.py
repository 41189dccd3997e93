"""Free energies of every phase at the leading, refined or exact order, Bayesian phase transitions
and theoretical phase occupancy.

The orders (:data:`ORDERS`): ``leading``, the paper's (below); ``refined``, every O(1) term in closed
form and, on a data set, the first-order data term of the copies' empirical losses
(:mod:`theory.data_term`; docs/free_energy.md, "The data term in closed form"); ``exact``, the same
posterior mass evaluated numerically (annealed SMC over each phase's classifier cell, on the data set
or the population loss): a check of the sampler by a second sampler, not the theory.

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
from dataclasses import dataclass, field, replace
from typing import Protocol, Sequence

import numpy as np
from scipy.special import lambertw

from theory.free_energies.phases import refined_phases
from theory.free_energies.terms import check_nongaussian_anneal, check_nongaussian_draws

ORDERS = ("leading", "refined", "exact")
"""The orders of the free energy: the paper's leading order, the refined order (closed form, with the
first-order data term on a data set) and the exact one (the numerical integral of each phase's cell,
a check of the sampler): :func:`free_energy`."""

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


#: Arguments of the numerical (SMC) integral of a phase's cell: they belong to ``order="exact"``, and to
#: the population refined order's optional non-Gaussian term, not to the closed-form data term.
EXACT_ONLY = ("nongaussian_draws", "nongaussian_anneal", "dead_joint", "cells", "catalogue", "threshold")

EXACT_PARTICLES = 4000
"""Default particles of ``order="exact"`` on the population loss (annealed SMC, :data:`EXACT_ANNEAL` targets)."""

EXACT_ANNEAL = 100
"""Default annealing targets of ``order="exact"`` on the population loss (as on a data set)."""


def check_relaxation(relaxation, order: str, data) -> bool | None:
    """Validate ``relaxation``: None, or True/False with the closed-form data term (``order="refined"``
    and ``data``); returns it."""
    if relaxation is None:
        return None
    if not isinstance(relaxation, (bool, np.bool_)):
        raise ValueError(f"`relaxation` must be None, True or False; got {relaxation!r}.")
    if order != "refined" or data is None:
        raise ValueError(f"`relaxation` applies to the closed-form data term (order='refined' with `data`); got "
                         f"order={order!r} with data {'given' if data is not None else 'None'}.")
    return bool(relaxation)


def data_size(data, n: float) -> int:
    """The integer sample size ``n`` (rounded) of a prefix of ``data``; ValueError past its size."""
    k = int(round(float(n)))
    if k < 1 or k > data.n:
        raise ValueError(f"`n` = {k} must be between 1 and the size {data.n} of `data`; pass a data set with at "
                         "least max(n) samples.")
    return k


def closed_form_terms(catalogue, n: float, *, labels, beta: float, data, kinked: bool, relaxation, kwargs) -> dict:
    """The refined order's terms on a data set in closed form: each phase's population terms plus the
    first-order data term (``data_shift`` = Ybar, ``data_copies`` = T_copy; :mod:`theory.data_term`)."""
    from theory.data_term import RELAXATION_DEFAULT, stream_energies  # deferred: jax start-up

    bad = sorted(k for k in kwargs if k in EXACT_ONLY and kwargs[k] is not None)
    if kinked or bad:
        what = "`kinked`" if kinked else f"`{bad[0]}`"
        raise ValueError(f"{what} needs order='exact' on a data set (the numerical integral of each phase's cell); "
                         "order='refined' with `data` is the closed-form data term.")
    k = data_size(data, n)
    pop = free_energy_terms(catalogue, k, labels=labels, beta=beta, **kwargs)
    pts, _ = refined_phases(catalogue, labels=labels)
    relax = RELAXATION_DEFAULT if relaxation is None else bool(relaxation)
    Y = stream_energies(pts, np.asarray(data.features)[None, :], np.asarray(data.mu)[None, :], [k], beta=beta,
                        relaxation=relax)
    return {lab: replace(t, data=True, data_shift=float(Y[lab][0][0, 0]), data_copies=float(Y[lab][1][0, 0]))
            for lab, t in pop.items()}


def free_energy_terms(
    catalogue, n: float, *, labels=None, beta: float = 1.0, data=None, cells: bool | None = None,
    kinked: bool = False, order: str = "refined", relaxation: bool | None = None, **kwargs
) -> dict:
    """Refined free energy of every covered phase at one n, term by term: ``{label: FreeEnergyTerms}``
    (:func:`theory.free_energies.refined.refined_terms`; ``data``: a data set of at least n samples,
    its first n are used).

    ``order="refined"`` (default): Laplace's terms of the population loss; with ``data`` plus the
    closed-form first-order data term (``data_shift`` = Ybar and ``data_copies`` = T_copy of
    :mod:`theory.data_term`, with its ``relaxation``; ``energy`` and ``loss`` stay the population's).
    ``order="exact"``: the non-Gaussian term is the numerical integral (annealed SMC) of each phase over
    its cell as :func:`kgon.classify` draws it at the sampler's threshold (``sampling.occupancy_threshold``;
    ``cells``, default True), on ``data`` when given, else on the population loss (default
    :data:`EXACT_PARTICLES` particles over :data:`EXACT_ANNEAL` targets): a numerical evaluation of
    the same posterior mass, a check of the sampler, minutes per phase and n.
    ``kinked``: the kinked minima too (:func:`refined_phases`), each by its numerical local integral
    over its cell at that threshold (population refined order, or ``order="exact"``). Other keyword
    arguments go to :func:`theory.free_energies.refined.refined_terms`; those of the numerical
    integral (:data:`EXACT_ONLY`) are refused with the closed-form data term."""
    # deferred: sampling and the refined order load jax; the leading order needs neither
    from sampling import empirical_potential, occupancy_threshold
    from theory.free_energies.refined import refined_terms

    beta = check_beta(beta)
    if order not in ("refined", "exact"):
        raise ValueError(f"`order` of free_energy_terms must be 'refined' or 'exact' (the leading order has no "
                         f"terms); got {order!r}.")
    relaxation = check_relaxation(relaxation, order, data)
    if order == "refined" and data is not None:
        return closed_form_terms(catalogue, n, labels=labels, beta=beta, data=data, kinked=kinked,
                                 relaxation=relaxation, kwargs={**kwargs, "cells": cells})
    pts, _ = refined_phases(catalogue, labels=labels, kinked=kinked)
    pot = None if data is None else empirical_potential(data_prefix(data, n))
    cell = {"catalogue": catalogue, "threshold": occupancy_threshold(int(round(float(n))))} \
        if hasattr(catalogue, "points") else {}
    use_cells = (order == "exact") if cells is None else bool(cells)
    if use_cells:
        kwargs = {**cell, **kwargs}  # the phase's cell as the sampler counts it
    if order == "exact" and data is None:
        kwargs = {"nongaussian_draws": EXACT_PARTICLES, "nongaussian_anneal": EXACT_ANNEAL, **kwargs}
    out = {}
    for p in pts:
        kw = {**cell, **kwargs} if not getattr(p, "smooth", True) else kwargs
        t = refined_terms(p, n, beta=beta, potential=pot, **kw)
        out[t.label] = t
    return out


def free_energy(
    catalogue, n, *, labels: Sequence[str] | None = None, order: str = "leading", beta: float = 1.0, data=None,
    nongaussian_draws: int | None = None, kinked: bool = False, nongaussian_anneal: int | None = None,
    relaxation: bool | None = None,
) -> dict[str, np.ndarray]:
    """Local free energy of every phase at each n.

    ``order="leading"`` (default, the paper's): F_n = beta n L_alpha + lambda_alpha log n + c_alpha.

    ``order="refined"``: the refined local free energy with every O(1) term (:func:`free_energy_terms`,
    docs/free_energy.md) for the phases :func:`refined_phases` covers. With ``data`` (a
    ``sampling.Dataset`` with at least max(n) samples; at each n its first n) it is data-conditional in
    closed form: F_n^pop + Ybar + T_copy, the population refined free energy plus the first-order data
    term of the copies' empirical losses (:func:`theory.data_free_energy`; ``relaxation``: its O(1)
    relaxation term, default ``theory.data_term.RELAXATION_DEFAULT``), no sampling: about 0.05 s for
    10 values of n once the population parts are cached.

    ``order="exact"``: the same posterior mass evaluated numerically, each phase integrated over its
    classifier cell by annealed SMC (:func:`free_energy_terms`; on ``data`` when given, else on the
    population loss): a check of the sampler by a second sampler, not the theory; minutes per phase
    and n.

    ``nongaussian_draws`` (refined order without data, or exact): draws (particles under annealing)
    of the non-Gaussian term's integral (0: leave it out; defaults:
    :func:`theory.free_energies.refined.refined_terms`'s, and :data:`EXACT_PARTICLES` for the exact
    order on the population loss). ``nongaussian_anneal``: its integrator (0: plain importance
    sampling; K: annealed SMC over K targets). ``kinked`` (refined order without data, or exact): the
    kinked minima too, each by its numerical local integral over its classifier cell
    (:func:`refined_phases`; about a minute per phase and n on the population loss, more on a data
    set). Returns ``{label: array of F over n}`` (0-d for scalar ``n``).
    """
    order = check_order(order)
    beta = check_beta(beta)
    scalar = np.ndim(n) == 0
    ns = check_ns(n)
    relaxation = check_relaxation(relaxation, order, data)
    out = {}
    if order == "leading":
        if data is not None:
            raise ValueError("`data` needs order='refined' or 'exact' (the leading order uses the population loss).")
        for p in phases_of(catalogue, labels=labels):
            F = beta * ns * p.loss + p.llc * np.log(ns) + p.constant
            out[p.label] = F[0] if scalar else F
        return out
    check_nongaussian_draws(nongaussian_draws)
    check_nongaussian_anneal(nongaussian_anneal)
    extra = {} if nongaussian_draws is None else {"nongaussian_draws": int(nongaussian_draws)}
    if nongaussian_anneal is not None:
        extra["nongaussian_anneal"] = int(nongaussian_anneal)
    if order == "refined" and data is not None:
        if kinked or extra:
            what = "`kinked`" if kinked else f"`{next(iter(extra))}`"
            raise ValueError(f"{what} needs order='exact' on a data set (the numerical integral of each phase's "
                             "cell); order='refined' with `data` is the closed-form data term.")
        from theory.data_term import data_free_energy  # deferred: jax start-up

        grid = np.array([data_size(data, x) for x in ns])
        F = data_free_energy(catalogue, data, grid, beta=beta, labels=labels, relaxation=relaxation).total
        return {lab: (v[0] if scalar else v) for lab, v in F.items()}
    cols = [free_energy_terms(catalogue, float(x), labels=labels, beta=beta, data=data, kinked=kinked, order=order,
                              **extra) for x in ns]
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
    relaxation: bool | None = None,
) -> TheoreticalOccupancy:
    """Theoretical occupancy P_n(alpha) = exp(-F_n(alpha)) / sum_beta exp(-F_n(beta)) (docs/index.md)
    with the free energy of ``order`` (:func:`free_energy`: ``data`` makes it data-conditional, in closed
    form at the refined order and numerically at the exact one; ``kinked``: the kinked minima too,
    numerically)."""
    ns = check_ns(ns)
    F = free_energy(catalogue, ns, labels=labels, order=order, beta=beta, data=data,
                    nongaussian_draws=nongaussian_draws, kinked=kinked, nongaussian_anneal=nongaussian_anneal,
                    relaxation=relaxation)
    dropped = refined_phases(catalogue, kinked=kinked)[1] if order != "leading" else {}
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
    Refined and exact orders (:func:`free_energy`, phases of :func:`refined_phases`; on ``data`` the
    refined order is the closed-form data term, the exact one the numerical integral, minutes per
    phase and n): F_b - F_a is scanned on ``grid`` log-spaced n in [max(n_min, 20), n_max] (default
    10^4, or the size of ``data``) and each sign change is bisected (to 0.5% in n; to one sample with
    ``data``). ``d_constant`` is then the difference of the refined constants C_n at the root.
    """
    order = check_order(order)
    beta = check_beta(beta)
    if order != "leading":
        return _refined_transitions(catalogue, labels, n_min, beta, data, n_max, grid, order)
    if data is not None:
        raise ValueError("`data` needs order='refined' or 'exact' (the leading order uses the population loss).")
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


def _refined_transitions(catalogue, labels, n_min, beta, data, n_max, grid, order) -> list[BayesianTransition]:
    pts, _ = refined_phases(catalogue, labels=labels)
    lo = max(float(n_min), 20.0)
    hi = float(n_max) if n_max is not None else (float(data.n) if data is not None else 1e4)
    if not hi > lo:
        raise ValueError(f"`n_max` must exceed max(n_min, 20) = {lo}; got {hi}.")
    ns = np.geomspace(lo, hi, int(grid))
    if data is not None:
        ns = np.unique(np.round(ns))

    def totals(phases, xs) -> dict:  # {label: F over xs}; the closed form evaluates every n at once (cached)
        if order == "refined" and data is not None:
            return free_energy(phases, np.asarray(xs, float), order="refined", beta=beta, data=data)
        cols = [free_energy_terms(phases, float(x), beta=beta, data=data, order=order) for x in xs]
        return {lab: np.array([col[lab].total for col in cols]) for lab in cols[0]}

    F = totals(pts, ns)
    labs = list(F)
    by = {str(getattr(p, "label", None) or p.name): p for p in pts}
    out: list[BayesianTransition] = []
    for i, a in enumerate(labs):
        for b in labs[i + 1 :]:
            d = F[b] - F[a]
            for k in range(len(ns) - 1):
                if np.sign(d[k]) == np.sign(d[k + 1]) or d[k] == 0:
                    continue
                x0, x1, d0 = ns[k], ns[k + 1], d[k]
                while (x1 - x0 > 1) if data is not None else (x1 / x0 > 1.005):
                    xm = float(round(math.sqrt(x0 * x1))) if data is not None else math.sqrt(x0 * x1)
                    if xm in (x0, x1):
                        break
                    Fm = totals([by[a], by[b]], [xm])
                    dm = float(Fm[b][0] - Fm[a][0])
                    if np.sign(dm) == np.sign(d0):
                        x0, d0 = xm, dm
                    else:
                        x1 = xm
                n = math.sqrt(x0 * x1) if data is None else float(x1)
                T = free_energy_terms(pts, n if data is None else int(n), beta=beta, data=data, order=order)
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
