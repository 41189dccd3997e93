"""Run an experiment: expand it into tasks, reuse stored results, compute the rest, aggregate.

:func:`run_sweep` is the driver behind ``tmsphase run``. It

1. expands the experiment into tasks (``Experiment.tasks``; each has a key and a seed derived from
   a hash of its configuration, see :mod:`theory.experiment`);
2. loads every finished task from the store (:class:`theory.store.ResultStore`); corrupt records are
   reported and recomputed;
3. sends the remaining tasks to an executor (:mod:`theory.executor`) as ``execute_task(kind,
   config, seed)`` and writes each result to the store the moment it arrives, so a killed sweep loses
   at most the tasks that were running;
4. aggregates the results, in grid order, into the output of the matching command.

The task functions of the built-in kinds live here too. They import their heavy dependencies
(kgon, sampling: jax, torch, numpyro) inside the function body, so that this module, the store and
the executors stay light, and worker processes load only what the kinds they run need.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .executor import Executor, LocalExecutor
from .experiment import TASK_KINDS, Experiment, Task, canonical_json, resolve
from .store import ResultStore, write_json_atomic

__all__ = [
    "SweepError",
    "SweepResult",
    "TaskRecord",
    "aggregate_results",
    "execute_task",
    "posterior_task",
    "potential_task",
    "run_sweep",
]


# --------------------------------------------------------------------------------------------------
# the worker entry point


def execute_task(kind: str, config: dict, seed: int, function: str | None = None) -> dict:
    """Run one task (this is what executors ship to workers).

    Parameters
    ----------
    kind : str
        The task kind; its function is looked up in :data:`theory.experiment.TASK_KINDS` unless
        ``function`` is given.
    config : dict
        The task's parameters.
    seed : int
        The task seed.
    function : str, optional
        ``"module:attr"`` of the task function. The driver always passes it, so kinds registered at
        run time work on workers that only import the module holding the function.

    Returns
    -------
    dict
        ``{"result": result, "elapsed_s": seconds}``; ``result`` is the task function's dict after a
        JSON round trip, so fresh and stored results are the same Python objects.
    """
    if function is None:
        if kind not in TASK_KINDS:
            raise ValueError(f"`kind` must be one of {', '.join(repr(k) for k in TASK_KINDS)}; got {kind!r}.")
        function = TASK_KINDS[kind].function
    function = resolve(function)
    start = time.perf_counter()
    raw = function(dict(config), int(seed))
    elapsed = time.perf_counter() - start
    if not isinstance(raw, dict):
        raise ValueError(f"task kind {kind!r} returned {type(raw).__name__}, expected a dict.")
    try:
        result = json.loads(canonical_json(raw))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"task kind {kind!r} returned a result that is not JSON-able: {exc}") from None
    return {"result": result, "elapsed_s": elapsed}


# --------------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class TaskRecord:
    """The outcome of one task in a sweep.

    Attributes
    ----------
    task : Task
    status : str
        ``"resumed"`` (read from the store), ``"computed"`` (run now) or ``"failed"``.
    result : dict or None
        The task function's output.
    elapsed_s : float or None
        Compute time of the task (recorded when it was computed, also for resumed tasks).
    error : str or None
        Traceback text of a failed task.
    corrupt : str or None
        Why a stored record was rejected before the task was recomputed.
    """

    task: Task
    status: str
    result: dict | None = None
    elapsed_s: float | None = None
    error: str | None = None
    corrupt: str | None = None


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep.

    Attributes
    ----------
    experiment : Experiment
    out : str
        The store directory.
    executor : str
        Where the computed tasks ran.
    records : tuple of TaskRecord
        One per task, in grid order.
    output : dict or None
        The aggregated output (same structure as the matching command's ``--json``); ``None`` if a
        task failed.
    wall_s : float
        Wall time of the sweep.
    """

    experiment: Experiment
    out: str
    executor: str
    records: tuple[TaskRecord, ...]
    output: dict | None
    wall_s: float

    def _count(self, status: str) -> int:
        return sum(r.status == status for r in self.records)

    @property
    def resumed_tasks(self) -> int:
        return self._count("resumed")

    @property
    def computed_tasks(self) -> int:
        return self._count("computed")

    @property
    def failed_tasks(self) -> int:
        return self._count("failed")

    @property
    def corrupt_tasks(self) -> int:
        return sum(r.corrupt is not None for r in self.records)

    def to_dict(self) -> dict:
        """The output plus task counts (what ``tmsphase run --json`` prints)."""
        out = dict(self.output or {})
        out.update(
            total_tasks=len(self.records),
            resumed_tasks=self.resumed_tasks,
            computed_tasks=self.computed_tasks,
            corrupt_tasks=self.corrupt_tasks,
            failed_tasks=self.failed_tasks,
        )
        return out

    def summary(self) -> str:
        """A few human-readable lines: counts, executor, times."""
        task_time = sum(r.elapsed_s or 0.0 for r in self.records if r.status == "computed")
        lines = [
            f"{self.experiment.kind} sweep{' ' + repr(self.experiment.name) if self.experiment.name else ''}: "
            f"{len(self.records)} tasks -> {self.out}",
            f"  resumed {self.resumed_tasks}, computed {self.computed_tasks}, "
            f"corrupt records recomputed {self.corrupt_tasks}, failed {self.failed_tasks}",
            f"  executor: {self.executor}; wall {self.wall_s:.1f} s, compute {task_time:.1f} s",
        ]
        for r in self.records:
            if r.corrupt is not None:
                lines.append(f"  corrupt record {r.task.key}: {r.corrupt}")
        return "\n".join(lines)


