"""Figures of critical points (matplotlib; the compute modules never import it).

The one implementation of each drawing the three packages share (``sampling.plot`` and
``theory.plot`` call these):

- :func:`save_figure` - write a figure as PNG and PDF next to each other; :func:`save_or_return` the
  common ending of figure functions (save and close with a path, return the figure without).
- :func:`draw_polygon` - the polygon picture of one parameter W: the columns of W as arrows from the
  origin (r = 2; the first two principal directions for r > 2), dead columns omitted, the unit
  circle dotted.
- :func:`draw_point` - :func:`draw_polygon` of a critical point plus its biases as bars.
- :func:`plot_polygons` - :func:`draw_point` for several points side by side, saved as PNG + PDF.
- :func:`energy_levels` - the energy-level diagram: one horizontal bar per critical point at its
  loss, placed at its LLC lambda on the x axis and labelled by name; minima solid, saddles dashed.
- :func:`loss_vs_llc` - loss against the LLC lambda (error bars), labelled by name.
- :func:`plot_catalogue` - the last two side by side, saved as PNG + PDF.
- :func:`plot_memorization` - the zero-loss T-gons of the point-input potential and trained hidden
  vectors of the memorization setting against them (docs/failure.md, Memorization).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

__all__ = [
    "draw_point",
    "draw_polygon",
    "energy_levels",
    "loss_vs_llc",
    "plot_catalogue",
    "plot_memorization",
    "plot_polygons",
    "save_figure",
    "save_or_return",
]


def _plt():
    import matplotlib.pyplot as plt  # deferred: pyplot's start-up only when a figure is drawn (kgon.plot's helpers)

    return plt


def save_figure(fig, path, *, dpi: int = 130) -> list[str]:
    """Save ``fig`` as PNG and PDF next to each other and return the two paths.

    ``path`` may end in ``.png``, ``.pdf`` or have no suffix: ``figs/occ.png`` writes ``figs/occ.png``
    and ``figs/occ.pdf``. Any other suffix (``.svg``) is written as given, alone. Missing folders are
    created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in ("", ".png", ".pdf"):
        targets = [path.with_suffix(".png"), path.with_suffix(".pdf")]
    else:
        targets = [path]
    for p in targets:
        fig.savefig(p, dpi=dpi, bbox_inches="tight")
    return [str(p) for p in targets]


def save_or_return(fig, path=None, *, dpi: int = 130):
    """The ending of every figure function: with ``path``, :func:`save_figure` (PNG + PDF), close the
    figure and return the written paths; without, return the figure."""
    if path is None:
        return fig
    out = save_figure(fig, path, dpi=dpi)
    _plt().close(fig)
    return out


def draw_polygon(ax, W, b=None, *, title: str | None = None, numbers: bool = False, dead_tol: float = 1e-6):
    """Draw the columns of W as a polygon on ``ax``; returns ``ax``.

    Columns W_i with |W_i| > ``dead_tol`` are arrows from the origin in colour ``C{i}`` (the colour of
    feature i in :func:`draw_point`'s bias bars); dead columns are omitted. For r > 2 the plane is
    spanned by the first two left singular vectors of W; r = 1 is drawn on the x axis. ``numbers``
    writes the feature index at each tip. ``b`` is accepted for symmetry with (W, b) and not drawn.
    """
    plt = _plt()
    W = np.asarray(W, dtype=np.float64)
    r, c = W.shape
    if r == 1:
        Z = np.vstack([W, np.zeros((1, c))])
    elif r == 2:
        Z = W
    else:
        Z = np.linalg.svd(W, full_matrices=False)[0][:, :2].T @ W
    lim = max(1.0, float(np.abs(Z).max()) * 1.2)
    ax.add_patch(plt.Circle((0, 0), 1.0, fill=False, ls=":", color="0.7", lw=0.8))
    for i in range(c):
        if np.hypot(Z[0, i], Z[1, i]) <= dead_tol:
            continue
        color = f"C{i % 10}"
        ax.annotate(
            "", xy=(Z[0, i], Z[1, i]), xytext=(0, 0),
            arrowprops=dict(arrowstyle="-|>", color=color, lw=1.3, shrinkA=0, shrinkB=0),
        )
        if numbers:
            ax.text(Z[0, i] * 1.1, Z[1, i] * 1.1, str(i), fontsize=7, color=color, ha="center", va="center")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)
    return ax


