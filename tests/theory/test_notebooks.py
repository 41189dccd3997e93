"""The worked notebooks in docs/notebooks execute without error (slow): each notebook's code cells are
exec'd in order in one namespace (no Jupyter needed), with a non-interactive matplotlib backend."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "docs" / "notebooks").glob("*.ipynb"))


def test_notebooks_exist():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["01", "02", "03"]
    for p in NOTEBOOKS:
        nb = json.loads(p.read_text())
        assert nb["nbformat"] == 4 and any(c["cell_type"] == "code" for c in nb["cells"])


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = json.loads(path.read_text())
    ns = {"__name__": "__main__"}
    for k, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        exec(compile(src, f"{path.name}[cell {k}]", "exec"), ns)  # noqa: S102 - our own notebooks
