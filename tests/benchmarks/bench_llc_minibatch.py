"""Benchmark: the minibatch bias of the calibrated LLC estimate on the TMS truths (docs/llc.md §1, "Minibatches").

    python tests/benchmarks/bench_llc_minibatch.py [--seeds 3] [--batches 1000,10000] [--report]

The calibrated two-temperature estimate (``tms_llc(..., calibrate=True, config=SGLDConfig(chains=16,
batch_size=m))``, the defaults otherwise) of the c = 6 5-gon and 6-gon at n = 1e5, with the keys of
test_acceptance_tms_calibrated (data and chain keys split from ``jax.random.key(seed)``), in full batch
(the exact sufficient-statistics loss) and with minibatches of m samples (the per-sample loss on m indices
drawn per step; the calibration sweep runs the same minibatches). The deep linear networks, normal
crossings and the regular model are measured in docs/llc.md §1 ((8,4,8): -13% at m = 1000) or have no
data to subsample. One JSON line per estimate in results/llc_minibatch.jsonl (ignored by git);
``--report`` writes the table into docs/benchmarks.md. Wall times include compilation and the sweep.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_row, read_rows, write_section  # noqa: E402

import kgon  # noqa: E402
from kgon.io import finite_or_none as _f  # noqa: E402

kgon.configure_jax()

import jax  # noqa: E402
import numpy as np  # noqa: E402

from sampling import SGLDConfig, make_dataset, tms_llc, tms_truth  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "llc_minibatch.jsonl"
N = 100_000
LABELS = ("6", "5")


def run(label: str, seed: int, batch: int | None) -> dict:
    truth = tms_truth(label, 6)
    k_data, k_chain = jax.random.split(jax.random.key(seed))
    t0 = time.perf_counter()
    res = tms_llc(k_chain, *truth.w_star, make_dataset(k_data, N, 6), calibrate=True,
                  config=SGLDConfig(chains=16, batch_size=batch))
    return {"label": label, "seed": seed, "batch": batch, "truth": truth.llc, "llc": _f(res.llc),
            "llc_se": _f(res.llc_se), "eps_nbeta": _f(res.config.eps * res.config.nbeta) if res.config.eps else None,
            "excluded": len(res.diagnostics.excluded), "reason": res.reason, "time_s": time.perf_counter() - t0}


def report() -> None:
    rows = read_rows(OUT)
    full = {(r["label"], r["seed"]): r for r in rows if r["batch"] is None}
    lines = ["Minibatch bias of the calibrated two-temperature LLC on the TMS phases (c = 6, n = 1e5, 16 chains, "
             "the keys of test_acceptance_tms_calibrated): each minibatch estimate against the full-batch one of "
             "the same data set and chain key (difference and its combined standard error, the chains of the two "
             "runs being independent draws of the noise), and the mean over seeds. `time` includes the "
             "calibration sweep and compilation.", "",
             "| phase (lambda) | batch | seed | lambda (± s.e.) | error | minus full batch (combined s.e.) "
             "| eps n beta | time (s) |", "|---|---|---|---|---|---|---|---|"]
    summary = []
    for label in LABELS:
        for batch in sorted({r["batch"] or 0 for r in rows}):
            sel = sorted((r for r in rows if r["label"] == label and (r["batch"] or 0) == batch), key=lambda r: r["seed"])
            diffs, ses = [], []
            for r in sel:
                lam = "NaN" if r["llc"] is None else f"{r['llc']:.3f} ± {r['llc_se']:.3f}"
                err = "-" if r["llc"] is None else f"{(r['llc'] - r['truth']) / r['truth']:+.1%}"
                ref = full.get((label, r["seed"]))
                dd = "-"
                if batch and ref and ref["llc"] is not None and r["llc"] is not None:
                    d, s = r["llc"] - ref["llc"], math.hypot(r["llc_se"], ref["llc_se"])
                    diffs.append(d)
                    ses.append(s)
                    dd = f"{d:+.3f} ({s:.3f})"
                eps = "-" if not r["eps_nbeta"] else f"1/{1 / r['eps_nbeta']:.0f}"
                lines.append(f"| {label} ({r['truth']:g}) | {batch or 'full'} | {r['seed']} | {lam} | {err} | {dd} "
                             f"| {eps} | {r['time_s']:.0f} |")
            if diffs:
                k = len(diffs)
                summary.append(f"- {label}-gon, minibatch {batch}: mean difference {np.mean(diffs):+.3f} ± "
                               f"{math.sqrt(np.sum(np.square(ses))) / k:.3f} over {k} seeds "
                               f"({np.mean(diffs) / sel[0]['truth']:+.1%} of lambda)")
    write_section("llc_minibatch", "Minibatch bias of the calibrated LLC on the TMS phases",
                  "\n".join(lines + [""] + summary), "bench_llc_minibatch.py")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--batches", default="1000,10000", help="minibatch sizes (comma-separated); full batch always")
    p.add_argument("--report", action="store_true")
    a = p.parse_args()
    if a.report:
        report()
        return
    done = set()
    if OUT.exists():
        done = {(r["label"], r["seed"], r["batch"]) for r in read_rows(OUT)}
    batches = [None] + [int(x) for x in a.batches.split(",") if x]
    for seed in range(a.seeds):
        for label in LABELS:
            for batch in batches:
                if (label, seed, batch) in done:
                    continue
                rec = run(label, seed, batch)
                append_row(OUT, rec)
                print(json.dumps(rec), flush=True)
    print(f"results in {OUT}; `--report` writes the table into docs/benchmarks.md")


if __name__ == "__main__":
    main()
