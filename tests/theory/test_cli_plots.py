"""``--plot`` and ``--json`` of kgon and transitions; which Bayesian transitions are drawn and listed."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import pytest

from kgon.plot import energy_levels, plot_polygons, save_figure
from theory import MIN_TRANSITION_N, significant_transitions
from theory.cli import main
from theory.plot import plot_loss_complexity


def _legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_kgon_plot_and_json(tmp_path, capsys):
    png = tmp_path / "k" / "five.png"
    assert main(["kgon", "--k", "5", "--c", "6", "--sigma-plus", "1", "--plot", str(png), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["k"], d["c"], d["r"], d["sigma_plus"], d["sigma_minus"]) == (5, 6, 2, 1, 0)
    assert d["exists"] and d["solutions"][0]["name"] == "5+"
    assert png.stat().st_size > 5000 and png.with_suffix(".pdf").stat().st_size > 1000


def test_significant_transitions_c6(catalogue6):
    ts = significant_transitions(catalogue6)
    pairs = [(t.from_label, t.to_label) for t in ts]
    assert pairs == [("0", "4--"), ("4--", "5"), ("5", "6")]
    assert all(t.n_critical >= MIN_TRANSITION_N and t.globally_dominant for t in ts)
    everything = significant_transitions(catalogue6, include_all=True)
    assert ("4++", "4+") in [(t.from_label, t.to_label) for t in everything]  # the n ~ 1 root, kept behind --all
    assert min(t.n_critical for t in everything) < MIN_TRANSITION_N


def test_transitions_cli_lists_only_significant(catalogue6, tmp_path, capsys):
    png = tmp_path / "t.png"
    assert main(["transitions", "--c", "6", "--json", "--plot", str(png)]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["c"], d["r"], d["min_n"], d["all"]) == (6, 2, MIN_TRANSITION_N, False)
    assert all(t["n_critical"] >= MIN_TRANSITION_N for t in d["transitions"])
    assert ("4++", "4+") not in [(t["from"], t["to"]) for t in d["transitions"]]
    assert d["figures"] == [str(png), str(png.with_suffix(".pdf"))] and png.stat().st_size > 5000
    assert main(["transitions", "--c", "6", "--all"]) == 0
    table = capsys.readouterr().out
    assert "4++       4+" in table


def test_loss_complexity_figure_draws_only_significant(catalogue6):
    """A subset of phases must not make the n ~ 1 roots among them look like transitions."""
    low = [p.label for p in catalogue6.points if p.loss <= 0.16 and p.hessian_signature[0] == 0]
    assert {"4++", "4+", "5", "6"} <= set(low)
    fig, ax = plt.subplots()
    plot_loss_complexity(catalogue6, labels=low, ax=ax)
    assert "Bayesian transitions (1)" in _legend(ax)  # 5 -> 6 only; 0 -> 4-- and 4-- -> 5 leave the plotted set
    plt.close(fig)


def test_one_figure_saver_and_drawers(catalogue6, tmp_path):
    fig, ax = plt.subplots()
    energy_levels(catalogue6, ax=ax)
    labels = {t.get_text() for t in ax.texts}
    assert {"5", "5+", "6", "0"} <= labels
    assert save_figure(fig, tmp_path / "e") == [str(tmp_path / "e.png"), str(tmp_path / "e.pdf")]
    assert save_figure(fig, tmp_path / "e.svg") == [str(tmp_path / "e.svg")]
    plt.close(fig)
    out = plot_polygons([catalogue6.get(lab) for lab in ("5", "6")], tmp_path / "poly.pdf")
    assert out == [str(tmp_path / "poly.png"), str(tmp_path / "poly.pdf")]
    with pytest.raises(ValueError, match="`points`"):
        plot_polygons([], tmp_path / "x.png")


def test_occupancy_legend_lists_only_phases_with_mass(catalogue6):
    from theory.compare import compare_occupancy
    from theory.plot import LEGEND_MIN_OCCUPANCY, plot_occupancy

    empty = dict.fromkeys(("4", "4+", "4++", "4-", "5+"), 0.0)
    posterior = [
        {"n": 300, "method": "tempered", "occupancy": {**empty, "5": 0.9, "6": 0.1},
         "occupancy_err": {**empty, "5": 0.02, "6": 0.02}},
        {"n": 3000, "method": "tempered", "occupancy": {**empty, "5": 0.0, "6": 1.0},
         "occupancy_err": {**empty, "5": 0.0, "6": 0.01}},
    ]
    cmp = compare_occupancy(catalogue6, posterior)
    assert len(cmp.labels) == 7  # seven phases are compared ...
    fig, ax = plt.subplots()
    plot_occupancy(cmp, ax=ax)
    legend = _legend(ax)
    phases = [t for t in legend if t in cmp.labels]
    assert {"5", "6"} <= set(phases) and "4+" not in phases and "5+" not in phases  # ... but few are drawn
    assert len(phases) < len(cmp.labels) and any(t.endswith(f"< {LEGEND_MIN_OCCUPANCY:.0%} everywhere") for t in legend)
    assert len(legend) == len(set(legend))  # one entry per phase, not one per phase and kind
    plt.close(fig)
