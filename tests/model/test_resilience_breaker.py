"""Circuit breakers in the model: state changes are events with reasons, an open breaker
keeps traffic away, half-open lets a few requests through."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from tests.conftest import run_tables, small_spec


def breaker_spec(**breaker):
    return small_spec(
        duration_s=40.0, instances={"count": 3, "slots": 2},
        workload={"arrivals": {"kind": "poisson", "rate_rps": 60.0},
                  "service": {"kind": "exponential", "mean_s": 0.02}},
        resilience={"circuit_breaker": {"open_duration_s": 2.0, **breaker},
                    "faults": [{"kind": "errors", "target": 1, "fraction": 1.0,
                                "at_s": 10.0, "duration_s": 10.0}]})


def breaker_events(t, subject="instance-1"):
    return [(e["t_s"], e["reason"]) for e in t["events"].to_pylist()
            if e["kind"] == "breaker" and e["subject"] == subject]


def test_breaker_trips_probes_and_closes_with_reasons_in_the_events(tmp_run):
    result, t = run_tables(breaker_spec(consecutive_failures=3, error_rate_threshold="none",
                                        half_open_probes=2), tmp_run)
    events = breaker_events(t)
    reasons = [r for _, r in events]
    assert reasons[0] == "Tripped:ConsecutiveFailures"
    assert reasons[1] == "HalfOpen:Timer"
    assert "Reopened:ProbeFailed" in reasons  # probes during the fault fail
    assert reasons[-2:] == ["HalfOpen:Timer", "Closed:ProbesSucceeded"]
    assert 10.0 < events[0][0] < 11.0
    # open lasts exactly open_duration_s each time
    opens = [ts for ts, r in events if r.startswith(("Tripped", "Reopened"))]
    halves = [ts for ts, r in events if r == "HalfOpen:Timer"]
    assert [h - o for o, h in zip(opens, halves)] == pytest.approx([2.0] * len(opens))
    assert 20.0 <= events[-1][0] <= 23.0  # closes once the fault is over
    assert result.summary["breaker_trips"] == len(opens)
    assert max(t["metrics"]["breakers_open"].to_pylist()) == 1
    # no other breaker moved
    assert all(breaker_events(t, f"instance-{i}") == [] for i in (0, 2))


def test_an_open_breaker_keeps_requests_away_and_half_open_lets_only_the_probes_in(tmp_run):
    result, t = run_tables(breaker_spec(consecutive_failures=3, error_rate_threshold="none",
                                        half_open_probes=2), tmp_run)
    events = breaker_events(t)
    req = t["requests"]
    to_1 = req.filter(pc.equal(req["instance_id"], 1))
    arrivals = to_1["arrival_s"].to_numpy()
    for (t0, r0), (t1, _r1) in zip(events, events[1:]):
        inside = ((arrivals > t0) & (arrivals < t1)).sum()
        if r0.startswith(("Tripped", "Reopened")):
            assert inside == 0, (t0, t1)           # open: nothing
        elif r0 == "HalfOpen:Timer":
            assert inside <= 2, (t0, t1)           # half-open: the probes only
    # errors: the trips, plus the failed probes
    n_open = sum(1 for _, r in events if r.startswith(("Tripped", "Reopened")))
    assert result.summary["error"] <= 3 + 2 * n_open


def test_breaker_trips_on_the_error_rate_over_its_window(tmp_run):
    spec = small_spec(
        duration_s=40.0, instances={"count": 3, "slots": 2},
        workload={"arrivals": {"kind": "poisson", "rate_rps": 90.0},
                  "service": {"kind": "exponential", "mean_s": 0.02}},
        resilience={"circuit_breaker": {"consecutive_failures": "none",
                                        "error_rate_threshold": 0.3, "min_requests": 20,
                                        "window_s": 5.0, "open_duration_s": 3.0},
                    "faults": [{"kind": "errors", "target": 2, "fraction": 0.5,
                                "at_s": 10.0, "duration_s": 15.0}]})
    _, t = run_tables(spec, tmp_run)
    events = breaker_events(t, "instance-2")
    assert events and events[0][1] == "Tripped:ErrorRate" and 10.0 < events[0][0] < 14.0
