"""simscale: a discrete-event simulator and policy testbed for a scaled AI-chat service.

The Python API (docs/api.md): `simscale.load(path, **overrides)` → a spec,
`simscale.run(spec)` → a Run (summary, requests, metrics, events), `simscale.open_run(dir)`,
`simscale.sweep(path)` → a sweep folder, `simscale.compare(*runs)`. They live in
simscale.api and are imported on first use, so `import simscale` stays light.
"""

from __future__ import annotations

import types

__version__ = "0.1.0"

__all__ = ["InputError", "Run", "RunComparison", "SweepRuns", "__version__", "compare", "load",
           "open_run", "run", "sweep"]

_API = {"Run", "RunComparison", "SweepRuns", "compare", "load", "open_run", "run"}


def __getattr__(name: str):
    if name in _API:
        from simscale import api

        return getattr(api, name)
    if name == "InputError":
        from simscale.errors import InputError

        return InputError
    raise AttributeError(f"module 'simscale' has no attribute {name!r}")


class _SweepPackage(types.ModuleType):
    """simscale.sweep is both the sweep package and the function that runs a sweep
    (simscale.api.sweep): importing a submodule sets the package as this attribute, so the
    package itself is made callable."""

    def __call__(self, *args, **kwargs):
        from simscale.api import sweep

        return sweep(*args, **kwargs)


def _callable_sweep_package() -> None:
    from simscale import sweep as package  # its __init__ is a docstring: cheap

    package.__class__ = _SweepPackage


_callable_sweep_package()
