"""Each shipped autoscaling experiment shows what its header promises, on its own seed.

The diurnal specs run their morning ramp, 05:00 to 09:00 (2.5 to 14 rps; one core serves
3.3 rps at 100 % CPU), so two instances suffice at first and five or more are needed by the
end; diurnal_predictive runs a whole first day (its forecast's history) and the second
morning. Every policy must grow the fleet through the ramp; each in its own way.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

AUTO = "autoscaling/"
MORNING_SPECS = ["diurnal_concurrency", "diurnal_scheduled", "diurnal_step",
                 "diurnal_target_tracking", "diurnal_threshold", "service_defaults"]
PREDICTIVE = AUTO + "diurnal_predictive.toml"
TARGET_TRACKING = AUTO + "diurnal_target_tracking.toml"
DAY_S = 86400.0
START_H = 5.0

pytestmark = pytest.mark.shipped(*[(f"{AUTO}{name}.toml",) for name in MORNING_SPECS],
                                 (PREDICTIVE,))


def clock_h(t_s: float) -> float:
    """Clock hour of simulated time t_s (the runs start at 05:00)."""
    return (START_H + t_s / 3600.0) % 24


def rows_between(rows: list[dict], start_h: float, end_h: float, day: int = 0) -> list[dict]:
    lo = day * DAY_S + (start_h - START_H) * 3600.0
    hi = day * DAY_S + (end_h - START_H) * 3600.0
    return [r for r in rows if lo <= r["t_s"] and r["t_s"] + r["interval_s"] <= hi]


def decisions(events: list[tuple]) -> list[tuple[float, int, int, str]]:
    """(t_s, current, desired, reason) of every autoscaler decision."""
    out = []
    for t_s, kind, _subject, reason in events:
        if kind == "autoscaler":
            fields = dict(p.split("=", 1) for p in reason.split(";") if "=" in p)
            out.append((t_s, int(fields["current"]), int(fields["desired"]), reason))
    return out


def changes(events: list[tuple]) -> list[tuple[float, int, int, str]]:
    return [d for d in decisions(events) if d[1] != d[2]]


def ready_at(rows: list[dict], count: int, day: int = 0) -> float:
    """Clock hour of the first row (on `day`) with at least `count` instances ready."""
    return next(clock_h(r["t_s"]) for r in rows
                if r["t_s"] >= day * DAY_S and r["instances_ready"] >= count)


@pytest.mark.parametrize("name", MORNING_SPECS)
def test_every_policy_grows_the_fleet_through_the_morning_ramp(shipped, name):
    run = shipped(f"{AUTO}{name}.toml")
    assert run.summary["ok"] == run.summary["arrivals"]  # nobody times out on the way up
    early = rows_between(run.rows, 5.0, 6.0)
    late = rows_between(run.rows, 8.5, 9.0)
    assert {r["instances_ready"] for r in early} == {2}  # the floor suffices at 2.5-4 rps
    assert min(r["instances_ready"] for r in late) >= 4
    assert np.mean([r["cpu_util_frac"] for r in late]) < 0.8  # capacity kept up
    assert all(2 <= d <= 10 for _, _, d, _ in decisions(run.events))


def test_target_tracking_holds_cpu_near_its_70_percent_target(shipped):
    """HPA: desired = ceil(current × cpu / 0.7), so once grown the fleet runs near 70 %."""
    run = shipped(TARGET_TRACKING)
    late = rows_between(run.rows, 8.0, 9.0)
    assert 0.55 <= np.mean([r["cpu_util_frac"] for r in late]) <= 0.8
    ups = changes(run.events)
    assert ups and all(d > c for _, c, d, _ in ups)  # a ramp: it only grows
    assert {reason.split(";")[0] for *_, reason in ups} == {"DesiredWithinRange"}


@pytest.mark.parametrize("name", ["diurnal_threshold", "service_defaults"])
def test_threshold_rule_adds_one_instance_at_a_time_above_70_percent(shipped, name):
    """+1 above 70 % CPU, -1 below 30 %, between 2 and 10: on a ramp every change is +1
    for AboveUpperThreshold."""
    ups = changes(shipped(f"{AUTO}{name}.toml").events)
    assert len(ups) >= 3
    assert all(d == c + 1 and r.startswith("AboveUpperThreshold") for _, c, d, r in ups)


def test_step_scaling_scales_out_on_its_70_percent_alarm(shipped):
    run = shipped(AUTO + "diurnal_step.toml")
    ups = changes(run.events)
    assert len(ups) >= 3 and all(r.startswith("ScaleOutStep") and d > c for _, c, d, r in ups)
    reasons = {r.split(";")[0] for *_, r in decisions(run.events)}
    assert reasons <= {"AlarmOK", "ScaleOutStep", "ScaleOutCooldown", "ScaleInStep",
                       "ScaleInCooldown"}


def test_concurrency_scaling_keeps_about_one_request_in_flight_per_instance(shipped):
    """ceil(total in flight / 1): as the load grows so does the fleet, keeping in flight per
    instance near the target of one (it overshoots, never undershoots for long)."""
    run = shipped(AUTO + "diurnal_concurrency.toml")
    late = rows_between(run.rows, 8.0, 9.0)
    per_instance = [r["in_flight"] / r["instances_ready"] for r in late]
    assert np.mean(per_instance) <= 1.5
    in_flight_late = np.mean([r["in_flight"] for r in late])
    assert np.mean([r["instances_ready"] for r in late]) >= math.ceil(in_flight_late)
    assert any(r.startswith("DesiredWithinRange") for *_, r in changes(run.events))


def test_the_schedule_holds_six_instances_from_seven_oclock(shipped):
    run = shipped(AUTO + "diurnal_scheduled.toml")
    at_seven = [d for d in changes(run.events) if d[0] == (7.0 - START_H) * 3600.0]
    assert [(d, r.split(";")[:2]) for _, _, d, r in at_seven] == [
        (6, ["TooFewReplicas", "schedule=daytime"])]
    before = rows_between(run.rows, 5.0, 7.0)
    after = rows_between(run.rows, 7.25, 9.0)  # six are ready once they have booted
    assert max(r["instances_ready"] for r in before) < 6
    assert min(r["instances_ready"] for r in after) >= 6


def test_predictive_is_ready_before_target_tracking_on_day_two(shipped):
    """Day 1 is the forecast's history: predictive then decides as its inner target
    tracking does, instance for instance. On day 2 it raises the floor from the forecast
    ahead of the boot delay: each step of capacity is ready at least 15 minutes before
    target tracking has it, and the CPU runs cooler on the ramp."""
    predictive, reactive = shipped(PREDICTIVE), shipped(TARGET_TRACKING)
    day1 = rows_between(predictive.rows, 5.0, 9.0)
    assert [r["instances_ready"] for r in day1] == [
        r["instances_ready"] for r in rows_between(reactive.rows, 5.0, 9.0)]
    day1_reasons = [r for t, *_, r in decisions(predictive.events) if t < DAY_S]
    assert all("forecast=warming_up" in r for r in day1_reasons[:10])
    for count in (3, 4, 5):
        assert ready_at(predictive.rows, count, day=1) <= ready_at(reactive.rows, count) - 0.25
    day2 = rows_between(predictive.rows, 6.0, 9.0, day=1)
    assert np.mean([r["cpu_util_frac"] for r in day2]) < np.mean(
        [r["cpu_util_frac"] for r in rows_between(reactive.rows, 6.0, 9.0)]) - 0.05
    floors = [r for t, c, d, r in changes(predictive.events) if t >= DAY_S and d > c]
    assert floors and all("forecast_rps=" in r for r in floors)
