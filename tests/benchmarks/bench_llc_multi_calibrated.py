"""Benchmark: the calibrated multi-temperature estimate of lambda and m (``estimate_llc(..., calibrate=True,
config=SGLDConfig(estimator="multi_temperature"))``, docs/llc.md §4b) against every known truth with a
known multiplicity, with the keys of the calibrated two-temperature table (``bench_llc_truths.py``).

    nice python tests/benchmarks/bench_llc_multi_calibrated.py [--seeds 1] [--chains K] [--only CASE]
        [--step scaled|fixed] [--report]

Cases (chosen before measuring; truths from ``sampling.dln_llc`` / ``dln_multiplicity`` (Aoyagi 2024),
``normal_crossing_llc`` and ``regular_truth``): the deep linear networks of bench_llc_truths.py, plus
(3,2,2,3) rank 0 (lambda 2, m 3) and (4,3,4) rank 0 (lambda 5, m 2), the issue's "two more of your
choice"; the normal crossings x^2 y^2 (1/2, m 2) and x^2 y^4 (1/4, m 1); a regular model (d = 6: 3, m 1).
Same keys as bench_llc_truths.py (data key 1000 + seed, chain key seed), n = 1e5, n beta = n / log n.
One JSON line per estimate in results/llc_multi_calibrated.jsonl (ignored by git); ``--report`` writes
the table into docs/benchmarks.md. Wall time per estimate includes compilation (end to end).
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
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from sampling import (  # noqa: E402
    SGLDConfig,
    corrected_two_temperature,
    estimate_llc,
    fit_multi_temperature,
    make_dataset,
    tms_llc,
    tms_truth,
)
from sampling.dynamics.truths import (  # noqa: E402
    dln_data,
    dln_loss,
    dln_truth,
    normal_crossing_loss,
    normal_crossing_truth,
    regular_truth,
)

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "llc_multi_calibrated.jsonl"
N = 100_000
DLN = [((5, 3, 5), 0), ((3, 3, 3), 1), ((8, 4, 8), 0), ((4, 3, 3, 4), 0), ((6, 3, 3, 6), 0), ((5, 4, 3, 5), 1),
       ((3, 4, 5, 4, 3), 1), ((3, 2, 2, 3), 0), ((4, 3, 4), 0)]
CASES = [f"dln:{','.join(map(str, w))}:{r}" for w, r in DLN] + ["nc:1,1", "nc:1,2", "regular:6", "tms:6", "tms:5"]


def problem(case: str, seed: int):
    """(truth, loss_fn, w_star, data) of a case name (module docstring)."""
    kind, _, rest = case.partition(":")
    if kind == "dln":
        widths, rank = rest.split(":")
        truth = dln_truth(tuple(int(x) for x in widths.split(",")), int(rank))
        w = tuple(jnp.asarray(x) for x in truth.w_star)
        return truth, dln_loss, w, dln_data(jax.random.key(1000 + seed), truth, N)
    if kind == "nc":
        k = tuple(int(x) for x in rest.split(","))
        return normal_crossing_truth(k), normal_crossing_loss, jnp.zeros(2), jnp.array(k)
    if kind == "regular":
        truth = regular_truth(int(rest))
        return truth, regular_loss, jnp.zeros(truth.d), jnp.linspace(0.5, 2.0, truth.d)
    raise ValueError(f"unknown case {case!r}; choose from {CASES}")


def regular_loss(w, h):
    """The regular quadratic loss 1/2 sum_i h_i w_i^2 (curvatures ``h`` passed as data): lambda = d / 2, m = 1."""
    return 0.5 * jnp.sum(h * w ** 2)


def run(case: str, seed: int, chains: int | None, step: str, temperatures: tuple, fluctuation: bool) -> dict:
    cfg = SGLDConfig(estimator="multi_temperature", chains=chains, nbeta=N / math.log(N), temperature_step=step,
                     temperatures=temperatures, fluctuation_term=fluctuation)
    t0 = time.perf_counter()
    if case.startswith("tms:"):  # a TMS catalogue point at c = 6 (r = 2), the keys of test_acceptance_tms_calibrated
        truth = tms_truth(case.split(":")[1], 6)
        k_data, k_chain = jax.random.split(jax.random.key(seed))
        res = tms_llc(k_chain, *truth.w_star, make_dataset(k_data, N, 6), calibrate=True, config=cfg)
    else:
        truth, loss_fn, w, data = problem(case, seed)
        res = estimate_llc(jax.random.key(seed), loss_fn, w, data, n=N, calibrate=True, config=cfg)
    t = time.perf_counter() - t0
    cal = res.calibration
    return {"case": case, "name": truth.name, "seed": seed, "truth": truth.llc, "truth_m": truth.multiplicity,
            "chains": res.config.chains, "llc": _f(res.llc), "llc_se": _f(res.llc_se),
            "rel_error": _f((res.llc - truth.llc) / truth.llc), "m": _f(res.multiplicity),
            "m_se": _f(res.multiplicity_se), "m1_rejected": bool(res.multiplicity_one_rejected),
            "llc_plain": _f(res.llc_plain), "parts": [_f(p.llc) for p in res.parts],
            "eps_nbeta": _f(res.config.eps * res.config.nbeta) if res.config.eps else None,
            "sweep_s": _f(cal.sweep_seconds) if cal else None, "estimate_s": _f(cal.estimate_seconds) if cal else None,
            "time_s": t, "reason": res.reason, "temperature_step": step, "temperatures": list(res.config.temperatures),
            "fluctuation_term": fluctuation, "nbetas": [p.config.nbeta for p in res.parts],
            "eps_parts": [p.config.eps for p in res.parts],
            "chain_parts": [[_f(x) for x in np.where(p.healthy, p.chain_llc, np.nan)] for p in res.parts],
            "correction": ([_f(x) for x in res.multi_temperature.correction] if res.multi_temperature else None),
            "fluctuation": _f(res.multi_temperature.fluctuation) if res.multi_temperature and fluctuation else None}


def report() -> None:
    rows = read_rows(OUT)
    lines = [
        "Calibrated multi-temperature estimates (`estimate_llc(..., calibrate=True, config=SGLDConfig("
        "estimator=\"multi_temperature\"))`: the step calibrated at beta, then coupled chains at beta x the "
        "ladder and the weighted fit of lambda and m, docs/llc.md §4b) against Aoyagi's (lambda, m) for deep "
        "linear networks, the normal crossings' and a regular model's; n = 1e5, n beta = n / log n, data key "
        "1000 + seed, chain key seed (the keys of the two-temperature table above: its seed-0 column is the "
        "comparison), and the TMS 5- and 6-gon at c = 6 (`tms_llc`, the keys of test_acceptance_tms_calibrated). "
        "`step`: the step at beta_k, `scaled` (eps beta / beta_k, halved while unhealthy, with the Gaussian "
        "correction: the defaults) or `fixed` (eps at every temperature, no correction: the first version); "
        "`fit`: the ladder and the terms, `3t/4` = lambda, m, c on (1, 1/4, 1/16, 1/64), `4t/5` = with the "
        "fluctuation term a sqrt(beta) on (1, 1/2, 1/4, 1/16, 1/64) (the default). The plain values are "
        "uncorrected. `time` is the wall time of one estimate, sweep and compilation included.",
        "",
        "| case | truth (lambda, m) | step | fit | chains | lambda (± s.e.) | error | m (± s.e.) | m - truth "
        "| m = 1 rejected | plain at t0 ... t0/64 | eps n beta | time (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (CASES.index(r["case"]) if r["case"] in CASES else 99, _step(r), r["chains"],
                                         r["seed"])):
        parts = ", ".join("-" if x is None else f"{x:.3f}" for x in r["parts"])
        lam = "NaN" if r["llc"] is None else f"{r['llc']:.3f} ± {r['llc_se']:.3f}"
        err = "-" if r["rel_error"] is None else f"{r['rel_error']:+.1%}"
        m = "-" if r["m"] is None else f"{r['m']:.2f} ± {r['m_se']:.2f}"
        dm = "-" if r["m"] is None or r["truth_m"] is None else f"{r['m'] - r['truth_m']:+.2f}"
        eps = "-" if not r.get("eps_nbeta") else (f"1/{1 / r['eps_nbeta']:.0f}" if r["eps_nbeta"] < 1 else "1")
        fit = f"{4 if r.get('fluctuation_term') else 3}t/{len(r['parts'])}"
        lines.append(f"| {r['name']} (seed {r['seed']}) | {r['truth']:g}, {'-' if r['truth_m'] is None else r['truth_m']} "
                     f"| {_step(r)} | {fit} | {r['chains']} | "
                     f"{lam} | "
                     f"{err} | {m} | {dm} | {'yes' if r['m1_rejected'] else 'no'} | {parts} | {eps} | "
                     f"{r['time_s']:.0f} |")
    refit = [r for r in rows if r.get("chain_parts")]
    if refit:
        lines += ["", "The same chains (rows with per-chain values), fitted four ways: three or four terms, on the "
                  "default ladder of five temperatures or its four-temperature subset (1, 1/4, 1/16, 1/64); "
                  "lambda (error) and m; and `multiplicity_corrected` (docs/llc.md §4c): the two coldest "
                  "temperatures' two-temperature estimate plus (m - 1) kappa, m from the row's fit (1 where the "
                  "fit is outside the expansion's range):", "",
                  "| case | truth | " + " | ".join(FITS) + " | multiplicity_corrected |",
                  "|---|---|" + "---|" * (len(FITS) + 1)]
        for r in refit:
            cells = []
            for name in FITS:
                f = _refit(r, name)
                cells.append("-" if f is None else f"{f.llc:.3f} ({(f.llc - r['truth']) / r['truth']:+.1%}), "
                             f"{f.multiplicity:.2f} ± {f.multiplicity_se:.2f}")
            tm = "-" if r["truth_m"] is None else r["truth_m"]
            mc = _corrected(r)
            cells.append("-" if mc is None else f"{mc[0]:.3f} ± {mc[1]:.3f} ({(mc[0] - r['truth']) / r['truth']:+.1%})")
            lines.append(f"| {r['name']} (seed {r['seed']}) | {r['truth']:g}, {tm} | " + " | ".join(cells) + " |")
    write_section("llc_multi_calibrated", "Calibrated multi-temperature LLC: lambda and m vs the known truths",
                  "\n".join(lines), "bench_llc_multi_calibrated.py")


FITS = ("3t/4", "3t/5", "4t/4", "4t/5")


def _refit(r: dict, name: str):
    """The fit ``name`` (FITS) of a row's stored per-chain plain values plus its Gaussian correction."""
    terms, k = name.split("t/")
    v = _corrected_values(r)
    idx = [i for i, x in enumerate(r["temperatures"]) if int(k) == len(r["temperatures"]) or x != 0.5]
    if len(idx) != int(k):
        return None
    try:
        return fit_multi_temperature(np.asarray(r["nbetas"])[idx], v[idx], n=N, fluctuation=terms == "4")
    except ValueError:
        return None


