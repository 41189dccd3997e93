"""The phases the refined local free energy covers (docs/free_energy.md, "The terms").

A module of its own (numpy only) so that both the orders (:mod:`theory.free_energies.orders`) and the
closed-form data term (:mod:`theory.data_term`, which the refined order calls on a data set) use it
without importing each other.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["refined_phases"]


def refined_phases(
    catalogue, *, labels: Sequence[str] | None = None, kinked: bool = False
) -> tuple[list, dict[str, str]]:
    """The catalogue points the refined free energy covers, and the dropped ones with the reason.

    Kept: local minima and flat phases (no negative Hessian eigenvalue) that are C^2 in their live
    coordinates (at c = 6: 6, 5+, 5 and the all-dead 0-gon), and with ``kinked`` the kinked minima
    too (the 4-gon family, whose refined free energy is a numerical integral over the phase's
    classifier cell, minutes per phase and n: :func:`theory.free_energies.refined.refined_terms`). Dropped:
    saddles (their neighbourhoods are not phases) and, without ``kinked``, the kinked points.
    """
    if not isinstance(kinked, (bool, np.bool_)):
        raise ValueError(f"`kinked` must be True or False; got {kinked!r}.")
    points = list(getattr(catalogue, "points", catalogue))
    keep, dropped = [], {}
    for p in points:
        lab = str(getattr(p, "label", None) or getattr(p, "name"))
        if getattr(p, "hessian_signature", (0, 0, 0))[0] > 0:
            dropped[lab] = "saddle"
        elif getattr(p, "r", 2) != 2:
            dropped[lab] = "r != 2"
        elif not getattr(p, "smooth", True) and not kinked:
            dropped[lab] = "kinked (not C^2): numerical term only with kinked=True"
        else:
            keep.append(p)
    if labels is not None:
        by = {str(getattr(p, "label", None) or getattr(p, "name")): p for p in keep}
        bad = [lab for lab in labels if lab not in by]
        if bad:
            raise ValueError(f"`labels` must name phases the refined order covers {sorted(by)}; got {bad}.")
        keep = [by[lab] for lab in labels]
    if not keep:
        raise ValueError("`catalogue` has no phase the refined free energy covers (smooth local minima).")
    return keep, dropped
