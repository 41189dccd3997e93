"""`tmsphase sgd` with general-model flags: calibrated LLC estimates only on request (`--llc-per-plateau`)."""

from __future__ import annotations

import json

import pytest

from theory.cli import main
from theory.sweeps.kinds import general_sgd

ARGV = ["sgd", "--c", "4", "--runs", "2", "--epochs", "100", "--checkpoints", "40", "--sparsity", "0.5"]


def test_default_general_run_estimates_no_llc(monkeypatch, capsys):
    def refuse(*args, **kwargs):
        pytest.fail("an LLC was estimated without --llc-per-plateau")

    monkeypatch.setattr(general_sgd, "checkpoint_llcs", refuse)
    assert main(ARGV + ["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert any(r["plateaus"] for r in out["runs"])  # there were plateaus to estimate at
    for r in out["runs"]:
        assert r["llc"] == [] and r["llc_settings"]["llc_checkpoints"] == []


def test_requested_llcs_are_estimated_and_announced(monkeypatch, capsys):
    calls = []

    def fake(result, run, checkpoints, *, progress=False, **kwargs):
        calls.append((run, [int(k) for k in checkpoints], progress))
        return [{"checkpoint": int(k), "step": int(result.steps[k]), "llc": 1.5, "excluded": []} for k in checkpoints]

    monkeypatch.setattr(general_sgd, "checkpoint_llcs", fake)
    assert main(ARGV + ["--llc-per-plateau", "1"]) == 0
    captured = capsys.readouterr()
    assert "--llc-per-plateau 1" in captured.err  # announced before the estimates start
    assert [run for run, _, _ in calls] == [0, 1]
    assert all(ks and progress for _, ks, progress in calls)  # with a progress bar
    assert "LLC 1.50" in captured.out
