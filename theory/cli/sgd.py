"""Train TMS models with batched SGD (the paper's protocol), match plateaus to the catalogue, check antecedents.

``tmsphase sgd --c C --runs R [--epochs E] [--seed S] [--out DIR] [--json] [--plot PATH]`` trains R runs
(seeds S, S+1, ..., S+R-1) with the protocol of Chen et al. 2023 (docs/dynamics.md; 4-gon + noise, n = 1000, batch 20,
lr 0.005, 4500 epochs by default), matches every checkpoint to ``kgon.default_catalogue(C)`` modulo
symmetry, detects plateaus and transitions, estimates the LLC with SGLD at up to
``--llc-per-plateau`` checkpoints of every plateau (default 3, the paper's setting; 0 skips it) and prints
``{"fraction_on_plateaus", "transitions", "final_phases", "antecedent", ...}`` with ``--json``.
With ``--sparsity``, ``--importance`` or ``--input-scale`` (the general model, :mod:`theory.cli.general_model`)
the plateaus are reported as found and LLCs are estimated only on request (``--llc-per-plateau K``, default 0).
With ``--out DIR`` the SGD checkpoints go into the result store ``DIR/sgd-runs`` (:class:`kgon.io.ResultStore`,
shared with ``tmsphase development``; a re-run with the same settings and seeds reuses them), the
analysis JSON (``analysis-<key>.json``) and the figures into DIR. See docs/dynamics.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from kgon.io import dumps_json, write_json_atomic
from theory.cli.args import (
    fail,
    finite_float,
    int_range,
    nonnegative_int,
    output_dir,
    output_file,
    positive_int,
    require_memory,
    sgd_bytes,
)
from theory.cli.common import sgd_store
from theory.cli.general_model import add_general_arguments, general_requested, run_general_sgd

__all__ = ["NAME", "PAPER_LLC_PER_PLATEAU", "add_arguments", "run", "sgd_store"]

NAME = "sgd"

PAPER_LLC_PER_PLATEAU = 3
"""SGLD LLC estimates per plateau without general-model flags (the paper's setting)."""


def add_arguments(parser) -> None:
    parser.add_argument("--c", type=int_range(2), required=True, help="number of features (the paper: 6)")
    parser.add_argument("--r", type=positive_int, default=2, help="hidden dimensions (default 2)")
    parser.add_argument("--runs", type=positive_int, required=True, help="number of SGD runs (trained as one batch)")
    parser.add_argument("--epochs", type=positive_int, default=4500, help="epochs (default 4500: 225,000 steps)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="first run seed (runs use seed, seed+1, ...)")
    parser.add_argument("--n", type=positive_int, default=1000, help="training-set size (default 1000)")
    parser.add_argument("--batch-size", type=positive_int, default=20, help="minibatch size, <= n (default 20)")
    parser.add_argument("--lr", type=finite_float(0, min_inclusive=False), default=0.005,
                        help="learning rate, a finite number > 0 (default 0.005)")
    parser.add_argument("--init-k", type=int_range(2), default=4, help="initial polygon, 2 <= k <= c (default 4)")
    parser.add_argument("--init", choices=("polygon", "random"), default="polygon",
                        help="initialisation: the --init-k polygon plus noise (default) or random "
                             "(Glorot normal W, b = 0)")
    parser.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), default="sgd",
                        help="optimizer (default sgd: plain SGD; adam, adamw: torch's)")
    parser.add_argument("--weight-decay", type=finite_float(0), default=0.0,
                        help="the optimizer's weight decay, a finite number >= 0 (default 0)")
    parser.add_argument("--checkpoints", type=int_range(2), default=200, help="log-spaced checkpoints (default 200)")
    parser.add_argument("--llc-per-plateau", type=nonnegative_int, default=None, metavar="K",
                        help=f"SGLD LLC estimates per plateau, 0 = none (default {PAPER_LLC_PER_PLATEAU}, for "
                             "the antecedent check; 0 with --sparsity/--importance/--input-scale)")
    parser.add_argument("--out", type=output_dir, metavar="DIR",
                        help="write checkpoints, analysis and figures here (reused)")
    parser.add_argument("--plot", type=output_file, metavar="PATH",
                        help="write the loss/LLC-vs-step figure (PNG + PDF)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--progress", action="store_true", help="show a progress bar")
    add_general_arguments(parser)  # --sparsity, --importance, --input-scale: the general model (docs/general.md)


def _check(args) -> None:
    """Checks that involve several arguments (one-line errors, exit 2)."""
    if args.batch_size > args.n:
        fail(args, "--batch-size", f"must be an integer in 1..n = {args.n}; got {args.batch_size}.")
    if args.init_k > args.c:
        fail(args, "--init-k", f"must be an integer in 2..c = {args.c}; got {args.init_k}.")
    if general_requested(args) and (args.init, args.optimizer, args.weight_decay) != ("polygon", "sgd", 0.0):
        fail(args, "--init", "--init, --optimizer and --weight-decay apply to the high-sparsity model only; "
             "drop them or drop --sparsity/--importance/--input-scale.")
    require_memory(args, "--n", sgd_bytes(args.runs, args.n, args.c, args.r, args.checkpoints),
                   f"SGD on {args.runs} runs x {args.n} samples x {args.c} features")
    if args.llc_per_plateau is None:  # calibrated LLCs of the general model take minutes: on request only
        args.llc_per_plateau = 0 if general_requested(args) else PAPER_LLC_PER_PLATEAU


def _say(msg: str, quiet: bool) -> None:
    if not quiet:
        print(f"[tmsphase sgd] {msg}", file=sys.stderr, flush=True)


