"""Benchmark: the multi-temperature fit of lambda and m (docs/llc.md §4b) from coupled plain estimates at
n beta = t0 x 4^-k, k = 0..3 (t0 = n / log n, n = 1e5; same key, step and steps at every temperature), on the
normal crossing x^2 y^2 ("nc") or a deep linear network ("widths:rank"); one JSON line per run appended to
results/llc_multi_temperature.jsonl (ignored by git).

    nice python tests/benchmarks/bench_llc_multi_temperature.py nc 16 0.25 0             # eps t0 = 1/4
    nice python tests/benchmarks/bench_llc_multi_temperature.py 4,3,3,4:0 16 0.03125 0   # eps t0 = 1/32

Arguments: case, chains, eps t0, seed (data key 1000 + seed, chain key seed). Every temperature runs the
default SGLD time of the calibrated estimate (25,000 / t0), a fifth of it burn-in.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np

import kgon

kgon.configure_jax()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from sampling import (  # noqa: E402
    SGLDConfig,
    dln_data,
    dln_loss,
    dln_truth,
    estimate_llc,
    fit_multi_temperature,
    normal_crossing_loss,
)

N = 100_000
OUT = Path(__file__).resolve().parent / "results" / "llc_multi_temperature.jsonl"


def main():
    case, chains, scale, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    t0 = N / math.log(N)
    ladder = [t0 * 4.0 ** -k for k in range(4)]
    if case == "nc":
        loss, w, data, lam, n = normal_crossing_loss, jnp.zeros(2), jnp.array([1, 1]), 0.5, None
    else:
        ws, r = case.split(":")
        truth = dln_truth(tuple(int(x) for x in ws.split(",")), int(r))
        loss, w, lam, n = dln_loss, tuple(jnp.asarray(x) for x in truth.w_star), truth.llc, N
        data = dln_data(jax.random.key(1000 + seed), truth, N)
    steps = int(25000 / scale)
    vals, per_t = [], []
    start = time.perf_counter()
    for t in ladder:
        cfg = SGLDConfig(nbeta=t, eps=scale / t0, burnin=steps // 5, draws=steps - steps // 5, chains=chains,
                         estimator="plain")
        res = estimate_llc(jax.random.key(seed), loss, w, data, config=cfg)
        vals.append(np.where(res.healthy, res.chain_llc, np.nan))
        per_t.append({"nbeta": t, "llc": res.llc, "se": res.llc_se, "acc": res.diagnostics.acceptance_mean,
                      "excluded": len(res.diagnostics.excluded)})
        print(json.dumps(per_t[-1]), flush=True)
    V = np.array(vals)
    fit = fit_multi_temperature(ladder, V, n=n)
    two = fit_multi_temperature(ladder[:2], V[:2], n=n, fixed_multiplicity=1.0)
    rec = {"case": case, "seed": seed, "chains": chains, "eps_nbeta": scale, "truth": lam,
           "time_s": time.perf_counter() - start, "fit": fit.to_dict(), "two_temperature_t0_t0/4": two.llc,
           "per_t": per_t, "chain_values": V.tolist()}
    print(f"{case}: lambda {fit.llc:.3f} +- {fit.llc_se:.3f}, m {fit.multiplicity:.2f} +- {fit.multiplicity_se:.2f}, "
          f"chi2 {fit.chi2:.2f}; two-temperature (t0, t0/4) {two.llc:.3f}; {rec['time_s']:.0f} s", flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("a") as fh:
        fh.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
