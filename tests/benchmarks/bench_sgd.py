"""Benchmark: batched SGD (``sampling.train_sgd``) vs a per-run torch loop, in run-steps per second.

Baseline: the usual way of training many models, one run after another, each a standard torch
training loop (``requires_grad`` parameters, autograd ``backward()``, ``torch.optim.SGD``) on the same
protocol (TMS c = 6, r = 2, n = 1000, batch 20, lr 0.005). A run-step is one SGD step of one run. The
baseline cost per run-step does not depend on the number of runs (runs are sequential), so it is
measured on a few runs and compared with the batched program at R = 1, 20, 100 and 400 runs, all in
the same process, single-threaded (torch intra-op threads = 1, the fastest setting for these tensors
on the shared 2-core machine).

    python tests/benchmarks/bench_sgd.py            # writes its section of docs/benchmarks.md
"""

from __future__ import annotations

import sys
import time

import torch

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from _report import write_section  # noqa: E402

from sampling import SGDConfig, train_sgd  # noqa: E402
from sampling.dynamics.sgd import initial_params, run_generators, training_data  # noqa: E402


def per_run_loop(config: SGDConfig, seeds, steps: int) -> float:
    """Seconds for ``steps`` SGD steps of each run, trained one after another with autograd."""
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    for seed in seeds:
        _, g_init, g_order = run_generators(seed)
        f, mu = training_data(seed, config.n, config.c)
        X = torch.zeros(config.n, config.c, dtype=torch.float64)
        X[torch.arange(config.n), f] = mu
        W0, b0 = initial_params(config, g_init)
        W = W0.clone().requires_grad_(True)
        b = b0.clone().requires_grad_(True)
        opt = torch.optim.SGD([W, b], lr=config.lr)
        done = 0
        while done < steps:
            perm = torch.randperm(config.n, generator=g_order)
            for s in range(0, config.n, config.batch_size):
                xb = X[perm[s : s + config.batch_size]]
                opt.zero_grad()
                loss = ((xb - torch.relu(xb @ W.T @ W + b)) ** 2).sum(1).mean()
                loss.backward()
                opt.step()
                done += 1
                if done == steps:
                    break
    return time.perf_counter() - t0


def batched(config: SGDConfig, R: int) -> float:
    res = train_sgd(config, list(range(R)))
    return res.wall_time


def main() -> None:
    steps = 2000
    cfg = SGDConfig(epochs=steps // 50, checkpoints=20)  # 2000 steps
    base_runs = 3
    t_base = per_run_loop(cfg, range(base_runs), steps)
    base_rate = base_runs * steps / t_base
    print(f"per-run torch loop (autograd + optim.SGD): {base_rate:,.0f} run-steps/s", flush=True)
    rows = []
    for R in (1, 20, 100, 400):
        t = batched(cfg, R)
        rate = R * steps / t
        rows.append((R, t, rate))
        print(f"batched, R = {R:4d}: {rate:,.0f} run-steps/s  ({rate / base_rate:.1f}x)", flush=True)
    # the paper's protocol: 20 runs x 225,000 steps, extrapolated from the R = 20 rate
    rate20 = next(r for R, _, r in rows if R == 20)
    full = 20 * 225_000 / rate20
    body = [
        f"Protocol: TMS c = 6, r = 2, n = 1000, batch 20, lr 0.005, float64, {steps} steps per run; "
        "torch intra-op threads = 1. Baseline: one standard torch loop per run (autograd, `torch.optim.SGD`), "
        f"runs one after another (measured on {base_runs} runs; its cost per run-step is independent of R).",
        "",
        "| runs R | batched time (s) | batched run-steps/s | per-run loop run-steps/s | speed-up |",
        "|---|---|---|---|---|",
    ]
    for R, t, rate in rows:
        body.append(f"| {R} | {t:.2f} | {rate:,.0f} | {base_rate:,.0f} | {rate / base_rate:.1f}x |")
    body += [
        "",
        f"The paper's protocol (20 runs x 225,000 steps) takes about {full:.0f} s batched "
        f"(extrapolated from the R = 20 rate) against about {20 * 225_000 / base_rate / 60:.0f} min as a per-run loop.",
    ]
    write_section("sgd", "Batched SGD vs a per-run torch loop", "\n".join(body), "bench_sgd.py")


if __name__ == "__main__":
    main()
