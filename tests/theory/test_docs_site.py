"""The documentation site (docs/conf.py): the API reference documents every public name of kgon, sampling
and theory; README gives the build command and CI runs it strictly; the strict build passes (slow)."""

import subprocess
import sys
from pathlib import Path

import pytest

import kgon
import sampling
import theory

ROOT = Path(__file__).resolve().parents[2]
BUILD_COMMAND = "sphinx-build -W --keep-going -b html docs docs/_build/html"


def public_names():
    return [f"{m.__name__}.{n}" for m in (kgon, sampling, theory) for n in m.__all__]


def documented_names(html_dir: Path) -> set[str]:
    """The Python objects of a built site (its Sphinx inventory, objects.inv)."""
    inventory = pytest.importorskip("sphinx.util.inventory")
    with (html_dir / "objects.inv").open("rb") as f:
        inv = inventory.InventoryFile.load(f, "", lambda base, uri: uri)
    data = getattr(inv, "data", inv)  # Sphinx >= 8.2 returns an _Inventory, older a dict
    return {name for kind, entries in data.items() if kind.startswith("py:") for name in entries}


def missing_names(html_dir: Path) -> list[str]:
    found = documented_names(html_dir)
    return [name for name in public_names() if name not in found]


def test_api_pages_document_each_package():
    for package in ("kgon", "sampling", "theory"):
        text = (ROOT / "docs" / "api" / f"{package}.md").read_text()
        assert f".. automodule:: {package}" in text and ":imported-members:" in text, package


def test_built_site_lists_every_public_name():
    html = ROOT / "docs" / "_build" / "html"
    if not (html / "objects.inv").exists():
        pytest.skip(f"no built site: run `{BUILD_COMMAND}`")
    missing = missing_names(html)
    assert not missing, f"the API reference lacks {missing}; rebuild the site (`{BUILD_COMMAND}`)"


def test_readme_gives_the_build_and_ci_runs_it_strictly():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert '.venv/bin/pip install -e ".[docs]"' in readme and BUILD_COMMAND in readme
    test_line = ci.strip().splitlines()[-1]
    build = next(i for i, line in enumerate(ci.splitlines()) if "sphinx-build -W --keep-going" in line)
    assert build < ci.splitlines().index(test_line), "CI builds the site before the tests"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_strict_build_lists_every_public_name(tmp_path):
    """The strict build (warnings are errors) passes and its API reference has every ``__all__`` name."""
    pytest.importorskip("myst_nb")
    pytest.importorskip("furo")
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           str(ROOT / "docs"), str(tmp_path / "html")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert not missing_names(tmp_path / "html")