class SweepError(RuntimeError):
    """Some tasks failed; the others are stored. ``.result`` is the partial :class:`SweepResult`."""

    def __init__(self, message: str, result: SweepResult):
        super().__init__(message)
        self.result = result


# --------------------------------------------------------------------------------------------------
# the driver


def run_sweep(
    experiment: Experiment,
    out: str | Path,
    *,
    executor: Executor | None = None,
    progress: bool = True,
) -> SweepResult:
    """Run (or resume) an experiment, storing each finished task under ``out``.

    Parameters
    ----------
    experiment : Experiment
        From :func:`theory.load_experiment` / :func:`theory.parse_experiment`.
    out : path
        Store directory (created if absent). Finished tasks found there are reused.
    executor : Executor, optional
        Where to compute; default ``LocalExecutor(workers=1)`` (in-process). It is not closed here.
    progress : bool
        Show a tqdm progress bar (on stderr).

    Returns
    -------
    SweepResult

    Raises
    ------
    SweepError
        If any task raised; all other tasks are computed and stored first, so a re-run computes only
        the failed ones.
    """
    if not isinstance(experiment, Experiment):
        raise ValueError(f"`experiment` must be an Experiment; got {type(experiment).__name__}.")
    start = time.perf_counter()
    store = ResultStore(out)
    tasks = experiment.tasks()
    records: list[TaskRecord | None] = [None] * len(tasks)
    corrupt: dict[int, str] = {}
    pending: list[Task] = []
    for i, task in enumerate(tasks):
        found = store.load(task)
        if found.status == "ok":
            records[i] = TaskRecord(task, "resumed", found.result, found.elapsed_s)
        else:
            if found.status == "corrupt":
                corrupt[i] = found.reason
            pending.append(task)
    write_json_atomic(store.root / "experiment.json", experiment.to_dict())

    executor = executor if executor is not None else LocalExecutor(workers=1)
    if pending and experiment.task_kind.prepare is not None:
        resolve(experiment.task_kind.prepare)(experiment)

    from tqdm.auto import tqdm

    bar = tqdm(
        total=len(tasks),
        initial=len(tasks) - len(pending),
        unit="task",
        desc=f"{experiment.kind} sweep",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    )
    function = experiment.task_kind.function
    calls = [(t.kind, t.config, t.seed, function) for t in pending]
    finished = executor.run(execute_task, calls, keys=[t.key for t in pending]) if pending else ()
    try:
        for done in finished:
            task = pending[done.index]
            if done.error is not None:
                rec = TaskRecord(task, "failed", error=done.error, corrupt=corrupt.get(task.index))
            else:
                result, elapsed = done.value["result"], done.value["elapsed_s"]
                store.save(task, result, elapsed_s=elapsed)
                rec = TaskRecord(task, "computed", result, elapsed, corrupt=corrupt.get(task.index))
            records[task.index] = rec
            bar.update(1)
    finally:
        bar.close()
        if hasattr(finished, "close"):  # cancel what has not started if we stopped early
            finished.close()

    failed = [r for r in records if r.status == "failed"]
    output = None
    if not failed:
        output = resolve(experiment.task_kind.aggregate)(list(tasks), [r.result for r in records])
    result = SweepResult(
        experiment=experiment,
        out=str(store.root),
        executor=executor.describe(),
        records=tuple(records),
        output=output,
        wall_s=time.perf_counter() - start,
    )
    if failed:
        first = failed[0]
        raise SweepError(
            f"{len(failed)} of {len(tasks)} tasks failed (the other results are stored in {store.root}; "
            f"re-running computes only the failed ones). First failure, task {first.task.key} "
            f"{first.task.config_json} replicate {first.task.replicate}:\n{first.error}",
            result,
        )
    write_json_atomic(store.root / "summary.json", result.to_dict())
    return result


