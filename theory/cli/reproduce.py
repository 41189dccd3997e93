"""Run the whole reproduction (catalogue, theory, posterior, SGD, comparison) and write a report."""

from __future__ import annotations

from kgon.io import dumps_json
from theory.cli.args import nonnegative_int, output_dir

NAME = "reproduce"


def add_arguments(parser) -> None:
    parser.add_argument("--out", type=output_dir, required=True, metavar="DIR", help="output directory (resumable)")
    parser.add_argument("--quick", action="store_true", help="small, fast default run (< 10 min on 2 cores)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="master seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")


def run(args) -> int:
    from theory.reproduce import reproduce  # deferred: CLI start-up time

    res = reproduce(args.out, quick=args.quick, seed=args.seed, quiet=args.json)
    if args.json:
        print(dumps_json(res.to_dict()))
    else:
        print(f"report: {res.report}")
        if res.n_critical_5_6 is not None:
            print(f"theory: 5 -> 6 Bayesian transition at n = {res.n_critical_5_6:.1f}")
        if res.comparison is not None:
            for c in res.comparison.crossings:
                obs = "not bracketed" if c.observed is None else f"{c.observed:.0f}"
                print(f"crossing {c.from_label} -> {c.to_label}: predicted {c.predicted:.0f}, observed {obs}")
    return 0
