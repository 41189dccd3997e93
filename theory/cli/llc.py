"""SGLD estimate of the local learning coefficient at a catalogue critical point (sampling.tms_llc).

``tmsphase llc --point NAME --c C --n N [--seed S] [--json]`` draws a data set of size N, moves the
point's free biases inside its critical set, refines it to the empirical critical point of L_n and
runs SGLD chains (defaults: eps = 0.02 / (n beta), gamma = 1, 64 chains, burn-in 3 and draws 10
relaxation times of the slowest curved direction;
``--paper`` for the paper's setting eps = 1e-3, gamma = 1, 4 chains, no burn-in, 500 draws, centre
used as given; ``--calibrate`` chooses eps by the sweep and reports the two-temperature estimate,
docs/llc.md). Prints ``{"llc", "llc_std", "llc_se", "estimator", "llc_plain", "theory_llc",
"relative_error", "diagnostics", ...}`` with ``--json``. See docs/dynamics.md.
"""

from __future__ import annotations

import math

from kgon.io import dumps_json, finite_or_none
from theory.cli.args import (
    dataset_bytes,
    fail,
    finite_float,
    int_range,
    nonnegative_int,
    output_file,
    positive_int,
    require_memory,
)
from theory.cli.general_model import add_general_arguments, general_llc, general_requested

NAME = "llc"


