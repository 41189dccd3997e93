"""Figures of the theory over data sets (:mod:`theory.over_data`): the predicted crossing distribution
with sampled streams marked, and the data-averaged occupancy with its band (docs/free_energy.md)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_crossing_distribution"]


def plot_crossing_distribution(od, *, observed: dict | None = None, leading: float | None = None):
    """Two panels: (left) the histogram of the streams' ``from -> to`` crossings of ``od`` (a
    :class:`theory.OverData`) with its mean and 10-90% band, the population-level refined crossing and
    ``observed`` (``{stream: crossing}``, the sampled posterior's) as marks; (right) the data-averaged
    occupancy of the two phases with its 10-90% band over the streams. Returns the figure."""
    # deferred: matplotlib only when a figure is drawn
    import matplotlib.pyplot as plt

    cd = od.crossing
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    fin = cd.crossings[np.isfinite(cd.crossings)]
    bins = np.geomspace(max(fin.min(), 50), fin.max(), 40) if fin.size else 10
    ax.hist(fin, bins=bins, color="0.75", edgecolor="0.5", density=True,
            label=f"predicted, {cd.streams} {cd.method} streams")
    ax.axvspan(cd.q10, cd.q90, color="tab:blue", alpha=0.12, label=f"10-90%: {cd.q10:.0f}-{cd.q90:.0f}")
    ax.axvline(cd.mean, color="tab:blue", lw=2, label=f"predicted mean {cd.mean:.0f}")
    if od.population_crossing is not None and np.isfinite(od.population_crossing):
        ax.axvline(od.population_crossing, color="tab:green", ls=":", lw=2,
                   label=f"population refined {od.population_crossing:.0f}")
    if leading is not None:
        ax.axvline(leading, color="tab:purple", ls="--", lw=1.5, label=f"leading order {leading:.0f}")
    if observed:
        obs = np.array([v for v in observed.values() if v is not None], float)
        top = ax.get_ylim()[1]
        ax.set_ylim(0, 1.6 * top)  # room for the legend above the histogram
        ax.plot(obs, np.full(obs.size, 1.0 * top), "v", color="tab:red", ms=8,
                label=f"sampled streams ({obs.size}), mean {obs.mean():.0f}")
        ax.axvline(obs.mean(), color="tab:red", lw=1, ls="-.")
    ax.set_xscale("log")
    ax.set_xlabel("n at the first crossing of P(%s) over P(%s)" % (cd.to_label, cd.from_label))
    ax.set_ylabel("density")
    ax.legend(fontsize=7.5, loc="upper right")
    ax.set_title(f"{cd.from_label} -> {cd.to_label} crossing over data sets (beta = {od.beta:g})", fontsize=10)
    for lab, col in ((cd.to_label, "tab:blue"), (cd.from_label, "tab:orange")):
        m, lo, hi = od.band(lab)
        bx.fill_between(od.ns, lo, hi, color=col, alpha=0.2)
        bx.plot(od.ns, m, color=col, label=f"P({lab}): mean and 10-90% over streams")
    bx.set_xscale("log")
    bx.set_xlabel("n")
    bx.set_ylabel("occupancy (conditional on %s)" % ", ".join(od.labels))
    bx.legend(fontsize=8)
    bx.set_title("data-averaged occupancy", fontsize=10)
    fig.tight_layout()
    return fig
