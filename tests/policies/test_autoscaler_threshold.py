"""threshold: N consecutive breaches, steps of k, cooldowns; as event logs on a fake clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.autoscalers.threshold import Threshold, ThresholdConfig
from policies.views import BOOTING, DRAINING, ClusterView, PodMetrics
from tests.policies.autoscaler_helpers import decision_log


def cluster(replicas, cpu, booting=0):
    pods = [PodMetrics(i, cpu_util_frac=cpu) for i in range(replicas - booting)]
    pods += [PodMetrics(100 + i, state=BOOTING, ready=False) for i in range(booting)]
    return ClusterView(replicas, replicas - booting, tuple(pods))


def run(config, loads, start, period_s=30.0):
    """Apply each decision; returns [(t, replicas, reason)]."""
    return decision_log(Threshold(config), cluster, loads, start, period_s)


def test_service_defaults():
    cfg = ThresholdConfig()
    assert (cfg.min_replicas, cfg.max_replicas) == (2, 10)
    assert (cfg.scale_up_threshold, cfg.scale_down_threshold) == (0.70, 0.30)


def test_scales_up_after_n_periods_above_then_respects_the_cooldown():
    config = ThresholdConfig(scale_up_periods=3, scale_up_step=2, scale_up_cooldown_s=100.0)
    log = run(config, [0.9] * 8, start=2)
    assert log == [
        (0.0, 2, "UpperBreachPending"),
        (30.0, 2, "UpperBreachPending"),
        (60.0, 4, "AboveUpperThreshold"),
        (90.0, 4, "UpperBreachPending"),
        (120.0, 4, "UpperBreachPending"),
        (150.0, 4, "ScaleUpCooldown"),  # 3 breaches again, but only 90 s since the last step
        (180.0, 6, "AboveUpperThreshold"),
        (210.0, 6, "UpperBreachPending"),
    ]


def test_a_dip_restarts_the_breach_count():
    log = run(ThresholdConfig(scale_up_periods=3), [0.9, 0.9, 0.5, 0.9, 0.9, 0.9], start=2)
    assert [r for _, r, _ in log] == [2, 2, 2, 2, 2, 3]
    assert log[2][2] == "WithinThresholds"


def test_scales_down_after_n_periods_below_with_the_down_cooldown():
    config = ThresholdConfig(scale_down_periods=2, scale_down_step=1, scale_down_cooldown_s=60.0)
    log = run(config, [0.1] * 7, start=5)
    assert log == [
        (0.0, 5, "LowerBreachPending"),
        (30.0, 4, "BelowLowerThreshold"),
        (60.0, 4, "LowerBreachPending"),
        (90.0, 3, "BelowLowerThreshold"),
        (120.0, 3, "LowerBreachPending"),
        (150.0, 2, "BelowLowerThreshold"),
        (180.0, 2, "LowerBreachPending"),
    ]


def test_no_scale_down_right_after_a_scale_up():
    config = ThresholdConfig(scale_up_periods=1, scale_down_periods=1, scale_down_cooldown_s=300.0)
    log = run(config, [0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], start=3)
    assert log[0] == (0.0, 4, "AboveUpperThreshold")
    assert all(why == "ScaleDownCooldown" for _, _, why in log[1:10])  # t = 30 .. 270
    assert log[10] == (300.0, 3, "BelowLowerThreshold")


def test_the_bounds_stop_the_steps():
    up = run(ThresholdConfig(scale_up_periods=1, scale_up_step=3, scale_up_cooldown_s=0.0),
             [0.95] * 4, start=6)
    assert up == [(0.0, 9, "AboveUpperThreshold"), (30.0, 10, "TooManyReplicas"),
                  (60.0, 10, "TooManyReplicas"), (90.0, 10, "TooManyReplicas")]
    down = run(ThresholdConfig(scale_down_periods=1, scale_down_step=5, scale_down_cooldown_s=0.0),
               [0.05] * 2, start=4)
    assert down == [(0.0, 2, "TooFewReplicas"), (30.0, 2, "TooFewReplicas")]


def test_counts_outside_the_bounds_are_brought_back():
    policy = Threshold(ThresholdConfig(min_replicas=3, max_replicas=6))
    assert policy.decide(cluster(1, 0.5), 0.0) == (3, "TooFewReplicas")
    assert policy.decide(cluster(9, 0.5), 30.0) == (6, "TooManyReplicas")


def test_booting_and_draining_instances_do_not_dilute_the_average():
    policy = Threshold(ThresholdConfig(scale_up_periods=1))
    pods = (PodMetrics(0, cpu_util_frac=0.8), PodMetrics(1, state=DRAINING, cpu_util_frac=0.0),
            PodMetrics(2, state=BOOTING, ready=False))
    assert policy.decide(ClusterView(2, 1, pods), 0.0) == (3, "AboveUpperThreshold")
    assert Threshold().decide(cluster(3, 0.5, booting=3), 0.0) == (3, "NoMetrics")


def test_metric_is_configurable():
    config = ThresholdConfig(metric="latency_s", scale_up_threshold=0.5, scale_down_threshold=0.1,
                             scale_up_periods=1)
    pods = tuple(PodMetrics(i, latency_s=0.8) for i in range(3))
    assert Threshold(config).decide(ClusterView(3, 3, pods), 0.0) == (4, "AboveUpperThreshold")


@pytest.mark.parametrize("changes", [
    dict(min_replicas=4, max_replicas=3),
    dict(scale_up_threshold=0.3, scale_down_threshold=0.3),
    dict(scale_down_threshold=-0.1),
    dict(metric="gpu"),
    dict(scale_up_periods=0),
    dict(scale_down_step=0),
    dict(scale_up_cooldown_s=-1.0),
    dict(scale_down_cooldown_s=3601.0),
    dict(sync_period_s=0.0),
])
def test_impossible_configs_are_rejected(changes):
    with pytest.raises(ValueError):
        ThresholdConfig(**changes)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 15), st.floats(0.0, 1.5)), min_size=1, max_size=40))
def test_threshold_never_leaves_its_bounds(steps):
    policy = Threshold(ThresholdConfig(scale_up_periods=1, scale_down_periods=1,
                                       scale_up_step=4, scale_down_step=4,
                                       scale_up_cooldown_s=0.0, scale_down_cooldown_s=0.0))
    for k, (replicas, load) in enumerate(steps):
        decision = policy.decide(cluster(replicas, load), 30.0 * k)
        assert 2 <= decision.desired_replicas <= 10