def draw_point(point, *, ax=None):
    """A critical point: :func:`draw_polygon` of its W (left) and its biases as bars (right).

    ``ax`` is a pair of Axes (default: a new 1 x 2 figure). Returns the pair.
    """
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(7, 3.4))
    ax_w, ax_b = ax
    b = np.asarray(point.b, dtype=np.float64)
    label = getattr(point, "label", None) or getattr(point, "name", "")
    draw_polygon(ax_w, point.W, b, numbers=True, title=f"{label}: loss {point.loss:.5f}")
    c = b.size
    ax_b.bar(np.arange(c), b, color=[f"C{i % 10}" for i in range(c)])
    ax_b.axhline(0, color="k", lw=0.5)
    ax_b.set_xticks(np.arange(c))
    ax_b.set_xlabel("feature i")
    ax_b.set_ylabel("bias b_i")
    ax_b.set_title("biases", fontsize=8)
    return ax


def plot_polygons(points, path=None, *, title: str | None = None):
    """:func:`draw_point` of each point side by side (polygon above, biases below).

    Saved as PNG + PDF with :func:`save_figure` when ``path`` is given (the figure is then closed and
    the written paths are returned); otherwise returns the figure.
    """
    plt = _plt()
    points = list(points)
    if not points:
        raise ValueError("`points` must contain at least one critical point; got none.")
    m = len(points)
    fig, axes = plt.subplots(2, m, figsize=(2.8 * m + 0.4, 5.4), height_ratios=[2.2, 1], squeeze=False)
    for j, p in enumerate(points):
        draw_point(p, ax=(axes[0, j], axes[1, j]))
        if j:
            axes[1, j].set_ylabel("")
    lo = min(float(np.min(p.b)) for p in points)
    hi = max(float(np.max(p.b)) for p in points)
    pad = 0.1 * max(hi - lo, 1e-3)
    for j in range(m):
        axes[1, j].set_ylim(min(lo, 0) - pad, max(hi, 0) + pad)
    fig.suptitle(title or "columns of W (arrows, unit circle dotted) and biases", fontsize=9)
    fig.tight_layout()
    return save_or_return(fig, path)


def _points(catalogue):
    return list(getattr(catalogue, "points", catalogue))


def _label(p) -> str:
    lab = str(getattr(p, "label", None) or getattr(p, "name", ""))
    return lab.replace("irregular-", "irr-")


def energy_levels(catalogue, *, ax=None, max_points: int | None = None):
    """Energy-level diagram: a bar at each point's loss, at its LLC on the x axis. Returns the Axes.

    ``catalogue`` is a ``kgon.Catalogue`` or any sequence of objects with ``label`` (or ``name``),
    ``loss`` and ``llc`` (e.g. ``theory.phases_of(...)``); points whose LLC is unknown go to a column at
    the right marked "λ n/a". Saddles (``hessian_signature[0] > 0``) are dashed and grey, minima solid.
    Labels of nearby levels alternate sides so that they do not overlap.
    """
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5))
    pts = sorted(_points(catalogue), key=lambda p: p.loss)[:max_points]
    finite = [float(p.llc) for p in pts if getattr(p, "llc", None) is not None and math.isfinite(p.llc)]
    x_na = (max(finite) if finite else 0.0) + 2.0
    has_na = len(finite) < len(pts)
    x_lo = min(finite) if finite else 0.0
    half = 0.035 * max((x_na if has_na else max(finite, default=1.0)) - x_lo, 1.0)  # bar half-width
    span = max(pts[-1].loss - pts[0].loss, 1e-9) if pts else 1.0
    last_y: dict[float, list[float]] = {}
    for p in pts:
        llc = getattr(p, "llc", None)
        x = float(llc) if llc is not None and math.isfinite(llc) else x_na
        sig = getattr(p, "hessian_signature", None)
        saddle = sig is not None and sig[0] > 0
        ax.hlines(p.loss, x - half, x + half, color="0.55" if saddle else "k", lw=2, linestyles="--" if saddle else "-")
        near = [y for y in last_y.get(x, []) if abs(y - p.loss) < 0.03 * span]
        left = len(near) % 2 == 1
        ax.annotate(_label(p), (x - 1.1 * half if left else x + 1.1 * half, p.loss), va="center",
                    ha="right" if left else "left", fontsize=7)
        last_y.setdefault(x, []).append(p.loss)
    if has_na and finite:
        ax.axvline(x_na - 1.0, color="0.85", lw=0.8)
        ax.annotate("λ n/a", (x_na, 1.0), xycoords=("data", "axes fraction"), ha="center", va="bottom", fontsize=7)
    ax.set_xlabel("local learning coefficient λ")
    ax.set_ylabel("loss L(w*)")
    ax.set_title("Energy levels of the critical points (solid: minima, dashed: saddles)", fontsize=9)
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
    ax.set_xlabel("local learning coefficient λ")
    ax.set_ylabel("loss L(w*)")
    ax.set_title("loss vs LLC (o: minima, x: saddles, grey: irregular)", fontsize=8)
    return ax


