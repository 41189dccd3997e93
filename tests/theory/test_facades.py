"""The package facades: every public name resolves to the object it names, whatever was imported first.

``kgon`` and ``theory`` are lazy facades (kgon.lazy): a submodule named like a public name would replace
that name on the package once imported (the import system sets the package attribute), so none may exist.
"""

from __future__ import annotations

import importlib
import pkgutil
import types

import pytest

import kgon
import sampling
import theory


@pytest.mark.parametrize("package", [kgon, sampling, theory], ids=lambda p: p.__name__)
def test_public_names_are_not_shadowed_by_submodules(package):
    submodules = {m.name for m in pkgutil.iter_modules(package.__path__)}
    assert not sorted(set(package.__all__) & submodules)
    assert package.__all__ == sorted(package.__all__)
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)  # every submodule first, as user code may do
    for name in package.__all__:
        assert not isinstance(getattr(package, name), types.ModuleType), name
