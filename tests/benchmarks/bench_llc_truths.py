"""Benchmark: calibrated SGLD LLC estimates (``calibrate=True``, defaults only) against known truths.

Cases (sampling.dynamics.truths): deep linear networks of 2-4 layers at n = 1e5 at the most singular
true parameter (x ~ N(0, I), y = A x + N(0, I), L_n = (1/2n) sum ||y - f(x)||^2 from sufficient
statistics), a normal crossing (n beta = 1e5 / log 1e5), and the TMS 5-gon and 6-gon at c = 6,
n = 1e5 (``tms_llc(calibrate=True)``). Per case and seed (data set and chains): the estimate, its
standard error, the chosen (eps, gamma), why, and the wall time of the sweep and of the final estimate
(the calibration cost ratio). Optionally devinterp 1.x (``pip install "devinterp<2"``) with its
documented defaults on the deep linear networks.

Results are appended to ``tests/benchmarks/results/llc_truths.jsonl`` as they finish (re-runs skip
cases already there); ``--report`` writes the table into docs/benchmarks.md.

    nice -n 5 python tests/benchmarks/bench_llc_truths.py [--seeds 3] [--tms] [--devinterp]
    python tests/benchmarks/bench_llc_truths.py --report
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_row, read_rows, write_section  # noqa: E402

import kgon  # noqa: E402

kgon.configure_jax()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from sampling import SGLDConfig, estimate_llc, make_dataset, tms_llc  # noqa: E402
from sampling.dynamics.truths import (  # noqa: E402
    dln_data,
    dln_loss,
    dln_truth,
    normal_crossing_loss,
    normal_crossing_truth,
    tms_truth,
)

OUT = Path(__file__).resolve().parent / "results" / "llc_truths_2t.jsonl"
"""Results of the estimator with the two-temperature correction (the default with calibrate=True). The
plain-estimator run of 2026-11-29 (and devinterp's rows) is in ``llc_truths.jsonl``."""
N = 100_000
DLN_CASES = [((5, 3, 5), 0), ((3, 3, 3), 1), ((8, 4, 8), 0), ((4, 3, 3, 4), 0), ((6, 3, 3, 6), 0),
             ((5, 4, 3, 5), 1), ((3, 4, 5, 4, 3), 1)]
"""(6,3,3,6) rank 0: the three-layer case whose zero fibre has one top-dimensional component (multiplicity
1 expected), beside (4,3,3,4) rank 0 with three (docs/llc.md §4, "Multiplicity")."""
ACCEPTANCE_DLN = DLN_CASES[:5]


def _done():
    if not OUT.exists():
        return set()
    return {(r["case"], r["seed"], r.get("method", "tmsphase")) for r in read_rows(OUT)}


def _write(rec):
    append_row(OUT, rec)
    print(json.dumps({k: v for k, v in rec.items() if k != "sweep"}), flush=True)


def _record(case, truth, seed, res, t):
    cal = res.calibration
    return {"case": case, "seed": seed, "method": "tmsphase", "truth": truth, "llc": _f(res.llc),
            "llc_se": _f(res.llc_se), "rel_error": _f((res.llc - truth) / truth), "estimator": res.estimator,
            "llc_plain": _f(res.llc_plain), "llc_plain_se": _f(res.llc_plain_se),
            "parts": [{"nbeta": p.config.nbeta, "eps": p.config.eps, "llc": _f(p.llc), "llc_se": _f(p.llc_se),
                       "acceptance": _f(p.diagnostics.acceptance_mean), "excluded": len(p.diagnostics.excluded),
                       "steps": p.config.burnin + p.config.draws} for p in res.parts],
            "eps_nbeta": _f(res.config.eps * res.config.nbeta), "gamma": res.config.gamma,
            "acceptance": _f(res.diagnostics.acceptance_mean), "reason": cal.reason if cal else res.reason,
            "sweep_s": _f(cal.sweep_seconds), "estimate_s": _f(cal.estimate_seconds), "cost_ratio": _f(cal.cost_ratio),
            "steps": res.config.burnin + res.config.draws, "chains": res.config.chains, "time_s": t,
            "nan_reason": res.reason, "sweep": [s.to_dict() for s in cal.settings]}


def _f(x):
    x = float(x)
    return x if math.isfinite(x) else None


def run_dln(seeds, done, devinterp, cases=DLN_CASES):
    for widths, rank in cases:
        truth = dln_truth(widths, rank)
        case = truth.name
        w = tuple(jnp.asarray(x) for x in truth.w_star)
        for seed in (range(seeds) if isinstance(seeds, int) else seeds):
            stats = dln_data(jax.random.key(1000 + seed), truth, N)
            if (case, seed, "tmsphase") not in done:
                t0 = time.perf_counter()
                res = estimate_llc(jax.random.key(seed), dln_loss, w, stats, n=N, calibrate=True)
                _write(_record(case, truth.llc, seed, res, time.perf_counter() - t0))
            if devinterp and (case, seed, "devinterp") not in done:
                try:
                    _write(run_devinterp(truth, seed, case))
                except Exception as exc:  # record why it could not run (the benchmark goes on)
                    _write({"case": case, "seed": seed, "method": "devinterp", "truth": truth.llc, "llc": None,
                            "reason": f"{type(exc).__name__}: {exc}"[:300], "time_s": 0.0})


def run_devinterp(truth, seed, case):
    """devinterp 1.x ``estimate_learning_coeff_with_summary`` with its defaults (nbeta =
    ``default_nbeta(loader)``, SGLD optimizer defaults, 10 chains x 100 draws; minibatches of 1000) on a
    torch deep linear network at the true parameter, same data distribution."""
    import torch
    from devinterp.slt.sampler import estimate_learning_coeff_with_summary
    from devinterp.utils import default_nbeta

    gen = torch.Generator().manual_seed(1000 + seed)
    A = torch.tensor(truth.true_map)
    X = torch.randn(N, A.shape[1], generator=gen, dtype=torch.float64)
    Y = X @ A.T + torch.randn(N, A.shape[0], generator=gen, dtype=torch.float64)
    layers = [torch.nn.Linear(W.shape[1], W.shape[0], bias=False, dtype=torch.float64) for W in truth.w_star]
    with torch.no_grad():
        for lin, W in zip(layers, truth.w_star):
            lin.weight.copy_(torch.tensor(W))
    model = torch.nn.Sequential(*layers)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Y), batch_size=1000, shuffle=True,
                                         generator=gen)

    def evaluate(m, batch):
        x, y = batch
        return 0.5 * ((m(x) - y) ** 2).sum(dim=1).mean(), {}

    t0 = time.perf_counter()
    # documented defaults: nbeta = default_nbeta(loader) (batch size / log batch size), the SGLD optimizer's
    # own defaults otherwise (lr 0.01, localization 0), 10 chains x 100 draws, no burn-in
    out = estimate_learning_coeff_with_summary(model, loader, evaluate=evaluate, seed=seed, verbose=False,
                                               optimizer_kwargs=dict(nbeta=default_nbeta(loader)))
    t = time.perf_counter() - t0
    llc = float(out["llc/mean"])
    se = float(out["llc/std"]) / math.sqrt(10)
    return {"case": case, "seed": seed, "method": "devinterp", "truth": truth.llc, "llc": _f(llc), "llc_se": _f(se),
            "rel_error": _f((llc - truth.llc) / truth.llc), "time_s": t}


