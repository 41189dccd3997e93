"""Write a benchmark's results into its own section of ``docs/benchmarks.md``.

Each benchmark owns the section between ``<!-- bench:NAME:start -->`` and ``<!-- bench:NAME:end -->``;
re-running it replaces that section and leaves the others alone.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import time
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
_HEADER = (
    "# Benchmarks\n\n"
    "Speed is measured as ratios against a baseline run in the same process on the same machine; "
    "each section is written by the script named in it (`python tests/benchmarks/<script>`).\n"
)


def best_of(fn, repeats: int) -> float:
    """Shortest wall time of ``repeats`` calls of ``fn()`` (seconds)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def read_rows(path: Path) -> list[dict]:
    """The JSON lines of a benchmark's results file (one estimate per line), in order."""
    return [json.loads(x) for x in path.read_text().splitlines()]


def append_row(path: Path, rec: dict) -> None:
    """Append one result to a benchmark's results file (created with its folder), so an interrupted run
    keeps every finished row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(json.dumps(rec) + "\n")


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_section(name: str, title: str, body: str, script: str) -> None:
    """Replace (or append) the section ``name`` of docs/benchmarks.md."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = (
        f"{start}\n## {title}\n\n_Script: `tests/benchmarks/{script}`; run {stamp} on {machine()}._\n\n"
        f"{body.strip()}\n{end}"
    )
    text = DOC.read_text() if DOC.exists() else _HEADER
    if start in text and end in text:
        pre, rest = text.split(start, 1)
        _, post = rest.split(end, 1)
        text = pre + block + post
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    tmp = DOC.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(DOC)
