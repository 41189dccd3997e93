"""Figures of SGD trajectories and SGLD LLC estimates (matplotlib; compute modules never import it).

- :func:`plot_run` - one run: training loss vs step (log x) with its catalogue plateaus shaded and
  labelled, the SGLD LLC at checkpoints on a second axis ("opposing staircases"), and polygon
  snapshots (columns of W) of each plateau.
- :func:`plot_runs` - several runs, one panel each, saved to a file.
- :func:`plot_llc_traces` - diagnostics of one LLC estimate: n beta (L(w_t) - L*) per chain, chain
  values with the excluded chains marked, and the MALA acceptance.

Polygon snapshots are :func:`kgon.plot.draw_polygon`; files are written by :func:`kgon.plot.save_figure`
(PNG + PDF).

The loss-vs-LLC diagram with the SGD transitions is :func:`theory.plot.plot_loss_complexity`
(``sgd_transitions=analysis.transition_counts()``).
"""

from __future__ import annotations

import textwrap

import numpy as np

from kgon.plot import draw_polygon, save_or_return

__all__ = ["plot_general_study", "plot_llc_calibration", "plot_llc_traces", "plot_run", "plot_runs"]


def _plt():
    import matplotlib.pyplot as plt  # deferred: matplotlib loads only when a figure is drawn

    return plt


def plot_run(result, analysis=None, llc=None, *, run: int = 0, snapshots: bool = True, fig=None, ax=None):
    """Loss (and LLC) vs step for one run, with plateaus and snapshots. Returns the loss Axes.

    With ``snapshots`` (and no ``ax`` given) the figure (or subfigure) ``fig`` gets a strip of polygon
    drawings, one per plateau, above the loss panel.
    """
    plt = _plt()
    plats = [p for p in analysis.plateaus if p.run == run] if analysis is not None else []
    snap_axes = []
    if ax is None:
        if fig is None:
            fig = plt.figure(figsize=(9, 5.2))
        if snapshots and plats:
            k = max(len(plats), 6)
            gs = fig.add_gridspec(2, k, height_ratios=[1, 3.2], hspace=0.35)
            snap_axes = [fig.add_subplot(gs[0, j]) for j in range(len(plats))]
            ax = fig.add_subplot(gs[1, :])
        else:
            ax = fig.add_subplot(1, 1, 1)
    t = np.asarray(result.steps) + 1
    ax.plot(t, result.train_loss[run], color="k", lw=1.2, label="training loss $L_n$")
    ax.plot(t, result.loss[run], color="0.5", lw=0.8, ls=":", label="population loss $L$")
    ax.set_xscale("log")
    ax.set_xlabel("SGD step + 1")
    ax.set_ylabel("loss")
    for j, p in enumerate(plats):
        ax.axvspan(p.first_step + 1, p.last_step + 1, color=f"C{j % 10}", alpha=0.12, lw=0)
        xm = np.sqrt((p.first_step + 1) * (p.last_step + 1))
        ax.annotate(p.label, (xm, p.loss), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7,
                    color=f"C{j % 10}")
    if llc is not None:
        ax2 = ax.twinx()
        mask = llc.computed[run] & np.isfinite(llc.llc[run])
        ax2.errorbar(t[mask], llc.llc[run][mask], yerr=np.nan_to_num(llc.llc_se[run][mask]), fmt="o", ms=3,
                     color="tab:green", lw=0.8, label=r"SGLD $\hat\lambda$")
        bad = llc.computed[run] & ~np.isfinite(llc.llc[run])
        if bad.any():
            ymin = np.nanmin(llc.llc[run]) if mask.any() else 0.0
            ax2.plot(t[bad], np.full(bad.sum(), ymin), "x", color="tab:red", ms=4, label="all chains excluded")
        ax2.set_ylabel(r"LLC $\hat\lambda$", color="tab:green")
        ax2.legend(loc="upper right", fontsize=7)
    ax.legend(loc="lower left", fontsize=7)
    ax.set_title(f"SGD run {run} (seed {result.seeds[run]})", fontsize=9)
    for j, (p, sa) in enumerate(zip(plats, snap_axes)):
        mid = (p.start + p.end - 1) // 2
        draw_polygon(sa, result.W[run, mid], result.b[run, mid], title=f"{p.label}\nstep {result.steps[mid]}")
        sa.title.set_fontsize(6)
        for side in sa.spines.values():
            side.set_color(f"C{j % 10}")
    return ax


