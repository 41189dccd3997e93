"""The refined free energy against the stored c = 6 measurement (docs/free_energy.md, docs/data).

All slow (JIT compilation of the per-phase Laplace dominates): the public API (order="refined" on
free_energy/occupancy, the terms add up, the dropped phases are named); the code reproduces the stored data-conditional predictions (Monte Carlo error of
the flat and boundary terms), and the stored agreement figures are what docs/free_energy.md states.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

import theory

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "docs" / "data" / "free_energy_c6.json"


@pytest.fixture(scope="module")
def cat6():
    import kgon

    return kgon.default_catalogue(6)


@pytest.mark.slow
def test_refined_free_energy_api(cat6):
    T = theory.free_energy_terms(cat6, 400, flat_draws=20_000)
    assert set(T) >= {"6", "5+", "5"}
    for t in T.values():
        parts = (t.energy + t.lambda_log_n + t.loglog + t.laplace + t.prior + t.orbit + t.copies + t.flat
                 + t.numerical + t.nongaussian)
        assert math.isclose(t.total, parts, abs_tol=1e-9)
        assert t.nongaussian == 0.0  # population loss: Laplace terms only by default
    T2 = theory.free_energy_terms(cat6, 400, flat_draws=20_000, labels=["6", "5"], nongaussian_draws=40_000)
    for t in T2.values():  # Laplace misses 1-2 nats at n = 400 (docs/free_energy.md)
        assert -2.5 < t.nongaussian < -0.5 and t.nongaussian_err < 0.3
        assert math.isclose(t.total - t.nongaussian, T[t.label].total, abs_tol=1e-9)
    assert T["6"].llc == 8.5 and T["5+"].llc == 8.5 and T["5"].llc == 7.0
    assert math.isclose(T["6"].copies, -math.log(120)) and math.isclose(T["5"].copies, -math.log(144))
    assert 4.1 < T["5"].flat < 4.45 and T["6"].flat == 0.0
    occ = theory.occupancy(cat6, [400], order="refined")
    assert occ.order == "refined" and "4--" in occ.dropped and occ.dropped["4--"].startswith("kinked")
    assert math.isclose(sum(p[0] for p in occ.probs.values()), 1.0)
    from theory import free_energy

    lead = free_energy(cat6, 400.0)
    assert math.isclose(float(lead["6"]) - float(lead["5"]), 400 * (0.04819 - 0.06874) + 1.5 * math.log(400) + 2.7535, abs_tol=0.01)
    with pytest.raises(ValueError, match="order"):
        free_energy(cat6, 400, order="third")
    with pytest.raises(ValueError, match="beta"):
        free_energy(cat6, 400, beta=0)


def _tables():
    spec = importlib.util.spec_from_file_location("free_energy_tables", ROOT / "docs" / "free_energy_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_stored_agreement_figures():
    """The numbers docs/free_energy.md quotes, recomputed from the stored data."""
    tables = _tables()
    res = tables.agreement(tables.load())  # refined with the non-Gaussian term (the default)
    assert all(abs(s["rel_refined"]) < 0.10 for s in res["streams"])  # every stream's crossing within 10%
    assert all(not s["n_not_predicted"] for s in res["streams"])
    devs = sorted(s["max_dev_refined"] for s in res["streams"])
    assert devs[2] < 0.10 and devs[3] < 0.13  # three streams within 0.1; stream 3 0.122 at n = 450
    assert all(abs(s["rel_refined"]) < abs(s["rel_leading"]) for s in res["streams"])
    assert all(s["max_dev_refined"] < s["max_dev_leading"] for s in res["streams"])
    assert 380 < res["observed_mean"] < 420
    assert 170 < res["refined_population"]["beta1.0"] < 230
    lap = tables.agreement(tables.load(), key="predicted")  # Laplace terms only: two streams off by ~20%
    assert sum(abs(s["rel_refined"]) < 0.10 for s in lap["streams"]) == 2


@pytest.mark.slow
def test_code_reproduces_stored_predictions(cat6):
    """Data-conditional refined F of stream 0 at n = 300, 400 (with the non-Gaussian term) equals the
    stored values within the Monte Carlo error of the flat, boundary and non-Gaussian terms (the same
    draws and seeds as stored)."""
    import jax

    import sampling

    stored = {r["n"]: r["beta1.0"] for r in json.loads(DATA.read_text())["predicted_nongaussian"] if r["stream"] == 0}
    data = sampling.make_dataset(jax.random.PRNGKey(0), 400, 6)
    for n in (300, 400):
        T = theory.free_energy_terms(cat6, n, data=data, labels=["6", "5+", "5"])
        for lab, t in T.items():
            tol = 4 * math.hypot(t.error, stored[n][lab].get("numerical_err", 0.0),
                                 stored[n][lab].get("nongaussian_err", 0.0)) + 0.02
            assert abs(t.total - stored[n][lab]["total"]) < tol, (n, lab, t.total, stored[n][lab]["total"])
        p6 = 1 / (1 + np.exp(T["6"].total - T["5"].total) + np.exp(T["6"].total - T["5+"].total))
        assert 0 < p6 < 1


@pytest.mark.slow
def test_stored_joint_dead_column_figures():
    """Phase 5 recomputed with its dead column sampled jointly and the annealed SMC integrator
    (``predicted_joint``): the figures docs/free_energy.md quotes. The shifts of F_5 against the
    stored product are of both signs and within the product's Monte Carlo uncertainty; at stream 3,
    n = 450 the occupancy deviation goes from 0.122 to 0.097."""
    tables = _tables()
    data = tables.load()
    rows = {(r["stream"], r["n"]): r for r in tables.joint_effect(data)}
    assert (3, 450) in rows and (1, 400) in rows
    x = rows[(3, 450)]
    assert x["dev_product"] > 0.12 and x["dev_joint"] < 0.10
    assert -0.2 < x["F5_joint"] - x["F5_product"] < 0.0
    shifts = [r["F5_joint"] - r["F5_product"] for r in rows.values()]
    assert all(abs(d) < 0.4 for d in shifts)
    assert min(shifts) < 0 < max(shifts) or len(shifts) < 3  # both signs: noise, not a systematic term
    res = tables.agreement(data, joint=True)
    assert all(abs(s["rel_refined"]) < 0.10 for s in res["streams"])
    devs = [s["max_dev_refined"] for s in res["streams"]]
    # stream 3 goes under 0.1 (0.097), stream 2 over it at n = 600 (0.092 -> 0.110): the gap is not
    # closed by the joint integral, it moves within the 5-gon's Monte Carlo uncertainty
    assert devs[3] < 0.10 and 0.10 < devs[2] < 0.12 and devs[0] < 0.06 and devs[1] < 0.06, devs


@pytest.mark.slow
def test_numerical_local_free_energy_equals_refined_on_smooth_phases(cat6):
    """The kinked phases' numerical local free energy (annealed SMC from the point, no Laplace
    term) applied to smooth phases gives their refined free energy (Laplace + the importance-
    sampled exact live integral): two routes to the same integral over the same cell. Population
    loss, n = 300, the sampler's cell."""
    import sampling
    from theory.refined import _kinked_terms, refined_terms

    th = sampling.occupancy_threshold(300)
    for lab in ("6", "5+"):
        p = cat6.get(lab)
        A = refined_terms(p, 300, nongaussian_draws=20_000, catalogue=cat6, threshold=th)
        B = _kinked_terms(p, lab, 300.0, 1.0, None, catalogue=cat6, threshold=th, seed=0, particles=4000, anneal=100)
        assert abs(A.total - B.total) < 4 * math.hypot(A.error, B.error) + 0.1, (lab, A.total, B.total)
        assert B.numerical != 0 and B.laplace == 0


@pytest.mark.slow
def test_kinked_phase_free_energy_is_reproducible_and_adds_up(cat6):
    """A kinked 4-gon's numerical free energy: two seeds agree (the SMC's own error bar understates
    the seed-to-seed spread, ~0.1-0.4 nats, docs/free_energy.md), the terms sum to the total, and
    at n = 150 it is within a few nats of the 5-gon's (the sampler finds both there)."""
    T0 = theory.free_energy_terms(cat6, 150, labels=["4", "5"], kinked=True, seed=0)
    T1 = theory.free_energy_terms(cat6, 150, labels=["4"], kinked=True, seed=1)
    assert abs(T0["4"].total - T1["4"].total) < 0.3
    t = T0["4"]
    assert math.isclose(t.total, t.energy + t.lambda_log_n + t.numerical, abs_tol=1e-9)
    assert math.isclose(t.energy, 150 * 1 / 9, rel_tol=1e-6) and t.numerical_err < 0.2
    assert abs(t.total - T0["5"].total) < 3
