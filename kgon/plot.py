"""Figures of the critical-point catalogue (matplotlib; the compute modules never import it).

- :func:`energy_levels` - the energy-level diagram: one horizontal bar per critical point at its
  loss, labelled by name; minima solid, saddles dashed.
- :func:`loss_vs_llc` - loss against the LLC lambda (error bars), labelled by name.
- :func:`draw_point` - a polygon drawing of one point: the columns of W as vectors from the origin
  (r = 2; the first two principal directions for r > 2), the biases as bars.
- :func:`plot_catalogue` - the first two side by side, written to a file.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

__all__ = ["energy_levels", "loss_vs_llc", "draw_point", "plot_catalogue"]


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def energy_levels(catalogue, *, ax=None, max_points: int | None = None):
    """Energy-level diagram of a catalogue. Returns the matplotlib Axes."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 7))
    pts = list(catalogue.points)[:max_points]
    for i, p in enumerate(pts):
        x0 = (i % 3) * 1.1
        style = "-" if p.hessian_signature[0] == 0 else "--"
        ax.hlines(p.loss, x0, x0 + 0.9, linestyles=style, colors="C0" if p.k else "C7")
        text = p.label if not p.label.startswith("irregular") else p.label.replace("irregular-", "irr-")
        ax.text(x0 + 0.92, p.loss, text, va="center", fontsize=6)
    ax.set_xlim(-0.1, 3.9)
    ax.set_xticks([])
    ax.set_ylabel("loss L(w*)")
    ax.set_title(f"critical points, c = {catalogue.c}, r = {catalogue.r}\n(solid: minima, dashed: saddles)",
                 fontsize=8)
    return ax


def loss_vs_llc(catalogue, *, ax=None, named_only: bool = False):
    """Loss against LLC lambda with error bars. Returns the matplotlib Axes."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    for p in catalogue.points:
        if not math.isfinite(p.llc) or (named_only and p.k is None):
            continue
        minimum = p.hessian_signature[0] == 0
        ax.errorbar(
            p.llc,
            p.loss,
            xerr=p.llc_err if math.isfinite(p.llc_err) else 0.0,
            fmt="o" if minimum else "x",
            color="C0" if p.k else "C7",
            ms=4,
        )
        if p.k is not None:
            ax.annotate(p.label, (p.llc, p.loss), fontsize=7, xytext=(3, 2), textcoords="offset points")
    ax.set_xlabel("local learning coefficient lambda")
    ax.set_ylabel("loss L(w*)")
    ax.set_title("loss vs LLC (o: minima, x: saddles, grey: irregular)", fontsize=8)
    return ax


def draw_point(point, *, ax=None):
    """Polygon drawing of a critical point: columns of W as vectors, biases as bars."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(8, 4), gridspec_kw={"width_ratios": [1, 1]})
    ax_w, ax_b = ax
    W = np.asarray(point.W, dtype=np.float64)
    b = np.asarray(point.b, dtype=np.float64)
    r, c = W.shape
    if r == 1:
        Z = np.vstack([W, np.zeros((1, c))])
    elif r == 2:
        Z = W
    else:
        U = np.linalg.svd(W, full_matrices=False)[0][:, :2]
        Z = U.T @ W
    lim = max(1.0, float(np.abs(Z).max()) * 1.2)
    for i in range(c):
        ax_w.annotate("", xy=(Z[0, i], Z[1, i]), xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=f"C{i % 10}"))
        ax_w.text(Z[0, i] * 1.08, Z[1, i] * 1.08, str(i), fontsize=8, color=f"C{i % 10}")
    ax_w.add_patch(plt.Circle((0, 0), 1.0, fill=False, ls=":", color="0.7"))
    ax_w.set_xlim(-lim, lim)
    ax_w.set_ylim(-lim, lim)
    ax_w.set_aspect("equal")
    ax_w.set_title(f"{point.label}: columns of W (loss {point.loss:.5f})", fontsize=8)
    ax_b.bar(np.arange(c), b, color=[f"C{i % 10}" for i in range(c)])
    ax_b.axhline(0, color="k", lw=0.5)
    ax_b.set_xticks(np.arange(c))
    ax_b.set_xlabel("feature")
    ax_b.set_title("biases b", fontsize=8)
    return ax


def plot_catalogue(catalogue, path) -> Path:
    """Energy-level diagram and loss-vs-LLC scatter side by side, saved to ``path`` (PNG/PDF/...)."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 6))
    energy_levels(catalogue, ax=a1)
    loss_vs_llc(catalogue, ax=a2)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
