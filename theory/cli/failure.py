"""Where training from random initialisation ends: observed end points against the gradient-flow basins.

``tmsphase failure --c C --runs R [--optimizer sgd|adam|adamw] [--lr LR] [--weight-decay WD] [--epochs E]
[--n N] [--batch-size B] [--seed S] [--starts P] [--flow-time T] [--json] [--plot PATH] [--progress]``
trains R runs (seeds S .. S+R-1) from the random initialisation (Glorot normal W, b = 0), matches each
final point to ``kgon.default_catalogue(C)`` modulo symmetry and reports the fraction ending at each
critical point, beside the fractions predicted by gradient flow on the population loss from P starts of
the same initial distribution (:mod:`theory.failure`, docs/failure.md). ``--json`` prints
``{"c", "r", "optimizer", "runs", "observed", "predicted", "global_minimum", "saddles", "unmatched",
"same_start_agreement", ...}``; ``--plot PATH`` draws observed against predicted (PNG + PDF).
"""

from __future__ import annotations

from kgon.io import dumps_json
from theory.cli.args import (
    fail,
    finite_float,
    int_range,
    nonnegative_int,
    output_file,
    positive_int,
    require_memory,
    search_bytes,
    sgd_bytes,
)

NAME = "failure"


def add_arguments(parser) -> None:
    parser.add_argument("--c", type=int_range(2), required=True, help="number of features (>= 2)")
    parser.add_argument("--r", type=positive_int, default=2, help="hidden dimensions (default 2)")
    parser.add_argument("--runs", type=positive_int, required=True, help="number of trained runs (one batch)")
    parser.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), default="adam",
                        help="optimizer (default adam)")
    parser.add_argument("--lr", type=finite_float(0, min_inclusive=False), default=None,
                        help="learning rate, a finite number > 0 (default: sgd 0.05, adam/adamw 0.005)")
    parser.add_argument("--weight-decay", type=finite_float(0), default=0.0,
                        help="the optimizer's weight decay, a finite number >= 0 (default 0)")
    parser.add_argument("--epochs", type=positive_int, default=1000, help="epochs (default 1000)")
    parser.add_argument("--n", type=positive_int, default=1000, help="training-set size (default 1000)")
    parser.add_argument("--batch-size", type=positive_int, default=100, help="minibatch size, <= n (default 100)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="first run seed (runs use seed, seed+1, ...)")
    parser.add_argument("--starts", type=positive_int, default=500,
                        help="gradient-flow starts of the prediction (default 500)")
    parser.add_argument("--flow-time", type=finite_float(0, min_inclusive=False), default=1000.0,
                        help="gradient-flow time of the prediction, > 0 (default 1000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot", type=output_file, metavar="PATH", help="write observed vs predicted (PNG + PDF)")
    parser.add_argument("--progress", action="store_true", help="show progress bars")


def run(args) -> int:
    # deferred: CLI start-up (the command's heavy imports load when it runs)
    from theory.failure import FailureConfig, analyze_failure

    if args.batch_size > args.n:
        fail(args, "--batch-size", f"must be an integer in 1..n = {args.n}; got {args.batch_size}.")
    if args.flow_time < 0.1:
        fail(args, "--flow-time", f"must be >= the Euler step 0.1; got {args.flow_time!r}.")
    require_memory(args, "--c", search_bytes(args.c, args.r),
                   f"the critical-point search at c = {args.c}, r = {args.r}")
    require_memory(args, "--n", sgd_bytes(args.runs, args.n, args.c, args.r, 20),
                   f"training {args.runs} runs x {args.n} samples x {args.c} features")
    config = FailureConfig(c=args.c, r=args.r, runs=args.runs, optimizer=args.optimizer, lr=args.lr,
                           weight_decay=args.weight_decay, epochs=args.epochs, n=args.n, batch_size=args.batch_size,
                           seed=args.seed, starts=args.starts, flow_time=args.flow_time)
    res = analyze_failure(config, progress=args.progress)
    d = res.to_dict()
    figures = []
    if args.plot is not None:
        # deferred: CLI start-up (the command's heavy imports load when it runs)
        from theory.failure.plot import plot_end_points

        title = (f"c = {args.c}, r = {args.r}: {args.optimizer} (lr {config.lr:g}), {args.runs} runs; "
                 f"gradient flow, {args.starts} starts")
        figures = [str(p) for p in plot_end_points(d["observed"], d["predicted"], args.plot, title=title,
                                                    observed_err=d["observed_err"], predicted_err=d["predicted_err"])]
    d["figures"] = figures
    if args.json:
        print(dumps_json(d))
        return 0
    gm = d["global_minimum"]
    print(f"c = {args.c}, r = {args.r}: {args.runs} runs, {args.optimizer} lr {config.lr:g}, {args.epochs} epochs "
          f"({res.wall_time:.1f} s); gradient flow from {args.starts} starts to T = {args.flow_time:g}")
    print(f"{'end point':<22}{'loss':>10}{'observed':>10}{'predicted':>11}")
    for lab in sorted(set(d["observed"]) | set(d["predicted"]),
                      key=lambda s: -max(d["observed"].get(s, 0), d["predicted"].get(s, 0))):
        loss = res.point_info[lab][0] if lab in res.point_info else float("nan")
        print(f"{lab:<22}{loss:>10.5f}{d['observed'].get(lab, 0.0):>10.3f}{d['predicted'].get(lab, 0.0):>11.3f}")
    print(f"global minimum {gm['label']} (loss {gm['loss']:.5f}): observed {gm['observed']:.3f}, "
          f"predicted {gm['predicted']:.3f}; same end point as gradient flow from the same start: "
          f"{d['same_start_agreement']:.3f}")
    for s in d["saddles"]:
        print(f"saddle {s['label']} (Hessian index {s['index']}): {s['fraction']:.3f} of runs")
    for u in d["unmatched"]:
        print(f"unmatched: run {u['run']} (seed {u['seed']}), loss {u['loss']:.5f}, distance {u['distance']:.3f}")
    for f in figures:
        print(f"figure: {f}")
    return 0
