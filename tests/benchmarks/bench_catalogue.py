"""Benchmark: time to the full c = 6 critical-point catalogue, and starts per second.

1. Wall time of ``kgon.find_critical_points(6)`` (default settings, fresh process: includes the jax
   compilations), and of its parts measured separately.
2. Starts per second of the batched Newton/Levenberg-Marquardt solver (``jit(vmap)`` over starts,
   compiled) against a baseline measured in the same run: ``scipy.optimize.root(method="lm")`` per
   start in a Python loop on the same jax-compiled gradient and Hessian (what one would write
   without batching).
3. Classifier throughput (noisy parameters per second, full c = 6 catalogue).

Writes its section of docs/benchmarks.md. Run: python tests/benchmarks/bench_catalogue.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from _report import write_section  # noqa: E402

import kgon  # noqa: E402
from kgon.critical.search import certify, loss_fn, make_starts, solve_critical  # noqa: E402

kgon.configure_jax()


def main() -> None:
    c, r = 6, 2
    t0 = time.perf_counter()
    cat = kgon.find_critical_points(c, r=r, seed=0)
    t_full = time.perf_counter() - t0
    n_starts = cat.n_starts
    n_explore = cat.stats["n_explore"]

    # batched solver throughput (compiled already)
    rng = np.random.default_rng(1)
    X0, _ = make_starts(rng, 1024, r, c)
    t0 = time.perf_counter()
    S = solve_critical(X0, r, c)
    t_batch = time.perf_counter() - t0
    _, _, ok_b = certify(S, r, c)
    rate_batch = X0.shape[0] / t_batch

    # baseline: scipy root (Levenberg-Marquardt) per start on the jax gradient / Hessian
    from scipy.optimize import root

    f = loss_fn(r, c)
    g = jax.jit(jax.grad(f))
    H = jax.jit(jax.hessian(f))
    g(jnp.asarray(X0[0]))
    H(jnp.asarray(X0[0]))
    n_base = 40
    t0 = time.perf_counter()
    ok_base = 0
    for x in X0[:n_base]:
        sol = root(lambda y: np.asarray(g(jnp.asarray(y))), x, jac=lambda y: np.asarray(H(jnp.asarray(y))),
                   method="lm", options={"maxiter": 2000})
        ok_base += bool(np.linalg.norm(np.asarray(g(jnp.asarray(sol.x)))) <= 1e-9)
    t_base = time.perf_counter() - t0
    rate_base = n_base / t_base

    # classifier throughput
    N = 2000
    pts = cat.points
    idx = rng.integers(0, len(pts), N)
    W = np.stack([pts[i].W for i in idx]) + 0.02 * rng.normal(size=(N, r, c))
    b = np.stack([pts[i].b for i in idx]) + 0.02 * rng.normal(size=(N, c))
    t0 = time.perf_counter()
    labels = kgon.classify(W, b, cat)
    t_cls = time.perf_counter() - t0
    acc = float(np.mean(labels == np.array([pts[i].label for i in idx])))

    body = f"""
| quantity | value |
|---|---|
| full c = 6 catalogue, `find_critical_points(6)` (fresh process, incl. compilation) | {t_full:.1f} s |
| points in the catalogue / starts / exploration starts / certified starts | \
{len(cat)} / {n_starts} / {n_explore} / {cat.n_converged} |
| batched LM solver, 1024 starts (compiled) | \
{t_batch:.2f} s = {rate_batch:.0f} starts/s ({ok_b.mean():.0%} certified) |
| baseline: `scipy.optimize.root(method="lm")` per start, jax grad/Hessian | \
{rate_base:.1f} starts/s ({ok_base}/{n_base} certified) |
| **speed-up of the batched solver** | **{rate_batch / rate_base:.0f}x** |
| classifier, {N} noisy parameters, {len(cat)} points | {N / t_cls:.0f} parameters/s ({acc:.1%} correct) |

Acceptance: the full c = 6 catalogue in under 3 minutes on 2 cores.
"""
    print(body)
    write_section("catalogue", "Critical-point catalogue", body, "bench_catalogue.py")


if __name__ == "__main__":
    main()
