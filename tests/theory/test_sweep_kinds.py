"""The posterior and SGD task kinds wired to sampling.run_occupancy / train_sgd + analyze_sgd.

A sweep must give exactly what calling the sampling functions directly gives (same seeds, same
catalogue), split into tasks however the sweep likes. The catalogue here is a small hand-built one
at c = 4 (the exact 4-gon and the all-dead point) so that the test does not spend a minute on the
critical-point search; the kinds accept any catalogue file.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from theory import TASK_KINDS, LocalExecutor, parse_experiment, run_sweep
from theory.cli import main
from theory.sweeps.kinds.sgd import merge_sgd

C = 4


def _point(name, k, sigma_plus, W, b):
    import jax.numpy as jnp

    import kgon

    loss, (gW, gb) = kgon.potential_and_grad_jax(jnp.asarray(W), jnp.asarray(b))
    grad = float(np.sqrt(np.sum(np.asarray(gW) ** 2) + np.sum(np.asarray(gb) ** 2)))
    return kgon.CriticalPoint(
        name=name, label=name, k=k, sigma_plus=sigma_plus, sigma_minus=0, c=C, r=2,
        W=np.asarray(W, dtype=float), b=np.asarray(b, dtype=float), loss=float(loss), grad_norm=grad,
        llc=math.nan, llc_err=math.nan, llc_method="none", llc_hessian=None, llc_numerical=None,
        constant=0.5 * float(np.sum(np.asarray(W) ** 2)), multiplicity=1, hessian_signature=(0, 0, 0),
        smooth=True,
    )


@pytest.fixture(scope="module")
def catalogue_file(tmp_path_factory):
    """c = 4: the regular 4-gon (l = 1, b = 0, loss 0; docs/index.md) and W = 0, b = 1/(2c) (all features
    dead with the positive bias, loss 1/3 - 1/(4c)); both exact critical points."""
    import kgon

    square = [[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, -1.0]]
    points = (
        _point("4", 4, 0, square, [0.0] * C),
        _point("0++++", 0, 4, np.zeros((2, C)), [1 / (2 * C)] * C),
    )
    for p in points:
        assert p.grad_norm < 1e-12
    assert points[0].loss == pytest.approx(0.0, abs=1e-14)
    assert points[1].loss == pytest.approx(1 / 3 - 1 / (4 * C), abs=1e-14)
    cat = kgon.Catalogue(c=C, r=2, points=points, seed=0, n_starts=0, n_converged=0)
    path = tmp_path_factory.mktemp("cat") / "catalogue.json"
    path.write_text(cat.to_json())
    return path


# --------------------------------------------------------------------------------------------------
# SGD


def test_sgd_kind_defaults_are_sgdconfig_defaults():
    import inspect

    import theory
    from sampling.dynamics.sgd import SGDConfig

    kind = TASK_KINDS["sgd"]
    for f in dataclasses.fields(SGDConfig):
        assert kind.field(f.name).default == f.default, f.name
    params = inspect.signature(theory.analyze_sgd).parameters
    for name in ("threshold", "slope_tol", "min_length"):
        assert kind.field(name).default == params[name].default, name


def test_sgd_expansion_chunks_runs_with_consecutive_seeds():
    exp = parse_experiment(
        '[experiment]\nkind = "sgd"\nc = 6\nlr = [0.005, 0.01]\nruns = 5\nruns_per_task = 2\nseed = 10\n')
    tasks = exp.tasks(prepare=False)
    assert [(t.config["lr"], t.config["seeds"]) for t in tasks] == [
        (0.005, [10, 11]), (0.005, [12, 13]), (0.005, [14]), (0.01, [10, 11]), (0.01, [12, 13]), (0.01, [14])
    ]
    with pytest.raises(ValueError, match="`replicates` is not used by kind 'sgd'"):
        parse_experiment('[experiment]\nkind = "sgd"\nruns = 2\nreplicates = 2\nseed = 0\n')
    with pytest.raises(ValueError, match="`batch_size` must be an integer in 1..40; got 50"):  # SGDConfig's check
        parse_experiment('[experiment]\nkind = "sgd"\nruns = 2\nn = [40, 100]\nbatch_size = 50\nseed = 0\n')
    with pytest.raises(ValueError, match="missing required key `runs`"):
        parse_experiment('[experiment]\nkind = "sgd"\nseed = 0\n')


def test_merge_sgd_adds_counts_and_weights_fractions():
    def part(offset, runs, diverged, frac, transitions, final, theory):
        return {
            "fraction_on_plateaus": frac, "fraction_matched": frac, "transitions": transitions,
            "final_phases": final, "runs": runs, "diverged_runs": diverged, "run_offset": offset,
            "antecedent": {"n_transitions": sum(t["count"] for t in transitions), "theory": theory,
                           "estimated": None, "loss_decreasing": 1},
            "phase_sequences": [["4"]] * runs,
            "plateaus": [{"run": i, "label": "4"} for i in range(runs)],
            "config": {"seeds": list(range(offset, offset + runs)), "min_length": 3},
        }

    signs = {"loss_down_llc_up": 1, "loss_down_llc_down": 0, "loss_up_llc_up": 0, "loss_up_llc_down": 0,
             "undetermined": 1, "consistent_fraction": 1.0}
    a = part(0, 2, 0, 0.5, [{"from": "4+", "to": "5", "count": 2}], {"5": 2}, signs)
    b = part(2, 3, 1, 0.8, [{"from": "4+", "to": "5", "count": 1}, {"from": "4", "to": "4+", "count": 3}],
             {"5": 1, "6": 2}, dict(signs, loss_down_llc_down=1, consistent_fraction=0.5))
    m = merge_sgd([b, a])  # order of arrival does not matter
    assert m["fraction_on_plateaus"] == pytest.approx((0.5 * 2 + 0.8 * 2) / 4)
    assert m["transitions"] == [{"from": "4", "to": "4+", "count": 3}, {"from": "4+", "to": "5", "count": 3}]
    assert m["final_phases"] == {"5": 3, "6": 2}
    assert (m["runs"], m["diverged_runs"]) == (5, 1)
    assert m["antecedent"]["theory"]["loss_down_llc_up"] == 2
    assert m["antecedent"]["theory"]["consistent_fraction"] == pytest.approx(2 / 3)
    assert m["antecedent"]["estimated"] is None and m["antecedent"]["n_transitions"] == 6
    assert [p["run"] for p in m["plateaus"]] == [0, 1, 2, 3, 4]
    assert m["config"]["seeds"] == [0, 1, 2, 3, 4]


def test_sgd_sweep_equals_direct_train_and_analyze(catalogue_file, tmp_path, capsys):
    import kgon
    import sampling
    import theory

    exp_path = tmp_path / "sgd.toml"
    exp_path.write_text(
        f'[experiment]\nkind = "sgd"\nc = {C}\nn = 40\nbatch_size = 10\nepochs = 3\ncheckpoints = 6\n'
        f'runs = 5\nruns_per_task = 2\nllc_per_plateau = 0\nseed = 7\ncatalogue = "{catalogue_file}"\n'
    )
    code = main(["run", str(exp_path), "--out", str(tmp_path / "out"), "--workers", "1", "--json", "--no-progress"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and (out["computed_tasks"], out["total_tasks"]) == (3, 3)

    config = sampling.SGDConfig(c=C, n=40, batch_size=10, epochs=3, checkpoints=6)
    catalogue = kgon.Catalogue.from_json(catalogue_file.read_text())
    direct = theory.analyze_sgd(sampling.train_sgd(config, [7, 8, 9, 10, 11]), catalogue).to_dict()
    for key in ("fraction_on_plateaus", "fraction_matched"):
        assert out[key] == pytest.approx(direct[key], rel=1e-12, abs=1e-15)
    for key in ("transitions", "final_phases", "antecedent", "phase_sequences", "runs", "plateaus", "config"):
        assert out[key] == direct[key], key
    assert (out["diverged_runs"], out["resumed_tasks"], out["llc_excluded_chains"]) == (0, 0, None)
    assert out["seeds"] == [7, 8, 9, 10, 11] and out["five_to_six"] == 0
    assert out["sgd"]["c"] == C and out["sgd"]["epochs"] == 3

    code = main(["run", str(exp_path), "--out", str(tmp_path / "out"), "--json", "--no-progress"])
    again = json.loads(capsys.readouterr().out)
    assert code == 0 and again["resumed_tasks"] == 3
    assert {k: v for k, v in again.items() if not k.endswith("_tasks")} == {
        k: v for k, v in out.items() if not k.endswith("_tasks")
    }


@pytest.mark.slow  # ~10-20 s: compiling the SGLD trajectory program
def test_sgd_task_with_plateau_llc_equals_direct_pipeline(catalogue_file, tmp_path):
    """One chunk, SGLD at one checkpoint per plateau: the task is exactly `tmsphase sgd`'s pipeline."""
    import jax

    import kgon
    import sampling
    import theory

    exp = parse_experiment(
        f'[experiment]\nkind = "sgd"\nc = {C}\nn = 40\nbatch_size = 10\nepochs = 3\ncheckpoints = 6\n'
        f'runs = 2\nllc_per_plateau = 1\nseed = 3\ncatalogue = "{catalogue_file}"\n'
    )
    res = run_sweep(exp, tmp_path, progress=False)
    (task,) = exp.tasks()
    out = res.output

    config = sampling.SGDConfig(c=C, n=40, batch_size=10, epochs=3, checkpoints=6)
    catalogue = kgon.Catalogue.from_json(catalogue_file.read_text())
    result = sampling.train_sgd(config, [3, 4])
    analysis = theory.analyze_sgd(result, catalogue)
    assert analysis.plateaus  # the runs sit at the 4-gon: there is something to estimate
    llc = sampling.llc_trajectory(jax.random.key(task.seed), result,
                                  centers=theory.plateau_centers(analysis, per_plateau=1))
    direct = json.loads(json.dumps(analysis.with_llc(result, catalogue, llc).to_dict()))
    for key in ("antecedent", "plateaus", "transitions", "phase_sequences"):
        assert out[key] == direct[key], key
    assert any(p["llc"] is not None for p in out["plateaus"])
    assert out["llc_excluded_chains"] == dict(llc.reasons)


