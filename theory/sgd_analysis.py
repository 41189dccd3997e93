"""Plateaus of SGD loss curves, matched to catalogue critical points modulo symmetry (docs/dynamics.md).

**Matching.** Every checkpoint (W_t, b_t) is matched to the nearest catalogue point by the phase
distance of :func:`kgon.phase_distances` (Euclidean distance in parameter space after the best
O(r) rotation/reflection and feature permutation, free biases compared by region), *not* by loss;
it is "at" that point when the distance is <= ``threshold`` (default: the classifier's, 0.5).

**Plateaus.** The loss curve is flat at checkpoint k when the relative slope in log-time is small,

    | d log L / d log(t + 1) |  <=  ``slope_tol``   (default 0.05, i.e. < 5% change per e-fold of steps),

estimated by central differences of the training loss L_n over the neighbouring checkpoints. A
checkpoint is **on a catalogue plateau** when the curve is flat there *and* it is matched to a
catalogue point. Maximal runs of consecutive on-plateau checkpoints with the same label form the
plateaus; runs shorter than ``min_length`` checkpoints (default 3) are dropped (their checkpoints
count as off-plateau), so a single mismatched checkpoint does not create spurious transitions.

**Transitions.** Consecutive plateaus of one run with different labels give a transition
(from, to, step) at the first step of the new plateau. :func:`analyze_sgd` reports per run the
sequence of phases, across runs the transition counts, the fraction of checkpoints on catalogue
plateaus and the final phases, and the **Bayesian antecedent check** (Chen et al. 2023, "opposing
staircases"): for every transition the sign of the loss change and of the LLC change, from the
catalogue values (``theory``) and, when an SGLD trajectory estimate is given, from the plateau
medians of lambda_hat (``estimated``). A transition is *consistent* with a Bayesian antecedent
(a Type A transition: lower loss, higher complexity) when the loss decreases and the LLC increases.
An LLC change no larger than twice the combined uncertainty of the two values (the catalogue's
``llc_err``; for SGLD the standard error of the mean of the plateau's checkpoint estimates) is
counted as ``llc_equal_within_error`` instead of a sign.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

__all__ = ["AntecedentCheck", "Plateau", "PlateauTransition", "SGDAnalysis", "SignCounts", "analyze_sgd",
           "FIVE_GON_FAMILY", "five_to_six", "flat_mask", "match_checkpoints", "plateau_centers", "DEFAULT_SLOPE_TOL",
           "SIGN_KEYS", "merge_sign_counts", "format_sign_counts"]

DEFAULT_SLOPE_TOL = 0.05


def flat_mask(steps, loss, *, slope_tol: float = DEFAULT_SLOPE_TOL) -> np.ndarray:
    """Checkpoints where |d log L / d log(t + 1)| <= slope_tol (central differences; one-sided at the
    ends). ``steps`` (K,), ``loss`` (..., K) -> bool (..., K). Non-finite losses are not flat."""
    steps = np.asarray(steps, dtype=np.float64)
    loss = np.asarray(loss, dtype=np.float64)
    if steps.ndim != 1 or loss.shape[-1] != steps.size or steps.size < 2:
        raise ValueError(f"`steps` must be (K,) with K >= 2 and `loss` (..., K); got {steps.shape}, {loss.shape}.")
    if not (isinstance(slope_tol, (int, float)) and not isinstance(slope_tol, bool) and slope_tol > 0):
        raise ValueError(f"`slope_tol` must be a positive number; got {slope_tol!r}.")
    lt = np.log(steps + 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = np.log(loss)
        prev = np.concatenate([[0], np.arange(steps.size - 1)])
        nxt = np.concatenate([np.arange(1, steps.size), [steps.size - 1]])
        slope = (ll[..., nxt] - ll[..., prev]) / (lt[nxt] - lt[prev])
    return np.isfinite(slope) & (np.abs(slope) <= slope_tol)


def match_checkpoints(W, b, catalogue, *, threshold: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Nearest catalogue label and phase distance of every parameter (batched (..., r, c)).

    Returns ``(labels, distances)``; the label is ``"other"`` and the distance ``inf`` where no point
    is within ``threshold`` (default: :data:`kgon.classification.DEFAULT_THRESHOLD`); non-finite parameters
    get ``"nan"``.
    """
    # deferred: kgon's mathematics (jax) stays out of reading an experiment file, which imports this module
    import kgon
    from kgon.classification import DEFAULT_THRESHOLD, OTHER

    thr = DEFAULT_THRESHOLD if threshold is None else float(threshold)
    if not thr > 0:
        raise ValueError(f"`threshold` must be a positive number; got {threshold!r}.")
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    lead = W.shape[:-2]
    Wf = W.reshape((-1,) + W.shape[-2:])
    bf = b.reshape((-1, b.shape[-1]))
    fin = np.all(np.isfinite(Wf), axis=(1, 2)) & np.all(np.isfinite(bf), axis=1)
    labels = np.full(Wf.shape[0], "nan", dtype=object)
    dist = np.full(Wf.shape[0], np.inf)
    if fin.any():
        D = kgon.phase_distances(Wf[fin], bf[fin], catalogue, cutoff=thr)
        best = np.argmin(D, axis=1)
        dmin = D[np.arange(D.shape[0]), best]
        names = np.array(catalogue.labels() + [OTHER], dtype=object)
        lab = np.where(dmin <= thr, best, len(catalogue.labels()))
        labels[fin] = names[lab]
        dist[fin] = dmin
    return labels.astype(str).reshape(lead), dist.reshape(lead)


