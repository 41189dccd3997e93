"""Developmental analysis with ground truth: LLC milestones, essential dynamics, covariance jumps vs catalogue plateaus.

``tmsphase development --c C [--r R] --runs R [--seed S] [--out DIR] [--plot DIR] [--json]`` trains R
SGD runs (the paper's protocol by default; seeds S..S+R-1), matches their plateaus to
``kgon.default_catalogue(C)`` (the ground truth), estimates the LLC by SGLD at every checkpoint (the
paper's setting, flagged chains excluded), detects LLC milestones and Type A/B stages, runs essential
dynamics on the probe outputs and the weight-covariance spectrum across runs, and scores each method
against the catalogue plateaus and transitions. With ``--out DIR`` the SGD checkpoints
(``DIR/sgd-runs``, shared with ``tmsphase sgd``) and each run's LLC curve (``DIR/llc-curves``) are
stored in :class:`kgon.io.ResultStore` directories as they finish and reused by a re-run (resumable);
``DIR/development-<key>/development.json`` holds the evaluation. See docs/development.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from kgon.io import ResultStore, dumps_json, write_json_atomic
from theory.cli.args import finite_float, int_range, nonnegative_int, output_dir, positive_int
from theory.cli.common import sgd_store

NAME = "development"


def add_arguments(parser) -> None:
    parser.add_argument("--c", type=int_range(2), required=True, help="number of features (the paper: 6)")
    parser.add_argument("--r", type=positive_int, default=2, help="hidden dimensions (default 2)")
    parser.add_argument("--runs", type=int_range(3), required=True, help="number of SGD runs (>= 3)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="first run seed (default 0)")
    parser.add_argument("--epochs", type=positive_int, default=4500, help="epochs (default 4500: 225,000 steps)")
    parser.add_argument("--n", type=int_range(2), default=1000, help="training-set size (default 1000)")
    parser.add_argument("--batch-size", type=positive_int, default=20, help="minibatch size (default 20)")
    parser.add_argument("--lr", type=finite_float(0, min_inclusive=False), default=0.005,
                        help="learning rate (default 0.005)")
    parser.add_argument("--init-k", type=nonnegative_int, default=4, help="initial polygon (default 4)")
    parser.add_argument("--checkpoints", type=int_range(6), default=200, help="log-spaced checkpoints (default 200)")
    parser.add_argument("--chains", type=positive_int, default=4,
                        help="SGLD chains per checkpoint (default 4, the paper's)")
    parser.add_argument("--draws", type=positive_int, default=500,
                        help="SGLD steps per chain (default 500, the paper's)")
    parser.add_argument("--calibrate", action="store_true",
                        help="choose the SGLD step per run by the calibration sweep (default: the paper's eps = 1e-3)")
    parser.add_argument("--bandwidth", type=finite_float(0, min_inclusive=False), default=0.25,
                        help="GP length scale of the LLC curve in decades of t (default 0.25)")
    parser.add_argument("--min-change", type=finite_float(0), default=0.5,
                        help="merge LLC stages that change the smoothed LLC by less than this (default 0.5; "
                             "0 = seed 002's procedure)")
    parser.add_argument("--tolerance", type=finite_float(0), default=0.5,
                        help="milestone tolerance on |d LLC / d log10 t| (default 0.5)")
    parser.add_argument("--sigma", type=finite_float(0, min_inclusive=False), default=0.1,
                        help="essential-dynamics Gaussian smoothing width in decades (default 0.1)")
    parser.add_argument("--out", type=output_dir, metavar="DIR",
                        help="save checkpoints, LLC curves, results (resumable)")
    parser.add_argument("--plot", type=output_dir, metavar="DIR", help="write the figures (PNG + PDF) here")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _say(msg: str, quiet: bool) -> None:
    if not quiet:
        print(f"[tmsphase development] {msg}", file=sys.stderr, flush=True)


def run(args) -> int:
    # deferred: CLI start-up time (jax, torch and the catalogue load only when the command runs)
    import kgon
    import sampling
    from sampling.dynamics.sgd import sgd_run_key, train_or_load
    from theory.development.evaluate import evaluate_development, llc_curves
    from theory.sgd_analysis import analyze_sgd

    kgon.configure_jax()
    config = sampling.SGDConfig(c=args.c, r=args.r, n=args.n, batch_size=args.batch_size, lr=args.lr,
                                epochs=args.epochs, init_k=args.init_k, checkpoints=args.checkpoints)
    seeds = list(range(args.seed, args.seed + args.runs))
    quiet = args.json
    store = sgd_store(args.out)
    out = Path(args.out) / f"development-{sgd_run_key(config, seeds)}" if args.out else None
    timings = {}
    t0 = time.perf_counter()
    cached = store.path(sgd_run_key(config, seeds)) if store is not None else None
    _say(f"SGD: {args.runs} runs x {config.total_steps} steps" + (f" (results in {cached})" if cached else ""), quiet)
    result, reused = train_or_load(config, seeds, store)
    if reused:
        _say(f"reused {cached}", quiet)
    timings["sgd_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    catalogue = kgon.default_catalogue(args.c, r=args.r)
    analysis = analyze_sgd(result, catalogue)
    timings["matching_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _say(f"SGLD LLC at {result.steps.size} checkpoints x {args.runs} runs "
         f"({'calibrated' if args.calibrate else 'paper setting'})", quiet)
    llc_store = ResultStore(Path(args.out) / "llc-curves") if args.out else None
    llc = llc_curves(result, seed=args.seed, store=llc_store, calibrate=args.calibrate,
                     config=sampling.SGLDConfig(chains=args.chains, draws=args.draws),
                     progress=None if quiet else (lambda i, R: _say(f"LLC curve {i}/{R} done", False)))
    timings["llc_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ev = evaluate_development(result, analysis, llc, bandwidth=args.bandwidth, tolerance=args.tolerance,
                              min_change=args.min_change, sigma=args.sigma)
    timings["methods_s"] = time.perf_counter() - t0
    d = ev.to_dict()
    d.update(c=args.c, r=args.r, seeds=seeds, llc_excluded_chains=llc["reasons"], llc_config=llc["config"],
             timings=timings)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / "development.json", d)
    figures = []
    if args.plot:
        # deferred: matplotlib loads only when a figure is asked for
        from theory.development.plot import plot_covariance_spectrum, plot_essential_dynamics, plot_llc_stages

        pdir = Path(args.plot)
        if any(st is not None for st in ev.stages):
            figures += plot_llc_stages(ev, result, pdir / "llc_stages.png")
        else:
            _say("no run has an LLC curve (see llc_note): the LLC figure is skipped", False)
        shown = [i for i, r in enumerate(ev.runs) if r["transitions"]][:2] or [0]
        for i in shown:
            figures += plot_essential_dynamics(ev.dynamics[i], pdir / f"essential_dynamics_seed{seeds[i]}.png",
                                               title=f"Essential dynamics, seed {seeds[i]}: "
                                                     f"{len(ev.dynamics[i].forms)} forms")
        figures += plot_covariance_spectrum(ev.covariance, pdir / "covariance_spectrum.png",
                                            transitions=[s for r in ev.runs for s in r["transitions"]])
    d["figures"] = [str(f) for f in figures]
    if args.json:
        print(dumps_json(d))
    else:
        sc = d["scores"]
        print(f"{args.runs} runs at c = {args.c}, {config.total_steps} steps; "
              f"{sum(len(r['transitions']) for r in ev.runs)} catalogue transitions")
        for name in ("llc", "essential_dynamics", "covariance"):
            s = sc.get(name)
            if s is None:
                print(f"  {name:<19} not scored: {sc.get('covariance_note')}")
            else:
                print(f"  {name:<19} precision {s['precision']}, recall {s['recall']} "
                      f"({s['detections']} detections, {s['targets']} targets)")
        print(f"  chance precision (uniform in log t): {sc['chance_precision']:.3f}")
        print(f"  LLC chains excluded: {llc['reasons']}")
        for f in figures:
            print(f"figure: {f}")
    if d["scores"].get("covariance") is None:  # runs without transitions: nothing to score against
        print(f"tmsphase development: error: {d['scores']['covariance_note']}", file=sys.stderr)
        return 2
    return 0