def add_arguments(parser) -> None:
    parser.add_argument("--point", required=True, metavar="NAME", help="catalogue label, e.g. 5, 5+, 6, 4++-")
    parser.add_argument("--c", type=int_range(2), required=True, help="number of features (>= 2)")
    parser.add_argument("--r", type=positive_int, default=2, help="hidden dimensions (default 2)")
    parser.add_argument("--n", type=int_range(2), required=True, help="data set size n (n beta = n / log n)")
    parser.add_argument("--seed", type=nonnegative_int, default=0,
                        help="seed of the data set and the chains (default 0)")
    parser.add_argument("--eps", type=finite_float(0, min_inclusive=False), default=None,
                        help="SGLD step (default 0.02 / (n beta))")
    parser.add_argument("--gamma", type=finite_float(0), default=None, help="localisation strength (default 1)")
    parser.add_argument("--chains", type=positive_int, default=None, help="number of chains (default 64)")
    parser.add_argument("--burnin", type=nonnegative_int, default=None,
                        help="discarded steps per chain (default: 3 relaxation times of the slowest curved direction)")
    parser.add_argument("--draws", type=positive_int, default=None,
                        help="averaged steps per chain (default: 10 relaxation times)")
    parser.add_argument("--batch-size", type=positive_int, default=None, help="minibatch size (default: full batch)")
    parser.add_argument("--paper", action="store_true",
                        help="the paper's setting: eps 1e-3, gamma 1, 4 chains, 0 + 500 steps, no refinement")
    parser.add_argument("--no-refine", action="store_true", help="use the catalogue point itself as the centre")
    parser.add_argument("--calibrate", action="store_true",
                        help="choose eps by the calibration sweep at fixed n*beta (docs/llc.md); "
                             "not with --eps/--paper")
    parser.add_argument("--estimator", choices=("plain", "two_temperature", "multi", "multi_temperature",
                                                "multiplicity_corrected"),
                        default=None,
                        help="which estimate is reported as llc: plain n*beta*(E[L] - L*) (the papers'), the "
                             "two-temperature one, the multi-temperature fit of lambda and the multiplicity m "
                             "('multi'; docs/llc.md section 4b), or the two-temperature one corrected by that m "
                             "(multiplicity_corrected, section 4c); default two_temperature with --calibrate, "
                             "plain otherwise")
    parser.add_argument("--plot", type=output_file, metavar="PATH", help="write a diagnostics figure (PNG/PDF)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_general_arguments(parser)  # --sparsity, --importance, --input-scale: the general model (docs/general.md)


def run(args) -> int:
    import jax  # deferred: CLI start-up (argument parsing loads no jax)

    import kgon
    import sampling
    from sampling.data import make_dataset  # deferred: CLI start-up

    if args.batch_size is not None and args.batch_size > args.n:
        fail(args, "--batch-size", f"must be an integer in 1..n = {args.n}; got {args.batch_size}.")
    require_memory(args, "--n", dataset_bytes(args.n, args.c), f"a data set of n = {args.n} samples")
    catalogue = kgon.default_catalogue(args.c, r=args.r)
    try:
        point = catalogue.get(args.point)
    except KeyError as exc:
        fail(args, "--point", str(exc.args[0]))
    paper = args.paper
    if args.calibrate and (args.eps is not None or paper):
        fail(args, "--calibrate", "chooses eps itself: it cannot be combined with --eps or --paper.")
    nbeta = sampling.default_nbeta(args.n)
    config = _sgld_config(args, sampling.SGLDConfig)
    calibrate = bool(args.calibrate)
    k_data, k_chain = jax.random.split(jax.random.key(args.seed))
    if general_requested(args):  # the general model's empirical loss at the catalogue point, no refinement
        res = general_llc(args, point, config, calibrate, k_data, k_chain)
    else:
        data = make_dataset(k_data, args.n, args.c)
        res = sampling.tms_llc(k_chain, point.W, point.b, data, calibrate=calibrate, config=config,
                               refine=not (args.no_refine or paper), free_bias=None if paper else -1.0)
    theory = float(point.llc) if point.llc is not None and math.isfinite(point.llc) else None
    if general_requested(args):  # the catalogue's lambda is the high-sparsity model's, not this one's
        theory = None
    rel = (res.llc - theory) / theory if theory and math.isfinite(res.llc) else None
    out = {
        "point": point.label,
        "c": args.c,
        "r": args.r,
        "n": args.n,
        "seed": args.seed,
        "nbeta": nbeta,
        "llc": finite_or_none(res.llc),
        "llc_std": finite_or_none(res.llc_std),
        "llc_se": finite_or_none(res.llc_se),
        "estimator": res.estimator,
        "calibrated": res.calibrated,
        "llc_plain": finite_or_none(res.llc_plain),
        "llc_plain_se": finite_or_none(res.llc_plain_se),
        "multiplicity": finite_or_none(res.multiplicity),
        "multiplicity_se": finite_or_none(res.multiplicity_se),
        "multiplicity_one_rejected": res.multiplicity_one_rejected,
        "multi_temperature": None if res.multi_temperature is None else res.multi_temperature.to_dict(),
        "theory_llc": theory,
        "theory_method": point.llc_method,
        "relative_error": rel,
        "chain_llc": [finite_or_none(x) for x in res.chain_llc],
        "loss_star": res.loss_star,
        "diagnostics": res.diagnostics.to_dict(),
        "config": {**res.config.to_dict(), "n": res.n, "d": res.d, "calibrated": res.calibrated,
                   **{k: v for k, v in res.context.items() if k not in ("center_W", "center_b")}},
        "calibration": None if res.calibration is None else res.calibration.to_dict(),
        "reason": res.reason,
    }
    if args.plot:
        from sampling.plot import plot_llc_calibration, plot_llc_traces  # deferred: matplotlib only with --plot

        if res.loss_trace.size:
            plot_llc_traces(res, args.plot, theory=theory)
        if res.calibration is not None:  # estimate vs step size, next to the diagnostics figure
            stem, dot, ext = str(args.plot).rpartition(".")
            plot_llc_calibration(res, f"{stem}-calibration.{ext}" if dot else f"{args.plot}-calibration", theory=theory)
    if args.json:
        print(dumps_json(out))
        return 0
    d = res.diagnostics
    print(f"point {point.label} (c = {args.c}, r = {args.r}), n = {args.n}, n*beta = {nbeta:.2f}")
    print(f"  lambda_hat = {res.llc:.4f} +- {res.llc_se:.4f} (se; chain std {res.llc_std:.4f}, "
          f"{int(res.healthy.sum())}/{res.chain_llc.size} healthy chains; {res.estimator} estimate)")
    if res.estimator in ("multi_temperature", "multiplicity_corrected") and res.multi_temperature is not None:
        _print_multi(res)
    if res.estimator != "plain":
        print(f"  plain estimate at n*beta: {res.llc_plain:.4f} +- {res.llc_plain_se:.4f}")
    if theory is not None:
        print(f"  catalogue lambda = {theory:g} ({point.llc_method}); relative error {rel:+.2%}" if rel is not None
              else f"  catalogue lambda = {theory:g} ({point.llc_method})")
    eps = "none chosen" if res.config.eps is None else f"{res.config.eps:.3g}"
    print(f"  eps = {eps}, gamma = {res.config.gamma:g}, burn-in {res.config.burnin}, "
          f"draws {res.config.draws}, refined centre: {res.context.get('refined', False)}")
    print(f"  MALA acceptance {d.acceptance_mean:.4f}; excluded chains: "
          + (", ".join(f"{c} ({r})" for c, r in d.excluded) or "none"))
    for w in d.warnings:
        print(f"  warning: {w}")
    if res.calibration is not None:
        print(f"  calibration: {res.calibration.reason}")
    return 0


def _print_multi(res) -> None:
    """The multi-temperature fit's lines of the text output: m and its test, the steps, the correction."""
    verdict = "rejected" if res.multiplicity_one_rejected else "not rejected"
    temps = ", ".join(f"{t:g}" for t in res.config.temperatures)
    fit = res.multi_temperature
    if math.isnan(res.multiplicity):  # multiplicity_corrected without a usable fit: the warning says why
        print(f"  multiplicity m not estimated (temperatures n*beta x {temps}); m = 1 assumed")
    else:
        print(f"  multiplicity m = {res.multiplicity:.3f} +- {res.multiplicity_se:.3f} (m = 1 {verdict} at level "
              f"{res.config.multiplicity_level:g}; temperatures n*beta x {temps})")
    if res.estimator == "multiplicity_corrected" and fit is not None and math.isfinite(fit.llc):
        print(f"  multi-temperature fit's own lambda = {fit.llc:.4f} +- {fit.llc_se:.4f}")
    if fit is not None:
        extra = (f"; data fluctuation a = {fit.fluctuation:.3f} +- {fit.fluctuation_se:.3f}"
                 if fit.fluctuation is not None else "")
        print("  steps eps*n*beta_k: " + ", ".join(f"{p.config.eps * p.config.nbeta:.3g}" for p in res.parts)
              + f"; Gaussian correction over {fit.quadratic_directions} quadratic directions{extra}")


def _sgld_config(args, config_type):
    """The SGLD settings of the command line (``--paper``: the paper's trajectory setting, eps = 1e-3,
    4 chains, no burn-in, 500 draws; otherwise the estimator's defaults with 64 chains)."""
    paper = args.paper
    return config_type(
        eps=args.eps if args.eps is not None else (1e-3 if paper else None),
        gamma=args.gamma if args.gamma is not None else 1.0,
        chains=args.chains if args.chains is not None else (4 if paper else 64),
        burnin=args.burnin if args.burnin is not None else (0 if paper else None),
        draws=args.draws if args.draws is not None else (500 if paper else None),
        batch_size=args.batch_size,
        estimator="multi_temperature" if args.estimator == "multi" else args.estimator,
    )
