"""Compute (where missing) and print the tables of docs/failure.md from docs/data/failure.json.

For c = 5..9 (r = 2): the gradient-flow basins of ``STARTS`` random starts (flow time 500 and 1000,
Euler step 0.1: the convergence check), and ``RUNS`` runs trained from random initialisation with
each setting of ``SETTINGS`` (plain SGD, lr 0.05, 2000 epochs: flow time 1000; Adam, lr 0.005, 1000
epochs; at c = 7 also AdamW with weight decay 0.01, the source document's optimizer), n = 1000,
batch 100. At c = 7 the flow is also integrated with a 4x smaller Euler step (the step check).
Each finished entry is written at once; a re-run computes only the missing ones.

    python docs/failure_tables.py            # compute what is missing, then print the tables
    python docs/failure_tables.py --print    # print the stored tables only
    python docs/failure_tables.py --json     # print the stored JSON summary
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "data" / "failure.json"
CS = (5, 6, 7, 8, 9)
RUNS = 40
STARTS = 400
FLOW_TIMES = (500.0, 1000.0)
SETTINGS = {  # name: (optimizer, lr, epochs, weight_decay, which c)
    "sgd": ("sgd", 0.05, 2000, 0.0, CS),
    "adam": ("adam", 0.005, 1000, 0.0, CS),
    "adamw": ("adamw", 0.005, 1000, 0.01, (7,)),
}


def load() -> dict:
    return json.loads(OUT.read_text()) if OUT.exists() else {"predicted": {}, "observed": {}, "checks": {}}


def _save(data: dict) -> None:
    from kgon.io import write_json_atomic

    write_json_atomic(OUT, data)


def _prediction(c: int, data: dict):
    """The flow-time-1000 BasinPrediction at c (computed and stored if missing)."""
    import numpy as np

    import kgon
    from theory.failure import BasinPrediction, fractions, gradient_flow, match_endpoints, random_starts

    cat = kgon.default_catalogue(c)
    seeds = tuple(10**6 + i for i in range(STARTS))
    entry = data["predicted"].get(str(c))
    if entry is None:
        W, b = random_starts(c, seeds)
        entry = {"starts": STARTS, "flow_lr": 0.1, "by_time": {}}
        t_prev = 0.0
        for T in FLOW_TIMES:
            W, b = gradient_flow(W, b, time=T - t_prev, lr=0.1, progress=True)
            t_prev = T
            labels, dist, loss = match_endpoints(W, b, cat)
            entry["by_time"][str(int(T))] = {"fractions": fractions(labels), "labels": [str(x) for x in labels],
                                             "distances": [float(x) for x in dist], "loss": [float(x) for x in loss]}
        data["predicted"][str(c)] = entry
        _save(data)
    last = entry["by_time"][str(int(FLOW_TIMES[-1]))]
    return BasinPrediction(c=c, r=2, labels=np.array(last["labels"]), distances=np.array(last["distances"]),
                           loss=np.array(last["loss"]), flow_time=FLOW_TIMES[-1], flow_lr=0.1, seeds=seeds)


def _step_check(data: dict) -> None:
    """c = 7: the flow with Euler step 0.1 against 0.025 from the same 200 starts."""
    if "flow_step_c7" in data["checks"]:
        return
    import kgon
    from theory.failure import fractions, gradient_flow, match_endpoints, random_starts

    cat = kgon.default_catalogue(7)
    W0, b0 = random_starts(7, range(2 * 10**6, 2 * 10**6 + 200))
    out = {}
    for lr in (0.1, 0.025):
        W, b = gradient_flow(W0, b0, time=FLOW_TIMES[-1], lr=lr, progress=True)
        labels, _, _ = match_endpoints(W, b, cat)
        out[str(lr)] = {"fractions": fractions(labels), "labels": [str(x) for x in labels]}
    same = sum(a == b for a, b in zip(out["0.1"]["labels"], out["0.025"]["labels"])) / 200
    data["checks"]["flow_step_c7"] = {"starts": 200, "flow_time": FLOW_TIMES[-1], "by_lr": out, "agreement": same}
    _save(data)


def compute() -> dict:
    import kgon
    from theory.failure import FailureConfig, analyze_failure

    kgon.configure_jax()
    data = load()
    for c in CS:
        pred = _prediction(c, data)
        for name, (opt, lr, epochs, wd, cs) in SETTINGS.items():
            key = f"{c}/{name}"
            if c not in cs or key in data["observed"]:
                continue
            cfg = FailureConfig(c=c, runs=RUNS, optimizer=opt, lr=lr, epochs=epochs, weight_decay=wd,
                                starts=STARTS, flow_time=FLOW_TIMES[-1])
            res = analyze_failure(cfg, prediction=pred, progress=True)
            data["observed"][key] = res.to_dict()
            _save(data)
            print(key, res.observed, flush=True)
    _step_check(data)
    return data


def _fmt(frac: dict, top: int = 4) -> str:
    items = sorted(frac.items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{k} {v:.2f}" for k, v in items)


def tables(data: dict) -> str:
    lines = ["| c | global min | predicted (flow T=1000) | sgd observed | adam observed | "
             "same-start agreement sgd / adam | unmatched sgd / adam |", "|---|---|---|---|---|---|---|"]
    for c in CS:
        sg, ad = data["observed"].get(f"{c}/sgd"), data["observed"].get(f"{c}/adam")
        if sg is None or ad is None:
            continue
        gm = sg["global_minimum"]
        lines.append(
            f"| {c} | {gm['label']} | {gm['predicted']:.3f} +- {sg['predicted_err'].get(gm['label'], 0):.3f} | "
            f"{gm['observed']:.3f} | {ad['global_minimum']['observed']:.3f} | "
            f"{sg['same_start_agreement']:.2f} / {ad['same_start_agreement']:.2f} | "
            f"{len(sg['unmatched'])} / {len(ad['unmatched'])} |")
    lines += ["", "| c / setting | observed end points | predicted (flow) | saddles | settled epoch (median, max) |",
              "|---|---|---|---|---|"]
    for key, d in data["observed"].items():
        sad = "; ".join(f"{s['label']} (index {s['index']}) {s['fraction']:.2f}" for s in d["saddles"]) or "none"
        se = d.get("settled_epoch") or {}
        lines.append(f"| {key} | {_fmt(d['observed'], 6)} | {_fmt(d['predicted'], 6)} | {sad} | "
                     f"{se.get('median', float('nan')):.0f}, {se.get('max', float('nan')):.0f} |")
    lines += ["", "| c | predicted at T=500 | predicted at T=1000 |", "|---|---|---|"]
    for c, e in data["predicted"].items():
        by = e["by_time"]
        lines.append(f"| {c} | {_fmt(by['500']['fractions'], 6)} | {_fmt(by['1000']['fractions'], 6)} |")
    chk = data["checks"].get("flow_step_c7")
    if chk:
        lines += ["", "Euler step check at c = 7 (200 starts, T = 1000): "
                  f"step 0.1 {_fmt(chk['by_lr']['0.1']['fractions'])}; "
                  f"step 0.025 {_fmt(chk['by_lr']['0.025']['fractions'])}; same label {chk['agreement']:.3f}."]
    return "\n".join(lines)


if __name__ == "__main__":
    args = sys.argv[1:]
    data = load() if ("--print" in args or "--json" in args) else compute()
    if "--json" in args:
        summary = {k: {kk: v[kk] for kk in ("observed", "predicted", "global_minimum", "same_start_agreement",
                                             "saddles", "unmatched")} for k, v in data["observed"].items()}
        print(json.dumps(summary, indent=1))
    else:
        print(tables(data))