def test_catalogue_is_part_of_the_task_identity(catalogue_file, tmp_path):
    import kgon

    text = f'[experiment]\nkind = "sgd"\nc = {C}\nruns = 2\nseed = 0\ncatalogue = "{catalogue_file}"\n'
    exp = parse_experiment(text)
    t1 = exp.tasks()[0]
    assert t1.config["catalogue"]["critical_points"][0]["name"] == "4"
    cat = kgon.Catalogue.from_json(catalogue_file.read_text())
    smaller = tmp_path / "one.json"
    smaller.write_text(dataclasses.replace(cat, points=cat.points[:1]).to_json())
    t2 = parse_experiment(text.replace(str(catalogue_file), str(smaller))).tasks()[0]
    assert t2.key != t1.key  # another catalogue, another result
    with pytest.raises(ValueError, match="cannot read the catalogue file"):
        parse_experiment(text.replace(str(catalogue_file), str(tmp_path / "nope.json"))).tasks()
    wrong_c = text.replace(f"c = {C}", "c = 5")
    with pytest.raises(ValueError, match=r"is for \(c, r\) = \(4, 2\); the tasks need \(5, 2\)"):
        parse_experiment(wrong_c).tasks()


# --------------------------------------------------------------------------------------------------
# posterior


def test_posterior_kind_matches_occupancy_config():
    """The posterior kind's parameters are the fields of sampling.OccupancyConfig (run_occupancy's settings):
    same names, types and defaults as the schema generated from the dataclass (the kind keeps its own copy
    because parsing an experiment must not import sampling; see test_builtin_kinds_are_registered_lazily)."""
    from sampling.mcmc.occupancy import OccupancyConfig
    from theory.sweeps.schema import config_fields

    kind = {f.name: f for f in TASK_KINDS["posterior"].fields}
    for g in config_fields(OccupancyConfig):
        f = kind[g.name]
        assert f.type == g.type, g.name
        # beta: absent (None) takes OccupancyConfig's 1.0, so the keys of existing tasks stay unchanged
        assert f.default == g.default or (g.name == "beta" and f.default is None), g.name
    assert set(kind) - {g.name for g in config_fields(OccupancyConfig)} == {"max_loss", "catalogue"}


