"""Theory versus posterior: predicted and observed phase occupancy and crossings, for both orders.

``tmsphase compare --posterior DIR|FILE [--order leading|refined|exact|both] [--beta B] [--data-seed K]
[--c C] [--r R] [--exact-anneal K] [--level L] [--json] [--plot PATH]``

Reads what ``tmsphase posterior --out DIR`` stored (its result store, or the ``posterior`` store of a
``tmsphase reproduce`` directory; a JSON file as printed by ``tmsphase posterior --json``, or just
``{"results": [...]}``, works too) and compares it with ``theory.compare_occupancy`` under the
leading-order and/or the refined free energy (docs/free_energy.md). The default, ``both``, compares
the leading and the refined order; the refined order on the run's data stream is the closed-form
first-order data term (``theory.data_free_energy``): seconds for a run of ten values of n.
``--order exact`` is the same posterior mass integrated numerically over each phase's classifier cell
(annealed SMC, minutes per phase and n; ``--exact-anneal K``: its annealing targets): a check of the
sampler by a second sampler, not the theory.

The run's settings come from the run: the number of features c, the hidden dimension r, the inverse
temperature beta of its posterior phi(w) exp(-beta n L_n(w)) and the seed of its data stream (every
n samples the first n draws of one stream). With a known stream the refined and exact predictions
are data-conditional on it. ``--c``, ``--r``, ``--beta`` and ``--data-seed`` are needed only for a run
that does not record the setting (a warning names it; defaults c = 6, r = 2, beta = 1 and the
population loss); one that contradicts the run is an error.

With the refined or exact order, every order is compared on the phases they cover (smooth minima and flat
phases: 6, 5+, 5 and the 0-gon at c = 6) and the occupancies are conditional on them. A crossing that
the posterior does not show has no observed value and no interval.
``--json`` with one order prints ``{"c", "r", "beta", "data_seed", "order", "crossings": [{"from", "to",
"n_predicted", "n_observed", "interval", "level", "type"}], "max_abs_deviation",
"max_abs_deviation_n250", ...}`` (``OccupancyComparison.to_dict``); with ``--order both`` one such
object per order under ``"leading"`` and ``"refined"``. ``--plot PATH`` draws the observed occupancy
with the orders' predictions (PNG + PDF).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import NamedTuple

from theory.cli.args import fail, finite_float, int_range, output_file

NAME = "compare"

#: The settings a posterior run records (``sampling.OccupancyConfig`` fields), each with its flag and
#: the value used when neither the run nor the flag gives one (data_seed None: the population loss).
SETTINGS = {"c": ("--c", 6), "r": ("--r", 2), "beta": ("--beta", 1.0), "data_seed": ("--data-seed", None)}


def add_arguments(parser) -> None:
    parser.add_argument("--posterior", required=True, metavar="DIR|FILE",
                        help="output directory of `tmsphase posterior` (or its --json output file)")
    parser.add_argument("--order", choices=("leading", "refined", "exact", "both"), default="both",
                        help="free energy of the prediction: leading, refined (closed form, with the run's data "
                             "stream), exact (numerical integral of each phase's cell: minutes per phase and n, a "
                             "check of the sampler) or both = leading and refined (default)")
    parser.add_argument("--beta", type=finite_float(0, min_inclusive=False), default=None,
                        help="inverse temperature of the posterior (default: the run's, else 1; 0.5 = unit-noise "
                             "Gaussian likelihood)")
    parser.add_argument("--data-seed", type=int_range(0), default=None,
                        help="data stream of the posterior run (default: the run's, else none: the population "
                             "loss); the refined prediction is conditional on it")
    parser.add_argument("--exact-anneal", "--refined-anneal", dest="exact_anneal", type=int_range(0), default=None,
                        metavar="K",
                        help="--order exact: annealing targets of the numerical integral (default 100, minutes "
                             "per phase and n; 0: plain importance sampling, faster, heavy-tailed below n ~ 500, "
                             "docs/free_energy.md)")
    parser.add_argument("--c", type=int_range(2), default=None, help="number of features (default: the run's, else 6)")
    parser.add_argument("--r", type=int_range(1), default=None, help="hidden dimensions (default: the run's, else 2)")
    parser.add_argument("--level", type=finite_float(0, 1, min_inclusive=False, max_inclusive=False), default=0.95,
                        help="coverage of the observed crossing's interval (default 0.95)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot", type=output_file, default=None, metavar="PATH",
                        help="write the occupancy figure with both orders (PNG + PDF)")


class StoredRun(NamedTuple):
    """A posterior run read back from disk.

    Attributes
    ----------
    results : list of dict
        Occupancy results (``OccupancyResult.to_dict`` structure), ordered by n.
    settings : dict
        The settings of :data:`SETTINGS` the run records (a name is absent when it does not record it;
        ``data_seed`` None: each n's data set was drawn from the sampling key, no single stream).
    source : str
        The directory or file read.
    """

    results: list
    settings: dict
    source: str


_ABSENT = object()


def _common_settings(configs: list[dict], source: str) -> dict:
    """The settings of :data:`SETTINGS` shared by every entry's configuration; entries that disagree
    are several runs in one directory (an error)."""
    out = {}
    for name in SETTINGS:
        values = [cfg.get(name, _ABSENT) if isinstance(cfg, dict) else _ABSENT for cfg in configs]
        distinct = {"absent" if v is _ABSENT else json.dumps(v) for v in values}
        if len(distinct) > 1:
            raise ValueError(f"`--posterior` {source!r} holds runs with different {name} "
                             f"({', '.join(sorted(distinct))}); give one run's output.")
        if values and values[0] is not _ABSENT:
            out[name] = values[0]
    return out


def read_run(path) -> StoredRun:
    """The :class:`StoredRun` of a `tmsphase posterior` output directory (its result store; or the
    ``posterior`` store of a `tmsphase reproduce` directory) or a JSON file (``tmsphase posterior
    --json``: ``{"c", "r", "config", "results"}``; or only ``{"results": [...]}``, which records no
    settings)."""
    # deferred: CLI start-up (the command's heavy imports load when it runs)
    from kgon.io import ResultStore, refuse_legacy
    from sampling.mcmc.io import LEGACY_PATTERNS

    p = Path(path)
    if p.is_dir():
        refuse_legacy(p, LEGACY_PATTERNS, argument="--posterior")
        for root in (p, p / "posterior"):
            if not root.is_dir():
                continue
            entries = [e for e in ResultStore(root).list()
                       if isinstance(e.config, dict) and e.config.get("kind") == "posterior"]
            if entries:
                entries.sort(key=lambda e: (e.result["n"], e.key))
                configs = [e.config.get("config") for e in entries]
                return StoredRun([e.result for e in entries], _common_settings(configs, str(p)), str(p))
        raise ValueError(f"`--posterior` directory {str(p)!r} holds no posterior results "
                         "(run `tmsphase posterior --out`).")
    if p.is_file():
        try:
            data = json.loads(p.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"`--posterior` file {str(p)!r} is not JSON: {err}.") from None
        rows = data.get("results") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not rows:
            raise ValueError(f"`--posterior` file {str(p)!r} must hold {{\"results\": [...]}} with at least one entry.")
        recorded = {}
        if isinstance(data, dict):
            recorded = dict(data.get("config") or {}) if isinstance(data.get("config"), dict) else {}
            recorded.update({k: data[k] for k in ("c", "r") if k in data})
        return StoredRun(rows, _common_settings([recorded], str(p)), str(p))
    raise ValueError(f"`--posterior` must be a directory or a JSON file; got {str(p)!r}, which does not exist.")


def read_posterior(path) -> list[dict]:
    """Occupancy results (``OccupancyResult.to_dict`` structure) of :func:`read_run`."""
    return read_run(path).results


def _show(name: str, value) -> str:
    return f"{value:g}" if name == "beta" else str(value)


def _same(name: str, given, recorded) -> bool:
    if name == "beta":
        return math.isclose(float(given), float(recorded), rel_tol=1e-12, abs_tol=0.0)
    return given == recorded


def resolve_settings(args, run: StoredRun, *, conditional: bool) -> tuple[dict, list[str]]:
    """``(settings, warnings)``: c, r, beta and data_seed of the comparison, from the run where it
    records them, else from the flags (else the defaults of :data:`SETTINGS`), with one warning naming
    the settings the run lacks. A flag that contradicts the run stops with a one-line error (exit 2).
    ``conditional``: whether an order that uses the data stream is requested (the stream matters, and
    is warned about, only then)."""
    settings, missing, notes = {}, [], []
    for name, (flag, default) in SETTINGS.items():
        given = getattr(args, name)
        if name not in run.settings:
            settings[name] = default if given is None else given
            if name != "data_seed" or conditional:
                missing.append((name, flag, given))
            continue
        recorded = run.settings[name]
        if given is not None and (recorded is None or not _same(name, given, recorded)):
            what = ("drew each n's data set from its sampling key (no data stream)" if recorded is None
                    else f"was made with {name} = {_show(name, recorded)}")
            fail(args, flag, f"{_show(name, given)} contradicts the run in {run.source!r}, which {what}; "
                             f"leave {flag} out to use the run's value.")
        settings[name] = recorded
        if name == "data_seed" and recorded is None and conditional:
            notes.append(f"the run in {run.source!r} has no single data stream (each n's data set was drawn from "
                         "its sampling key); the refined order uses the population loss.")
    if missing:
        used = []
        for name, flag, given in missing:
            if name == "data_seed" and given is None:
                used.append("the population loss for the refined order (--data-seed K: stream K)")
            else:
                used.append(f"{flag} {_show(name, settings[name])}" + (" (default)" if given is None else ""))
        names = ", ".join(name.replace("_", " ") for name, _, _ in missing)
        notes.insert(0, f"the run in {run.source!r} does not record {names}; using {', '.join(used)}.")
    return settings, notes


def data_stream(data_seed: int | None, results: list[dict], c: int):
    """The run's data stream (``sampling.make_dataset`` from ``PRNGKey(data_seed)``, prefix-consistent:
    its first n draws are the data set at n) long enough for every n of ``results``; None without a seed."""
    if data_seed is None:
        return None
    # deferred: CLI start-up (the command's heavy imports load when it runs)
    import jax

    import sampling

    return sampling.make_dataset(jax.random.PRNGKey(int(data_seed)), max(int(r["n"]) for r in results), c)


def predict(catalogue, results: list[dict], *, order: str, beta: float, data, level: float, labels,
            nongaussian_anneal: int | None):
    """``theory.compare_occupancy`` under one ``order`` (the one place where the order enters): every
    order but the leading one is conditional on ``data`` when given; ``nongaussian_anneal`` reaches the
    exact order only. An observed crossing's interval is kept only where the crossing was observed."""
    from theory.compare import compare_occupancy  # deferred: start-up time of the command line

    conditional = order != "leading"
    cmp = compare_occupancy(catalogue, results, order=order, beta=beta, data=data if conditional else None,
                            level=level, labels=labels,
                            nongaussian_anneal=nongaussian_anneal if order == "exact" else None)
    crossings = tuple(cr if cr.observed is not None else dataclasses.replace(cr, ci_low=None, ci_high=None)
                      for cr in cmp.crossings)
    return dataclasses.replace(cmp, crossings=crossings)


