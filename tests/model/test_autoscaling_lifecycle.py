"""Autoscaling in the model: bounds, a fixed count when off, drains, billing and metrics lag."""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simscale.model import Model
from simscale.model.autoscaling import Autoscaling
from simscale.model.runner import run
from simscale.outputs.recorder import RequestLog
from tests.conftest import run_tables, small_spec

# Requests that hold no memory: these overloads grow unbounded queues, and an OOM kill
# (tests/model/test_memory.py) is not what they test.
UNMETERED = {"memory_per_request_mb": 0.0}
OVERLOAD = {"arrivals": {"kind": "poisson", "rate_rps": 150.0},
            "service": {"kind": "exponential", "mean_s": 0.05}}


def scheduled_bump(**extra) -> dict:
    """An [autoscaling] table whose desired count is 4 from 00:05 to 00:10, else 2.

    The `scheduled` policy without an inner policy makes the count a pure function of time,
    so lifecycle and billing can be checked against exact times.
    """
    window = {"name": "bump", "days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
              "start": "00:05", "end": "00:10", "min_replicas": 4}
    return {"enabled": True, "policy": "scheduled",
            "params": {"min_replicas": 2, "max_replicas": 6, "windows": [window],
                       "sync_period_s": 60.0},
            "boot_delay": {"kind": "deterministic", "value_s": 60.0}, **extra}


def instance_events(events) -> dict[str, list[tuple[float, str]]]:
    """instance name -> [(t_s, reason), ...] from events.parquet."""
    out: dict[str, list[tuple[float, str]]] = {}
    for row in events.to_pylist():
        if row["kind"] == "instance":
            out.setdefault(row["subject"], []).append((row["t_s"], row["reason"]))
    return out


def decisions(events) -> list[tuple[float, int, int, str]]:
    """(t_s, desired, current, reason) of every autoscaler event."""
    out = []
    for row in events.to_pylist():
        if row["kind"] == "autoscaler":
            fields = dict(p.split("=", 1) for p in row["reason"].split(";") if "=" in p)
            out.append((row["t_s"], int(fields["desired"]), int(fields["current"]),
                        row["reason"]))
    return out


# ---------------------------------------------------------------- off: a fixed count


def test_disabled_keeps_the_count_fixed_under_overload(tmp_run):
    spec = small_spec(duration_s=120.0, workload=OVERLOAD,
                      instances={"count": 3, "slots": 2, **UNMETERED},
                      autoscaling={"enabled": False, "policy": "threshold",
                                   "params": {"min_replicas": 1, "max_replicas": 10}})
    result, t = run_tables(spec, tmp_run)
    metrics = t["metrics"].to_pylist()
    assert all(r["instances_ready"] == 3 and r["instances_booting"] == 0
               and r["instances_draining"] == 0 for r in metrics)
    assert "desired_replicas" not in t["metrics"].column_names
    assert not [e for e in t["events"].to_pylist() if e["kind"] == "autoscaler"]
    s = result.summary
    assert s["scale_ups"] == s["scale_downs"] == 0
    # three instances for the whole simulated time, cost always in the summary
    assert s["instance_hours"] == pytest.approx(3 * s["simulated_s"] / 3600)
    assert s["cost_usd"] == pytest.approx(s["instance_hours"] * 0.10)
    assert s["cost_per_1k_requests_usd"] == pytest.approx(s["cost_usd"] / s["ok"] * 1000)


def test_absent_section_means_disabled():
    spec = small_spec()
    assert spec.autoscaling.enabled is False
    s = run(spec, None).summary
    assert s["scale_ups"] == 0 and s["instance_hours"] == pytest.approx(
        2 * s["simulated_s"] / 3600)


