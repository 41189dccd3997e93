"""theory: free energies, theory-vs-experiment occupancy, SGD analysis, figures, sweeps and the CLI.

Layout: ``free_energy`` (free energies, Bayesian transitions, theoretical occupancy), ``compare``
(theory vs sampled occupancy), ``sgd_analysis`` (plateau matching of SGD runs, antecedent check),
``plot``, ``reproduce`` (the main job and its report), ``sweeps/`` (experiment files, executors, the
resumable result store) and ``cli/`` (one module per ``tmsphase`` command). Conventions:
``docs/index.md``.
"""

from theory.compare import EmpiricalOccupancy, OccupancyComparison, compare_occupancy
from theory.free_energy import (
    MIN_TRANSITION_N,
    BayesianTransition,
    TheoreticalOccupancy,
    free_energy,
    occupancy,
    significant_transitions,
    transitions,
)
from theory.sgd_analysis import Plateau, PlateauTransition, SGDAnalysis, analyze_sgd, match_checkpoints, plateau_centers
from theory.sweeps.executor import Completed, DaskExecutor, Executor, LocalExecutor, make_executor
from theory.sweeps.experiment import (
    TASK_KINDS,
    Experiment,
    Field,
    Task,
    TaskKind,
    load_experiment,
    parse_experiment,
    register_task_kind,
)
from theory.sweeps.store import ResultStore, StoredResult
from theory.sweeps.sweep import SweepError, SweepResult, TaskRecord, execute_task, run_sweep

__all__ = sorted(
    [
        "BayesianTransition",
        "Completed",
        "MIN_TRANSITION_N",
        "DaskExecutor",
        "EmpiricalOccupancy",
        "Executor",
        "Experiment",
        "Field",
        "LocalExecutor",
        "OccupancyComparison",
        "Plateau",
        "PlateauTransition",
        "ResultStore",
        "SGDAnalysis",
        "StoredResult",
        "SweepError",
        "SweepResult",
        "TASK_KINDS",
        "Task",
        "TaskKind",
        "TaskRecord",
        "TheoreticalOccupancy",
        "analyze_sgd",
        "compare_occupancy",
        "execute_task",
        "free_energy",
        "load_experiment",
        "make_executor",
        "match_checkpoints",
        "occupancy",
        "parse_experiment",
        "plateau_centers",
        "register_task_kind",
        "run_sweep",
        "significant_transitions",
        "transitions",
    ]
)
