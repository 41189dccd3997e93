"""The main job on a tiny configuration: report content, figures, resume."""

from __future__ import annotations

import json

import pytest

from theory.reproduce import ReproduceConfig, reproduce

# n = 150 and 600 share one tempering ladder size (16), so the sampler is compiled once for both.
TINY = ReproduceConfig(
    ns=(150, 600), method="tempered", chains=1, warmup=40, samples=40, sgd_runs=2, sgd_epochs=3, seed=1,
    over_data_streams=6, over_data_points=5,  # section 7's band over data sets, small
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, catalogue6):
    out = tmp_path_factory.mktemp("repro")
    first = reproduce(out, config=TINY, quiet=True)
    return out, first


def test_report_has_tables_and_figures(run_dir):
    out, res = run_dir
    text = res.report.read_text()
    for heading in ("## 1.", "## 2.", "## 3.", "## 4.", "## 5."):
        assert heading in text
    assert "| 5 | 6 |" in text  # the 5 -> 6 transition row in the theory table
    assert abs(res.n_critical_5_6 - 601) <= 2
    assert "n predicted" in text and "figures/occupancy.png" in text
    for stem in ("occupancy", "loss_vs_complexity", "energy_levels", "theory_occupancy", "polygons"):
        assert (out / "figures" / f"{stem}.png").stat().st_size > 1000
        assert (out / "figures" / f"{stem}.pdf").stat().st_size > 1000
    cmp = json.loads((out / "comparison.json").read_text())
    assert cmp["ns"] == [150.0, 600.0]
    assert len(list((out / "posterior").glob("*.nc"))) == 2  # one ResultStore entry per n
    assert len(list((out / "posterior").glob("*.json"))) == 2 and len(list((out / "stages").glob("*.json"))) == 3


def test_refined_section_is_conditional_on_the_runs_data_stream(run_dir):
    # every n is sampled on a prefix of one data stream (data seed = the master seed), and section 7
    # predicts from that stream: its refined occupancy differs from the population-loss one
    out, res = run_dir
    seeds = {json.loads(p.read_text())["config"]["config"]["data_seed"] for p in (out / "posterior").glob("*.json")}
    assert seeds == {1}
    ref = json.loads((out / "comparison_refined.json").read_text())
    dc, pop = ref["data_conditional"], ref["population"]
    assert dc["ns"] == pop["ns"] == [150.0, 600.0] and dc["labels"] == pop["labels"]
    assert max(abs(a - b) for lab in dc["labels"] for a, b in zip(dc["predicted"][lab], pop["predicted"][lab])) > 1e-3
    text = res.report.read_text()
    assert "## 7." in text and "| refined, this data stream | " in text and "| refined, population loss | " in text
    # the band over data sets: 6 simulated streams on 5 n from 150 to 600, conditional on the same phases
    over = json.loads((out / "over_data.json").read_text())
    assert over["ns"][0] == 150 and over["ns"][-1] == 600 and len(over["ns"]) == 5
    assert over["labels"] == dc["labels"] and over["crossing_distribution"][0]["streams"] == 6
    band = over["occupancy_band"]["6"]
    assert all(0 <= lo <= hi <= 1 and 0 <= m <= 1 for lo, m, hi in zip(band["q10"], band["mean"], band["q90"]))
    assert band["q90"][-1] > band["q10"][0]  # the hexagon takes over between n = 150 and 600
    assert "Over data sets (no data set given: 6 simulated streams" in text


def test_rerun_resumes(run_dir, monkeypatch):
    import sampling.dynamics.sgd as sgd_module

    def recomputed(*args, **kwargs):
        raise AssertionError("a stored stage was recomputed")

    monkeypatch.setattr("sampling.mcmc.io.run_occupancy", recomputed)  # every n is in DIR/posterior
    monkeypatch.setattr(sgd_module, "train_sgd", recomputed)  # the SGD runs and their analysis are stored
    out, first = run_dir
    second = reproduce(out, config=TINY, quiet=True)
    assert {"catalogue", "posterior", "refined"} <= set(second.stages_reused)
    assert "posterior" not in second.stages_run
    assert second.comparison.to_dict() == first.comparison.to_dict()


def test_out_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="`out` must be a directory"):
        reproduce(f, config=TINY, quiet=True)