def test_initial_count_is_clamped_into_the_bounds():
    spec = small_spec(instances={"count": 9, "slots": 2},
                      autoscaling={"enabled": True, "policy": "target_tracking",
                                   "params": {"min_replicas": 2, "max_replicas": 5}})
    model = Model(spec, RequestLog(None, 1000))
    assert len(model.instances) == 5
    spec = small_spec(instances={"count": 1, "slots": 2},
                      autoscaling={"enabled": True, "policy": "target_tracking",
                                   "params": {"min_replicas": 2, "max_replicas": 5}})
    assert len(Model(spec, RequestLog(None, 1000)).instances) == 2


# ---------------------------------------------------------------- bounds, for any policy and load

BOUNDED_PARAMS = {
    "target_tracking": {"scale_down": {"stabilization_window_s": 0}},
    "threshold": {"scale_up_periods": 1, "scale_down_periods": 1, "scale_up_cooldown_s": 0.0,
                  "scale_down_cooldown_s": 0.0},
    "step": {},
    "concurrency": {"target_in_flight_per_instance": 2.0},
    "predictive": {"method": "seasonal_naive", "bucket_s": 20.0, "season_s": 60.0,
                   "boot_delay_s": 20.0, "target_rps_per_instance": 20.0},
    "scheduled": {"inner_policy": "threshold"},
}


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(policy=st.sampled_from(sorted(BOUNDED_PARAMS)), low=st.integers(1, 3),
       extra=st.integers(0, 4), count=st.integers(1, 8), rate=st.floats(5.0, 120.0),
       victims=st.sampled_from(["newest_first", "oldest_first", "least_loaded"]),
       seed=st.integers(0, 2**32))
def test_scaling_never_leaves_the_bounds(policy, low, extra, count, rate, victims, seed):
    high = low + extra
    params = {"min_replicas": low, "max_replicas": high, "sync_period_s": 10.0,
              **BOUNDED_PARAMS[policy]}
    spec = small_spec(
        duration_s=150.0, seed=seed,
        workload={"arrivals": {"kind": "poisson", "rate_rps": rate},
                  "service": {"kind": "exponential", "mean_s": 0.05}},
        instances={"count": count, "slots": 2, **UNMETERED},
        autoscaling={"enabled": True, "policy": policy, "params": params,
                     "scrape_interval_s": 5.0, "metrics_window_s": 10.0,
                     "metrics_delay_s": 5.0, "scale_in_victims": victims,
                     "boot_delay": {"kind": "exponential", "mean_s": 15.0},
                     "drain_deadline_s": 5.0},
    )
    result = run(spec, None)
    s = result.summary
    assert s["arrivals"] == s["ok"] + s["error"] + s["timeout"] + s["rejected"]
    for row in result.metric_rows:
        assert low <= row["instances_ready"] + row["instances_booting"] <= high, row
        assert low <= row["desired_replicas"] <= high
    for t_s, desired, current, _ in _decisions_from(result.events):
        assert low <= desired <= high, t_s
        assert low <= current <= high, t_s


def _decisions_from(events: list[tuple]) -> list[tuple[float, int, int, str]]:
    out = []
    for t_s, kind, _subject, reason in events:
        if kind == "autoscaler":
            fields = dict(p.split("=", 1) for p in reason.split(";") if "=" in p)
            out.append((t_s, int(fields["desired"]), int(fields["current"]), reason))
    return out


# ---------------------------------------------------------------- lifecycle and drains


def test_lifecycle_follows_the_decisions_exactly(tmp_run):
    spec = small_spec(duration_s=900.0,
                      workload={"arrivals": {"kind": "poisson", "rate_rps": 5.0},
                                "service": {"kind": "deterministic", "value_s": 0.01}},
                      autoscaling=scheduled_bump())
    _, t = run_tables(spec, tmp_run)
    changes = [(d[0], d[1], d[2]) for d in decisions(t["events"]) if d[1] != d[2]]
    assert changes == [(300.0, 4, 2), (600.0, 2, 4)]
    inst = instance_events(t["events"])
    assert inst["instance-2"][:2] == [(300.0, "Created"), (360.0, "BootCompleted")]
    assert inst["instance-3"][:2] == [(300.0, "Created"), (360.0, "BootCompleted")]
    # newest first: the two new instances are drained at 600 s, the old ones stay
    for name in ("instance-2", "instance-3"):
        assert inst[name][2] == (600.0, "Draining:ScaleIn(Newest)")
        assert inst[name][3][1] == "Terminated" and 600.0 <= inst[name][3][0] < 601.0
    assert inst["instance-0"] == [(0.0, "Started")]
    ready = [(r["t_s"], r["instances_ready"], r["instances_booting"])
             for r in t["metrics"].to_pylist()]
    assert (290.0, 4, 0) not in ready and (300.0, 2, 2) in ready  # booting during [300, 360)
    assert (360.0, 4, 0) in ready and (600.0, 2, 0) in ready


