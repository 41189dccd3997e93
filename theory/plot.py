"""Figures of the comparison layer (matplotlib; every function takes ``ax=None`` and returns the axes).

- :func:`plot_occupancy`: theory (lines) vs experiment (points with error bars) over n, log x.
- :func:`plot_theory_occupancy`: theoretical occupancy curves alone.
- :func:`plot_loss_complexity`: loss vs LLC of every catalogue phase, with arrows for Bayesian
  transitions (solid) and SGD transitions (dashed, labelled with their counts).
- :func:`plot_energy_levels`: the loss levels of the catalogue, labelled by name.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from theory.compare import OccupancyComparison  # noqa: E402
from theory.free_energy import occupancy, phases_of, transitions  # noqa: E402

__all__ = ["plot_occupancy", "plot_theory_occupancy", "plot_loss_complexity", "plot_energy_levels", "save_figure"]


def _ax(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    return ax


def _colors(labels: Sequence[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10" if len(labels) <= 10 else "tab20")
    return {lab: cmap(i % cmap.N) for i, lab in enumerate(labels)}


def plot_theory_occupancy(catalogue, ns, *, labels: Sequence[str] | None = None, ax=None, colors=None):
    """Theoretical occupancy softmax(-F_n) of each phase against n (log x)."""
    ax = _ax(ax)
    th = occupancy(catalogue, ns, labels=labels)
    colors = colors or _colors(th.labels)
    for lab in th.labels:
        ax.plot(th.ns, th.probs[lab], "-", color=colors[lab], label=f"{lab} (theory)")
    ax.set_xscale("log")
    ax.set_xlabel("sample size n")
    ax.set_ylabel("phase occupancy")
    ax.set_ylim(-0.02, 1.02)
    return ax


def plot_occupancy(comparison: OccupancyComparison, *, ax=None, n_grid: int = 200):
    """Theory as lines and experiment as points with error bars, one colour per phase.

    Vertical dotted lines mark the predicted crossings; shaded spans the observed crossing intervals.
    """
    ax = _ax(ax)
    labels = comparison.labels
    colors = _colors(labels)
    lo, hi = comparison.ns.min() / 2, comparison.ns.max() * 2
    grid = np.geomspace(lo, hi, n_grid)
    plot_theory_occupancy(list(comparison.catalogue_phases), grid, labels=labels, ax=ax, colors=colors)
    for lab in labels:
        ax.errorbar(
            comparison.ns, comparison.observed[lab], yerr=comparison.observed_err[lab], fmt="o",
            color=colors[lab], capsize=3, label=f"{lab} (posterior)",
        )
    for cr in comparison.crossings:
        if lo <= cr.predicted <= hi:
            ax.axvline(cr.predicted, color="0.4", ls=":", lw=1)
        if cr.ci_low is not None:
            ax.axvspan(cr.ci_low, cr.ci_high, color="0.85", alpha=0.5, lw=0)
    ax.set_title("Phase occupancy: theory (lines) vs posterior samples (points)")
    ax.legend(fontsize=8, ncol=2)
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
    bayes_transitions : sequence of theory.BayesianTransition, optional
        Default: the globally dominant transitions of ``theory.transitions(catalogue)``.
    sgd_transitions : sequence of dict, optional
        ``{"from": label, "to": label, "count": int}`` as produced by ``theory.analyze_sgd``.
    """
    ax = _ax(ax)
    phases = phases_of(catalogue, labels=labels)
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
        bayes_transitions = [t for t in transitions(phases) if t.globally_dominant]
    nb = 0
    for t in bayes_transitions:
        if t.from_label in pos and t.to_label in pos:
            ax.annotate(
                "", xy=pos[t.to_label], xytext=pos[t.from_label],
                arrowprops=dict(arrowstyle="->", color="tab:blue", lw=1.5),
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


def plot_energy_levels(catalogue, *, ax=None):
    """Horizontal loss levels of all phases, labelled by name, grouped by LLC on the x axis."""
    ax = _ax(ax)
    phases = sorted(phases_of(catalogue), key=lambda p: p.loss)
    for p in phases:
        ax.hlines(p.loss, p.llc - 0.35, p.llc + 0.35, color="k", lw=2)
        ax.annotate(p.label, (p.llc + 0.4, p.loss), va="center", fontsize=8)
    ax.set_xlabel("local learning coefficient λ")
    ax.set_ylabel("loss L(w*)")
    ax.set_title("Energy levels of the critical points")
    return ax


def save_figure(fig, path_stem) -> list[str]:
    """Save ``fig`` as PNG and PDF next to each other; returns the two paths."""
    from pathlib import Path

    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for ext in ("png", "pdf"):
        p = stem.with_suffix("." + ext)
        fig.savefig(p, dpi=130, bbox_inches="tight")
        out.append(str(p))
    return out
