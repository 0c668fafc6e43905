"""The model's own house rules, read from the source: data flowing one way (workload → model →
outputs), and components that see the model only through its seam (simscale.model.seam).
The rules every room keeps (file and function size, private names, import cycles) are in
tests/test_structure.py."""

from __future__ import annotations

import ast

import pytest

from simscale.model.seam import Cluster
from tests.conftest import ROOT
from tests.test_structure import imported, module_name

# Modules of the model that are its core (they are the Cluster) or the seam itself.
CORE = {"simscale.model", "simscale.model.core", "simscale.model.lifecycle",
        "simscale.model.window", "simscale.model.seam", "simscale.model.components",
        "simscale.model.runner", "simscale.model.instance", "simscale.model.request",
        "simscale.model.events", "simscale.model.scopes", "simscale.model.stages"}
ALL_MODULES = {module_name(p): p for p in sorted((ROOT / "simscale").rglob("*.py"))}


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
        for source, _ in imported(path):
            if source.startswith(never):
                wrong.append(f"{module} imports {source}")
    assert wrong == []


def cluster_members() -> set[str]:
    return {name for name in dir(Cluster) if not name.startswith("_")} | set(
        Cluster.__annotations__)


def test_components_see_the_model_only_as_a_cluster():
    members = cluster_members()
    component_modules = {m: p for m, p in ALL_MODULES.items()
                         if m.startswith("simscale.model.") and m not in CORE}
    component_modules["simscale.workload.users"] = ALL_MODULES["simscale.workload.users"]
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
        for source, _ in imported(path):
            if source == "simscale.model.core":
                wrong.append(f"{module} imports the model core")
    assert wrong == []
