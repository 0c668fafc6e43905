"""Fault injection: every kind keeps conservation, is an event at its start and end, and does
what it says (hang, gray errors with outlier ejection, latency spike, zone loss, drain)."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simscale.model.runner import run
from tests.conftest import run_tables, small_spec

ZONES = ["a", "b"]  # with 3 instances: a = {0, 2}, b = {1}


def _lasting(draw, fault: dict) -> dict:
    end = draw(st.sampled_from(["none", "duration", "recover"]))
    if end == "duration":
        fault["duration_s"] = draw(st.floats(0.1, 15.0))
    elif end == "recover":
        fault["recover_at_s"] = fault["at_s"] + draw(st.floats(0.1, 15.0))
    return fault


@st.composite
def faults(draw) -> dict:
    kind = draw(st.sampled_from(["crash", "slow", "errors", "hang", "zone_loss",
                                 "latency_spike", "drain"]))
    fault = {"kind": kind, "at_s": draw(st.floats(0.0, 18.0))}
    instance = st.integers(0, 2)
    if kind == "zone_loss":
        fault["target"] = draw(st.sampled_from(ZONES))
    elif kind == "latency_spike":
        fault["target"] = draw(st.one_of(st.none(), instance, st.sampled_from(ZONES)))
        fault["extra_latency_s"] = draw(st.floats(0.001, 0.5))
    else:
        fault["target"] = draw(instance)
    if kind == "slow":
        fault["factor"] = draw(st.floats(1.0, 20.0))
    elif kind == "errors":
        fault["fraction"] = draw(st.floats(0.01, 1.0))
    if kind == "drain":
        fault["drain_timeout_s"] = draw(st.floats(0.05, 5.0))
        return fault
    return _lasting(draw, fault)


@st.composite
def resilience(draw) -> dict:
    section: dict = {"faults": draw(st.lists(faults(), min_size=1, max_size=6)),
                     "panic_threshold_percent": draw(st.sampled_from([0.0, 50.0, 100.0]))}
    if draw(st.booleans()):
        section["health_check"] = {"interval_s": draw(st.floats(0.2, 3.0)),
                                   "timeout_s": draw(st.floats(0.05, 2.0)),
                                   "unhealthy_threshold": draw(st.integers(1, 3)),
                                   "healthy_threshold": draw(st.integers(1, 3))}
    if draw(st.booleans()):
        section["outlier_detection"] = {"consecutive_5xx": draw(st.integers(1, 5)),
                                        "base_ejection_time_s": draw(st.floats(0.5, 5.0)),
                                        "max_ejection_percent": draw(st.floats(0.0, 100.0))}
    if draw(st.booleans()):
        section["circuit_breaker"] = {"consecutive_failures": draw(st.integers(1, 5)),
                                      "min_requests": draw(st.integers(1, 20)),
                                      "open_duration_s": draw(st.floats(0.1, 5.0)),
                                      "half_open_probes": draw(st.integers(1, 3))}
    if draw(st.booleans()):
        section["retry"] = {"max_attempts": draw(st.integers(1, 4)),
                            "per_try_timeout_s": draw(st.one_of(st.none(),
                                                                st.floats(0.02, 1.0))),
                            "budget_ratio": draw(st.one_of(st.none(), st.floats(0.0, 1.0)))}
    if draw(st.booleans()):
        section["slow_start"] = {"window_s": draw(st.floats(0.5, 10.0))}
    return section


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(section=resilience(), rate=st.floats(20.0, 300.0), seed=st.integers(0, 2**32),
       timeout=st.one_of(st.none(), st.floats(0.1, 5.0)),
       policy=st.sampled_from(["round_robin", "power_of_two_choices", "least_connections",
                               "random"]))
def test_every_arrival_ends_once_under_any_mix_of_faults(section, rate, seed, timeout, policy):
    spec = small_spec(
        duration_s=20.0, seed=seed,
        workload={"arrivals": {"kind": "poisson", "rate_rps": rate},
                  "service": {"kind": "exponential", "mean_s": 0.02}},
        instances={"count": 3, "slots": 2, "queue_limit": 20, "zones": ZONES},
        balancer={"policy": policy}, timeouts={"request_s": timeout}, resilience=section)
    result = run(spec, None)
    s = result.summary
    assert s["complete"]
    assert s["arrivals"] == s["ok"] + s["error"] + s["timeout"] + s["rejected"]
    started = [e for e in result.events if e[1] == "fault" and e[3].endswith(":Started")]
    assert s["faults"] == len(started) + sum(
        1 for e in result.events if e[1] == "fault" and e[3] == "Fault:NoSuchInstance")
    if "retry" in section:
        attempts_cap = section["retry"]["max_attempts"]
        assert s["retries"] <= (attempts_cap - 1) * s["arrivals"]


def test_each_fault_is_an_event_when_it_starts_and_when_it_ends(tmp_run):
    spec = small_spec(
        duration_s=30.0, instances={"count": 4, "slots": 2, "zones": ["a", "b"]},
        resilience={"faults": [
            {"kind": "crash", "target": 0, "at_s": 2.0, "duration_s": 3.0},
            {"kind": "slow", "target": 1, "factor": 3.0, "at_s": 4.0, "recover_at_s": 9.0},
            {"kind": "errors", "target": 2, "fraction": 0.5, "at_s": 6.0, "duration_s": 2.0},
            {"kind": "hang", "target": 3, "at_s": 8.0, "duration_s": 2.0},
            {"kind": "zone_loss", "target": "b", "at_s": 12.0, "duration_s": 2.0},
            {"kind": "latency_spike", "extra_latency_s": 0.1, "at_s": 16.0, "duration_s": 2.0},
            {"kind": "drain", "target": 2, "at_s": 25.0},
        ]})
    result, t = run_tables(spec, tmp_run)
    faults = [(e["t_s"], e["subject"], e["reason"]) for e in t["events"].to_pylist()
              if e["kind"] == "fault"]
    assert faults == [
        (2.0, "instance-0", "Crash:Started"), (4.0, "instance-1", "Slow:Started"),
        (5.0, "instance-0", "Crash:Ended"), (6.0, "instance-2", "Errors:Started"),
        (8.0, "instance-2", "Errors:Ended"), (8.0, "instance-3", "Hang:Started"),
        (9.0, "instance-1", "Slow:Ended"), (10.0, "instance-3", "Hang:Ended"),
        (12.0, "b", "ZoneLoss:Started"), (14.0, "b", "ZoneLoss:Ended"),
        (16.0, "all", "LatencySpike:Started"), (18.0, "all", "LatencySpike:Ended"),
        (25.0, "instance-2", "Drain:Started"),
    ]
    assert result.summary["faults"] == 7
    instance_events = [(e["t_s"], e["subject"], e["reason"]) for e in t["events"].to_pylist()
                       if e["kind"] == "instance" and e["t_s"] > 0]
    assert (10.0, "instance-3", "Restarted:Hung") in instance_events
    assert (12.0, "instance-1", "Crashed") in instance_events  # zone b = {1, 3}
    assert (12.0, "instance-3", "Crashed") in instance_events
    assert (14.0, "instance-1", "Recovered") in instance_events
    assert (25.0, "instance-2", "Draining:Removed") in instance_events
    req = t["requests"]
    errors = req.filter(pc.equal(req["status"], "error"))
    reasons = set(errors["reason"].to_pylist())
    assert {"InstanceCrashed", "InstanceError"} <= reasons


def test_a_hung_instance_fails_its_health_checks_by_timeout_and_is_restarted(tmp_run):
    spec = small_spec(
        duration_s=60.0, instances={"count": 3, "slots": 2}, timeouts={"request_s": 2.0},
        resilience={"health_check": {"interval_s": 1.0, "timeout_s": 0.5,
                                     "unhealthy_threshold": 2},
                    "faults": [{"kind": "hang", "target": 1, "at_s": 10.0,
                                "duration_s": 20.0}]})
    _, t = run_tables(spec, tmp_run)
    events = t["events"].to_pylist()
    health = [(e["t_s"], e["reason"]) for e in events
              if e["kind"] == "health" and e["subject"] == "instance-1"]
    marked, reason = health[0]
    assert reason == "Unhealthy:Timeout"
    assert 10.0 < marked <= 10.0 + 2 * 1.0 + 0.5
    assert ("instance", "instance-1", "Restarted:Hung") in [
        (e["kind"], e["subject"], e["reason"]) for e in events if e["t_s"] == 30.0]
    assert health[1][1].startswith("Healthy:") and 30.0 <= health[1][0] <= 32.0
    req = t["requests"]
    hung = req.filter(pc.and_(pc.equal(req["instance_id"], 1),
                              pc.and_(pc.greater_equal(req["arrival_s"], 10.0),
                                      pc.less(req["arrival_s"], marked))))
    assert hung.num_rows > 0
    # accepted, never answered: the request timeout ends them (or the restart, if later)
    assert set(hung["status"].to_pylist()) <= {"timeout", "error"}
    after = req.filter(pc.and_(pc.greater(req["arrival_s"], marked + 0.01),
                               pc.less(req["arrival_s"], 30.0)))
    assert 1 not in set(after["instance_id"].to_pylist())


def test_outlier_detection_ejects_a_failing_instance_for_longer_each_time(tmp_run):
    spec = small_spec(
        duration_s=60.0, instances={"count": 4, "slots": 2},
        workload={"arrivals": {"kind": "poisson", "rate_rps": 100.0},
                  "service": {"kind": "exponential", "mean_s": 0.02}},
        resilience={"outlier_detection": {"consecutive_5xx": 3, "base_ejection_time_s": 4.0,
                                          "interval_s": 10.0, "max_ejection_percent": 50.0},
                    "faults": [{"kind": "errors", "target": 1, "fraction": 1.0,
                                "at_s": 10.0, "duration_s": 30.0}]})
    result, t = run_tables(spec, tmp_run)
    out = [(e["t_s"], e["reason"]) for e in t["events"].to_pylist()
           if e["kind"] == "outlier" and e["subject"] == "instance-1"]
    ejected = [ts for ts, r in out if r == "Ejected:5xx"]
    returned = [ts for ts, r in out if r == "Unejected:Timer"]
    assert len(ejected) >= 3 and 10.0 < ejected[0] < 11.0
    # base × times ejected in a row: 4 s, 8 s, 12 s, …
    durations = [r - e for e, r in zip(ejected, returned)]
    assert durations[:3] == pytest.approx([4.0, 8.0, 12.0])
    req = t["requests"]
    for e, r in zip(ejected, returned):
        inside = req.filter(pc.and_(pc.greater(req["arrival_s"], e + 1e-6),
                                    pc.less(req["arrival_s"], r)))
        assert 1 not in set(inside["instance_id"].to_pylist())
    errors = result.summary["error"]
    assert 0 < errors <= 3 * len(ejected) + 5  # only the failures that eject it, and ones in flight
    assert result.summary["ejections"] == len(ejected)


def test_max_ejection_percent_caps_how_many_are_out(tmp_path):
    def ejected_at_once(percent: float) -> int:
        spec = small_spec(
            duration_s=30.0, instances={"count": 4, "slots": 2},
            workload={"arrivals": {"kind": "poisson", "rate_rps": 100.0},
                      "service": {"kind": "exponential", "mean_s": 0.02}},
            resilience={"outlier_detection": {"consecutive_5xx": 3,
                                              "base_ejection_time_s": 30.0,
                                              "max_ejection_percent": percent},
                        "faults": [{"kind": "errors", "target": i, "fraction": 1.0,
                                    "at_s": 5.0} for i in (1, 2)]})
        rows = run(spec, None).metric_rows
        return max(r["instances_ejected"] for r in rows)

    assert ejected_at_once(25.0) == 1   # Envoy: one may always be ejected
    assert ejected_at_once(50.0) == 2


def test_a_latency_spike_delays_responses_only_while_it_lasts(tmp_run):
    spec = small_spec(
        duration_s=30.0, instances={"count": 4, "slots": 4, "zones": ["a", "b"]},
        workload={"arrivals": {"kind": "poisson", "rate_rps": 40.0},
                  "service": {"kind": "deterministic", "value_s": 0.01}},
        resilience={"faults": [{"kind": "latency_spike", "extra_latency_s": 0.2,
                                "target": "b", "at_s": 10.0, "duration_s": 10.0}]})
    _, t = run_tables(spec, tmp_run)
    req = t["requests"]

    def latencies(lo, hi, zone_b: bool):
        window = req.filter(pc.and_(pc.greater_equal(req["arrival_s"], lo),
                                    pc.less(req["arrival_s"], hi)))
        in_b = pc.is_in(window["instance_id"], value_set=__import__("pyarrow").array([1, 3]))
        chosen = window.filter(in_b if zone_b else pc.invert(in_b))
        return chosen["latency_s"].to_numpy()

    assert np.all(latencies(10.0, 19.7, True) >= 0.21 - 1e-9)
    assert np.all(latencies(10.0, 19.7, False) < 0.05)
    assert np.all(latencies(21.0, 30.0, True) < 0.05)
    assert np.all(latencies(0.0, 10.0, True) < 0.05)


def test_drain_removes_an_instance_without_failing_its_requests(tmp_run):
    spec = small_spec(
        duration_s=30.0, instances={"count": 3, "slots": 2},
        resilience={"faults": [{"kind": "drain", "target": 0, "at_s": 10.0,
                                "drain_timeout_s": 5.0}]})
    result, t = run_tables(spec, tmp_run)
    events = [(e["kind"], e["subject"], e["reason"]) for e in t["events"].to_pylist()
              if e["t_s"] >= 10.0]
    assert ("instance", "instance-0", "Draining:Removed") in events
    assert ("instance", "instance-0", "Terminated") in events
    req = t["requests"]
    late = req.filter(pc.greater(req["arrival_s"], 10.0))
    assert 0 not in set(late["instance_id"].to_pylist())
    assert result.summary["error"] == 0 and result.summary["ok"] == result.summary["arrivals"]
