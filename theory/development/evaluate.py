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

import dataclasses
import json
import math
from dataclasses import dataclass, field

import jax
import numpy as np

import sampling
from kgon.io import put_args
from kgon.validation import check_int
from sampling import SGLDConfig
from sampling.dynamics.sgd import sgd_run_key
from theory.development.covariance import covariance_spectra
from theory.development.essential_dynamics import essential_dynamics, tms_probe_outputs
from theory.development.stages import detect_milestones

__all__ = ["DetectionScore", "DevelopmentEvaluation", "evaluate_development", "llc_curves", "score_near_transitions",
           "score_on_plateaus", "stage_bracketing"]


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


def _jsonable(v) -> bool:
    try:
        json.dumps(v)
        return True
    except (TypeError, ValueError):
        return False


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


def llc_curves(result, *, seed: int = 0, store=None, calibrate: bool = False, config: SGLDConfig | None = None,
               progress=None) -> dict:
    """SGLD LLC at every checkpoint of every run (:func:`sampling.llc_trajectory`, the paper's setting by
    default: eps = 1e-3, gamma = 1, 4 chains, 500 draws), one run at a time, each stored in ``store`` (a
    :class:`kgon.io.ResultStore`; ``tmsphase development --out DIR`` uses ``DIR/llc-curves``) as it
    finishes, keyed by the SGD runs, the run's seed and the SGLD settings (``config``, a
    :class:`sampling.SGLDConfig`), and reused by a later call with the same settings. With
    ``calibrate=True`` the step size is chosen per run by ``llc_trajectory``'s calibration sweep
    (``config.eps`` must then be None).

    Returns ``{"llc": (R, K), "llc_se": (R, K), "excluded": (R, K) chains flagged per checkpoint,
    "reasons": per-reason totals, "config": SGLD settings, "notes": per run, why the calibration found
    no valid step ("" otherwise)}``; flagged chains are excluded from each estimate (a checkpoint with
    no healthy chain is NaN).
    """
    config = SGLDConfig() if config is None else config
    if calibrate and config.eps is not None:
        raise ValueError(f"`eps` is chosen by the calibration; got eps={config.eps!r} with calibrate=True.")
    sgld = dataclasses.replace(config, eps=None if calibrate else (1e-3 if config.eps is None else config.eps),
                               chains=4 if config.chains is None else config.chains,
                               draws=500 if config.draws is None else config.draws)
    seed = check_int("seed", seed, minimum=0)
    R, K = result.train_loss.shape
    llc = np.full((R, K), np.nan)
    se = np.full((R, K), np.nan)
    excl = np.zeros((R, K), dtype=int)
    reasons = {"nan": 0, "diverged": 0, "escaped": 0}
    config = None
    notes = [""] * R
    runs_key = sgd_run_key(result.config, result.seeds) if store is not None else None
    for i in range(R):

        def compute(i=i):
            key = jax.random.fold_in(jax.random.key(seed), int(result.seeds[i]))
            tr = sampling.llc_trajectory(key, result, centers=[(i, k) for k in range(K)], calibrate=bool(calibrate),
                                         config=sgld, chunk=K)
            cfg = {k: v for k, v in tr.config.items() if k != "centers" and _jsonable(v)}
            cfg["calibration_failed"] = tr.reason  # "" unless the calibration found no valid step
            excluded = (~tr.healthy[i]).sum(-1) * tr.computed[i]
            return put_args({"reasons": tr.reasons, "config": cfg},
                            arrays={"llc": tr.llc[i], "llc_se": tr.llc_se[i], "excluded": excluded})

        if store is None:
            out = compute()
            res, arr = out.result, out.arrays
        else:
            task = {"kind": "llc-curve", "sgd_runs": runs_key, "run": int(result.seeds[i]), "seed": seed,
                    "eps": sgld.eps, "gamma": sgld.gamma, "chains": sgld.chains, "draws": sgld.draws,
                    "calibrate": bool(calibrate), **_other_settings(sgld)}
            entry, _ = store.get_or_compute(task, compute)
            res, arr = entry.result, entry.load_arrays()
        llc[i], se[i], excl[i] = arr["llc"], arr["llc_se"], arr["excluded"]
        rs, config = res["reasons"], res["config"]
        notes[i] = (config or {}).get("calibration_failed", "") or ""
        for k_, v in rs.items():
            reasons[k_] = reasons.get(k_, 0) + int(v)
        if progress is not None:
            progress(i + 1, R)
    return {"llc": llc, "llc_se": se, "excluded": excl, "reasons": reasons, "config": config, "notes": notes}


def _other_settings(config: SGLDConfig) -> dict:
    """The SGLD settings beyond eps, gamma, chains and draws that differ from the defaults, under
    ``"sgld"`` in a store key (none: the key of the default settings)."""
    default = SGLDConfig().to_dict()
    other = {k: v for k, v in config.to_dict().items()
             if k not in ("eps", "gamma", "chains", "draws") and v != default[k]}
    return {"sgld": other} if other else {}


