"""The posterior runs behind docs/data/posterior_streams_c6.json (docs/free_energy.md, docs/sampling.md).

c = 6 tempered posterior, 4 ladders x (300 warm-up + 800) sweeps per n, key fold_in(PRNGKey(1000 + k), n),
data stream k (the first n samples of make_dataset(PRNGKey(k))). One JSON line per run is appended to
OUT (resumed: runs already in OUT are skipped), with the occupancy, the energy n L_n of the beta = 1
draws (mean, variance, per chain and per phase) and the ladder's mean loss per temperature.

    python docs/posterior_streams.py beta1 OUT     # streams 4-11 at beta = 1, n refined around the crossing
    python docs/posterior_streams.py beta05 OUT    # streams 0-3 at beta = 1/2
    python docs/posterior_streams.py energy OUT    # streams 0-3 at beta = 1 with the energy recorded

``python docs/data_theory_tables.py --copy-campaign OUT`` copies the runs into docs/data. The starting
grids of streams 8-11 (START) were centred on the closed-form prediction of their crossing; the grid
is then refined (geometric midpoints) until the first up-crossing of P(6) - P(5) is bracketed within 5%.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import jax
import numpy as np

import kgon
import sampling

START = {8: [450, 520, 600, 680], 9: [270, 310, 360, 420], 10: [360, 410, 470, 540], 11: [330, 380, 440, 500]}
GRID = [250, 300, 350, 400, 450, 500, 600]
GRID_HALF = {0: [400, 600, 800, 1100, 1500, 2000], 1: [400, 600, 800, 1000], 2: [500, 650, 800, 1000, 1300],
             3: [500, 650, 800, 1000, 1300]}
GRID_ENERGY = [200, 250, 300, 350, 400, 450, 500, 600]


def energy_summary(res, n: int) -> dict:
    """n L_n of the beta = 1 draws: mean, variance, per-chain variance and per phase (count, mean, var)."""
    post = res.idata.posterior
    nl = n * np.asarray(post["loss"]).ravel()
    names = json.loads(post.attrs["phase_labels"])
    ph = np.asarray(post["phase"]).ravel()
    by_phase = {}
    for k in set(ph.tolist()):
        sel = nl[ph == k]
        by_phase[names[k]] = [int(sel.size), float(sel.mean()), float(sel.var(ddof=1)) if sel.size > 1 else None]
    return {"nL_mean": float(nl.mean()), "nL_var": float(nl.var(ddof=1)),
            "nL_chain_var": [float(v) for v in (n * np.asarray(post["loss"])).var(axis=1, ddof=1)],
            "nL_by_phase": by_phase, "betas": res.config.get("betas"),
            "loss_mean_per_temperature": res.config.get("loss_mean_per_temperature"),
            "swap_rate": res.config.get("swap_rate")}


class Campaign:
    """The runs of OUT, resumable: :meth:`run` samples (stream, beta, n) once and appends it."""

    def __init__(self, out: Path):
        self.out = out
        self.cat = kgon.default_catalogue(6)
        self.done = {}
        if out.exists():
            for line in out.read_text().splitlines():
                r = json.loads(line)
                self.done[(r["stream"], r["beta"], r["n"])] = r

    def run(self, stream: int, beta: float, n: int) -> dict:
        if (stream, beta, n) in self.done:
            return self.done[(stream, beta, n)]
        t0 = time.time()
        key = jax.random.fold_in(jax.random.PRNGKey(1000 + stream), n)
        res = sampling.run_occupancy(key, catalogue=self.cat, c=6, n=n, method="tempered", chains=4, warmup=300,
                                     samples=800, data_seed=stream, beta=beta, keep_idata=True)
        d = dict(res.to_dict(), stream=stream, beta=beta, seconds=round(time.time() - t0, 1), **energy_summary(res, n))
        with self.out.open("a") as f:
            f.write(json.dumps(d) + "\n")
        self.done[(stream, beta, n)] = d
        print(stream, beta, n, d["occupancy"].get("5"), d["occupancy"].get("6"), d["seconds"], flush=True)
        return d


def gap(d: dict) -> float:
    """P(6) - P(5) of one run."""
    return d["occupancy"].get("6", 0.0) - d["occupancy"].get("5", 0.0)


def refine_stream(campaign: Campaign, k: int) -> None:
    """Sample stream k at beta = 1 on its grid, then add n until the first crossing is bracketed within 5%."""
    rows = {n: campaign.run(k, 1.0, n) for n in START.get(k, GRID)}
    for _ in range(4):
        ns = sorted(rows)
        bracket = next(((a, b) for a, b in zip(ns, ns[1:]) if gap(rows[a]) < 0 <= gap(rows[b])), None)
        if bracket is None:
            if gap(rows[ns[0]]) >= 0 and ns[0] > 150:
                new = int(ns[0] * 0.8)
            elif gap(rows[ns[-1]]) < 0 and ns[-1] < 1600:
                new = int(ns[-1] * 1.4)
            else:
                return
        else:
            a, b = bracket
            if b / a <= 1.05:
                return
            new = int(round(math.sqrt(a * b)))
        rows[new] = campaign.run(k, 1.0, new)


def main(which: str, out: str) -> None:
    kgon.configure_jax()
    campaign = Campaign(Path(out))
    if which == "beta1":
        for k in range(4, 12):
            refine_stream(campaign, k)
    elif which == "beta05":
        for k, grid in GRID_HALF.items():
            for n in grid:
                campaign.run(k, 0.5, n)
    elif which == "energy":
        for k in range(4):
            for n in GRID_ENERGY:
                campaign.run(k, 1.0, n)
    else:
        raise SystemExit(f"unknown campaign {which!r}: beta1, beta05 or energy")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
