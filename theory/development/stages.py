"""Developmental milestones and stages from an LLC curve (seed 002, Hoogland et al. 2024, §3.3 and Appendix A.5).

A **milestone** is a critical point of the LLC-over-time curve: a checkpoint where the slope of the
smoothed LLC against log t vanishes. Procedure (all choices are keyword arguments of
:func:`detect_milestones`, the four hyperparameters A.5 names):

1. *Checkpoint spacing*: use every ``every``-th checkpoint with t >= 1 (step 0 has no log t).
2. *Smoothing*: a Gaussian process (or kernel smoother) of the LLC in x = log10 t with length scale
   ``bandwidth`` decades (:func:`theory.development.smoothing.smooth_curve`); checkpoints whose
   estimate is NaN (all SGLD chains flagged) are left out of the fit.
3. *Derivative*: the slope d lambda / d log10 t of the smoothed curve (``log_time=True``, the
   default) or d lambda / d t (``log_time=False``, then the slope is rescaled to per-decade units by
   t ln 10 for the tolerance test, which is what "differentiate with respect to t" means at the same
   tolerance).
4. *Tolerance*: a milestone is a checkpoint where the slope changes sign (kind ``"crossing"``, placed
   at the neighbour with the smaller |slope|), or a local minimum of |slope| with |slope| <= ``tolerance``
   (kind ``"tolerance"``; the boundary between two stages of the same type, where the slope need not
   reach zero). Minima closer than ``min_separation`` decades to an earlier milestone are merged
   (the one with the smaller |slope| is kept).

An addition to seed 002 (off by default, ``min_change=0``): on a noisy plateau the smoothed curve
still wiggles, and every wiggle has a critical point. With ``min_change`` > 0, an interior stage
(between two milestones) across which
the smoothed LLC changes by less than ``min_change`` is merged with a neighbour (the bounding
milestone with the larger |slope| is dropped), so milestones separate stages that actually change
the LLC. A sensible value is a few times the posterior uncertainty of the smoothed curve.

A **stage** is the stretch between consecutive milestones (the first starts at the first checkpoint,
the last ends at the last). It is **Type A** when the smoothed LLC rises across it (the model becomes
more complex) and **Type B** when it falls (A.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from kgon.io import finite_or_none
from kgon.validation import check_int
from theory.development.smoothing import SmoothedCurve, smooth_curve

__all__ = ["Milestone", "Stage", "StageAnalysis", "detect_milestones"]


@dataclass(frozen=True)
class Milestone:
    """A critical point of the smoothed LLC curve: checkpoint ``index``, SGD ``step``, ``kind``
    (``"crossing"`` or ``"tolerance"``), smoothed ``llc`` and ``slope`` (per decade)."""

    index: int
    step: int
    kind: str
    llc: float
    slope: float


@dataclass(frozen=True)
class Stage:
    """Checkpoints ``start``..``end`` (indices, inclusive) between milestones; ``type`` "A" (LLC rises)
    or "B" (falls); ``delta_llc`` the change of the smoothed LLC across it."""

    start: int
    end: int
    first_step: int
    last_step: int
    type: str
    delta_llc: float


@dataclass(frozen=True, eq=False)
class StageAnalysis:
    """Milestones and stages of one LLC curve (module docstring).

    Attributes
    ----------
    steps : ndarray (K,)
    llc : ndarray (K,)
        The raw estimates.
    curve : SmoothedCurve
        Smoothing over the checkpoints used (x = log10 t or t).
    used : ndarray of int
        Checkpoint indices entering the fit.
    milestones : tuple of Milestone
    stages : tuple of Stage
    config : dict
    """

    steps: np.ndarray
    llc: np.ndarray
    curve: SmoothedCurve
    used: np.ndarray
    milestones: tuple[Milestone, ...]
    stages: tuple[Stage, ...]
    config: dict = field(default_factory=dict)

    @property
    def milestone_steps(self) -> list[int]:
        return [m.step for m in self.milestones]

    def to_dict(self) -> dict:
        return {
            "milestones": [{"step": m.step, "kind": m.kind, "llc": finite_or_none(m.llc),
                            "slope": finite_or_none(m.slope)} for m in self.milestones],
            "stages": [{"first_step": s.first_step, "last_step": s.last_step, "type": s.type,
                        "delta_llc": finite_or_none(s.delta_llc)} for s in self.stages],
            "config": dict(self.config),
        }


def detect_milestones(steps, llc, *, bandwidth: float = 0.25, method: str = "gp", log_time: bool = True,
                      tolerance: float = 0.5, every: int = 1, min_separation: float = 0.1,
                      noise: float | None = None, min_change: float = 0.0) -> StageAnalysis:
    """Milestones (critical points of the smoothed LLC curve) and Type A/B stages (module docstring).

    Parameters
    ----------
    steps : array_like of int (K,)
        Checkpoint steps (increasing; steps < 1 are skipped).
    llc : array_like (K,)
        LLC estimate per checkpoint (NaN where none).
    bandwidth : float, keyword-only
        Smoothing length in decades of t (default 0.25); with ``log_time=False`` it is converted to
        steps at the geometric middle of the range.
    method : {"gp", "kernel"}, keyword-only
        Smoother (default the Gaussian process of seed 002).
    log_time : bool, keyword-only
        Differentiate against log10 t (default) or t.
    tolerance : float, keyword-only
        Largest ``|slope|`` (LLC units per decade of t) at a local minimum of ``|slope|`` that still counts as a
        milestone (default 0.5).
    every : int, keyword-only
        Checkpoint spacing: use every ``every``-th checkpoint (default 1).
    min_separation : float, keyword-only
        Milestones closer than this (decades) are merged (default 0.1).
    noise : float, keyword-only
        GP noise variance (default: estimated, see :func:`smooth_curve`).
    min_change : float, keyword-only
        Merge stages across which the smoothed LLC changes by less than this (LLC units): the
        milestone with the larger ``|slope|`` at the ends of the smallest such stage is dropped, until
        none is left. Default 0 (off: seed 002's procedure); see the module docstring.

    Returns
    -------
    StageAnalysis

    Raises
    ------
    ValueError
        Too few usable checkpoints for the smoother, mismatched shapes, bad hyperparameters.
    """
    steps = np.asarray(steps, dtype=np.float64)
    llc = np.asarray(llc, dtype=np.float64)
    if steps.ndim != 1 or llc.shape != steps.shape:
        raise ValueError(f"`steps` and `llc` must be 1-D of the same length; got {steps.shape}, {llc.shape}.")
    every = check_int("every", every, minimum=1)
    for name, v in (("tolerance", tolerance), ("min_separation", min_separation), ("min_change", min_change)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValueError(f"`{name}` must be a non-negative finite number; got {v!r}.")
    cand = np.nonzero(steps >= 1)[0][::every]
    used = cand[np.isfinite(llc[cand])]
    if used.size < 5:
        raise ValueError(f"too few checkpoints for the smoother: {used.size} with a finite LLC and t >= 1 "
                         f"(every={every}); need at least 5.")
    lt = np.log10(steps[used])
    if log_time:
        curve = smooth_curve(lt, llc[used], bandwidth=bandwidth, method=method, noise=noise)
        slope = curve.slope
    else:
        h = float(bandwidth) * math.log(10) * 10 ** (0.5 * (lt[0] + lt[-1]))
        curve = smooth_curve(steps[used], llc[used], bandwidth=h, method=method, noise=noise)
        slope = curve.slope * steps[used] * math.log(10)
    K = used.size
    a = np.abs(slope)
    found = _slope_zeros(slope, tolerance)
    picked = []
    for j in sorted(found, key=lambda j: a[j]):
        if all(abs(lt[j] - lt[i]) >= min_separation for i in picked):
            picked.append(j)
    picked.sort()
    if min_change > 0:
        while len(picked) > 1:  # interior stages only: the first and last end at the curve's ends
            ch = [abs(curve.smooth[e] - curve.smooth[s_]) for s_, e in zip(picked[:-1], picked[1:])]
            m = int(np.argmin(ch))
            if ch[m] >= min_change:
                break
            picked.remove(max(picked[m], picked[m + 1], key=lambda j: a[j]))
    milestones = tuple(Milestone(index=int(used[j]), step=int(steps[used[j]]), kind=found[j],
                                 llc=float(curve.smooth[j]), slope=float(slope[j])) for j in picked)
    bounds = [0] + picked + [K - 1]
    stages = []
    for s, e in zip(bounds[:-1], bounds[1:]):
        if e <= s:
            continue
        dl = float(curve.smooth[e] - curve.smooth[s])
        stages.append(Stage(start=int(used[s]), end=int(used[e]), first_step=int(steps[used[s]]),
                            last_step=int(steps[used[e]]), type="A" if dl > 0 else "B", delta_llc=dl))
    config = {"bandwidth": float(bandwidth), "method": method, "log_time": bool(log_time),
              "tolerance": float(tolerance), "every": every, "min_separation": float(min_separation),
              "min_change": float(min_change),
              "noise": curve.config["noise"]}
    return StageAnalysis(steps=steps, llc=llc, curve=curve, used=used, milestones=milestones,
                         stages=tuple(stages), config=config)


def _slope_zeros(slope: np.ndarray, tolerance: float) -> dict:
    """Candidate milestones ``{index: kind}``: where the slope changes sign ("crossing", the point with
    the smaller |slope| of the pair) and interior local minima of |slope| at most ``tolerance``
    ("tolerance")."""
    K = slope.size
    a = np.abs(slope)
    found = {}
    for j in range(K - 1):
        if slope[j] == 0 or np.sign(slope[j]) != np.sign(slope[j + 1]):
            jj = j if a[j] <= a[j + 1] else j + 1
            found[jj] = "crossing"
    for j in range(K):
        lo = a[j - 1] if j > 0 else np.inf
        hi = a[j + 1] if j < K - 1 else np.inf
        if a[j] <= tolerance and a[j] <= lo and a[j] <= hi and j not in found and 0 < j < K - 1:
            found[j] = "tolerance"
    return found
