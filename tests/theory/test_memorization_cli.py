"""``--input-dist point`` on ``tmsphase kgon`` and ``tmsphase critical-points``: output and one-line errors."""

import json

import pytest

import kgon
from theory.cli import main


def test_kgon_point_prints_the_zero_loss_polygon(capsys):
    assert main(["kgon", "--k", "7", "--c", "7", "--input-dist", "point", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["exists"] and len(out["solutions"]) == 1
    sol = out["solutions"][0]
    assert sol["loss"] <= 1e-24 and sol["length"] == pytest.approx(kgon.memorization_radius(7), rel=1e-12)


@pytest.mark.slow
def test_critical_points_point_json_names_the_input(capsys):
    argv = ["critical-points", "--c", "3", "--input-dist", "point", "--n-starts", "30", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["input_dist"] == "point"
    assert out["critical_points"][0]["name"] == "3" and out["critical_points"][0]["loss"] <= 1e-20


@pytest.mark.parametrize("argv, flag", [
    (["kgon", "--k", "5", "--c", "6", "--input-dist", "pointy"], "--input-dist"),
    (["kgon", "--k", "2", "--c", "6", "--input-dist", "point"], "--k"),
    (["kgon", "--k", "5", "--c", "6", "--sigma-minus", "1", "--input-dist", "point"], "--sigma-minus"),
    (["critical-points", "--c", "6", "--input-dist", "Point"], "--input-dist"),
])
def test_bad_input_dist_is_one_line(argv, flag, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"tmsphase {argv[0]}: error: argument {flag}"), err