def stage_bracketing(detections, plateaus, transitions, *, plateau_window: float = 0.1) -> dict:
    """Supplementary scores that the plateau rule cannot see (docs/development.md): per run, how many
    detections fall on each plateau (ideally one: more means spurious stage boundaries inside a
    plateau), and for every transition whether the detections just before and just after it lie on
    the plateaus it leaves and enters (the detected stage is then the true transition).

    Returns ``{"detections_per_plateau", "transitions", "transitions_bracketed", "bracketed_fraction"}``.
    """
    per, n_tr, n_br = [], 0, 0
    for det, pls, trs in zip(detections, plateaus, transitions):
        ld = sorted(_lg(s) for s in det)
        iv = [(_lg(a) - plateau_window, _lg(b) + plateau_window) for a, b, *_ in pls]
        per.extend(sum(1 for x in ld if lo <= x <= hi) for lo, hi in iv)
        for t in trs:
            n_tr += 1
            lt = _lg(t)
            j = next((m for m, (a, b, *_) in enumerate(pls) if int(a) == int(t)), None)
            if j is None or j == 0:
                continue
            before = [x for x in ld if x < lt]
            after = [x for x in ld if x >= lt]
            if before and after and iv[j - 1][0] <= before[-1] <= iv[j - 1][1] and iv[j][0] <= after[0] <= iv[j][1]:
                n_br += 1
    return {"detections_per_plateau": float(np.mean(per)) if per else None, "transitions": n_tr,
            "transitions_bracketed": n_br, "bracketed_fraction": n_br / n_tr if n_tr else None}


def _chance_precision(plateaus, steps, window: float) -> float | None:
    """Precision of detections placed uniformly in log10 t over the checkpoint range (t >= 1): the
    fraction of the log-time range covered by the widened plateaus, averaged over runs."""
    lo, hi = _lg(max(1, int(np.min(steps[steps >= 1])))), _lg(int(np.max(steps)))
    if hi <= lo:
        return None
    grid = np.linspace(lo, hi, 2001)
    fr = []
    for pls in plateaus:
        cov = np.zeros(grid.size, dtype=bool)
        for a, b, *_ in pls:
            cov |= (grid >= _lg(a) - window) & (grid <= _lg(b) + window)
        fr.append(cov.mean())
    return float(np.mean(fr)) if fr else None


@dataclass(frozen=True, eq=False)
class DevelopmentEvaluation:
    """The three methods on R SGD runs, scored against the catalogue plateaus (module docstring).

    Attributes
    ----------
    runs : tuple of dict
        Per run: seed, plateaus [[t_start, t_end, label]], transitions [step], llc_milestones [step],
        llc_stages, ed_forms [step], llc_excluded_chains, llc_nan_checkpoints. A run whose LLC curve
        is too short for the smoother (every chain flagged at almost every checkpoint) has
        ``llc_milestones`` None, the reason in ``llc_note``, and is left out of the LLC scores
        (``scores["llc"]["runs_scored"]``).
    covariance_jumps : list of int
    scores : dict
        "llc", "essential_dynamics", "covariance": DetectionScore dicts (covariance None when no run
        has a transition), plus "chance_precision" (uniform detections in log t) and "llc_stages",
        "ed_stages" (:func:`stage_bracketing`).
    stages : tuple of StageAnalysis or None
    dynamics : tuple of EssentialDynamics
    covariance : CovarianceSpectra
    config : dict
    """

    runs: tuple
    covariance_jumps: list
    scores: dict
    stages: tuple
    dynamics: tuple
    covariance: object
    config: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"runs": list(self.runs), "covariance_jumps": list(self.covariance_jumps),
                "scores": dict(self.scores), "config": dict(self.config)}


