"""Experiment files: validation messages, grid expansion, task keys and seeds (no heavy imports)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from theory import TASK_KINDS, Experiment, Task, load_experiment, parse_experiment

POSTERIOR = """
[experiment]
kind = "posterior"
c = 6
n = [200, 400, 800]
chains = 2
warmup = 150
samples = 150
seed = 3
"""


def test_issue_example_parses_and_expands_over_n():
    exp = parse_experiment(POSTERIOR)
    assert isinstance(exp, Experiment)
    assert (exp.kind, exp.seed, exp.replicates) == ("posterior", 3, 1)
    tasks = exp.tasks(prepare=False)  # prepare=True would load the catalogue into each config
    assert [t.config["n"] for t in tasks] == [200, 400, 800]
    for t in tasks:
        cfg = t.config
        assert (cfg["c"], cfg["chains"], cfg["warmup"], cfg["samples"], cfg["method"]) == (6, 2, 150, 150, "nuts")
        assert cfg["run_seed"] == 3  # replicate k runs with seed + k, as `tmsphase posterior --seed`
        assert "data_seed" not in cfg  # optional keys left out when absent
    reps = parse_experiment(POSTERIOR + "replicates = 2\n").tasks(prepare=False)
    assert [(t.config["n"], t.replicate, t.config["run_seed"]) for t in reps[:3]] == [
        (200, 0, 3), (200, 1, 4), (400, 0, 3)]
    assert [t.index for t in tasks] == [0, 1, 2]


def test_grid_is_product_of_axes_times_replicates():
    exp = parse_experiment(
        '[experiment]\nkind = "potential"\nc = [4, 5, 6]\nn = [1, 10]\nreplicates = 3\nseed = 0\n'
    )
    tasks = exp.tasks()
    assert len(tasks) == 3 * 2 * 3
    combos = {(t.config["c"], t.config["n"], t.replicate) for t in tasks}
    assert len(combos) == 18
    assert len({t.key for t in tasks}) == 18
    assert len({t.seed for t in tasks}) == 18
    assert all(0 <= t.seed < 2**31 for t in tasks)
    # schema order (c before n), replicates innermost
    assert [(t.config["c"], t.config["n"], t.replicate) for t in tasks[:4]] == [
        (4, 1, 0), (4, 1, 1), (4, 1, 2), (4, 10, 0)]


def test_task_seed_and_key_depend_only_on_the_task():
    small = parse_experiment('[experiment]\nkind = "potential"\nc = 6\nn = [10]\nseed = 5\n').tasks()
    big = parse_experiment('[experiment]\nkind = "potential"\nc = 6\nn = [1, 10, 100]\nseed = 5\n').tasks()
    same = [t for t in big if t.config["n"] == 10][0]
    # extending the grid (different index) keeps the key and seed: stored results are reused
    assert (same.key, same.seed) == (small[0].key, small[0].seed)
    assert same.index != small[0].index
    other_seed = parse_experiment('[experiment]\nkind = "potential"\nc = 6\nn = [10]\nseed = 6\n').tasks()[0]
    assert other_seed.key != small[0].key and other_seed.seed != small[0].seed
    # deterministic across processes (no use of Python's randomised hash())
    code = (
        "from theory import parse_experiment;"
        "t = parse_experiment('[experiment]\\nkind = \"potential\"\\nc = 6\\nn = [10]\\nseed = 5\\n').tasks()[0];"
        "print(t.key, t.seed)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [small[0].key, str(small[0].seed)]


def test_task_make_is_a_pure_function_of_identity():
    a = Task.make("potential", {"c": 6, "n": 3, "r": 2, "draws": 10}, experiment_seed=1, replicate=0, index=0)
    b = Task.make("potential", {"draws": 10, "r": 2, "n": 3, "c": 6}, experiment_seed=1, replicate=0, index=7)
    assert (a.key, a.seed, a.config_json) == (b.key, b.seed, b.config_json)
    c = Task.make("potential", {"c": 6, "n": 3, "r": 2, "draws": 10}, experiment_seed=1, replicate=1)
    assert c.key != a.key and c.seed != a.seed


@pytest.mark.parametrize(
    "body, message",
    [
        ('kind = "posterior"\nc = 6\nn = -3\nseed = 1',
         "`n` must be a positive integer (or a non-empty list of them); got -3."),
        ('kind = "posterior"\nc = 6\nn = [200, 0]\nseed = 1', "`n` must be a positive integer"),
        ('kind = "posterior"\nc = 6\nn = [200, 200]\nseed = 1', "`n` must not repeat values"),
        ('kind = "posterior"\nc = 6\nn = []\nseed = 1', "`n` must be a non-empty list"),
        ('kind = "posterior"\nc = 6\nn = 2.5\nseed = 1', "`n` must be a positive integer"),
        ('kind = "posterior"\nc = 6\nn = true\nseed = 1', "`n` must be a positive integer"),
        ('kind = "posterior"\nc = 6\nseed = 1', "missing required key `n`"),
        ('kind = "posterior"\nc = 6\nn = 100', "missing required key `seed`"),
        ('c = 6\nn = 100\nseed = 1', "missing required key `kind`"),
        ('kind = "mcmc"\nc = 6\nn = 100\nseed = 1', "`kind` must be one of 'potential', 'posterior'"),
        ('kind = "posterior"\nc = 6\nn = 100\nseed = 1\nchain = 2', "unknown key `chain` for kind 'posterior'"),
        ('kind = "posterior"\nc = 6\nn = 100\nseed = 1\nchains = [2, 4]', "`chains` is not a grid axis"),
        ('kind = "posterior"\nc = 6\nn = 100\nseed = 1\nmethod = "hmc"', "`method` must be one of 'nuts', 'tempered'"),
        ('kind = "posterior"\nc = 1\nn = 100\nseed = 1', "`c` must be an integer >= 2"),
        ('kind = "posterior"\nc = 6\nn = 100\nseed = -1', "`seed` must be a non-negative integer; got -1."),
        ('kind = "posterior"\nc = 6\nn = 100\nseed = 1\nreplicates = 0', "`replicates` must be a positive integer"),
        ('kind = "potential"\nc = 6\nn = 100\nseed = 1\ndraws = 1', "`draws` must be an integer >= 2; got 1."),
    ],
)
def test_validation_messages_name_key_value_and_allowed(body, message):
    with pytest.raises(ValueError) as info:
        parse_experiment("[experiment]\n" + body + "\n", source="exp.toml")
    text = str(info.value)
    assert text.startswith("exp.toml: [experiment] ")
    assert message in text


def test_file_level_errors(tmp_path):
    with pytest.raises(ValueError, match=r"invalid TOML: .*line 2"):
        parse_experiment('[experiment]\nkind = "posterior\n', source="bad.toml")
    with pytest.raises(ValueError, match=r"missing the \[experiment\] table"):
        parse_experiment("# nothing here\n")
    with pytest.raises(ValueError, match=r"unknown table or key 'other'"):
        parse_experiment("[other]\nx = 1\n")
    with pytest.raises(ValueError, match=r"unknown table or key 'sweep'"):
        parse_experiment('[experiment]\nkind = "potential"\nc = 6\nn = 1\nseed = 0\n[sweep]\nx = 1\n')
    with pytest.raises(ValueError, match=r"does not exist"):
        load_experiment(tmp_path / "missing.toml")
    path = tmp_path / "ok.toml"
    path.write_text(POSTERIOR)
    exp = load_experiment(path)
    assert exp.source == str(path)
    assert exp.to_dict()["params"]["n"] == [200, 400, 800]


def test_builtin_kinds_are_registered_lazily(tmp_path):
    assert {"potential", "posterior"} <= set(TASK_KINDS)
    code = (
        "import sys, theory; theory.parse_experiment(open(sys.argv[1]).read()).tasks(prepare=False);"
        "heavy = [m for m in ('jax', 'torch', 'numpyro', 'sympy', 'sampling', 'distributed') if m in sys.modules];"
        # kgon's facade is lazy: only its light shared modules (the lazy facade, strict JSON and atomic
        # writes) may be loaded, never the mathematics
        "heavy += sorted(m for m in sys.modules if m.startswith('kgon.') and m not in ('kgon.lazy', 'kgon.io'));"
        "print(heavy)"
    )
    path = tmp_path / "exp.toml"
    path.write_text(POSTERIOR)
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
