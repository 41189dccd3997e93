"""Developmental analysis with ground truth (docs/development.md): LLC milestones and stages, essential
dynamics, weight-covariance spectra, alignment modulo symmetry and scoring against catalogue plateaus.
The public names are re-exported by :mod:`theory`."""
