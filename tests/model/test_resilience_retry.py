"""Retries: attempts are recorded, per-try timeouts move an attempt elsewhere, and a retry
budget stops a retry storm."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from tests.conftest import run_tables, small_spec

# A hung instance takes requests and never answers: its memory would grow until an OOM kill
# (tests/model/test_memory.py), which is not what these tests are about.
UNMETERED = {"memory_per_request_mb": 0.0}
STORMS = {name: f"resilience/retry_storm_{name}.toml" for name in ("no_budget", "budget")}


@pytest.mark.shipped(*[(rel,) for rel in STORMS.values()])
def test_a_retry_budget_limits_retries_in_the_storm(shipped):
    """The suite runs both storms to 120 s (the spike is at 60-90 s)."""
    wild_run, capped_run = (shipped(rel) for rel in STORMS.values())
    wild, wild_rows = wild_run.summary, wild_run.rows
    capped, capped_rows = capped_run.summary, capped_run.rows
    assert wild["arrivals"] == capped["arrivals"]
    spec = capped_run.spec.resilience.retry
    # the budget: retries ≤ ratio × requests + reserve, over the whole run
    bound = spec.budget_ratio * capped["arrivals"] + spec.min_retries_per_s * 120.0
    assert capped_run.spec.duration_s == 120.0
    assert capped["retries"] <= bound
    assert capped["retries_denied_budget"] > 0 and wild["retries_denied_budget"] == 0
    assert wild["retries"] > 20 * capped["retries"]
    # without a budget the storm outlives the spike (60-90 s); with one, service comes back
    def after_spike(rows):  # full rows from 95 s to the end of the arrivals
        return [r["throughput_rps"] for r in rows
                if 95.0 <= r["t_s"] <= 120.0 - r["interval_s"]]

    assert min(after_spike(capped_rows)) > 200
    assert max(after_spike(wild_rows)) < 50
    assert capped["ok"] > 1.3 * wild["ok"]


@pytest.mark.shipped((STORMS["budget"],))
def test_the_budget_is_an_event_when_it_starts_and_stops_denying(shipped):
    events = shipped(STORMS["budget"]).table("events")
    budget = [(e["t_s"], e["reason"]) for e in events.to_pylist()
              if e["kind"] == "retry" and e["subject"] == "budget"]
    assert budget[0][1] == "RetryDenied:Budget" and 60.0 <= budget[0][0] < 65.0
    assert budget[-1][1] == "RetryBudget:Restored" and 90.0 <= budget[-1][0] <= 100.0


def test_per_try_timeouts_move_attempts_off_a_hung_instance(tmp_run):
    spec = small_spec(
        duration_s=30.0, instances={"count": 3, "slots": 4, **UNMETERED},
        timeouts={"request_s": 5.0},
        resilience={"retry": {"max_attempts": 3, "per_try_timeout_s": 0.3},
                    "faults": [{"kind": "hang", "target": 0, "at_s": 5.0,
                                "duration_s": 20.0}]})
    result, t = run_tables(spec, tmp_run)
    req = t["requests"]
    attempts = req["attempts"].to_numpy()
    assert attempts.max() <= 3
    assert result.summary["timeout"] == 0
    moved = req.filter(pc.greater(req["attempts"], 1))
    assert moved.num_rows > 50 and set(moved["status"].to_pylist()) <= {"ok", "error"}
    assert 0 not in set(moved["instance_id"].to_pylist())
    during = moved.filter(pc.and_(pc.equal(moved["status"], "ok"),
                                  pc.less(moved["arrival_s"], 24.0)))
    # the first attempt used up its per-try timeout (the restart at 25 s fails the rest)
    assert during["latency_s"].to_numpy().min() >= 0.3
    retry_events = [e for e in t["events"].to_pylist()
                    if e["kind"] == "retry" and e["subject"] == "instance-0"]
    assert {e["reason"] for e in retry_events} == {"PerTryTimeout", "InstanceCrashed"}
    assert result.summary["retries"] == moved.num_rows + pc.sum(
        pc.greater(req["attempts"], 2)).as_py()


def test_a_per_try_timeout_not_retried_ends_as_error_with_its_reason(tmp_run):
    spec = small_spec(
        duration_s=20.0, instances={"count": 2, "slots": 2, **UNMETERED},
        timeouts={"request_s": 5.0},
        resilience={"retry": {"max_attempts": 1, "per_try_timeout_s": 0.2},
                    "faults": [{"kind": "hang", "target": 1, "at_s": 5.0}]})
    result, t = run_tables(spec, tmp_run)
    req = t["requests"]
    failed = req.filter(pc.equal(req["status"], "error"))
    assert failed.num_rows > 50
    assert set(failed["reason"].to_pylist()) == {"PerTryTimeout"}
    assert result.summary["retries"] == 0 and result.summary["retries_denied"] > 0
