"""Posterior MCMC: NUTS, parallel tempering, diagnostics, phase occupancy and InferenceData I/O."""
