"""``tmsphase critical-points`` and the catalogue plots."""

from __future__ import annotations

import json

import pytest

from theory.cli import main

_KEYS = {
    "name", "k", "sigma_plus", "sigma_minus", "loss", "llc", "llc_err", "llc_method", "constant",
    "multiplicity", "grad_norm", "hessian_signature", "W", "b",
}


def test_json_output(catalogue6, capsys):
    assert main(["critical-points", "--c", "6", "--json", "--max-loss", "0.35"]) == 0
    out = json.loads(capsys.readouterr().out)
    pts = out["critical_points"]
    assert _KEYS <= set(pts[0])
    losses = [p["loss"] for p in pts]
    assert losses == sorted(losses) and max(losses) <= 0.35
    names = [p["name"] for p in pts]
    for fam in ("4", "4+", "4++", "5", "5+", "6"):
        assert fam in names
    six = pts[0]
    assert six["name"] == "6" and len(six["W"]) == 2 and len(six["b"]) == 6
    assert len(six["hessian_signature"]) == 3


def test_table_and_plot(catalogue6, capsys, tmp_path):
    png = tmp_path / "zoo.png"
    csv = tmp_path / "zoo.csv"
    assert main(["critical-points", "--c", "6", "--plot", str(png), "--csv", str(csv)]) == 0
    text = capsys.readouterr().out
    assert "5+" in text and "label" in text
    assert png.stat().st_size > 1000
    assert csv.read_text().count("\n") == len(catalogue6) + 1


def test_draw_point(catalogue6, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kgon.plot import draw_point

    axes = draw_point(catalogue6.get("5+"))
    fig = axes[0].figure
    fig.savefig(tmp_path / "p.png")
    plt.close(fig)
    assert (tmp_path / "p.png").stat().st_size > 1000


@pytest.mark.parametrize("argv", [["--c", "1"], ["--c", "6", "--r", "0"], ["--c", "6", "--seed", "-3"]])
def test_bad_input_exits_2(argv, capsys):
    assert main(["critical-points", *argv]) == 2
    assert "error" in capsys.readouterr().err
