"""`tmsphase development`: bad input (fast) and a shortened evaluation end to end (slow)."""

import json

import pytest

from theory.cli.main import main


@pytest.mark.parametrize("argv, flag", [
    (["--c", "6", "--runs", "2"], "--runs"),              # the covariance across runs needs >= 3 runs
    (["--c", "6", "--runs", "4", "--checkpoints", "3"], "--checkpoints"),  # too few for the smoother
    (["--c", "6", "--runs", "4", "--bandwidth", "0"], "--bandwidth"),
])
def test_bad_arguments_exit_2_with_one_line(argv, flag, capsys):
    assert main(["development", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0]


@pytest.mark.slow
def test_shortened_evaluation(tmp_path, capsys):
    # 8 runs with a 10x larger learning rate (transitions ~10x earlier), 300 epochs, short SGLD chains
    argv = ["development", "--c", "6", "--runs", "8", "--lr", "0.05", "--epochs", "300", "--checkpoints", "80",
            "--draws", "200", "--out", str(tmp_path / "out"), "--plot", str(tmp_path / "fig"), "--json"]
    assert main(argv) == 0
    d = json.loads(capsys.readouterr().out)
    assert len(d["runs"]) == 8 and set(d["scores"]) >= {"llc", "essential_dynamics", "covariance"}
    run = d["runs"][0]
    assert set(run) >= {"seed", "plateaus", "transitions", "llc_milestones", "ed_forms"}
    trans = [t for r in d["runs"] for t in r["transitions"]]
    assert trans, "this configuration has a 4+ -> 5 transition (seed 5)"
    # every LLC milestone on a plateau (chance 0.99 here, so only a sanity check), the transition found
    # by the covariance spectrum
    assert d["scores"]["llc"]["precision"] >= 0.8 and d["scores"]["covariance"]["recall"] == 1.0
    assert sorted(p.name for p in (tmp_path / "fig").glob("*.png"))[0] == "covariance_spectrum.png"
    # resumable: the per-run LLC curves were saved and a re-run reuses them (same numbers)
    saved = list((tmp_path / "out").glob("llc-curves/*.npz"))  # one store entry per run
    assert len(saved) == 8
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["runs"] == d["runs"]


@pytest.mark.slow
def test_runs_without_transitions_exit_2(tmp_path, capsys):
    argv = ["development", "--c", "6", "--runs", "3", "--epochs", "10", "--checkpoints", "20", "--draws", "50",
            "--out", str(tmp_path), "--json"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no run has a transition" in err
    assert list(tmp_path.glob("development-*/development.json"))  # the results were still written
