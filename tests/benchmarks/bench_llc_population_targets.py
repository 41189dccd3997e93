"""The data-free finite-n target of the SGLD LLC estimators on a deep linear network (docs/llc.md §4,
"Multiplicity").

On the population loss of a rank-0 deep linear network, K(w) = ||W_L ... W_1||^2 / 2 (``dln_loss`` with
Sxx = I, Sxy = 0, Syy = 0: no data fluctuation, so nothing for the two-temperature correction to remove),
run coupled chain pairs at t = n beta = 1e5 / log 1e5 and t / 2 (same keys, same step eps = scale / t, the
same SGLD time) from w = 0, and print the plain targets t E_t[K], (t/2) E_{t/2}[K] and the two-temperature
value 2 lambda_hat(t/2) - lambda_hat(t) in 20 windows of SGLD time and after discarding the first 4 and
10 windows. Compare with the truth ``dln_llc``: what is left is the estimator's finite-n bias (for
multiplicity m, -(m - 1) / log t plain and -(m - 1) (log t + log 2) / (log t (log t - log 2))
two-temperature to leading order).

    nice -n 5 python tests/benchmarks/bench_llc_population_targets.py 4,3,3,4 --scale 0.015625 --time 12 --chains 8
    nice -n 5 python tests/benchmarks/bench_llc_population_targets.py 6,3,3,6 --scale 0.015625 --time 5 --chains 4
    nice -n 5 python tests/benchmarks/bench_llc_population_targets.py 5,3,5 --scale 0.015625 --time 5 --chains 4

(2026-11-30, docs/llc.md §4: two-temperature 3.615 ± 0.024 after 10/20 windows (3.638 ± 0.012 after
4/20), 4.391 ± 0.048 and 6.256 ± 0.031 after 4/20; 6, 4-12 and 1.5 minutes per temperature on the loaded
2-core machine.)
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import kgon

kgon.configure_jax()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from sampling import dln_llc, dln_loss, dln_truth  # noqa: E402
from sampling.dynamics.sgld import chain_runner  # noqa: E402

WINDOWS = 20


def main():
    p = argparse.ArgumentParser()
    p.add_argument("widths", help="comma-separated widths (input, hidden..., output), rank 0")
    p.add_argument("--scale", type=float, default=1 / 64, help="eps * t (default 1/64)")
    p.add_argument("--time", type=float, default=5.0, help="SGLD time eps * steps (default 5)")
    p.add_argument("--gamma", type=float, default=1.0)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--n", type=int, default=100_000)
    a = p.parse_args()
    widths = tuple(int(x) for x in a.widths.split(","))
    t = a.n / math.log(a.n)
    truth = dln_truth(widths, 0)
    w_star = tuple(jnp.asarray(W) for W in truth.w_star)
    stats = (jnp.eye(widths[0]), jnp.zeros((widths[0], widths[-1])), jnp.asarray(0.0))
    eps = a.scale / t
    steps = int(a.time / eps) // WINDOWS * WINDOWS
    run = chain_runner(dln_loss, batch_size=None, n_data=None, n_steps=steps)
    keys = jax.random.split(jax.random.key(7), a.chains)
    vals = {}
    for nb in (t, t / 2):
        t0 = time.perf_counter()
        L, acc, L0 = run(keys, w_star, stats, eps, a.gamma, nb, 1.0, 0.0)
        vals[nb] = nb * (L - L0).reshape(a.chains, WINDOWS, -1).mean(axis=2)
        print(f"n beta = {nb:.0f}: {steps} steps, {time.perf_counter() - t0:.0f} s, MALA acceptance "
              f"{acc.mean():.4f} (last half {acc[:, steps // 2:].mean():.4f})", flush=True)
    p1, p2 = vals[t], vals[t / 2]
    tt = 2 * p2 - p1
    print(f"{truth.name}: lambda = {dln_llc(widths, 0):g}; windows of {a.time / WINDOWS:g} units of SGLD time")
    for name, v in (("plain(t)", p1), ("plain(t/2)", p2), ("two-temperature", tt)):
        print(f"  {name:16s}", np.round(v.mean(0), 2).tolist())
    for lo in (4, 10):
        out = []
        for name, v in (("plain(t)", p1), ("plain(t/2)", p2), ("two-temperature", tt)):
            x = v[:, lo:].mean(1)
            out.append(f"{name} {x.mean():.3f} ± {x.std(ddof=1) / math.sqrt(len(x)):.3f}")
        print(f"  after {lo}/{WINDOWS} windows: " + ", ".join(out))


if __name__ == "__main__":
    main()