def test_report_reads_well(run_dir):
    """One heading per section, the polygon figure, tables instead of raw JSON, only meaningful transitions."""
    import re

    out, res = run_dir
    text = res.report.read_text()
    headings = re.findall(r"^## .*$", text, flags=re.M)
    assert len(headings) == len(set(headings)) and sum(h.startswith("## 5.") for h in headings) == 1
    assert "![polygons](figures/polygons.png)" in text and "polygon figure skipped" not in text
    assert str(out / "figures" / "polygons.png") in res.figures
    assert '{"' not in text  # no raw JSON dicts (the antecedent check is a table or a sentence)
    section3 = text.split("## 3.")[1].split("## 4.")[0]
    rows = re.findall(r"^\| (\S+) \| (\S+) \| ([0-9.]+) \|", section3, flags=re.M)
    assert ("5", "6") in [(a, b) for a, b, _ in rows] and ("4++", "4+") not in [(a, b) for a, b, _ in rows]
    assert all(float(n) >= 20 for _, _, n in rows)
    stored = json.loads((out / "transitions.json").read_text())
    assert len(stored["all"]) > len(stored["transitions"]) == len(rows)


def test_result_to_dict_carries_config(run_dir):
    from kgon.io import dumps_json

    out, res = run_dir
    d = json.loads(dumps_json(res.to_dict()))
    assert (d["c"], d["r"], d["config"]["ns"], d["config"]["seed"]) == (6, 2, [150, 600], 1)
    assert d["report"] == str(res.report) and abs(d["n_critical_5_6"] - 601) <= 2


def test_sgd_section_renders_the_antecedent_check_as_a_table():
    from theory.report import sgd_section as _sgd_section

    counts = {"loss_down_llc_up": 5, "loss_down_llc_down": 1, "loss_up_llc_up": 0, "loss_up_llc_down": 0,
              "undetermined": 0, "llc_equal_within_error": 2, "consistent_fraction": 5 / 6}
    sgd = {"fraction_on_plateaus": 0.97, "final_phases": {"5": 3, "5+": 1},
           "transitions": [{"from": "4+", "to": "5", "count": 6}, {"from": "4++", "to": "5+", "count": 2}],
           "antecedent": {"n_transitions": 8, "theory": counts, "estimated": counts, "loss_decreasing": 8}}
    text = "\n".join(_sgd_section(TINY, sgd))
    assert "| loss ↓, λ ↑ (Type A: consistent with a Bayesian antecedent) | 5 | 5 |" in text
    assert "| λ equal within error | 2 | 2 |" in text and "| fraction consistent (among signed) | 0.83 | 0.83 |" in text
    assert "| 4+ | 5 | 6 |" in text and "| 5 | 3 |" in text and "{" not in text


def test_comparison_round_trips_through_its_dict(run_dir):
    from theory.compare import OccupancyComparison

    out, res = run_dir
    for d in (res.comparison.to_dict(), *json.loads((out / "comparison_refined.json").read_text()).values()):
        back = OccupancyComparison.from_dict(d)
        assert json.dumps(back.to_dict(), sort_keys=True) == json.dumps(d, sort_keys=True)


def test_thermo_section_matches_the_draws(run_dir):
    """Section 8 (the posterior's thermodynamics): one row per n in thermo.json whose specific heat is the
    variance of n L_n over the stored draws (recomputed here from the .nc files), nu = beta V_n / 2 with
    V_n >= 0, the figure, and the table in the report."""
    import warnings

    import numpy as np

    out, res = run_dir
    rows = json.loads((out / "thermo.json").read_text())["rows"]
    assert [r["n"] for r in rows] == [150, 600]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz as az

        for p in (out / "posterior").glob("*.nc"):
            n = json.loads(p.with_suffix(".json").read_text())["config"]["config"]["n"]
            loss = np.asarray(az.from_netcdf(str(p)).posterior["loss"]).ravel()
            row = next(r for r in rows if r["n"] == n)
            assert row["nL_var"] == pytest.approx(np.var(n * loss, ddof=1), rel=1e-6)
            assert row["nL_mean"] == pytest.approx(np.mean(n * loss), rel=1e-9)
    for r in rows:
        w = r["waic"]
        assert w["functional_variance"] >= 0
        assert w["singular_fluctuation"] == pytest.approx(w["functional_variance"] / 2)
    text = res.report.read_text()
    assert "## 8. Thermodynamics of the posterior" in text and "| 600 | " in text.split("## 8.")[1]
    assert (out / "figures" / "specific_heat.png").stat().st_size > 1000
