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

from kgon.plot import draw_polygon
from theory.compare import OccupancyComparison
from theory.free_energies.orders import occupancy, phases_of, significant_transitions

__all__ = [
    "LEGEND_MIN_OCCUPANCY",
    "SNAPSHOT_FRACTIONS",
    "plot_general_sgd_run",
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


def plot_occupancy(comparison: OccupancyComparison, *, ax=None, n_grid: int = 200,
                   threshold: float = LEGEND_MIN_OCCUPANCY):
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


def plot_occupancy_orders(comparisons: Mapping[str, OccupancyComparison], *, ax=None,
                          labels: Sequence[str] | None = None, band: Mapping | None = None):
    """Observed occupancy (points with error bars) against the prediction of each order (leading:
    dashed, refined: solid, others dotted), at the sampled n (conditional on the compared phases; log x).
    ``comparisons``: ``{order: OccupancyComparison}`` from :func:`theory.compare_occupancy`; the
    phases drawn are ``labels`` or those of the first comparison reaching
    :data:`LEGEND_MIN_OCCUPANCY`. Predicted crossings are marked on the x axis. ``band``: the
    occupancy over data sets (``theory.OverData.to_dict()``: ``"ns"`` and ``"occupancy_band"``
    ``{label: {"mean", "q10", "q90"}}``), drawn as each phase's 10-90% band with its mean (dash-dot)."""
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
    if band is not None:
        grid = np.asarray(band["ns"], dtype=float)
        for lab in labs:
            b = band["occupancy_band"].get(lab)
            if b is not None:
                ax.fill_between(grid, b["q10"], b["q90"], color=col[lab], alpha=0.15, lw=0,
                                label=f"{lab} over data sets (10-90%)")
                ax.plot(grid, b["mean"], "-.", color=col[lab], lw=1.0)
    for order, cmp in comparisons.items():
        for cr in cmp.crossings:
            ax.axvline(cr.predicted, ls=styles.get(order, ":"), color="0.4", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("n")
    ax.set_ylabel("occupancy (conditional on the compared phases)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, ncol=2)
    return ax


#: Fractions of the training run at which :func:`plot_general_sgd_run` draws weight snapshots (the
#: epochs 0, 200, 2000, 10000 and 20000 of 20000 of the extension study's figures).
SNAPSHOT_FRACTIONS = (0.0, 0.01, 0.1, 0.5, 1.0)


def _draw_columns_3d(ax, W, *, title: str | None = None):
    """Columns of W (r >= 3) as arrows from the origin in 3-D: r = 3 as they are, r > 3 projected onto
    the first three left singular vectors of W; colour C{i} per feature, as :func:`kgon.plot.draw_polygon`."""
    W = np.asarray(W, dtype=np.float64)
    Z = W if W.shape[0] == 3 else np.linalg.svd(W, full_matrices=False)[0][:, :3].T @ W
    lim = max(1.0, float(np.abs(Z).max()) * 1.1)
    for i in range(Z.shape[1]):
        if np.linalg.norm(Z[:, i]) <= 1e-6:
            continue
        col = f"C{i % 10}"
        ax.plot([0, Z[0, i]], [0, Z[1, i]], [0, Z[2, i]], color=col, lw=1.4)
        ax.scatter([Z[0, i]], [Z[1, i]], [Z[2, i]], color=col, s=10)
        ax.text(Z[0, i] * 1.1, Z[1, i] * 1.1, Z[2, i] * 1.1, str(i), fontsize=6, color=col)
    for setter in (ax.set_xlim, ax.set_ylim, ax.set_zlim):
        setter(-lim, lim)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_zticks([])
    if title:
        ax.set_title(title, fontsize=8)
    return ax


def plot_general_sgd_run(run: Mapping, *, title: str | None = None):
    """One SGD run of the general TMS (a result of the ``general_sgd`` sweep kind, docs/general.md).

    Top: weight snapshots at :data:`SNAPSHOT_FRACTIONS` of the run (polygons of the columns of W for
    r = 2, :func:`kgon.plot.draw_polygon`; 3-D views for r >= 3, r > 3 projected onto the first three
    singular directions). Middle: population loss L and training loss L_n against the step (log-log),
    plateaus shaded and labelled (catalogue label where matched, else the number of live columns),
    snapshot steps dotted. Bottom: the calibrated SGLD LLC at the checkpoints (± standard error over the
    healthy chains); estimates that are NaN (no step size passed the calibration) are crosses on the
    axis, with their count and most common reason in the legend. Returns the figure.
    """
    steps = np.asarray(run["steps"], dtype=float)
    loss = np.array([np.nan if v is None else v for v in run["loss"]], dtype=float)
    train = np.array([np.nan if v is None else v for v in run["train_loss"]], dtype=float)
    W = np.asarray(run["W"], dtype=float)
    r = W.shape[1]
    total = steps[-1]
    snaps = sorted({int(np.argmin(np.abs(steps - f * total))) for f in SNAPSHOT_FRACTIONS})
    fig = plt.figure(figsize=(2.3 * max(len(snaps), 5), 8.2))
    grid = fig.add_gridspec(3, len(snaps), height_ratios=[1.0, 1.15, 1.0])
    for j, k in enumerate(snaps):
        lab = f"step {int(steps[k])}\nL = {loss[k]:.4g}"
        if run.get("labels") is not None:
            lab += f" ({run['labels'][k]})"
        if r >= 3:
            _draw_columns_3d(fig.add_subplot(grid[0, j], projection="3d"), W[k], title=lab)
        else:
            draw_polygon(fig.add_subplot(grid[0, j]), W[k], title=lab, numbers=True)
    x = np.maximum(steps, 1.0)
    ax = fig.add_subplot(grid[1, :])
    ax.plot(x, loss, "-", color="C0", lw=1.2, label="population loss L")
    ax.plot(x, train, "--", color="C1", lw=1.0, label="training loss L_n")
    for p in run.get("plateaus", []):
        lo, hi = max(p["first_step"], 1), max(p["last_step"], 1)
        ax.axvspan(lo, hi, color="0.85", zorder=0)
        tag = p["label"] if p.get("label") is not None else f"{p['live_columns']} live"
        ax.text(np.sqrt(lo * hi), p["train_loss"] or p["loss"] or 1.0, tag, fontsize=7, ha="center", va="bottom")
    for k in snaps:
        ax.axvline(x[k], color="0.5", ls=":", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylabel("loss")
    ax.legend(fontsize=7, loc="lower left")
    ax2 = fig.add_subplot(grid[2, :], sharex=ax)
    entries = run.get("llc", [])
    fin = [e for e in entries if e["llc"] is not None]
    nan = [e for e in entries if e["llc"] is None]
    if fin:
        ax2.errorbar([max(e["step"], 1) for e in fin], [e["llc"] for e in fin],
                     yerr=[e["llc_se"] or 0.0 for e in fin], fmt="o-", ms=3, lw=0.8, capsize=2, color="C2",
                     label=f"calibrated SGLD LLC ({len(fin)} estimates)")
    if nan:
        reasons = [(e.get("reason") or "").split(":")[0] for e in nan]
        common = max(set(reasons), key=reasons.count)
        ax2.plot([max(e["step"], 1) for e in nan], [0.0] * len(nan), "x", color="C3",
                 label=f"NaN: {len(nan)} ({common[:60]})")
    excluded = sum(len(e.get("excluded", [])) for e in fin)
    chains = sum(len(e.get("chain_llc", [])) for e in fin)
    ax2.set_title(f"LLC along training (calibrated SGLD); finite estimates: {excluded} of {chains} chains excluded "
                  "by the estimator, never averaged in", fontsize=8)
    ax2.axhline(0.0, color="0.6", lw=0.6)
    ax2.set_xlabel("SGD step")
    ax2.set_ylabel("LLC")
    if fin or nan:
        ax2.legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
