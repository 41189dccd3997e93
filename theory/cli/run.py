"""Run a sweep from a TOML experiment file, resumably, locally or on a Dask cluster.

``tmsphase run FILE --out DIR [--executor local|dask] [--workers K | --scheduler ADDRESS] [--json]``

Finished tasks are stored one file each under DIR and reused by a re-run (after a crash, a kill or
with a larger grid). ``--json`` prints the output of the matching command (``{"results": [...]}``
for the posterior and potential kinds, the SGD analysis for the sgd kind) plus the task counts
``resumed_tasks``, ``computed_tasks``, ``corrupt_tasks``, ``failed_tasks`` and ``total_tasks``.
See docs/sweeps.md.
"""

from __future__ import annotations

import sys

from kgon.io import dumps_json
from theory.cli.args import existing_file, output_dir, positive_int

NAME = "run"


def add_arguments(parser) -> None:
    parser.add_argument("file", type=existing_file, metavar="FILE", help="experiment file (TOML, see docs/sweeps.md)")
    parser.add_argument("--out", type=output_dir, required=True, metavar="DIR",
                        help="result store directory (created; reused on re-runs)")
    parser.add_argument(
        "--executor",
        choices=("local", "dask"),
        default=None,
        help="where tasks run (default: local processes; dask when --scheduler is given)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=positive_int,
        metavar="K",
        help="worker processes (local; 1 = in this process) or LocalCluster workers (dask); default: CPU count",
    )
    where.add_argument(
        "--scheduler", metavar="ADDRESS", help="address of a running Dask scheduler (e.g. from dask-jobqueue)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _sgd_lines(a: dict) -> list[str]:
    """A merged SGD analysis in a few lines."""
    from theory.sgd_analysis import format_sign_counts  # deferred: CLI start-up time (numpy)

    frac = a.get("fraction_on_plateaus")
    lines = [
        f"{a['runs']} runs (seeds {a['seeds'][0]}..{a['seeds'][-1]}), diverged {a.get('diverged_runs', 0)}; "
        f"fraction of checkpoints on catalogue plateaus: {'n/a' if frac is None else f'{frac:.3f}'}",
        "  transitions: " + (", ".join(f"{t['from']} -> {t['to']} x{t['count']}" for t in a["transitions"]) or "none"),
        "  final phases: " + ", ".join(f"{k}: {v}" for k, v in a["final_phases"].items()),
    ]
    ante = a["antecedent"]
    th = ante["theory"]
    lines.append(f"  antecedent ({ante['n_transitions']} transitions): catalogue LLC {format_sign_counts(th)}")
    if ante.get("estimated") is not None:
        lines.append(f"  SGLD LLC {format_sign_counts(ante['estimated'])}")
    return lines


def _general_lines(output: dict) -> list[str]:
    """A general_sgd sweep: per grid point, final losses, plateaus and LLC counts."""
    lines = []
    for point in output["results"]:
        sgd, s = point["sgd"], point["summary"]
        head = " ".join(f"{k}={sgd[k]}" for k in ("c", "r", "sparsity", "importance", "input_scale")
                        if sgd.get(k) is not None)
        lines.append(head + f"  runs {len(s['seeds'])}, diverged {s['diverged_runs']}, final L "
                     + ", ".join("nan" if v is None else f"{v:.4g}" for v in s["final_loss"]))
        for seed, pls in zip(s["seeds"], s["plateaus"]):
            lines.append(f"  seed {seed} plateaus: " + (", ".join(
                f"[{p['steps'][0]}..{p['steps'][1]}] L={p['loss']:.4g} "
                + (p["label"] if p["label"] is not None else f"{p['live_columns']} live")
                + ("" if p["llc"] is None else f" llc={p['llc']:.2f}") for p in pls) or "none"))
        llc = s["llc"]
        lines.append(f"  LLC: {llc['finite']} of {llc['estimates']} estimates finite; NaN by reason "
                     f"{llc['nan_reasons'] or '{}'}; excluded chains {llc['excluded_chains'] or '{}'}")
    return lines


def _table(output: dict, kind: str) -> str:
    """Human-readable rows of the aggregated output."""
    if kind == "general_sgd":
        return "\n".join(_general_lines(output))
    if kind == "sgd":
        parts = output["results"] if "results" in output else [output]
        lines = []
        for a in parts:
            if len(parts) > 1:
                lines.append(" ".join(f"{k}={v}" for k, v in a["sgd"].items()
                                      if k in ("c", "n", "lr", "batch_size", "epochs")))
            lines.extend(_sgd_lines(a))
        return "\n".join(lines)
    rows = output["results"]
    lines = []
    if kind == "potential":
        lines.append(f"{'c':>3} {'r':>2} {'n':>7} {'rep':>3} {'loss_mean':>10} {'loss_min':>9} {'F_n':>10} "
                     f"{'+-':>8} {'ess':>9}")
        for e in rows:
            lines.append(
                f"{e['c']:>3} {e['r']:>2} {e['n']:>7} {e['replicate']:>3} {e['loss_mean']:>10.5f} "
                f"{e['loss_min']:>9.5f} "
                f"{e['free_energy']:>10.4f} {e['free_energy_err']:>8.4f} {e['ess']:>9.1f}"
            )
        return "\n".join(lines)
    for e in rows:
        head = " ".join(f"{k}={e[k]}" for k in ("c", "n", "method", "replicate") if k in e)
        occ = e.get("occupancy")
        if isinstance(occ, dict):
            top = sorted(occ.items(), key=lambda kv: -kv[1])[:4]
            err = e.get("occupancy_err") or {}
            head += "  " + ", ".join(f"{k}: {v:.3f}+-{err.get(k, float('nan')):.3f}" for k, v in top)
        extra = " ".join(f"{k}={e[k]:.4g}" if isinstance(e[k], float) else f"{k}={e[k]}"
                         for k in ("rhat_loss", "ess_loss", "divergences") if k in e)
        lines.append(f"{head}  {extra}".rstrip())
    return "\n".join(lines)


def run(args) -> int:
    # deferred: CLI start-up time (the task kinds load numpy; an executor may load dask)
    from theory.sweeps.executor import make_executor
    from theory.sweeps.experiment import load_experiment
    from theory.sweeps.sweep import SweepError, run_sweep

    experiment = load_experiment(args.file)
    if args.scheduler is not None and args.executor == "local":
        raise ValueError("`--scheduler` names a Dask scheduler; it needs `--executor dask`.")
    kind = "dask" if args.scheduler is not None else (args.executor or "local")
    with make_executor(kind, workers=args.workers, scheduler=args.scheduler) as executor:
        try:
            result = run_sweep(experiment, args.out, executor=executor, progress=not args.no_progress)
        except KeyboardInterrupt:
            print(
                f"tmsphase run: interrupted; finished tasks are stored in {args.out}, "
                "run the same command again to resume.",
                file=sys.stderr,
            )
            return 130
        except SweepError as exc:
            print(exc.result.summary(), file=sys.stderr)
            print(f"tmsphase run: error: {exc}", file=sys.stderr)
            if args.json:
                print(dumps_json(exc.result.to_dict(), indent=1, sort_keys=True))
            return 1
    figures = []
    if experiment.task_kind.report is not None:  # e.g. general_sgd: one figure per run, in the store directory
        from theory.sweeps.schema import resolve  # deferred: CLI start-up time

        figures = resolve(experiment.task_kind.report)(result.output, args.out, name=experiment.name)
    if args.json:
        print(dumps_json(dict(result.to_dict(), figures=figures), indent=1, sort_keys=True))
    else:
        print(_table(result.output, experiment.kind))
        print(result.summary())
        for f in figures:
            print(f"figure: {f}")
    return 0
