"""The ``tmsphase`` command line: ``main`` dispatches to one module per subcommand in this folder."""

from theory.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
