"""The model's house rules, read from the source: small files and functions, public names
only across packages, no module-level import cycle, data flowing one way (workload → model →
outputs), and components that see the model only through its seam (simscale.model.seam)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from simscale.model.seam import Cluster

ROOT = Path(__file__).resolve().parent.parent
# The rooms these rules are checked in (the rest of simscale follows them too once reshaped).
ROOMS = ("simscale/model", "simscale/workload", "simscale/outputs")
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60
# Modules of the model that are its core (they are the Cluster) or the seam itself.
CORE = {"simscale.model", "simscale.model.core", "simscale.model.lifecycle",
        "simscale.model.window", "simscale.model.seam", "simscale.model.components",
        "simscale.model.runner", "simscale.model.instance", "simscale.model.request",
        "simscale.model.events", "simscale.model.scopes", "simscale.model.stages"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(*folders: str) -> dict[str, Path]:
    return {module_name(p): p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))}


ROOM_MODULES = modules(*ROOMS)
ALL_MODULES = modules("simscale")


def imports(tree: ast.Module, module_level: bool) -> list[tuple[str, str | None]]:
    """(module, imported name or None) of each import: at module level only (not inside
    functions, not under `if TYPE_CHECKING`), or everywhere."""
    found = []
    nodes = tree.body if module_level else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.module, a.name) for a in node.names]
    return found


def resolve(name: str, known: dict) -> str | None:
    """The module an import reaches: the longest known prefix of `name`."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, path in mods.items():
        for module, name in imports(ast.parse(path.read_text()), module_level=True):
            target = resolve(f"{module}.{name}" if name else module, mods)
            if target is not None and target != m:
                graph[m].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def package_of(module: str, mods: dict[str, Path]) -> str:
    """A module's package: itself for a package's __init__, else its parent."""
    return module if mods[module].name == "__init__.py" else module.rpartition(".")[0]


# ---------------------------------------------------------------- the checkers, checked


def test_the_cycle_finder_finds_a_cycle_and_nothing_else():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_reader_skips_function_level_imports():
    tree = ast.parse("import a\nfrom b import c\ndef f():\n    import d\n")
    assert imports(tree, module_level=True) == [("a", None), ("b", "c")]
    assert ("d", None) in imports(tree, module_level=False)


# ---------------------------------------------------------------- the rules


@pytest.mark.parametrize("module", sorted(ROOM_MODULES))
def test_files_and_functions_are_small(module):
    text = ROOM_MODULES[module].read_text()
    assert text.count("\n") <= MAX_FILE_LINES, f"{module}: over {MAX_FILE_LINES} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{module}.{node.name}: {length} lines"


def test_no_private_name_crosses_a_package():
    wrong = []
    for module, path in ALL_MODULES.items():
        for source, name in imports(ast.parse(path.read_text()), module_level=False):
            target = resolve(source, ALL_MODULES)
            names = [name] if name else source.split(".")
            private = [n for n in names if n and n.startswith("_") and not n.startswith("__")]
            if not private or target is None:
                continue
            crosses = package_of(target, ALL_MODULES) != package_of(module, ALL_MODULES)
            touches_rooms = module in ROOM_MODULES or target in ROOM_MODULES
            if crosses and touches_rooms:
                wrong.append(f"{module} imports {source}.{private[0]}")
    assert wrong == []


def test_no_module_level_import_cycle():
    assert cycles(import_graph(ALL_MODULES)) == []


@pytest.mark.parametrize(("room", "never"), [
    ("simscale.workload", ("simscale.model",)),
    ("simscale.outputs", ("simscale.model", "simscale.workload")),
])
def test_data_flows_one_way(room, never):
    """The workload never imports the model; outputs import neither (anywhere, not only at
    module level): workload → model → outputs."""
    wrong = []
    for module, path in ALL_MODULES.items():
        if module != room and not module.startswith(room + "."):
            continue
        for source, _ in imports(ast.parse(path.read_text()), module_level=False):
            if source.startswith(never):
                wrong.append(f"{module} imports {source}")
    assert wrong == []


def cluster_members() -> set[str]:
    return {name for name in dir(Cluster) if not name.startswith("_")} | set(
        Cluster.__annotations__)


def test_components_see_the_model_only_as_a_cluster():
    members = cluster_members()
    component_modules = {m: p for m, p in ROOM_MODULES.items()
                         if m.startswith("simscale.model.") and m not in CORE}
    component_modules["simscale.workload.users"] = ROOM_MODULES["simscale.workload.users"]
    assert len(component_modules) > 10
    wrong = []
    for module, path in component_modules.items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "model":
                wrong.append(f"{module}:{node.lineno}: uses a `model`")
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute | ast.Name)
                    and getattr(node.value, "attr", getattr(node.value, "id", "")) == "cluster"
                    and node.attr not in members):
                wrong.append(f"{module}:{node.lineno}: cluster.{node.attr} is not in the seam")
        for source, _ in imports(tree, module_level=False):
            if source == "simscale.model.core":
                wrong.append(f"{module} imports the model core")
    assert wrong == []
