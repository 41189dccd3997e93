"""Ground-truth evaluation of the developmental methods on SGD runs of the TMS (docs/development.md).

In TMS the true stages are known: every SGD plateau is a certified catalogue critical point
(:func:`theory.analyze_sgd`), and a transition is the move between two plateaus. This module runs the
three methods on the same runs and scores them against that truth.

**Scoring rules** (window widths in decades of t, i.e. of log10 step):

- *LLC milestones and essential-dynamics forms* (per run): a detection at step s is **correct** when
  it lies on one of the run's catalogue plateaus [t_start, t_end], widened by ``plateau_window`` = 0.1
  decades on each side; **precision** = correct / detections. A plateau lasting at least
  ``min_plateau_decades`` = 0.5 decades is **recalled** when a detection lies on it (same widening);
  **recall** = recalled / such plateaus. Counts are pooled over runs.
- *Covariance jumps* (pooled over runs, since the spectrum is across runs): a jump is correct when it
  lies within ``transition_window`` = 0.3 decades of some run's transition step; a transition is
  recalled when some jump lies within 0.3 decades of it.

Plateau ends use log10 of the step; a plateau starting at step 0 starts at log10(1) = 0.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["DetectionScore", "llc_curves", "score_on_plateaus", "score_near_transitions"]


@dataclass(frozen=True)
class DetectionScore:
    """Precision and recall of one method (``None`` where the denominator is 0), with the counts."""

    precision: float | None
    recall: float | None
    detections: int
    correct: int
    targets: int
    recalled: int
    config: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"precision": self.precision, "recall": self.recall, "detections": self.detections,
                "correct": self.correct, "targets": self.targets, "recalled": self.recalled,
                "config": dict(self.config)}


def _lg(step) -> float:
    return math.log10(max(float(step), 1.0))


def score_on_plateaus(detections, plateaus, *, plateau_window: float = 0.1,
                      min_plateau_decades: float = 0.5) -> DetectionScore:
    """Score detections (milestones, forms) against catalogue plateaus, pooled over runs (module docstring).

    Parameters
    ----------
    detections : sequence of sequence of int
        Per run, the detected steps.
    plateaus : sequence of sequence of (t_start, t_end, label)
        Per run, its catalogue plateaus.
    plateau_window, min_plateau_decades : float, keyword-only
        Widening of each plateau (decades, default 0.1) and the shortest plateau to be recalled
        (decades, default 0.5).
    """
    if len(detections) != len(plateaus):
        raise ValueError(f"`detections` and `plateaus` must list the same runs; got {len(detections)} and "
                         f"{len(plateaus)}.")
    n_det = n_cor = n_tgt = n_rec = 0
    for det, pls in zip(detections, plateaus):
        iv = [(_lg(a) - plateau_window, _lg(b) + plateau_window, _lg(b) - _lg(a)) for a, b, *_ in pls]
        ld = [_lg(s) for s in det]
        n_det += len(ld)
        n_cor += sum(1 for x in ld if any(lo <= x <= hi for lo, hi, _ in iv))
        for lo, hi, length in iv:
            if length >= min_plateau_decades:
                n_tgt += 1
                n_rec += any(lo <= x <= hi for x in ld)
    return DetectionScore(
        precision=n_cor / n_det if n_det else None, recall=n_rec / n_tgt if n_tgt else None,
        detections=n_det, correct=n_cor, targets=n_tgt, recalled=n_rec,
        config={"plateau_window": plateau_window, "min_plateau_decades": min_plateau_decades})


def score_near_transitions(detections, transitions, *, transition_window: float = 0.3) -> DetectionScore:
    """Score pooled detections (covariance jumps) against transition steps within ``transition_window``
    decades (default 0.3).

    Raises
    ------
    ValueError
        When there is no transition to score against (the runs never leave their first plateau).
    """
    transitions = [int(t) for t in transitions]
    if not transitions:
        raise ValueError("no run has a transition between catalogue plateaus, so jumps cannot be scored; "
                         "train more runs (or longer) so that some run changes plateau.")
    lt = np.array([_lg(t) for t in transitions])
    ld = np.array([_lg(s) for s in detections])
    cor = int(sum(np.any(np.abs(lt - x) <= transition_window) for x in ld))
    rec = int(sum(np.any(np.abs(ld - x) <= transition_window) for x in lt)) if ld.size else 0
    return DetectionScore(precision=cor / ld.size if ld.size else None, recall=rec / lt.size,
                          detections=int(ld.size), correct=cor, targets=int(lt.size), recalled=rec,
                          config={"transition_window": transition_window})


def llc_curves(result, *, seed: int = 0, out=None, eps: float = 1e-3, gamma: float = 1.0, chains: int = 4,
               draws: int = 500, progress=None) -> dict:
    """SGLD LLC at every checkpoint of every run (:func:`sampling.llc_trajectory`, the paper's setting by
    default), one run at a time, each saved as ``llc-run<seed>.npz`` under ``out`` as it finishes and
    reused by a later call (resumable).

    Returns ``{"llc": (R, K), "llc_se": (R, K), "excluded": (R, K) chains flagged per checkpoint,
    "reasons": per-reason totals, "config": SGLD settings}``; flagged chains are excluded from each
    estimate (a checkpoint with no healthy chain is NaN).
    """
    import jax

    import sampling
    from kgon.validation import check_int

    seed = check_int("seed", seed, minimum=0)
    R, K = result.train_loss.shape
    out = Path(out) if out is not None else None
    llc = np.full((R, K), np.nan)
    se = np.full((R, K), np.nan)
    excl = np.zeros((R, K), dtype=int)
    reasons = {"nan": 0, "diverged": 0, "escaped": 0}
    config = None
    for i in range(R):
        path = out / f"llc-run{result.seeds[i]}.npz" if out is not None else None
        if path is not None and path.exists():
            with np.load(path) as z:
                llc[i], se[i], excl[i] = z["llc"], z["llc_se"], z["excluded"]
                rs = json.loads(str(z["reasons"]))
                config = json.loads(str(z["config"]))
        else:
            key = jax.random.fold_in(jax.random.key(seed), int(result.seeds[i]))
            tr = sampling.llc_trajectory(key, result, centers=[(i, k) for k in range(K)], eps=eps, gamma=gamma,
                                         chains=chains, draws=draws, chunk=K)
            llc[i], se[i] = tr.llc[i], tr.llc_se[i]
            excl[i] = (~tr.healthy[i]).sum(-1) * tr.computed[i]
            rs, config = tr.reasons, {k: v for k, v in tr.config.items() if k != "centers"}
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(path.name + ".tmp.npz")
                np.savez(tmp, llc=llc[i], llc_se=se[i], excluded=excl[i], reasons=json.dumps(rs),
                         config=json.dumps(config))
                tmp.replace(path)
        for k_, v in rs.items():
            reasons[k_] = reasons.get(k_, 0) + int(v)
        if progress is not None:
            progress(i + 1, R)
    return {"llc": llc, "llc_se": se, "excluded": excl, "reasons": reasons, "config": config}
