"""kgon: the mathematics of the TMS potential.

Symbolic closed form (sympy), fast evaluators (numpy / jax / torch), regular k-gon critical points,
and (see the submodules) critical-point search, geometry and phase classification.
"""

from kgon.critical.catalogue import (
    Catalogue,
    CriticalPoint,
    SearchConfig,
    default_catalogue,
    find_critical_points,
)
from kgon.config import configure_jax
from kgon.classify import classify, phase_distance, phase_distances
from kgon.density import DensityLoss, population_loss_density
from kgon.geometry import HessianGeometry, hessian_geometry
from kgon.polygons import KgonPoint, KgonResult, kgon, kgon_params
from kgon.potential import (
    pair_term_numeric,
    potential,
    potential_and_grad_jax,
    potential_jax,
    potential_numpy,
    potential_torch,
)
from kgon.symbolic import pair_term, pair_term_branches, pair_term_conditions, potential_expr

__all__ = [
    "Catalogue",
    "CriticalPoint",
    "DensityLoss",
    "HessianGeometry",
    "classify",
    "configure_jax",
    "default_catalogue",
    "find_critical_points",
    "hessian_geometry",
    "phase_distance",
    "phase_distances",
    "population_loss_density",
    "KgonPoint",
    "KgonResult",
    "SearchConfig",
    "kgon",
    "kgon_params",
    "pair_term",
    "pair_term_branches",
    "pair_term_conditions",
    "pair_term_numeric",
    "potential",
    "potential_and_grad_jax",
    "potential_expr",
    "potential_jax",
    "potential_numpy",
    "potential_torch",
]
