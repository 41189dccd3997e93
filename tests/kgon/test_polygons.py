"""Regular k-gon critical points, published values, CLI and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import kgon
from theory.cli import main


def _full_grad_norm_torch(W: np.ndarray, b: np.ndarray) -> float:
    Wt = torch.tensor(W, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    kgon.potential_torch(Wt, bt).backward()
    return float(torch.sqrt((Wt.grad**2).sum() + (bt.grad**2).sum()))


@pytest.fixture(scope="module")
def c6():
    return {
        "5": kgon.kgon(5, 6),
        "5+": kgon.kgon(5, 6, sigma_plus=1),
        "6": kgon.kgon(6, 6),
    }


def test_published_losses_c6(c6):
    # docs/index.md (Chen et al. 2023): L(5) = 0.06874, L(5+) = 0.06180, L(6) = 0.04819
    for name, published in [("5", 0.06874), ("5+", 0.06180), ("6", 0.04819)]:
        res = c6[name]
        assert res.exists
        best = res.solutions[0]
        assert best.name == name
        assert round(best.loss, 5) == published


def test_published_polygon_parameters(c6):
    five, six = c6["5"].solutions[0], c6["6"].solutions[0]
    assert (round(five.length, 5), round(five.bias_value, 5)) == (1.17046, -0.28230)
    assert (round(six.length, 5), round(six.bias_value, 5)) == (1.32053, -0.61814)


def test_four_gon_global_minimum_and_plus_gap(c6):
    four = kgon.kgon(4, 4).solutions[0]
    assert abs(four.loss) < 1e-15
    assert abs(four.length - 1) < 1e-12 and abs(four.bias_value) < 1e-12
    gap = c6["5"].solutions[0].loss - c6["5+"].solutions[0].loss
    assert abs(gap - 1 / 144) < 1e-12


def test_solutions_are_critical_with_claimed_loss(c6):
    for res in c6.values():
        for s in res.solutions:
            assert s.grad_norm <= 1e-9
            assert _full_grad_norm_torch(s.W, s.b) <= 1e-9
            assert abs(kgon.potential(s.W, s.b) - s.loss) < 1e-14


def test_sigma_minus_on_four_gon_and_rejection_on_five_gon():
    res = kgon.kgon(4, 6, sigma_plus=2, sigma_minus=1)
    assert res.exists and res.solutions[0].name == "4++-"
    s = res.solutions[0]
    off = s.off_vertices[0]
    assert s.b[off] <= -np.sum(s.W[:, off] ** 2)  # its own output is off
    # two inequivalent ways to switch off two vertices of a square: adjacent and opposite
    assert {sol.off_vertices for sol in kgon.kgon(4, 6, sigma_minus=2).solutions} == {(0, 1), (0, 2)}
    # in a pentagon the switched-off vertex's neighbours still interfere: explicitly no solution
    none = kgon.kgon(5, 6, sigma_minus=1)
    assert not none.exists and "none is a critical point" in none.reason
    assert none.rejected and none.rejected[0][3] > 1e-3


@pytest.mark.parametrize("k", [k if k in (4, 5, 6, 7, 8, 9, 13) else pytest.param(k, marks=pytest.mark.slow)
                               for k in range(4, 14)])  # k = 10-12 (~1.5-2.5 s each) in the slow run
def test_cli_json_every_k(k, capsys):
    assert main(["kgon", "--k", str(k), "--c", str(k), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["exists"] is True
    losses = [s["loss"] for s in out["solutions"]]
    assert losses == sorted(losses)
    for s in out["solutions"]:
        assert s["name"] == str(k)
        W, b = np.array(s["W"]), np.array(s["b"])
        assert W.shape == (2, k) and b.shape == (k,)
        assert abs(kgon.potential(W, b) - s["loss"]) < 1e-12
        assert _full_grad_norm_torch(W, b) <= 1e-9
        assert abs(np.linalg.norm(W[:, 0]) - s["length"]) < 1e-12


def test_cli_table_and_no_solution(capsys):
    assert main(["kgon", "--k", "5", "--c", "6", "--sigma-plus", "1"]) == 0
    out = capsys.readouterr().out
    assert "5+" in out and "0.061799" in out
    assert main(["kgon", "--k", "5", "--c", "6", "--sigma-minus", "1", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["exists"] is False and obj["solutions"] == [] and obj["reason"]


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--k", "7", "--c", "6"], "argument --k:"),
        (["--k", "1", "--c", "6"], "argument --k:"),
        (["--k", "2", "--c", "1"], "argument --c:"),
        (["--k", "3", "--c", "4", "--r", "0"], "argument --r:"),
        (["--k", "4", "--c", "5", "--sigma-plus", "2"], "argument --sigma-plus:"),
        (["--k", "4", "--c", "5", "--sigma-minus", "5"], "argument --sigma-minus:"),
    ],
)
def test_cli_bad_input_exit_2(argv, match, capsys):
    assert main(["kgon", *argv]) == 2
    captured = capsys.readouterr()
    assert match in captured.err and "Traceback" not in captured.err


def test_api_bad_input():
    with pytest.raises(ValueError, match="`k` must be an integer in 2..6; got 7"):
        kgon.kgon(7, 6)
    with pytest.raises(ValueError, match="`r` must be >= 2"):
        kgon.kgon(3, 4, r=1)
    with pytest.raises(ValueError, match="`k` must be an integer"):
        kgon.kgon(4.5, 6)


def test_higher_r_embeds_the_same_polygon():
    s2 = kgon.kgon(5, 6).solutions[0]
    s3 = kgon.kgon(5, 6, r=3).solutions[0]
    assert s3.W.shape == (3, 6)
    assert abs(s3.loss - s2.loss) < 1e-14 and s3.grad_norm <= 1e-9
