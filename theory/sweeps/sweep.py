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

The task functions of the built-in kinds live here too. They import their heavy dependencies
(kgon, sampling: jax, torch, numpyro) inside the function body, so that this module, the store and
the executors stay light, and worker processes load only what the kinds they run need.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from kgon.io import write_json_atomic
from theory.sweeps.executor import Executor, LocalExecutor
from theory.sweeps.experiment import TASK_KINDS, Experiment, Task, canonical_json, resolve
from theory.sweeps.store import SweepStore

__all__ = [
    "SweepError",
    "SweepResult",
    "TaskRecord",
    "aggregate_results",
    "execute_task",
    "aggregate_sgd",
    "merge_sgd",
    "posterior_task",
    "potential_task",
    "expand_posterior",
    "expand_sgd",
    "prepare_catalogue",
    "sgd_task",
    "run_sweep",
]


# --------------------------------------------------------------------------------------------------
# the worker entry point


def execute_task(kind: str, config: dict, seed: int, function: str | None = None) -> dict:
    """Run one task (this is what executors ship to workers).

    Parameters
    ----------
    kind : str
        The task kind; its function is looked up in :data:`theory.sweeps.experiment.TASK_KINDS` unless
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
    """``{"results": [...]}``: each task's result in grid order, with its ``replicate`` and ``seed``
    (the task seed, unless the result carries its own ``seed``).

    This is the structure of ``tmsphase posterior --json`` (one entry per (n, ...) point), extended
    by the two keys that tell replicates apart.
    """
    entries = []
    for task, res in zip(tasks, results):
        entry = dict(res)
        entry["replicate"] = task.replicate
        entry.setdefault("seed", task.seed)  # kinds with their own seed convention report it themselves
        entries.append(entry)
    return {"results": entries}


# --------------------------------------------------------------------------------------------------
# task functions of the built-in kinds (heavy imports inside)


def potential_task(config: dict, seed: int) -> dict:
    """Prior draws of the TMS potential: loss statistics and a Monte Carlo free energy.

    Draws w_k = (W_k, b_k) ~ phi = N(0, I), k = 1..K (``draws``), evaluates the exact population loss
    L(w_k) (``kgon.potential``, docs/index.md, Conventions), and estimates the free energy of the posterior
    p(w) ~ phi(w) exp(-n L(w)) (docs/index.md, Conventions) by simple Monte Carlo over the prior:

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


@functools.lru_cache(maxsize=16)
def _catalogue_dict(c: int, r: int, max_loss: float | None, path: str | None) -> str:
    """The catalogue as canonical JSON: from a file (Catalogue.to_json), or kgon.default_catalogue."""
    import dataclasses as _dc

    import kgon

    if path is None:
        cat = kgon.default_catalogue(c, r=r, max_loss=max_loss)
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read the catalogue file {path!r} (`catalogue`): {exc.strerror or exc}.") from None
        try:
            cat = kgon.Catalogue.from_json(text)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path!r} (`catalogue`) is not a catalogue written by Catalogue.to_json: {exc!r}.") from None
        if (cat.c, cat.r) != (c, r):
            raise ValueError(f"the catalogue {path!r} is for (c, r) = ({cat.c}, {cat.r}); the tasks need ({c}, {r}).")
        if max_loss is not None:
            cat = _dc.replace(cat, points=tuple(p for p in cat.points if p.loss <= max_loss), max_loss=max_loss)
    if not cat.points:
        raise ValueError(f"the catalogue for c = {c}, r = {r} has no points (max_loss = {max_loss}).")
    return canonical_json(cat.to_dict())