def run_crossing(seeds, done):
    truth = normal_crossing_truth((1, 2))
    nbeta = N / math.log(N)
    for seed in range(seeds):
        if (truth.name, seed, "tmsphase") in done:
            continue
        t0 = time.perf_counter()
        res = estimate_llc(jax.random.key(seed), normal_crossing_loss, jnp.zeros(2), jnp.array([1, 2]), calibrate=True,
                           config=SGLDConfig(nbeta=nbeta))
        _write(_record(truth.name, truth.llc, seed, res, time.perf_counter() - t0))


def run_tms(seeds, done, chains):
    for label in ("5", "6"):
        truth = tms_truth(label, 6)
        W, b = truth.w_star
        for seed in range(seeds):
            if (truth.name, seed, "tmsphase") in done:
                continue
            k_data, k_chain = jax.random.split(jax.random.key(seed))
            data = make_dataset(k_data, N, 6)
            t0 = time.perf_counter()
            res = tms_llc(k_chain, W, b, data, calibrate=True, config=SGLDConfig(chains=chains))
            rec = _record(truth.name, truth.llc, seed, res, time.perf_counter() - t0)
            _write(rec)


def report():
    rows = read_rows(OUT)
    by = {}
    for r in rows:
        by.setdefault((r["case"], r.get("method", "tmsphase")), []).append(r)
    lines = ["Calibrated SGLD (`calibrate=True`, defaults only: 4 chains, gamma = 1, eps grid 2^-k / (n beta), "
             "k = 0..8, the same SGLD time at every step = 40,000 + 160,000 steps at eps = 1/(8 n beta); TMS: "
             "`tms_llc(calibrate=True, config=SGLDConfig(chains=16))`) against exact learning coefficients "
             "(docs/llc.md). "
             "The reported estimate is the two-temperature one (docs/llc.md §4: n (E_beta[L_n] - "
             "E_beta/2[L_n]) / (1/beta - 1/(beta/2)), chains at beta/2 coupled to those at beta); the plain "
             "estimate n beta (E_beta[L_n] - L_n(w*)) at the chosen step is in the `plain` column. "
             "n = 1e5 (n beta = n / log n); each seed is a new data set and new chains. `cost ratio` = wall "
             "time of the calibration sweep / wall time of the final estimate (both temperatures; compilation "
             "excluded). devinterp 1.3.2: `estimate_learning_coeff_with_summary` with its documented defaults "
             "(nbeta = default_nbeta(loader), minibatches of 1000, SGLD lr 0.01, no localisation, 10 chains "
             "x 100 draws).", "",
             "| case | truth | method | estimates (per seed, ± s.e.) | mean | error of mean | plain: mean (error) "
             "| eps n beta chosen | cost ratio | time per estimate (s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for (case, method), rs in by.items():
        rs = sorted(rs, key=lambda r: r["seed"])  # seeds run in parallel processes finish in any order
        vals = [r["llc"] for r in rs]
        fin = [v for v in vals if v is not None]
        mean = float(np.mean(fin)) if fin else float("nan")
        truth = rs[0]["truth"]
        ests = ", ".join("NaN" if v is None else f"{v:.3f} ± {r['llc_se']:.3f}" if r.get("llc_se") else f"{v:.3f}"
                         for v, r in zip(vals, rs))
        plain = [r["llc_plain"] for r in rs if r.get("llc_plain") is not None]
        pl = f"{np.mean(plain):.3f} ({(np.mean(plain) - truth) / truth:+.1%})" if plain else "-"
        eps = ", ".join(f"1/{1 / r['eps_nbeta']:.0f}" if r["eps_nbeta"] < 1 else "1" for r in rs
                        if r.get("eps_nbeta")) or "-"
        cost = ", ".join(f"{r['cost_ratio']:.1f}" for r in rs if r.get("cost_ratio")) or "-"
        t = np.mean([r["time_s"] for r in rs])
        err = f"{(mean - truth) / truth:+.1%}" if fin else "NaN"
        lines.append(f"| {case} | {truth:g} | {method} | {ests} | {mean:.3f} | {err} | {pl} | "
                     f"{eps} | {cost} | {t:.1f} |")
    nan = [r for r in rows if r.get("llc") is None]
    if nan:
        lines.append("")
        lines.append("NaN estimates and their stated reasons: " + "; ".join(
            f"{r['case']} seed {r['seed']} ({r.get('method', 'tmsphase')}): "
            f"{str(r.get('nan_reason') or r.get('reason'))[:400]}"
            for r in nan))
    write_section("llc_truths", "Calibrated LLC estimates vs known learning coefficients", "\n".join(lines),
                  "bench_llc_truths.py")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--tms", action="store_true")
    p.add_argument("--tms-chains", type=int, default=16)
    p.add_argument("--tms-seeds", type=int, default=1)
    p.add_argument("--devinterp", action="store_true")
    p.add_argument("--report", action="store_true")
    p.add_argument("--rest-seeds", type=int, default=None,
                   help="seeds for the deep linear networks outside the acceptance cases (default --seeds)")
    p.add_argument("--only", default=None,
                   help="run only this deep linear network, e.g. '6,3,3,6:0' (widths:rank), for --seed-list")
    p.add_argument("--seed-list", default=None, help="with --only: comma-separated seeds (e.g. '0,1')")
    a = p.parse_args()
    if a.report:
        report()
        return
    done = _done()
    if a.only:
        widths, rank = a.only.split(":")
        seeds = [int(x) for x in a.seed_list.split(",")] if a.seed_list else a.seeds
        run_dln(seeds, done, a.devinterp, [(tuple(int(x) for x in widths.split(",")), int(rank))])
        return
    # the acceptance cases first (issue order), then the rest: the long runs last
    run_dln(a.seeds, done, a.devinterp, ACCEPTANCE_DLN)
    if a.tms:
        run_tms(a.tms_seeds, done, a.tms_chains)
    run_crossing(a.seeds, done)
    rest = a.seeds if a.rest_seeds is None else a.rest_seeds
    run_dln(rest, done, a.devinterp, DLN_CASES[4:])
    report()


if __name__ == "__main__":
    main()