def _corrected_values(r: dict) -> np.ndarray:
    """A row's per-chain plain values (K, chains; NaN for an excluded chain) plus its Gaussian correction."""
    v = np.array([[np.nan if x is None else x for x in p] for p in r["chain_parts"]], dtype=np.float64)
    return v + np.asarray(r["correction"], dtype=np.float64)[:, None]


def _corrected(r: dict):
    """(lambda, se) of ``estimator="multiplicity_corrected"`` on a row's chains: the two coldest temperatures'
    two-temperature estimate of the corrected values plus (m - 1) kappa with each chain's m from the row's fit
    (m = 1 where the row's fit was not reported, as the estimator does)."""
    if not r.get("chain_parts") or r.get("correction") is None:
        return None
    v = _corrected_values(r)
    m = np.ones(v.shape[1])
    if r["llc"] is not None:
        m = fit_multi_temperature(r["nbetas"], v, n=N, fluctuation=bool(r.get("fluctuation_term"))).chain_multiplicity
    lam = np.asarray(corrected_two_temperature(r["nbetas"], v, m))
    lam = lam[np.isfinite(lam)]
    return float(lam.mean()), float(lam.std(ddof=1) / math.sqrt(lam.size))


def _step(r: dict) -> str:
    """The row's temperature step (rows written before the option existed ran the fixed step)."""
    return r.get("temperature_step", "fixed")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--chains", type=int, default=None, help="chains per temperature (default: the estimator's)")
    p.add_argument("--only", default=None, help=f"comma-free case name, one of {CASES}")
    p.add_argument("--step", choices=("scaled", "fixed"), default="scaled", help="SGLDConfig.temperature_step")
    p.add_argument("--temperatures", default="1,0.25,0.0625,0.015625", help="beta_k / beta (comma-separated)")
    p.add_argument("--fluctuation", action="store_true", help="SGLDConfig.fluctuation_term")
    p.add_argument("--report", action="store_true")
    a = p.parse_args()
    if a.report:
        report()
        return
    done = set()
    if OUT.exists():
        done = {(r["case"], r["seed"], r["chains"], _step(r)) for r in read_rows(OUT)}
    for case in ([a.only] if a.only else CASES):
        for seed in range(a.seeds):
            chains = a.chains if a.chains is not None else 4
            if (case, seed, chains, a.step) in done:
                continue
            rec = run(case, seed, a.chains, a.step, tuple(float(x) for x in a.temperatures.split(",")), a.fluctuation)
            append_row(OUT, rec)
            print(json.dumps(rec), flush=True)
    print(f"results in {OUT}; `--report` writes the table (all rows of that file) into docs/benchmarks.md")


if __name__ == "__main__":
    main()