def prepare_catalogue(config: dict, base_dir: str | None) -> dict:
    """Prepare hook of the posterior and SGD kinds: put the critical-point catalogue into the config.

    ``catalogue`` (a path, relative to the experiment file) and ``max_loss`` are replaced by
    ``catalogue`` = ``Catalogue.to_dict()`` of the catalogue they select (default
    ``kgon.default_catalogue(c, r=r, max_loss=max_loss)``). The task key thus depends on the catalogue
    actually used, and workers need neither the file nor kgon's catalogue cache.
    """
    path = config.pop("catalogue", None)
    max_loss = config.pop("max_loss", None)
    if path is not None and base_dir is not None and not Path(path).is_absolute():
        path = str(Path(base_dir) / path)
    config["catalogue"] = json.loads(
        _catalogue_dict(int(config["c"]), int(config.get("r", 2)), max_loss, path)
    )
    return config


def _load_catalogue(config: dict):
    """The kgon.Catalogue that prepare_catalogue put into a task config."""
    import kgon

    return kgon.Catalogue.from_dict(config["catalogue"])


def expand_posterior(experiment: Experiment) -> list[tuple[dict, int]]:
    """Posterior tasks: the grid points times the replicates; replicate k runs with the seed
    ``seed + k`` (``run_seed`` in the config), the convention of ``tmsphase posterior --seed``."""
    return [
        (dict(cfg, run_seed=experiment.seed + rep), rep) for cfg in experiment.grid() for rep in range(experiment.replicates)
    ]


def posterior_task(config: dict, seed: int) -> dict:
    """Posterior phase occupancy at one sample size: ``sampling.run_occupancy``.

    Seeds follow ``tmsphase posterior --seed S`` with S = ``run_seed`` (= experiment seed + replicate):
    the key is ``jax.random.fold_in(jax.random.PRNGKey(S), n)`` and the data stream is ``data_seed``
    (default S, so the data sets of one replicate are nested over n). A sweep entry is thus the
    same as the one ``tmsphase posterior`` computes with that seed and catalogue. The catalogue is the
    one in the config (:func:`prepare_catalogue`); optional settings left out take run_occupancy's
    defaults. The draws are not kept (``keep_idata=False``): a sweep stores summaries. The task seed
    is not used.

    Returns ``OccupancyResult.to_dict()`` (n, method, occupancy, occupancy_err, rhat_loss, ess_loss,
    divergences) plus ``c``, ``r``, ``seed`` (S), ``data_seed``, ``phase_switches`` (per chain)
    and ``threshold``.
    """
    import jax

    import kgon
    import sampling

    kgon.configure_jax()  # a worker process starts without JAX settings (no-op where already set)
    c, n, r = int(config["c"]), int(config["n"]), int(config.get("r", 2))
    run_seed = int(config["run_seed"])
    data_seed = int(config["data_seed"]) if config.get("data_seed") is not None else run_seed
    names = [f.name for f in dataclasses.fields(sampling.OccupancyConfig)]
    settings = {k: config[k] for k in names if config.get(k) is not None}
    occ = sampling.OccupancyConfig(**dict(settings, data_seed=data_seed))
    res = sampling.run_occupancy(jax.random.fold_in(jax.random.PRNGKey(run_seed), n), occ,
                                 catalogue=_load_catalogue(config), keep_idata=False)
    out = res.to_dict()
    out.update(c=c, r=r, seed=run_seed, data_seed=data_seed, phase_switches=[int(s) for s in res.phase_switches],
               threshold=float(res.config["threshold"]))
    return out


# --------------------------------------------------------------------------------------------------
# the SGD kind

_SGD_ANALYSIS_KEYS = ("threshold", "slope_tol", "min_length")


def _sgd_config(config: dict):
    """The ``sampling.SGDConfig`` of a task config (its keys that are SGDConfig fields; lists of
    numbers become the tuples the config holds)."""
    from sampling.dynamics.sgd import SGDConfig

    names = [f.name for f in dataclasses.fields(SGDConfig)]
    return SGDConfig(**{k: tuple(config[k]) if isinstance(config[k], list) else config[k]
                        for k in names if config.get(k) is not None})


def _sgd_point_keys() -> tuple[str, ...]:
    from sampling.dynamics.sgd import SGDConfig

    return tuple(f.name for f in dataclasses.fields(SGDConfig)) + _SGD_ANALYSIS_KEYS + ("llc_per_plateau",)


