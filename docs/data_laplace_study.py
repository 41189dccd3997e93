"""The numbers of docs/free_energy.md on the data set's own Laplace term and the population's Laplace series
("Where the residual goes at larger n", "The data side, term by term", "The data set's own Laplace term").

    python docs/data_laplace_study.py series      # population live integral: exact (importance sampling) vs F^(2), n = 1e3..3e4
    python docs/data_laplace_study.py streams     # theory.data_laplace_free_energy against the 12 sampled streams
    python docs/data_laplace_study.py per-phase   # per-phase residuals against the stored data-conditional SMC, streams 0-3
    python docs/data_laplace_study.py with-population  # + the population's numerically integrated higher orders

Observed occupancies: docs/data/free_energy_c6.json and docs/data/posterior_streams_c6.json (as
docs/data_theory_tables.py reads them). Stored numerical integrals: ``predicted_nongaussian`` (data-conditional
SMC) and ``population_every_phase`` of free_energy_c6.json, population_exact_c6_large_n.json. Every run
prints its table; nothing is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import kgon  # noqa: E402

kgon.configure_jax()

from data_theory_tables import LABELS, conditional, interp_crossing, observed_streams  # noqa: E402

STORED = HERE / "data" / "free_energy_c6.json"
LARGE_N = HERE / "data" / "population_exact_c6_large_n.json"


def _points(cat, labels):
    from theory.data_term import phase_label

    return {lab: next(p for p in cat.points if phase_label(p) == lab) for lab in labels}


def _stream(k: int, runs: dict, grid):
    """(sampled n, conditional occupancies, observed crossing, data stream) of sampled stream k."""
    import jax

    import sampling

    ns = sorted(runs)
    cond = [conditional(runs[n]) for n in ns]
    obs = sampling.crossing_estimate(cond, from_label="5", to_label="6", level=0.95, min_mass=0.02).n
    return ns, cond, obs, sampling.make_dataset(jax.random.PRNGKey(k), int(max(grid.max(), max(ns))), 6)


def _max_dev(at: dict, ns, cond) -> float:
    """Largest |predicted - observed| occupancy of 5 and 6 at the sampled n >= 250."""
    return max(abs(at[lab][i] - c["occupancy"][lab]) for i, (n, c) in enumerate(zip(ns, cond))
               if n >= 250 for lab in ("5", "6"))


def series(cat) -> None:
    """Exact - Laplace of the live integral (dead column held, no cells; plain importance sampling, 40,000
    draws, seed 3) against the second-order term F^(2) at the same minimiser."""
    from kgon.symmetry import dead_columns
    from theory.data_term import population_expansion
    from theory.free_energies.laplace import flat_index, second_order_laplace
    from theory.free_energies.refined import refined_terms

    print("| n | phase | exact - Laplace | F^(2) | residual |\n|---|---|---|---|---|")
    for n in (1000, 3000, 10_000, 30_000):
        for lab, p in _points(cat, ("5", "6")).items():
            W, b = np.asarray(p.W), np.asarray(p.b)
            live = [j for j in range(W.shape[1]) if j not in dead_columns(W, b)]
            t = refined_terms(p, n, nongaussian_draws=40_000, nongaussian_anneal=0, dead_joint=False, seed=3)
            e = population_expansion(p, n)
            so = second_order_laplace(e.W, e.b, flat_index(W.shape[0], W.shape[1], live), bn=float(n)).total
            print(f"| {n} | {lab} | {t.nongaussian:.3f} +- {t.nongaussian_err:.3f} | {so:.3f} | "
                  f"{t.nongaussian - so:+.3f} |", flush=True)


def streams(cat) -> None:
    """Crossing (60-point grid) and max occupancy deviation (sampled n >= 250) of
    ``data_laplace_free_energy`` with and without F^(2), per sampled stream at beta = 1."""
    from theory.data_laplace import data_laplace_free_energy
    from theory.over_data import default_grid

    grid = default_grid()
    print("| stream | observed | + F^(2) | dev. | max occ. dev. | without F^(2) | max occ. dev. |")
    print("|---|---|---|---|---|---|---|")
    for k, runs in sorted(observed_streams(1.0).items()):
        ns, cond, obs, data = _stream(k, runs, grid)
        cells = []
        for so in (True, False):
            fine = data_laplace_free_energy(cat, data, grid, second_order=so).occupancy(LABELS)
            at = data_laplace_free_energy(cat, data, ns, second_order=so).occupancy(LABELS)
            cr, dev = interp_crossing(list(grid), fine["6"] - fine["5"]), _max_dev(at, ns, cond)
            cells += [f"{cr:.0f}", f"{cr / obs - 1:+.0%}", f"{dev:.3f}"] if so else [f"{cr:.0f}", f"{dev:.3f}"]
        print(f"| {k} | {obs:.0f} | " + " | ".join(cells) + " |", flush=True)


def _population_residual(cat):
    """Exact - (Laplace + F^(2)) of the population phases 6 and 5 at the stored n (data-independent)."""
    from theory.data_term import population_free_energy, population_second_order
    from theory.free_energies.phases import refined_phases

    d, large = json.loads(STORED.read_text()), json.loads(LARGE_N.read_text())
    exact = {}
    for r in d["population_every_phase"]:
        for lab in ("6", "5"):
            exact[(float(r["n"]), lab)] = r["total"][lab]
    for r in large["runs"]:
        exact[(float(r["n"]), r["label"])] = r["total"]
    ns = sorted({n for n, _ in exact})
    pts = refined_phases(cat, labels=["6", "5"])[0]
    pop, so = population_free_energy(pts, ns), population_second_order(pts, ns)
    return ns, {lab: np.array([exact[(n, lab)] - pop[lab][i] - so[lab][i] for i, n in enumerate(ns)])
                for lab in ("6", "5")}


def per_phase(cat) -> None:
    """Residual per phase of data Laplace + F^(2) against the stored data-conditional SMC, streams 0-3,
    n = 250, 300, 400, 600, beside the population's own higher orders."""
    import jax

    import sampling
    from theory.data_laplace import data_laplace_free_energy

    d = json.loads(STORED.read_text())
    ns = [250, 300, 400, 600]
    pn, res = _population_residual(cat)
    rows = []
    print("| stream | n | 6: closed - SMC | 5: closed - SMC | population higher orders 6, 5 |\n|---|---|---|---|---|")
    for k in range(4):
        data = sampling.make_dataset(jax.random.PRNGKey(k), 2000, 6)
        r = data_laplace_free_energy(cat, data, ns, labels=["6", "5"])
        for i, n in enumerate(ns):
            smc = next(x for x in d["predicted_nongaussian"] if x["stream"] == k and x["n"] == n)["beta1.0"]
            r6, r5 = r.total["6"][i] - smc["6"]["total"], r.total["5"][i] - smc["5"]["total"]
            p6, p5 = res["6"][pn.index(float(n))], res["5"][pn.index(float(n))]
            rows.append((r6, r5, p6, p5))
            print(f"| {k} | {n} | {r6:+.2f} | {r5:+.2f} | {p6:+.2f}, {p5:+.2f} |", flush=True)
    a = np.array(rows)
    before, after = a[:, 0] - a[:, 1], (a[:, 0] + a[:, 2]) - (a[:, 1] + a[:, 3])
    print(f"mean per phase {a.mean(0).round(2)}; F6 - F5 residual: mean {before.mean():+.2f} rms "
          f"{np.sqrt(np.mean(before ** 2)):.2f}; with the population's higher orders mean {after.mean():+.2f} rms "
          f"{np.sqrt(np.mean(after ** 2)):.2f}")


