"""theory: free energies, theory-vs-experiment occupancy, loss-vs-complexity diagrams, the CLI."""

__all__: list[str] = []