@dataclass(frozen=True)
class Plateau:
    """A maximal stretch of one run's checkpoints on one catalogue plateau.

    ``start``/``end`` are checkpoint indices (end exclusive); ``first_step``/``last_step`` the SGD
    steps; ``distance`` the median phase distance; ``loss`` the median training loss; ``point_loss``
    the catalogue point's population loss; ``llc`` the median SGLD estimate over its checkpoints
    (NaN if none); ``llc_theory`` the catalogue LLC.
    """

    run: int
    label: str
    start: int
    end: int
    first_step: int
    last_step: int
    distance: float
    loss: float
    point_loss: float
    llc: float = float("nan")
    llc_theory: float = float("nan")
    llc_theory_err: float = 0.0
    llc_err: float = 0.0


@dataclass(frozen=True)
class PlateauTransition:
    """One run's move from one plateau to the next (``step``: first step of the new plateau)."""

    run: int
    from_label: str
    to_label: str
    step: int
    loss_before: float
    loss_after: float
    llc_before: float = float("nan")
    llc_after: float = float("nan")
    llc_theory_before: float = float("nan")
    llc_theory_after: float = float("nan")
    llc_theory_err_before: float = 0.0
    llc_theory_err_after: float = 0.0
    llc_err_before: float = 0.0
    llc_err_after: float = 0.0


SIGN_KEYS = ("loss_down_llc_up", "loss_down_llc_down", "loss_up_llc_up", "loss_up_llc_down", "undetermined",
             "llc_equal_within_error")


@dataclass(frozen=True)
class SignCounts:
    """Counts of the sign patterns of (delta loss, delta LLC) over plateau transitions.

    A change of the LLC no larger than its tolerance (twice the combined uncertainty of the two
    values) is counted as ``llc_equal_within_error``, not as a sign; NaNs and exact zeros as
    ``undetermined``. Neither enters :attr:`consistent_fraction`.
    """

    loss_down_llc_up: int = 0
    loss_down_llc_down: int = 0
    loss_up_llc_up: int = 0
    loss_up_llc_down: int = 0
    undetermined: int = 0
    llc_equal_within_error: int = 0

    @property
    def consistent_fraction(self) -> float | None:
        """Loss down & LLC up among the transitions with a sign (None if there are none)."""
        det = self.loss_down_llc_up + self.loss_down_llc_down + self.loss_up_llc_up + self.loss_up_llc_down
        return self.loss_down_llc_up / det if det else None

    def to_dict(self) -> dict:
        """The counts (keys :data:`SIGN_KEYS`) plus ``consistent_fraction``."""
        return dict(dataclasses.asdict(self), consistent_fraction=self.consistent_fraction)

    @classmethod
    def from_dict(cls, d: dict) -> "SignCounts":
        """Inverse of :meth:`to_dict` (keys a result lacks count 0)."""
        return cls(**{k: int(d.get(k, 0)) for k in SIGN_KEYS})

    @classmethod
    def total(cls, parts) -> "SignCounts | None":
        """The sum of several counts (``None`` entries skipped); ``None`` if there are none."""
        parts = [p for p in parts if p is not None]
        if not parts:
            return None
        return cls(**{k: sum(getattr(p, k) for p in parts) for k in SIGN_KEYS})


