"""Bayesian phase transitions of the critical-point catalogue (theory.transitions)."""

from __future__ import annotations

import json

NAME = "transitions"


def add_arguments(parser) -> None:
    parser.add_argument("--c", type=int, required=True, help="number of features (>= 2)")
    parser.add_argument("--r", type=int, default=2, help="hidden dimension (default 2)")
    parser.add_argument(
        "--all", action="store_true",
        help="list every pairwise crossing, not only those between globally dominant phases",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    from kgon import default_catalogue
    from kgon.validation import check_rc

    from theory.free_energy import transitions

    check_rc(r=args.r, c=args.c)
    cat = default_catalogue(args.c, r=args.r)
    ts = [t for t in transitions(cat) if args.all or t.globally_dominant]
    if args.json:
        print(json.dumps({"c": args.c, "r": args.r, "transitions": [t.to_dict() for t in ts]}))
        return 0
    print(f"{'from':<10}{'to':<10}{'n_critical':>12}  type  {'dL':>10}{'dlambda':>9}{'dc':>9}")
    for t in ts:
        print(
            f"{t.from_label:<10}{t.to_label:<10}{t.n_critical:>12.1f}  {t.kind:<5} "
            f"{t.d_loss:>10.5f}{t.d_llc:>9.2f}{t.d_constant:>9.4f}"
        )
    if not ts:
        print("no transitions")
    return 0
