"""Critical-point search, refinement, certification and the catalogue of the TMS potential."""
