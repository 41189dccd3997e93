"""Benchmark: NUTS effective samples per second of the loss.

Same sampler (numpyro ``MCMC(NUTS(model))``, one chain, ``jit_model_args=True``) on the same
posterior phi(w) exp(-n L_n(w)) (c = 6, r = 2) with two likelihoods, measured in the same run:

- baseline: ``sampling.dense_model``, the plain numpyro model with a dense Gaussian likelihood
  (variance 1/2) over all n samples;
- ``sampling.tms_model``: the exact fast likelihood (prefix sums, O(c^2 log n)).

Also shown: ``sampling.run_nuts`` (the toolkit's runner: 2 chains in parallel over the CPU devices).
ESS is the bulk effective sample size of L_n over the draws (``numpyro.diagnostics``); the time
is the wall time of warmup + sampling after compilation (a first run compiles; the timed second
run reuses the compiled code). Target: >= 10x at n = 10^4.
Run: python tests/benchmarks/bench_nuts.py
"""

from __future__ import annotations

import functools
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from _report import write_section  # noqa: E402
from numpyro.diagnostics import effective_sample_size  # noqa: E402
from numpyro.infer import MCMC, NUTS, init_to_value  # noqa: E402

import kgon  # noqa: E402
import sampling  # noqa: E402

kgon.configure_jax()

WARMUP, SAMPLES = 200, 400


def ess_per_second(model, args, kwargs, pot, init, seed):
    mcmc = MCMC(NUTS(model, init_strategy=init_to_value(values=init)), num_warmup=WARMUP, num_samples=SAMPLES,
                num_chains=1, progress_bar=False, jit_model_args=True)
    mcmc.run(jax.random.PRNGKey(seed), *args, **kwargs)  # compile (and a first run)
    t0 = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(seed + 1), *args, **kwargs)
    s = mcmc.get_samples()
    jax.block_until_ready(s)
    dt = time.perf_counter() - t0
    loss = np.asarray(jax.jit(jax.vmap(pot.value))(s["W"], s["b"]))
    ess = float(effective_sample_size(loss[None, :]))
    return ess / dt, ess, dt


def main() -> None:
    rows = []
    for n in (10**3, 10**4):
        ds = sampling.make_dataset(jax.random.PRNGKey(n), n, 6)
        pot = sampling.empirical_potential(ds)
        # start every sampler at the same point of the dominant phase (the 6-gon, perturbed), so
        # that the ESS measures sampling efficiency within a phase, not basin hopping
        six = kgon.default_catalogue(6).get("6")
        rng = np.random.default_rng(0)
        init = {"W": jnp.asarray(six.W + 0.01 * rng.normal(size=(2, 6))), "b": jnp.asarray(six.b + 0.01 * rng.normal(size=6))}
        z0 = np.tile(np.concatenate([np.asarray(init["W"]).ravel(), np.asarray(init["b"])]), (2, 1))
        dense_model = functools.partial(sampling.dense_model, c=6, r=2)  # static shape arguments
        fast_model = functools.partial(sampling.tms_model, r=2)
        dense = ess_per_second(dense_model, (jnp.asarray(ds.features), jnp.asarray(ds.mu)), {}, pot, init, 1)
        fast = ess_per_second(fast_model, (pot,), {}, pot, init, 1)
        # the toolkit's runner: 2 chains over the devices (second run timed: compiled code reused)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sampling.run_nuts(jax.random.PRNGKey(0), ds, chains=2, warmup=WARMUP, samples=SAMPLES, init=z0)
            t0 = time.perf_counter()
            res = sampling.run_nuts(jax.random.PRNGKey(1), ds, chains=2, warmup=WARMUP, samples=SAMPLES, init=z0)
            dt = time.perf_counter() - t0
        runner = (res.ess_loss / dt, res.ess_loss, dt)
        rows.append((n, dense, fast, runner))
        print(n, "dense", dense, "fast", fast, "run_nuts", runner)
    lines = [
        "| n | dense numpyro model (baseline): ESS/s | fast `tms_model`: ESS/s | speed-up | `run_nuts` (2 chains, 2 devices): ESS/s | speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for n, d, f, r in rows:
        lines.append(
            f"| {n:,} | {d[0]:,.1f} (ESS {d[1]:.0f} in {d[2]:.1f} s) | {f[0]:,.1f} (ESS {f[1]:.0f} in {f[2]:.1f} s) | "
            f"**{f[0] / d[0]:,.1f}x** | {r[0]:,.1f} (ESS {r[1]:.0f} in {r[2]:.1f} s) | {r[0] / d[0]:,.1f}x |"
        )
    body = "\n".join(lines) + (
        f"\n\nNUTS, {WARMUP} warmup + {SAMPLES} draws per chain, c = 6, r = 2, all samplers started at the same "
        "perturbed 6-gon (the dominant phase at these n); ESS of L_n; "
        "compile time excluded (timed second run). Target: >= 10x at n = 10^4."
    )
    print(body)
    write_section("nuts", "NUTS effective samples per second: fast vs dense likelihood", body, "bench_nuts.py")


if __name__ == "__main__":
    main()
