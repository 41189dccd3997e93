"""Thermodynamics of a stored posterior run: specific heat per phase, WAIC, the transition detector.

``tmsphase thermo --posterior DIR [--json] [--plot PATH] [--no-waic]``

DIR is the output of ``tmsphase posterior --out DIR``. For every stored n it prints the specific
heat C(n) = Var_post(n L_n) (bootstrap error over chains or blocks), the variance within the two
largest phases and the between-phase part P_a P_b (E_a - E_b)^2, WAIC (per sample), the functional
variance V_n and the singular fluctuation V_n / 2 (the data set redrawn from the stored data seed);
with three or more n, the peak of C(n) over n (90% bootstrap interval) beside the 5 -> 6 occupancy
crossing (95% interval) (:func:`theory.specific_heat_transition`). ``--json`` prints ``{"posterior",
"rows": [{"n", "beta", "nL_mean", "nL_var", "nL_var_err", "nL_chain_var", "nL_by_phase",
"mixture_part", "occupancy", "occupancy_err", "waic"}, ...], "transition", "figures"}``; ``--plot
PATH`` draws C(n) with the peak and the crossing (PNG + PDF). See docs/sampling.md,
"Thermodynamics of the posterior".
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kgon.io import dumps_json
from theory.cli.args import output_file

NAME = "thermo"


def _posterior_dir(text) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a directory (the --out DIR of tmsphase posterior)")
    return path


def add_arguments(parser) -> None:
    parser.add_argument("--posterior", type=_posterior_dir, required=True, metavar="DIR",
                        help="a stored posterior run (tmsphase posterior --out DIR)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.add_argument("--plot", type=output_file, default=None, metavar="PATH",
                        help="write C(n) with its peak and the occupancy crossing (PNG + PDF)")
    parser.add_argument("--no-waic", action="store_true", help="skip WAIC (it redraws the data set)")


def run(args) -> int:
    # deferred: CLI start-up (the command's heavy imports load when it runs)
    from theory.thermo import thermo_summary

    rows, transition = thermo_summary(args.posterior, waic=not args.no_waic)
    figures = _plot(args, rows, transition) if args.plot is not None else []
    if args.json:
        print(dumps_json({"posterior": str(args.posterior), "rows": rows,
                          "transition": None if transition is None else transition.to_dict(), "figures": figures}))
        return 0
    print(f"{'n':>6} {'C(n)':>14} {'within top phases':<30}{'mixture':>9} {'WAIC':>9} {'V_n':>13} {'nu':>6}")
    for r in rows:
        top = list(r["occupancy"].items())[:2]
        within = ", ".join(
            f"{k}: {r['nL_by_phase'][k][2]:.1f}" for k, _ in top
            if k in r["nL_by_phase"] and r["nL_by_phase"][k][2] is not None
        )
        w = r["waic"]
        wa = "" if w is None else (f"{w['waic']:9.4f} {w['functional_variance']:7.2f}"
                                   f"+-{w['functional_variance_err']:<4.2f}")
        nu = "" if w is None else f"{w['singular_fluctuation']:6.2f}"
        print(f"{r['n']:>6} {r['nL_var']:8.2f}+-{r['nL_var_err']:<4.2f} {within:<30}{r['mixture_part']:9.2f} {wa} {nu}")
    if transition is not None:
        pk, cr = transition.peak, transition.crossing
        if pk.n is None:
            print("specific-heat peak: not bracketed by these n")
        else:
            ci = "" if pk.ci_low is None else f" (90% interval {pk.ci_low:.0f} .. {pk.ci_high:.0f})"
            print(f"specific-heat peak: n ~ {pk.n:.0f}{ci}")
        if cr is not None and cr.n is not None:
            print(f"5 -> 6 occupancy crossing: n ~ {cr.n:.0f} (95% interval {cr.ci_low:.0f} .. {cr.ci_high:.0f})"
                  + ("" if transition.offset is None else f"; peak / crossing - 1 = {transition.offset:+.1%}"))
    for f in figures:
        print(f"figure: {f}")
    return 0


def _plot(args, rows, transition) -> list[str]:
    # deferred: matplotlib only when a figure is drawn
    import matplotlib.pyplot as plt

    from kgon.plot import save_figure
    from theory.plot_thermo import plot_specific_heat

    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_specific_heat(rows, transition, ax=ax)
    ax.set_title(f"Posterior specific heat ({args.posterior.name})", fontsize=10)
    paths = save_figure(fig, args.plot)
    plt.close(fig)
    return paths
