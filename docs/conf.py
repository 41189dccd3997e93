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

html_theme = "furo"
html_title = "tmsphase"
