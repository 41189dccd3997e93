"""The ``tmsphase`` command: one entry point, one subcommand per module.

Each subcommand lives in its own module ``theory/cli/<name>.py`` exposing

    NAME: str                                   # the subcommand
    def add_arguments(parser) -> None           # argparse arguments
    def run(args) -> int                        # exit code

and is listed in ``_SUBCOMMAND_MODULES``. Arguments are checked by the ``type=`` validators of
:mod:`theory.cli.args`; a bad value is reported as ONE line (no usage block, no traceback),
``tmsphase <cmd>: error: argument --x: <what is wrong>``, with exit code 2. A ``ValueError`` raised by
the API is printed the same way, ``tmsphase <cmd>: error: <message>``, also with exit code 2, and so
is an ``OSError`` at run time (disk full, permission denied while writing ``--out``):
``tmsphase <cmd>: error: <reason>: <path>``.
:func:`main` returns the exit code (it does not call ``sys.exit``).
"""

from __future__ import annotations

import argparse
import importlib
import os
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
    "theory.cli.compare",
    "theory.cli.development",
    "theory.cli.failure",
    "theory.cli.thermo",
]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``<prog>: error: <message>`` and exit code 2."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    try:
        args = parser.parse_args(argv)
        configure_jax()  # float64 and one CPU device per core (kgon.configure_jax)
        os.environ.setdefault("MPLBACKEND", "Agg")  # figures go to files; the library modules set no backend
        return int(args._run(args) or 0)
    except SystemExit as exc:  # argparse (--help, a bad argument) and theory.cli.args.fail
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except ValueError as exc:
        print(f"tmsphase {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # at run time: disk full, permission denied, ... writing (or reading) a file
        path = exc.filename if exc.filename is not None else "a file"
        print(f"tmsphase {args.command}: error: {exc.strerror or exc}: {path}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
