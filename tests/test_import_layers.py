"""The packages import in one direction: no cycle, not even one hidden behind TYPE_CHECKING."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tap_zohocrm", "target_sqlite_audit", "zoho_crm_emulator", "zoho_crm_insights")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (runtime and TYPE_CHECKING imports alike)."""
    modules = {
        _module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                base = node.module
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    targets.add(submodule if submodule in modules else base)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _package_inits_excluded(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    # A package's __init__ re-exports its modules for users; the modules never import it back
    # (checked below), so edges into an __init__ are not layering.
    return {node: {t for t in targets if t not in PACKAGES} for node, targets in graph.items()}


def test_no_module_imports_its_own_package_init():
    graph = import_graph()
    for node, targets in graph.items():
        package = node.split(".")[0]
        if node != package:
            assert package not in targets or node.count(".") == 0, node


def test_there_is_no_import_cycle_even_behind_type_checking():
    assert cycles(_package_inits_excluded(import_graph())) == []


def test_a_cycle_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize(
    ("lower", "upper"),
    [
        ("tap_zohocrm.client", "tap_zohocrm.tap"),
        ("tap_zohocrm.client", "tap_zohocrm.streams"),
        ("target_sqlite_audit.store", "target_sqlite_audit.target"),
        ("target_sqlite_audit.sinks", "target_sqlite_audit.target"),
        ("tap_zohocrm.tap", "tap_zohocrm.cli"),
    ],
)
def test_a_lower_layer_never_imports_a_higher_one(lower, upper):
    graph = import_graph()
    seen, todo = set(), [lower]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        todo.extend(graph.get(node, ()))
    assert upper not in seen
