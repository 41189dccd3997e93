"""The result store (atomic records, corruption detection) and resuming sweeps in-process."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

import kgon
from kgon.io import config_key
from theory import (
    TASK_KINDS,
    Field,
    LocalExecutor,
    SweepError,
    SweepStore,
    Task,
    TaskKind,
    parse_experiment,
    register_task_kind,
    run_sweep,
)
from theory.sweeps.kinds.potential import potential_task
from theory.sweeps.store import write_json_atomic
from theory.sweeps.sweep import execute_task

FAIL_FOR: set[int] = set()  # toy task values of `a` that raise (in-process executor only)
CALLS: list[tuple] = []


def toy_task(config: dict, seed: int) -> dict:
    """A cheap deterministic task: a few integer/float functions of (a, seed)."""
    CALLS.append((config["a"], seed))
    if config["a"] in FAIL_FOR:
        raise ValueError(f"toy failure for a={config['a']}")
    return {"a": config["a"], "value": (config["a"] * 1_000_003 + seed) % 9973, "half": seed / 2.0}


def sleep_task(config: dict, seed: int) -> dict:
    """A task that takes a known time (``execute_task`` reports it)."""
    time.sleep(config["seconds"])
    return {}


def list_task(config: dict, seed: int):
    return [seed]


def object_task(config: dict, seed: int):
    return {"x": object()}


@pytest.fixture
def toy_kind():
    kind = register_task_kind(
        TaskKind(
            name="toy",
            doc="test kind",
            fields=(Field("a", "int", "a number", grid=True, minimum=0),),
            function=f"{__name__}:toy_task",
            aggregate="theory.sweeps.kinds.common:aggregate_results",
        )
    )
    FAIL_FOR.clear()
    CALLS.clear()
    yield kind
    TASK_KINDS.pop("toy", None)
    FAIL_FOR.clear()


def _toy(a, seed=0, replicates=1):
    return parse_experiment(
        f'[experiment]\nkind = "toy"\na = {json.dumps(list(a))}\nseed = {seed}\nreplicates = {replicates}\n'
    )


def _task():
    return Task.make("potential", {"c": 6, "r": 2, "n": 3, "draws": 10}, experiment_seed=0, replicate=0)


def test_record_round_trip_and_format(tmp_path):
    store = SweepStore(tmp_path / "s")
    task = _task()
    assert store.load(task).status == "missing"
    path = store.save(task, {"x": 1.5, "nan": float("nan")}, elapsed_s=0.25)
    assert path == tmp_path / "s" / "tasks" / f"{task.key}.json"
    got = store.load(task)
    # strict JSON (kgon.io): NaN is stored as null
    assert got.status == "ok" and got.result["x"] == 1.5 and got.result["nan"] is None
    assert "NaN" not in path.read_text()
    assert got.elapsed_s == 0.25
    record = json.loads(path.read_text())
    # a kgon.io.ResultStore entry whose config is the task identity: its config_key is the task key
    assert record["key"] == task.key and record["meta"]["seed"] == task.seed
    assert record["config"]["config"] == task.config and config_key(record["config"]) == task.key
    assert len(record["checksum"]) == 64
    assert store.keys() == [task.key]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporaries left


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda text: text[: len(text) // 2], "not valid JSON"),  # a partial write
        (lambda text: "", "not valid JSON"),
        (lambda text: text.replace('"x": 1.5', '"x": 2.5'), "checksum mismatch"),  # bit rot / edits
        (lambda text: text.replace('"replicate": 0', '"replicate": 1'), "config does not match its key"),
        (lambda text: "[1, 2]", "not a JSON object"),
    ],
)
def test_corrupt_records_are_detected(tmp_path, damage, reason):
    store = SweepStore(tmp_path)
    task = _task()
    path = store.save(task, {"x": 1.5})
    path.write_text(damage(path.read_text()))
    got = store.load(task)
    assert got.status == "corrupt" and reason in got.reason and got.result is None


def test_record_of_another_task_is_rejected(tmp_path):
    store = SweepStore(tmp_path)
    a, b = _task(), Task.make("potential", {"c": 5, "r": 2, "n": 3, "draws": 10}, experiment_seed=0, replicate=0)
    store.save(a, {"x": 1.0})
    os.replace(store.path(a.key), store.path(b.key))
    got = store.load(b)
    assert got.status == "corrupt" and "key does not match" in got.reason


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / "f.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    dead = tasks / ".tmp-999999999-abc.json"  # no such pid
    mine = tasks / f".tmp-{os.getpid()}-abc.json"
    dead.write_text("{")
    mine.write_text("{")
    SweepStore(tmp_path)
    assert not dead.exists() and mine.exists()


def test_out_must_be_a_directory(tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(ValueError, match="must be a directory"):
        SweepStore(f)


def test_resume_reuses_finished_tasks_and_recomputes_corrupt_ones(tmp_path, toy_kind):
    exp = _toy([1, 2, 3], replicates=2)
    first = run_sweep(exp, tmp_path, progress=False)
    assert (first.computed_tasks, first.resumed_tasks, len(CALLS)) == (6, 0, 6)
    assert [e["a"] for e in first.output["results"]] == [1, 1, 2, 2, 3, 3]
    assert json.loads((tmp_path / "summary.json").read_text()) == first.to_dict()
    assert json.loads((tmp_path / "experiment.json").read_text())["kind"] == "toy"

    CALLS.clear()
    second = run_sweep(exp, tmp_path, progress=False)
    assert (second.computed_tasks, second.resumed_tasks, CALLS) == (0, 6, [])
    assert second.output == first.output

    victim = exp.tasks()[3]
    SweepStore(tmp_path).path(victim.key).write_text('{"format": 1, "key": "trunc')
    third = run_sweep(exp, tmp_path, progress=False)
    assert (third.computed_tasks, third.resumed_tasks, third.corrupt_tasks) == (1, 5, 1)
    assert CALLS == [(2, victim.seed)]
    assert third.output == first.output
    assert "corrupt record" in third.summary()

    CALLS.clear()
    bigger = run_sweep(_toy([1, 2, 3, 4], replicates=2), tmp_path, progress=False)  # extend the grid
    assert (bigger.computed_tasks, bigger.resumed_tasks) == (2, 6)
    assert [a for a, _ in CALLS] == [4, 4]
    assert bigger.output["results"][:6] == first.output["results"]


def test_failed_tasks_are_reported_and_only_they_rerun(tmp_path, toy_kind):
    exp = _toy([1, 2, 3])
    FAIL_FOR.add(2)
    with pytest.raises(SweepError, match=r"(?s)1 of 3 tasks failed.*toy failure for a=2") as info:
        run_sweep(exp, tmp_path, executor=LocalExecutor(workers=1), progress=False)
    partial = info.value.result
    assert (partial.computed_tasks, partial.failed_tasks, partial.output) == (2, 1, None)
    assert not (tmp_path / "summary.json").exists()
    FAIL_FOR.clear()
    CALLS.clear()
    fixed = run_sweep(exp, tmp_path, progress=False)
    assert (fixed.computed_tasks, fixed.resumed_tasks) == (1, 2)
    assert [a for a, _ in CALLS] == [2]


def test_execute_task_checks_results():
    with pytest.raises(ValueError, match="`kind` must be one of"):
        execute_task("nope", {}, 0)
    with pytest.raises(ValueError, match="returned list, expected a dict"):
        execute_task("x", {}, 0, function=f"{__name__}:list_task")
    with pytest.raises(ValueError, match="not JSON-able"):
        execute_task("x", {}, 0, function=f"{__name__}:object_task")
    out = execute_task("toy", {"a": 5}, 7, function=f"{__name__}:toy_task")
    assert out["result"] == toy_task({"a": 5}, 7)
    timed = execute_task("sleep", {"seconds": 0.2}, 0, function=f"{__name__}:sleep_task")
    assert 0.2 <= timed["elapsed_s"] < 10.0


def test_potential_task_free_energy_bounds():
    """Exact properties of the Monte Carlo estimate on its own draws (Jensen: n*min L <= F_n <= n*mean L)."""
    cfg = {"c": 6, "r": 2, "n": 5, "draws": 4000}
    res = potential_task(cfg, 123)
    assert res == potential_task(cfg, 123)  # seeded, deterministic
    assert res != potential_task(cfg, 124)
    n = cfg["n"]
    assert n * res["loss_min"] <= res["free_energy"] <= n * res["loss_mean"]
    # the same draws recomputed: ess = (sum v)^2 / sum v^2 with v = exp(-n L(w_k))
    rng = np.random.default_rng(123)
    W, b = rng.standard_normal((cfg["draws"], 2, 6)), rng.standard_normal((cfg["draws"], 6))
    losses = kgon.potential(W, b)
    v = np.exp(-n * (losses - losses.min()))
    assert res["loss_min"] == pytest.approx(losses.min(), rel=1e-12)
    assert res["ess"] == pytest.approx(v.sum() ** 2 / (v**2).sum(), rel=1e-9)
    assert res["ess"] < 0.9 * cfg["draws"]  # the weights at n = 5 are not uniform
    # n only enters the weights: the loss statistics come from the same seeded draws
    other_n = potential_task({**cfg, "n": 1}, 123)
    assert other_n["loss_mean"] == res["loss_mean"] and other_n["free_energy"] < res["free_energy"]
    # two independent seeds agree within their reported Monte Carlo errors (5 sigma of the difference)
    a, b = potential_task({**cfg, "n": 1}, 1), potential_task({**cfg, "n": 1}, 2)
    assert abs(a["free_energy"] - b["free_energy"]) < 5 * (a["free_energy_err"] ** 2 + b["free_energy_err"] ** 2) ** 0.5