def test_instance_hours_count_booting_and_draining_time(tmp_run):
    spec = small_spec(duration_s=900.0,
                      workload={"arrivals": {"kind": "poisson", "rate_rps": 5.0},
                                "service": {"kind": "deterministic", "value_s": 0.01}},
                      instances={"count": 2, "slots": 2, "price_per_instance_hour_usd": 0.36},
                      autoscaling=scheduled_bump())
    result, t = run_tables(spec, tmp_run)
    s = result.summary
    end = s["simulated_s"]
    # oracle from events: each instance is billed from Created/Started to Terminated (or end)
    billed = 0.0
    for spells in instance_events(t["events"]).values():
        start = spells[0][0]
        stop = next((t_s for t_s, r in spells if r == "Terminated"), end)
        billed += stop - start
    drains = sum(stop - 600.0 for stop in
                 (next(t_s for t_s, r in instance_events(t["events"])[n] if r == "Terminated")
                  for n in ("instance-2", "instance-3")))
    assert billed == pytest.approx(2 * end + 2 * 300.0 + drains)
    assert s["instance_hours"] == pytest.approx(billed / 3600)
    assert s["cost_usd"] == pytest.approx(billed / 3600 * 0.36)
    assert s["cost_per_1k_requests_usd"] == pytest.approx(s["cost_usd"] * 1000 / s["ok"])
    hours = [r["instance_hours"] for r in t["metrics"].to_pylist()]
    assert hours == sorted(hours) and hours[-1] == pytest.approx(s["instance_hours"])
    assert s["scale_ups"] == 1 and s["scale_downs"] == 1
    assert s["instances_added"] == 2 and s["instances_removed"] == 2


def test_failed_time_is_not_billed():
    spec = small_spec(duration_s=400.0, instances={"count": 2, "slots": 2, **UNMETERED})
    model = Model(spec, RequestLog(None, 1000))
    inst = model.instances[0]
    model.run_until(100.0)
    model.crash(inst)
    model.run_until(250.0)
    model.recover(inst)
    model.run_until(300.0)
    assert inst.running_s(300.0) == pytest.approx(150.0)
    assert model.instances[1].running_s(300.0) == pytest.approx(300.0)


def long_requests_bump(drain_deadline_s: float) -> dict:
    return small_spec(
        duration_s=900.0, seed=3,
        workload={"arrivals": {"kind": "poisson", "rate_rps": 1.0},
                  "service": {"kind": "deterministic", "value_s": 20.0}},
        instances={"count": 2, "slots": 16}, timeouts={"request_s": 60.0},
        autoscaling=scheduled_bump(drain_deadline_s=drain_deadline_s))


def test_draining_finishes_in_flight_requests(tmp_run):
    result, t = run_tables(long_requests_bump(60.0), tmp_run)
    s = result.summary
    assert s["arrivals"] == s["ok"] > 500 and s["error"] == s["timeout"] == s["rejected"] == 0
    inst = instance_events(t["events"])
    for name in ("instance-2", "instance-3"):
        (drained_at, reason), (ended_at, final) = inst[name][2], inst[name][3]
        assert reason.startswith("Draining:") and final == "Terminated"
        assert 600.0 < ended_at <= drained_at + 20.0  # waited for its work, not the deadline
    requests = t["requests"]
    served = requests.filter(pc.is_in(requests["instance_id"], value_set=pa.array([2, 3])))
    late = [e for e in served["end_s"].to_pylist() if e > 600.0]
    assert late, "the drained instances had work in flight at 600 s"


