"""step: AWS step scaling — step bounds, adjustment types, rounding, alarms, cooldowns.

Oracles are the examples of the Application Auto Scaling API reference (StepAdjustment,
StepScalingPolicyConfiguration) and the step scaling guide's rounding examples.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.autoscalers.step import (
    StepAdjustment,
    StepConfig,
    StepScaling,
    StepScalingPolicy,
    adjusted_capacity,
    round_percent_change,
)
from policies.views import ClusterView, PodMetrics
from tests.policies.autoscaler_helpers import cpu_cluster as cluster
from tests.policies.autoscaler_helpers import decision_log

# Breach threshold 50: [0, 10) triggers on 50 <= metric < 60; (-10, 0] on 40 < metric <= 50.
ABOVE_STEP = StepAdjustment(lower_bound=0.0, upper_bound=10.0, scaling_adjustment=1)
BELOW_STEP = StepAdjustment(lower_bound=-10.0, upper_bound=0.0, scaling_adjustment=-1)


@pytest.mark.parametrize("step, breach, above, expected", [
    (ABOVE_STEP, 0.0, True, True),     # metric 50: lower bound inclusive above the threshold
    (ABOVE_STEP, 9.99, True, True),
    (ABOVE_STEP, 10.0, True, False),   # metric 60: upper bound exclusive
    (BELOW_STEP, 0.0, False, True),    # metric 50: upper bound inclusive below the threshold
    (BELOW_STEP, -10.0, False, False),  # metric 40: lower bound exclusive
    (BELOW_STEP, -9.99, False, True),
    (StepAdjustment(lower_bound=None, upper_bound=0.0), -1e9, False, True),
    (StepAdjustment(lower_bound=20.0, upper_bound=None), 1e9, True, True),
])
def test_step_bounds_follow_the_api_reference_examples(step, breach, above, expected):
    assert step.matches(breach, above) is expected


@pytest.mark.parametrize("change, expected", [
    (12.7, 12), (0.67, 1), (-0.58, -1), (-6.67, -6), (1.0, 1), (0.0, 0), (-1.0, -1), (3.0, 3),
])
def test_percent_change_rounding(change, expected):
    assert round_percent_change(change) == expected


@pytest.mark.parametrize("capacity, kind, adjustment, mam, expected", [
    (4, "ChangeInCapacity", 2, None, 6),
    (4, "ChangeInCapacity", -3, None, 1),
    (4, "ExactCapacity", 7, None, 7),
    (4, "PercentChangeInCapacity", 25, None, 5),
    (4, "PercentChangeInCapacity", 25, 2, 6),   # API reference: 25 % of 4 is 1, magnitude 2
    (10, "PercentChangeInCapacity", -33, None, 7),
    (3, "PercentChangeInCapacity", -10, None, 2),  # -0.3 becomes -1
    (10, "PercentChangeInCapacity", -10, 3, 7),
    (0, "PercentChangeInCapacity", 50, 2, 0),   # nothing to take a percentage of
])
def test_adjusted_capacity(capacity, kind, adjustment, mam, expected):
    assert adjusted_capacity(capacity, kind, adjustment, mam) == expected


def out_policy(steps=((0.0, 0.1, 1), (0.1, None, 3)), **kw):
    return StepScalingPolicy(
        threshold=0.7, comparison="GreaterThanOrEqualToThreshold",
        step_adjustments=tuple(StepAdjustment(lo, hi, adj) for lo, hi, adj in steps), **kw)


def in_policy(**kw):
    return StepScalingPolicy(
        threshold=0.3, comparison="LessThanOrEqualToThreshold",
        step_adjustments=(StepAdjustment(None, 0.0, -1),), **kw)


def run(config, loads, start, period_s=60.0):
    return decision_log(StepScaling(config), cluster, loads, start, period_s)


def test_breach_size_picks_the_step():
    config = StepConfig(scale_out=out_policy(cooldown_s=0.0), scale_in=None, max_replicas=20)
    log = run(config, [0.75, 0.85, 0.5], start=4)
    assert log == [(0.0, 5, "ScaleOutStep"), (60.0, 8, "ScaleOutStep"), (120.0, 8, "AlarmOK")]


def test_m_out_of_n_datapoints_to_alarm():
    config = StepConfig(scale_out=out_policy(evaluation_periods=3, datapoints_to_alarm=2,
                                             cooldown_s=0.0), scale_in=None)
    log = run(config, [0.75, 0.5, 0.75, 0.75, 0.5, 0.5], start=4)
    # t=240: still 2 of the last 3 in breach (ALARM), but 0.5 falls in no step's range
    assert [why for _, _, why in log] == [
        "AlarmOK", "AlarmOK", "ScaleOutStep", "ScaleOutStep", "NoStepMatched", "AlarmOK"]
    assert [r for _, r, _ in log] == [4, 4, 5, 6, 6, 6]


def test_scale_out_cooldown_counts_the_capacity_already_added():
    """API reference: +2, then during the cooldown a +3 step adds only 1 more."""
    config = StepConfig(
        scale_out=out_policy(steps=((0.0, 0.1, 2), (0.1, None, 3)), cooldown_s=300.0),
        scale_in=None, max_replicas=20)
    log = run(config, [0.75, 0.75, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9], start=4)
    assert log[:4] == [
        (0.0, 6, "ScaleOutStep"),
        (60.0, 6, "ScaleOutCooldown"),   # same step again: 4 + 2 is already there
        (120.0, 7, "ScaleOutStep"),      # a larger step: 4 + 3, one more
        (180.0, 7, "ScaleOutCooldown"),
    ]
    assert log[6] == (360.0, 7, "ScaleOutCooldown")  # cooldown restarted at t=120
    assert log[7] == (420.0, 10, "ScaleOutStep")  # 300 s after t=120: from 7, +3


def test_scale_in_cooldown_blocks_scale_in_and_a_scale_out_ends_it():
    config = StepConfig(scale_out=out_policy(cooldown_s=0.0), scale_in=in_policy(cooldown_s=300.0))
    log = run(config, [0.1, 0.1, 0.1, 0.75, 0.1, 0.1], start=6)
    assert log == [
        (0.0, 5, "ScaleInStep"),
        (60.0, 5, "ScaleInCooldown"),
        (120.0, 5, "ScaleInCooldown"),
        (180.0, 6, "ScaleOutStep"),   # scale-out goes ahead during the scale-in cooldown
        (240.0, 5, "ScaleInStep"),    # ... and ended it
        (300.0, 5, "ScaleInCooldown"),
    ]


def test_bounds_clamp_the_steps():
    config = StepConfig(scale_out=out_policy(steps=((0.0, None, 5),), cooldown_s=0.0),
                        scale_in=in_policy(cooldown_s=0.0), min_replicas=2, max_replicas=8)
    assert run(config, [0.9, 0.9], start=6) == [(0.0, 8, "TooManyReplicas"),
                                                (60.0, 8, "TooManyReplicas")]
    assert run(config, [0.1], start=2) == [(0.0, 2, "TooFewReplicas")]
    assert StepScaling(config).decide(cluster(12, 0.5), 0.0) == (8, "TooManyReplicas")


def test_exact_capacity():
    policy = StepScalingPolicy(threshold=0.8, comparison="GreaterThanThreshold",
                               step_adjustments=(StepAdjustment(0.0, None, 9),),
                               adjustment_type="ExactCapacity", cooldown_s=0.0)
    log = run(StepConfig(scale_out=policy, scale_in=None), [0.75, 0.81], start=3)
    assert log == [(0.0, 3, "AlarmOK"), (60.0, 9, "ScaleOutStep")]


def test_metric_aggregation_maximum():
    config = StepConfig(metric_aggregation="Maximum", scale_out=out_policy(cooldown_s=0.0),
                        scale_in=None)
    assert StepScaling(config).decide(cluster(3, [0.1, 0.1, 0.95]), 0.0) == (6, "ScaleOutStep")


@pytest.mark.parametrize("comparison, value, expected", [
    ("GreaterThanOrEqualToThreshold", 0.5, True), ("GreaterThanThreshold", 0.5, False),
    ("LessThanThreshold", 0.5, False), ("LessThanOrEqualToThreshold", 0.5, True),
    ("GreaterThanThreshold", 0.51, True), ("LessThanThreshold", 0.49, True),
])
def test_alarm_comparisons(comparison, value, expected):
    policy = StepScalingPolicy(threshold=0.5, comparison=comparison,
                               step_adjustments=(StepAdjustment(None, 0.0, -1),
                                                 StepAdjustment(0.0, None, 1)))
    assert policy.breaches(value) is expected


def test_missing_metrics_are_insufficient_data():
    view = ClusterView(3, 3, tuple(PodMetrics(i) for i in range(3)))
    assert StepScaling().decide(view, 0.0) == (3, "InsufficientData")


STEP_TABLE_ERRORS = [
    ("overlap", ((0.0, 0.2), (0.1, None))),
    ("gap", ((0.0, 0.1), (0.2, None))),
    ("two open lower bounds", ((None, 0.0), (None, 0.1))),
    ("two open upper bounds", ((0.0, None), (0.1, None))),
    ("negative lower bound needs an open one", ((-0.1, 0.0),)),
    ("positive upper bound needs an open one", ((0.0, 0.1),)),
    ("both bounds open", ((None, None),)),
    ("lower not below upper", ((0.2, 0.1),)),
    ("no steps", ()),
]


@pytest.mark.parametrize("bounds", [c[1] for c in STEP_TABLE_ERRORS],
                         ids=[c[0] for c in STEP_TABLE_ERRORS])
def test_invalid_step_tables_are_rejected(bounds):
    with pytest.raises(ValueError):
        StepScalingPolicy(threshold=0.5, comparison="GreaterThanThreshold",
                          step_adjustments=tuple(StepAdjustment(lo, hi, 1) for lo, hi in bounds))


@pytest.mark.parametrize("changes", [
    dict(comparison="Above"),
    dict(adjustment_type="Percent"),
    dict(min_adjustment_magnitude=2),  # only with PercentChangeInCapacity
    dict(adjustment_type="PercentChangeInCapacity", min_adjustment_magnitude=0),
    dict(evaluation_periods=0),
    dict(evaluation_periods=3, datapoints_to_alarm=4),
    dict(cooldown_s=-1.0),
    dict(threshold=-0.5),
])
def test_impossible_policies_are_rejected(changes):
    kwargs = dict(threshold=0.5, comparison="GreaterThanThreshold",
                  step_adjustments=(StepAdjustment(0.0, None, 1),))
    kwargs.update(changes)
    with pytest.raises(ValueError):
        StepScalingPolicy(**kwargs)


@pytest.mark.parametrize("changes", [
    dict(min_replicas=5, max_replicas=4),
    dict(metric="qps"),
    dict(metric_aggregation="Median"),
    dict(scale_out=None, scale_in=None),
])
def test_impossible_configs_are_rejected(changes):
    with pytest.raises(ValueError):
        StepConfig(**changes)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 15), st.floats(0.0, 1.5)), min_size=1, max_size=40))
def test_step_never_leaves_its_bounds(steps):
    policy = StepScaling(StepConfig(scale_out=out_policy(cooldown_s=0.0),
                                    scale_in=in_policy(cooldown_s=0.0)))
    for k, (replicas, load) in enumerate(steps):
        decision = policy.decide(cluster(replicas, load), 60.0 * k)
        assert 2 <= decision.desired_replicas <= 10
