"""Benchmark: what a calibrated LLC estimate costs on a deep linear network at n = 1e5, and what
minibatches would change (docs/llc.md §1, "Where the time goes"; issue: "a calibrated estimate on a
40-parameter deep linear network at n = 1e5 takes more than 20 minutes").

    nice python tests/benchmarks/bench_llc_cost.py [--cases 8,4,8:0 5,3,5:0 3,3,3:1] [--steps 4000]

For each case (data key 1000, chain key 0, n = 1e5, n beta = n / log n):

1. **End to end**: ``estimate_llc(..., calibrate=True)`` (the two-temperature default) and with
   ``estimator="multi_temperature"`` on the sufficient statistics (``dln_loss``, O(widths^3) per step
   whatever n): wall time of the first call (compilation included) and of a second call with the same
   arguments (steady state).
2. **Per step**, 4 chains, the chosen step, ``steps`` steps after a warm-up call (compilation excluded):
   the sufficient statistics, the dense full-batch per-sample loss over all n rows (the baseline: what a
   per-sample model costs without them), and minibatches of 1,000 and 10,000 rows of the dense data.
   Ratios are against the sufficient statistics in the same run; ``dense calibrated (estimated)`` is the
   steady-state calibrated time x the dense / sufficient per-step ratio.
3. **Minibatch bias**: the plain estimate at the chosen step and the calibrated SGLD time (same chain
   key, 4 chains) with minibatches of 1,000 and 10,000 against full batch, in units of their combined
   standard error.

Results: results/llc_cost.jsonl (ignored by git) and the section "Cost of a calibrated LLC estimate" of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_row, machine, read_rows, write_section  # noqa: E402

import kgon  # noqa: E402

kgon.configure_jax()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from sampling import SGLDConfig, estimate_llc  # noqa: E402
from sampling.dynamics.truths import dln_data, dln_loss, dln_samples, dln_truth  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "llc_cost.jsonl"
N = 100_000
NBETA = N / math.log(N)


def dense_loss(w, batch):
    """(1 / 2m) sum_i ||y_i - W_L ... W_1 x_i||^2 over the rows of ``batch`` = (X, Y)."""
    X, Y = batch
    P = w[0]
    for W in w[1:]:
        P = W @ P
    R = Y - X @ P.T
    return 0.5 * jnp.mean(jnp.sum(R * R, axis=1))


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run_case(spec: str, steps: int, *, bias_fraction: float = 1.0, end_to_end: dict | None = None,
             batches: tuple = (1000, 10_000)) -> dict:
    widths, rank = spec.split(":")
    truth = dln_truth(tuple(int(x) for x in widths.split(",")), int(rank))
    w = tuple(jnp.asarray(x) for x in truth.w_star)
    X, Y = dln_samples(jax.random.key(1000), truth, N)
    stats = dln_data(jax.random.key(1000), truth, N)  # their sufficient statistics (same draws)
    key = jax.random.key(0)
    rec: dict = {"case": truth.name, "truth": truth.llc, "truth_m": truth.multiplicity, "n": N, "machine": machine()}
    for tag, cfg in (("two_temperature", None), ("multi_temperature", SGLDConfig(estimator="multi_temperature"))):
        if end_to_end and tag in end_to_end:  # measured by an earlier run of this script (its printed line)
            rec[tag] = end_to_end[tag]
            continue
        res, t1 = timed(lambda cfg=cfg: estimate_llc(key, dln_loss, w, stats, n=N, calibrate=True, config=cfg))
        _, t2 = timed(lambda cfg=cfg: estimate_llc(key, dln_loss, w, stats, n=N, calibrate=True, config=cfg))
        rec[tag] = {"llc": res.llc, "llc_se": res.llc_se, "m": res.multiplicity, "m_se": res.multiplicity_se,
                    "first_s": t1, "steady_s": t2, "eps_nbeta": res.config.eps * res.config.nbeta,
                    "steps": res.config.burnin + res.config.draws}
        print(tag, json.dumps(rec[tag]), flush=True)
    eps = rec["two_temperature"]["eps_nbeta"] / NBETA
    per_step = {}
    variants = (("sufficient", dln_loss, stats, None), ("dense", dense_loss, (X, Y), None),
                ("minibatch_1000", dense_loss, (X, Y), 1000), ("minibatch_10000", dense_loss, (X, Y), 10_000))
    for tag, loss, data, batch in variants:
        cfg = SGLDConfig(eps=eps, nbeta=NBETA, chains=4, burnin=0, draws=steps, batch_size=batch)
        estimate_llc(key, loss, w, data, n=N, config=cfg)  # compile
        _, t = timed(lambda cfg=cfg, loss=loss, data=data: estimate_llc(key, loss, w, data, n=N, config=cfg))
        per_step[tag] = t / steps
        print("per step", tag, f"{t / steps * 1e6:.1f} us", flush=True)
    rec["per_step_s"] = per_step
    rec["dense_calibrated_estimated_s"] = rec["two_temperature"]["steady_s"] * per_step["dense"] / per_step["sufficient"]
    # minibatch bias at the chosen step and the calibrated SGLD time (plain estimator, same chains)
    total = int(rec["two_temperature"]["steps"] * bias_fraction)
    bias = {}
    for tag, loss, data, batch in [variants[0]] + [v for v in variants[2:] if v[3] in batches]:
        cfg = SGLDConfig(eps=eps, nbeta=NBETA, chains=4, burnin=total // 5, draws=total - total // 5, batch_size=batch)
        res, t = timed(lambda cfg=cfg, loss=loss, data=data: estimate_llc(key, loss, w, data, n=N, config=cfg))
        bias[tag] = {"llc": res.llc, "llc_se": res.llc_se, "time_s": t, "steps": total,
                     "reason": res.reason[:300] if res.reason else ""}
        print(tag, json.dumps(bias[tag]), flush=True)
    rec["minibatch"] = bias
    return rec


def report(rows: list[dict]) -> None:
    lines = [
        "One calibrated estimate (`estimate_llc(..., calibrate=True)`, sweep included) on deep linear networks at "
        "n = 1e5 (data key 1000, chain key 0). `first` includes jax compilation (end to end), `steady` is a second "
        "call in the same process. Per-step times: 4 chains at the chosen step, compilation excluded; the dense "
        "full-batch loss over all n rows is the baseline a per-sample model pays without sufficient statistics "
        "(ratios against the sufficient statistics in the same run).", "",
        "| case | estimator | lambda (truth) | m (truth) | first call (s) | steady (s) | eps n beta | steps per chain |",
        "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for tag in ("two_temperature", "multi_temperature"):
            e = r[tag]
            m = "-" if e["m"] is None or not math.isfinite(e["m"]) else f"{e['m']:.2f} ± {e['m_se']:.2f}"
            lines.append(f"| {r['case']} | {tag.replace('_', '-')} | {e['llc']:.3f} ± {e['llc_se']:.3f} ({r['truth']:g}) "
                         f"| {m} ({r['truth_m']}) | {e['first_s']:.0f} | {e['steady_s']:.0f} | 1/{1 / e['eps_nbeta']:.0f} "
                         f"| {e['steps']:,} |")
    lines += ["", "| case | per step: sufficient (us) | dense full batch | minibatch 1,000 | minibatch 10,000 "
              "| dense calibrated estimate (estimated, s) |", "|---|---|---|---|---|---|"]
    for r in rows:
        p = r["per_step_s"]
        s = p["sufficient"]
        lines.append(f"| {r['case']} | {s * 1e6:.1f} | {p['dense'] / s:.0f}x | {p['minibatch_1000'] / s:.1f}x | "
                     f"{p['minibatch_10000'] / s:.1f}x | {r['dense_calibrated_estimated_s']:.0f} |")
    lines += ["", "Minibatch bias of the plain estimate at the chosen step (same chains; SGLD time: "
              f"{rows[0]['minibatch']['sufficient'].get('steps', 0):,} steps):", "",
              "| case | full batch | minibatch 1,000 | (difference / s.e.) | minibatch 10,000 | (difference / s.e.) |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        mb = r["minibatch"]
        f = mb["sufficient"]
        cells = [f"{f['llc']:.3f} ± {f['llc_se']:.3f}"]
        for tag in ("minibatch_1000", "minibatch_10000"):
            e = mb.get(tag)
            if e is None:
                cells += ["not run", "-"]
                continue
            if e["llc"] is None or not math.isfinite(e["llc"]):
                cells += [f"NaN ({e.get('reason', '')[:120]})", "-"]
                continue
            z = (e["llc"] - f["llc"]) / math.hypot(e["llc_se"], f["llc_se"])
            cells += [f"{e['llc']:.3f} ± {e['llc_se']:.3f}", f"{z:+.1f}"]
        lines.append(f"| {r['case']} | " + " | ".join(cells) + " |")
    write_section("llc_cost", "Cost of a calibrated LLC estimate", "\n".join(lines), "bench_llc_cost.py")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", nargs="+", default=["8,4,8:0"])
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--bias-fraction", type=float, default=1.0,
                   help="minibatch bias runs: this fraction of the calibrated SGLD time (default 1)")
    p.add_argument("--end-to-end", default=None, metavar="LOG",
                   help="reuse the end-to-end lines ('two_temperature {...}', 'multi_temperature {...}') of a log")
    p.add_argument("--batches", default="1000,10000", help="minibatch sizes of the bias runs (comma-separated)")
    p.add_argument("--report", action="store_true", help="only rewrite the docs section from the results file")
    a = p.parse_args()
    e2e = None
    if a.end_to_end:
        e2e = {}
        for line in Path(a.end_to_end).read_text().splitlines():
            tag, _, rest = line.partition(" ")
            if tag in ("two_temperature", "multi_temperature") and rest.startswith("{"):
                e2e[tag] = json.loads(rest)
    if not a.report:
        for spec in a.cases:
            rec = run_case(spec, a.steps, bias_fraction=a.bias_fraction, end_to_end=e2e,
                           batches=tuple(int(x) for x in a.batches.split(",")))
            append_row(OUT, rec)
    rows = {}
    for r in read_rows(OUT):
        rows[r["case"]] = r  # the latest run of each case
    report(list(rows.values()))


if __name__ == "__main__":
    main()
