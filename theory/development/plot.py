"""Figures of the developmental analysis (docs/development.md): LLC curves with milestones over the
catalogue plateau bands, essential-dynamics PC plots with osculating circles and forms, and the
weight-covariance spectrum over training. Each function writes PNG and PDF next to ``path``."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_covariance_spectrum", "plot_essential_dynamics", "plot_llc_stages"]

_COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def _save(fig, path) -> list[Path]:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stem = path.with_suffix("")
    out = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for p in out:
        fig.savefig(p, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return out


def plot_llc_stages(evaluation, result, path, *, runs=None) -> list[Path]:
    """Loss and LLC (raw estimates, GP-smoothed curve) against step for a few runs, with the catalogue
    plateaus as shaded bands (labelled), the transitions (dashed) and the LLC milestones (red lines).

    ``runs``: run indices (default: the runs with transitions, then others, at most 4)."""
    R = len(evaluation.runs)
    if runs is None:
        have = [i for i in range(R) if evaluation.stages[i] is not None]
        with_tr = [i for i in have if evaluation.runs[i]["transitions"]]
        runs = (with_tr + [i for i in have if i not in with_tr])[:4]
    if not runs:
        raise ValueError("no run has an LLC curve to plot.")
    runs = list(runs)
    fig, axes = plt.subplots(2, len(runs), figsize=(4.2 * len(runs), 6), sharex=True, squeeze=False)
    steps = np.asarray(result.steps)
    for col, i in enumerate(runs):
        run = evaluation.runs[i]
        sa = evaluation.stages[i]
        axl, axc = axes[0, col], axes[1, col]
        m = steps >= 1
        axl.plot(steps[m], result.train_loss[i][m], color="k", lw=1.2, label="$L_n$")
        axc.plot(steps[m], sa.llc[m], ".", color="0.55", ms=3, label="SGLD estimate")
        axc.plot(steps[sa.used], sa.curve.smooth, color=_COLORS[0], lw=2, label="GP smoothing")
        for a in (axl, axc):
            for n_, (t0, t1, lab) in enumerate(run["plateaus"]):
                a.axvspan(max(t0, 1), t1, color=_COLORS[(n_ % 4) + 2], alpha=0.15, lw=0)
            for t in run["transitions"]:
                a.axvline(t, color="k", ls="--", lw=0.8)
            for s in run["llc_milestones"]:
                a.axvline(s, color="tab:red", lw=1.0, alpha=0.8)
            a.set_xscale("log")
        for t0, t1, lab in run["plateaus"]:
            if np.log10(max(t1, 1)) - np.log10(max(t0, 1)) > 0.3:
                axl.text(np.sqrt(max(t0, 1) * t1), 0.98, lab, transform=axl.get_xaxis_transform(), ha="center",
                         va="top", fontsize=9)
        for st in sa.stages:
            mid = np.sqrt(max(st.first_step, 1) * st.last_step)
            axc.text(mid, 0.03, st.type, transform=axc.get_xaxis_transform(), ha="center", fontsize=8,
                     color="tab:red")
        axl.set_yscale("log")
        axl.set_title(f"seed {run['seed']}: {len(run['llc_milestones'])} milestones")
        axc.set_xlabel("SGD step")
        if col == 0:
            axl.set_ylabel("training loss $L_n$")
            axc.set_ylabel(r"LLC $\hat\lambda$ (paper setting)")
            axc.legend(fontsize=8, loc="upper left")
    fig.suptitle("LLC stage detection: milestones (red) vs catalogue plateaus (bands) and transitions (dashed)")
    fig.tight_layout()
    return _save(fig, path)


def plot_essential_dynamics(ed, path, *, title: str = "", circles: int = 6) -> list[Path]:
    """The smoothed developmental trajectory in every pair of the top PCs (colour = log10 t; raw scores
    as grey dots), osculating circles at up to ``circles`` vertices per pair, the evolute near them,
    cusps (triangles) and forms (stars, at the lifted point), and the form potentials over time."""
    pairs = list(ed.pairs)
    fig, axes = plt.subplots(1, len(pairs) + 1, figsize=(4.2 * (len(pairs) + 1), 4.2))
    for ax, (i, j) in zip(axes, pairs):
        cf = ed.pairs[(i, j)]
        ax.plot(ed.scores[:, i], ed.scores[:, j], ".", color="0.7", ms=3)
        sc = ax.scatter(cf.xy[:, 0], cf.xy[:, 1], c=cf.s, s=3, cmap="viridis")
        span = np.ptp(cf.xy, axis=0).max() or 1.0
        vs = cf.vertices
        if vs.size > circles:
            vs = vs[np.argsort(-np.abs(cf.curvature[vs]))[:circles]]
        for k in vs:
            rad = 1.0 / abs(cf.curvature[k])
            if rad < 2 * span:
                ax.add_patch(plt.Circle(cf.evolute[k], rad, fill=False, color="tab:orange", lw=0.8, alpha=0.8))
                ax.plot(*cf.evolute[k], "+", color="tab:orange", ms=5)
        ax.plot(cf.xy[cf.cusps, 0], cf.xy[cf.cusps, 1], "^", color="tab:red", ms=7, label="cusp")
        for f in ed.forms:
            ax.plot(f.point[i], f.point[j], "*", color="tab:red", ms=11, mec="k", mew=0.5)
        lo, hi = cf.xy.min(0), cf.xy.max(0)
        pad = 0.15 * (hi - lo + 1e-12)
        ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
        ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
        ax.set_xlabel(f"PC{i + 1} ({100 * ed.explained[i]:.1f}%)")
        ax.set_ylabel(f"PC{j + 1} ({100 * ed.explained[j]:.1f}%)")
    fig.colorbar(sc, ax=axes[len(pairs) - 1], label="log10 step")
    axp = axes[-1]
    steps = np.asarray(ed.steps)
    for f_, form in enumerate(ed.forms[:8]):
        axp.plot(steps[ed.used], ed.form_potential[f_, ed.used], lw=1, label=f"form @ {form.step}")
    axp.set_xscale("log")
    axp.set_yscale("log")
    axp.set_xlabel("SGD step")
    axp.set_ylabel("form potential $\\|f(t) - f^*\\|^2$")
    if ed.forms:
        axp.legend(fontsize=7)
    fig.suptitle(title or f"Essential dynamics: {len(ed.forms)} forms (stars), osculating circles at vertices")
    fig.tight_layout()
    return _save(fig, path)


def plot_covariance_spectrum(cov, path, *, transitions=(), title: str = "") -> list[Path]:
    """Top-k eigenvalues of the across-run weight covariance over training (log-log), the jump statistic,
    detected jumps (red) and the catalogue transition steps (dashed); and the top eigenvector at each
    jump as its squared loading per feature column."""
    steps = np.asarray(cov.steps)
    m = steps >= 1
    nj = max(1, len(cov.jumps))
    fig, axes = plt.subplots(1, 2 + nj, figsize=(5 * 2 + 2.6 * nj, 4),
                             gridspec_kw={"width_ratios": [3, 2] + [1] * nj})
    ax = axes[0]
    for j in range(cov.eigenvalues.shape[1]):
        ax.plot(steps[m], cov.eigenvalues[m, j], lw=1.5, label=f"$\\lambda_{j + 1}$")
    ax2 = axes[1]
    ax2.plot(steps[m], cov.statistic[m], color="k", lw=1)
    ax2.axhline(cov.config["jump_threshold"], color="0.5", ls=":")
    for a in (ax, ax2):
        for t in transitions:
            a.axvline(t, color="k", ls="--", lw=0.8)
        for s in cov.jump_steps:
            a.axvline(s, color="tab:red", lw=1.2, alpha=0.8)
        a.set_xscale("log")
        a.set_xlabel("SGD step")
    ax.set_yscale("log")
    ax.set_ylabel("covariance eigenvalue")
    ax.legend(fontsize=8)
    ax.set_title(f"{cov.config['runs']} runs, {'aligned' if cov.config['aligned'] else 'not aligned'}")
    ax2.set_ylabel(r"jump statistic $\Delta$ (decades)")
    c = cov.loadings.shape[2]
    for n_, (k, a) in enumerate(zip(cov.jumps, axes[2:])):
        a.bar(np.arange(1, c + 1), cov.loadings[k, 0])
        a.set_xticks(np.arange(1, c + 1))
        a.set_xlabel("feature column")
        a.set_title(f"top eigenvector @ {int(steps[k])}", fontsize=9)
    if not len(cov.jumps):
        axes[2].axis("off")
    fig.suptitle(title or "Weight-covariance spectrum across runs: jumps (red) vs transitions (dashed)")
    fig.tight_layout()
    return _save(fig, path)
