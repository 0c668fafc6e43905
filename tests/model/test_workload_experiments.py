"""Every workload experiment runs at a short horizon; the stress test finds a breaking point."""

from __future__ import annotations

import pytest

from simscale.runner import run
from simscale.spec import load_spec
from tests.conftest import ROOT, small_spec

FOLDERS = ("load_tests", "traces", "workload")
SPECS = sorted(p for folder in FOLDERS for p in (ROOT / "experiments" / folder).glob("*.toml"))


def test_the_load_tests_are_all_there():
    names = {p.stem for p in SPECS if p.parent.name == "load_tests"}
    assert names == {"smoke", "ramp", "spike", "soak", "stress"}
    assert {p.stem for p in SPECS if p.parent.name == "traces"} == {
        "azure_conv", "azure_code", "mooncake_conversation"}


@pytest.mark.parametrize("path", SPECS, ids=[f"{p.parent.name}/{p.stem}" for p in SPECS])
def test_experiment_runs_short(path):
    spec = load_spec(path, ["duration_s=20", "metrics.interval_s=5"])
    s = run(spec, None).summary
    assert s["complete"] and s["arrivals"] > 0
    assert s["arrivals"] == s["ok"] + s["error"] + s["timeout"] + s["rejected"]
    if path.stem == "stress":
        assert s["stress_steps_held"] >= 0 and "stress_breaking_rps" in s
    if path.parent.name == "traces":
        assert s["trace_skipped_rows"] == 0


def test_stress_reports_the_breaking_point():
    """One M/D/1 server of capacity 100 rps offered 20, 40, ... rps a step: the p95 stays
    far below 0.1 s up to 60 rps (rho 0.6) and is far above it at 120 rps (overload)."""
    arrivals = {"kind": "stairs", "start_rps": 20.0, "step_rps": 20.0, "step_s": 30.0,
                "steps": 6, "slo_p95_s": 0.1}
    spec = small_spec(duration_s=180.0, workload={
        "arrivals": arrivals, "service": {"kind": "deterministic", "value_s": 0.01}},
        instances={"count": 1, "slots": 1}, timeouts={"request_s": 5.0})
    s = run(spec, None).summary
    assert s["stress_breaking_rps"] in (80.0, 100.0, 120.0)
    assert s["stress_max_ok_rps"] == s["stress_breaking_rps"] - 20.0
    assert s["stress_steps_held"] == s["stress_max_ok_rps"] / 20.0
    assert s["stress_breaking_p95_s"] > 0.1


def test_stress_with_no_break_reports_the_top_step():
    arrivals = {"kind": "stairs", "start_rps": 5.0, "step_rps": 5.0, "step_s": 20.0,
                "steps": 3, "slo_p95_s": 1.0}
    spec = small_spec(duration_s=60.0, workload={"arrivals": arrivals})
    s = run(spec, None).summary
    assert s["stress_breaking_rps"] is None and s["stress_max_ok_rps"] == 15.0
    assert s["stress_steps_held"] == 3
