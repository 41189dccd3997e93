"""kgon: the mathematics of the TMS potential.

Symbolic closed form (sympy), fast evaluators (numpy / jax / torch), regular k-gon critical points,
critical-point search and certification (``kgon.critical``), Hessian geometry, learning coefficients,
phase classification, the population loss of the general input density, strict JSON and atomic writes
(``kgon.io``) and JAX configuration (``kgon.configure_jax``). Names are imported from their modules on
first use (:mod:`kgon.lazy`), so ``import kgon`` loads none of jax, sympy or torch.
"""

from kgon.lazy import attach

_EXPORTS = {
    "Catalogue": "kgon.critical.catalogue",
    "CriticalPoint": "kgon.critical.catalogue",
    "DensityLoss": "kgon.density",
    "HessianGeometry": "kgon.geometry",
    "KgonPoint": "kgon.polygons",
    "KgonResult": "kgon.polygons",
    "ModelSpec": "kgon.critical.search",
    "SearchConfig": "kgon.critical.catalogue",
    "classify": "kgon.classification",
    "configure_jax": "kgon.config",
    "dead_columns": "kgon.symmetry",
    "default_catalogue": "kgon.critical.cache",
    "distinct_permutations": "kgon.symmetry",
    "feature_loss_kinks": "kgon.fluctuation",
    "feature_loss_moments": "kgon.fluctuation",
    "feature_losses": "kgon.fluctuation",
    "find_critical_points": "kgon.critical.driver",
    "hessian_geometry": "kgon.geometry",
    "importance_threshold": "kgon.critical.continuation",
    "kgon": "kgon.polygons",
    "kgon_params": "kgon.polygons",
    "memorization_kgon": "kgon.memorization",
    "memorization_loss": "kgon.memorization",
    "memorization_polygon": "kgon.memorization",
    "memorization_radius": "kgon.memorization",
    "orbit_copies": "kgon.symmetry",
    "pair_term": "kgon.symbolic",
    "pair_term_branches": "kgon.symbolic",
    "pair_term_conditions": "kgon.symbolic",
    "pair_term_fn": "kgon.evaluators",
    "pair_term_numeric": "kgon.evaluators",
    "phase_distance": "kgon.classification",
    "phase_distances": "kgon.classification",
    "population_loss_density": "kgon.density",
    "potential": "kgon.evaluators",
    "potential_and_grad_jax": "kgon.evaluators",
    "potential_expr": "kgon.symbolic",
    "potential_jax": "kgon.evaluators",
    "potential_numpy": "kgon.evaluators",
    "potential_torch": "kgon.evaluators",
    "run_search": "kgon.critical.driver",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
