"""scheduled: the simulated wall clock, weekly windows, and bounds handed to an inner policy."""

from __future__ import annotations

import numpy as np
import pytest

from policies.autoscalers.scheduled import (
    Scheduled,
    ScheduledConfig,
    ScheduleWindow,
    parse_clock,
    wall_clock,
)
from policies.autoscalers.target_tracking import TargetTracking, TargetTrackingConfig
from policies.views import ClusterView, PodMetrics
from tests.policies.autoscaler_helpers import cpu_cluster

H = 3600.0
DAY = 24 * H
PEAK = ScheduleWindow(name="peak", days=("Mon", "Tue", "Wed", "Thu", "Fri"), start="08:00",
                      end="20:00", min_replicas=4)


@pytest.mark.parametrize("now_s, weekday, hour, expected", [
    (0.0, 0, 0.0, (0, 0.0)),
    (8 * H, 0, 0.0, (0, 480.0)),
    (3 * H, 4, 22.0, (5, 60.0)),          # Fri 22:00 + 3 h = Sat 01:00
    (7 * DAY + 90.0, 2, 0.0, (2, 1.5)),   # a week later, same weekday
    (2 * DAY, 6, 12.0, (1, 720.0)),       # Sun noon + 2 days = Tue noon
])
def test_wall_clock(now_s, weekday, hour, expected):
    assert wall_clock(now_s, weekday, hour) == expected


OVERNIGHT = ScheduleWindow(name="batch", days=("Fri",), start="22:00", end="02:00",
                           max_replicas=3)


@pytest.mark.parametrize("window, weekday, minute, expected", [
    (PEAK, 0, 8 * 60, True),            # start is inclusive
    (PEAK, 0, 20 * 60, False),          # end is exclusive
    (PEAK, 4, 19 * 60 + 59, True),
    (PEAK, 5, 10 * 60, False),          # Saturday is not listed
    (OVERNIGHT, 4, 23 * 60, True),      # Friday night
    (OVERNIGHT, 5, 60, True),           # early Saturday belongs to Friday's window
    (OVERNIGHT, 5, 2 * 60, False),
    (OVERNIGHT, 5, 23 * 60, False),     # Saturday night is not listed
    (OVERNIGHT, 4, 60, False),          # early Friday belongs to Thursday (not listed)
    (ScheduleWindow(days=("Sun",), start="00:00", end="24:00"), 6, 1439.9, True),
])
def test_window_activity(window, weekday, minute, expected):
    assert window.active(weekday, minute) is expected


def empty_cluster(replicas):
    return ClusterView(replicas, replicas, tuple(PodMetrics(i) for i in range(replicas)))


def test_without_an_inner_policy_the_schedule_is_the_capacity_plan():
    policy = Scheduled(ScheduledConfig(windows=(PEAK,), start_weekday="Mon"),
                       np.random.default_rng(0))
    times = [0.0, 8 * H, 19.99 * H, 20 * H, 5 * DAY + 9 * H]  # Mon 00, 08, ~20, 20; Sat 09
    decisions = [policy.decide(empty_cluster(3), t) for t in times]
    assert decisions == [
        (2, "ScheduledCapacity;schedule=default"),
        (4, "ScheduledCapacity;schedule=peak"),
        (4, "ScheduledCapacity;schedule=peak"),
        (2, "ScheduledCapacity;schedule=default"),
        (2, "ScheduledCapacity;schedule=default"),
    ]


def test_start_weekday_and_hour_shift_the_clock():
    policy = Scheduled(ScheduledConfig(windows=(PEAK,), start_weekday="Sun", start_hour=20.0),
                       np.random.default_rng(0))
    assert policy.decide(empty_cluster(2), 11 * H).desired_replicas == 2   # Mon 07:00
    assert policy.decide(empty_cluster(2), 12 * H).desired_replicas == 4   # Mon 08:00