def with_population(cat) -> None:
    """data Laplace + F^(2) + the population's numerically integrated higher orders (interpolated in 1/n,
    ~1/n^2 above the largest stored n; 5+ takes the 5-gon's), against every sampled stream."""
    from theory.data_laplace import data_laplace_free_energy
    from theory.data_term import softmax_occupancy
    from theory.over_data import default_grid

    pn, res = _population_residual(cat)

    def resid(lab, ns):
        ns = np.asarray(ns, float)
        out = np.interp(1 / ns, (1 / np.asarray(pn))[::-1], res[lab][::-1])
        hi = ns > max(pn)
        out[hi] = res[lab][-1] * (max(pn) / ns[hi]) ** 2
        return out

    grid = default_grid()
    print("| stream | observed | predicted | dev. | max occ. dev. |\n|---|---|---|---|---|")
    for k, runs in sorted(observed_streams(1.0).items()):
        ns, cond, obs, data = _stream(k, runs, grid)

        def occ(nn, data=data):
            F = dict(data_laplace_free_energy(cat, data, nn, labels=list(LABELS)).total)
            F["6"] = F["6"] + resid("6", nn)
            for lab in ("5", "5+"):
                F[lab] = F[lab] + resid("5", nn)
            return softmax_occupancy(F, LABELS)

        fine, at = occ(grid), occ(ns)
        cr, dev = interp_crossing(list(grid), fine["6"] - fine["5"]), _max_dev(at, ns, cond)
        print(f"| {k} | {obs:.0f} | {cr:.0f} | {cr / obs - 1:+.0%} | {dev:.3f} |", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("table", choices=("series", "streams", "per-phase", "with-population"))
    a = p.parse_args()
    cat = kgon.default_catalogue(6)
    {"series": series, "streams": streams, "per-phase": per_phase, "with-population": with_population}[a.table](cat)


if __name__ == "__main__":
    main()
