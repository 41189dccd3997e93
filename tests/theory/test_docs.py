"""README gives the two required commands and its command table matches the parser (the API reference:
test_docs_site.py)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_commands_match_ci():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash .ci/run" in readme and "tmsphase reproduce --quick" in readme
    command = "python -m pytest -q -n auto --dist loadscope --no-loadscope-reorder && python -m pytest -q -m slow"
    assert command in readme and ci.strip().endswith(command)


def test_readme_command_table_matches_the_parser():
    """README's command table lists exactly the subcommands of ``tmsphase``, and each row's options exist."""
    import argparse
    import re

    from theory.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Command line"):].split("\n## ")[0]
    rows = re.findall(r"^\| `tmsphase ([a-z-]+)([^`]*)` \|", table, flags=re.M)
    assert sorted(name for name, _ in rows) == sorted(sub.choices)
    for name, rest in rows:
        known = set(sub.choices[name]._option_string_actions)
        flags = set(re.findall(r"(--[a-z-]+)", rest))
        assert flags <= known, f"README row of {name} names {flags - known}, not options of the command"
