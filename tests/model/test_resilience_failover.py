"""Failover: a crashed instance is found by health checks within the time their thresholds
allow, no arrival is lost, and errors stop once it is out."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pytest

DRILL = "resilience/failover_drill.toml"  # the suite runs it to 200 s
RETRIES = "resilience.retry.max_attempts=2"


def drill(shipped, *overrides):
    run = shipped(DRILL, *overrides)
    return run.spec, run.result, {name: run.table(name) for name in ("requests", "metrics",
                                                                      "events")}


def first_event(events: list[dict], kind: str, subject: str, prefix: str,
                after_s: float = -1.0) -> float:
    times = [e["t_s"] for e in events if e["kind"] == kind and e["subject"] == subject
             and e["reason"].startswith(prefix) and e["t_s"] >= after_s]
    assert times, f"no {kind} event {prefix}* for {subject} after {after_s}"
    return min(times)


def assert_conserved(result, requests) -> None:
    summary = result.summary
    assert requests.num_rows == summary["arrivals"]
    ids = np.sort(requests["request_id"].to_numpy())
    assert np.array_equal(ids, np.arange(len(ids)))  # probes never appear as requests
    statuses = requests["status"].to_pylist()
    assert set(statuses) <= {"ok", "error", "timeout", "rejected"}
    assert sum(summary[s] for s in ("ok", "error", "timeout", "rejected")) == len(statuses)


@pytest.mark.shipped((DRILL,))
def test_failover_drill_finds_the_crash_within_the_health_check_thresholds(shipped):
    spec, result, t = drill(shipped)
    hc = spec.resilience.health_check
    fault = spec.resilience.faults[0]
    events = t["events"].to_pylist()
    requests = t["requests"]
    assert_conserved(result, requests)

    crashed = first_event(events, "fault", "instance-1", "Crash:Started")
    detected = first_event(events, "health", "instance-1", "Unhealthy:", after_s=crashed)
    assert crashed == fault.at_s
    # the next probe comes within one interval and a refused probe fails at once: the fall
    # threshold is crossed after (fall - 1) more intervals; a probe in flight at the crash
    # fails right then, so the earliest is exactly (fall - 1) intervals
    delay = detected - crashed
    assert (hc.unhealthy_threshold - 1) * hc.interval_s - 1e-9 <= delay
    assert delay <= hc.unhealthy_threshold * hc.interval_s + hc.timeout_s

    errors = requests.filter(pc.equal(requests["status"], "error"))
    end = errors["end_s"].to_numpy()
    assert len(end) > 0 and end.min() >= crashed  # no error before the crash
    assert (end <= detected + 1e-9).all()         # and none once it is out
    assert set(errors["reason"].to_pylist()) <= {"InstanceCrashed", "ConnectionRefused"}
    assert pc.sum(pc.equal(errors["instance_id"], 1)).as_py() == errors.num_rows

    # it comes back: probed at once, healthy after `rise` passes, and serving again
    recovered = first_event(events, "instance", "instance-1", "Recovered")
    healthy = first_event(events, "health", "instance-1", "Healthy:", after_s=recovered)
    assert recovered == fault.recover_at_s
    assert healthy - recovered <= (hc.healthy_threshold - 1) * hc.interval_s + hc.timeout_s
    later = requests.filter(pc.and_(pc.greater(requests["arrival_s"], healthy),
                                    pc.equal(requests["instance_id"], 1)))
    assert later.num_rows > 100

    # the metrics say the same: out at the next row, errors gone, back after recovery
    rows = t["metrics"].to_pylist()
    at_end = {round(r["t_s"] + r["interval_s"]): r for r in rows}
    assert at_end[60]["instances_healthy"] == 4 and at_end[70]["instances_healthy"] == 3
    assert at_end[190]["instances_healthy"] == 4
    assert sum(r["errors"] for r in rows if r["t_s"] >= detected) == 0
    assert sum(r["probes_failed"] for r in rows) == result.summary["probes_failed"] > 0
    assert result.summary["health_marked_unhealthy"] == 1


@pytest.mark.shipped((DRILL,), (DRILL, RETRIES))
def test_retries_hide_the_crash_from_clients(shipped):
    _, plain, _ = drill(shipped)
    spec, result, t = drill(shipped, RETRIES)
    requests = t["requests"]
    assert_conserved(result, requests)
    assert plain.summary["error"] > 100
    # only budget denials could leave errors; the budget's reserve covers a few refusals
    assert result.summary["error"] <= plain.summary["error"] // 20
    assert result.summary["retries"] > 100
    attempts = requests["attempts"].to_numpy()
    assert attempts.max() == 2
    retried = requests.filter(pc.equal(requests["attempts"], 2))
    assert set(retried["status"].to_pylist()) <= {"ok", "error"}
    assert pc.sum(pc.equal(retried["instance_id"], 1)).as_py() == 0  # a different instance
