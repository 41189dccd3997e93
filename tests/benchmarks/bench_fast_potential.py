"""Benchmark: exact fast empirical loss + gradient vs the dense direct sum.

Both are jax, float64, jit-compiled ``value_and_grad`` of L_n(W, b) at c = 6, r = 2, measured in the
same run: the O(c^2 log n) prefix-sum evaluator (``sampling.empirical_potential``) against the
O(n c r) direct sum over samples (``sampling.dense_loss``, the baseline). Each timing is the best
of several runs of a compiled loop of R evaluations at slightly different parameters (dispatch
overhead amortised). Targets: >= 10x at n = 10^4, >= 100x at n = 10^6.
Run: python tests/benchmarks/bench_fast_potential.py
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
import sampling  # noqa: E402

kgon.configure_jax()


def looped(vg, R: int):
    """jit of R evaluations of vg at W + k eps (the loop defeats caching and amortises dispatch)."""

    def body(k, acc):
        v, (gW, gb) = vg(acc[0] + 1e-9 * k, acc[1])
        return (acc[0] + 1e-12 * gW, acc[1] + 1e-12 * gb + 0 * v)

    return jax.jit(lambda W, b: jax.lax.fori_loop(0, R, body, (W, b)))


def main() -> None:
    rng = np.random.default_rng(0)
    W = jnp.asarray(rng.normal(size=(2, 6)))
    b = jnp.asarray(rng.normal(scale=0.5, size=6))
    rows = []
    for n in (10**3, 10**4, 10**5, 10**6):
        ds = sampling.make_dataset(jax.random.PRNGKey(n), n, 6)
        pot = sampling.empirical_potential(ds)
        f, mu = jnp.asarray(ds.features), jnp.asarray(ds.mu)
        fast_vg = lambda W_, b_: jax.value_and_grad(lambda w, bb: pot.value(w, bb), argnums=(0, 1))(W_, b_)
        dense_vg = lambda W_, b_: jax.value_and_grad(lambda w, bb: sampling.dense_loss(f, mu, w, bb), argnums=(0, 1))(W_, b_)
        # agreement at this point (relative)
        v_fast, v_dense = float(pot.value(W, b)), float(jax.jit(sampling.dense_loss)(f, mu, W, b))
        R_fast = 2000
        R_dense = max(5, int(2e7 // n))
        lf, ld = looped(fast_vg, R_fast), looped(dense_vg, R_dense)
        jax.block_until_ready(lf(W, b))
        jax.block_until_ready(ld(W, b))
        t_fast = best_of(lambda: jax.block_until_ready(lf(W, b)), 5) / R_fast
        t_dense = best_of(lambda: jax.block_until_ready(ld(W, b)), 3) / R_dense
        rows.append((n, t_dense, t_fast, abs(v_fast - v_dense) / v_dense))
        print(f"n={n:>8}: dense {t_dense * 1e6:10.1f} us, fast {t_fast * 1e6:8.2f} us, ratio {t_dense / t_fast:8.1f}")
    lines = [
        "| n | dense direct sum (baseline) [us] | fast prefix sums [us] | speed-up | relative difference of L_n |",
        "|---|---|---|---|---|",
    ]
    for n, td, tf, rel in rows:
        lines.append(f"| {n:,} | {td * 1e6:,.1f} | {tf * 1e6:,.2f} | **{td / tf:,.0f}x** | {rel:.1e} |")
    body = "\n".join(lines) + (
        "\n\nOne jit-compiled `value_and_grad` of L_n(W, b) (c = 6, r = 2, float64), per evaluation; best of "
        "repeated compiled loops (compile time excluded). Targets: >= 10x at n = 10^4, >= 100x at "
        "n = 10^6. The baseline's cost grows like n; the fast evaluator does c^2 binary searches (O(log n) "
        "steps each), whose cost beyond n ~ 10^4 is set by memory latency once the per-feature tables "
        "(7 float64 arrays of n / c entries) no longer fit in cache."
    )
    print(body)
    write_section("fast_potential", "Exact fast empirical potential vs dense sum", body, "bench_fast_potential.py")


if __name__ == "__main__":
    main()
