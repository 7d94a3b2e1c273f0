"""No import cycle among the work and entry layers (tasks, flows, deploy).

The graph is read from the source with ``ast``: every ``import thidua…`` and ``from thidua… import …``, at the
top of a module or inside a function (a deferred import still ties the two modules together). ``from package
import name`` counts as an import of the submodule when ``name`` is one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOP_LEVEL = ("models", "tasks", "flows", "notifications", "deploy")
CHECKED = ("thidua.tasks", "thidua.flows", "thidua.deploy")

# Cycles still present, each as its sorted list of modules; the list is empty once every cycle is removed.
ALLOWED: list[list[str]] = []


def module_files(root: Path) -> dict[str, Path]:
    """Module name → source file, for every module under the installed top-level folders."""
    modules: dict[str, Path] = {}
    for top in TOP_LEVEL:
        for path in sorted((root / top).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(["thidua", *parts])] = path
    return modules


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module → the thidua modules it imports (anywhere in its body)."""
    modules = module_files(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    targets.add(submodule if submodule in modules else base)
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a deep chain of imports cannot exhaust the recursion limit.
        work: list[tuple[str, Iterable[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component: list[str] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return sorted(found)


def checked_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycles that pass through tasks, flows or deploy, less the allowed ones."""
    return [
        component
        for component in cycles(graph)
        if any(member.startswith(CHECKED) for member in component) and component not in ALLOWED
    ]


def test_no_import_cycle_among_tasks_flows_and_deploy() -> None:
    assert checked_cycles(import_graph(ROOT)) == []


def test_the_graph_sees_top_level_and_deferred_imports() -> None:
    graph = import_graph(ROOT)
    # Deferred: the reminders write the unit's report template through the collect stage.
    assert "thidua.tasks.collect.reports" in graph["thidua.tasks.remind.reminders"]
    # Top level: report ingestion reads the reminder key format from the pure rules, not the remind stage.
    assert "thidua.models.reminders" in graph["thidua.tasks.collect.reports"]
    assert "thidua.tasks.remind.reminders" not in graph["thidua.tasks.collect.reports"]


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        # The two cycles issue 10 removed, as they stood: reminders ↔ reports, cli ↔ demo.
        (
            {
                "thidua.tasks.remind.reminders": {"thidua.tasks.collect.reports"},
                "thidua.tasks.collect.reports": {"thidua.tasks.remind.reminders"},
            },
            [["thidua.tasks.collect.reports", "thidua.tasks.remind.reminders"]],
        ),
        (
            {
                "thidua.deploy.cli": {"thidua.deploy.demo.tuyen_quang"},
                "thidua.deploy.demo.tuyen_quang": {"thidua.deploy.demo.months"},
                "thidua.deploy.demo.months": {"thidua.deploy.cli"},
            },
            [["thidua.deploy.cli", "thidua.deploy.demo.months", "thidua.deploy.demo.tuyen_quang"]],
        ),
        # A cycle only among models is outside what this test guards.
        ({"thidua.models.a": {"thidua.models.b"}, "thidua.models.b": {"thidua.models.a"}}, []),
        ({"thidua.tasks.a": {"thidua.models.b"}, "thidua.models.b": set()}, []),
    ],
)
def test_a_cycle_through_the_work_or_entry_layer_is_found(
    edges: dict[str, set[str]], expected: list[list[str]]
) -> None:
    assert checked_cycles(edges) == expected


def test_deferred_imports_count(tmp_path: Path) -> None:
    for top in TOP_LEVEL:
        (tmp_path / top).mkdir()
    (tmp_path / "tasks" / "__init__.py").write_text("")
    (tmp_path / "tasks" / "a.py").write_text("def f() -> None:\n    from thidua.tasks import b\n")
    (tmp_path / "tasks" / "b.py").write_text("from thidua.tasks.a import f\n")

    assert checked_cycles(import_graph(tmp_path)) == [["thidua.tasks.a", "thidua.tasks.b"]]