def check_sgd(params: dict) -> None:
    """Parse-time check: the SGD settings of every grid point make a valid ``sampling.SGDConfig``
    (its ``__post_init__`` names the bad argument)."""
    kind = TASK_KINDS["sgd"]
    axes = [f.name for f in kind.schema if f.grid and isinstance(params.get(f.name), list)]
    for combo in itertools.product(*(params[a] for a in axes)):
        _sgd_config(dict(params, **dict(zip(axes, combo))))


def expand_sgd(experiment: Experiment) -> list[tuple[dict, int]]:
    """SGD tasks: per grid point, the runs with seeds ``seed, seed + 1, ..., seed + runs - 1`` split
    into chunks of ``runs_per_task`` (a run's trajectory depends only on its seed and the config, so
    the chunking does not change any run)."""
    out = []
    for point in experiment.grid():
        runs, per = int(point.pop("runs")), int(point.pop("runs_per_task"))
        for start in range(0, runs, per):
            cfg = dict(point)
            cfg["run_offset"] = start
            cfg["seeds"] = [experiment.seed + i for i in range(start, min(start + per, runs))]
            out.append((cfg, 0))
    return out


def sgd_task(config: dict, seed: int) -> dict:
    """Train one chunk of SGD runs, match their checkpoints to the catalogue, estimate plateau LLCs.

    The same pipeline as ``tmsphase sgd``: ``sampling.train_sgd(SGDConfig(...), seeds)``, then
    ``theory.analyze_sgd(result, catalogue, threshold=..., slope_tol=..., min_length=...)``, then,
    unless ``llc_per_plateau`` is 0, SGLD LLC estimates (the paper's setting) at up to
    ``llc_per_plateau`` checkpoints of every plateau (``theory.plateau_centers``,
    ``sampling.llc_trajectory`` with ``jax.random.key(seed)``) attached for the estimated antecedent
    check. Each run's own seed is in ``config["seeds"]``; the task seed only keys the SGLD chains.

    Returns ``SGDAnalysis.to_dict()`` plus ``run_offset`` (index of the chunk's first run),
    ``diverged_runs`` and ``llc_excluded_chains`` (for merging chunks, :func:`merge_sgd`).
    """
    import kgon
    import sampling
    import theory

    kgon.configure_jax()  # a worker process starts without JAX settings (no-op where already set)
    sgd_config = _sgd_config(config)
    result = sampling.train_sgd(sgd_config, list(config["seeds"]))
    catalogue = _load_catalogue(config)
    analysis = theory.analyze_sgd(result, catalogue, **{k: config[k] for k in _SGD_ANALYSIS_KEYS if k in config})
    llc = None
    per_plateau = int(config.get("llc_per_plateau", 0))
    if per_plateau > 0 and analysis.plateaus:
        import jax

        centers = theory.plateau_centers(analysis, per_plateau=per_plateau)
        llc = sampling.llc_trajectory(jax.random.key(seed), result, centers=centers)
        analysis = analysis.with_llc(result, catalogue, llc)
    out = analysis.to_dict()
    out["run_offset"] = int(config["run_offset"])
    out["diverged_runs"] = int(sum(bool(d) for d in result.diverged))
    out["llc_excluded_chains"] = {str(k): int(v) for k, v in llc.reasons.items()} if llc is not None else None
    return out


def _weighted_fraction(parts: Sequence[dict], key: str) -> float | None:
    """Mean over the non-diverged runs of all chunks of a per-chunk fraction (equal checkpoints per run)."""
    num = den = 0.0
    for p in parts:
        w = p["runs"] - p["diverged_runs"]
        if w > 0 and p[key] is not None:
            num += p[key] * w
            den += w
    return num / den if den else None


