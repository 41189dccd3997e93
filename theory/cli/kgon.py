"""Regular k-gon critical points of the TMS potential (kgon.kgon).

``tmsphase kgon --k K --c C [--r R] [--sigma-plus P] [--sigma-minus M] [--json] [--plot PATH]`` prints
every certified regular k^{sigma+, sigma-}-gon critical point; ``--json`` prints
``kgon.KgonResult.to_dict()`` (k, c, r, sigma_plus, sigma_minus, exists, solutions); ``--plot PATH``
draws each solution's columns of W and its biases (PNG and PDF next to each other).
``--input-dist point`` (every input at mu = 1, memorization; docs/failure.md) prints the zero-loss polygon
of ``kgon.memorization_kgon`` instead (k >= 3, no ``--sigma-minus``): the resultant solver is built for
uniform inputs, and the point-input polygons are known in closed form.
"""

from __future__ import annotations

import sys

from kgon.io import dumps_json
from theory.cli.args import fail, int_range, nonnegative_int, output_file, positive_int, potential_bytes, require_memory

NAME = "kgon"


def add_arguments(parser) -> None:
    parser.add_argument("--k", type=int_range(2), required=True, help="number of polygon vertices (2 <= k <= c)")
    parser.add_argument("--c", type=int_range(2), required=True, help="number of features (>= 2)")
    parser.add_argument("--r", type=positive_int, default=2, help="hidden dimension (default 2)")
    parser.add_argument("--sigma-plus", type=nonnegative_int, default=0,
                        help="dead columns with positive bias 1/(2c) (0 <= P <= c - k)")
    parser.add_argument("--sigma-minus", type=nonnegative_int, default=0,
                        help="live columns with output-off bias (0 <= M <= k)")
    parser.add_argument("--input-dist", choices=("uniform", "point"), default="uniform",
                        help="inputs mu ~ U[0, 1] (uniform, default) or every input at mu = 1 (point: memorization)")
    parser.add_argument("--json", action="store_true", help="print kgon.KgonResult.to_dict() as one JSON object")
    parser.add_argument("--plot", type=output_file, default=None, metavar="PATH",
                        help="draw the polygon(s): columns of W and biases (PNG + PDF)")


def run(args) -> int:
    from kgon import kgon  # deferred: CLI start-up time (sympy, jax)

    if args.k > args.c:
        fail(args, "--k", f"must be an integer in 2..c = {args.c}; got {args.k}.")
    if args.sigma_plus > args.c - args.k:
        fail(args, "--sigma-plus", f"must be an integer in 0..c - k = {args.c - args.k}; got {args.sigma_plus}.")
    if args.sigma_minus > args.k:
        fail(args, "--sigma-minus", f"must be an integer in 0..k = {args.k}; got {args.sigma_minus}.")
    if args.input_dist == "point" and args.k < 3:
        fail(args, "--k", f"must be an integer in 3..c = {args.c} with --input-dist point; got {args.k}.")
    if args.input_dist == "point" and args.sigma_minus:
        fail(args, "--sigma-minus", f"must be 0 with --input-dist point (output-off vertices form flat families); "
                                    f"got {args.sigma_minus}.")
    if args.input_dist == "point" and args.r < 2:
        fail(args, "--r", f"must be an integer >= 2 with --input-dist point; got {args.r}.")
    require_memory(args, "--c", potential_bytes(args.c), f"the potential at c = {args.c}")
    if args.input_dist == "point":
        from kgon import memorization_kgon  # deferred: CLI start-up time (jax)

        res = memorization_kgon(args.k, args.c, r=args.r, sigma_plus=args.sigma_plus)
    else:
        res = kgon(args.k, args.c, sigma_plus=args.sigma_plus, sigma_minus=args.sigma_minus, r=args.r)
    figures = []
    if args.plot is not None and res.exists:
        from kgon.plot import plot_polygons  # deferred: matplotlib loads only when a figure is asked for

        figures = plot_polygons(res.solutions, args.plot)
    elif args.plot is not None:
        print(f"tmsphase kgon: no figure written: no {args.k}-gon critical point to draw", file=sys.stderr)
    if args.json:
        print(dumps_json(res.to_dict()))
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
    for f in figures:
        print(f"figure: {f}")
    return 0
