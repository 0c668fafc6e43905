"""The resilience experiments are all there and each puts its fault in the run. What each
shows is checked beside its mechanism: test_resilience_failover.py (failover_drill),
test_resilience_balancing.py (the gray failure pair), test_resilience_retry.py (the retry
storm pair); tests/test_experiments.py checks that each conserves its requests."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT

SPECS = sorted((ROOT / "experiments" / "resilience").glob("*.toml"))


def test_the_resilience_experiments_are_there():
    names = {p.stem for p in SPECS}
    assert {"failover_drill", "gray_failure_round_robin", "gray_failure_least_response_time",
            "retry_storm_budget", "retry_storm_no_budget"} <= names


@pytest.mark.shipped(*[(f"resilience/{p.name}",) for p in SPECS])
@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_each_fault_happens_within_the_suites_horizon(shipped, path):
    run = shipped(f"resilience/{path.name}")
    assert run.spec.name == path.stem and run.spec.description
    first_fault = min(f.at_s for f in run.spec.resilience.faults)
    assert first_fault + 15.0 <= run.spec.duration_s
    assert run.summary["faults"] >= 1
    assert run.summary["arrivals"] > 1000
