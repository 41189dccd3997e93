"""The general-TMS flags of ``tmsphase sgd``, ``llc`` and ``posterior``, and what those commands do with them.

``--sparsity S`` (input density: each feature active with probability 1 - S, uniform on [0, s_i]),
``--importance I1,...,Ic`` (output weights of the loss) and ``--input-scale s1,...,sc`` (input scales,
x_i = s_i u_i; the extension study of docs/general.md scales its inputs by its "importance") select the
general model of Elhage et al. (2022) (docs/general.md). Without them every command works on the
high-sparsity model of the paper; with any of them:

- ``sgd`` trains the runs with those settings (``sampling.SGDConfig``) and finds the plateaus of every
  run. There is no catalogue of the general model, so plateaus are reported as found (loss, live
  columns), not matched. LLCs are estimated on request only: with ``--llc-per-plateau k`` > 0, by
  calibrated SGLD at the last k checkpoints of each plateau
  (:func:`theory.sweeps.kinds.general_sgd.analyze_general_run`, the code of the ``general_sgd`` sweep
  kind), announced on stderr with a progress bar; each estimate is a calibration sweep plus a run.
- ``llc`` estimates the LLC at the catalogue point (the high-sparsity catalogue at (c, r)) of the
  importance-weighted empirical loss on a data set of the general density
  (``sampling.estimate_llc`` with :func:`sampling.general_loss_fn`; no centre refinement: with these
  flags the point need not be a critical point, and the estimator flags chains that escape).
- ``posterior`` runs NUTS on the general posterior (:func:`sampling.general_posterior`) for every n and
  reports the chain diagnostics (split R-hat and ESS of the loss, divergences) and the mean loss; there is
  no phase classification without a catalogue.
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np

from kgon.io import dumps_json, finite_or_none
from theory.cli.args import check_feature_list, comma_floats, fail, sparsity

__all__ = ["add_general_arguments", "check_general", "general_llc", "general_requested",
           "run_general_posterior", "run_general_sgd"]


def add_general_arguments(parser) -> None:
    """``--sparsity``, ``--importance``, ``--input-scale`` (defaults None: the high-sparsity model)."""
    parser.add_argument("--sparsity", type=sparsity, default=None, metavar="S",
                        help="input sparsity S in [0, 1): each feature active with probability 1 - S "
                             "(default: the high-sparsity limit, one active feature per input)")
    parser.add_argument("--importance", type=comma_floats(0.0), default=None, metavar="I1,...,Ic",
                        help="feature importance: output weights I_j > 0 of the loss, one per feature (default all 1)")
    parser.add_argument("--input-scale", type=comma_floats(0.0), default=None, metavar="s1,...,sc",
                        help="input scales s_i > 0, x_i = s_i u_i, one per feature (default all 1)")


def general_requested(args) -> bool:
    """Whether any general-model flag was given."""
    return any(getattr(args, k, None) is not None for k in ("sparsity", "importance", "input_scale"))


def check_general(args) -> None:
    """One value per feature in ``--importance`` and ``--input-scale`` (one-line error, exit 2)."""
    check_feature_list(args, "--importance", args.importance, args.c)
    check_feature_list(args, "--input-scale", args.input_scale, args.c)


def _tuple(values):
    return None if values is None else tuple(float(v) for v in values)


def _model(args) -> dict:
    return {"sparsity": args.sparsity, "importance": args.importance, "input_scale": args.input_scale}


# --------------------------------------------------------------------------------------------------
# sgd


def run_general_sgd(args) -> int:
    """``tmsphase sgd`` with general-model flags (module docstring)."""
    # deferred: CLI start-up time (torch, jax)
    from pathlib import Path

    import sampling
    from kgon.io import write_json_atomic
    from sampling.dynamics.sgd import sgd_run_key, train_or_load
    from theory.cli.common import sgd_store
    from theory.sweeps.kinds.general_sgd import analyze_general_run

    check_general(args)
    config = sampling.SGDConfig(c=args.c, r=args.r, n=args.n, batch_size=args.batch_size, lr=args.lr,
                                epochs=args.epochs, init_k=args.init_k, checkpoints=args.checkpoints,
                                sparsity=args.sparsity, importance=_tuple(args.importance),
                                input_scale=_tuple(args.input_scale))
    seeds = list(range(args.seed, args.seed + args.runs))
    out = Path(args.out) if args.out else None
    key = sgd_run_key(config, seeds)
    result, _ = train_or_load(config, seeds, sgd_store(out), progress=args.progress)  # DIR/sgd-runs, reused
    k = args.llc_per_plateau
    if k > 0 and not args.json:
        print(f"[tmsphase sgd] calibrated SGLD LLC at the last {k} checkpoint(s) of every plateau "
              f"(--llc-per-plateau {k}; minutes per run)", file=sys.stderr, flush=True)
    runs = [analyze_general_run(result, i, seed=args.seed, llc_per_plateau=k if k > 0 else None,
                                llc_checkpoints=0 if k == 0 else None, progress=k > 0 and not args.json)
            for i in range(result.runs)]
    figures = []
    if args.plot or out is not None:
        # deferred: matplotlib loads only when a figure is asked for
        import matplotlib.pyplot as plt

        from kgon.plot import save_figure
        from theory.plot import plot_general_sgd_run

        for run in runs:
            fig = plot_general_sgd_run(run, title=f"c = {args.c}, r = {args.r}, seed {run['seed']}")
            targets = []
            if args.plot:
                p = Path(args.plot)
                targets.append(p if len(runs) == 1 else p.with_name(f"{p.stem}-run{run['seed']}{p.suffix}"))
            if out is not None:
                targets.append(out / f"sgd_general-{key}-run{run['seed']}.png")
            for t in targets:
                figures.extend(save_figure(fig, t))
            plt.close(fig)
    summary = {"c": args.c, "r": args.r, "config": config.to_dict(), "seeds": seeds, **_model(args),
               "runs": [{k2: v for k2, v in run.items() if k2 not in ("W", "b")} for run in runs],
               "figures": figures}
    if out is not None:
        write_json_atomic(out / f"analysis-general-{key}.json", summary)
    if args.json:
        print(dumps_json(summary))
        return 0
    print(f"{args.runs} runs, {config.total_steps} steps each; sparsity {args.sparsity}, importance "
          f"{args.importance}, input scale {args.input_scale}")
    for run in runs:
        pls = ", ".join(f"steps {p['first_step']}..{p['last_step']} L = {p['loss']:.4g} ({p['live_columns']} live"
                        + ("" if p["llc"] is None else f", LLC {p['llc']:.2f}") + ")" for p in run["plateaus"])
        print(f"seed {run['seed']}: final L = {run['loss'][-1]:.5g}; plateaus: {pls or 'none'}")
        nan = [e for e in run["llc"] if e["llc"] is None]
        if nan:
            print(f"  {len(nan)} of {len(run['llc'])} LLC estimates NaN: {nan[0]['reason'][:120]}")
    for f in figures:
        print(f"figure: {f}")
    return 0


# --------------------------------------------------------------------------------------------------
# llc


def general_llc(args, point, config, calibrate: bool, k_data, k_chain):
    """The calibrated (or fixed-step) SGLD estimate at ``point`` on the general model (module docstring):
    an :class:`sampling.LLCResult` whose context carries ``refined = False``; ``config`` is the
    :class:`sampling.SGLDConfig` (eps default 0.02 / (n beta) when not calibrating)."""
    # deferred: CLI start-up time (jax, torch)
    import sampling
    from sampling.general import general_loss_fn, make_general_dataset

    check_general(args)
    if args.batch_size is not None and args.batch_size > args.n:
        fail(args, "--batch-size", f"must be an integer in 1..n = {args.n}; got {args.batch_size}.")
    data = make_general_dataset(k_data, args.n, args.c, sparsity=args.sparsity, input_scale=args.input_scale)
    loss_fn = general_loss_fn(_tuple(args.importance))
    if not calibrate and config.eps is None:
        config = dataclasses.replace(config, eps=0.02 / sampling.default_nbeta(args.n))
    res = sampling.estimate_llc(k_chain, loss_fn, (point.W, point.b), data.X, n=args.n, calibrate=calibrate,
                                config=config)
    return dataclasses.replace(res, context=dict(res.context, refined=False, **_model(args)))


# --------------------------------------------------------------------------------------------------
# posterior


def run_general_posterior(args) -> int:
    """``tmsphase posterior`` with general-model flags: NUTS diagnostics per n (module docstring)."""
    # deferred: CLI start-up time (jax, numpyro)
    import jax

    from sampling.general import general_posterior, make_general_dataset

    check_general(args)
    if args.plot is not None:
        fail(args, "--plot", "draws the phase-occupancy curve, which needs a catalogue; there is none with "
                             "--sparsity/--importance/--input-scale (use --json for the diagnostics).")
    if args.method != "nuts":
        fail(args, "--method", f"must be 'nuts' with --sparsity/--importance/--input-scale; got {args.method!r}.")
    data_seed = args.seed if args.data_seed is None else args.data_seed
    results = []
    for n in args.n:
        data = make_general_dataset(jax.random.fold_in(jax.random.PRNGKey(data_seed), n), n, args.c,
                                    sparsity=args.sparsity, input_scale=args.input_scale)
        post = general_posterior(jax.random.fold_in(jax.random.PRNGKey(args.seed), n), data, r=args.r,
                                 importance=args.importance, chains=args.chains, warmup=args.warmup,
                                 samples=args.samples, progress=not args.no_progress)
        d = post.diagnostics
        results.append({"n": n, "method": "nuts", "rhat_loss": finite_or_none(d.rhat_loss),
                        "ess_loss": finite_or_none(d.ess_loss),
                        "divergences": int(d.divergences), "loss_mean": finite_or_none(np.mean(post.loss)),
                        "loss_std": finite_or_none(np.std(post.loss))})
    if args.json:
        print(dumps_json({"c": args.c, "r": args.r, "ns": list(args.n), **_model(args), "seed": args.seed,
                          "data_seed": data_seed, "config": {"chains": args.chains, "warmup": args.warmup,
                                                             "samples": args.samples}, "results": results}))
        return 0
    print(f"general posterior (NUTS), c = {args.c}, r = {args.r}, sparsity {args.sparsity}, importance "
          f"{args.importance}, input scale {args.input_scale}")
    print(f"{'n':>7} {'mean L_n':>10} {'sd':>9} {'rhat':>7} {'ess':>8} {'div':>5}")
    for r in results:
        rhat = "nan" if r["rhat_loss"] is None else f"{r['rhat_loss']:.3f}"
        ess = "nan" if r["ess_loss"] is None else f"{r['ess_loss']:.0f}"
        print(f"{r['n']:>7} {r['loss_mean']:>10.5f} {r['loss_std']:>9.5f} {rhat:>7} {ess:>8} {r['divergences']:>5}")
    print("no phase occupancy: the general model has no catalogue", file=sys.stderr)
    return 0
