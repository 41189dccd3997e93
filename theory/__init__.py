"""theory: free energies, theory-vs-experiment occupancy, loss-vs-complexity diagrams, the CLI."""

__all__: list[str] = []

# free energies, transitions, theoretical occupancy and the comparison with experiment (issue 5)
from .compare import EmpiricalOccupancy, OccupancyComparison, compare_occupancy  # noqa: E402
from .free_energy import Transition, TheoreticalOccupancy, free_energy, occupancy, transitions  # noqa: E402

__all__ += [
    "EmpiricalOccupancy",
    "OccupancyComparison",
    "compare_occupancy",
    "Transition",
    "TheoreticalOccupancy",
    "free_energy",
    "occupancy",
    "transitions",
]

# sweeps (issue 7): experiment files, executors, the resumable result store
from .executor import Completed, DaskExecutor, Executor, LocalExecutor, make_executor  # noqa: E402
from .experiment import (  # noqa: E402
    TASK_KINDS,
    Experiment,
    Field,
    Task,
    TaskKind,
    load_experiment,
    parse_experiment,
    register_task_kind,
)
from .store import ResultStore, StoredResult  # noqa: E402
from .sweep import SweepError, SweepResult, TaskRecord, execute_task, run_sweep  # noqa: E402

__all__ += [
    "Completed",
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "make_executor",
    "TASK_KINDS",
    "Experiment",
    "Field",
    "Task",
    "TaskKind",
    "load_experiment",
    "parse_experiment",
    "register_task_kind",
    "ResultStore",
    "StoredResult",
    "SweepError",
    "SweepResult",
    "TaskRecord",
    "execute_task",
    "run_sweep",
]
