"""Measurements behind docs/sampling.md, "Thermodynamics of the posterior" (written to docs/data/thermo_*.json).

- ``phase-ti``: c = 6, data stream 0, three n: phase free energies of 5 and 6 by thermodynamic
  integration from t_ref = 1/2 to 1 (:func:`theory.thermo.tempered_phase_free_energies`, five
  temperatures, one tempering run each) against the log ratio of the occupancies at t = 1; the t = 1
  run's overall free energy over its ladder, WBIC (ladder), WAIC, the specific heat.
- ``general``: c = 6 with r = 3 hidden dimensions (no catalogue): C(n) = Var_post(n L_n) over n from
  :func:`sampling.run_tempering` and its peak (:func:`sampling.specific_heat_peak`).
- ``campaign``: copy the c = 6 tempering campaign rows that carry the specific heat (``--campaign``
  FILE) into docs/data/thermo_c6_campaign.json.
- ``transition``: the specific-heat peak against the occupancy crossing on every stream of it
  (docs/data/thermo_c6_transition.json).

- ``table``: the markdown tables of docs/sampling.md from the stored files.

Usage: ``python docs/thermo_study.py phase-ti|general|campaign|transition|table [--campaign FILE]``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"


def _dump(name: str, obj) -> None:
    from kgon.io import dumps_json

    (DATA / name).write_text(dumps_json(obj) + "\n")
    print("wrote", DATA / name, flush=True)


def phase_ti(ns=(250, 350, 500), stream: int = 0, t_ref: float = 0.5, temps: int = 5) -> None:
    import jax

    import kgon
    from theory.thermo import tempered_phase_free_energies

    cat = kgon.default_catalogue(6)
    betas = t_ref ** (np.arange(temps) / (temps - 1))
    rows = []
    for n in ns:
        t0 = time.time()
        res = tempered_phase_free_energies(jax.random.fold_in(jax.random.PRNGKey(2300 + stream), n), n=n,
                                           data_seed=stream, betas=betas, catalogue=cat)
        np.savez_compressed(f"/tmp/thermo_phase_ti_n{n}.npz", betas=betas,
                            **{f"E{k}": e for k, (e, _) in enumerate(res.draws)},
                            **{f"L{k}": lab.astype(str) for k, (_, lab) in enumerate(res.draws)})
        row = res.comparison("5", "6")
        ti = res.free_energy
        row.update(free_energy=ti.free_energy, free_energy_err=ti.err, free_energy_tail=ti.tail,
                   free_energy_tail_err=ti.tail_err, free_energy_quadrature_err=ti.quadrature_err,
                   free_energy_mc_err=ti.mc_err, phase_G=res.phases.free_energy, phase_G_err=res.phases.err,
                   occupancy=res.occupancy, occupancy_err=res.occupancy_err, ladder=list(ti.betas),
                   seconds=round(time.time() - t0, 1), config=res.config)
        rows.append(row)
        print(n, {k: row[k] for k in ("ti", "ti_err", "log_occupancy_ratio", "log_occupancy_ratio_err", "z")},
              flush=True)
        _dump("thermo_phase_ti.json", {"description": __doc__, "rows": rows})


def general(ns=(100, 150, 230, 350, 530, 800, 1200, 1800, 2700), c: int = 6, r: int = 3, stream: int = 0) -> None:
    import jax

    import sampling

    path = DATA / "thermo_general_r3.json"
    done = {x["n"]: x for x in json.loads(path.read_text())["rows"]} if path.is_file() else {}
    rows = []
    for n in ns:
        if n in done:  # resume: rows already measured with these settings
            rows.append(done[n])
            continue
        t0 = time.time()
        ds = sampling.make_dataset(jax.random.PRNGKey(stream), n, c)
        res = sampling.run_tempering(jax.random.fold_in(jax.random.PRNGKey(2400), n), ds, chains=4, warmup=300,
                                     samples=600, r=r)
        sh = sampling.specific_heat(n * res.loss)
        m, v = sampling.ladder_moments(res.pt.energy_ladder)
        w = sampling.wbic(n, betas=res.pt.betas, energy_mean=m, energy_var=v)
        rows.append(dict(n=n, nL_mean=sh.mean, nL_var=sh.value, nL_var_err=sh.err,
                         nL_chain_var=sh.chain_var.tolist(), wbic=w.value, loss_min=float(res.loss.min()),
                         rhat_loss=res.rhat_loss, swap_rate=res.pt.swap_rate.tolist(),
                         seconds=round(time.time() - t0, 1)))
        print(n, sh.value, sh.err, rows[-1]["seconds"], flush=True)
        out = {"description": f"c = {c}, r = {r}, data stream {stream}, sampling.run_tempering chains=4 warmup=300 "
               "samples=600 key fold_in(PRNGKey(2400), n); no catalogue", "rows": rows}
        if len(rows) >= 3:
            pk = sampling.specific_heat_peak([x["n"] for x in rows], [x["nL_var"] for x in rows],
                                             [x["nL_chain_var"] for x in rows])
            out["peak"] = pk.to_dict()
        _dump("thermo_general_r3.json", out)


def campaign(path: Path) -> None:
    keep = ("stream", "beta", "n", "occupancy", "occupancy_err", "nL_mean", "nL_var", "nL_chain_var", "nL_by_phase",
            "betas", "loss_mean_per_temperature", "swap_rate", "rhat_loss", "ess_loss")
    rows = []
    for line in path.read_text().splitlines():
        r = json.loads(line)
        if r.get("nL_chain_var"):
            rows.append({k: r[k] for k in keep if k in r})
    desc = ("c = 6 tempered posterior rows (sampling.run_occupancy method='tempered', chains=4, warmup=300, "
            "samples=800, data_seed=stream, key fold_in(PRNGKey(1000 + stream), n), beta as given) with the "
            "specific heat of the beta-draws: nL_var = Var(n L_n) (ddof 1), nL_chain_var per chain, nL_by_phase "
            "label -> [draws, mean, var]; betas and loss_mean_per_temperature are the ladder's. Only rows "
            "carrying nL_chain_var are kept.")
    _dump("thermo_c6_campaign.json", {"description": desc, "rows": rows})


def transition() -> None:
    """Specific-heat peak against the occupancy crossing on every (stream, beta) of the stored campaign
    with >= 5 sample sizes (docs/data/thermo_c6_transition.json)."""
    from theory.thermo import specific_heat_transition

    rows = json.loads((DATA / "thermo_c6_campaign.json").read_text())["rows"]
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault((r["stream"], r["beta"]), []).append(r)
    out = []
    for (k, beta), rs in sorted(groups.items(), key=lambda kv: (-kv[0][1], kv[0][0])):
        if len(rs) < 5:
            continue
        tr = specific_heat_transition(rs)
        if tr.crossing is None or tr.crossing.n is None:
            continue
        d = tr.to_dict()
        d.update(stream=k, beta=beta, ns=sorted(r["n"] for r in rs))
        out.append(d)
        print(k, beta, d["peak"], d["crossing"], d["offset"], flush=True)
    _dump("thermo_c6_transition.json", {"description": "theory.specific_heat_transition on each (stream, beta) of "
                                        "thermo_c6_campaign.json with >= 5 sample sizes and a bracketed 5 -> 6 "
                                        "crossing (90% peak interval, 95% crossing interval)", "streams": out})


def table() -> None:
    """Markdown tables of docs/sampling.md from the stored measurements."""
    from theory.thermo import phase_free_energy_table

    ti = json.loads((DATA / "thermo_phase_ti.json").read_text())["rows"]
    fe = json.loads((DATA / "free_energy_c6.json").read_text())["predicted_nongaussian"]
    print("| n | F(5) - F(6) by TI from t_ref | log P(6)/P(5) | z | F by TI (tail) | F refined (5, 6, 5+) | "
          "F(5): TI, refined | F(6): TI, refined |")
    print("|---|---|---|---|---|---|---|---|")
    for r in ti:
        ref = next((x["beta1.0"] for x in fe if x["stream"] == r["stream"] and x["n"] == r["n"]), None)
        refined = None if ref is None else {k: v["total"] for k, v in ref.items()}
        t = phase_free_energy_table(r["free_energy"], r["free_energy_err"], r["occupancy"], r["occupancy_err"],
                                    refined=refined)

        def fmt(p, t=t):
            return f"{t[p]['ti']:.2f} +- {t[p]['ti_err']:.2f}, " + ("-" if t[p]["refined"] is None else
                                                                     f"{t[p]['refined']:.2f}")
        print(f"| {r['n']} | {r['ti']:.3f} +- {r['ti_err']:.3f} (quad. {r['ti_quadrature_err']:.3f}) | "
              f"{r['log_occupancy_ratio']:.3f} +- {r['log_occupancy_ratio_err']:.3f} | {r['z']:+.2f} | "
              f"{r['free_energy']:.2f} +- {r['free_energy_err']:.2f} ({r['free_energy_tail']:.2f} +- "
              f"{r['free_energy_tail_err']:.2f}) | {'-' if refined is None else format(t['all']['refined'], '.2f')} | "
              f"{fmt('5')} | {fmt('6')} |")


def transition_table() -> None:
    """Markdown table of the specific-heat peak against the occupancy crossing (and the r = 3 scan)."""
    doc = json.loads((DATA / "thermo_c6_transition.json").read_text())
    print("| stream | beta | n measured | C(n) peak (90%) | occupancy crossing 5 -> 6 (95%) | peak / crossing - 1 |")
    print("|---|---|---|---|---|---|")
    for r in doc["streams"]:
        pk, cr = r["peak"], r["crossing"]
        if pk["n"] is None:
            print(f"| {r['stream']} | {r['beta']:g} | {min(r['ns'])}-{max(r['ns'])} ({len(r['ns'])}) | not bracketed | "
                  f"{cr['n']:.0f} ({cr['ci'][0]:.0f}-{cr['ci'][1]:.0f}) | - |")
            continue
        print(f"| {r['stream']} | {r['beta']:g} | {min(r['ns'])}-{max(r['ns'])} ({len(r['ns'])}) | {pk['n']:.0f} ({pk['ci'][0]:.0f}-"
              f"{pk['ci'][1]:.0f}) | {cr['n']:.0f} ({cr['ci'][0]:.0f}-{cr['ci'][1]:.0f}) | {r['offset']:+.0%} |")
    path = DATA / "thermo_general_r3.json"
    if path.is_file():
        g = json.loads(path.read_text())
        print()
        print("| n | " + " | ".join(str(r["n"]) for r in g["rows"]) + " |")
        print("|---|" + "---|" * len(g["rows"]))
        print("| C(n) | " + " | ".join(f"{r['nL_var']:.1f} +- {r['nL_var_err']:.1f}" for r in g["rows"]) + " |")
        print("| min L_n (draws) | " + " | ".join(f"{r['loss_min']:.4f}" for r in g["rows"]) + " |")
        print("| WBIC | " + " | ".join(f"{r['wbic']:.1f}" for r in g["rows"]) + " |")
        print("| (WBIC - n min L_n) / log n | " + " | ".join(
            f"{(r['wbic'] - r['n'] * r['loss_min']) / math.log(r['n']):.1f}" for r in g["rows"]) + " |")
        print("| peak |", g.get("peak"))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("phase-ti", "general", "campaign", "transition", "table"))
    ap.add_argument("--campaign", type=Path, default=None)
    args = ap.parse_args(argv)
    import kgon

    kgon.configure_jax()
    if args.what == "phase-ti":
        phase_ti()
    elif args.what == "general":
        general()
    elif args.what == "transition":
        transition()
    elif args.what == "table":
        table()
        transition_table()
    else:
        if args.campaign is None:
            ap.error("campaign needs --campaign FILE")
        campaign(args.campaign)


if __name__ == "__main__":
    main()
