"""On the real c = 6 catalogue: the 5 -> 6 Bayesian transition and the transitions CLI."""

from __future__ import annotations

import json

import numpy as np

from theory import occupancy, transitions
from theory.cli import main


def test_n_critical_5_to_6(catalogue6):
    # docs/index.md: the seed reports the 5-gon -> 6-gon transition near n = 600 (601 with its table)
    ts = [t for t in transitions(catalogue6) if (t.from_label, t.to_label) == ("5", "6")]
    assert len(ts) == 1
    t = ts[0]
    assert abs(t.n_critical - 601) <= 2
    assert t.kind == "A" and t.globally_dominant
    assert abs(t.d_llc - 1.5) < 0.25


def test_theory_occupancy_dominance_sequence(catalogue6):
    th = occupancy(catalogue6, [300.0, 3000.0])
    assert th.dominant() == ["5", "6"]
    assert np.isclose(sum(th.probs[k][0] for k in th.labels), 1.0)


def test_transitions_cli_json(catalogue6, capsys):
    assert main(["transitions", "--c", "6", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    pairs = {(t["from"], t["to"]): t for t in out["transitions"]}
    assert ("5", "6") in pairs
    t = pairs[("5", "6")]
    assert set(t) >= {"from", "to", "n_critical", "type"}
    assert abs(t["n_critical"] - 601) <= 2 and t["type"] == "A"
    ns = [t["n_critical"] for t in out["transitions"]]
    assert ns == sorted(ns)


def test_transitions_cli_bad_c(capsys):
    assert main(["transitions", "--c", "1"]) == 2
    assert "argument --c: must be an integer >= 2; got 1." in capsys.readouterr().err
