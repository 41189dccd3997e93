"""The ``tmsphase sgd`` and ``tmsphase llc`` commands."""

from __future__ import annotations

import contextlib
import io
import json
import math

import pytest

from sampling import corrected_two_temperature
from theory.cli import main


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_llc_cli(catalogue6, tmp_path):
    # n = 1e5 and 8 chains: the compiled chains are shared with test_llc_tms (same shapes)
    code, out, _ = _run(["llc", "--point", "6", "--c", "6", "--n", "100000", "--chains", "8", "--burnin", "0",
                         "--draws", "500", "--json", "--plot", str(tmp_path / "llc.png")])
    assert code == 0
    d = json.loads(out)
    assert set(d) >= {"llc", "llc_std", "diagnostics", "theory_llc", "relative_error", "config"}
    assert d["theory_llc"] == 8.5 and d["point"] == "6" and d["llc"] > 0
    assert d["estimator"] == "plain" and d["llc_plain"] == d["llc"]  # uncalibrated: the plain estimate
    assert d["config"]["eps"] == pytest.approx(0.02 * math.log(1e5) / 1e5)
    assert d["config"]["refined"] is True and d["config"]["chains"] == 8
    assert {"acceptance_mean", "excluded", "warnings"} <= set(d["diagnostics"])
    assert d["diagnostics"]["excluded"] == []
    assert (tmp_path / "llc.png").stat().st_size > 0


@pytest.mark.slow
def test_llc_cli_multi_temperature(catalogue6):
    """`tmsphase llc --estimator multi`: lambda, m and the fit (its steps per temperature, the Gaussian
    correction over the 6-gon's quadratic directions) in the text and the JSON (short chains: the
    numbers are not checked here, the fit is: tests/sampling/test_llc_multi_temperature.py)."""
    argv = ["llc", "--point", "6", "--c", "6", "--n", "100000", "--chains", "8", "--burnin", "0", "--draws", "500",
            "--estimator", "multi"]
    code, out, _ = _run(argv)
    assert code == 0
    assert "multi_temperature estimate" in out and "multiplicity m = " in out and "quadratic directions" in out
    # the same chains reported as the multiplicity-corrected two-temperature estimate (docs/llc.md §4c): the
    # two coldest temperatures' corrected values and the fitted m, or m = 1 where the fit is not usable
    code, out, _ = _run([*argv[:-1], "multiplicity_corrected", "--json"])
    d = json.loads(out)
    fit = d["multi_temperature"]
    assert d["estimator"] == "multiplicity_corrected"
    m = 1.0 if d["multiplicity"] is None else d["multiplicity"]
    assert d["multiplicity"] is None or d["multiplicity"] == pytest.approx(fit["multiplicity"])
    assert d["llc"] == pytest.approx(float(corrected_two_temperature(fit["nbetas"], fit["values"], m)), rel=1e-9)
    assert len(fit["nbetas"]) == 5 and fit["nbetas"][0] == pytest.approx(d["nbeta"]) and fit["fluctuation"] is not None
    # the 6-gon at c = 6 has 3c - 1 = 17 curved directions (lambda = 17/2; the orbit direction is flat); the
    # correction counts those quadratic over the hottest chains' reach (14 of them on this data set)
    assert 10 <= fit["quadratic_directions"] <= 17 and len(fit["correction"]) == 5
    assert d["config"]["temperature_step"] == "scaled" and d["config"]["gaussian_correction"] is True


def test_llc_cli_paper_step_diverges_at_large_n(catalogue6):
    """The paper's eps = 1e-3 is tuned for n = 1000: at n = 1e5 (n beta ~ 8700) the SGLD step is unstable
    (eps n beta h_max ~ 11 > 4). The diagnostics say so instead of returning a number."""
    code, out, _ = _run(["llc", "--point", "6", "--c", "6", "--n", "100000", "--paper", "--chains", "8", "--json"])
    assert code == 0
    d = json.loads(out)
    assert d["config"]["eps"] == 1e-3 and d["config"]["draws"] == 500 and d["config"]["refined"] is False
    bad = set(d["diagnostics"]["nan_chains"]) | set(d["diagnostics"]["diverged_chains"])
    assert bad == set(range(8))
    assert d["llc"] is None and any("no healthy chain" in w for w in d["diagnostics"]["warnings"])


def test_llc_cli_errors(catalogue6):
    code, _, err = _run(["llc", "--point", "7-gon", "--c", "6", "--n", "1000"])
    assert code == 2 and "no critical point labelled '7-gon'" in err
    code, _, err = _run(["llc", "--point", "6", "--c", "6", "--n", "1"])
    assert code == 2 and "argument --n: must be an integer >= 2; got 1." in err


def test_sgd_cli_json(catalogue6, tmp_path):
    argv = ["sgd", "--c", "6", "--runs", "2", "--epochs", "4", "--checkpoints", "30", "--llc-per-plateau", "0",
            "--out", str(tmp_path), "--json"]
    code, out, _ = _run(argv)
    assert code == 0
    d = json.loads(out)
    assert set(d) >= {"fraction_on_plateaus", "transitions", "final_phases", "antecedent", "five_to_six"}
    assert d["runs"] == 2 and sum(d["final_phases"].values()) == 2
    assert d["antecedent"]["n_transitions"] == sum(t["count"] for t in d["transitions"])
    assert any(p.endswith("sgd_runs.png") for p in d["figures"])
    # the runs' store entry (resume: tests/theory/test_resume.py)
    assert len(list(tmp_path.glob("sgd-runs/*.npz"))) == 1


def test_sgd_cli_rejects_bad_arguments():
    code, _, err = _run(["sgd", "--c", "6", "--runs", "0"])
    assert code == 2 and "argument --runs: must be an integer >= 1; got 0." in err
    code, _, err = _run(["sgd", "--c", "6", "--runs", "1", "--lr", "-1"])
    assert code == 2 and "argument --lr: must be a finite number > 0" in err
