"""Spec builders and one-call exports for the export tests."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

from simscale.export.plan import plan_from_spec
from simscale.export.targets import export_plan, write_export
from simscale.export.validate import FAILED, SKIPPED, validate_files
from simscale.spec import spec_from_dict
from tests.conftest import ROOT, in_ci

EXAMPLES = ROOT / "experiments" / "export"

BASE = {
    "name": "chat",
    "duration_s": 60.0,
    "seed": 3,
    "workload": {"arrivals": {"kind": "poisson", "rate_rps": 20.0},
                 "service": {"kind": "exponential", "mean_s": 0.05}},
    "instances": {"count": 3, "slots": 4, "cores": 2},
}

needs_nginx = pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx not installed")
needs_haproxy = pytest.mark.skipif(shutil.which("haproxy") is None,
                                   reason="haproxy not installed")
needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None,
                                 reason="redis-server not installed")


def spec_data(**sections) -> dict:
    """BASE with top-level sections or fields replaced (deep-copied)."""
    data = copy.deepcopy(BASE)
    data.update(copy.deepcopy(sections))
    return data


def make_spec(**sections):
    return spec_from_dict(spec_data(**sections))


def export(spec, target: str, **plan_options):
    """The Export of `spec` for `target` (simscale's own checks included)."""
    return export_plan(plan_from_spec(spec, **plan_options), target)


def export_and_validate(spec, target: str, out: Path, **plan_options):
    """Export, write, run the real tools; assert none failed. Returns (export, results)."""
    exported = export(spec, target, **plan_options)
    write_export(exported, out)
    results = validate_files(target, out, list(exported.files))
    failed = [str(r) for r in results if r.status == FAILED]
    assert not failed, "\n".join(failed)
    missing = [str(r) for r in results if r.status == SKIPPED and "not installed" in r.detail]
    if missing and in_ci():
        pytest.fail("a validator is missing in CI:\n" + "\n".join(missing))
    return exported, results


def ran(results, tool_prefix: str) -> bool:
    """Whether a tool whose name starts with tool_prefix ran (not skipped) on some file."""
    return any(r.tool.startswith(tool_prefix) and r.status != SKIPPED for r in results)


def loss_fields(exported) -> set[str]:
    return {loss.feature for loss in exported.losses}
