"""Figures of the optimization-failure analysis (docs/failure.md): observed end-point fractions against
the gradient-flow basins, the global minimum's share by c and optimizer, and the c = 7 free energies
beside the sampled posterior. Each function saves PNG + PDF with :func:`kgon.plot.save_or_return`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from kgon.plot import save_or_return

__all__ = ["plot_end_points", "plot_global_fraction", "plot_posterior_vs_theory"]


def plot_end_points(observed: dict, predicted: dict, path=None, *, observed_err: dict | None = None,
                    predicted_err: dict | None = None, title: str = "", max_labels: int = 10):
    """Bars of the observed (trained) and predicted (gradient-flow) fraction of each end-point label.

    ``observed``/``predicted``: ``{label: fraction}`` (e.g. :attr:`theory.failure.FailureResult.observed`);
    the ``max_labels`` largest of either are drawn, with one-standard-error bars where errors are given.
    """
    labels = sorted(set(observed) | set(predicted), key=lambda s: -max(observed.get(s, 0), predicted.get(s, 0)))
    labels = labels[:max_labels]
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(labels) + 1.5), 3.4))
    for off, frac, err, name in ((-0.2, observed, observed_err, "observed (trained)"),
                                 (0.2, predicted, predicted_err, "predicted (gradient flow)")):
        vals = [frac.get(lab, 0.0) for lab in labels]
        errs = None if err is None else [err.get(lab, 0.0) for lab in labels]
        ax.bar(x + off, vals, width=0.4, yerr=errs, capsize=2, label=name)
    ax.set_xticks(x, [lab.replace("irregular-", "irr-") for lab in labels], rotation=30, ha="right")
    ax.set_ylabel("fraction of runs")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_or_return(fig, path)


def plot_global_fraction(rows, path=None):
    """The global minimum's share against c: predicted (gradient flow) and observed per optimizer.

    ``rows``: dicts with keys ``c``, ``setting``, ``observed``, ``predicted``, ``observed_err``,
    ``predicted_err`` (one per (c, setting)).
    """
    rows = list(rows)
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    pred = {}
    for row in rows:
        pred[row["c"]] = (row["predicted"], row["predicted_err"])
    cs = sorted(pred)
    ax.errorbar(cs, [pred[c][0] for c in cs], yerr=[pred[c][1] for c in cs], color="k", marker="s",
                ls="--", capsize=3, label="gradient flow (predicted)")
    for j, setting in enumerate(sorted({row["setting"] for row in rows})):
        sub = sorted((row for row in rows if row["setting"] == setting), key=lambda r: r["c"])
        ax.errorbar([r["c"] + 0.08 * (j + 1) for r in sub], [r["observed"] for r in sub],
                    yerr=[r["observed_err"] for r in sub], marker="o", capsize=3, label=f"{setting} (observed)")
    ax.set_xlabel("c (features), r = 2")
    ax.set_ylabel("share ending at the global minimum")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xticks(cs)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_or_return(fig, path)


def plot_posterior_vs_theory(ns, free_energies: dict, posterior: dict, path=None, *, labels=("7", "6+", "6")):
    """Theoretical occupancy of ``labels`` (softmax of -F over them, one line style per order) beside the
    sampled posterior occupancy (points with error bars).

    ``ns``: grid of n; ``free_energies``: ``{order: {label: F over ns}}``; ``posterior``:
    ``{n: (occupancy dict, error dict)}``.
    """
    ns = np.asarray(ns, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(6.2, 3.6))
    colors = {lab: f"C{i}" for i, lab in enumerate(labels)}
    for order, ls in zip(sorted(free_energies), ("-", ":", "-.")):
        F = np.array([free_energies[order][lab] for lab in labels])
        P = np.exp(-(F - F.min(axis=0)))
        P /= P.sum(axis=0)
        for i, lab in enumerate(labels):
            ax.plot(ns, P[i], ls=ls, color=colors[lab], label=f"{lab} ({order})")
    post_n = sorted(posterior)
    for lab in labels:
        ax.errorbar(post_n, [posterior[n][0].get(lab, 0.0) for n in post_n],
                    yerr=[posterior[n][1].get(lab, 0.0) for n in post_n], color=colors[lab], marker="o", ls="none",
                    capsize=2, label=f"{lab} (posterior)")
    ax.set_xscale("log")
    ax.set_xlabel("n")
    ax.set_ylabel("occupancy")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    return save_or_return(fig, path)
