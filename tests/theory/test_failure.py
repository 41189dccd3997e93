"""theory.failure: trained end points against gradient-flow basins; tmsphase failure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from theory.cli import main
from theory.failure import FailureConfig, fractions, gradient_flow, match_endpoints, predict_basins, random_starts

DATA = Path(__file__).resolve().parents[2] / "docs" / "data" / "failure.json"


@pytest.mark.parametrize("kw, name", [
    (dict(optimizer="lbfgs"), "`optimizer`"),
    (dict(lr=0.0), "`lr`"),
    (dict(weight_decay=-1.0), "`weight_decay`"),
    (dict(batch_size=2000), "`batch_size`"),
    (dict(starts=0), "`starts`"),
    (dict(flow_time=float("inf")), "`flow_time`"),
    (dict(flow_lr=2.0, flow_time=1.0), "`flow_lr`"),
])
def test_config_validation_names_the_argument(kw, name):
    with pytest.raises(ValueError, match=name):
        FailureConfig(c=6, **kw)


def test_default_learning_rate_per_optimizer():
    assert FailureConfig(c=6, optimizer="sgd").lr == 0.05
    assert FailureConfig(c=6, optimizer="adamw").lr == 0.005
    assert FailureConfig(c=6, optimizer="adam", lr=0.1).sgd_config().lr == 0.1
    assert FailureConfig(c=6).sgd_config().init == "random"


def test_fractions_order_and_sum():
    f = fractions(["5", "6", "5", "other"])
    assert list(f) == ["5", "6", "other"] and f["5"] == 0.5 and sum(f.values()) == 1.0


def test_matching_modulo_symmetry(catalogue6):
    # a catalogue point rotated, reflected and with its features permuted is matched to its own label;
    # a far-off point is "other" and a non-finite one "nan"
    p = catalogue6.get("5")
    rng = np.random.default_rng(0)
    th = 0.7
    Q = np.array([[np.cos(th), np.sin(th)], [np.sin(th), -np.cos(th)]])
    perm = rng.permutation(6)
    W = np.stack([Q @ p.W[:, perm], np.full((2, 6), 5.0), np.full((2, 6), np.nan)])
    b = np.stack([p.b[perm], np.zeros(6), np.zeros(6)])
    labels, dist, loss = match_endpoints(W, b, catalogue6)
    assert list(labels) == ["5", "other", "nan"]
    assert dist[0] < 1e-9 and abs(loss[0] - p.loss) < 1e-12 and np.isnan(loss[2])


def test_gradient_flow_keeps_a_minimum_and_descends():
    W0, b0 = random_starts(6, [0, 1, 2])
    from kgon import potential_numpy

    L0 = potential_numpy(W0, b0)
    W, b = gradient_flow(W0, b0, time=5.0, lr=0.1)
    assert np.all(potential_numpy(W, b) < L0 - 1e-3)
    assert random_starts(6, [1])[0][0].tolist() == W0[1].tolist()  # one start depends on its seed only


def test_predicted_basins_reach_catalogue_points(catalogue6):
    pred = predict_basins(6, starts=6, flow_time=300.0, catalogue=catalogue6, seed=3)
    assert len(pred.labels) == 6 and abs(sum(pred.fractions.values()) - 1) < 1e-12
    assert set(pred.labels) <= set(catalogue6.labels()) | {"other"}
    assert np.mean(pred.labels != "other") >= 5 / 6  # at T = 300 the flow has settled (docs/failure.md)


@pytest.mark.parametrize("argv, flag", [
    (["failure", "--c", "1", "--runs", "2"], "--c"),
    (["failure", "--c", "6", "--runs", "0"], "--runs"),
    (["failure", "--c", "6", "--runs", "2", "--optimizer", "rmsprop"], "--optimizer"),
    (["failure", "--c", "6", "--runs", "2", "--lr", "-1"], "--lr"),
    (["failure", "--c", "6", "--runs", "2", "--weight-decay", "nan"], "--weight-decay"),
    (["failure", "--c", "6", "--runs", "2", "--n", "10", "--batch-size", "20"], "--batch-size"),
    (["failure", "--c", "6", "--runs", "2", "--flow-time", "0.01"], "--flow-time"),
])
def test_cli_bad_arguments_one_line_exit_2(argv, flag, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and flag in err and err.startswith("tmsphase failure: error:")


def test_cli_json_keys(catalogue6, capsys):
    argv = ["failure", "--c", "6", "--runs", "3", "--epochs", "3", "--n", "60", "--batch-size", "20",
            "--starts", "4", "--flow-time", "2", "--json"]
    assert main(argv) == 0
    d = json.loads(capsys.readouterr().out)
    for key in ("c", "r", "optimizer", "runs", "observed", "predicted", "global_minimum", "saddles", "unmatched"):
        assert key in d
    assert d["c"] == 6 and d["optimizer"] == "adam" and d["runs"] == 3
    assert d["global_minimum"]["label"] == "6"
    assert abs(sum(d["observed"].values()) - 1) < 1e-12
    # after 3 epochs most runs are nowhere near a critical point: each is reported with its loss
    n_other = round(d["observed"].get("other", 0) * 3) + round(d["observed"].get("nan", 0) * 3)
    assert len(d["unmatched"]) == n_other
    assert all(u["loss"] > 0 for u in d["unmatched"])


@pytest.mark.slow
def test_stored_tables_and_one_recomputed_point():
    """docs/data/failure.json: every setting has >= 40 runs, each final point matched or reported; the
    c = 5 gradient-flow prediction is recomputed from 40 of its stored starts."""
    data = json.loads(DATA.read_text())
    for key, d in data["observed"].items():
        assert d["runs"] >= 40, key
        labels = d["final_labels"]
        assert len(labels) == d["runs"]
        assert len(d["unmatched"]) == sum(lab in ("other", "nan") for lab in labels), key
    stored = data["predicted"]["5"]["by_time"]["1000"]["labels"][:40]
    pred = predict_basins(5, starts=40, flow_time=1000.0, seed=0)
    assert list(pred.labels) == stored
