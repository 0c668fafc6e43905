"""A newcomer can read every room: files under 500 lines, functions under 60, no import of a
private name from another package, no import cycle between modules (docs/architecture.md).

Checked over all of simscale/ and the policy registry; tests/test_rooms.py adds the model's
own rules (data flowing one way, components seeing the model only through its seam).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

ROOMS = ["simscale", "policies/registry.py"]
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60


def room_files() -> list[Path]:
    files: list[Path] = []
    for room in ROOMS:
        path = ROOT / room
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> str:
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_rooms_are_there():
    files = [rel(f) for f in room_files()]
    assert len(files) >= 150 and all((ROOT / f).is_file() for f in files)
    assert {"simscale/commands/run.py", "simscale/export/targets.py", "simscale/tui/app.py",
            "simscale/model/core.py", "simscale/workload/users.py",
            "simscale/outputs/columns.py", "policies/registry.py"} <= set(files)


def test_no_file_over_500_lines():
    long = {rel(f): n for f in room_files()
            if (n := f.read_text().count("\n")) > MAX_FILE_LINES}
    assert long == {}


def test_no_function_over_60_lines():
    long = []
    for f in room_files():
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{rel(f)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


def imported(path: Path, top_level_only: bool = False) -> list[tuple[str, str | None]]:
    """(module, name) of each import in a file ((module, None) for `import module`)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out: list[tuple[str, str | None]] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = package_of(path).split(".")
                base = ".".join(package[: len(package) - node.level + 1] + [base]).strip(".")
            out += [(base, alias.name) for alias in node.names]
    return out


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_owner(module: str, name: str | None) -> str | None:
    """The package that owns a private name an import reaches (`from pkg._mod import x`,
    `from pkg.mod import _x`), or None when the import is public."""
    parts = module.split(".")
    for i, part in enumerate(parts):
        if is_private(part):
            return ".".join(parts[:i])
    if name is not None and is_private(name):
        is_package = (ROOT / module.replace(".", "/")).is_dir()
        return module if is_package else module.rpartition(".")[0]
    return None


@pytest.mark.parametrize("module, name, owner", [
    ("policies.autoscalers._inner", "inner_config", "policies.autoscalers"),
    ("simscale.monitoring.windows", "_number", "simscale.monitoring"),
    ("simscale.sections", "_OpenLoop", "simscale.sections"),
    ("simscale.monitoring.windows", "as_number", None),
    ("typing", None, None),
])
def test_private_owner(module, name, owner):
    assert private_owner(module, name) == owner


def test_no_private_name_is_imported_from_another_package():
    leaks = [f"{rel(f)}: {module}{'' if name is None else '.' + name}"
             for f in room_files() for module, name in imported(f)
             if private_owner(module, name) not in (None, package_of(f))]
    assert leaks == []


def test_no_import_cycle_between_modules():
    """Module-level imports only (an import inside a function runs later, when asked)."""
    files = {module_name(f): f for f in room_files()}
    graph: dict[str, set[str]] = {}
    for name, f in files.items():
        targets = set()
        for module, imported_name in imported(f, top_level_only=True):
            for candidate in (f"{module}.{imported_name}", module):
                if candidate in files and candidate != name:
                    targets.add(candidate)
                    break
        graph[name] = targets
    cycles = [c for c in strongly_connected(graph) if len(c) > 1]
    assert cycles == []


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(sorted(component))
    return out


@pytest.mark.parametrize("graph, cycles", [
    ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
])
def test_the_cycle_finder_finds_cycles(graph, cycles):
    assert [c for c in strongly_connected(graph) if len(c) > 1] == cycles
