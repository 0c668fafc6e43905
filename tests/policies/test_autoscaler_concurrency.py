"""concurrency: KEDA-style ceil(total in-flight / target), activation and scale to zero."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.autoscalers.behavior import ScalingRules
from policies.autoscalers.concurrency import (
    Concurrency,
    ConcurrencyConfig,
    concurrency_replicas,
    total_in_flight,
)
from policies.views import DRAINING, ClusterView, PodMetrics
from tests.policies.autoscaler_helpers import decision_log


@pytest.mark.parametrize("current, total, target, expected", [
    (4, 40.0, 8.0, (5, "AboveTarget")),
    (4, 33.0, 8.0, (4, "WithinTolerance")),     # 33 / 32 is within 10 %
    (4, 8.0, 8.0, (1, "BelowTarget")),
    (10, 0.0, 8.0, (0, "BelowTarget")),
    (0, 17.0, 8.0, (3, "AboveTarget")),         # from zero: ceil(total / target)
    (0, 0.0, 8.0, (0, "WithinTolerance")),
    (1, 86.0, 44.0, (2, "AboveTarget")),        # controller table: 8600 against 4400
])
def test_concurrency_replicas(current, total, target, expected):
    assert concurrency_replicas(current, total, target, 0.1) == expected


def test_concurrency_replicas_rejects_a_zero_target():
    with pytest.raises(ValueError):
        concurrency_replicas(1, 1.0, 0.0, 0.1)


def view(replicas, total=None, per_pod=None):
    pods = tuple(PodMetrics(i, in_flight=per_pod) for i in range(replicas))
    return ClusterView(replicas, replicas, pods, in_flight_total=total)


def test_total_prefers_the_cluster_figure_then_sums_live_instances():
    assert total_in_flight(view(3, total=12.0, per_pod=1.0)) == 12.0
    assert total_in_flight(view(3, per_pod=2.0)) == 6.0
    draining = ClusterView(2, 1, (PodMetrics(0, in_flight=3.0),
                                  PodMetrics(1, state=DRAINING, in_flight=9.0)))
    assert total_in_flight(draining) == 3.0
    assert total_in_flight(view(2)) is None


def run(policy, totals, start, period_s=30.0):
    return decision_log(policy, lambda replicas, total: view(replicas, total=total), totals,
                        start, period_s)


def test_scale_up_follows_the_total_with_the_hpa_rate_limit():
    policy = Concurrency(ConcurrencyConfig(min_replicas=1, max_replicas=20,
                                           target_in_flight_per_instance=5.0))
    log = run(policy, [50.0, 50.0, 50.0], start=1)
    # 1 -> max(1 + 4, 2 x 1) = 5 -> 10 (what 50 / 5 asks) -> steady
    assert log == [(0.0, 5, "ScaleUpLimit"), (30.0, 10, "DesiredWithinRange"),
                   (60.0, 10, "WithinTolerance")]


def test_scale_down_waits_for_the_stabilization_window():
    policy = Concurrency(ConcurrencyConfig(min_replicas=1, max_replicas=20,
                                           target_in_flight_per_instance=5.0))
    log = run(policy, [10.0] * 12, start=8)
    assert all(r == 8 and why == "ScaleDownStabilized" for _, r, why in log[:10])
    assert log[10] == (300.0, 2, "DesiredWithinRange")


def test_keda_activation_and_scale_to_zero():
    config = ConcurrencyConfig(min_replicas=0, max_replicas=10, target_in_flight_per_instance=4.0,
                               activation_in_flight=2.0, cooldown_period_s=120.0,
                               scale_down=ScalingRules(stabilization_window_s=0))
    policy = Concurrency(config)
    log = run(policy, [0.0, 2.0, 3.0, 8.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], start=0)
    assert log == [
        (0.0, 0, "Inactive"),
        (30.0, 0, "Inactive"),          # 2 is not above the activation threshold
        (60.0, 1, "Activated"),
        (90.0, 2, "DesiredWithinRange"),
        (120.0, 1, "TooFewReplicas"),   # idle: the HPA part keeps one replica
        (150.0, 1, "TooFewReplicas"),
        (180.0, 1, "TooFewReplicas"),
        (210.0, 0, "ScaledToZero"),     # 120 s since the last active poll (t=90)
        (240.0, 0, "Inactive"),
        (270.0, 0, "Inactive"),
    ]


def test_missing_metrics_hold():
    assert Concurrency().decide(view(3), 0.0) == (3, "NoMetrics")


def test_counts_outside_the_bounds_are_brought_back():
    policy = Concurrency(ConcurrencyConfig(min_replicas=2, max_replicas=4))
    assert policy.decide(view(1, total=1.0), 0.0) == (2, "TooFewReplicas")
    assert policy.decide(view(7, total=1.0), 30.0) == (4, "TooManyReplicas")


def test_a_wrapper_may_close_the_target():
    policy = Concurrency(ConcurrencyConfig(min_replicas=0))
    assert policy.decide_within(view(3, total=50.0), 0.0, 0, 0) == (0, "TooManyReplicas")


@pytest.mark.parametrize("make", [
    lambda: ConcurrencyConfig(min_replicas=3, max_replicas=2),
    lambda: ConcurrencyConfig(max_replicas=0),
    lambda: ConcurrencyConfig(target_in_flight_per_instance=0.0),
    lambda: ConcurrencyConfig(activation_in_flight=-1.0),
    lambda: ConcurrencyConfig(cooldown_period_s=-5.0),
    lambda: ConcurrencyConfig(tolerance=-0.1),
    lambda: ConcurrencyConfig(scale_down=ScalingRules(stabilization_window_s=4000)),
])
def test_impossible_configs_are_rejected(make):
    with pytest.raises(ValueError):
        make()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 15), st.floats(0.0, 200.0)), min_size=1, max_size=40))
def test_concurrency_never_leaves_its_bounds(steps):
    policy = Concurrency(ConcurrencyConfig(min_replicas=0, max_replicas=10,
                                           cooldown_period_s=60.0))
    for k, (replicas, total) in enumerate(steps):
        decision = policy.decide(view(replicas, total=total), 30.0 * k)
        assert 0 <= decision.desired_replicas <= 10