def plot_runs(result, analysis=None, llc=None, path=None, *, runs=None, snapshots: bool = True):
    """One :func:`plot_run` panel per run (default: up to 6 runs, those with transitions first).

    With ``path`` the figure is saved as PNG + PDF (:func:`kgon.plot.save_figure`), closed, and the
    written paths are returned; otherwise the figure is returned."""
    plt = _plt()
    if runs is None:
        R = result.train_loss.shape[0]
        moving = sorted({t.run for t in analysis.transitions}) if analysis is not None else []
        runs = (moving + [i for i in range(R) if i not in moving])[:6]
    runs = list(runs)
    fig = plt.figure(figsize=(9, 5.2 * len(runs)))
    subs = fig.subfigures(len(runs), 1) if len(runs) > 1 else [fig]
    for sub, i in zip(subs, runs):
        plot_run(result, analysis, llc, run=i, snapshots=snapshots, fig=sub)
    return save_or_return(fig, path, dpi=110)


def plot_llc_traces(res, path=None, *, theory: float | None = None):
    """Diagnostics figure of an :class:`sampling.LLCResult`.

    With ``path`` it is saved as PNG + PDF and the written paths are returned; otherwise the figure."""
    plt = _plt()
    nbeta = res.config.nbeta
    burnin = res.config.burnin
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(13, 3.8))
    excluded = {c for c, _ in res.diagnostics.excluded}
    for c in range(res.loss_trace.shape[0]):
        a1.plot(nbeta * (res.loss_trace[c] - res.loss_star), lw=0.5, color="tab:red" if c in excluded else f"C{c % 10}")
    a1.axvline(burnin, color="k", ls=":", lw=0.8)
    a1.axhline(0, color="k", lw=0.5)
    a1.set_xlabel("SGLD step")
    a1.set_ylabel(r"$n\beta\,(L_n(w_t) - L_n(w^*))$")
    a1.set_title("loss traces (red: excluded chains)", fontsize=8)
    x = np.arange(res.chain_llc.size)
    a2.bar(x, res.chain_llc, color=["tab:red" if c in excluded else "C0" for c in x])
    a2.axhline(res.llc, color="k", lw=1, label=f"estimate {res.llc:.3f} ± {res.llc_se:.3f}")
    if theory is not None:
        a2.axhline(theory, color="tab:green", ls="--", lw=1, label=f"theory {theory:g}")
    a2.set_xlabel("chain")
    a2.set_ylabel(r"$\hat\lambda_c$")
    a2.legend(fontsize=7)
    a3.plot(res.acceptance_trace.mean(axis=0), lw=0.6)
    a3.set_ylim(0, 1.02)
    a3.set_xlabel("SGLD step")
    a3.set_ylabel("MALA acceptance (mean over chains)")
    a3.set_title(f"mean acceptance after burn-in {res.diagnostics.acceptance_mean:.3f}", fontsize=8)
    fig.tight_layout()
    return save_or_return(fig, path, dpi=110)


