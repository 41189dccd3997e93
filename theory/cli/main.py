"""The ``tmsphase`` command: one entry point, one subcommand per module.

Each subcommand lives in its own module ``theory/cli/<name>.py`` exposing

    NAME: str                                   # the subcommand
    def add_arguments(parser) -> None           # argparse arguments
    def run(args) -> int                        # exit code

and is listed in ``_SUBCOMMAND_MODULES``. A ``ValueError`` raised by the API is printed as
``tmsphase <cmd>: error: <message>`` (no traceback) with exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from kgon.config import configure_jax

__all__ = ["main", "build_parser"]

_SUBCOMMAND_MODULES = [
    "theory.cli.kgon",
    "theory.cli.critical_points",
    "theory.cli.transitions",
    "theory.cli.reproduce",
    "theory.cli.run",
    "theory.cli.sgd",
    "theory.cli.llc",
    "theory.cli.posterior",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tmsphase",
        description="Singular learning theory for the Toy Model of Superposition.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for modname in _SUBCOMMAND_MODULES:
        mod = importlib.import_module(modname)
        p = sub.add_parser(mod.NAME, help=(mod.__doc__ or "").strip().splitlines()[0])
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run, _parser=p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_jax()  # float64 and one CPU device per core (kgon.configure_jax)
    try:
        return int(args._run(args) or 0)
    except ValueError as exc:
        print(f"tmsphase {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
