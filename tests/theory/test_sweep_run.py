"""Sweeps end to end: identical results on every executor (incl. a real Dask LocalCluster), and a
sweep killed with SIGKILL resumes, recomputing only the unfinished tasks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from theory import DaskExecutor, LocalExecutor, SweepStore, load_experiment, run_sweep
from theory.cli import main

# 12 cheap tasks (each ~0.1-0.3 s: 30000 prior draws of the exact potential), so that a kill lands
# in the middle of the sweep.
EXPERIMENT = """
[experiment]
kind = "potential"
name = "kill-test"
c = [5, 6]
n = [1, 3, 10]
draws = 30000
replicates = 2
seed = 11
"""
N_TASKS = 12


@pytest.fixture(scope="module")
def experiment_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("exp") / "potential.toml"
    path.write_text(EXPERIMENT)
    return path


@pytest.fixture(scope="module")
def reference(experiment_file, tmp_path_factory) -> dict:
    """The uninterrupted run, in this process (executor workers=1)."""
    out = tmp_path_factory.mktemp("reference")
    res = run_sweep(load_experiment(experiment_file), out, executor=LocalExecutor(workers=1), progress=False)
    assert res.computed_tasks == N_TASKS
    return res.to_dict()


def _run_cli(capsys, *args) -> tuple[int, dict | None, str]:
    code = main(["run", *map(str, args), "--json", "--no-progress"])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip() else None), captured.err


@pytest.mark.slow  # starts a dask local cluster and a process pool (~18 s): keeps the default run under 2 minutes
def test_local_processes_and_dask_local_cluster_give_identical_results(experiment_file, reference, tmp_path, capsys):
    code, local, _ = _run_cli(capsys, experiment_file, "--out", tmp_path / "local", "--executor", "local",
                              "--workers", 2)
    assert code == 0
    code, dask, _ = _run_cli(capsys, experiment_file, "--out", tmp_path / "dask", "--executor", "dask", "--workers", 2)
    assert code == 0
    for out in (local, dask):
        assert (out["computed_tasks"], out["resumed_tasks"], out["total_tasks"]) == (N_TASKS, 0, N_TASKS)
        assert out["results"] == reference["results"]  # bit-identical floats, grid order
    # the per-task records are identical too (same keys, seeds and results)
    a, b = SweepStore(tmp_path / "local"), SweepStore(tmp_path / "dask")
    assert a.keys() == b.keys() and len(a.keys()) == N_TASKS
    for task in load_experiment(experiment_file).tasks():
        assert a.load(task).result == b.load(task).result


@pytest.fixture(scope="module")
def dask_client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def square_task(config: dict, seed: int) -> dict:
    if config["a"] == 3:
        raise ArithmeticError("three is not allowed")
    return {"a": config["a"], "square": config["a"] ** 2, "seed": seed, "pid": os.getpid()}


@pytest.fixture
def square_kind():
    from theory import TASK_KINDS, Field, TaskKind, register_task_kind

    yield register_task_kind(
        TaskKind("square", "test", (Field("a", "int", "x", grid=True),), f"{__name__}:square_task",
                 "theory.sweeps.kinds.common:aggregate_results")
    )
    TASK_KINDS.pop("square", None)


def test_dask_scheduler_address_and_failures(dask_client, square_kind, tmp_path, capsys):
    """`--scheduler ADDRESS` runs on an existing cluster (left running); a failing task is reported
    with its traceback and the others are stored; kinds registered at run time run on the workers
    (the driver ships the task function's import path). Cheap tasks: the workers import no kgon."""
    from theory import SweepError, parse_experiment

    exp = parse_experiment('[experiment]\nkind = "square"\na = [1, 2, 3, 4]\nseed = 0\n')
    with pytest.raises(SweepError, match=r"(?s)1 of 4 tasks failed.*ArithmeticError: three is not allowed"):
        run_sweep(exp, tmp_path / "a", executor=DaskExecutor(client=dask_client), progress=False)
    stored = SweepStore(tmp_path / "a")
    assert [stored.load(t).status for t in exp.tasks()] == ["ok", "ok", "missing", "ok"]
    pids = {stored.load(t).result["pid"] for t in exp.tasks() if stored.load(t).status == "ok"}
    assert os.getpid() not in pids  # ran on the workers

    path = tmp_path / "e.toml"
    path.write_text('[experiment]\nkind = "square"\na = [1, 2, 4, 5]\nseed = 1\n')
    code, via_scheduler, err = _run_cli(capsys, path, "--out", tmp_path / "s", "--scheduler",
                                        dask_client.scheduler.address)
    assert code == 0, err
    assert via_scheduler["computed_tasks"] == 4
    assert [e["square"] for e in via_scheduler["results"]] == [1, 4, 16, 25]
    assert dask_client.status == "running"  # an external cluster is not shut down
    code, in_process, _ = _run_cli(capsys, path, "--out", tmp_path / "p", "--workers", 1)
    strip = [{k: v for k, v in e.items() if k != "pid"} for e in in_process["results"]]
    assert code == 0 and strip == [{k: v for k, v in e.items() if k != "pid"} for e in via_scheduler["results"]]

    bad = tmp_path / "bad.toml"
    bad.write_text('[experiment]\nkind = "square"\na = [3]\nseed = 1\n')
    code, partial, err = _run_cli(capsys, bad, "--out", tmp_path / "b", "--scheduler", dask_client.scheduler.address)
    assert code == 1 and "three is not allowed" in err and partial["failed_tasks"] == 1


def test_cli_usage_errors(experiment_file, tmp_path, capsys):
    code = main(["run", str(experiment_file), "--out", str(tmp_path), "--executor", "local", "--scheduler", "tcp://x:1"])
    assert code == 2 and "needs `--executor dask`" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[experiment]\nkind = "posterior"\nc = 6\nn = -3\nseed = 1\n')
    code = main(["run", str(bad), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "`n` must be a positive integer" in err and "Traceback" not in err
    code = main(["run", str(bad), "--out", str(tmp_path), "--workers", "2", "--scheduler", "tcp://x:1"])
    assert code == 2 and "argument --scheduler: not allowed with argument --workers" in capsys.readouterr().err


def test_sigkill_mid_sweep_then_resume(experiment_file, reference, tmp_path, capsys):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "theory", "run", str(experiment_file), "--out", str(out), "--workers", "1",
           "--json", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    tasks_dir = out / "tasks"
    deadline = time.monotonic() + 120
    try:
        while True:
            # pathlib's "*" also matches the hidden temporaries (.tmp-*) of a write in progress
            done = [p for p in tasks_dir.glob("*.json") if not p.name.startswith(".")] if tasks_dir.exists() else []
            if len(done) >= 3 or proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert proc.poll() is None, f"sweep ended before it could be killed: {proc.stderr.read().decode()}"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    tasks = load_experiment(experiment_file).tasks()
    store = SweepStore(out)
    status = [store.load(t).status for t in tasks]
    # atomic writes: after a SIGKILL every record present is complete and valid
    finished = [t for t, s in zip(tasks, status) if s == "ok"]
    assert set(status) <= {"ok", "missing"}
    assert 3 <= len(finished) < N_TASKS
    assert len([p for p in tasks_dir.glob("*.json") if not p.name.startswith(".")]) == len(finished)

    # also damage one finished record, as a non-atomic writer or a disk error would
    victim, *kept = finished
    store.path(victim.key).write_text(store.path(victim.key).read_text()[:40])
    mtimes = {t.key: store.path(t.key).stat().st_mtime_ns for t in kept}

    code, resumed, err = _run_cli(capsys, experiment_file, "--out", out, "--workers", 1)
    assert code == 0, err
    assert resumed["resumed_tasks"] == len(kept)
    assert resumed["computed_tasks"] == N_TASKS - len(kept)
    assert resumed["corrupt_tasks"] == 1
    assert resumed["results"] == reference["results"]
    # untouched: the finished records were read, not rewritten
    assert {k: store.path(k).stat().st_mtime_ns for k in mtimes} == mtimes
    assert all(store.load(t).status == "ok" for t in tasks)
    assert not [p for p in tasks_dir.iterdir() if p.name.startswith(".")]
