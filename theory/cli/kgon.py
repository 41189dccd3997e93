"""Regular k-gon critical points of the TMS potential (kgon.kgon)."""

from __future__ import annotations

import json

NAME = "kgon"


def add_arguments(parser) -> None:
    parser.add_argument("--k", type=int, required=True, help="number of polygon vertices (2 <= k <= c)")
    parser.add_argument("--c", type=int, required=True, help="number of features (>= 2)")
    parser.add_argument("--r", type=int, default=2, help="hidden dimension (default 2)")
    parser.add_argument("--sigma-plus", type=int, default=0, help="dead columns with positive bias 1/(2c)")
    parser.add_argument("--sigma-minus", type=int, default=0, help="live columns with output-off bias")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    from kgon import kgon

    res = kgon(args.k, args.c, sigma_plus=args.sigma_plus, sigma_minus=args.sigma_minus, r=args.r)
    if args.json:
        print(json.dumps(res.to_dict()))
        return 0
    if not res.exists:
        print(f"no {args.k}-gon critical point at c = {args.c}: {res.reason}")
        return 0
    print(f"{'name':<10}{'length':>12}{'bias':>12}{'loss':>12}{'|grad|':>11}  off vertices")
    for s in res.solutions:
        print(
            f"{s.name:<10}{s.length:>12.6f}{s.bias_value:>12.6f}{s.loss:>12.6f}{s.grad_norm:>11.1e}  "
            f"{list(s.off_vertices) or '-'}"
        )
    return 0
