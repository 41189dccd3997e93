"""`tmsphase posterior`."""

from __future__ import annotations

import json
import warnings

import pytest

from theory.cli import main

# the settings of tests/sampling/test_occupancy.py (TINY): the compiled sampler is reused
BASE = ["posterior", "--c", "6", "--chains", "2", "--warmup", "40", "--samples", "40", "--no-progress"]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, catalogue6):
    out = tmp_path_factory.mktemp("posterior")
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with warnings.catch_warnings(), redirect_stdout(buf):
        warnings.simplefilter("ignore")
        rc = main(BASE + ["--n", "200", "--seed", "0", "--out", str(out), "--json"])
    return rc, json.loads(buf.getvalue()), out


def test_posterior_json_and_files(first_run, catalogue6):
    rc, data, out = first_run
    assert rc == 0
    assert set(data) == {"c", "r", "ns", "config", "results", "figures"} and len(data["results"]) == 1
    assert (data["c"], data["r"], data["ns"]) == (6, 2, [200])
    assert data["config"]["method"] == "nuts" and data["config"]["chains"] == 2 and data["figures"] == []
    r = data["results"][0]
    assert list(r) == ["n", "method", "occupancy", "occupancy_err", "rhat_loss", "ess_loss", "divergences"]
    assert r["n"] == 200 and r["method"] == "nuts"
    assert set(r["occupancy"]) <= set(catalogue6.labels()) | {"other"}
    assert sum(r["occupancy"].values()) == pytest.approx(1.0)
    # one kgon.io.ResultStore entry: the record, the draws (netCDF) and the occupancy table (CSV)
    files = sorted(p.name for p in out.iterdir())
    assert [f.rsplit(".", 1)[1] for f in files] == ["csv", "json", "nc"] and len({f.split(".")[0] for f in files}) == 1


def test_rerun_skips_complete_n(first_run, capsys, monkeypatch):
    rc, data, out = first_run
    def fail(*a, **k):
        raise AssertionError("a complete n was sampled again")

    monkeypatch.setattr("sampling.mcmc.io.run_occupancy", fail)
    assert main(BASE + ["--n", "200", "--seed", "0", "--out", str(out), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again == data
    # the table output reads the stored result as well
    assert main(BASE + ["--n", "200", "--seed", "0", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "200" in table and "nuts" in table


def test_plot_occupancy_curve(first_run, tmp_path, capsys, monkeypatch):
    rc, data, out = first_run
    monkeypatch.setattr("sampling.mcmc.io.run_occupancy", None)  # stored results only
    png = tmp_path / "figs" / "occupancy.png"
    assert main(BASE + ["--n", "200", "--seed", "0", "--out", str(out), "--plot", str(png), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)["figures"]
    assert figures == [str(png), str(png.with_suffix(".pdf"))]
    assert png.stat().st_size > 5000 and png.with_suffix(".pdf").stat().st_size > 1000


@pytest.mark.parametrize(
    "args, message",
    [
        (["--c", "6", "--n", "0"], "argument --n: must be an integer >= 1; got 0 in the list '0'."),
        (["--c", "6", "--n", "100,-5"], "argument --n: must be an integer >= 1; got -5 in the list '100,-5'."),
        (["--c", "6", "--n", "abc"], "argument --n: must be an integer; got 'abc' in the list 'abc'."),
        (["--c", "1", "--n", "100"], "argument --c: must be an integer >= 2; got 1."),
        (["--c", "6", "--n", "100", "--chains", "0"], "argument --chains: must be an integer >= 1; got 0."),
        (["--c", "6", "--n", "100", "--method", "gibbs"], "argument --method: invalid choice: 'gibbs'"),
        (["--c", "6", "--n", "100", "--beta", "0"], "argument --beta: must be a finite number > 0; got '0'."),
        (["--c", "6", "--n", "100", "--beta", "-1"], "argument --beta: must be a finite number > 0; got '-1'."),
        (["--c", "6", "--n", "100", "--beta", "inf"], "argument --beta: must be a finite number > 0; got 'inf'."),
        (["--c", "6", "--n", "100", "--beta", "nan"], "argument --beta: must be a finite number > 0; got 'nan'."),
        (["--c", "6", "--n", "100", "--r", "3", "--beta", "0.5"],
         "argument --beta: works only with the catalogue model (r = 2, no --sparsity/--importance/--input-scale); "
         "got 0.5."),
    ],
)
def test_bad_input(args, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["posterior", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("tmsphase posterior: error:")
    assert not out.exists()  # nothing written


def test_beta_recorded_and_read_back(tmp_path, capsys, monkeypatch):
    """--beta reaches sampling.run_occupancy (stubbed: the settings matter here, not the draws), is
    recorded in the store entry's configuration and the --json config, and `tmsphase compare` reads it
    (with the data seed) back from the store."""
    import sampling
    from kgon.io import ResultStore

    seen = []

    def fake_run_occupancy(key, config, *, catalogue, progress):
        seen.append(config)
        return sampling.OccupancyResult(n=config.n, c=config.c, method=config.method,
                                        occupancy={"5": 0.7, "6": 0.3}, occupancy_err={"5": 0.02, "6": 0.02},
                                        rhat_loss=1.0, ess_loss=100.0, divergences=0, phase_switches=(),
                                        config=config.to_dict())

    monkeypatch.setattr("sampling.mcmc.io.run_occupancy", fake_run_occupancy)
    out = tmp_path / "run"
    argv = BASE + ["--n", "300,400", "--seed", "1", "--data-seed", "7", "--beta", "0.5", "--out", str(out)]
    assert main(argv + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["config"]["beta"], data["config"]["data_seed"]) == (0.5, 7)
    assert [(cfg.n, cfg.beta, cfg.data_seed) for cfg in seen] == [(300, 0.5, 7), (400, 0.5, 7)]
    configs = [e.config["config"] for e in ResultStore(out).list()]
    assert sorted((cfg["n"], cfg["beta"], cfg["data_seed"], cfg["c"], cfg["r"]) for cfg in configs) == [
        (300, 0.5, 7, 6, 2), (400, 0.5, 7, 6, 2)]
    # without --beta: the Bayesian posterior, beta = 1
    assert main(BASE + ["--n", "300", "--seed", "1", "--data-seed", "7", "--out", str(tmp_path / "b1")]) == 0
    assert seen[-1].beta == 1.0
    capsys.readouterr()
    # read back by compare: its beta and stream are the run's; a contradicting --beta is an error
    assert main(["compare", "--posterior", str(out), "--order", "leading", "--json"]) == 0
    captured = capsys.readouterr()
    back = json.loads(captured.out)
    assert (back["c"], back["r"], back["beta"], back["data_seed"]) == (6, 2, 0.5, 7) and "warning" not in captured.err
    assert main(["compare", "--posterior", str(out), "--order", "leading", "--beta", "1"]) == 2
    assert "argument --beta: 1 contradicts the run in" in capsys.readouterr().err


def test_out_is_a_file(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("keep me")
    assert main(["posterior", "--c", "6", "--n", "100", "--out", str(f)]) == 2
    assert "argument --out: must be a directory" in capsys.readouterr().err
    assert f.read_text() == "keep me"
