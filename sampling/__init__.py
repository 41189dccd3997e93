"""sampling: data sets, the exact fast empirical potential, posterior sampling, SGD and SGLD.

Layout: ``data`` and ``fast_potential`` (the empirical potential L_n), ``model`` (the posterior
log-density), ``mcmc/`` (NUTS, parallel tempering, diagnostics, phase occupancy, InferenceData I/O)
and ``dynamics/`` (SGD, SGLD and LLC estimation). Conventions: ``docs/index.md``.
"""

from sampling.data import Dataset, make_dataset
from sampling.dynamics.calibrate import Calibration, CalibrationSetting
from sampling.dynamics.sgd import SGDConfig, SGDResult, train_sgd
from sampling.dynamics.sgld import LLCDiagnostics, LLCResult, SGLDConfig, default_nbeta, estimate_llc, sgld_step
from sampling.dynamics.torch_adapter import torch_llc_problem
from sampling.dynamics.trajectory import TrajectoryLLC, llc_trajectory, move_free_biases, refine_center, tms_llc
from sampling.dynamics.truths import (
    KnownTruth,
    dln_data,
    dln_llc,
    dln_loss,
    dln_truth,
    normal_crossing_llc,
    normal_crossing_loss,
    normal_crossing_truth,
    regular_truth,
    rrr_llc,
    tms_truth,
)
from sampling.fast_potential import EmpiricalPotential, dense_loss, empirical_potential
from sampling.mcmc.diagnostics import (
    ChainDiagnostics,
    PhaseMixingWarning,
    chain_diagnostics,
    classify_draws,
    phase_switches,
)
from sampling.mcmc.io import to_inference_data
from sampling.mcmc.nuts import ChainsResult, NutsConfig, NutsResult, initial_points, nuts_chains, run_nuts
from sampling.mcmc.occupancy import (
    CrossingEstimate,
    OccupancyConfig,
    OccupancyResult,
    crossing_estimate,
    occupancy_curve,
    occupancy_estimate,
    occupancy_threshold,
    pool_occupancy,
    run_occupancy,
)
from sampling.mcmc.tempering import (
    ParallelTemperingResult,
    TemperingConfig,
    TemperingResult,
    geometric_ladder,
    parallel_tempering,
    run_tempering,
)
from sampling.model import dense_model, log_density, tms_model

__all__ = sorted(
    [
        "Calibration",
        "CalibrationSetting",
        "SGLDConfig",
        "KnownTruth",
        "dln_data",
        "dln_llc",
        "dln_loss",
        "dln_truth",
        "normal_crossing_llc",
        "normal_crossing_loss",
        "normal_crossing_truth",
        "regular_truth",
        "rrr_llc",
        "tms_truth",
        "torch_llc_problem",
        "ChainDiagnostics",
        "ChainsResult",
        "CrossingEstimate",
        "Dataset",
        "EmpiricalPotential",
        "LLCDiagnostics",
        "LLCResult",
        "NutsConfig",
        "NutsResult",
        "OccupancyConfig",
        "OccupancyResult",
        "ParallelTemperingResult",
        "PhaseMixingWarning",
        "SGDConfig",
        "SGDResult",
        "TemperingConfig",
        "TemperingResult",
        "TrajectoryLLC",
        "chain_diagnostics",
        "classify_draws",
        "crossing_estimate",
        "default_nbeta",
        "dense_loss",
        "dense_model",
        "empirical_potential",
        "estimate_llc",
        "geometric_ladder",
        "initial_points",
        "llc_trajectory",
        "log_density",
        "make_dataset",
        "move_free_biases",
        "nuts_chains",
        "occupancy_curve",
        "occupancy_estimate",
        "occupancy_threshold",
        "parallel_tempering",
        "phase_switches",
        "pool_occupancy",
        "refine_center",
        "run_nuts",
        "run_occupancy",
        "run_tempering",
        "sgld_step",
        "tms_llc",
        "tms_model",
        "to_inference_data",
        "train_sgd",
    ]
)
