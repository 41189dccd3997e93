"""Lazy package facades: a public name is imported from its module on first use (PEP 562).

``import kgon`` and ``import theory`` stay cheap (no jax, sympy, torch or numpyro until a name that
needs them is used), so a command that only parses arguments or an experiment file starts fast and
light modules such as :mod:`kgon.io` can be shared by every layer. The facade still lists its public
API in one sorted ``__all__``; ``from kgon import potential`` and ``kgon.potential`` work as usual.
"""

from __future__ import annotations

import importlib
from typing import Callable

__all__ = ["attach"]


def attach(package: str, exports: dict[str, str]) -> tuple[Callable, Callable, list[str]]:
    """``(__getattr__, __dir__, __all__)`` for a package whose public names live in submodules.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict
        Public name -> absolute name of the module that defines it.
    """
    names = sorted(exports)

    def __getattr__(name: str):
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), name)
        setattr(importlib.import_module(package), name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(names) | set(vars(importlib.import_module(package))))

    return __getattr__, __dir__, names