def test_first_matching_window_wins_and_unset_bounds_are_inherited():
    lunch = ScheduleWindow(name="lunch", days=("Mon",), start="12:00", end="13:00", min_replicas=6)
    policy = Scheduled(ScheduledConfig(windows=(lunch, PEAK), max_replicas=8),
                       np.random.default_rng(0))
    assert policy.bounds(12.5 * H, 2, 8) == (6, 8, "lunch")
    assert policy.bounds(14 * H, 2, 8) == (4, 8, "peak")
    assert policy.bounds(23 * H, 2, 8) == (2, 8, "default")


def test_inner_policy_decides_within_the_window_bounds():
    config = ScheduledConfig(windows=(PEAK, OVERNIGHT), inner_policy="target_tracking",
                             inner_config={"scale_down": {"stabilization_window_s": 0}})
    policy = Scheduled(config, np.random.default_rng(0))
    assert isinstance(policy.inner, TargetTracking)
    # Mon 09:00, 2 idle instances: the window lifts the minimum to 4
    assert policy.decide(cpu_cluster(2, 0.1), 9 * H) == (4, "TooFewReplicas;schedule=peak")
    # Mon 21:00, outside: the HPA wants 1 and stops at the base minimum
    assert policy.decide(cpu_cluster(4, 0.1), 21 * H) == (2, "TooFewReplicas;schedule=default")
    # Mon 22:00, 2 instances near target: nothing to do
    assert policy.decide(cpu_cluster(2, 0.75), 22 * H) == (2, "WithinTolerance;schedule=default")
    # Fri 23:00: the batch window caps at 3
    assert policy.decide(cpu_cluster(5, 0.8), 4 * DAY + 23 * H) == (
        3, "TooManyReplicas;schedule=batch")


def test_inner_config_tables_become_the_inner_config_type():
    config = ScheduledConfig(
        inner_policy="target_tracking",
        inner_config={"metrics": [{"metric": "in_flight", "target": 4}],
                      "scale_up": {"policies": [{"type": "Pods", "value": 1, "period_s": 60}]}})
    inner = Scheduled(config, np.random.default_rng(0)).inner
    assert inner.config.metrics[0].metric == "in_flight"
    assert inner.config.metrics[0].target == 4.0
    assert inner.config.scale_up.policies[0].period_s == 60
    direct = TargetTrackingConfig(min_replicas=3)
    from_instance = Scheduled(ScheduledConfig(inner_policy="target_tracking", inner_config=direct),
                              np.random.default_rng(0)).inner
    assert from_instance.config is direct


@pytest.mark.parametrize("text, expected", [("00:00", 0), ("08:30", 510), ("23:59", 1439)])
def test_parse_clock(text, expected):
    assert parse_clock(text, "start") == expected


@pytest.mark.parametrize("make", [
    lambda: ScheduleWindow(days=()),
    lambda: ScheduleWindow(days=("Monday",)),
    lambda: ScheduleWindow(start="8:00"),
    lambda: ScheduleWindow(start="24:00"),
    lambda: ScheduleWindow(end="25:00"),
    lambda: ScheduleWindow(start="10:00", end="10:00"),
    lambda: ScheduleWindow(min_replicas=5, max_replicas=4),
    lambda: ScheduleWindow(min_replicas=-1),
    lambda: ScheduledConfig(min_replicas=3, max_replicas=2),
    lambda: ScheduledConfig(windows=(ScheduleWindow(min_replicas=12),)),  # above base max 10
    lambda: ScheduledConfig(start_weekday="Funday"),
    lambda: ScheduledConfig(start_hour=24.0),
    lambda: ScheduledConfig(inner_config={"min_replicas": 3}),  # without inner_policy
    lambda: ScheduledConfig(inner_policy="predictive"),
    lambda: ScheduledConfig(inner_policy="target_tracking", inner_config={"bogus": 1}),
    lambda: ScheduledConfig(inner_policy="target_tracking",
                            inner_config={"min_replicas": 9, "max_replicas": 3}),
    lambda: ScheduledConfig(inner_policy="threshold", inner_config={"scale_up_periods": "3"}),
])
def test_impossible_configs_are_rejected(make):
    with pytest.raises(ValueError):
        make()
