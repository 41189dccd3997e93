"""Bayesian phase transitions of the critical-point catalogue (theory.significant_transitions).

``tmsphase transitions --c C [--r R] [--importance I1,...,Ic] [--all] [--order leading|refined] [--beta B]
[--json] [--plot PATH]`` lists the changes of the globally
dominant phase among the local minima at n >= ``theory.MIN_TRANSITION_N`` (below it the leading-order
free energy means nothing); ``--all`` lists every pairwise crossing at n >= 1 instead. ``--json`` prints
``{"c", "r", "min_n", "all", "transitions": [BayesianTransition.to_dict(), ...]}``; ``--plot PATH`` draws
the loss-vs-complexity diagram with the listed transitions as arrows (PNG + PDF). ``--order refined``
uses the refined local free energy of the smooth minima and flat phases (docs/free_energy.md; kinked
points and saddles are left out), ``--beta`` the inverse temperature (n -> beta n in the energy).
``--importance`` uses the catalogue of the potential with that feature importance (docs/general.md); only
with the leading order (the refined free energy evaluates the uniform potential).

``--over-data [--streams K] [--method simulated|gaussian] [--seed S]`` (refined order): the
distribution of the 5 -> 6 crossing over data sets with no data set given
(``theory.crossing_distribution``: the closed-form data term on K simulated data streams, or its
Gaussian limit; docs/free_energy.md, "The crossing over data sets"). ``--json`` then adds
``"crossing_distribution": [{"from", "to", "mean", "median", "q10", "q90", "streams", ...}]``.
"""

from __future__ import annotations

from kgon.io import dumps_json
from theory.cli.args import (
    check_feature_list,
    comma_floats,
    fail,
    finite_float,
    int_range,
    output_file,
    positive_int,
    require_memory,
    search_bytes,
)

NAME = "transitions"


def add_arguments(parser) -> None:
    parser.add_argument("--c", type=int_range(2), required=True, help="number of features (>= 2)")
    parser.add_argument("--r", type=positive_int, default=2, help="hidden dimension (default 2)")
    parser.add_argument("--importance", type=comma_floats(0.0), default=None, metavar="I1,...,Ic",
                        help="feature importance: output weights I_j > 0, one per feature (default all 1)")
    parser.add_argument(
        "--all", action="store_true",
        help="list every pairwise crossing at n >= 1, not only changes of the globally dominant phase at "
             "n >= theory.MIN_TRANSITION_N",
    )
    parser.add_argument("--order", choices=("leading", "refined"), default="leading",
                        help="free energy: leading (default, the paper's) or refined (docs/free_energy.md)")
    parser.add_argument("--beta", type=finite_float(0, min_inclusive=False), default=1.0,
                        help="inverse temperature (default 1; 0.5 = unit-noise Gaussian likelihood)")
    parser.add_argument("--over-data", action="store_true",
                        help="with --order refined: the 5 -> 6 crossing distribution over data sets")
    parser.add_argument("--streams", type=int_range(2), default=200,
                        help="data streams of --over-data (>= 2, default 200)")
    parser.add_argument("--method", choices=("simulated", "gaussian"), default="simulated",
                        help="--over-data: simulated streams (default) or the Gaussian limit")
    parser.add_argument("--seed", type=int_range(0), default=0, help="--over-data: PRNG seed of the streams")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot", type=output_file, default=None, metavar="PATH",
                        help="write the loss-vs-complexity diagram with the transitions (PNG + PDF)")


def run(args) -> int:
    # deferred: CLI start-up (the command's heavy imports load when it runs)
    from kgon import default_catalogue
    from theory.free_energies.orders import MIN_TRANSITION_N, significant_transitions

    check_feature_list(args, "--importance", args.importance, args.c)
    if args.over_data and args.order != "refined":
        fail(args, "--over-data", "needs --order refined (the data term is a correction to the refined free energy).")
    if args.over_data and args.r != 2:
        fail(args, "--over-data", f"needs --r 2 (the refined free energy's SO(2) orbit); got --r {args.r}.")
    if args.importance is not None and args.order == "refined" and any(v != 1.0 for v in args.importance):
        # theory.free_energies.refined evaluates the uniform potential; only the leading order follows from
        # the catalogue
        fail(args, "--importance", "works only with --order leading (the refined free energy uses the uniform "
                                   "potential).")
    require_memory(args, "--c", search_bytes(args.c, args.r),
                   f"the critical-point search at c = {args.c}, r = {args.r}")
    cat = default_catalogue(args.c, r=args.r, importance=args.importance)
    if args.order == "refined" or args.beta != 1.0:
        # deferred: CLI start-up (the command's heavy imports load when it runs)
        from theory.free_energies.orders import transitions

        n_min = 1.0 if args.all else MIN_TRANSITION_N
        ts = [t for t in transitions(cat, order=args.order, beta=args.beta, n_min=n_min, minima_only=True)
              if args.all or t.globally_dominant]
    else:
        ts = significant_transitions(cat, include_all=args.all)
    dist = None
    if args.over_data:
        # deferred: CLI start-up (the command's heavy imports load when it runs)
        import jax

        from theory.over_data import crossing_distribution

        dist = crossing_distribution(jax.random.PRNGKey(args.seed), cat, streams=args.streams, beta=args.beta,
                                     method=args.method)
    figures = []
    if args.plot is not None:
        # deferred: matplotlib only when a figure is drawn
        import matplotlib.pyplot as plt

        from kgon.plot import save_figure
        from theory.plot import plot_loss_complexity

        fig, ax = plt.subplots(figsize=(7.5, 5))
        plot_loss_complexity(cat, bayes_transitions=ts, ax=ax)
        ax.set_title(f"Loss vs complexity of the local minima, c = {args.c}, r = {args.r}", fontsize=10)
        figures = save_figure(fig, args.plot)
        plt.close(fig)
    if args.json:
        print(dumps_json({
            "c": args.c, "r": args.r, **({} if cat.importance is None else {"importance": list(cat.importance)}),
            "min_n": None if args.all else MIN_TRANSITION_N, "all": args.all,
            "order": args.order, "beta": args.beta,
            "transitions": [t.to_dict() for t in ts], "figures": figures,
            **({} if dist is None else {"crossing_distribution": [dist.crossing.to_dict()],
                                         "population_crossing": dist.population_crossing}),
        }))
        return 0
    print(f"{'from':<10}{'to':<10}{'n_critical':>12}  type  {'dL':>10}{'dlambda':>9}{'dc':>9}")
    for t in ts:
        print(
            f"{t.from_label:<10}{t.to_label:<10}{t.n_critical:>12.1f}  {t.kind:<5} "
            f"{t.d_loss:>10.5f}{t.d_llc:>9.2f}{t.d_constant:>9.4f}"
        )
    if not ts:
        print("no transitions")
    if not args.all:
        print(f"(changes of the dominant phase at n >= {MIN_TRANSITION_N:g}; --all lists every crossing)")
    if dist is not None:
        cd = dist.crossing
        print(f"over data sets ({cd.streams} {cd.method} streams, beta = {args.beta:g}): {cd.from_label} -> "
              f"{cd.to_label} crossing mean {cd.mean:.0f}, median {cd.median:.0f}, 10-90% {cd.q10:.0f}-{cd.q90:.0f} "
              f"(population refined: {dist.population_crossing:.0f})")
    for f in figures:
        print(f"figure: {f}")
    return 0
