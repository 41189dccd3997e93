"""The built-in sweep task kinds, one module each (fields, task function, aggregation, report).

``potential`` (prior draws of the potential), ``posterior`` (phase occupancy by NUTS or tempering),
``sgd`` (batched SGD runs matched to catalogue plateaus) and ``general_sgd`` (SGD runs of the general
TMS with the calibrated LLC along training); :mod:`theory.sweeps.kinds.common` holds what several of
them share. :mod:`theory.sweeps.registry` registers them. Each module imports its heavy dependencies
(kgon's mathematics, sampling: jax, torch, numpyro) inside its task functions, so that reading an
experiment stays light and a worker process loads only what the kinds it runs need (docs/sweeps.md).
"""
