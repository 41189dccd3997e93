"""Critical points of the TMS potential: search, certify, name, LLC and constant (kgon.find_critical_points).

With the default search settings (``--seed 0``, no ``--n-starts``, no ``--all-saddles``) the cached
default catalogue (``kgon.default_catalogue``) is used, so repeated calls are instant.
``--importance I1,...,Ic`` searches the potential with feature importance (output weights; docs/general.md):
one finite value > 0 per feature; all ones is the uniform model. ``--input-dist point`` searches the
point-input potential (every input at mu = 1, the memorization setting with c = T examples;
docs/failure.md, Memorization); the default ``uniform`` is the TMS.
"""

from __future__ import annotations

import dataclasses
import math

from kgon.io import dumps_json
from theory.cli.args import (
    check_feature_list,
    comma_floats,
    finite_float,
    int_range,
    nonnegative_int,
    output_file,
    positive_int,
    require_memory,
    search_bytes,
)

NAME = "critical-points"

_PER_CATALOGUE = ("c", "r", "zero_modes", "llc_numerical_err")
"""Keys of ``CriticalPoint.to_dict`` left out of each point's entry (c and r are given once, at the top)."""


def add_arguments(parser) -> None:
    parser.add_argument("--c", type=int_range(2), required=True, help="number of features (>= 2)")
    parser.add_argument("--r", type=positive_int, default=2, help="hidden dimension (default 2)")
    parser.add_argument("--importance", type=comma_floats(0.0), default=None, metavar="I1,...,Ic",
                        help="feature importance: output weights I_j > 0, one per feature (default all 1)")
    parser.add_argument("--input-dist", choices=("uniform", "point"), default="uniform",
                        help="inputs mu ~ U[0, 1] (uniform, default) or every input at mu = 1 (point: memorization)")
    parser.add_argument("--max-loss", type=finite_float(), default=None, help="keep only points with loss <= X")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the search (default 0)")
    parser.add_argument("--n-starts", type=positive_int, default=None, help="number of starts (default 200 c)")
    parser.add_argument(
        "--all-saddles",
        action="store_true",
        help="keep irregular saddles of every Hessian index (default: regular polygons and minima only)",
    )
    parser.add_argument("--json", action="store_true",
                        help='print {"c", "r", ..., "critical_points": [...]} sorted by loss')
    parser.add_argument("--csv", type=output_file, default=None, metavar="PATH", help="also write the catalogue as CSV")
    parser.add_argument(
        "--plot", type=output_file, default=None, metavar="PATH",
        help="write the energy-level diagram and loss-vs-LLC scatter (PNG + PDF)",
    )


def run(args) -> int:
    import kgon  # deferred: CLI start-up time (jax, sympy)

    check_feature_list(args, "--importance", args.importance, args.c)
    require_memory(args, "--c", search_bytes(args.c, args.r),
                   f"the critical-point search at c = {args.c}, r = {args.r}")
    if args.n_starts is not None:
        require_memory(args, "--n-starts", search_bytes(args.c, args.r, args.n_starts),
                       f"the critical-point search with {args.n_starts} starts")
    if args.seed == 0 and args.n_starts is None and not args.all_saddles:
        cat = kgon.default_catalogue(args.c, r=args.r, importance=args.importance, input_dist=args.input_dist)
        if args.max_loss is not None:
            cat = _filtered(cat, args.max_loss)
    else:
        cat = kgon.find_critical_points(
            args.c,
            r=args.r,
            n_starts=args.n_starts,
            seed=args.seed,
            max_loss=args.max_loss,
            max_index=None if args.all_saddles else 0,
            importance=args.importance,
            input_dist=args.input_dist,
        )
    if args.csv:
        cat.to_csv(args.csv)
    if args.plot:
        from kgon.plot import plot_catalogue  # deferred: matplotlib loads only when a figure is asked for

        plot_catalogue(cat, args.plot)
    if args.json:
        pts = []
        for p in cat.points:
            d = p.to_dict()
            pts.append({k: v for k, v in d.items() if k not in _PER_CATALOGUE})  # dumps_json: NaN -> null
        print(
            dumps_json(
                {
                    "c": cat.c,
                    "r": cat.r,
                    **({} if cat.importance is None else {"importance": list(cat.importance)}),
                    **({} if cat.input_dist == "uniform" else {"input_dist": cat.input_dist}),
                    "seed": cat.seed,
                    "n_starts": cat.n_starts,
                    "n_converged": cat.n_converged,
                    "critical_points": pts,
                }
            )
        )
        return 0
    imp = "" if cat.importance is None else ", importance " + ",".join(f"{v:g}" for v in cat.importance)
    imp += "" if cat.input_dist == "uniform" else f", {cat.input_dist} inputs"
    print(
        f"c = {cat.c}, r = {cat.r}{imp}: {len(cat)} critical points "
        f"({cat.n_converged} of {cat.n_starts} starts certified, seed {cat.seed})"
    )
    print(
        f"{'label':<20}{'loss':>10}{'llc':>8}{'+-':>7}  {'method':<18}{'constant':>10}{'mult':>6}  "
        f"{'signature':<12}{'C2':>3}"
    )
    for p in cat.points:
        sig = "/".join(str(x) for x in p.hessian_signature)
        llc = f"{p.llc:8.3f}" if math.isfinite(p.llc) else f"{'n/a':>8}"
        err = f"{p.llc_err:7.3f}" if math.isfinite(p.llc_err) else f"{'':>7}"
        print(
            f"{p.label:<20}{p.loss:>10.6f}{llc}{err}  {p.llc_method:<18}{p.constant:>10.5f}{p.multiplicity:>6}  "
            f"{sig:<12}{'yes' if p.smooth else 'no':>3}"
        )
    return 0


def _filtered(cat, max_loss: float):
    return dataclasses.replace(cat, points=tuple(p for p in cat.points if p.loss <= max_loss), max_loss=max_loss)
