"""Figures of the comparison layer (matplotlib; every function takes ``ax=None`` and returns the axes).

- :func:`plot_occupancy`: theory (lines) vs experiment (points with error bars) over n, log x; only
  phases that reach :data:`LEGEND_MIN_OCCUPANCY` somewhere (theory or samples) are drawn.
- :func:`plot_theory_occupancy`: theoretical occupancy curves alone.
- :func:`plot_loss_complexity`: loss vs LLC of every catalogue phase, with arrows for Bayesian
  transitions (solid; by default :func:`theory.significant_transitions`) and SGD transitions (dashed,
  labelled with their counts).

The energy-level diagram, the polygon drawings and the figure saver (PNG + PDF) are
:func:`kgon.plot.energy_levels`, :func:`kgon.plot.plot_polygons` and :func:`kgon.plot.save_figure`.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from theory.compare import OccupancyComparison
from theory.free_energies import occupancy, phases_of, significant_transitions

__all__ = [
    "LEGEND_MIN_OCCUPANCY",
    "plot_loss_complexity",
    "plot_occupancy",
    "plot_occupancy_orders",
    "plot_theory_occupancy",
    "visible_phases",
]

LEGEND_MIN_OCCUPANCY = 0.03
"""A phase is drawn in the occupancy figures if its occupancy reaches this somewhere (theory or samples)."""


def _ax(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    return ax


def _colors(labels: Sequence[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10" if len(labels) <= 10 else "tab20")
    return {lab: cmap(i % cmap.N) for i, lab in enumerate(labels)}


def plot_theory_occupancy(
    catalogue, ns, *, labels: Sequence[str] | None = None, threshold: float = 0.0, ax=None, colors=None
):
    """Theoretical occupancy softmax(-F_n) of each phase against n (log x).

    The softmax runs over ``labels`` (default: every phase of ``catalogue``); only the phases whose
    occupancy reaches ``threshold`` somewhere on ``ns`` are drawn (e.g. :data:`LEGEND_MIN_OCCUPANCY`).
    """
    ax = _ax(ax)
    th = occupancy(catalogue, ns, labels=labels)
    shown = [lab for lab in th.labels if th.probs[lab].max() >= threshold]
    colors = colors or _colors(shown)
    for lab in shown:
        ax.plot(th.ns, th.probs[lab], "-", color=colors[lab], label=f"{lab} (theory)")
    if threshold > 0 and len(shown) < len(th.labels):
        ax.plot([], [], color="none", label=f"+{len(th.labels) - len(shown)} phases < {threshold:.0%} everywhere")
    ax.set_xscale("log")
    ax.set_xlabel("sample size n")
    ax.set_ylabel("phase occupancy")
    ax.set_ylim(-0.02, 1.02)
    return ax


def visible_phases(comparison: OccupancyComparison, *, threshold: float = LEGEND_MIN_OCCUPANCY, grid=None) -> list[str]:
    """Phases of ``comparison`` whose occupancy reaches ``threshold`` somewhere: predicted at the
    compared n or on ``grid``, or observed (in catalogue order)."""
    labels = list(comparison.labels)
    keep = set()
    for lab in labels:
        if np.nanmax(comparison.predicted[lab], initial=0.0) >= threshold:
            keep.add(lab)
        if np.nanmax(comparison.observed[lab], initial=0.0) >= threshold:
            keep.add(lab)
    if grid is not None and comparison.catalogue_phases:
        th = occupancy(list(comparison.catalogue_phases), grid, labels=labels)
        keep |= {lab for lab in th.labels if th.probs[lab].max() >= threshold}
    return [lab for lab in labels if lab in keep]


def plot_occupancy(comparison: OccupancyComparison, *, ax=None, n_grid: int = 200, threshold: float = LEGEND_MIN_OCCUPANCY):
    """Theory as lines and experiment as points with error bars, one colour per phase.

    Only phases whose occupancy reaches ``threshold`` (:data:`LEGEND_MIN_OCCUPANCY`) somewhere in the
    plotted range, predicted or observed, are drawn and listed in the legend (the others are in
    ``comparison.to_dict()``). The theoretical curves are normalised over all compared phases.
    Vertical dotted lines mark the predicted crossings; shaded spans the observed crossing intervals.
    """
    ax = _ax(ax)
    lo, hi = comparison.ns.min() / 2, comparison.ns.max() * 2
    grid = np.geomspace(lo, hi, n_grid)
    labels = visible_phases(comparison, threshold=threshold, grid=grid)
    colors = _colors(labels)
    th = occupancy(list(comparison.catalogue_phases), grid, labels=list(comparison.labels))
    for lab in labels:
        ax.plot(th.ns, th.probs[lab], "-", color=colors[lab], label=f"{lab} (theory)")
        ax.errorbar(
            comparison.ns, comparison.observed[lab], yerr=comparison.observed_err[lab], fmt="o",
            color=colors[lab], capsize=3, label=f"{lab} (posterior)",
        )
    # legend: one entry per phase (its colour), then what lines and points mean
    handles = [plt.Line2D([], [], color=colors[lab], marker="o", lw=1.5) for lab in labels]
    names = list(labels)
    handles += [plt.Line2D([], [], color="0.3", lw=1.5), plt.Line2D([], [], color="0.3", marker="o", ls="none")]
    names += ["theory softmax(−F_n)", "posterior samples ± s.e."]
    for cr in comparison.crossings:
        if lo <= cr.predicted <= hi:
            ax.axvline(cr.predicted, color="0.4", ls=":", lw=1)
        if cr.ci_low is not None:
            ax.axvspan(cr.ci_low, cr.ci_high, color="0.85", alpha=0.5, lw=0)
    ax.set_xscale("log")
    ax.set_xlabel("sample size n")
    ax.set_ylabel("phase occupancy")
    ax.set_ylim(-0.02, 1.02)
    hidden = len(comparison.labels) - len(labels)
    ax.set_title("Phase occupancy: theory (lines) vs posterior samples (points)", fontsize=10)
    if hidden:
        handles.append(plt.Line2D([], [], color="none"))
        names.append(f"+{hidden} phases < {threshold:.0%} everywhere")
    ax.legend(handles, names, fontsize=8, ncol=2 if len(names) > 8 else 1)
    return ax


def plot_loss_complexity(
    catalogue,
    *,
    bayes_transitions: Sequence | None = None,
    sgd_transitions: Sequence[Mapping] | None = None,
    labels: Sequence[str] | None = None,
    ax=None,
):
    """Loss vs local learning coefficient of every phase, with transitions drawn as arrows.

    Parameters
    ----------
    catalogue : Catalogue or iterable of phases
        All phases (the Bayesian transitions are computed over all its minima).
    bayes_transitions : sequence of theory.BayesianTransition, optional
        Default: :func:`theory.significant_transitions` of ``catalogue`` (changes of the globally
        dominant phase at n >= ``theory.MIN_TRANSITION_N``). Arrows are drawn between plotted phases.
    labels : sequence of str, optional
        Draw only these phases (default: all minima of ``catalogue``).
    sgd_transitions : sequence of dict, optional
        ``{"from": label, "to": label, "count": int}`` as produced by ``theory.analyze_sgd``.
    """
    ax = _ax(ax)
    phases = phases_of(catalogue, labels=labels, minima_only=labels is None)
    pos = {p.label: (p.llc, p.loss) for p in phases}
    xs = [p.llc for p in phases]
    ys = [p.loss for p in phases]
    ax.scatter(xs, ys, s=30, color="k", zorder=3, label="critical points")
    # uncertainty of numerically estimated LLCs (kinked points), where the catalogue carries one
    errs = {}
    for q in getattr(catalogue, "points", None) or []:
        e = getattr(q, "llc_err", None)
        if e is not None and np.isfinite(e) and e > 0:
            errs[str(getattr(q, "label", getattr(q, "name", "")))] = float(e)
    if errs:
        xe = [errs.get(p.label, 0.0) for p in phases]
        ax.errorbar(xs, ys, xerr=xe, fmt="none", ecolor="0.4", elinewidth=1, capsize=2, zorder=2)
    for p in phases:
        ax.annotate(p.label, (p.llc, p.loss), textcoords="offset points", xytext=(5, 4), fontsize=8)
    if bayes_transitions is None:
        bayes_transitions = significant_transitions(catalogue)
    nb = 0
    for t in bayes_transitions:
        if t.from_label in pos and t.to_label in pos:
            ax.annotate(
                "", xy=pos[t.to_label], xytext=pos[t.from_label],
                arrowprops=dict(arrowstyle="->", color="tab:blue", lw=1.5, connectionstyle="arc3,rad=-0.12"),
            )
            nb += 1
    ns = 0
    for t in sgd_transitions or []:
        a, b = t["from"], t["to"]
        if a in pos and b in pos:
            ax.annotate(
                "", xy=pos[b], xytext=pos[a],
                arrowprops=dict(arrowstyle="->", color="tab:red", lw=1.2, ls="--", connectionstyle="arc3,rad=0.2"),
            )
            mid = ((pos[a][0] + pos[b][0]) / 2, (pos[a][1] + pos[b][1]) / 2)
            ax.annotate(f"{t['count']}", mid, color="tab:red", fontsize=8)
            ns += 1
    # legend proxies for the arrow kinds
    ax.plot([], [], color="tab:blue", lw=1.5, label=f"Bayesian transitions ({nb})")
    if sgd_transitions is not None:
        ax.plot([], [], color="tab:red", lw=1.2, ls="--", label=f"SGD transitions ({ns})")
    ax.set_xlabel("local learning coefficient λ")
    ax.set_ylabel("loss L(w*)")
    ax.set_title("Loss vs complexity of critical points")
    ax.legend(fontsize=8)
    return ax


def plot_occupancy_orders(comparisons: Mapping[str, OccupancyComparison], *, ax=None, labels: Sequence[str] | None = None):
    """Observed occupancy (points with error bars) against the prediction of each order (leading:
    dashed, refined: solid), at the sampled n (conditional on the compared phases; log x).
    ``comparisons``: ``{order: OccupancyComparison}`` from :func:`theory.compare_occupancy`; the
    phases drawn are ``labels`` or those of the first comparison reaching
    :data:`LEGEND_MIN_OCCUPANCY`. Predicted crossings are marked on the x axis."""
    ax = _ax(ax)
    if not comparisons:
        raise ValueError("`comparisons` must hold at least one OccupancyComparison.")
    first = next(iter(comparisons.values()))
    labs = list(labels) if labels is not None else [
        lab for lab in first.labels
        if max(first.observed[lab].max(), max(c.predicted[lab].max() for c in comparisons.values() if lab in c.labels))
        >= LEGEND_MIN_OCCUPANCY
    ]
    col = _colors(labs)
    styles = {"leading": "--", "refined": "-"}
    for lab in labs:
        ax.errorbar(first.ns, first.observed[lab], yerr=first.observed_err[lab], fmt="o", ms=4, color=col[lab],
                    label=f"{lab} sampled", capsize=2)
        for order, cmp in comparisons.items():
            if lab in cmp.labels:
                ax.plot(cmp.ns, cmp.predicted[lab], styles.get(order, ":"), color=col[lab], lw=1.5,
                        label=f"{lab} {order}")
    for order, cmp in comparisons.items():
        for cr in cmp.crossings:
            ax.axvline(cr.predicted, ls=styles.get(order, ":"), color="0.4", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("n")
    ax.set_ylabel("occupancy (conditional on the compared phases)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, ncol=2)
    return ax
