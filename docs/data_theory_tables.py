"""The closed-form data term against the sampled posterior: the tables of docs/free_energy.md
("The data term", "The crossing over data sets").

Observed: tempered posterior occupancy at c = 6, beta = 1 on data streams 0-3
(docs/data/free_energy_c6.json, ``observed``) and the streams in docs/data/posterior_streams_c6.json
(``runs``: streams 4-11 at beta = 1 on an adaptive n grid, streams 0-3 at beta = 1/2 where present).
Predicted, per stream k (data = ``sampling.make_dataset(PRNGKey(k), 2000, 6)``):

- ``theory.data_free_energy`` (closed form: population refined free energy + the copies' data term;
  no sampling, no posterior draws), without and with the relaxation term, and with the second-order
  Laplace term of the population part (``second_order=True``), its crossing on the fine grid
  ``theory.over_data.default_grid()`` and on the sampled n, and the max |deviation| of the occupancy of
  5 and 6 (conditional on {6, 5+, 5}) at every sampled n >= 250;
- the leading order (the paper's constants);
- streams 0-3: the stored numerical integrals of docs/data/free_energy_c6.json (annealed SMC over the
  classifier cells, ``predicted_nongaussian``; Laplace on the data set, ``predicted``).

With no data set: ``theory.over_data`` (simulated streams and the Gaussian limit) against the
sampled streams' crossings. Crossings: ``sampling.crossing_estimate`` for the observations (95%
bootstrap interval, min_mass 0.02), the first up-crossing of P(6) - P(5) by linear interpolation in
log n for the predictions.

    python docs/data_theory_tables.py [--streams K] [--json PATH] [--plot PATH] [--copy-campaign FILE] [--no-over-data]

``--copy-campaign FILE``: first copy the complete runs of a campaign log (one JSON object per run)
into docs/data/posterior_streams_c6.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from free_energy_tables import LABELS, interp_crossing, leading_probs, load, softmax  # noqa: E402

STREAMS_FILE = HERE / "data" / "posterior_streams_c6.json"
VARIANTS = (("first_order", False, False), ("relaxed", True, False), ("second_order", False, True),
            ("relaxed_second_order", True, True))
"""(tag, relaxation, second-order Laplace term of the population part) of each closed-form prediction
(the last one only in the JSON)."""
DESCRIPTION = (
    "c = 6 tempered posterior occupancy: sampling.run_occupancy(key, catalogue=kgon.default_catalogue(6), c=6, n=n, "
    "method='tempered', chains=4, warmup=300, samples=800, data_seed=k, beta=beta) with key = "
    "jax.random.fold_in(jax.random.PRNGKey(1000 + k), n). beta = 1: streams k = 4..11, n = 250, 300, ..., 500, 600, "
    "then bisected in n (geometric midpoints) around the first up-crossing of P(6) - P(5) until the bracketing n "
    "are within 5% (extended below 250 / above 600 when the crossing lies outside). beta = 0.5: streams 0-3 at "
    "n = 400, 600, 800, 1100, 1500, 2000. Each run also stores n L_n statistics of the draws (nL_mean, nL_var, "
    "nL_by_phase: [draws, mean, variance] per phase) and the tempering ladder."
)


def copy_campaign(path: Path) -> dict:
    """Copy every run of a campaign log into docs/data/posterior_streams_c6.json (the file keeps
    earlier runs; a run is keyed by (stream, beta, n))."""
    runs = {}
    if STREAMS_FILE.exists():
        for r in json.loads(STREAMS_FILE.read_text())["runs"]:
            runs[(r["stream"], r["beta"], r["n"])] = r
    for line in Path(path).read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            runs[(r["stream"], r["beta"], r["n"])] = r
    out = {"description": DESCRIPTION, "runs": [runs[k] for k in sorted(runs)]}
    STREAMS_FILE.write_text(json.dumps(out, indent=1) + "\n")
    return out


def observed_streams(beta: float) -> dict:
    """{stream: {n: run}} of every sampled stream at ``beta``."""
    obs: dict = {}
    if beta == 1.0:
        for r in load()["observed"]:
            obs.setdefault(r["stream"], {})[r["n"]] = r
    if STREAMS_FILE.exists():
        for r in json.loads(STREAMS_FILE.read_text())["runs"]:
            if r["beta"] == beta:
                obs.setdefault(r["stream"], {})[r["n"]] = r
    return obs


def conditional(run: dict) -> dict:
    tot = sum(run["occupancy"].get(lab, 0.0) for lab in LABELS)
    return {"n": run["n"], "occupancy": {lab: run["occupancy"].get(lab, 0.0) / tot for lab in LABELS},
            "occupancy_err": {lab: (run["occupancy_err"].get(lab) or 0.0) / tot for lab in LABELS}}


def stored_crossing(data: dict, key: str, stream: int) -> float | None:
    """Crossing of a stored numerical prediction (``predicted_nongaussian`` or ``predicted``) of a stream."""
    rows = {r["n"]: r for r in data[key] if r["stream"] == stream}
    if not rows:
        return None
    ns = sorted(rows)
    P = [softmax({lab: rows[n]["beta1.0"][lab]["total"] for lab in LABELS}) for n in ns]
    return interp_crossing(ns, np.array([p["6"] - p["5"] for p in P]))


def stream_table(cat, beta: float, n_min_occ: float = 250.0) -> list[dict]:
    import jax

    import sampling
    import theory
    from theory.over_data import default_grid

    stored = load()
    grid = default_grid()
    rows = []
    for k, runs in sorted(observed_streams(beta).items()):
        ns = sorted(runs)
        cond = [conditional(runs[n]) for n in ns]
        est = sampling.crossing_estimate(cond, from_label="5", to_label="6", level=0.95, min_mass=0.02)
        data = sampling.make_dataset(jax.random.PRNGKey(k), int(max(grid.max(), max(ns))), 6)
        row = {"stream": k, "beta": beta, "ns": ns, "observed": est.n, "interval": [est.ci_low, est.ci_high]}
        for tag, rel, so in VARIANTS:
            fine = theory.data_free_energy(cat, data, grid, beta=beta, relaxation=rel, second_order=so).occupancy(LABELS)
            at = theory.data_free_energy(cat, data, ns, beta=beta, relaxation=rel, second_order=so).occupancy(LABELS)
            row[tag] = interp_crossing(grid, fine["6"] - fine["5"])
            row[tag + "_sampled_n"] = interp_crossing(ns, at["6"] - at["5"])
            row[tag + "_max_dev"] = max(abs(at[lab][i] - c["occupancy"][lab]) for i, (n, c) in enumerate(zip(ns, cond))
                                        if n >= n_min_occ for lab in ("5", "6"))
        lead = leading_probs(ns, beta)
        row["leading_max_dev"] = max(abs(p[lab] - c["occupancy"][lab]) for n, p, c in zip(ns, lead, cond)
                                     if n >= n_min_occ for lab in ("5", "6"))
        if beta == 1.0:
            row["smc"] = stored_crossing(stored, "predicted_nongaussian", k)
            row["laplace_on_data"] = stored_crossing(stored, "predicted", k)
        rows.append(row)
    return rows


def fmt(x, spec="6.0f") -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def print_streams(rows: list[dict], lead_n: float) -> None:
    print("| stream | observed (95%) | closed form | dev. | with relaxation | dev. | with 2nd-order Laplace | dev. "
          "| closed form at the sampled n | SMC (stored) | Laplace on data (stored) | leading |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        o = r["observed"]
        lo, hi = r["interval"]
        dev = {t: "-" if r[t] is None else f"{(r[t] / o - 1) * 100:+.0f}%" for t, _, _ in VARIANTS}
        print(f"| {r['stream']} | {fmt(o)} ({fmt(lo, '.0f')}-{fmt(hi, '.0f')}) | {fmt(r['first_order'])} | "
              f"{dev['first_order']} | {fmt(r['relaxed'])} | {dev['relaxed']} | {fmt(r['second_order'])} | "
              f"{dev['second_order']} | "
              f"{fmt(r['first_order_sampled_n'])} | {fmt(r.get('smc'))} | {fmt(r.get('laplace_on_data'))} | "
              f"{lead_n:.0f} |")
    print()
    print("| stream | max abs. dev. of P(5), P(6), n >= 250: closed form | with relaxation | with 2nd-order Laplace "
          "| leading |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['stream']} | {r['first_order_max_dev']:.3f} | {r['relaxed_max_dev']:.3f} | "
              f"{r['second_order_max_dev']:.3f} | {r['leading_max_dev']:.3f} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streams", type=int, default=400, help="simulated streams of the over-data distribution")
    ap.add_argument("--json", type=Path, default=None, help="write every number here")
    ap.add_argument("--plot", type=Path, default=None, help="the crossing-distribution figure (PNG + PDF)")
    ap.add_argument("--copy-campaign", type=Path, default=None, help="campaign log to copy first")
    ap.add_argument("--no-over-data", action="store_true", help="the per-stream tables only")
    args = ap.parse_args(argv)
    import jax

    import kgon
    import theory

    kgon.configure_jax()
    if args.copy_campaign is not None:
        copy_campaign(args.copy_campaign)
    cat = kgon.default_catalogue(6)
    out = {}
    for beta in (1.0, 0.5):
        rows = stream_table(cat, beta)
        if not rows:
            continue
        lead = theory.transitions(cat, labels=list(LABELS), beta=beta)
        lead_n = next(t.n_critical for t in lead if {t.from_label, t.to_label} == {"5", "6"})
        print(f"\n## beta = {beta:g}: {len(rows)} sampled streams\n")
        print_streams(rows, lead_n)
        if args.no_over_data:
            out[f"beta{beta:g}"] = {"streams": rows, "leading": lead_n}
            continue
        obs = np.array([r["observed"] for r in rows if r["observed"] is not None])
        dist = {}
        for method in ("simulated", "gaussian"):
            t0 = time.time()
            od = theory.crossing_distribution(jax.random.PRNGKey(2024), cat, streams=args.streams, beta=beta,
                                              method=method, relaxation=False)
            cd = od.crossing
            inside = float(np.mean((obs >= cd.q10) & (obs <= cd.q90)))
            dist[method] = {**cd.to_dict(), "population_crossing": od.population_crossing,
                            "fraction_observed_inside": inside, "seconds": round(time.time() - t0, 1)}
            if method == "simulated":
                sim = od
        print(f"\nsampled streams: mean crossing {obs.mean():.0f} (sd {obs.std(ddof=1):.0f}, {obs.size} streams)")
        print("| over data sets | mean | median | 10% | 90% | sampled inside 10-90% | population refined |")
        print("|---|---|---|---|---|---|---|")
        for m, d in dist.items():
            print(f"| {m} ({d['streams']} streams) | {d['mean']:.0f} ({(d['mean'] / obs.mean() - 1) * 100:+.0f}%) | "
                  f"{d['median']:.0f} | {d['q10']:.0f} | {d['q90']:.0f} | {d['fraction_observed_inside']:.0%} | "
                  f"{d['population_crossing']:.0f} |")
        out[f"beta{beta:g}"] = {"streams": rows, "over_data": dist, "leading": lead_n,
                                "observed_mean": float(obs.mean())}
        if args.plot is not None and beta == 1.0:
            import matplotlib

            matplotlib.use("Agg")
            from theory.plot_data import plot_crossing_distribution

            fig = plot_crossing_distribution(sim, observed={r["stream"]: r["observed"] for r in rows})
            from kgon.plot import save_figure

            print("figure:", save_figure(fig, args.plot))
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
