"""theory: free energies, theory-vs-experiment occupancy, SGD analysis, figures, sweeps and the CLI.

Layout: ``free_energy`` (free energies, Bayesian transitions, theoretical occupancy), ``compare``
(theory vs sampled occupancy), ``sgd_analysis`` (plateau matching of SGD runs, antecedent check),
``development/`` (LLC milestones, essential dynamics, weight-covariance spectra scored against catalogue
plateaus), ``plot``, ``reproduce`` (the main job and its report), ``sweeps/`` (experiment files, task
kinds, executors, the resumable result store) and ``cli/`` (one module per ``tmsphase`` command);
``data_term`` and ``over_data`` (the closed-form data term of the refined free energy and the crossing
over data sets). Conventions: ``docs/index.md``.

Names are imported from their modules on first use (:mod:`kgon.lazy`): ``import theory`` and
parsing an experiment file load none of jax, torch, numpyro or sympy.
"""

from kgon.lazy import attach

_EXPORTS = {
    "Alignment": "theory.development.alignment",
    "AntecedentCheck": "theory.sgd_analysis",
    "BayesianTransition": "theory.free_energies.orders",
    "Completed": "theory.sweeps.executor",
    "CovarianceSpectra": "theory.development.covariance",
    "CrossingDistribution": "theory.over_data",
    "CurveFeatures": "theory.development.essential_dynamics",
    "DaskExecutor": "theory.sweeps.executor",
    "DataFreeEnergy": "theory.data_term",
    "DetectionScore": "theory.development.evaluate",
    "DevelopmentEvaluation": "theory.development.evaluate",
    "EmpiricalOccupancy": "theory.compare",
    "EssentialDynamics": "theory.development.essential_dynamics",
    "Executor": "theory.sweeps.executor",
    "Experiment": "theory.sweeps.experiment",
    "Field": "theory.sweeps.schema",
    "Form": "theory.development.essential_dynamics",
    "FreeEnergyTerms": "theory.free_energies.terms",
    "LocalExecutor": "theory.sweeps.executor",
    "MIN_TRANSITION_N": "theory.free_energies.orders",
    "Milestone": "theory.development.stages",
    "OccupancyComparison": "theory.compare",
    "OverData": "theory.over_data",
    "Plateau": "theory.sgd_analysis",
    "PlateauTransition": "theory.sgd_analysis",
    "SGDAnalysis": "theory.sgd_analysis",
    "SignCounts": "theory.sgd_analysis",
    "SmoothedCurve": "theory.development.smoothing",
    "Stage": "theory.development.stages",
    "StageAnalysis": "theory.development.stages",
    "StoredResult": "theory.sweeps.store",
    "SweepError": "theory.sweeps.sweep",
    "SweepResult": "theory.sweeps.sweep",
    "SweepStore": "theory.sweeps.store",
    "TASK_KINDS": "theory.sweeps.registry",
    "Task": "theory.sweeps.experiment",
    "TaskKind": "theory.sweeps.schema",
    "TaskRecord": "theory.sweeps.sweep",
    "TheoreticalOccupancy": "theory.free_energies.orders",
    "align_runs": "theory.development.alignment",
    "align_to_reference": "theory.development.alignment",
    "analyze_sgd": "theory.sgd_analysis",
    "compare_occupancy": "theory.compare",
    "covariance_spectra": "theory.development.covariance",
    "crossing_distribution": "theory.over_data",
    "curve_features": "theory.development.essential_dynamics",
    "data_free_energy": "theory.data_term",
    "detect_milestones": "theory.development.stages",
    "essential_dynamics": "theory.development.essential_dynamics",
    "evaluate_development": "theory.development.evaluate",
    "execute_task": "theory.sweeps.sweep",
    "five_to_six": "theory.sgd_analysis",
    "free_energy": "theory.free_energies.orders",
    "free_energy_terms": "theory.free_energies.orders",
    "jump_statistic": "theory.development.covariance",
    "llc_curves": "theory.development.evaluate",
    "load_experiment": "theory.sweeps.experiment",
    "make_executor": "theory.sweeps.executor",
    "match_checkpoints": "theory.sgd_analysis",
    "occupancy": "theory.free_energies.orders",
    "parse_experiment": "theory.sweeps.experiment",
    "plateau_centers": "theory.sgd_analysis",
    "refined_phases": "theory.free_energies.orders",
    "register_task_kind": "theory.sweeps.registry",
    "run_sweep": "theory.sweeps.sweep",
    "score_near_transitions": "theory.development.evaluate",
    "score_on_plateaus": "theory.development.evaluate",
    "sgld_covariance": "theory.development.covariance",
    "significant_transitions": "theory.free_energies.orders",
    "smooth_curve": "theory.development.smoothing",
    "stage_bracketing": "theory.development.evaluate",
    "tms_probe_outputs": "theory.development.essential_dynamics",
    "top_eigen": "theory.development.covariance",
    "transitions": "theory.free_energies.orders",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