def plot_general_study(results: dict, path=None):
    """Loss curves and final weights of SGD studies of the general TMS (docs/general.md).

    ``results`` maps a label to an :class:`sampling.SGDResult`. Left: the population loss of every run
    against the step (log x; a configuration's runs share a colour). Right: the final W of the run with
    the lowest final loss of each configuration (:func:`kgon.plot.draw_polygon`; r > 2 projected onto
    its first two singular directions). Returns the figure, or the written paths when ``path`` is given.
    """
    plt = _plt()
    k = len(results)
    fig = plt.figure(figsize=(4.2 + 2.1 * k, 5.4))
    grid = fig.add_gridspec(2, k + 2)
    ax = fig.add_subplot(grid[:, :2])
    for i, (label, res) in enumerate(results.items()):
        steps = np.maximum(res.steps, 1)
        for run in range(res.runs):
            ax.plot(steps, res.loss[run], color=f"C{i % 10}", lw=0.8, alpha=0.8, label=label if run == 0 else None)
        best = int(np.nanargmin(res.loss[:, -1]))
        sub = fig.add_subplot(grid[i % 2, 2 + i // 2]) if k > 4 else fig.add_subplot(grid[:, 2 + i])
        draw_polygon(sub, res.W[best, -1], title=f"{label}\nL = {res.loss[best, -1]:.4f}", numbers=True)
        sub.title.set_fontsize(7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("SGD step")
    ax.set_ylabel("population loss")
    ax.legend(fontsize=7)
    ax.set_title("loss curves (one line per run)", fontsize=9)
    fig.tight_layout()
    return save_or_return(fig, path, dpi=110)


def plot_llc_calibration(res, path=None, *, theory: float | None = None):
    """Estimate vs step size of a calibrated :class:`sampling.LLCResult` (``res.calibration``;
    docs/llc.md): each sweep setting's estimate ± standard error (filled: passed the checks; open:
    failed), the chosen step, the final plain estimate there, the two-temperature estimate (the one
    reported as ``llc`` by default with calibration, docs/llc.md §4) and, if given, the theoretical value;
    right: the MALA acceptance per step with the threshold.

    With ``path`` it is saved as PNG + PDF and the written paths are returned; otherwise the figure."""
    plt = _plt()
    cal = res.calibration
    if cal is None:
        raise ValueError("`res` has no calibration sweep (estimate it with calibrate=True).")
    nbeta = res.config.nbeta
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for j, g in enumerate(sorted({s.gamma for s in cal.settings})):
        ss = sorted((s for s in cal.settings if s.gamma == g), key=lambda s: s.eps)
        x = np.array([s.eps * nbeta for s in ss])
        y = np.array([s.llc for s in ss])
        e = np.array([s.llc_se if np.isfinite(s.llc_se) else 0.0 for s in ss])
        col = f"C{j}"
        a1.errorbar(x, y, yerr=e, color=col, lw=0.8, capsize=2, label=f"sweep, gamma = {g:g}")
        ok = np.array([s.passes and s.on_plateau for s in ss])
        a1.scatter(x[ok], y[ok], color=col, zorder=3, s=25)
        a1.scatter(x[~ok], y[~ok], facecolors="white", edgecolors=col, zorder=3, s=25)
        a2.plot(x, [s.acceptance for s in ss], "o-", color=col, ms=3, lw=0.8, label=f"gamma = {g:g}")
    if cal.chosen is not None:
        a1.axvline(cal.eps * nbeta, color="k", ls=":", lw=0.8, label=f"chosen eps n beta = {cal.eps * nbeta:.3g}")
        plain, plain_se = getattr(res, "llc_plain", res.llc), getattr(res, "llc_plain_se", res.llc_se)
        a1.errorbar([cal.eps * nbeta], [plain], yerr=[plain_se], fmt="s", color="k", ms=5,
                    label=f"final plain estimate {plain:.3f} ± {plain_se:.3f}")
        if getattr(res, "estimator", "plain") == "two_temperature" and np.isfinite(res.llc):
            a1.errorbar([cal.eps * nbeta], [res.llc], yerr=[res.llc_se], fmt="*", color="tab:red", ms=9,
                        label=f"two-temperature estimate (reported) {res.llc:.3f} ± {res.llc_se:.3f}")
    if theory is not None:
        a1.axhline(theory, color="tab:green", ls="--", lw=1, label=f"theory {theory:g}")
    a1.set_xscale("log")
    a1.set_xlabel(r"step size $\epsilon\, n\beta$")
    a1.set_ylabel(r"$\hat\lambda$ (sweep: short chains)")
    title = ("chosen: " if cal.chosen is not None else "no valid step: ") + cal.reason
    a1.set_title("\n".join(textwrap.wrap(title[:400], 95)), fontsize=6.5)
    a1.legend(fontsize=7)
    a2.axhline(cal.min_acceptance, color="tab:red", ls="--", lw=0.8, label=f"threshold {cal.min_acceptance:g}")
    a2.set_xscale("log")
    a2.set_ylim(0, 1.02)
    a2.set_xlabel(r"step size $\epsilon\, n\beta$")
    a2.set_ylabel("mean MALA acceptance")
    a2.legend(fontsize=7)
    fig.tight_layout()
    return save_or_return(fig, path, dpi=110)
