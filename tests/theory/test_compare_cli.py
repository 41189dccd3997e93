"""`tmsphase compare` and `tmsphase transitions --order/--beta` (theory/cli/compare.py, docs/free_energy.md).

Fast tests use the stored c = 6 tempered measurements (docs/data/free_energy_c6.json), as a results-only
JSON file or as a result store written the way ``tmsphase posterior --out`` writes one (its settings in
each entry's configuration), and the leading order; the refined order's closed-form data term is spied on (stubbed)
and the exact order (the numerical integral of each phase's cell) runs in a slow test.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from theory.cli.main import main

DATA = Path(__file__).resolve().parents[2] / "docs" / "data" / "free_energy_c6.json"


def _stream_file(tmp_path, k: int, ns=None) -> Path:
    d = json.loads(DATA.read_text())
    rows = [dict(r, method="tempered") for r in d["observed"] if r["stream"] == k and (ns is None or r["n"] in ns)]
    p = tmp_path / f"stream{k}.json"
    p.write_text(json.dumps({"results": rows}))
    return p


def _store_run(tmp_path, k: int, *, data_seed=0, beta=1.0, ns=None, unrecorded=(), name="run") -> Path:
    """Stream k's measurements as a ``tmsphase posterior --out`` result store (c = 6, r = 2, the given
    data seed and beta); ``unrecorded``: settings left out of each entry's configuration, as in a store
    written before the setting was recorded."""
    import sampling
    from kgon.io import ResultStore
    from sampling.mcmc.io import posterior_store_config

    d = json.loads(DATA.read_text())
    store = ResultStore(tmp_path / name)
    for r in d["observed"]:
        if r["stream"] != k or (ns is not None and r["n"] not in ns):
            continue
        cfg = sampling.OccupancyConfig(c=6, n=r["n"], method="tempered", data_seed=data_seed, beta=beta)
        config = posterior_store_config(cfg, 0)
        for key in unrecorded:
            del config["config"][key]
        store.put(config, {key: r[key] for key in ("n", "occupancy", "occupancy_err", "rhat_loss", "ess_loss",
                                                   "divergences")} | {"method": "tempered"})
    return store.root


def test_compare_leading_json(tmp_path, capsys):
    p = _stream_file(tmp_path, 0)
    assert main(["compare", "--posterior", str(p), "--order", "leading", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["order"] == "leading" and out["beta"] == 1.0
    cr = next(c for c in out["crossings"] if (c["from"], c["to"]) == ("5", "6"))
    assert abs(cr["n_predicted"] - 601) < 2  # leading order unchanged
    # observed crossing of stream 0 (docs/free_energy.md: 318, 95% interval 314 .. 321)
    assert 300 < cr["n_observed"] < 335 and cr["interval"][0] <= cr["n_observed"] <= cr["interval"][1]
    assert cr["level"] == 0.95
    assert 0 <= out["max_abs_deviation"] <= 1


def test_compare_beta_half_moves_leading_crossing(tmp_path, capsys):
    p = _stream_file(tmp_path, 0)
    assert main(["compare", "--posterior", str(p), "--order", "leading", "--beta", "0.5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # (5 -> 6 at beta = 1/2 lies beyond 2 x the largest sampled n = 1000: not compared, or near 1316)
    for c in out["crossings"]:
        if (c["from"], c["to"]) == ("5", "6"):
            assert abs(c["n_predicted"] - 1316) < 5


@pytest.mark.parametrize(
    "argv",
    [
        ["compare", "--posterior", "/nonexistent/dir"],
        ["compare", "--posterior", "x", "--beta", "0"],
        ["compare", "--posterior", "x", "--order", "third"],
        ["compare", "--posterior", "x", "--exact-anneal", "-1"],
        ["compare", "--posterior", "x", "--level", "1.5"],
        ["transitions", "--c", "6", "--beta", "-1"],
        ["transitions", "--c", "6", "--order", "best"],
    ],
)
def test_bad_input_exits_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0]


def test_compare_empty_dir(tmp_path, capsys):
    assert main(["compare", "--posterior", str(tmp_path)]) == 2
    assert "holds no posterior results" in capsys.readouterr().err


def test_transitions_beta_half_leading(capsys):
    assert main(["transitions", "--c", "6", "--beta", "0.5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    t = next(t for t in out["transitions"] if (t["from"], t["to"]) == ("5", "6"))
    assert abs(t["n_critical"] - 1316.5) < 3  # n -> n / 2 in the energy term (docs/index.md)
    assert out["order"] == "leading" and out["beta"] == 0.5


def test_compare_takes_settings_from_the_run(tmp_path, capsys):
    """beta = 1/2 and data seed 5 recorded in the store: used without flags, no warning."""
    run = _store_run(tmp_path, 0, data_seed=5, beta=0.5)
    assert main(["compare", "--posterior", str(run), "--order", "leading", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert (out["c"], out["r"], out["beta"], out["data_seed"]) == (6, 2, 0.5, 5)
    assert "warning" not in captured.err
    cr = next(c for c in out["crossings"] if (c["from"], c["to"]) == ("5", "6"))
    assert abs(cr["n_predicted"] - 1316) < 5  # the leading order at the run's beta = 1/2, not at 1 (601)
    # the same values given explicitly agree with the run
    assert main(["compare", "--posterior", str(run), "--order", "leading", "--json", "--c", "6", "--r", "2",
                 "--beta", "0.5", "--data-seed", "5"]) == 0
    assert json.loads(capsys.readouterr().out)["crossings"] == out["crossings"]


def test_reproduce_directory(tmp_path, capsys):
    """A `tmsphase reproduce` directory keeps its posterior store under posterior/ (data seed = its seed)."""
    _store_run(tmp_path, 0, data_seed=3, ns=(250, 300), name="repro/posterior")
    assert main(["compare", "--posterior", str(tmp_path / "repro"), "--order", "leading", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["c"], out["beta"], out["data_seed"]) == (6, 1.0, 3)
    assert main(["compare", "--posterior", str(tmp_path / "repro"), "--order", "leading", "--data-seed", "4"]) == 2


@pytest.mark.parametrize(
    "flag, value, recorded",
    [("--c", "5", "c = 6"), ("--r", "3", "r = 2"), ("--beta", "1", "beta = 0.5"),
     ("--data-seed", "0", "data_seed = 5")],
)
def test_flag_contradicting_the_run_is_an_error(tmp_path, capsys, flag, value, recorded):
    run = _store_run(tmp_path, 0, data_seed=5, beta=0.5, ns=(250, 300))
    assert main(["compare", "--posterior", str(run), "--order", "leading", flag, value]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert captured.out == "" and len(err) == 1
    assert err[0].startswith(f"tmsphase compare: error: argument {flag}: {value} contradicts the run in ")
    assert f"which was made with {recorded};" in err[0]


def test_posterior_json_file_settings(tmp_path, capsys):
    """The `tmsphase posterior --json` output records c, r and (in "config") beta and the data seed."""
    d = json.loads(DATA.read_text())
    rows = [dict(r, method="tempered") for r in d["observed"] if r["stream"] == 0 and r["n"] in (250, 300)]
    p = tmp_path / "posterior.json"
    p.write_text(json.dumps({"c": 6, "r": 2, "ns": [250, 300], "config": {"c": 6, "r": 2, "data_seed": 3,
                                                                         "beta": 0.5}, "results": rows}))
    assert main(["compare", "--posterior", str(p), "--order", "leading", "--beta", "2"]) == 2
    assert "argument --beta: 2 contradicts the run in" in capsys.readouterr().err
    assert main(["compare", "--posterior", str(p), "--order", "leading", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["beta"], out["data_seed"]) == (0.5, 3)


@pytest.fixture
def spy(monkeypatch):
    """Records the keyword arguments of every theory.compare_occupancy call, then runs the leading order
    instead (what is tested is which order and data stream each call gets)."""
    import theory.compare

    real = theory.compare.compare_occupancy
    calls = []

    def compare_occupancy(catalogue, empirical, **kw):
        calls.append(kw)
        return real(catalogue, empirical, **{**kw, "order": "leading", "data": None, "nongaussian_anneal": None})

    monkeypatch.setattr(theory.compare, "compare_occupancy", compare_occupancy)
    return calls


def test_refined_order_conditional_on_the_runs_stream(tmp_path, capsys, spy):
    """A run made with data seed 5, compared with both orders and no --data-seed: the refined order is
    conditional on stream 5 (the data passed to theory.compare_occupancy); the leading order gets none."""
    import jax
    import numpy as np

    import sampling

    run = _store_run(tmp_path, 0, data_seed=5, ns=(250, 300, 350))
    assert main(["compare", "--posterior", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data_seed"] == 5
    by_order = {kw["order"]: kw for kw in spy}
    assert set(by_order) == {"leading", "refined"} and by_order["leading"]["data"] is None
    data = by_order["refined"]["data"]
    assert data is not None and by_order["refined"]["beta"] == 1.0
    expected = sampling.make_dataset(jax.random.PRNGKey(5), 350, 6)
    assert data.n == 350 and data.c == 6
    np.testing.assert_array_equal(data.features, expected.features)
    np.testing.assert_array_equal(data.mu, expected.mu)


def test_unrecorded_settings_warn_and_fall_back(tmp_path, capsys, spy):
    """A store whose entries lack beta (written before it was recorded) and a results-only file: one
    warning line naming what is missing; the flag, else the default, is used."""
    run = _store_run(tmp_path, 0, ns=(250, 300), unrecorded=("beta",))
    assert main(["compare", "--posterior", str(run), "--order", "leading", "--beta", "0.5", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["beta"] == 0.5
    warning = captured.err.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("tmsphase compare: warning: the run in ")
    assert warning[0].endswith("does not record beta; using --beta 0.5.")
    # no recorded stream: the refined order predicts with the population loss (no data), and says so
    p = _stream_file(tmp_path, 0, ns=(250, 300))
    assert main(["compare", "--posterior", str(p), "--order", "refined", "--c", "6", "--json"]) == 0
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and warning[0].endswith(
        "does not record c, r, beta, data seed; using --c 6, --r 2 (default), --beta 1 (default), the population "
        "loss for the refined order (--data-seed K: stream K).")
    assert [kw["data"] for kw in spy if kw["order"] == "refined"] == [None]
    # given, the stream is used
    assert main(["compare", "--posterior", str(p), "--order", "refined", "--data-seed", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data_seed"] == 2 and spy[-1]["data"] is not None


def test_mixed_runs_in_one_directory(tmp_path, capsys):
    _store_run(tmp_path, 0, data_seed=5, ns=(250,))
    _store_run(tmp_path, 0, data_seed=6, ns=(300,))
    assert main(["compare", "--posterior", str(tmp_path / "run"), "--order", "leading"]) == 2
    assert "holds runs with different data_seed (5, 6)" in capsys.readouterr().err


def test_unobserved_crossing_has_no_interval(tmp_path, capsys):
    """Stream 0 at n = 150..250: the predicted 4--- -> 4-- and 4-- -> 5 crossings are not observed (5
    leads already at 150); neither gets an observed interval, in the JSON or in the table."""
    p = _stream_file(tmp_path, 0, ns=(150, 200, 250))
    assert main(["compare", "--posterior", str(p), "--order", "leading", "--json"]) == 0
    crossings = json.loads(capsys.readouterr().out)["crossings"]
    unobserved = [c for c in crossings if c["n_observed"] is None]
    assert len(unobserved) >= 1
    assert all(c["interval"] == [None, None] for c in unobserved)
    assert main(["compare", "--posterior", str(p), "--order", "leading"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("  4")]
    assert len(rows) == len(unobserved) and all(row[3:] == ["-", "-"] for row in rows)


@pytest.mark.slow
def test_transitions_refined_population(capsys):
    """Population-level refined 5 -> 6 crossing (docs/free_energy.md: n ~ 197 at beta = 1)."""
    assert main(["transitions", "--c", "6", "--order", "refined", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    t = next(t for t in out["transitions"] if (t["from"], t["to"]) == ("5", "6"))
    assert 170 < t["n_critical"] < 230
    assert out["order"] == "refined"


def test_stored_exact_stream0_meets_the_bounds():
    """The stored numerical integrals of stream 0 (``predicted_nongaussian`` of docs/data/free_energy_c6.json,
    annealed SMC at n = 250..1000: minutes per phase and n, too long to recompute here) put the 5 -> 6
    crossing within 10% of the observed one and the occupancy of 5 and 6 within 0.15 at every n; the
    slow test below recomputes the two n that bracket the crossing through the CLI."""
    import numpy as np

    from theory.data_term import first_up_crossing, softmax_occupancy

    d = json.loads(DATA.read_text())
    labels = ("6", "5+", "5")
    pred = {r["n"]: r["beta1.0"] for r in d["predicted_nongaussian"] if r["stream"] == 0}
    obs = {r["n"]: r["occupancy"] for r in d["observed"] if r["stream"] == 0 and r["n"] in pred}
    ns = sorted(obs)
    assert len(ns) >= 6
    P = softmax_occupancy({lab: np.array([pred[n][lab]["total"] for n in ns]) for lab in labels}, labels)
    tot = np.array([sum(obs[n].get(lab, 0.0) for lab in labels) for n in ns])
    Q = {lab: np.array([obs[n].get(lab, 0.0) for n in ns]) / tot for lab in labels}
    predicted, observed = first_up_crossing(ns, P["6"] - P["5"]), first_up_crossing(ns, Q["6"] - Q["5"])
    assert abs(math.log(predicted / observed)) < math.log(1.10)
    assert max(np.max(np.abs(P[lab] - Q[lab])) for lab in ("5", "6")) < 0.15


@pytest.mark.slow
def test_compare_exact_data_conditional_stream0(tmp_path, capsys):
    """The exact order (the numerical integral of each phase's cell), data-conditional on stream 0, through
    `tmsphase compare --order exact`, at the two sampled n that bracket its crossing (300, 350; the stored
    run covers 250..1000, test above): predicted crossing within 10% of the observed one and the occupancy
    of 5 and 6 within 0.15 (docs/free_energy.md, stream 0 row), where the leading order is off by more
    than 0.5."""
    p = _stream_file(tmp_path, 0, ns=(300, 350))
    png = tmp_path / "cmp.png"
    # plain importance sampling (--exact-anneal 0): the annealed default takes minutes per phase and n
    assert main(["compare", "--posterior", str(p), "--data-seed", "0", "--order", "exact", "--exact-anneal", "0",
                 "--json", "--plot", str(png)]) == 0
    ref = json.loads(capsys.readouterr().out)
    assert ref["order"] == "exact" and ref["data_seed"] == 0
    cr = next(c for c in ref["crossings"] if (c["from"], c["to"]) == ("5", "6"))
    assert abs(math.log(cr["n_predicted"] / cr["n_observed"])) < math.log(1.10)
    assert ref["max_abs_deviation_n250"] < 0.15
    assert png.exists() and png.with_suffix(".pdf").exists()
    assert main(["compare", "--posterior", str(p), "--order", "leading", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["max_abs_deviation_n250"] > 0.5


def test_default_compare_uses_the_closed_form(tmp_path, capsys, monkeypatch):
    """The default compare of a data-seeded run (leading and refined) evaluates the refined order with
    the closed-form data term on the run's stream (theory.data_free_energy, spied and stubbed with the
    population free energy) and never the numerical integral of a phase's cell (the exact order)."""
    import numpy as np

    import theory.data_term
    import theory.free_energies.refined as refined

    calls = []

    def data_free_energy(catalogue, data, ns, *, beta=1.0, labels=None, relaxation=None):
        calls.append(dict(data=data, ns=list(ns), beta=beta, labels=labels))
        labs = tuple(labels)
        F = {lab: np.asarray(ns, float) * 0.0 + i for i, lab in enumerate(labs)}
        zero = {lab: np.zeros(len(ns)) for lab in labs}
        return theory.data_term.DataFreeEnergy(np.asarray(ns, float), labs, F, zero, zero, False, beta)

    def refuse(*args, **kwargs):
        raise AssertionError("the numerical integral (SMC) was called")

    monkeypatch.setattr(theory.data_term, "data_free_energy", data_free_energy)
    monkeypatch.setattr(refined, "refined_terms", refuse)
    monkeypatch.setattr(refined, "nongaussian_term", refuse)
    run = _store_run(tmp_path, 0, data_seed=2, ns=(250, 300, 350))
    assert main(["compare", "--posterior", str(run), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"leading", "refined"} and out["data_seed"] == 2
    assert len(calls) == 1 and calls[0]["ns"] == [250, 300, 350] and calls[0]["data"].n == 350
    assert calls[0]["beta"] == 1.0 and "5" in calls[0]["labels"] and "6" in calls[0]["labels"]
    # the stub's free energies (phase i: F = i) are what the refined prediction shows
    assert out["refined"]["predicted"][calls[0]["labels"][0]] == pytest.approx([1 / sum(
        math.exp(-i) for i in range(len(calls[0]["labels"])))] * 3)


def test_exact_anneal_needs_the_exact_order(tmp_path, capsys):
    run = _store_run(tmp_path, 0, data_seed=2, ns=(250, 300))
    assert main(["compare", "--posterior", str(run), "--exact-anneal", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "argument --exact-anneal: 0 applies to --order exact only" in err[0]
