"""Print the agreement tables of docs/free_energy.md from docs/data/free_energy_c6.json.

Observed: tempered posterior occupancy at c = 6 on data streams 0-3 (``observed``: 4 chains x 1500
draws; ``observed_short``: the earlier 2 x 600, for comparison); predicted: the refined
data-conditional free energy (Laplace on the data set; with the non-Gaussian term: order="exact",
data = the stream) and the leading order, both
restricted to the phases the refined order covers at these n (6, 5+, 5; occupancy conditional on them).
Two refined predictions are stored: ``predicted`` (Laplace terms only, on a 25-step grid in n) and
``predicted_nongaussian`` (with the non-Gaussian term, at the sampled n; the default of
``theory.free_energy_terms(..., order="exact")``: F_5 with its dead column jointly, annealed SMC). ``predicted_product``
keeps the earlier F_5 (live integral times the dead column's terms). Crossings:
``sampling.crossing_estimate`` (95 % interval) for the observations, linear interpolation in log n
of P(6) - P(5) on the prediction grid for the refined order, Lambert W for the leading order.

    python docs/free_energy_tables.py [--json] [--laplace-only] [--product] [--short]
    python docs/free_energy_tables.py --joint [--json]     # F_5: product against the default (joint)
    python docs/free_energy_tables.py --every-phase [--json]   # low n: every phase, the 4-gons too
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

LABELS = ("6", "5+", "5")
HERE = Path(__file__).resolve().parent


def load(path=HERE / "data" / "free_energy_c6.json") -> dict:
    return json.loads(Path(path).read_text())


def softmax(F: dict) -> dict:
    m = min(F[lab] for lab in LABELS)
    e = {lab: math.exp(-(F[lab] - m)) for lab in LABELS}
    s = sum(e.values())
    return {lab: e[lab] / s for lab in LABELS}


def interp_crossing(ns, d) -> float | None:
    ln = np.log(ns)
    for k in range(len(d) - 1):
        if d[k] < 0 <= d[k + 1]:
            t = d[k] / (d[k] - d[k + 1])
            return float(np.exp(ln[k] + t * (ln[k + 1] - ln[k])))
    return None


def leading_probs(ns, beta=1.0) -> dict:
    """Leading-order occupancy of 6, 5+, 5 with the published constants (the paper's table (docs/index.md))."""
    pub = {"5": (0.06874, 7.0, 3.62417), "5+": (0.06180, 8.5, 3.62764), "6": (0.04819, 8.5, 6.37767)}
    out = []
    for n in ns:
        F = {lab: beta * n * L + lam * math.log(n) + c for lab, (L, lam, c) in pub.items()}
        out.append(softmax(F))
    return out


def agreement(data: dict, *, n_min_occ: float = 250.0, key: str = "predicted_nongaussian", product: bool = False,
              observed: str = "observed") -> dict:
    """Agreement figures of the refined prediction stored under ``key`` (docstring above) against the
    runs stored under ``observed``; ``product``: phase 5's total replaced by its earlier
    ``predicted_product`` value (``n_product`` lists where, per stream)."""
    import copy

    import sampling

    pred = {}
    for r in data["predicted"] if key == "predicted" else data[key]:
        pred.setdefault(r["stream"], {})[r["n"]] = r
    replaced = {}
    if product:
        pred = copy.deepcopy(pred)
        for r in data.get("predicted_product", []):
            if r["n"] in pred.get(r["stream"], {}):
                pred[r["stream"]][r["n"]]["beta1.0"]["5"] = r["beta1.0"]["5"]
                replaced.setdefault(r["stream"], []).append(r["n"])
    obs = {}
    for r in data[observed]:
        obs.setdefault(r["stream"], {})[r["n"]] = r
    streams = []
    for k in sorted(obs):
        ns = sorted(obs[k])
        cond = []
        for n in ns:
            o = obs[k][n]
            tot = sum(o["occupancy"].get(lab, 0.0) for lab in LABELS)
            cond.append({"n": n, "occupancy": {lab: o["occupancy"].get(lab, 0.0) / tot for lab in LABELS},
                         "occupancy_err": {lab: (o["occupancy_err"].get(lab) or 0.0) / tot for lab in LABELS}})
        est = sampling.crossing_estimate(cond, from_label="5", to_label="6", level=0.95, min_mass=0.02)
        grid = sorted(pred[k])
        P = [softmax({lab: pred[k][n]["beta1.0"][lab]["total"] for lab in LABELS}) for n in grid]
        n_ref = interp_crossing(grid, np.array([p["6"] - p["5"] for p in P]))
        lead = leading_probs(ns)
        dev_ref = max(abs(softmax({lab: pred[k][n]["beta1.0"][lab]["total"] for lab in LABELS})[lab] - c["occupancy"][lab])
                      for n, c in zip(ns, cond) if n >= n_min_occ and n in pred[k] for lab in ("5", "6"))
        missing = [n for n in ns if n >= n_min_occ and n not in pred[k]]
        dev_lead = max(abs(p[lab] - c["occupancy"][lab]) for n, p, c in zip(ns, lead, cond) if n >= n_min_occ
                       for lab in ("5", "6"))
        streams.append({
            "stream": k, "n_observed": est.n, "interval": [est.ci_low, est.ci_high],
            "n_refined": n_ref, "n_leading": 601.0,
            "rel_refined": n_ref / est.n - 1, "rel_leading": 601.0 / est.n - 1,
            "max_dev_refined": dev_ref, "max_dev_leading": dev_lead, "n_not_predicted": missing,
            "n_product": sorted(replaced.get(k, [])),
        })
    base = {}
    for r in data["predicted"]:
        base.setdefault(r["stream"], {})[r["n"]] = r
    extra = []
    for k in sorted(base):
        if k < 10:
            continue
        grid = sorted(base[k])
        P = [softmax({lab: base[k][n]["beta1.0"][lab]["total"] for lab in LABELS}) for n in grid]
        extra.append(interp_crossing(grid, np.array([p["6"] - p["5"] for p in P])))
    pop = {}
    for beta in ("beta1.0", "beta0.5"):
        grid = sorted(base[-1])
        P = [softmax({lab: base[-1][n][beta][lab]["total"] for lab in LABELS}) for n in grid]
        pop[beta] = interp_crossing(grid, np.array([p["6"] - p["5"] for p in P]))
    data_cross = [s["n_refined"] for s in streams] + [x for x in extra if x is not None]
    return {
        "streams": streams,
        "observed_mean": float(np.mean([s["n_observed"] for s in streams])),
        "observed_sd": float(np.std([s["n_observed"] for s in streams], ddof=1)),
        "refined_population": pop,
        "refined_data_conditional_mean": float(np.mean(data_cross)),
        "refined_data_conditional_sd": float(np.std(data_cross, ddof=1)),
        "refined_data_conditional_count": len(data_cross),
        "extra_unbracketed": sum(x is None for x in extra),
        "refined_population_nongaussian": data.get("population_nongaussian", {}),
    }


def joint_effect(data: dict) -> list[dict]:
    """Per (stream, n): F_5 as the earlier product (``predicted_product``: live integral by plain
    importance sampling times the dead column's flat and boundary terms) and as the default (the
    dead column jointly, annealed SMC, copy partition: ``predicted_nongaussian``), with the occupancy
    of 5 and 6 each gives (6 and 5+ as stored) beside the observed."""
    pred = {(r["stream"], r["n"]): r["beta1.0"] for r in data["predicted_nongaussian"]}
    obs = {(r["stream"], r["n"]): r for r in data["observed"]}
    rows = []
    for r in sorted(data.get("predicted_product", []), key=lambda r: (r["stream"], r["n"])):
        key = (r["stream"], r["n"])
        o = obs[key]
        tot = sum(o["occupancy"].get(lab, 0.0) for lab in LABELS)
        cond = {lab: o["occupancy"].get(lab, 0.0) / tot for lab in LABELS}
        F = {lab: pred[key][lab]["total"] for lab in LABELS}
        after = softmax(F)
        F["5"] = r["beta1.0"]["5"]["total"]
        before = softmax(F)
        rows.append({"stream": key[0], "n": key[1], "F5_product": r["beta1.0"]["5"]["total"],
                     "F5_joint": pred[key]["5"]["total"], "F5_joint_err": pred[key]["5"]["error"],
                     "observed": cond, "product": before, "joint": after,
                     "dev_product": max(abs(before[lab] - cond[lab]) for lab in ("5", "6")),
                     "dev_joint": max(abs(after[lab] - cond[lab]) for lab in ("5", "6"))})
    return rows


def every_phase(data: dict) -> list[dict]:
    """Low n, every phase: the population-level refined occupancy of every minimum
    (``population_every_phase``: the kinked 4-gons by their numerical local integral), the leading
    order's (``theory.occupancy``, the paper's) and the observed occupancy (mean and spread over the four streams; unconditional)."""
    import kgon
    import theory

    kgon.configure_jax()
    cat = kgon.default_catalogue(6)
    obs = {}
    for r in data["observed"]:
        obs.setdefault(r["n"], []).append(r["occupancy"])
    rows = []
    for row in data.get("population_every_phase", []):
        n = row["n"]
        F = row["total"]
        m = min(F.values())
        e = {lab: math.exp(-(v - m)) for lab, v in F.items()}
        z = sum(e.values())
        ref = {lab: v / z for lab, v in e.items()}
        lo = theory.occupancy(cat, [n])  # the leading order as the toolkit computes it (the paper's)
        lead = {lab: float(v[0]) for lab, v in lo.probs.items()}
        o = obs.get(n, [])
        labs = sorted(F, key=lambda lab: -ref[lab])
        rows.append({"n": n, "labels": labs, "refined": ref, "leading": lead,
                     "observed_mean": {lab: float(np.mean([x.get(lab, 0.0) for x in o])) for lab in labs} if o else {},
                     "observed_sd": {lab: float(np.std([x.get(lab, 0.0) for x in o], ddof=1)) for lab in labs} if len(o) > 1 else {},
                     "observed_other": float(np.mean([1 - sum(x.get(lab, 0.0) for lab in labs) for x in o])) if o else None})
    return rows


if __name__ == "__main__":
    if "--every-phase" in sys.argv:
        rows = every_phase(load())
        if "--json" in sys.argv:
            print(json.dumps(rows, indent=1))
        else:
            for x in rows:
                print(f"n = {x['n']}: phase: refined (every phase, population) | leading | observed mean (sd) over 4 streams")
                for lab in x["labels"]:
                    ob = (f"{x['observed_mean'][lab]:.3f} ({x['observed_sd'].get(lab, 0):.3f})" if x["observed_mean"]
                          else "not sampled")
                    print(f"  {lab}: {x['refined'][lab]:.3f} | {x['leading'].get(lab, 0.0):.3f} | {ob}")
                if x["observed_other"] is not None:
                    print(f"  (observed elsewhere: {x['observed_other']:.3f})")
        sys.exit(0)
    if "--joint" in sys.argv:
        rows = joint_effect(load())
        if "--json" in sys.argv:
            print(json.dumps(rows, indent=1))
        else:
            print("| stream | n | F_5 product | F_5 joint (default) | observed P5 / P6 | product | joint | max dev. product | joint |")
            for x in rows:
                print(f"| {x['stream']} | {x['n']} | {x['F5_product']:.2f} | {x['F5_joint']:.2f} +- {x['F5_joint_err']:.2f} | "
                      f"{x['observed']['5']:.3f} / {x['observed']['6']:.3f} | {x['product']['5']:.3f} / {x['product']['6']:.3f} | "
                      f"{x['joint']['5']:.3f} / {x['joint']['6']:.3f} | {x['dev_product']:.3f} | {x['dev_joint']:.3f} |")
        sys.exit(0)
    res = agreement(load(), key="predicted" if "--laplace-only" in sys.argv else "predicted_nongaussian",
                    product="--product" in sys.argv, observed="observed_short" if "--short" in sys.argv else "observed")
    if "--json" in sys.argv:
        print(json.dumps(res, indent=1))
    else:
        print("| stream | observed (95%) | refined | rel. | leading | rel. | max dev n>=250 refined | leading |")
        for s in res["streams"]:
            print(f"| {s['stream']} | {s['n_observed']:.0f} ({s['interval'][0]:.0f}-{s['interval'][1]:.0f}) | "
                  f"{s['n_refined']:.0f} | {100 * s['rel_refined']:+.0f}% | 601 | {100 * s['rel_leading']:+.0f}% | "
                  f"{s['max_dev_refined']:.3f} | {s['max_dev_leading']:.3f} |"
                  + (" (F_5: product)" if s["n_product"] else ""))
        print({k: v for k, v in res.items() if k != "streams"})