def merge_sgd(parts: Sequence[dict]) -> dict:
    from theory.sgd_analysis import AntecedentCheck, five_to_six

    """Combine the ``SGDAnalysis.to_dict()`` of chunks of runs into the analysis of all runs.

    Counts add up (transitions, final phases, antecedent sign counts, runs); fractions are averaged
    over the non-diverged runs; per-run lists (phase sequences, plateaus) are concatenated in run order
    with run indices shifted by each chunk's offset; excluded SGLD chains are added per reason. Without
    SGLD estimates the result equals ``analyze_sgd`` on all runs at once (up to float rounding of the
    fractions), which a test checks; the estimated antecedent counts differ from an all-at-once run
    only by the SGLD randomness (each chunk has its own key).
    """
    parts = sorted(parts, key=lambda p: p["run_offset"])
    transitions: dict[tuple[str, str], int] = {}
    for p in parts:
        for t in p["transitions"]:
            transitions[(t["from"], t["to"])] = transitions.get((t["from"], t["to"]), 0) + int(t["count"])
    final: dict[str, int] = {}
    for p in parts:
        for label, count in p["final_phases"].items():
            final[label] = final.get(label, 0) + int(count)
    plateaus = []
    for p in parts:
        for pl in p["plateaus"]:
            pl = dict(pl)
            pl["run"] = pl["run"] + p["run_offset"]
            plateaus.append(pl)
    config = dict(parts[0]["config"])
    if "seeds" in config:
        config["seeds"] = [s for p in parts for s in p["config"]["seeds"]]
    excluded = [p.get("llc_excluded_chains") for p in parts if p.get("llc_excluded_chains") is not None]
    llc_excluded = None
    if excluded:
        llc_excluded = {}
        for e in excluded:
            for reason, count in e.items():
                llc_excluded[reason] = llc_excluded.get(reason, 0) + int(count)
    antecedent = AntecedentCheck.total(AntecedentCheck.from_dict(p["antecedent"]) for p in parts).to_dict()
    return {
        "fraction_on_plateaus": _weighted_fraction(parts, "fraction_on_plateaus"),
        "fraction_matched": _weighted_fraction(parts, "fraction_matched"),
        "transitions": [
            {"from": a, "to": b, "count": k}
            for (a, b), k in sorted(transitions.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "final_phases": dict(sorted(final.items())),
        "antecedent": antecedent,
        "phase_sequences": [seq for p in parts for seq in p["phase_sequences"]],
        "runs": sum(p["runs"] for p in parts),
        "seeds": config.get("seeds"),
        "five_to_six": five_to_six([{"from": a, "to": b, "count": k} for (a, b), k in transitions.items()]),
        "llc_excluded_chains": llc_excluded,
        "diverged_runs": sum(p["diverged_runs"] for p in parts),
        "plateaus": plateaus,
        "config": config,
    }


def aggregate_sgd(tasks: Sequence[Task], results: Sequence[dict]) -> dict:
    """The output of an SGD sweep: the structure of ``tmsphase sgd --json``.

    With one grid point, the merged analysis of all its runs (:func:`merge_sgd`): fraction_on_plateaus,
    transitions, final_phases, antecedent, fraction_matched, phase_sequences, runs, seeds,
    five_to_six, llc_excluded_chains (the keys of ``tmsphase sgd --json`` but its timings and
    figures) plus plateaus, config and diverged_runs. With
    several, ``{"results": [...]}``, one merged analysis per grid point (in grid order) with the grid
    point's SGD settings under ``"sgd"``.
    """
    groups: dict[str, list[dict]] = {}
    settings: dict[str, dict] = {}
    for task, res in zip(tasks, results):
        cfg = task.config
        point = {k: cfg[k] for k in _sgd_point_keys() if k in cfg}
        key = canonical_json(point)
        groups.setdefault(key, []).append(res)
        settings[key] = point
    merged = [dict(merge_sgd(parts), sgd=settings[key]) for key, parts in groups.items()]
    if len(merged) == 1:
        return merged[0]
    return {"results": merged}
