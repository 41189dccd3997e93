"""Every ```python block of README.md and docs/tutorial.md runs as written.

The blocks of one file run in order in one fresh interpreter (a subprocess: nothing configured by
this test session, such as ``kgon.configure_jax()``, leaks into them), in a temporary working
directory, with ``MPLBACKEND=Agg``. The default c = 6 catalogue comes from the session's frozen cache
(tests/conftest.py), inherited through ``$TMSPHASE_CACHE``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

RUNNER = """
import json, sys, traceback
blocks = json.load(sys.stdin)
namespace = {"__name__": "__main__"}
for i, block in enumerate(blocks, 1):
    try:
        exec(compile(block, f"<python block {i}>", "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        print(f"python block {i} of {len(blocks)} failed:\\n{block}", file=sys.stderr)
        sys.exit(1)
"""


def python_blocks(path: Path) -> list[str]:
    """The contents of the ```python fenced blocks of a Markdown file, in order."""
    return re.findall(r"^```python\n(.*?)^```", path.read_text(encoding="utf-8"), flags=re.M | re.S)


def test_python_blocks_are_found():
    blocks = python_blocks(ROOT / "README.md")
    assert blocks and "kgon.configure_jax()" in blocks[0]
    assert python_blocks(ROOT / "docs" / "tutorial.md")


@pytest.mark.parametrize("page", [
    "README.md",
    # slow: the tutorial samples the posterior by parallel tempering (about a minute of compilation)
    pytest.param("docs/tutorial.md", marks=pytest.mark.slow),
])
def test_python_blocks_run(page, tmp_path):
    blocks = python_blocks(ROOT / page)
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(blocks), capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=600)
    assert proc.returncode == 0, f"{page}:\n{proc.stderr[-4000:]}"
