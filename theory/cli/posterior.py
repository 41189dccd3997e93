"""Posterior phase occupancy over sample sizes n (NUTS or parallel tempering).

``tmsphase posterior --c C --n N1,N2,... [--chains K] [--warmup W] [--samples S]
[--method nuts|tempered] [--seed S] [--data-seed K] [--beta B] --out DIR [--json] [--plot PATH]``

For every n: draw the data set (by default all n share one data stream, so D_n are nested), sample
the posterior phi(w) exp(-beta n L_n(w)) (docs/index.md, "Conventions"; ``--beta``, default 1: the
Bayesian posterior; 1/2: a unit-variance Gaussian likelihood), classify the draws into the phases of
``kgon.default_catalogue(c)`` and store the result in DIR, a :class:`kgon.io.ResultStore`: per n
``DIR/<key>.json`` (the occupancy summary), ``<key>.nc`` (arviz InferenceData) and ``<key>.csv``
(occupancy per phase), keyed by the settings and the seed (:func:`sampling.mcmc.io.posterior_over_n`,
the loop ``tmsphase reproduce`` uses too). A re-run reuses every n stored with the same settings.
Each entry's configuration (the :class:`sampling.OccupancyConfig`) records c, r, beta and the seed of
the data stream, which ``tmsphase compare --posterior DIR`` reads back.
``--json`` prints ``{"c", "r", "ns", "config" (with "data_seed" and "beta"), "figures", "results":
[{"n", "method", "occupancy", "occupancy_err", "rhat_loss", "ess_loss", "divergences"}, ...]}``;
``--plot PATH`` draws the occupancy curve, posterior against theory (PNG + PDF). Built on
``sampling.run_occupancy``; see docs/sampling.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kgon.io import dumps_json
from theory.cli.args import (
    comma_ints,
    dataset_bytes,
    fail,
    finite_float,
    int_range,
    nonnegative_int,
    output_dir,
    output_file,
    positive_int,
    require_memory,
)
from theory.cli.general_model import add_general_arguments, general_requested, run_general_posterior

NAME = "posterior"


def add_arguments(parser) -> None:
    parser.add_argument("--c", type=int_range(2), required=True, help="number of features (>= 2)")
    parser.add_argument("--n", type=comma_ints(1), required=True, metavar="N1,N2,...",
                        help="sample sizes (comma-separated positive integers)")
    parser.add_argument("--chains", type=positive_int, default=4, help="NUTS chains / tempering ladders (default 4)")
    parser.add_argument("--warmup", type=nonnegative_int, default=500,
                        help="warmup transitions per chain (default 500)")
    parser.add_argument("--samples", type=positive_int, default=500,
                        help="recorded transitions per chain (default 500)")
    parser.add_argument("--method", default="nuts", choices=("nuts", "tempered"),
                        help="nuts (independent chains) or tempered (parallel tempering)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--data-seed", type=nonnegative_int, default=None,
        help="seed of the data stream (default: --seed; every n uses the first n samples of the stream)",
    )
    parser.add_argument("--beta", type=finite_float(0, min_inclusive=False), default=1.0,
                        help="inverse temperature of the likelihood, phi(w) exp(-beta n L_n(w)) (default 1; "
                             "0.5 = unit-variance Gaussian likelihood)")
    parser.add_argument("--init", default="prior", choices=("prior", "catalogue"), help="chain initialisation")
    parser.add_argument("--threshold", type=finite_float(0, min_inclusive=False), default=None,
                        help="classification threshold (default max(0.5, 25/sqrt(n)))")
    parser.add_argument("--n-temps", type=positive_int, default=None, help="tempering ladder size (default ~2.5 ln n)")
    parser.add_argument("--out", type=output_dir, required=True, metavar="DIR",
                        help="output directory (created; reused on re-runs)")
    parser.add_argument("--plot", type=output_file, default=None, metavar="PATH",
                        help="write the occupancy curve: posterior (points) vs theory (lines) over n (PNG + PDF)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--r", type=positive_int, default=2,
                        help="hidden dimensions (default 2; another r runs the general-model NUTS diagnostics)")
    add_general_arguments(parser)  # --sparsity, --importance, --input-scale: the general model (docs/general.md)


def _validate(args) -> tuple[list[int], Path]:
    """Checks that involve several arguments (one-line errors, exit 2)."""
    ns = list(args.n)
    require_memory(args, "--n", dataset_bytes(max(ns), args.c), f"a data set of n = {max(ns)} samples")
    return ns, Path(args.out)


def _task_config(args, n: int) -> dict:
    return {
        "c": args.c, "n": n, "method": args.method, "chains": args.chains, "warmup": args.warmup,
        "samples": args.samples, "seed": args.seed,
        "data_seed": args.seed if args.data_seed is None else args.data_seed,
        "init": args.init, "threshold": args.threshold, "n_temps": args.n_temps, "r": 2, "beta": args.beta,
    }


def run(args) -> int:
    if general_requested(args) or args.r != 2:  # no catalogue: NUTS diagnostics of the general posterior
        if args.beta != 1.0:
            fail(args, "--beta", f"works only with the catalogue model (r = 2, no --sparsity/--importance/"
                                 f"--input-scale); got {args.beta:g}.")
        return run_general_posterior(args)
    ns, out = _validate(args)

    # deferred: CLI start-up (the command's heavy imports load when it runs)
    import kgon
    import sampling
    from kgon.io import ResultStore
    from sampling.mcmc.io import posterior_over_n

    cfg = _task_config(args, ns[0])
    results, _ = posterior_over_n(
        ResultStore(out), ns, seed=args.seed, catalogue=lambda: kgon.default_catalogue(args.c),
        progress=not args.no_progress, c=args.c, method=args.method, chains=args.chains, warmup=args.warmup,
        samples=args.samples, data_seed=cfg["data_seed"], init=args.init, threshold=args.threshold,
        n_temps=args.n_temps, beta=args.beta,
    )
    catalogue = None
    figures = _plot(args, results, catalogue) if args.plot is not None else []
    if args.json:
        config = {k: v for k, v in _task_config(args, ns[0]).items() if k != "n"}
        print(dumps_json({"c": args.c, "r": 2, "ns": ns, "config": config, "results": results, "figures": figures}))
        return 0
    if args.beta != 1.0:
        print(f"posterior phi(w) exp(-beta n L_n(w)) at beta = {args.beta:g}")
    print(f"{'n':>7} {'method':>9}  {'occupancy (top phases, +- s.e.)':<58}{'rhat':>7}{'ess':>8}{'div':>5}")
    for r in results:
        occ = ", ".join(
            f"{k}: {v:.3f}+-{(r['occupancy_err'].get(k) or 0.0):.3f}" for k, v in list(r["occupancy"].items())[:3]
        )
        rhat = "nan" if r["rhat_loss"] is None else f"{r['rhat_loss']:.3f}"
        ess = "nan" if r["ess_loss"] is None else f"{r['ess_loss']:.0f}"
        print(f"{r['n']:>7} {r['method']:>9}  {occ:<58}{rhat:>7}{ess:>8}{r['divergences']:>5}")
    labels = set().union(*[set(r["occupancy"]) for r in results])
    if len(results) >= 2 and {"5", "6"} <= labels:
        cr = sampling.crossing_estimate(results, from_label="5", to_label="6")
        if cr.n is None:
            print("5 -> 6 crossing: not bracketed by these n")
        else:
            print(f"5 -> 6 crossing: n ~ {cr.n:.0f} (95% interval {cr.ci_low:.0f} .. {cr.ci_high:.0f})")
    for f in figures:
        print(f"figure: {f}")
    print(f"files in {out}", file=sys.stderr)
    return 0


def _plot(args, results: list[dict], catalogue) -> list[str]:
    """The occupancy curve: posterior occupancy (points) against the theory (lines) over n."""
    # deferred: matplotlib only when a figure is drawn
    import matplotlib.pyplot as plt

    import kgon
    from kgon.plot import save_figure
    from theory.compare import compare_occupancy
    from theory.plot import plot_occupancy

    catalogue = catalogue if catalogue is not None else kgon.default_catalogue(args.c)
    fig, ax = plt.subplots(figsize=(8, 5))
    plot_occupancy(compare_occupancy(catalogue, results, beta=args.beta), ax=ax)
    temp = "" if args.beta == 1.0 else f", beta = {args.beta:g}"
    ax.set_title(f"Posterior phase occupancy, c = {args.c} ({args.method}{temp}): samples (points) vs theory (lines)",
                 fontsize=10)
    paths = save_figure(fig, args.plot)
    plt.close(fig)
    return paths
