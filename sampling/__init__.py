"""sampling: data sets, the exact fast empirical potential, posterior sampling, SGD and SGLD."""

__all__: list[str] = []

# SGD dynamics and SGLD LLC estimation (issue 6)
from .plateaus import Plateau, SGDAnalysis, Transition, analyze_sgd, match_checkpoints, plateau_centers  # noqa: E402
from .sgd import SGDConfig, SGDResult, train_sgd  # noqa: E402
from .sgld import LLCDiagnostics, LLCResult, default_nbeta, estimate_llc, sgld_step  # noqa: E402
from .trajectory import TrajectoryLLC, llc_trajectory, move_free_biases, refine_center, tms_llc  # noqa: E402

__all__ += [
    "SGDConfig",
    "SGDResult",
    "train_sgd",
    "SGDAnalysis",
    "Plateau",
    "Transition",
    "analyze_sgd",
    "match_checkpoints",
    "plateau_centers",
    "sgld_step",
    "estimate_llc",
    "default_nbeta",
    "LLCResult",
    "LLCDiagnostics",
    "tms_llc",
    "refine_center",
    "move_free_biases",
    "llc_trajectory",
    "TrajectoryLLC",
]

# data, exact fast empirical potential, posterior sampling and phase occupancy (issue 4)
from .data import Dataset, make_dataset  # noqa: E402
from .diagnostics import PhaseMixingWarning, chain_diagnostics, classify_draws, phase_switches  # noqa: E402
from .fast_potential import EmpiricalPotential, dense_loss, empirical_potential  # noqa: E402
from .io import to_inference_data  # noqa: E402
from .model import dense_model, log_density, tms_model  # noqa: E402
from .nuts import ChainsResult, NutsResult, initial_points, nuts_chains, run_nuts  # noqa: E402
from .occupancy import (  # noqa: E402
    CrossingEstimate,
    OccupancyResult,
    crossing_estimate,
    occupancy_curve,
    occupancy_estimate,
    occupancy_threshold,
    pool_occupancy,
    run_occupancy,
)
from .tempering import (  # noqa: E402
    ParallelTemperingResult,
    TemperingResult,
    geometric_ladder,
    parallel_tempering,
    run_tempering,
)

__all__ += [
    "Dataset",
    "make_dataset",
    "EmpiricalPotential",
    "empirical_potential",
    "dense_loss",
    "tms_model",
    "dense_model",
    "log_density",
    "run_nuts",
    "NutsResult",
    "nuts_chains",
    "ChainsResult",
    "initial_points",
    "PhaseMixingWarning",
    "run_tempering",
    "TemperingResult",
    "parallel_tempering",
    "ParallelTemperingResult",
    "geometric_ladder",
    "run_occupancy",
    "OccupancyResult",
    "occupancy_estimate",
    "occupancy_threshold",
    "pool_occupancy",
    "occupancy_curve",
    "crossing_estimate",
    "CrossingEstimate",
    "chain_diagnostics",
    "classify_draws",
    "phase_switches",
    "to_inference_data",
]