def _sign_counts(pairs) -> SignCounts:
    """:class:`SignCounts` of items (delta loss, delta llc[, tolerance])."""
    out = dict.fromkeys(SIGN_KEYS, 0)
    for item in pairs:
        dl, dk = item[0], item[1]
        tol = item[2] if len(item) > 2 else 0.0
        if not (math.isfinite(dl) and math.isfinite(dk)) or dl == 0 or dk == 0:
            out["undetermined"] += 1
        elif tol > 0 and abs(dk) <= tol:
            out["llc_equal_within_error"] += 1
        else:
            out[f"loss_{'down' if dl < 0 else 'up'}_llc_{'up' if dk > 0 else 'down'}"] += 1
    return SignCounts(**out)


@dataclass(frozen=True)
class AntecedentCheck:
    """The Bayesian antecedent check of SGD transitions (Chen et al. 2023, §6): does each plateau
    transition lower the loss and raise the LLC, as a Bayesian transition at growing n does?

    Attributes
    ----------
    n_transitions : int
        Plateau transitions checked.
    theory : SignCounts
        Signs with the catalogue (theoretical) LLC of both plateaus.
    estimated : SignCounts or None
        Signs with the SGLD estimates at the plateaus (None without estimates).
    loss_decreasing : int
        Transitions that lower the loss.
    """

    n_transitions: int
    theory: SignCounts
    estimated: SignCounts | None
    loss_decreasing: int

    def to_dict(self) -> dict:
        return {
            "n_transitions": self.n_transitions,
            "theory": self.theory.to_dict(),
            "estimated": None if self.estimated is None else self.estimated.to_dict(),
            "loss_decreasing": self.loss_decreasing,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "AntecedentCheck":
        return cls(
            n_transitions=int(d["n_transitions"]),
            theory=SignCounts.from_dict(d["theory"] or {}),
            estimated=None if d.get("estimated") is None else SignCounts.from_dict(d["estimated"]),
            loss_decreasing=int(d["loss_decreasing"]),
        )

    @classmethod
    def total(cls, parts) -> "AntecedentCheck":
        """The check of the union of the transitions of several checks (counts add up)."""
        parts = list(parts)
        return cls(
            n_transitions=sum(p.n_transitions for p in parts),
            theory=SignCounts.total([p.theory for p in parts]) or SignCounts(),
            estimated=SignCounts.total([p.estimated for p in parts]),
            loss_decreasing=sum(p.loss_decreasing for p in parts),
        )


def merge_sign_counts(parts) -> dict | None:
    """Sum sign-count dicts (``SignCounts.to_dict``; ``None`` entries skipped, missing keys count 0)
    and recompute ``consistent_fraction``; ``None`` if nothing to merge."""
    total = SignCounts.total([SignCounts.from_dict(p) for p in parts if p is not None])
    return None if total is None else total.to_dict()


def format_sign_counts(counts) -> str:
    """One line: ``"N consistent, N loss down & LLC down, N LLC equal within error, N undetermined"``.

    ``counts``: a :class:`SignCounts` or its ``to_dict()``.
    """
    if isinstance(counts, dict):
        counts = SignCounts.from_dict(counts)
    return (f"{counts.loss_down_llc_up} consistent, {counts.loss_down_llc_down} loss down & LLC down, "
            f"{counts.llc_equal_within_error} LLC equal within error, {counts.undetermined} undetermined")


FIVE_GON_FAMILY = ("5", "5+")
"""Catalogue labels of the 5-gon family: the 5-gon and the 5+-gon (5 live columns, one dead with positive bias)."""


def five_to_six(transitions) -> int:
    """Number of plateau transitions from the 5-gon family (``"5"`` or ``"5+"``) into the 6-gon ``"6"``.

    The dynamical transition of Chen et al. (2023), §6: at c = 6, SGD runs leave a 5-gon or
    5+-gon plateau for the 6-gon. ``transitions`` is a sequence of :class:`PlateauTransition` or of
    ``{"from", "to", "count"}`` dicts (:meth:`SGDAnalysis.transition_counts`, ``tmsphase sgd --json``);
    labels are catalogue labels, which for regular polygons are their names. 0 when c < 6 (there is
    no 6-gon). The same number is reported by ``tmsphase sgd`` and by the sgd sweep kind.
    """
    total = 0
    for t in transitions:
        if isinstance(t, PlateauTransition):
            src, dst, count = t.from_label, t.to_label, 1
        else:
            src, dst, count = t["from"], t["to"], int(t["count"])
        if src in FIVE_GON_FAMILY and dst == "6":
            total += count
    return total


def _finite_or_zero(x) -> float:
    return float(x) if x is not None and math.isfinite(float(x)) else 0.0


@dataclass(frozen=True, eq=False)
class SGDAnalysis:
    """Plateaus, matches and transitions of a batch of SGD runs (module docstring).

    Attributes
    ----------
    labels : ndarray of str, shape (R, K)
        Nearest catalogue label per checkpoint ("other" beyond the threshold).
    distances : ndarray, shape (R, K)
        Phase distance to that label's point.
    flat : ndarray of bool, shape (R, K)
        Loss curve locally flat.
    on_plateau : ndarray of bool, shape (R, K)
        Checkpoint belongs to a catalogue plateau.
    plateaus : tuple of Plateau
    transitions : tuple of PlateauTransition
    fraction_on_plateaus : float
        Mean of ``on_plateau`` over runs that did not diverge.
    fraction_matched : float
        Fraction of checkpoints within the threshold of a catalogue point (flat or not).
    phase_sequences : tuple of tuple of str
        Per run, the labels of its plateaus in order (consecutive repeats merged).
    final_phases : dict
        Label of each run's last checkpoint -> number of runs.
    config : dict
        threshold, slope_tol, min_length and the SGD config.
    """

    labels: np.ndarray
    distances: np.ndarray
    flat: np.ndarray
    on_plateau: np.ndarray
    plateaus: tuple[Plateau, ...]
    transitions: tuple[PlateauTransition, ...]
    fraction_on_plateaus: float
    fraction_matched: float
    phase_sequences: tuple[tuple[str, ...], ...]
    final_phases: dict
    config: dict = field(default_factory=dict)

    def transition_counts(self) -> list[dict]:
        """``[{"from", "to", "count"}]`` sorted by count (descending), then labels."""
        cnt = Counter((t.from_label, t.to_label) for t in self.transitions)
        return [{"from": a, "to": b, "count": int(k)}
                for (a, b), k in sorted(cnt.items(), key=lambda kv: (-kv[1], kv[0]))]

    def antecedent(self) -> AntecedentCheck:
        """The Bayesian antecedent check: sign counts of (delta loss, delta LLC) over all transitions."""
        theory = _sign_counts((t.loss_after - t.loss_before, t.llc_theory_after - t.llc_theory_before,
                               2.0 * math.hypot(t.llc_theory_err_before, t.llc_theory_err_after))
                              for t in self.transitions)
        est_pairs = [(t.loss_after - t.loss_before, t.llc_after - t.llc_before,
                      2.0 * math.hypot(t.llc_err_before, t.llc_err_after)) for t in self.transitions]
        has_est = any(math.isfinite(t.llc_before) or math.isfinite(t.llc_after) for t in self.transitions)
        return AntecedentCheck(
            n_transitions=len(self.transitions),
            theory=theory,
            estimated=_sign_counts(est_pairs) if has_est else None,
            loss_decreasing=sum(1 for t in self.transitions if t.loss_after < t.loss_before),
        )

    def with_llc(self, result, catalogue, llc) -> "SGDAnalysis":
        """The same analysis with SGLD estimates attached (no re-matching)."""
        return _build(result, catalogue, self.labels, self.distances, self.flat, self.config["min_length"], llc,
                      {k: v for k, v in self.config.items() if k != "llc"})

    def to_dict(self) -> dict:
        """JSON-able: fraction_on_plateaus, fraction_matched, transitions, final_phases, antecedent,
        phase_sequences, runs, five_to_six (:func:`five_to_six`), plateaus (per plateau: run, label,
        first/last step, distance, loss, llc)."""

        def f(x):
            x = float(x)
            return x if math.isfinite(x) else None

        return {
            "fraction_on_plateaus": f(self.fraction_on_plateaus),
            "fraction_matched": f(self.fraction_matched),
            "transitions": self.transition_counts(),
            "final_phases": dict(self.final_phases),
            "antecedent": self.antecedent().to_dict(),
            "phase_sequences": [list(s) for s in self.phase_sequences],
            "runs": int(self.labels.shape[0]),
            "five_to_six": five_to_six(self.transitions),
            "plateaus": [
                {"run": p.run, "label": p.label, "first_step": p.first_step, "last_step": p.last_step,
                 "distance": f(p.distance), "loss": f(p.loss), "llc": f(p.llc), "llc_theory": f(p.llc_theory)}
                for p in self.plateaus
            ],
            "config": dict(self.config),
        }


def _segments(labels_row, on_row, min_length):
    """Maximal runs of equal label among on-plateau checkpoints: list of (start, end, label)."""
    out = []
    K = len(labels_row)
    k = 0
    while k < K:
        if not on_row[k]:
            k += 1
            continue
        j = k
        while j < K and on_row[j] and labels_row[j] == labels_row[k]:
            j += 1
        if j - k >= min_length:
            out.append((k, j, labels_row[k]))
        k = j
    return out


def analyze_sgd(result, catalogue, *, threshold: float | None = None, slope_tol: float = DEFAULT_SLOPE_TOL,
                min_length: int = 3, llc=None) -> SGDAnalysis:
    """Plateaus, catalogue matches, transitions and the antecedent check of SGD runs (module docstring).

    Parameters
    ----------
    result : SGDResult
        From :func:`sampling.train_sgd`.
    catalogue : kgon.Catalogue
        Critical points at the runs' (c, r).
    threshold : float, keyword-only
        Largest phase distance to count as at a point (default the classifier's 0.5).
    slope_tol : float, keyword-only
        Flatness threshold on ``|d log L / d log t|`` (default 0.05).
    min_length : int, keyword-only
        Shortest plateau in checkpoints (default 3).
    llc : TrajectoryLLC, keyword-only
        SGLD estimates at checkpoints (:func:`sampling.llc_trajectory`) for the estimated antecedent;
        can also be attached later with :meth:`SGDAnalysis.with_llc`.

    Returns
    -------
    SGDAnalysis
    """
    from kgon.validation import check_int  # deferred: reading an experiment file imports this module; kgon stays out

    min_length = check_int("min_length", min_length, minimum=1)
    if (catalogue.c, catalogue.r) != (result.config.c, result.config.r):
        raise ValueError(f"the catalogue is for (c, r) = ({catalogue.c}, {catalogue.r}) but the runs have "
                         f"(c, r) = ({result.config.c}, {result.config.r}).")
    labels, dist = match_checkpoints(result.W, result.b, catalogue, threshold=threshold)
    flat = flat_mask(result.steps, result.train_loss, slope_tol=slope_tol)
    config = {"threshold": threshold, "slope_tol": slope_tol, "min_length": min_length,
              "sgd": result.config.to_dict(), "seeds": list(result.seeds)}
    return _build(result, catalogue, labels, dist, flat, min_length, llc, config)


def plateau_centers(analysis: SGDAnalysis, *, per_plateau: int = 3) -> np.ndarray:
    """(run, checkpoint index) pairs, up to ``per_plateau`` spread over each plateau (for
    :func:`sampling.llc_trajectory`'s ``centers``)."""
    out = []
    for p in analysis.plateaus:
        k = np.unique(np.round(np.linspace(p.start, p.end - 1, min(per_plateau, p.end - p.start))).astype(int))
        out.extend((p.run, int(j)) for j in k)
    return np.array(out, dtype=int).reshape(-1, 2)


def _build(result, catalogue, labels, dist, flat, min_length, llc, config) -> SGDAnalysis:
    matched = np.isfinite(dist) & (labels != "other") & (labels != "nan")
    candidate = flat & matched
    R, K = labels.shape
    llc_full = llc.llc if llc is not None else np.full((R, K), np.nan)
    se_full = np.asarray(llc.llc_se) if llc is not None else np.zeros((R, K))
    if llc_full.shape != (R, K):
        raise ValueError(f"`llc` must cover the same runs and checkpoints {(R, K)}; got {llc_full.shape}.")
    points = {p.label: p for p in catalogue.points}
    on = np.zeros((R, K), dtype=bool)
    plateaus, transitions, sequences = [], [], []
    for i in range(R):
        segs = _segments(labels[i], candidate[i], min_length)
        row = []
        for s, e, lab in segs:
            on[i, s:e] = True
            vals = llc_full[i, s:e]
            ses = se_full[i, s:e][np.isfinite(vals)]
            vals = vals[np.isfinite(vals)]
            # standard error of the plateau's estimate: that of the mean of its checkpoint estimates
            llc_err = float(np.sqrt(np.nansum(ses ** 2)) / vals.size) if vals.size else 0.0
            pt = points[lab]
            row.append(Plateau(
                run=i, label=str(lab), start=int(s), end=int(e), first_step=int(result.steps[s]),
                last_step=int(result.steps[e - 1]), distance=float(np.median(dist[i, s:e])),
                loss=float(np.median(result.train_loss[i, s:e])), point_loss=float(pt.loss),
                llc=float(np.median(vals)) if vals.size else float("nan"),
                llc_theory=float(pt.llc) if pt.llc is not None else float("nan"),
                llc_theory_err=_finite_or_zero(pt.llc_err),
                llc_err=llc_err,
            ))
        plateaus.extend(row)
        for a, bpl in zip(row[:-1], row[1:]):
            if a.label != bpl.label:
                transitions.append(PlateauTransition(
                    run=i, from_label=a.label, to_label=bpl.label, step=bpl.first_step,
                    loss_before=a.loss, loss_after=bpl.loss, llc_before=a.llc, llc_after=bpl.llc,
                    llc_theory_before=a.llc_theory, llc_theory_after=bpl.llc_theory,
                    llc_theory_err_before=a.llc_theory_err, llc_theory_err_after=bpl.llc_theory_err,
                    llc_err_before=a.llc_err, llc_err_after=bpl.llc_err,
                ))
        seq = []
        for p in row:
            if not seq or seq[-1] != p.label:
                seq.append(p.label)
        sequences.append(tuple(seq))
    ok = ~np.asarray(result.diverged, dtype=bool)
    frac = float(on[ok].mean()) if ok.any() else float("nan")
    frac_m = float(matched[ok].mean()) if ok.any() else float("nan")
    final = Counter(str(labels[i, -1]) for i in range(R))
    cfg = dict(config)
    cfg["llc"] = dict(llc.config) if llc is not None else None
    return SGDAnalysis(
        labels=labels, distances=dist, flat=flat, on_plateau=on, plateaus=tuple(plateaus),
        transitions=tuple(transitions), fraction_on_plateaus=frac, fraction_matched=frac_m,
        phase_sequences=tuple(sequences), final_phases=dict(sorted(final.items())), config=cfg,
    )