def evaluate_development(result, analysis, llc, *, bandwidth: float = 0.25, tolerance: float = 0.5,
                         min_change: float = 0.5, method: str = "gp", sigma: float = 0.1, n_components: int = 3,
                         vertex_prominence: float = 1.0, cusp_angle: float = 90.0, coincidence: float = 0.1,
                         k: int = 3, jump_threshold: float = 0.3, jump_window: float = 0.2, align: bool = True,
                         plateau_window: float = 0.1, min_plateau_decades: float = 0.5,
                         transition_window: float = 0.3) -> DevelopmentEvaluation:
    """Run LLC stage detection, essential dynamics and covariance spectra on SGD runs and score them.

    Parameters
    ----------
    result : SGDResult
    analysis : SGDAnalysis
        :func:`theory.analyze_sgd` of ``result`` (the ground truth: plateaus and transitions).
    llc : dict or TrajectoryLLC
        LLC at every checkpoint: :func:`llc_curves`'s dict or a TrajectoryLLC (``.llc`` (R, K)).
    bandwidth, tolerance, min_change, method : keyword-only
        :func:`theory.development.detect_milestones` (defaults 0.25 decades, 0.5 per decade, 0.5, GP).
    sigma, n_components, vertex_prominence, cusp_angle, coincidence : keyword-only
        :func:`theory.development.essential_dynamics` on :func:`tms_probe_outputs` (defaults 0.1, 3,
        1.0, 90, 0.1).
    k, jump_threshold, jump_window, align : keyword-only
        :func:`theory.development.covariance_spectra` (defaults 3, 0.3, 0.2, True).
    plateau_window, min_plateau_decades, transition_window : keyword-only
        Scoring windows in decades (defaults 0.1, 0.5, 0.3; module docstring).

    Returns
    -------
    DevelopmentEvaluation
        Covariance scores are None (with a ``"covariance_note"``) when no run has a transition.
    """
    L = llc["llc"] if isinstance(llc, dict) else np.asarray(llc.llc)
    excluded = llc["excluded"] if isinstance(llc, dict) else (~np.asarray(llc.healthy)).sum(-1) * llc.computed
    R, K = result.train_loss.shape
    if L.shape != (R, K):
        raise ValueError(f"`llc` must cover the runs and checkpoints {(R, K)}; got {L.shape}.")
    runs, stages, dyn = [], [], []
    for i in range(R):
        pls = [[p.first_step, p.last_step, p.label] for p in analysis.plateaus if p.run == i]
        trs = [t.step for t in analysis.transitions if t.run == i]
        try:
            sa = detect_milestones(result.steps, L[i], bandwidth=bandwidth, tolerance=tolerance, method=method,
                                   min_change=min_change)
        except ValueError as exc:  # e.g. every chain flagged at (almost) every checkpoint: no LLC curve
            extra = llc.get("notes", [""] * R)[i] if isinstance(llc, dict) else getattr(llc, "reason", "")
            sa, note = None, str(exc) + (f" (calibration: {extra})" if extra else "")
        ed = essential_dynamics(tms_probe_outputs(result.W[i], result.b[i]), result.steps, sigma=sigma,
                                n_components=n_components, vertex_prominence=vertex_prominence,
                                cusp_angle=cusp_angle, coincidence=coincidence)
        stages.append(sa)
        dyn.append(ed)
        runs.append({"seed": int(result.seeds[i]), "plateaus": pls, "transitions": trs,
                     "llc_milestones": sa.milestone_steps if sa is not None else None,
                     "llc_stages": [[s.first_step, s.last_step, s.type] for s in sa.stages] if sa is not None else None,
                     "llc_note": None if sa is not None else note,
                     "ed_forms": ed.form_steps,
                     "llc_excluded_chains": int(np.sum(excluded[i])),
                     "llc_nan_checkpoints": int(np.sum(~np.isfinite(L[i])))})
    cov = covariance_spectra(result.W, result.b, result.steps, k=k, jump_threshold=jump_threshold,
                             window=jump_window, align=align)
    pl = [r["plateaus"] for r in runs]
    ok = [j for j, r in enumerate(runs) if r["llc_milestones"] is not None]  # runs with an LLC curve
    s_llc = score_on_plateaus([runs[j]["llc_milestones"] for j in ok], [pl[j] for j in ok],
                              plateau_window=plateau_window, min_plateau_decades=min_plateau_decades)
    s_ed = score_on_plateaus([r["ed_forms"] for r in runs], pl, plateau_window=plateau_window,
                             min_plateau_decades=min_plateau_decades)
    all_tr = [s for r in runs for s in r["transitions"]]
    trl = [r["transitions"] for r in runs]
    s_llc = s_llc.to_dict()
    s_llc["runs_scored"] = len(ok)
    scores = {"llc": s_llc, "essential_dynamics": s_ed.to_dict(),
              "chance_precision": _chance_precision(pl, np.asarray(result.steps), plateau_window),
              "llc_stages": stage_bracketing([runs[j]["llc_milestones"] for j in ok], [pl[j] for j in ok],
                                             [trl[j] for j in ok], plateau_window=plateau_window),
              "ed_stages": stage_bracketing([r["ed_forms"] for r in runs], pl, trl, plateau_window=plateau_window)}
    try:
        scores["covariance"] = score_near_transitions(cov.jump_steps, all_tr,
                                                      transition_window=transition_window).to_dict()
    except ValueError as exc:
        scores["covariance"] = None
        scores["covariance_note"] = str(exc)
    config = {"llc_milestones": next((dict(x.config) for x in stages if x is not None), None),
              "essential_dynamics": dict(dyn[0].config) if dyn else None,
              "covariance": dict(cov.config), "plateau_window": plateau_window,
              "min_plateau_decades": min_plateau_decades, "transition_window": transition_window,
              "sgd": result.config.to_dict()}
    return DevelopmentEvaluation(runs=tuple(runs), covariance_jumps=list(cov.jump_steps), scores=scores,
                                 stages=tuple(stages), dynamics=tuple(dyn), covariance=cov, config=config)