# --------------------------------------------------------------------------------------------------
# aggregation


def aggregate_results(tasks: Sequence[Task], results: Sequence[dict]) -> dict:
    """``{"results": [...]}``: each task's result in grid order, with its ``replicate`` and ``seed``.

    This is the structure of ``tmsphase posterior --json`` (one entry per (n, ...) point), extended
    by the two keys that tell replicates apart.
    """
    entries = []
    for task, res in zip(tasks, results):
        entry = dict(res)
        entry["replicate"] = task.replicate
        entry["seed"] = task.seed
        entries.append(entry)
    return {"results": entries}


# --------------------------------------------------------------------------------------------------
# task functions of the built-in kinds (heavy imports inside)


def potential_task(config: dict, seed: int) -> dict:
    """Prior draws of the TMS potential: loss statistics and a Monte Carlo free energy.

    Draws w_k = (W_k, b_k) ~ phi = N(0, I), k = 1..K (``draws``), evaluates the exact population loss
    L(w_k) (``kgon.potential``, SCIENCE.md §2), and estimates the free energy of the posterior
    p(w) ~ phi(w) exp(-n L(w)) (SCIENCE.md §4) by simple Monte Carlo over the prior:

        F_n = -log int phi(w) exp(-n L(w)) dw ~= -log( (1/K) sum_k exp(-n L(w_k)) ).

    The standard error is the delta-method one, se(Z_hat)/Z_hat = std(v)/(mean(v) sqrt(K)) with
    v_k = exp(-n L(w_k)); ``ess`` = (sum v)^2 / sum v^2 is the effective number of draws. The estimate
    is reliable only while ``ess`` is large, i.e. for small n (prior and posterior overlap); at large n
    use the posterior sampler instead.

    Parameters
    ----------
    config : dict
        ``c`` (features), ``r`` (hidden dimensions), ``n`` (sample size), ``draws`` (K).
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    dict
        ``c, r, n, draws, loss_mean, loss_std, loss_min, loss_median, free_energy, free_energy_err,
        ess``.
    """
    import numpy as np

    import kgon

    c, r, n, draws = (int(config[k]) for k in ("c", "r", "n", "draws"))
    rng = np.random.default_rng(seed)
    losses = np.empty(draws)
    chunk = 20000
    for lo in range(0, draws, chunk):
        m = min(chunk, draws - lo)
        W = rng.standard_normal((m, r, c))
        b = rng.standard_normal((m, c))
        losses[lo : lo + m] = kgon.potential(W, b)
    logv = -n * losses
    shift = logv.max()
    v = np.exp(logv - shift)
    mean_v = v.mean()
    return {
        "c": c,
        "r": r,
        "n": n,
        "draws": draws,
        "loss_mean": float(losses.mean()),
        "loss_std": float(losses.std(ddof=1)),
        "loss_min": float(losses.min()),
        "loss_median": float(np.median(losses)),
        "free_energy": float(-(shift + np.log(mean_v))),
        "free_energy_err": float(v.std(ddof=1) / (mean_v * np.sqrt(draws))),
        "ess": float(v.sum() ** 2 / (v**2).sum()),
    }


@functools.lru_cache(maxsize=8)
def _catalogue(c: int, max_loss: float | None):
    """The critical-point catalogue for c features (cached on disk by kgon, and per process here)."""
    import kgon

    return kgon.default_catalogue(c, max_loss=max_loss)


def prepare_catalogue(experiment: Experiment) -> None:
    """Driver-side hook: build (and cache on disk) every catalogue the tasks need, once."""
    params = experiment.params
    cs = params["c"] if isinstance(params["c"], list) else [params["c"]]
    for c in cs:
        _catalogue(int(c), params.get("max_loss"))


def posterior_task(config: dict, seed: int) -> dict:
    """Posterior phase occupancy at one sample size: ``sampling.run_occupancy`` with the task seed.

    The JAX key is ``jax.random.PRNGKey(seed)``; the catalogue is ``kgon.default_catalogue(c,
    max_loss=max_loss)``. Returns ``OccupancyResult.to_dict()`` (n, method, occupancy,
    occupancy_err, rhat_loss, ess_loss, divergences) plus ``c``.
    """
    import sampling
    from kgon._jaxsetup import jax

    c = int(config["c"])
    catalogue = _catalogue(c, config.get("max_loss"))
    res = sampling.run_occupancy(
        jax.random.PRNGKey(seed),
        c=c,
        n=int(config["n"]),
        method=config["method"],
        chains=int(config["chains"]),
        warmup=int(config["warmup"]),
        samples=int(config["samples"]),
        catalogue=catalogue,
        data_seed=config.get("data_seed"),
        init=config["init"],
    )
    out = res.to_dict()
    out["c"] = c
    return out
