"""Seed 000's study as experiments: the experiment files, the general_sgd kind, and a shortened run of each section.

The fast tests check the files against the protocol of the extension study (docs/general.md), the
plateau finder on a curve with known plateaus, the kind's checks, and a tiny sweep end to end (stored,
resumed, figure written). The slow tests run every section's own file, shortened (fewer epochs,
checkpoints and SGLD steps), through ``theory.run_sweep`` and the same task function as the full study.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from theory import parse_experiment, run_sweep

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

EXPERIMENTS = Path(__file__).resolve().parents[2] / "docs" / "experiments"
SECTIONS = ("prima", "r3", "r4", "sparsity-0.3", "sparsity-0.5", "sparsity-0.7", "importance-1", "importance-2")
IMPORTANCE_SETS = {
    "importance-1": [1.0, 0.8, 0.6, 0.4, 0.2, 0.1, 0.05, 0.01],
    "importance-2": [0.3, 0.41, 0.007, 0.44, 0.7, 0.89, 0.99, 0.23],
}


def _table(name: str) -> dict:
    return tomllib.loads((EXPERIMENTS / f"{name}.toml").read_text())


def _shortened(name: str, **overrides):
    """The section's own experiment, with some keys replaced (same kind, same code path)."""
    data = _table(name)
    data["experiment"].update(overrides)
    return parse_experiment(data, source=str(EXPERIMENTS / f"{name}.toml"))


# --------------------------------------------------------------------------------------------------
# fast


@pytest.mark.parametrize("name", SECTIONS)
def test_experiment_files_follow_the_protocol(name):
    exp = parse_experiment(_table(name), source=str(EXPERIMENTS / f"{name}.toml"))
    p = exp.params
    assert exp.kind == "general_sgd"
    assert (p["c"], p["n"], p["epochs"], p["batch_size"], p["lr"], p["init_k"], p["checkpoints"]) == \
        (8, 1000, 20000, 100, 0.01, 2, 50)
    assert p["r"] == {"r3": 3, "r4": 4}.get(name, 2)
    assert p["sparsity"] == {"sparsity-0.3": 0.3, "sparsity-0.5": 0.5, "sparsity-0.7": 0.7,
                             "importance-1": 0.5, "importance-2": 0.5}.get(name)
    # seed 000 multiplies the inputs by its importance: the input_scale option, not the output weights
    assert p["input_scale"] == IMPORTANCE_SETS.get(name)
    assert p["importance"] is None
    assert (p["catalogue"] is not None) == (name == "prima")


def test_every_section_has_a_file_and_nothing_else():
    assert sorted(f.stem for f in EXPERIMENTS.glob("*.toml")) == sorted(SECTIONS)


def test_find_plateaus_on_a_known_curve():
    from theory.sweeps.kinds.general_sgd import find_plateaus

    steps = np.concatenate([[0], np.geomspace(1, 1e5, 30).round()])
    t = np.log(steps + 1)
    # flat at 0.25 until t = 4, drop to 0.16 by t = 7, flat after: two plateaus
    loss = np.where(t < 4, 0.25, np.where(t > 7, 0.16, 0.25 * (0.16 / 0.25) ** ((t - 4) / 3)))
    found = find_plateaus(steps, loss, slope_tol=0.05, min_length=3)
    assert len(found) == 2
    (a0, a1), (b0, b1) = found
    assert a0 == 1 and t[a1] < 4.5  # the first never includes the initialisation
    assert t[b0] > 6.5 and b1 == steps.size - 1
    assert find_plateaus(steps, loss, slope_tol=0.05, min_length=25) == []


def test_catalogue_only_where_one_exists():
    data = _table("sparsity-0.5")
    data["experiment"]["catalogue"] = "catalogue-c8-r2.json"
    with pytest.raises(ValueError, match="catalogue"):
        parse_experiment(data)
    data = _table("prima")
    data["experiment"]["llc_checkpoints"] = 51
    with pytest.raises(ValueError, match="llc_checkpoints"):
        parse_experiment(data)


