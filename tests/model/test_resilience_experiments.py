"""Every spec in experiments/resilience/ runs at a short horizon, with its faults in it."""

from __future__ import annotations

import pytest

from simscale.runner import run
from simscale.spec import load_spec
from tests.conftest import ROOT

SPECS = sorted((ROOT / "experiments" / "resilience").glob("*.toml"))


def test_the_resilience_experiments_are_there():
    names = {p.stem for p in SPECS}
    assert {"failover_drill", "gray_failure_round_robin", "gray_failure_least_response_time",
            "retry_storm_budget", "retry_storm_no_budget"} <= names


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_resilience_experiment_runs_at_a_short_horizon(path):
    spec = load_spec(path)
    first_fault = min(f.at_s for f in spec.resilience.faults)
    short = load_spec(path, [f"duration_s={first_fault + 15.0}"])
    assert short.name == path.stem and short.description
    s = run(short, None).summary
    assert s["complete"]
    assert s["arrivals"] == s["ok"] + s["error"] + s["timeout"] + s["rejected"] > 1000
    assert s["faults"] >= 1
