"""Local free energies, Bayesian phase transitions and theoretical phase occupancy.

For a phase alpha (a neighbourhood of the critical point w*_alpha) the local free energy is
(Watanabe 2009; Chen et al. 2023, §5; SCIENCE.md §4)

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
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

import numpy as np
from scipy.special import lambertw

__all__ = [
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
]


class Phase(Protocol):
    """What the free energy needs of a phase (``kgon.CriticalPoint`` satisfies it)."""

    label: str
    loss: float
    llc: float
    constant: float


@dataclass(frozen=True)
class _SimplePhase:
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
        out.append(_SimplePhase(str(label), float(p.loss), float(llc), float(p.constant)))
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


def _check_ns(ns) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(ns, dtype=np.float64))
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"`n` must be positive finite sample sizes; got {np.asarray(ns).tolist()!r}.")
    return arr


def free_energy(catalogue, n, *, labels: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """F_n(alpha) = n L_alpha + lambda_alpha log n + c_alpha for every phase, at each n.

    Returns ``{label: array of F over n}`` (a 0-d array for scalar ``n``).
    """
    scalar = np.ndim(n) == 0
    ns = _check_ns(n)
    out = {}
    for p in phases_of(catalogue, labels=labels):
        F = ns * p.loss + p.llc * np.log(ns) + p.constant
        out[p.label] = F[0] if scalar else F
    return out


@dataclass(frozen=True)
class TheoreticalOccupancy:
    """Softmax of -F_n over phases. ``probs[label]`` has one entry per ``ns``."""

    ns: np.ndarray
    labels: tuple[str, ...]
    probs: dict[str, np.ndarray]

    def dominant(self) -> list[str]:
        """The phase with the largest occupancy at each n."""
        P = np.stack([self.probs[lab] for lab in self.labels])
        return [self.labels[i] for i in np.argmax(P, axis=0)]


def occupancy(catalogue, ns, *, labels: Sequence[str] | None = None) -> TheoreticalOccupancy:
    """Theoretical occupancy P_n(alpha) = exp(-F_n(alpha)) / sum_beta exp(-F_n(beta)) (SCIENCE.md §4)."""
    ns = _check_ns(ns)
    F = free_energy(catalogue, ns, labels=labels)
    labs = tuple(F)
    M = np.stack([F[lab] for lab in labs])
    M = M - M.min(axis=0, keepdims=True)
    E = np.exp(-M)
    P = E / E.sum(axis=0, keepdims=True)
    return TheoreticalOccupancy(ns, labs, {lab: P[i] for i, lab in enumerate(labs)})


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


def _kind(d_loss: float, d_llc: float) -> str:
    if d_loss < 0 and d_llc > 0:
        return "A"
    if d_llc < 0 and d_loss >= 0:
        return "B"
    return "constant"


def transitions(
    catalogue, *, labels: Sequence[str] | None = None, n_min: float = 1.0, minima_only: bool = False
) -> list[BayesianTransition]:
    """Every pairwise Bayesian phase transition with n_critical >= ``n_min``, sorted by n.

    For each pair (alpha, beta) all roots of dL n + dlambda log n + dc = 0 are found exactly; at
    each root the phase with the lower free energy just after the root is ``to``.
    """
    phases = phases_of(catalogue, labels=labels, minima_only=minima_only)
    out: list[BayesianTransition] = []
    for i, a in enumerate(phases):
        for b in phases[i + 1 :]:
            dL, dlam, dc = b.loss - a.loss, b.llc - a.llc, b.constant - a.constant
            for n in crossing_roots(dL, dlam, dc):
                if n < n_min:
                    continue
                slope = dL + dlam / n  # d/dn (F_b - F_a) at the root
                src, dst, sign = (a, b, 1.0) if slope < 0 else (b, a, -1.0)
                F = free_energy(phases, n)
                best = min(F, key=F.get)
                top = {src.label, dst.label}
                dominant = best in top or math.isclose(F[best], F[src.label], rel_tol=0, abs_tol=1e-9)
                out.append(
                    BayesianTransition(
                        src.label, dst.label, float(n), _kind(sign * dL, sign * dlam),
                        sign * dL, sign * dlam, sign * dc, bool(dominant),
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


def significant_transitions(catalogue, *, n_min: float = MIN_TRANSITION_N, include_all: bool = False) -> list[BayesianTransition]:
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
