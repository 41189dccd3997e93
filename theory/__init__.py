"""theory: free energies, theory-vs-experiment occupancy, SGD analysis, figures, sweeps and the CLI.

Layout: ``free_energy`` (free energies, Bayesian transitions, theoretical occupancy), ``compare``
(theory vs sampled occupancy), ``sgd_analysis`` (plateau matching of SGD runs, antecedent check),
``development/`` (LLC milestones, essential dynamics, weight-covariance spectra
scored against catalogue plateaus), ``plot``, ``reproduce`` (the main job and its report), ``sweeps/`` (experiment files, executors, the
resumable result store) and ``cli/`` (one module per ``tmsphase`` command). Conventions:
``docs/index.md``.
"""

from theory.compare import EmpiricalOccupancy, OccupancyComparison, compare_occupancy
from theory.development.alignment import Alignment, align_runs, align_to_reference
from theory.development.covariance import CovarianceSpectra, covariance_spectra, jump_statistic, sgld_covariance, top_eigen
from theory.development.essential_dynamics import (
    CurveFeatures,
    EssentialDynamics,
    Form,
    curve_features,
    essential_dynamics,
    tms_probe_outputs,
)
from theory.development.evaluate import (
    DetectionScore,
    DevelopmentEvaluation,
    evaluate_development,
    llc_curves,
    score_near_transitions,
    score_on_plateaus,
    stage_bracketing,
)
from theory.development.smoothing import SmoothedCurve, smooth_curve
from theory.development.stages import Milestone, Stage, StageAnalysis, detect_milestones
from theory.free_energy import (
    MIN_TRANSITION_N,
    BayesianTransition,
    TheoreticalOccupancy,
    free_energy,
    free_energy_terms,
    occupancy,
    refined_phases,
    significant_transitions,
    transitions,
)
from theory.refined import FreeEnergyTerms
from theory.sgd_analysis import (
    AntecedentCheck,
    Plateau,
    PlateauTransition,
    SGDAnalysis,
    SignCounts,
    analyze_sgd,
    five_to_six,
    match_checkpoints,
    plateau_centers,
)
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
        "Alignment",
        "CovarianceSpectra",
        "CurveFeatures",
        "DetectionScore",
        "DevelopmentEvaluation",
        "EssentialDynamics",
        "Form",
        "Milestone",
        "SmoothedCurve",
        "Stage",
        "StageAnalysis",
        "align_runs",
        "align_to_reference",
        "covariance_spectra",
        "curve_features",
        "detect_milestones",
        "essential_dynamics",
        "evaluate_development",
        "jump_statistic",
        "llc_curves",
        "score_near_transitions",
        "score_on_plateaus",
        "sgld_covariance",
        "smooth_curve",
        "stage_bracketing",
        "tms_probe_outputs",
        "top_eigen",
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
        "AntecedentCheck",
        "PlateauTransition",
        "ResultStore",
        "SGDAnalysis",
        "five_to_six",
        "SignCounts",
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
        "FreeEnergyTerms",
        "free_energy",
        "free_energy_terms",
        "refined_phases",
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
