"""policies/ is production code: every module imports with the simulator's stack unavailable."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import policies
from tests.conftest import ROOT

BLOCKED = ("simpy", "simscale", "textual", "pydantic")


def policy_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(policies.__path__, "policies."))


def test_every_policy_module_imports_without_the_simulator():
    modules = policy_modules()
    assert "policies.runtime" in modules and "policies.balancers.round_robin" in modules
    script = (
        "import sys\n"
        f"for name in {BLOCKED!r}:\n"
        "    sys.modules[name] = None  # makes `import name` raise ImportError\n"
        "import importlib\n"
        f"for module in {modules!r}:\n"
        "    importlib.import_module(module)\n"
        "import policies\n"
        "policies.entries()\n"
        "print('imported', len(" + repr(modules) + "))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert f"imported {len(modules)}" in proc.stdout


def test_the_block_itself_works():
    """The subprocess trick must really make the simulator unimportable."""
    script = "import sys\nsys.modules['simpy'] = None\nimport simpy\n"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr
