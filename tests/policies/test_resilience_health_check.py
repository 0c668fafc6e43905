"""Active health checking: rise/fall thresholds, Envoy's first-check rule, timeouts."""

from __future__ import annotations

import pytest

from policies.resilience import HEALTHY, UNHEALTHY, HealthCheckConfig, HealthChecker

DEFAULT = HealthCheckConfig()  # HAProxy: inter 2s, rise 2, fall 3; starts unhealthy (Envoy)
FROM_UP = HealthCheckConfig(start_healthy=True)

# steps: (ok, latency_s or None, expected reason or None); probes every 2 s
CASES = {
    "first pass makes a new instance healthy": (DEFAULT, [
        (True, None, "Healthy:FirstCheck"),
    ]),
    "a failed first probe means the full rise is needed": (DEFAULT, [
        (False, None, None), (True, None, None), (True, None, "Healthy:ChecksPassed"),
    ]),
    "fall after three failures, rise after two passes": (FROM_UP, [
        (False, None, None), (False, None, None), (False, None, "Unhealthy:ChecksFailed"),
        (True, None, None), (True, None, "Healthy:ChecksPassed"),
    ]),
    "an interrupted streak starts over": (FROM_UP, [
        (False, None, None), (False, None, None), (True, None, None),
        (False, None, None), (False, None, None), (False, None, "Unhealthy:ChecksFailed"),
        (True, None, None), (False, None, None), (True, None, None),
        (True, None, "Healthy:ChecksPassed"),
    ]),
    "a slow probe is a failed probe": (FROM_UP, [
        (True, 0.5, None), (True, 1.5, None), (True, 1.5, None),
        (True, 1.01, "Unhealthy:Timeout"),
    ]),
    "passes while healthy change nothing": (FROM_UP, [
        (True, None, None), (True, None, None),
    ]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_health_script(name):
    config, steps = CASES[name]
    checker = HealthChecker(config)
    for step, (ok, latency_s, expected) in enumerate(steps):
        transition = checker.record_probe(ok, 2.0 * step, latency_s)
        got = None if transition is None else transition.reason
        assert got == expected, f"probe {step}"


def test_transition_carries_states():
    checker = HealthChecker(HealthCheckConfig(unhealthy_threshold=1, start_healthy=True))
    assert checker.record_probe(False, 0.0) == (HEALTHY, UNHEALTHY, "Unhealthy:ChecksFailed")
    assert checker.state == UNHEALTHY and not checker.healthy


def test_probe_schedule_uses_the_unhealthy_interval_while_down():
    checker = HealthChecker(HealthCheckConfig(interval_s=2.0, unhealthy_interval_s=10.0,
                                              unhealthy_threshold=1, start_healthy=True))
    assert checker.next_probe_s(0.0) == 0.0
    checker.record_probe(True, 0.0)
    assert checker.next_probe_s(0.5) == 2.0
    checker.record_probe(False, 2.0)
    assert checker.next_interval_s == 10.0 and checker.next_probe_s(2.5) == 12.0
