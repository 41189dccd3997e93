"""kgon: the mathematics of the TMS potential.

Symbolic closed form (sympy), fast evaluators (numpy / jax / torch), regular k-gon critical points,
and (see the submodules) critical-point search, geometry and phase classification.
"""

from .kgon import KgonPoint, KgonResult, kgon, kgon_params
from .potential import (
    pair_term_numeric,
    potential,
    potential_and_grad_jax,
    potential_jax,
    potential_numpy,
    potential_torch,
)
from .symbolic import pair_term, pair_term_branches, pair_term_conditions, potential_expr

__all__ = [
    "KgonPoint",
    "KgonResult",
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
