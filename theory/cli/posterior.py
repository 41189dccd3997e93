"""Posterior phase occupancy over sample sizes n (NUTS or parallel tempering).

``tmsphase posterior --c C --n N1,N2,... [--chains K] [--warmup W] [--samples S]
[--method nuts|tempered] [--seed S] --out DIR [--json]``

For every n: draw the data set (by default all n share one data stream, so D_n are nested), sample
the posterior phi(w) exp(-n L_n(w)) (SCIENCE.md §4), classify the draws into the phases of
``kgon.default_catalogue(c)`` and write ``DIR/posterior-n<N>-<method>-<hash>.nc`` (arviz
InferenceData) and ``.csv`` (occupancy per phase) atomically. A re-run skips every n whose two
files exist for the same settings. ``--json`` prints ``{"results": [{"n", "method", "occupancy",
"occupancy_err", "rhat_loss", "ess_loss", "divergences"}, ...]}``. Built on
``sampling.run_occupancy``; see docs/sampling.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

NAME = "posterior"


def _n_list(text: str) -> list[int]:
    out = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            v = int(part)
        except ValueError:
            raise ValueError(f"`--n` must be a comma-separated list of positive integers; got {text!r}.") from None
        if v <= 0:
            raise ValueError(f"`--n` values must be positive integers; got {v}.")
        out.append(v)
    if not out:
        raise ValueError(f"`--n` must list at least one sample size; got {text!r}.")
    return out


def add_arguments(parser) -> None:
    parser.add_argument("--c", type=int, required=True, help="number of features (>= 2)")
    parser.add_argument("--n", required=True, metavar="N1,N2,...", help="sample sizes (comma-separated)")
    parser.add_argument("--chains", type=int, default=4, help="NUTS chains / tempering ladders (default 4)")
    parser.add_argument("--warmup", type=int, default=500, help="warmup transitions per chain (default 500)")
    parser.add_argument("--samples", type=int, default=500, help="recorded transitions per chain (default 500)")
    parser.add_argument("--method", default="nuts", help="nuts (independent chains) or tempered (parallel tempering)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--data-seed", type=int, default=None,
        help="seed of the data stream (default: --seed; every n uses the first n samples of the stream)",
    )
    parser.add_argument("--init", default="prior", help="chain initialisation: prior (default) or catalogue")
    parser.add_argument("--threshold", type=float, default=None, help="classification threshold (default max(0.5, 25/sqrt(n)))")
    parser.add_argument("--n-temps", type=int, default=None, help="tempering ladder size (default ~2.5 ln n)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory (created; reused on re-runs)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _validate(args) -> tuple[list[int], Path]:
    from kgon.validation import check_int
    from sampling.mcmc.occupancy import METHODS

    check_int("c", args.c, minimum=2)
    ns = _n_list(args.n)
    check_int("chains", args.chains, minimum=1)
    check_int("warmup", args.warmup, minimum=0)
    check_int("samples", args.samples, minimum=1)
    check_int("seed", args.seed, minimum=0)
    if args.data_seed is not None:
        check_int("data_seed", args.data_seed, minimum=0)
    if args.method not in METHODS:
        raise ValueError(f"`--method` must be one of {list(METHODS)}; got {args.method!r}.")
    if args.init not in ("prior", "catalogue"):
        raise ValueError(f"`--init` must be 'prior' or 'catalogue'; got {args.init!r}.")
    if args.threshold is not None and not args.threshold > 0:
        raise ValueError(f"`--threshold` must be a positive number; got {args.threshold!r}.")
    if args.n_temps is not None:
        check_int("n_temps", args.n_temps, minimum=1)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"`--out` must be a directory; got the file {str(out)!r}.")
    return ns, out


def _task_config(args, n: int) -> dict:
    return {
        "c": args.c, "n": n, "method": args.method, "chains": args.chains, "warmup": args.warmup,
        "samples": args.samples, "seed": args.seed,
        "data_seed": args.seed if args.data_seed is None else args.data_seed,
        "init": args.init, "threshold": args.threshold, "n_temps": args.n_temps, "r": 2,
    }


def run(args) -> int:
    ns, out = _validate(args)
    out.mkdir(parents=True, exist_ok=True)

    import kgon
    import sampling
    import jax
    from sampling import io as sio

    progress = not args.no_progress
    catalogue = None
    results = []
    from tqdm.auto import tqdm

    for n in tqdm(ns, desc="posterior", unit="n", disable=not progress or len(ns) < 2):
        cfg = _task_config(args, n)
        if sio.is_complete(out, cfg):
            results.append(sio.load_result(out, cfg))
            continue
        if catalogue is None:
            catalogue = kgon.default_catalogue(args.c)
        res = sampling.run_occupancy(
            jax.random.fold_in(jax.random.PRNGKey(args.seed), n),
            c=args.c, n=n, method=args.method, chains=args.chains, warmup=args.warmup, samples=args.samples,
            catalogue=catalogue, data_seed=cfg["data_seed"], init=args.init, threshold=args.threshold,
            n_temps=args.n_temps, progress=progress,
        )
        nc, csv_path = sio.task_paths(out, cfg)
        sio.write_netcdf(res.idata, nc)
        sio.write_occupancy_csv(res, csv_path)  # written last: its presence marks the task complete
        results.append(res.to_dict())
    if args.json:
        print(json.dumps({"results": results}))
        return 0
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
    print(f"files in {out}", file=sys.stderr)
    return 0
