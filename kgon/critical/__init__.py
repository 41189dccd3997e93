"""Critical-point search, refinement, certification and the catalogue of the TMS potential.

One module per step (docs/zoo.md): :mod:`~kgon.critical.search` (starts, the batched Newton solver,
certification, :class:`~kgon.critical.search.ModelSpec`), :mod:`~kgon.critical.refine` (clean and
certify endpoints), :mod:`~kgon.critical.variants` (structural moves between family members),
:mod:`~kgon.critical.levels` (levels and representatives), :mod:`~kgon.critical.explore` (exploration
and lattice closure), :mod:`~kgon.critical.measure` (geometry, LLC, constant, names),
:mod:`~kgon.critical.driver` (``find_critical_points``, ``run_search``), :mod:`~kgon.critical.catalogue`
(the types and their JSON/CSV), :mod:`~kgon.critical.cache` (``default_catalogue``) and
:mod:`~kgon.critical.continuation` (minima followed in the feature importance).
"""
