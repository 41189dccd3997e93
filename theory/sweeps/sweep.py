"""Run an experiment: expand it into tasks, reuse stored results, compute the rest, aggregate.

:func:`run_sweep` is the driver behind ``tmsphase run``. It

1. expands the experiment into tasks (``Experiment.tasks``; each has a key and a seed derived from
   a hash of its configuration, see :mod:`theory.sweeps.experiment`);
2. loads every finished task from the store (:class:`theory.sweeps.store.SweepStore`); corrupt records are
   reported and recomputed;
3. sends the remaining tasks to an executor (:mod:`theory.sweeps.executor`) as ``execute_task(kind,
   config, seed)`` and writes each result to the store the moment it arrives, so a killed sweep loses
   at most the tasks that were running;
4. aggregates the results, in grid order, into the output of the matching command.

The task kinds (their functions, aggregators and reports) live in :mod:`theory.sweeps.kinds`.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from kgon.io import write_json_atomic
from theory.sweeps.executor import Executor, LocalExecutor
from theory.sweeps.experiment import Experiment, Task
from theory.sweeps.registry import TASK_KINDS
from theory.sweeps.schema import canonical_json, resolve
from theory.sweeps.store import SweepStore

__all__ = ["SweepError", "SweepResult", "TaskRecord", "execute_task", "run_sweep"]


# --------------------------------------------------------------------------------------------------
# the worker entry point


def execute_task(kind: str, config: dict, seed: int, function: str | None = None) -> dict:
    """Run one task (this is what executors ship to workers).

    Parameters
    ----------
    kind : str
        The task kind; its function is looked up in :data:`theory.sweeps.registry.TASK_KINDS` unless
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


def _compute(experiment: Experiment, pending: list[Task], store: SweepStore, executor: Executor,
             records: list, corrupt: dict[int, str], *, progress: bool) -> None:
    """Run the ``pending`` tasks on ``executor``, store each result as it arrives and put its
    :class:`TaskRecord` into ``records`` (indexed by the task's grid position)."""
    bar = tqdm(
        total=len(records),
        initial=len(records) - len(pending),
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
    store = SweepStore(out)
    tasks = experiment.tasks()  # runs the kind's prepare hook (e.g. loads the catalogue)
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
    _compute(experiment, pending, store, executor, records, corrupt, progress=progress)

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
