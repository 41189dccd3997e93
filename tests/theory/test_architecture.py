"""The layout rules of docs/index.md ("Architecture"), checked on the source of kgon, sampling and theory:
imports point one way (kgon <- sampling <- theory), no import cycle between package files (imports
inside functions included), no module imports another module's private names, modules of at most 600
lines, functions of at most 100, and every import inside a function says why it is deferred."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kgon", "sampling", "theory")
LAYER = {"kgon": 0, "sampling": 1, "theory": 2}
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 100


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path):
    """(statement, imported module, imported names) for every import of a package module in ``path``."""
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] in PACKAGES:
                yield node, module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    yield node, alias.name, []


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for _, module, names in _imports(name, path):
            targets = [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES] or [module]
            edges[name].update(t for t in targets if t in MODULES and t != name)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_imports_point_down_the_layers():
    bad = [(name, module) for name, path in MODULES.items() for _, module, _ in _imports(name, path)
           if LAYER[module.split(".")[0]] > LAYER[name.split(".")[0]]]
    assert bad == []


def test_no_import_cycle_between_package_files():
    assert _cycles(_edges()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_private_name_is_imported_from_another_module():
    bad = [(name, module, n) for name, path in MODULES.items() for _, module, names in _imports(name, path)
           for n in names if n.startswith("_") and not n.startswith("__") and module != name]
    assert bad == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_and_function_length(name):
    path = MODULES[name]
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES
    long_functions = [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(source))
                      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long_functions == []


def _has_reason(lines: list[str], lineno: int) -> bool:
    """A ``deferred`` comment on the import's line or above its block of imports."""
    if "deferred" in lines[lineno - 1]:
        return True
    k = lineno - 2
    while k >= 0:
        text = lines[k].strip()
        if text.startswith("#"):
            return "deferred" in text
        if text == "" or text.startswith(("import ", "from ", ")")) or text.endswith(","):
            if "deferred" in text:
                return True
            k -= 1
            continue
        return False
    return False


def test_every_deferred_import_says_why():
    bad = []
    for name, path in MODULES.items():
        source = path.read_text()
        lines = source.splitlines()
        for fn in ast.walk(ast.parse(source)):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, (ast.Import, ast.ImportFrom)) and not _has_reason(lines, node.lineno):
                        bad.append((name, node.lineno, lines[node.lineno - 1].strip()))
    assert bad == []
