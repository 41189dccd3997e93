"""Benchmark: jax value+gradient throughput of the closed-form potential at c = 6.

Batched over 10^4 parameter sets with jit(vmap(value_and_grad)), against a plain-Python loop over the
numpy evaluator (value only) measured in the same run. Writes its section of docs/benchmarks.md.
Run: python tests/benchmarks/bench_potential.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from _report import best_of, write_section  # noqa: E402

import kgon  # noqa: E402

kgon.configure_jax()


def main() -> None:
    batch, c, r = 10_000, 6, 2
    rng = np.random.default_rng(0)
    W = rng.normal(size=(batch, r, c))
    b = rng.normal(scale=0.5, size=(batch, c))
    Wj, bj = jnp.asarray(W), jnp.asarray(b)

    vg = jax.jit(jax.vmap(jax.value_and_grad(kgon.potential_jax, argnums=(0, 1))))
    jax.block_until_ready(vg(Wj, bj))  # compile
    t_jax = best_of(lambda: jax.block_until_ready(vg(Wj, bj)), 5)

    n_loop = 1000
    def loop():
        for i in range(n_loop):
            kgon.potential_numpy(W[i], b[i])
    t_loop = best_of(loop, 3)

    # batched numpy (value only), for reference
    t_np_batch = best_of(lambda: kgon.potential_numpy(W, b), 5)

    jax_rate = batch / t_jax
    loop_rate = n_loop / t_loop
    np_rate = batch / t_np_batch
    body = f"""
| evaluator | evaluations / s | ratio to baseline |
|---|---|---|
| plain-Python loop over `kgon.potential_numpy` (value only) — **baseline** | {loop_rate:,.0f} | 1.0 |
| numpy, batched over {batch:,} (value only) | {np_rate:,.0f} | {np_rate / loop_rate:,.1f} |
| jax `jit(vmap(value_and_grad))`, batched over {batch:,} (value **and** gradient) | {jax_rate:,.0f} | {jax_rate / loop_rate:,.1f} |

c = {c}, r = {r}, float64, random parameters (W ~ N(0,1), b ~ N(0, 0.25)); best of repeated runs,
jax compile time excluded.
"""
    print(body)
    write_section("potential", "Closed-form potential throughput", body, "bench_potential.py")


if __name__ == "__main__":
    main()