def plot_catalogue(catalogue, path) -> list[str]:
    """Energy-level diagram and loss-vs-LLC scatter side by side, saved as PNG + PDF (:func:`save_figure`)."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 6))
    energy_levels(catalogue, ax=a1)
    loss_vs_llc(catalogue, ax=a2)
    fig.suptitle(f"critical points, c = {catalogue.c}, r = {catalogue.r}", fontsize=10)
    fig.tight_layout()
    out = save_figure(fig, path)
    plt.close(fig)
    return out


def plot_memorization(tgons, trained, path=None):
    """Left: the zero-loss T-gons (columns of W, radius R_T); right: trained hidden vectors / R_T, one panel per T.

    Parameters
    ----------
    tgons : list of (T, W)
        ``W`` of shape (2, T), e.g. :func:`kgon.memorization_polygon`; drawn as closed polygons.
    trained : list of (T, H)
        Hidden vectors h_k = W x_k of T training examples (one run), shape (T, 2), already divided by R_T.
        Each run is rotated so that its first vector points along +x and drawn as dots (one marker per run)
        in the panel of its T, against the unit-radius regular T-gon (lines); at most 6 values of T.
    path : str or Path, optional
        Saved as PNG + PDF (:func:`save_figure`); without it the figure is returned.
    """
    plt = _plt()
    fig = plt.figure(figsize=(13, 5.2))
    grid = fig.add_gridspec(2, 5)
    ax0 = fig.add_subplot(grid[:, :2])
    cmap = plt.get_cmap("viridis")
    Ts = sorted({T for T, _ in tgons})
    for i, (T, W) in enumerate(sorted(tgons, key=lambda t: t[0])):
        W = np.asarray(W)
        ax0.plot(np.append(W[0], W[0, 0]), np.append(W[1], W[1, 0]), "-o", ms=3,
                 color=cmap(i / max(1, len(Ts) - 1)), label=f"T = {T}")
    ax0.set_title("zero-loss T-gons, R$^2$ = 1/(1 - cos 2$\\pi$/T)", fontsize=10)
    ax0.legend(fontsize=7, ncol=2, loc="upper right")
    ax0.set_aspect("equal")
    t_runs = sorted({T for T, _ in trained})[:6]
    markers = "osD^v<>"
    for j, T in enumerate(t_runs):
        ax = fig.add_subplot(grid[j // 3, 2 + j % 3])
        ang = 2 * np.pi * np.arange(T + 1) / T
        ax.plot(np.cos(ang), np.sin(ang), "-", lw=0.8, color="grey")
        runs = [np.asarray(H) for T2, H in trained if T2 == T]
        for m, H in enumerate(runs):
            rot = -math.atan2(H[0, 1], H[0, 0])
            R = np.array([[math.cos(rot), -math.sin(rot)], [math.sin(rot), math.cos(rot)]])
            Hr = H @ R.T
            ax.scatter(Hr[:, 0], Hr[:, 1], s=16, marker=markers[m % len(markers)], alpha=0.75, label=f"run {m}")
        ax.set_title(f"T = {T}: h$_k$ / R$_T$", fontsize=9)
        ax.set_xlim(-1.35, 1.35)
        ax.set_ylim(-1.35, 1.35)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
        if j == 0:
            ax.legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    return save_or_return(fig, path)
