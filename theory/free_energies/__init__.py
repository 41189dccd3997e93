"""Free energies of the phases: the leading order, the refined local free energy term by term,
Bayesian phase transitions and theoretical occupancy (docs/free_energy.md).

One concept per module:

- ``orders``: :func:`free_energy` at the leading or refined order, :func:`free_energy_terms`,
  :func:`occupancy`, :func:`transitions` and :func:`significant_transitions`, :func:`phases_of`,
  :func:`refined_phases`;
- ``refined``: :func:`refined_terms`, the orchestration of the refined terms of one phase;
- ``terms``: :class:`FreeEnergyTerms` and the checks of the non-Gaussian integrator's arguments;
- ``laplace``: Laplace's method over the live coordinates, transverse to the SO(2) orbit;
- ``copies``: the copies of a phase (their expansions, the copies term, the nearest-copy partition);
- ``dead_columns``: the flat-region prior mass, the finite-n boundary term, the dead-column proposal;
- ``nongaussian``: the exact integral of a phase over its cell (the non-Gaussian term, kinked phases);
- ``smc``: the one annealed sequential Monte Carlo integrator every phase integral uses.

The package is ``free_energies``, not ``free_energy``: ``theory.free_energy`` is a function of the lazy
:mod:`theory` facade, and a subpackage of that name would be bound as the attribute
``theory.free_energy`` on first import, shadowing the function. For the same reason the structure of
a point (``dead_columns``, ``orbit_copies``, ``distinct_permutations``) lives in :mod:`kgon.symmetry`
and is not re-exported here. Names are imported from their modules on first use (:mod:`kgon.lazy`):
the leading order loads no jax.
"""

from kgon.lazy import attach

_EXPORTS = {
    "BayesianTransition": "theory.free_energies.orders",
    "FreeEnergyTerms": "theory.free_energies.terms",
    "LaplaceResult": "theory.free_energies.laplace",
    "MIN_TRANSITION_N": "theory.free_energies.orders",
    "ORDERS": "theory.free_energies.orders",
    "Phase": "theory.free_energies.orders",
    "SMCInfo": "theory.free_energies.smc",
    "TheoreticalOccupancy": "theory.free_energies.orders",
    "anneal": "theory.free_energies.smc",
    "check_nongaussian_anneal": "theory.free_energies.terms",
    "check_nongaussian_draws": "theory.free_energies.terms",
    "crossing_roots": "theory.free_energies.orders",
    "dead_column_integral": "theory.free_energies.dead_columns",
    "flat_region_mass": "theory.free_energies.dead_columns",
    "free_energy": "theory.free_energies.orders",
    "free_energy_terms": "theory.free_energies.orders",
    "laplace_terms": "theory.free_energies.laplace",
    "nongaussian_correction": "theory.free_energies.nongaussian",
    "occupancy": "theory.free_energies.orders",
    "phases_of": "theory.free_energies.orders",
    "refined_phases": "theory.free_energies.orders",
    "refined_terms": "theory.free_energies.refined",
    "significant_transitions": "theory.free_energies.orders",
    "systematic_resample": "theory.free_energies.smc",
    "transitions": "theory.free_energies.orders",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