def test_tiny_sweep_stores_resumes_and_draws(tmp_path):
    exp = _shortened("sparsity-0.7", epochs=3, checkpoints=6, llc_checkpoints=0, runs=2)
    tasks = exp.tasks()
    assert len(tasks) == 2 and len({t.key for t in tasks}) == 2  # one task per run
    first = run_sweep(exp, tmp_path / "s", progress=False)
    assert first.computed_tasks == 2
    again = run_sweep(exp, tmp_path / "s", progress=False)
    assert again.resumed_tasks == 2 and again.computed_tasks == 0
    assert again.output == first.output
    point = first.output["results"][0]
    assert point["summary"]["seeds"] == [1, 2]
    run = point["runs"][0]
    assert len(run["steps"]) == len(run["loss"]) == np.asarray(run["W"]).shape[0]
    assert np.asarray(run["W"]).shape[1:] == (2, 8)
    from theory.sweeps.kinds.general_sgd import general_sgd_report

    paths = general_sgd_report(first.output, tmp_path / "fig", name=exp.name)
    assert sorted(Path(p).name for p in paths) == sorted(
        f"sparsity-0.7-run{s}.{e}" for s in (1, 2) for e in ("png", "pdf"))
    assert all(Path(p).stat().st_size > 1000 for p in paths)


# --------------------------------------------------------------------------------------------------
# slow: each section, shortened


def _check_llc_entries(entries):
    """Every estimate is finite with healthy chains whose values are positive, or NaN with a reason."""
    for e in entries:
        if e["llc"] is None:
            assert e["reason"], e
        else:
            healthy = [v for v, h in zip(e["chain_llc"], e["healthy"]) if h]
            assert healthy and all(v is not None and v > 0 for v in healthy), e
            assert math.isclose(e["llc"], float(np.mean(healthy)), rel_tol=1e-9)  # flagged chains never averaged in
            assert e["eps"] is not None and e["eps"] > 0


def _one_run(tmp_path, name, **overrides):
    out = run_sweep(_shortened(name, **overrides), tmp_path / name, progress=False).output
    return out["results"][0]["runs"][0]


@pytest.mark.slow
def test_prima_shortened_plateaus_matched_and_llc(tmp_path):
    """2-gon start -> the 2++++++ plateau -> 4++ (the full run's path, docs/general.md), matched to the
    shipped c = 8 catalogue; the LLC at the final plateau is estimated by calibrated SGLD."""
    import kgon

    run = _one_run(tmp_path, "prima", epochs=1500, checkpoints=30, llc_checkpoints=2, llc_burnin=300,
                   llc_draws=1200)
    loss = np.array(run["loss"])
    assert loss[-1] < loss[0] - 0.05
    labels = [p["label"] for p in run["plateaus"]]
    assert labels[0] == "2++++++" and labels[-1] == "4++"
    cat = kgon.Catalogue.from_json((EXPERIMENTS / "catalogue-c8-r2.json").read_text())
    assert abs(cat.get("4++").loss - loss[-1]) < 2e-3  # the population loss of the matched point
    _check_llc_entries(run["llc"])
    assert run["llc"][-1]["checkpoint"] == len(run["steps"]) - 1
    assert run["llc"][-1]["llc"] is not None  # a minimum of L_n: the calibration finds a step


