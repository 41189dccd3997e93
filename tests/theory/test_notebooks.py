"""The four teaching notebooks in docs/notebooks: stored executed with their figures (fast), and run from
scratch by Jupyter's own runner, nbclient, without an error (slow)."""

import json
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "docs" / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
NAMES = ["01_potential_and_zoo", "02_posterior_across_n", "03_sgd_llc_and_stages", "04_general_tms"]


def test_the_four_notebooks_exist():
    assert [p.stem for p in NOTEBOOKS] == NAMES


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_executed_with_a_figure(path):
    """Every code cell ran (in order, without an error) and the notebook shows at least one figure."""
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code cell"
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name} is not executed in order: {counts}"
    outputs = [o for c in code for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"], f"{path.name} stores an error"
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name} shows no figure"
    assert "kgon.configure_jax()" in "".join(code[0]["source"]), f"{path.name}: the first cell configures JAX"


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_notebooks_run_with_nbclient():
    """All four notebooks execute from scratch in a fresh kernel each (about 7 minutes together on 2 cores)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                         resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
        try:
            client.execute()
        except nbclient.exceptions.CellExecutionError as err:
            pytest.fail(f"{path.name} failed: {err}")
        images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
        assert images, f"{path.name} drew no figure"