def test_a_short_drain_deadline_ends_leftovers_as_errors():
    s = run(long_requests_bump(5.0), None).summary
    assert s["arrivals"] == s["ok"] + s["error"] + s["timeout"] + s["rejected"]
    assert s["error"] > 0


# ---------------------------------------------------------------- metrics lag


@pytest.mark.parametrize("delay_s", [0.0, 30.0, 60.0])
def test_metrics_lag_is_the_configured_delay(delay_s):
    spec = small_spec(
        duration_s=120.0, workload=OVERLOAD, instances={"count": 2, "slots": 4},
        autoscaling={"enabled": True, "policy": "target_tracking",
                     "params": {"min_replicas": 2, "max_replicas": 8, "sync_period_s": 15.0,
                                "metrics": [{"metric": "cpu_util_frac", "target": 0.5}]},
                     "scrape_interval_s": 15.0, "metrics_window_s": 30.0,
                     "metrics_delay_s": delay_s})
    result = run(spec, None)
    # the first scrape with a value covers [0, 15] s; it reaches the autoscaler delay_s later
    ups = [d for d in _decisions_from(result.events) if d[1] > d[2]]
    assert ups[0][0] == pytest.approx(15.0 + delay_s)
    ages = [r["scaler_metric_age_s"] for r in result.metric_rows
            if r["scaler_metric_age_s"] is not None]
    assert ages and all(a == pytest.approx(delay_s) for a in ages)
    seen = [r["scaler_metric"] for r in result.metric_rows if r["scaler_metric"] is not None]
    assert seen[0] > 0.8  # 2 × 4 cores at 7.5 busy cores: the overload it reacted to
    assert result.summary["scaler_metric"] == "cpu_util_frac"


def test_the_view_never_holds_metrics_younger_than_the_delay():
    spec = small_spec(duration_s=200.0, workload=OVERLOAD, instances={"count": 2, "slots": 4},
                      autoscaling={"enabled": True, "policy": "threshold",
                                   "params": {"sync_period_s": 7.0},
                                   "scrape_interval_s": 10.0, "metrics_window_s": 20.0,
                                   "metrics_delay_s": 25.0})
    model = Model(spec, RequestLog(None, 1000))
    scaler = next(c for c in model.components if isinstance(c, Autoscaling)).autoscaler
    ages = []
    for k in range(1, 25):
        model.run_until(k * 7.0 + 0.5)
        view = scaler.cluster_view(model.now)
        if math.isfinite(view.metrics_age_s):
            ages.append(view.metrics_age_s)
            assert view.current_replicas == sum(i.exists for i in model.instances)
    assert ages and min(ages) >= 25.0 and max(ages) < 25.0 + 10.0 + 1e-9


def test_same_seed_same_tables_and_policies_share_the_arrivals(tmp_path):
    def spec(policy: str):
        return small_spec(duration_s=300.0, workload=OVERLOAD, instances={"count": 2, "slots": 4},
                          autoscaling={"enabled": True, "policy": policy,
                                       "params": {"sync_period_s": 15.0},
                                       "boot_delay": {"kind": "exponential", "mean_s": 40.0}})
    _, a = run_tables(spec("target_tracking"), tmp_path / "a")
    _, b = run_tables(spec("target_tracking"), tmp_path / "b")
    for name in ("requests", "metrics", "events"):
        assert a[name].equals(b[name]), name
    assert len(decisions(a["events"])) == 20
    _, c = run_tables(spec("threshold"), tmp_path / "c")
    # rows are in completion order; the arrivals themselves are the same
    assert sorted(a["requests"]["arrival_s"].to_pylist()) == sorted(
        c["requests"]["arrival_s"].to_pylist())
    assert not a["events"].equals(c["events"])
