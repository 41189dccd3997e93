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