def run(args) -> int:
    # deferred: CLI start-up (the command's heavy imports load when it runs)
    import kgon

    run_ = read_run(args.posterior)
    results = run_.results
    methods = {r.get("method") for r in results}
    if len({r["n"] for r in results}) != len(results):
        raise ValueError("`--posterior` holds several results at the same n (mixed runs); give one run's output.")
    orders = ["leading", "refined"] if args.order == "both" else [args.order]
    if args.exact_anneal is not None and "exact" not in orders:
        fail(args, "--exact-anneal", f"{args.exact_anneal} applies to --order exact only (the numerical integral); "
                                     f"got --order {args.order}.")
    settings, notes = resolve_settings(args, run_, conditional=any(o != "leading" for o in orders))
    for note in notes:
        print(f"tmsphase compare: warning: {note}", file=sys.stderr)
    c, beta, data_seed = settings["c"], settings["beta"], settings["data_seed"]
    cat = kgon.default_catalogue(c, r=settings["r"])
    data = data_stream(data_seed, results, c) if any(o != "leading" for o in orders) else None
    labels = None
    if any(o != "leading" for o in orders):  # compare every order on the phases the refined order covers
        # deferred: CLI start-up (the command's heavy imports load when it runs)
        from theory.free_energies.orders import refined_phases

        covered = {p.label for p in refined_phases(cat)[0]}
        seen = {lab for r in results for lab in r["occupancy"]}
        labels = [lab for lab in sorted(covered) if lab in seen] or None
    out, cmps = {}, {}
    for order in orders:
        cmp = predict(cat, results, order=order, beta=beta, data=data, level=args.level, labels=labels,
                      nongaussian_anneal=args.exact_anneal)
        cmps[order] = cmp
        d = cmp.to_dict()
        d["max_abs_deviation_n250"] = cmp.max_abs_deviation(n_min=250)
        out[order] = d
    head = {"c": c, "r": settings["r"], "beta": beta, "data_seed": data_seed,
            "methods": sorted(m for m in methods if m)}
    figures = []
    if args.plot is not None:
        # deferred: matplotlib only when a figure is drawn
        import matplotlib.pyplot as plt

        from kgon.plot import save_figure
        from theory.plot import plot_occupancy_orders

        fig, ax = plt.subplots(figsize=(7.5, 4.8))
        plot_occupancy_orders(cmps, ax=ax)
        figures = save_figure(fig, args.plot)
        plt.close(fig)
    if args.json:
        # deferred: CLI start-up (the command's heavy imports load when it runs)
        from kgon.io import dumps_json

        body = {**head, **out[orders[0]]} if len(orders) == 1 else {**head, **out}
        body["figures"] = figures
        print(dumps_json(body))
        return 0
    for order in orders:
        d = out[order]
        stream = f", data stream {data_seed}" if data is not None and order != "leading" else ""
        print(f"order = {order}, c = {c}, beta = {beta:g}{stream}")
        print(f"  {'from':<6}{'to':<6}{'n predicted':>12}{'n observed':>12}  interval ({100 * args.level:.0f}%)")
        for cr in d["crossings"]:
            iv = cr["interval"]
            ivs = "-" if cr["n_observed"] is None or iv[0] is None else f"{iv[0]:.0f} .. {iv[1]:.0f}"
            obs = "-" if cr["n_observed"] is None else f"{cr['n_observed']:.0f}"
            print(f"  {cr['from']:<6}{cr['to']:<6}{cr['n_predicted']:>12.0f}{obs:>12}  {ivs}")
        print(f"  max |observed - predicted| = {d['max_abs_deviation']:.3f} "
              f"(n >= 250: {d['max_abs_deviation_n250']:.3f})")
        if d.get("dropped"):
            print(f"  left out (saddles, kinked points): {', '.join(sorted(d['dropped']))}")
    for f in figures:
        print(f"figure: {f}")
    return 0
