"""Figures of the posterior's thermodynamics (matplotlib; every function takes ``ax=None`` and returns the axes).

- :func:`plot_specific_heat`: C(n) = Var_post(n L_n) over n (points with bootstrap error bars), the
  variance within the largest phases (lines), the specific-heat peak with its interval (solid line,
  band) and the occupancy crossing with its interval (dashed line, hatched band)
  (:func:`theory.specific_heat_transition`; docs/sampling.md, "Thermodynamics of the posterior").
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_specific_heat"]


def plot_specific_heat(rows: Sequence[dict], transition=None, *, phases: Sequence[str] = ("5", "6"), ax=None,
                       label: str = "C(n) = Var(n L_n)"):
    """C(n) from the rows of ``tmsphase thermo --json`` (or a campaign): ``n``, ``nL_var``, optional
    ``nL_var_err`` and ``nL_by_phase`` (label -> [draws, mean, var]); ``transition`` a
    :class:`theory.HeatTransition` of the same rows."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    rows = sorted(rows, key=lambda r: r["n"])
    ns = np.array([r["n"] for r in rows], dtype=float)
    c = np.array([r["nL_var"] for r in rows], dtype=float)
    err = np.array([r.get("nL_var_err") or 0.0 for r in rows], dtype=float)
    ax.errorbar(ns, c, yerr=err, fmt="o", color="k", capsize=2, label=label)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, p in enumerate(phases):
        pts = [(r["n"], r["nL_by_phase"][p][2]) for r in rows
               if p in r.get("nL_by_phase", {}) and r["nL_by_phase"][p][2] is not None]
        if pts:
            x, y = zip(*pts)
            ax.plot(x, y, "-", color=colors[k % len(colors)], alpha=0.8, label=f"within {p}")
    if transition is not None:
        pk, cr = transition.peak, transition.crossing
        if pk.n is not None:
            ax.axvline(pk.n, color="C3", lw=1.5, label=f"C(n) peak {pk.n:.0f}")
            if pk.ci_low is not None:
                ax.axvspan(pk.ci_low, pk.ci_high, color="C3", alpha=0.12)
        if cr is not None and cr.n is not None:
            ax.axvline(cr.n, color="C0", ls="--", lw=1.5, label=f"occupancy crossing {cr.n:.0f}")
            if cr.ci_low is not None:
                ax.axvspan(cr.ci_low, cr.ci_high, color="C0", alpha=0.08, hatch="//")
    ax.set_xscale("log")
    ax.set_xlabel("n")
    ax.set_ylabel("Var_post(n L_n)")
    ax.legend(fontsize=8)
    return ax
