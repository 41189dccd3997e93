"""Theory versus posterior: predicted and observed phase occupancy and crossings, for both orders.

``tmsphase compare --posterior DIR|FILE [--order leading|refined|both] [--beta B] [--data-seed K]
[--c C] [--level L] [--json] [--plot PATH]``

Reads what ``tmsphase posterior --out DIR`` stored (its result store; a JSON file with
``{"results": [...]}`` as printed by ``tmsphase posterior --json`` works too) and compares it with
``theory.compare_occupancy`` under the leading-order and/or the refined free energy
(docs/free_energy.md). ``--data-seed K`` makes the refined prediction data-conditional on the data
stream the posterior run used (``tmsphase posterior --data-seed``; default: the population loss).
``--beta`` is the inverse temperature of the posterior (1 by default; 1/2 = unit-noise Gaussian).

With the refined order, both orders are compared on the phases it covers (smooth minima and flat
phases: 6, 5+, 5 and the 0-gon at c = 6) and the occupancies are conditional on them.
``--json`` with one order prints ``{"c", "beta", "data_seed", "order", "crossings": [{"from", "to",
"n_predicted", "n_observed", "interval", "level", "type"}], "max_abs_deviation",
"max_abs_deviation_n250", ...}`` (``OccupancyComparison.to_dict``); with ``--order both`` one such
object per order under ``"leading"`` and ``"refined"``. ``--plot PATH`` draws the observed occupancy
with both orders' predictions (PNG + PDF).
"""

from __future__ import annotations

import json
from pathlib import Path

from theory.cli.args import finite_float, int_range, output_file

NAME = "compare"


def add_arguments(parser) -> None:
    parser.add_argument("--posterior", required=True, metavar="DIR|FILE",
                        help="output directory of `tmsphase posterior` (or its --json output file)")
    parser.add_argument("--order", choices=("leading", "refined", "both"), default="both",
                        help="free energy of the prediction (default both)")
    parser.add_argument("--beta", type=finite_float(0, min_inclusive=False), default=1.0,
                        help="inverse temperature of the posterior (default 1; 0.5 = unit-noise Gaussian likelihood)")
    parser.add_argument("--data-seed", type=int_range(0), default=None,
                        help="data stream of the posterior run: data-conditional refined prediction")
    parser.add_argument("--refined-anneal", type=int_range(0), default=None, metavar="K",
                        help="data-conditional refined order: annealing targets of the non-Gaussian integral "
                             "(default 100, minutes per phase and n; 0: plain importance sampling, faster, "
                             "heavy-tailed below n ~ 500, docs/free_energy.md)")
    parser.add_argument("--c", type=int_range(2), default=6, help="number of features (default 6)")
    parser.add_argument("--level", type=finite_float(0, 1, min_inclusive=False, max_inclusive=False), default=0.95,
                        help="coverage of the observed crossing's interval (default 0.95)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot", type=output_file, default=None, metavar="PATH",
                        help="write the occupancy figure with both orders (PNG + PDF)")


def read_posterior(path) -> list[dict]:
    """Occupancy results (``OccupancyResult.to_dict`` structure) from a `tmsphase posterior` output
    directory (its result store; or the ``posterior`` store of a `tmsphase reproduce` directory) or a
    JSON file ``{"results": [...]}``."""
    from kgon.io import refuse_legacy
    from sampling.mcmc.io import LEGACY_PATTERNS, read_posterior_store

    p = Path(path)
    if p.is_dir():
        refuse_legacy(p, LEGACY_PATTERNS, argument="--posterior")
        results = read_posterior_store(p)
        if not results and (p / "posterior").is_dir():
            results = read_posterior_store(p / "posterior")
        if not results:
            raise ValueError(f"`--posterior` directory {str(p)!r} holds no posterior results (run `tmsphase posterior --out`).")
        return results
    if p.is_file():
        try:
            data = json.loads(p.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"`--posterior` file {str(p)!r} is not JSON: {err}.") from None
        rows = data.get("results") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not rows:
            raise ValueError(f"`--posterior` file {str(p)!r} must hold {{\"results\": [...]}} with at least one entry.")
        return rows
    raise ValueError(f"`--posterior` must be a directory or a JSON file; got {str(p)!r}, which does not exist.")


def run(args) -> int:
    import kgon
    import sampling
    from theory.compare import compare_occupancy

    results = read_posterior(args.posterior)
    methods = {r.get("method") for r in results}
    if len({r["n"] for r in results}) != len(results):
        raise ValueError("`--posterior` holds several results at the same n (mixed runs); give one run's output.")
    cat = kgon.default_catalogue(args.c)
    orders = ["leading", "refined"] if args.order == "both" else [args.order]
    data = None
    if args.data_seed is not None:
        import jax

        data = sampling.make_dataset(jax.random.PRNGKey(args.data_seed), max(int(r["n"]) for r in results), args.c)
    labels = None
    if "refined" in orders:  # compare both orders on the phases the refined order covers
        from theory.free_energies import refined_phases

        covered = {p.label for p in refined_phases(cat)[0]}
        seen = {lab for r in results for lab in r["occupancy"]}
        labels = [lab for lab in sorted(covered) if lab in seen] or None
    out, cmps = {}, {}
    for order in orders:
        cmp = compare_occupancy(cat, results, order=order, beta=args.beta, data=data if order == "refined" else None,
                                level=args.level, labels=labels,
                                nongaussian_anneal=args.refined_anneal if order == "refined" else None)
        cmps[order] = cmp
        d = cmp.to_dict()
        d["max_abs_deviation_n250"] = cmp.max_abs_deviation(n_min=250)
        out[order] = d
    head = {"c": args.c, "beta": args.beta, "data_seed": args.data_seed, "methods": sorted(m for m in methods if m)}
    figures = []
    if args.plot is not None:
        import matplotlib.pyplot as plt

        from kgon.plot import save_figure
        from theory.plot import plot_occupancy_orders

        fig, ax = plt.subplots(figsize=(7.5, 4.8))
        plot_occupancy_orders(cmps, ax=ax)
        figures = save_figure(fig, args.plot)
        plt.close(fig)
    if args.json:
        from kgon.io import dumps_json

        body = {**head, **out[orders[0]]} if len(orders) == 1 else {**head, **out}
        body["figures"] = figures
        print(dumps_json(body))
        return 0
    for order in orders:
        d = out[order]
        print(f"order = {order}, beta = {args.beta:g}" + (f", data stream {args.data_seed}" if data is not None else ""))
        print(f"  {'from':<6}{'to':<6}{'n predicted':>12}{'n observed':>12}  interval ({100 * args.level:.0f}%)")
        for c in d["crossings"]:
            iv = c["interval"]
            ivs = "-" if iv[0] is None else f"{iv[0]:.0f} .. {iv[1]:.0f}"
            obs = "-" if c["n_observed"] is None else f"{c['n_observed']:.0f}"
            print(f"  {c['from']:<6}{c['to']:<6}{c['n_predicted']:>12.0f}{obs:>12}  {ivs}")
        print(f"  max |observed - predicted| = {d['max_abs_deviation']:.3f} (n >= 250: {d['max_abs_deviation_n250']:.3f})")
        if d.get("dropped"):
            print(f"  left out (saddles, kinked points): {', '.join(sorted(d['dropped']))}")
    for f in figures:
        print(f"figure: {f}")
    return 0