def run(args) -> int:
    # deferred: CLI start-up time (jax, torch and the catalogue load only when the command runs)
    import kgon
    import sampling
    from sampling.dynamics.sgd import sgd_run_key, train_or_load
    from theory.sgd_analysis import analyze_sgd

    _check(args)
    if general_requested(args):
        return run_general_sgd(args)
    config = sampling.SGDConfig(c=args.c, r=args.r, n=args.n, batch_size=args.batch_size, lr=args.lr,
                                epochs=args.epochs, init_k=args.init_k, checkpoints=args.checkpoints,
                                init=args.init, optimizer=args.optimizer, weight_decay=args.weight_decay)
    seeds = list(range(args.seed, args.seed + args.runs))
    quiet = args.json
    out = Path(args.out) if args.out else None
    key = sgd_run_key(config, seeds)
    store = sgd_store(out)
    cached = store.path(key) if store is not None else None
    timings = {}
    t0 = time.perf_counter()
    _say(f"SGD: {args.runs} runs x {config.total_steps} steps" + (f" (results in {cached})" if cached else ""), quiet)
    result, reused = train_or_load(config, seeds, store, progress=args.progress)
    if reused:
        _say(f"reused {cached}", quiet)
    timings["sgd_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    catalogue = kgon.default_catalogue(args.c, r=args.r)
    analysis = analyze_sgd(result, catalogue)
    timings["matching_s"] = time.perf_counter() - t0
    analysis, llc = _plateau_llcs(args, result, catalogue, analysis, timings)
    d = analysis.to_dict()
    summary = {
        "c": args.c,
        "r": args.r,
        "config": config.to_dict(),
        "fraction_on_plateaus": d["fraction_on_plateaus"],
        "transitions": d["transitions"],
        "final_phases": d["final_phases"],
        "antecedent": d["antecedent"],
        "fraction_matched": d["fraction_matched"],
        "phase_sequences": d["phase_sequences"],
        "runs": d["runs"],
        "seeds": seeds,
        "five_to_six": d["five_to_six"],
        "llc_excluded_chains": dict(llc.reasons) if llc is not None else None,
        "timings": timings,
    }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / f"analysis-{key}.json", d)
        if llc is not None:
            write_json_atomic(out / f"llc-{key}.json", llc.to_dict())
    summary["figures"] = _figures(args, out, result, analysis, llc, catalogue, d) if args.plot or out else []
    if args.json:
        print(dumps_json(summary))
        return 0
    _print_summary(args, config, d, summary)
    return 0


def _plateau_llcs(args, result, catalogue, analysis, timings: dict):
    """SGLD LLC estimates at up to ``--llc-per-plateau`` checkpoints of every plateau (the paper's
    setting), attached to the analysis; ``(analysis, LLCTrajectory or None)``."""
    if args.llc_per_plateau == 0 or not analysis.plateaus:
        return analysis, None
    # deferred: CLI start-up time
    import jax

    import sampling
    from theory.sgd_analysis import plateau_centers

    t0 = time.perf_counter()
    centers = plateau_centers(analysis, per_plateau=args.llc_per_plateau)
    _say(f"SGLD at {len(centers)} plateau checkpoints (paper setting)", args.json)
    llc = sampling.llc_trajectory(jax.random.key(args.seed), result, centers=centers)
    timings["llc_s"] = time.perf_counter() - t0
    return analysis.with_llc(result, catalogue, llc), llc


def _figures(args, out, result, analysis, llc, catalogue, d: dict) -> list[str]:
    """The loss/LLC-vs-step figure (``--plot`` and ``DIR/sgd_runs.png``) and, with ``--out``, the
    transitions on the loss-complexity diagram; returns the written paths."""
    # deferred: matplotlib loads only when a figure is asked for
    from kgon.plot import save_figure
    from sampling.plot import plot_runs
    from theory.plot import plot_loss_complexity

    figures = []
    paths = [Path(args.plot)] if args.plot else []
    if out is not None:
        paths.append(out / "sgd_runs.png")
    for p in paths:
        figures.extend(plot_runs(result, analysis, llc, p))
    if out is not None:
        import matplotlib.pyplot as plt  # deferred: matplotlib loads only when a figure is asked for

        fig, ax = plt.subplots(figsize=(7, 5))
        plot_loss_complexity(catalogue, sgd_transitions=d["transitions"], ax=ax)
        figures.extend(save_figure(fig, out / "sgd_transitions_loss_llc"))
        plt.close(fig)
    return figures


def _print_summary(args, config, d: dict, summary: dict) -> None:
    """The human-readable report of :func:`run`."""
    from theory.sgd_analysis import format_sign_counts  # deferred: CLI start-up time

    print(f"{args.runs} runs, {config.total_steps} steps each (SGD {summary['timings']['sgd_s']:.1f} s)")
    print(f"fraction of checkpoints on catalogue plateaus: {d['fraction_on_plateaus']:.3f} "
          f"(matched to a catalogue point: {d['fraction_matched']:.3f})")
    print("transitions:")
    for t in d["transitions"] or []:
        print(f"  {t['from']:>20} -> {t['to']:<20} x {t['count']}")
    if not d["transitions"]:
        print("  none")
    print(f"5/5+ -> 6 transitions: {summary['five_to_six']}")
    print("final phases: " + ", ".join(f"{k}: {v}" for k, v in d["final_phases"].items()))
    a = d["antecedent"]
    th = a["theory"]
    print(f"antecedent check over {a['n_transitions']} transitions (loss down & LLC up):")
    print(f"  catalogue LLC: {format_sign_counts(th)}")
    if a["estimated"] is not None:
        print(f"  SGLD LLC:      {format_sign_counts(a['estimated'])}")
    for f in summary["figures"]:
        print(f"figure: {f}")
