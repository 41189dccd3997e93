"""sampling: data sets, the exact fast empirical potential, posterior sampling, SGD and SGLD.

Layout: ``data`` and ``fast_potential`` (the empirical potential L_n), ``model`` (the posterior
log-density), ``mcmc/`` (NUTS, parallel tempering, diagnostics, phase occupancy, InferenceData I/O)
and ``dynamics/`` (SGD, SGLD and LLC estimation). Conventions: ``docs/index.md``.

Names are imported from their modules on first use (:mod:`kgon.lazy`): ``import sampling`` loads
none of jax, numpyro or torch until a name that needs them is used.
"""

from kgon.lazy import attach

_EXPORTS = {
    "Calibration": "sampling.dynamics.calibrate",
    "CalibrationSetting": "sampling.dynamics.calibrate",
    "ChainDiagnostics": "sampling.mcmc.diagnostics",
    "ChainsResult": "sampling.mcmc.nuts",
    "CrossingEstimate": "sampling.mcmc.occupancy",
    "Dataset": "sampling.data",
    "ESTIMATORS": "sampling.dynamics.sgld_config",
    "EmpiricalPotential": "sampling.fast_potential",
    "KnownTruth": "sampling.dynamics.truths",
    "LLCDiagnostics": "sampling.dynamics.llc_result",
    "LLCResult": "sampling.dynamics.llc_result",
    "NutsConfig": "sampling.mcmc.nuts",
    "NutsResult": "sampling.mcmc.nuts",
    "OccupancyConfig": "sampling.mcmc.occupancy",
    "OccupancyResult": "sampling.mcmc.occupancy",
    "ParallelTemperingResult": "sampling.mcmc.tempering",
    "PhaseMixingWarning": "sampling.mcmc.diagnostics",
    "PosteriorDraws": "sampling.mcmc.draws",
    "SGDConfig": "sampling.dynamics.sgd",
    "SGDResult": "sampling.dynamics.sgd",
    "SGLDConfig": "sampling.dynamics.sgld_config",
    "TemperingConfig": "sampling.mcmc.tempering",
    "TemperingResult": "sampling.mcmc.tempering",
    "TrajectoryLLC": "sampling.dynamics.trajectory",
    "chain_diagnostics": "sampling.mcmc.diagnostics",
    "classify_draws": "sampling.mcmc.diagnostics",
    "combine_two_temperatures": "sampling.dynamics.llc",
    "crossing_estimate": "sampling.mcmc.occupancy",
    "default_nbeta": "sampling.dynamics.sgld",
    "dense_loss": "sampling.fast_potential",
    "dense_model": "sampling.model",
    "dln_data": "sampling.dynamics.truths",
    "dln_llc": "sampling.dynamics.truths",
    "dln_loss": "sampling.dynamics.truths",
    "dln_truth": "sampling.dynamics.truths",
    "empirical_potential": "sampling.fast_potential",
    "estimate_llc": "sampling.dynamics.llc",
    "geometric_ladder": "sampling.mcmc.tempering",
    "initial_points": "sampling.mcmc.nuts",
    "llc_trajectory": "sampling.dynamics.trajectory",
    "log_density": "sampling.model",
    "make_dataset": "sampling.data",
    "move_free_biases": "sampling.dynamics.trajectory",
    "normal_crossing_llc": "sampling.dynamics.truths",
    "normal_crossing_loss": "sampling.dynamics.truths",
    "normal_crossing_truth": "sampling.dynamics.truths",
    "nuts_chains": "sampling.mcmc.nuts",
    "occupancy_curve": "sampling.mcmc.occupancy",
    "occupancy_estimate": "sampling.mcmc.occupancy",
    "occupancy_threshold": "sampling.mcmc.occupancy",
    "parallel_tempering": "sampling.mcmc.tempering",
    "phase_switches": "sampling.mcmc.diagnostics",
    "pool_occupancy": "sampling.mcmc.occupancy",
    "refine_center": "sampling.dynamics.trajectory",
    "regular_truth": "sampling.dynamics.truths",
    "rrr_llc": "sampling.dynamics.truths",
    "run_nuts": "sampling.mcmc.nuts",
    "run_occupancy": "sampling.mcmc.occupancy",
    "run_tempering": "sampling.mcmc.tempering",
    "sgld_step": "sampling.dynamics.sgld",
    "tms_llc": "sampling.dynamics.trajectory",
    "tms_model": "sampling.model",
    "tms_truth": "sampling.dynamics.truths",
    "to_inference_data": "sampling.mcmc.idata",
    "torch_llc_problem": "sampling.dynamics.torch_adapter",
    "train_sgd": "sampling.dynamics.sgd",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
