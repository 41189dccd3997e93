"""Sphinx configuration of the tmsphase documentation site (``sphinx-build -W docs docs/_build/html``).

Sphinx with MyST (Markdown pages), myst-nb (notebooks rendered with their stored outputs, not re-executed)
and autodoc + napoleon (the API reference, generated from the numpy-style docstrings of each package's
public names, its ``__all__``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

project = "tmsphase"
author = "tmsphase developers"
copyright = "2026, tmsphase developers"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
root_doc = "index"
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "data", "experiments", "figures/*.pdf", "**/.ipynb_checkpoints"]

myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # notebooks are stored executed; the slow tests run them with nbclient

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_ivar = True
# An ``Attributes`` entry (``:ivar W:``) links its name to any documented attribute of that name; several
# result types share names such as ``W``, ``b``, ``labels``, so Sphinx would warn that the link is ambiguous.
# The entries are descriptions, not references: these ambiguity warnings (and only these) are not errors.
suppress_warnings = ["ref.python"]

html_theme = "furo"
html_title = "tmsphase"


def constants(package: str) -> list[str]:
    """The names of ``package.__all__`` that are neither classes, routines nor modules: data such as
    ``theory.MIN_TRANSITION_N``. autodoc's ``automodule`` documents module data only when it carries a doc
    comment in the module itself, which a lazy facade's names do not, so the API pages list them with
    ``autodata`` (:func:`add_constants`)."""
    import importlib
    import inspect

    module = importlib.import_module(package)
    return [name for name in module.__all__ if not (inspect.isclass(getattr(module, name))
                                                    or inspect.isroutine(getattr(module, name))
                                                    or inspect.ismodule(getattr(module, name)))]


def add_constants(app, docname, source):
    """Append an ``autodata`` entry for each constant of the package to its API page (api/<package>)."""
    if not docname.startswith("api/"):
        return
    package = docname.split("/", 1)[1]
    entries = []
    for name in constants(package):
        value = repr(getattr(sys.modules[package], name))
        entries.append(f".. autodata:: {package}.{name}" + ("\n   :no-value:" if len(value) > 80 else ""))
    if entries:
        source[0] += "\n## Constants\n\n```{eval-rst}\n" + "\n\n".join(entries) + "\n```\n"


def drop_type_docstrings(app, what, name, obj, options, lines):
    """A constant has no docstring of its own: autodoc would print its type's (``dict``'s for
    ``theory.TASK_KINDS``), which is not about the constant and not valid reStructuredText."""
    if what == "data" and getattr(obj, "__doc__", None) == getattr(type(obj), "__doc__", None):
        lines[:] = []


def setup(app):
    app.connect("source-read", add_constants)
    app.connect("autodoc-process-docstring", drop_type_docstrings)
