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
    import sampling

    def fail(*a, **k):
        raise AssertionError("a complete n was sampled again")

    monkeypatch.setattr(sampling, "run_occupancy", fail)
    assert main(BASE + ["--n", "200", "--seed", "0", "--out", str(out), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again == data
    # the table output reads the stored result as well
    assert main(BASE + ["--n", "200", "--seed", "0", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "200" in table and "nuts" in table


def test_plot_occupancy_curve(first_run, tmp_path, capsys, monkeypatch):
    rc, data, out = first_run
    import sampling

    monkeypatch.setattr(sampling, "run_occupancy", None)  # stored results only
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
    ],
)
def test_bad_input(args, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["posterior", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("tmsphase posterior: error:")
    assert not out.exists()  # nothing written


def test_out_is_a_file(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("keep me")
    assert main(["posterior", "--c", "6", "--n", "100", "--out", str(f)]) == 2
    assert "argument --out: must be a directory" in capsys.readouterr().err
    assert f.read_text() == "keep me"
