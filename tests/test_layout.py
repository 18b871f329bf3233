"""The package's shape, drawn from the code: no import circle, small modules, few at the top.

The import graph holds every import in the code: at module level, inside a function, and under
``if TYPE_CHECKING:`` (a circle of annotations is still a circle of dependencies). Importing
``a.b.c`` also runs the packages ``a`` and ``a.b``, so those are edges too (except the
importer's own packages, which are already being imported). With function-level imports in the
graph, an acyclic graph means no import sits in a function to dodge a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "digest"
MAX_LINES = 400
MAX_TOP_LEVEL = 20


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph() -> dict[str, set[str]]:
    """Module → the digest modules importing it runs."""
    mods = modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: list[str] = []
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets += [alias.name for alias in node.names]
                continue
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in mods else base)
        own = set(_ancestors(name))
        for target in targets:
            if target not in mods or target == name:
                continue
            graph[name].add(target)
            graph[name].update(a for a in _ancestors(target) if a in mods and a not in own)
        graph[name].discard(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle() -> None:
    assert cycles(import_graph()) == []


def test_the_graph_sees_a_circle_hidden_in_a_function(tmp_path: Path) -> None:
    graph = import_graph()
    graph["digest.errors"] = {*graph["digest.errors"], "digest.pipeline"}  # errors → the top
    found = cycles(graph)
    assert found and "digest.errors" in found[0] and "digest.pipeline" in found[0]


def test_function_level_and_annotation_imports_are_in_the_graph() -> None:
    graph = import_graph()
    assert "digest.store.runs" in graph["digest.periods"]  # under TYPE_CHECKING
    # plugins.builtins imports the SMTP backend only when it is chosen: still an edge.
    assert "digest.delivery.smtp" in graph["digest.plugins.builtins"]
    # collect imports digest.sources.feed.fetch, which runs the packages above it first.
    assert {"digest.sources", "digest.sources.feed"} <= graph["digest.collect"]


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_over_400_lines(name: str) -> None:
    lines = len(modules()[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name}: {lines} lines; split it"


def test_at_most_20_top_level_modules() -> None:
    top = [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert len(top) <= MAX_TOP_LEVEL, sorted(top)