def test_posterior_sweep_one_task(catalogue_file, tmp_path, capsys):
    """`tmsphase run` on a posterior experiment: the `tmsphase posterior --json` structure, resumable.
    (One run_occupancy call, ~10-30 s on 2 busy cores, mostly compilation, which the next test reuses.)"""
    exp_path = tmp_path / "post.toml"
    exp_path.write_text(
        f'[experiment]\nkind = "posterior"\nc = {C}\nn = 50\nchains = 2\nwarmup = 30\nsamples = 30\n'
        f'seed = 3\ncatalogue = "{catalogue_file.name}"\n'
    )
    # a relative catalogue path is relative to the experiment file
    (tmp_path / catalogue_file.name).write_text(catalogue_file.read_text())
    code = main(["run", str(exp_path), "--out", str(tmp_path / "out"), "--json", "--no-progress", "--workers", "1"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and (out["computed_tasks"], out["resumed_tasks"]) == (1, 0)
    (entry,) = out["results"]
    assert set(entry) >= {"n", "method", "occupancy", "occupancy_err", "rhat_loss", "ess_loss", "divergences"}
    assert (entry["n"], entry["method"], entry["c"], entry["r"], entry["replicate"]) == (50, "nuts", C, 2, 0)
    assert (entry["seed"], entry["data_seed"]) == (3, 3)  # the `tmsphase posterior --seed 3` convention
    assert set(entry["occupancy"]) <= {"4", "0++++", "other"}
    assert sum(entry["occupancy"].values()) == pytest.approx(1.0, abs=1e-12)
    assert set(entry["occupancy_err"]) == set(entry["occupancy"])
    assert len(entry["phase_switches"]) == 2 and isinstance(entry["divergences"], int)
    code = main(["run", str(exp_path), "--out", str(tmp_path / "out"), "--json", "--no-progress"])
    again = json.loads(capsys.readouterr().out)
    assert code == 0 and again["resumed_tasks"] == 1 and again["results"] == out["results"]


def test_posterior_sweep_equals_direct_run_occupancy(catalogue_file, tmp_path):
    import jax

    import kgon
    import sampling

    exp = parse_experiment(
        f'[experiment]\nkind = "posterior"\nc = {C}\nn = [50, 200]\nchains = 2\nwarmup = 30\nsamples = 30\n'
        f'seed = 3\ncatalogue = "{catalogue_file}"\n'
    )
    res = run_sweep(exp, tmp_path / "out", executor=LocalExecutor(workers=1), progress=False)
    assert res.computed_tasks == 2
    catalogue = kgon.Catalogue.from_json(catalogue_file.read_text())
    for n, entry in zip([50, 200], res.output["results"]):
        # exactly what `tmsphase posterior --seed 3` computes (its key and nested data convention)
        direct = sampling.run_occupancy(
            jax.random.fold_in(jax.random.PRNGKey(3), n), c=C, n=n, method="nuts", chains=2, warmup=30,
            samples=30, catalogue=catalogue, data_seed=3, keep_idata=False,
        ).to_dict()
        direct = json.loads(json.dumps(direct))
        assert {k: entry[k] for k in direct} == direct
        assert (entry["seed"], entry["data_seed"]) == (3, 3)
