"""The package's modules import one another in one direction only: no cycle anywhere."""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import activecalls_async

PACKAGE = "activecalls_async"
ROOT = Path(activecalls_async.__file__).parent


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {PACKAGE: ROOT / "__init__.py"}
    for info in pkgutil.walk_packages([str(ROOT)], prefix=f"{PACKAGE}."):
        relative = Path(*info.name.split(".")[1:])
        path = ROOT / relative / "__init__.py" if info.ispkg else ROOT / f"{relative}.py"
        found[info.name] = path
    return found


def imported(name: str, path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``name`` imports anywhere (type-checking imports too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # `from . import _validators` imports a module; `from . import X` of
                # anything else goes through the package's __init__.
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in modules else base)
    return {target for target in targets if target in modules and target != name}


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    modules = set(files)
    return {name: imported(name, path, modules) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: fully explored
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_module_imports_one_that_imports_it_back() -> None:
    # The package's __init__ stays in the graph: a module importing a name through it
    # while the __init__ imports that module is a cycle too.
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_request_path_points_down() -> None:
    graph = import_graph()
    http = f"{PACKAGE}._wire.http"
    assert f"{PACKAGE}.auth" in graph[f"{PACKAGE}._transport"]
    assert http in graph[f"{PACKAGE}._transport"]
    for module in graph:
        if module.startswith(f"{PACKAGE}.auth"):
            assert f"{PACKAGE}._transport" not in graph[module]
    assert f"{PACKAGE}._transport" not in graph[http]
    assert not any(imported.startswith(f"{PACKAGE}.auth") for imported in graph[http])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
