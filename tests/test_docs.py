"""The API overview lists every public name, and README gives the two required commands."""

from pathlib import Path

import kgon
import sampling
import theory

ROOT = Path(__file__).resolve().parents[1]


def test_api_doc_lists_every_public_name():
    text = (ROOT / "docs" / "api.md").read_text()
    missing = [f"{m.__name__}.{n}" for m in (kgon, sampling, theory) for n in m.__all__ if f"`{n}" not in text]
    assert not missing, f"docs/api.md lacks {missing}; regenerate it with `python docs/gen_api.py`"


def test_readme_commands_match_ci():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash .ci/run" in readme and "tmsphase reproduce --quick" in readme
    command = "python -m pytest -q && python -m pytest -q -m slow"
    assert command in readme and ci.strip().endswith(command)