@pytest.mark.slow
@pytest.mark.parametrize("name, final_below", [("r3", 0.15), ("r4", 0.235)])
def test_hidden_dimensions_shortened(tmp_path, name, final_below):
    run = _one_run(tmp_path, name, epochs=1000, checkpoints=20, llc_checkpoints=1, llc_burnin=200, llc_draws=800)
    W = np.asarray(run["W"])
    assert W.shape[1] == {"r3": 3, "r4": 4}[name]
    loss = np.array(run["loss"])
    assert loss[-1] < final_below < loss[0]
    assert run["plateaus"] and run["labels"] is None  # no catalogue at r = 3, 4: reported as found
    _check_llc_entries(run["llc"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sparsity-0.3", "sparsity-0.5", "sparsity-0.7", "importance-1", "importance-2"])
def test_density_and_importance_shortened(tmp_path, name):
    run = _one_run(tmp_path, name, epochs=400, checkpoints=16, llc_checkpoints=2, llc_burnin=200, llc_draws=800)
    loss = np.array(run["loss"])
    train = np.array(run["train_loss"])
    assert train[-1] < 0.9 * train[0] and loss[-1] < loss[0]
    assert run["config"]["sparsity"] is not None
    _check_llc_entries(run["llc"])
    assert any(e["llc"] is not None for e in run["llc"])  # the end of the run is at a minimum of L_n


@pytest.mark.slow
@pytest.mark.parametrize("S", [0.3, 0.5, 0.7])
def test_nuts_on_the_general_posterior(S):
    """NUTS at S = 0.3, 0.5, 0.7 with the chain diagnostics of the high-sparsity sampler (split R-hat,
    ESS, divergences) on a small model that mixes."""
    import jax

    import kgon
    from sampling.general import general_posterior, make_general_dataset

    kgon.configure_jax()
    data = make_general_dataset(jax.random.PRNGKey(7), 300, 3, sparsity=S)
    post = general_posterior(jax.random.PRNGKey(8), data, r=2, chains=4, warmup=300, samples=300)
    d = post.diagnostics
    assert d.rhat_loss < 1.1
    assert d.ess_loss > 100
    assert d.divergences <= 0.02 * 4 * 300
    # the posterior concentrates: its mean loss is far below the loss at the prior's typical draws
    prior = float(np.mean(kgon.population_loss_density(np.random.default_rng(0).standard_normal((200, 2, 3)),
                                                        np.random.default_rng(1).standard_normal((200, 3)),
                                                        sparsity=S, n_points=256, replicates=2).value))
    assert float(np.mean(post.loss)) < 0.5 * prior


# --------------------------------------------------------------------------------------------------
# the CLI flags


def test_cli_without_general_flags_is_the_high_sparsity_model():
    from theory.cli import build_parser
    from theory.cli.general_model import general_requested

    parser = build_parser()
    for argv in (["sgd", "--c", "6", "--runs", "1"], ["llc", "--point", "5", "--c", "6", "--n", "100"],
                 ["posterior", "--c", "6", "--n", "100", "--out", "x"]):
        args = parser.parse_args(argv)
        assert not general_requested(args)
        assert getattr(args, "r", 2) == 2
        args = parser.parse_args(argv + ["--sparsity", "0.5", "--importance", "1,1,1,1,1,2"])
        assert general_requested(args) and args.sparsity == 0.5 and args.importance == [1, 1, 1, 1, 1, 2.0]


@pytest.mark.slow  # ~5 s; the general SGD command's default-run checks: tests/theory/test_sgd_general_cli.py
def test_cli_sgd_with_general_flags(tmp_path, capsys):
    import json

    from theory.cli import main

    code = main(["sgd", "--c", "4", "--runs", "2", "--epochs", "20", "--checkpoints", "8", "--sparsity", "0.6",
                 "--input-scale", "1,1,0.5,0.5", "--llc-per-plateau", "0", "--out", str(tmp_path), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sparsity"] == 0.6 and out["input_scale"] == [1, 1, 0.5, 0.5]
    assert out["config"]["sparsity"] == 0.6 and out["seeds"] == [0, 1]
    assert [r["seed"] for r in out["runs"]] == [0, 1]
    for r in out["runs"]:
        assert r["llc"] == [] and r["labels"] is None
        assert r["train_loss"][-1] < r["train_loss"][0]
    assert len(out["figures"]) == 4 and all(Path(f).exists() for f in out["figures"])
    # the runs are stored and reused
    assert main(["sgd", "--c", "4", "--runs", "2", "--epochs", "20", "--checkpoints", "8", "--sparsity", "0.6",
                 "--input-scale", "1,1,0.5,0.5", "--llc-per-plateau", "0", "--out", str(tmp_path), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["runs"][0]["train_loss"] == out["runs"][0]["train_loss"]


@pytest.mark.slow
def test_cli_posterior_with_general_flags(capsys, tmp_path):
    import json

    from theory.cli import main

    code = main(["posterior", "--c", "3", "--n", "200", "--out", str(tmp_path), "--sparsity", "0.5", "--chains", "4",
                 "--warmup", "200", "--samples", "200", "--no-progress", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    (res,) = out["results"]
    assert res["n"] == 200 and res["rhat_loss"] < 1.1 and res["ess_loss"] > 50
