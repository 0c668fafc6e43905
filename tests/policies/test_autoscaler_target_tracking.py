"""target_tracking: the HPA replica calculation, its pod grouping and the control loop around it.

Oracles are the HPA documentation's examples and cases of the controller's own tables
(replica_calculator_test.go), re-expressed in this package's units (fractions, not milli-CPU).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.autoscalers.behavior import ScalingPolicy, ScalingRules
from policies.autoscalers.target_tracking import (
    MetricTarget,
    PodSample,
    TargetTracking,
    TargetTrackingConfig,
    calculate_replicas,
    missing_value_on_scale_down,
    pod_samples,
)
from policies.runtime import ControlLoop
from policies.views import BOOTING, DRAINING, FAILED, ClusterView, PodMetrics
from tests.policies.autoscaler_helpers import decision_log

R = PodSample  # a ready pod with a value
MISSING = PodSample(None, True)
UNREADY = PodSample(None, False)

# (name, current, samples, target, tolerance, missing_on_down, expected replicas, reason)
CALCULATION_CASES = [
    # Documentation, "Algorithm details": 200m against 100m doubles, 50m halves.
    ("docs: 200m/100m doubles", 4, [R(200.0)] * 4, 100.0, 0.1, None, 8, "AboveTarget"),
    ("docs: 50m/100m halves", 4, [R(50.0)] * 4, 100.0, 0.1, None, 2, "BelowTarget"),
    ("docs: ratio within 0.1 of 1.0 skips", 4, [R(105.0)] * 4, 100.0, 0.1, None, 4,
     "WithinTolerance"),
    ("docs: 90/75 on 50 replicas gives 60", 50, [R(90.0)] * 50, 75.0, 0.1, None, 60,
     "AboveTarget"),
    ("tolerance band edge is inclusive", 3, [R(1.0), R(1.0), R(1.2)], 1.0, 0.1, None, 3,
     "WithinTolerance"),
    # replica_calculator_test.go
    ("ScaleUp", 3, [R(0.3), R(0.5), R(0.7)], 0.3, 0.1, None, 5, "AboveTarget"),
    ("ScaleUpUnreadyLessScale", 3, [UNREADY, R(0.5), R(0.7)], 0.3, 0.1, None, 4,
     "AboveTarget"),
    ("ScaleUpUnreadyNoScale", 3, [R(0.4), UNREADY, UNREADY], 0.3, 0.1, None, 3,
     "DirectionReversed"),
    ("ScaleDown", 5, [R(0.1), R(0.3), R(0.5), R(0.25), R(0.25)], 0.5, 0.1, None, 3,
     "BelowTarget"),
    ("ScaleDownExcludeUnreadyPods", 5, [R(0.1), R(0.3), R(0.5), UNREADY, UNREADY], 0.5, 0.1,
     None, 2, "BelowTarget"),
    ("ScaleDownExcludeUnscheduledPods", 5, [R(0.1)] + [UNREADY] * 4, 0.5, 0.1, None, 1,
     "BelowTarget"),
    ("ScaleUpCM (plain metric)", 3, [R(20.0), R(10.0), R(30.0)], 15.0, 0.1, None, 4,
     "AboveTarget"),
    ("ScaleDownCM (plain metric)", 5, [R(12.0)] * 5, 20.0, 0.1, None, 3, "BelowTarget"),
    ("ToleranceCM", 3, [R(20.0), R(21.0), R(21.0)], 20.0, 0.1, None, 3, "WithinTolerance"),
    ("MissingMetrics: missing count as 100% on scale-down", 4,
     [R(0.4), R(0.095), MISSING, MISSING], 1.0, 0.1, 1.0, 3, "BelowTarget"),
    ("MissingMetricsNoChangeEq", 2, [R(1.0), MISSING], 1.0, 0.1, 1.0, 2, "WithinTolerance"),
    ("MissingMetricsNoChangeGt: missing count as 0 on scale-up", 2, [R(1.9), MISSING], 1.0,
     0.1, 1.0, 2, "WithinTolerance"),
    ("MissingMetricsNoChangeLt", 2, [R(0.6), MISSING], 1.0, 0.1, 1.0, 2, "BelowTarget"),
    ("MissingMetricsUnreadyChange: rebalance would reverse", 3, [UNREADY, R(0.45), MISSING],
     0.5, 0.1, 1.0, 3, "DirectionReversed"),
    ("MissingMetricsUnreadyScaleUp", 3, [UNREADY, R(2.0), MISSING], 0.5, 0.1, 1.0, 4,
     "AboveTarget"),
    ("MissingMetricsUnreadyScaleDown", 4, [UNREADY, R(0.1), R(0.1), MISSING], 0.5, 0.1, 1.0,
     3, "BelowTarget"),
    ("plain metric: missing counts as exactly the target", 4,
     [R(2.0), R(2.0), MISSING, MISSING], 10.0, 0.1, None, 3, "BelowTarget"),
    ("target above 100%: missing counts as the target", 4,
     [R(0.5), R(0.5), MISSING, MISSING], 3.0, 0.1, 3.0, 3, "BelowTarget"),
    ("more pods counted than current would reverse", 2, [R(0.1), MISSING, MISSING, MISSING],
     1.0, 0.1, 1.0, 2, "DirectionReversed"),
    ("no ready pod has a value", 3, [UNREADY, MISSING, UNREADY], 0.5, 0.1, None, 3,
     "NoMetrics"),
    ("no pods at all", 2, [], 0.5, 0.1, None, 2, "NoMetrics"),
    ("zero tolerance acts on any change", 10, [R(1.01)] * 10, 1.0, 0.0, None, 11,
     "AboveTarget"),
]


@pytest.mark.parametrize(
    "current, samples, target, tolerance, missing_down, expected, reason",
    [case[1:] for case in CALCULATION_CASES],
    ids=[case[0] for case in CALCULATION_CASES],
)
def test_calculate_replicas_table(current, samples, target, tolerance, missing_down, expected,
                                  reason):
    assert calculate_replicas(
        current, samples, target, tolerance, missing_value_on_scale_down=missing_down
    ) == (expected, reason)


@pytest.mark.parametrize("target, tolerance", [(0.0, 0.1), (-1.0, 0.1), (1.0, -0.1)])
def test_calculate_replicas_rejects_impossible_arguments(target, tolerance):
    with pytest.raises(ValueError):
        calculate_replicas(3, [R(1.0)], target, tolerance)


@settings(max_examples=200, deadline=None)
@given(
    current=st.integers(1, 50),
    values=st.lists(st.floats(0.0, 5.0), min_size=1, max_size=30),
    target=st.floats(0.05, 3.0),
)
def test_calculation_without_missing_or_unready_is_the_formula(current, values, target):
    ratio = sum(values) / len(values) / target
    replicas, reason = calculate_replicas(current, [R(v) for v in values], target, 0.1)
    if 0.9 <= ratio <= 1.1:
        assert (replicas, reason) == (current, "WithinTolerance")
    else:
        assert replicas == math.ceil(ratio * len(values))


@settings(max_examples=200, deadline=None)
@given(
    samples=st.lists(
        st.one_of(st.builds(R, st.floats(0.0, 4.0)), st.just(MISSING), st.just(UNREADY)),
        min_size=1, max_size=30,
    ),
    target=st.floats(0.1, 2.0),
)
def test_rebalancing_never_moves_against_the_ready_pods(samples, target):
    """Missing and not-ready pods only dampen: the result never goes the other way.

    (With one pod per replica, as the views have; the controller's fast path can move against
    the ratio when fewer pods exist than replicas.)
    """
    current = len(samples)
    ready = [s.value for s in samples if s.ready and s.value is not None]
    replicas, reason = calculate_replicas(current, samples, target, 0.1,
                                          missing_value_on_scale_down=max(1.0, target))
    if not ready:
        assert (replicas, reason) == (current, "NoMetrics")
        return
    ratio = sum(ready) / len(ready) / target
    if reason == "AboveTarget":
        assert ratio > 1.0
    if reason == "BelowTarget":
        assert ratio < 1.0
    if ratio > 1.0 and reason != "AboveTarget":
        assert replicas == current
    if replicas > current:
        assert ratio > 1.0
    if replicas < current:
        assert ratio < 1.0


def _pod(i, state="ready", ready=True, cpu=0.5, rps=5.0):
    return PodMetrics(i, state=state, ready=ready, cpu_util_frac=cpu, request_rps=rps)


POD_SAMPLE_CASES = [
    ("ready pod keeps its value", [_pod(0)], "cpu_util_frac", [R(0.5)]),
    ("booting pod is not yet ready", [_pod(0, state=BOOTING, ready=False, cpu=None)],
     "cpu_util_frac", [UNREADY]),
    ("draining and failed pods are dropped",
     [_pod(0, state=DRAINING), _pod(1, state=FAILED), _pod(2)], "cpu_util_frac", [R(0.5)]),
    ("missing value is missing", [_pod(0, cpu=None)], "cpu_util_frac", [MISSING]),
    ("cpu: not-ready pod with a value is set aside", [_pod(0, ready=False)], "cpu_util_frac",
     [UNREADY]),
    ("plain metric: not-ready pod with a value counts", [_pod(0, ready=False)], "request_rps",
     [R(5.0)]),
    ("plain metric: booting pod is not yet ready", [_pod(0, state=BOOTING, rps=None)],
     "request_rps", [UNREADY]),
]


@pytest.mark.parametrize("pods, metric, expected", [c[1:] for c in POD_SAMPLE_CASES],
                         ids=[c[0] for c in POD_SAMPLE_CASES])
def test_pod_samples_follow_the_controllers_grouping(pods, metric, expected):
    assert pod_samples(pods, metric) == expected


@pytest.mark.parametrize("metric, target, expected", [
    ("cpu_util_frac", 0.8, 1.0), ("cpu_util_frac", 3.0, 3.0), ("memory_frac", 0.5, 1.0),
    ("in_flight", 8.0, 8.0), ("latency_s", 0.2, 0.2),
])
def test_missing_value_on_scale_down(metric, target, expected):
    assert missing_value_on_scale_down(metric, target) == expected


def view(replicas, cpu, *, booting=0, rps=None, ready=None):
    """`replicas` instances at `cpu` (a float or one per pod), the last `booting` of them new."""
    cpus = cpu if isinstance(cpu, list) else [cpu] * replicas
    pods = []
    for i in range(replicas):
        if i >= replicas - booting:
            pods.append(PodMetrics(i, state=BOOTING, ready=False))
        else:
            pods.append(PodMetrics(i, cpu_util_frac=cpus[i], request_rps=rps))
    return ClusterView(replicas, replicas - booting if ready is None else ready, tuple(pods))


def drive(policy, loads, period_s=15.0, start=None):
    """Apply each decision; loads[k] is the per-pod cpu at step k. Returns [(t, replicas, why)]."""
    replicas = start if start is not None else policy.config.min_replicas
    return decision_log(policy, view, loads, replicas, period_s)


def test_default_scale_up_adds_max_of_100_percent_or_4_pods_per_15s():
    policy = TargetTracking(TargetTrackingConfig(min_replicas=2, max_replicas=40))
    log = drive(policy, [4.0] * 5, start=2)
    # 2 -> max(2+4, 2x2) = 6 -> max(10, 12) = 12 -> 24 -> 40 (max)
    assert [r for _, r, _ in log] == [6, 12, 24, 40, 40]
    assert [why for _, _, why in log] == [
        "ScaleUpLimit", "ScaleUpLimit", "ScaleUpLimit", "TooManyReplicas", "TooManyReplicas"
    ]


def test_default_scale_down_waits_for_the_300s_stabilization_window():
    policy = TargetTracking(TargetTrackingConfig(min_replicas=2, max_replicas=10))
    log = drive(policy, [0.2] * 22, start=8)  # ratio 0.25: wants 2
    held = [(t, r, why) for t, r, why in log if t < 300.0]
    assert all(r == 8 and why == "ScaleDownStabilized" for _, r, why in held)
    assert log[20] == (300.0, 2, "DesiredWithinRange")  # the seed at t=0 has left the window
    # 2 pods at 0.2 now want 1, but the 2s recommended over the last 300 s hold
    assert log[21] == (315.0, 2, "ScaleDownStabilized")


def test_a_spike_inside_the_down_window_holds_the_high_recommendation():
    policy = TargetTracking(TargetTrackingConfig(
        min_replicas=1, max_replicas=10,
        scale_down=ScalingRules(stabilization_window_s=60)))
    loads = [0.8, 0.8, 0.8, 0.8, 0.8, 1.6, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4]
    replicas = [r for _, r, _ in drive(policy, loads, start=4)]
    # at t=75 the spike asks for 8; the 60 s window keeps 8 while t - 75 < 60
    assert replicas == [4, 4, 4, 4, 4, 8, 8, 8, 8, 4, 4, 4]


def test_docs_scale_down_policies_80_replicas_4_pods_or_10_percent_per_minute():
    """Documentation example: with Pods 4/60 s and Percent 10/60 s (select Max) 80 replicas
    drop by 8, then by 10 % of 72 rounded up to 8, and by 4 once under 40."""
    config = TargetTrackingConfig(
        min_replicas=1, max_replicas=100,
        scale_down=ScalingRules(stabilization_window_s=0, policies=(
            ScalingPolicy("Pods", 4, 60), ScalingPolicy("Percent", 10, 60))))
    policy = TargetTracking(config)
    log = drive(policy, [0.1] * 12, period_s=60.0, start=80)  # wants 10
    assert [r for _, r, _ in log] == [72, 64, 57, 51, 45, 40, 36, 32, 28, 24, 20, 16]
    assert all(why == "ScaleDownLimit" for _, _, why in log)


def test_scale_down_limit_holds_until_the_period_has_passed():
    config = TargetTrackingConfig(
        min_replicas=1, max_replicas=100,
        scale_down=ScalingRules(stabilization_window_s=0, policies=(
            ScalingPolicy("Pods", 4, 60), ScalingPolicy("Percent", 10, 60))))
    log = drive(TargetTracking(config), [0.1] * 6, period_s=15.0, start=80)
    assert [r for _, r, _ in log] == [72, 72, 72, 72, 64, 64]


def test_select_policy_min_takes_the_smallest_change():
    config = TargetTrackingConfig(
        min_replicas=1, max_replicas=100,
        scale_down=ScalingRules(stabilization_window_s=0, select_policy="Min", policies=(
            ScalingPolicy("Pods", 4, 60), ScalingPolicy("Percent", 10, 60))))
    log = drive(TargetTracking(config), [0.1] * 2, period_s=60.0, start=80)
    assert [r for _, r, _ in log] == [76, 72]


def test_disabled_scale_down_never_removes_replicas():
    config = TargetTrackingConfig(min_replicas=1, max_replicas=10,
                                  scale_down=ScalingRules(select_policy="Disabled"))
    log = drive(TargetTracking(config), [0.05] * 30, start=6)
    assert {r for _, r, _ in log} == {6}
    assert log[-1][2] == "ScaleDownLimit"


def test_replica_count_outside_the_bounds_goes_straight_to_them():
    policy = TargetTracking(TargetTrackingConfig(min_replicas=3, max_replicas=5))
    assert policy.decide(view(1, 0.8), 0.0) == (3, "TooFewReplicas")
    assert policy.decide(view(9, 0.8), 15.0) == (5, "TooManyReplicas")
    assert policy.decide(view(0, 0.8), 30.0) == (3, "TooFewReplicas")


def test_desired_count_is_clamped_to_the_bounds_with_the_controllers_reasons():
    policy = TargetTracking(TargetTrackingConfig(
        min_replicas=2, max_replicas=4, scale_down=ScalingRules(stabilization_window_s=0)))
    assert policy.decide(view(4, 4.0), 0.0) == (4, "TooManyReplicas")
    assert policy.decide(view(2, 0.01), 15.0) == (2, "TooFewReplicas")


def test_booting_instances_dampen_a_scale_up():
    policy = TargetTracking(TargetTrackingConfig(min_replicas=1, max_replicas=20))
    # 2 ready at 1.6 (ratio 2) and 2 booting counted as 0: new ratio 1.0 -> no change
    assert policy.decide(view(4, 1.6, booting=2), 0.0) == (4, "WithinTolerance")


def test_the_largest_metric_proposal_wins():
    config = TargetTrackingConfig(min_replicas=1, max_replicas=20, metrics=(
        MetricTarget("cpu_util_frac", 0.5), MetricTarget("request_rps", 10.0)))
    policy = TargetTracking(config)
    cluster = ClusterView(4, 4, tuple(PodMetrics(i, cpu_util_frac=0.5, request_rps=20.0)
                                      for i in range(4)))
    assert policy.decide(cluster, 0.0) == (8, "DesiredWithinRange")  # rps wants 8, cpu 4


@pytest.mark.parametrize("rps, expected", [
    (30.0, (6, "DesiredWithinRange")),  # valid metric wants more: scale on it
    (2.0, (4, "FailedComputeMetricsReplicas")),  # valid metric wants fewer: hold
])
def test_an_invalid_metric_only_allows_scaling_up(rps, expected):
    config = TargetTrackingConfig(min_replicas=1, max_replicas=20, metrics=(
        MetricTarget("cpu_util_frac", 0.5), MetricTarget("request_rps", 20.0)),
        scale_down=ScalingRules(stabilization_window_s=0))
    cluster = ClusterView(4, 4, tuple(PodMetrics(i, cpu_util_frac=None, request_rps=rps)
                                      for i in range(4)))
    assert TargetTracking(config).decide(cluster, 0.0) == expected


def test_no_metrics_at_all_holds():
    policy = TargetTracking(TargetTrackingConfig())
    cluster = ClusterView(3, 3, tuple(PodMetrics(i) for i in range(3)))
    assert policy.decide(cluster, 0.0) == (3, "FailedComputeMetricsReplicas")


def test_decide_within_uses_the_callers_bounds():
    policy = TargetTracking(TargetTrackingConfig(min_replicas=2, max_replicas=10))
    assert policy.decide_within(view(3, 0.8), 0.0, 5, 8) == (5, "TooFewReplicas")
    with pytest.raises(ValueError):
        policy.decide_within(view(3, 0.8), 15.0, 6, 5)


CONFIG_ERRORS = [
    ("min above max", dict(min_replicas=5, max_replicas=2)),
    ("min zero", dict(min_replicas=0)),
    ("no metrics", dict(metrics=())),
    ("unknown metric", dict(metrics=(("gpu_util", 0.5),))),
    ("negative tolerance", dict(tolerance=-0.1)),
    ("window above 3600 s", dict(scale_down=("window", 3601))),
    ("policy period 0", dict(scale_up=("period", 0))),
    ("policy period above 1800 s", dict(scale_up=("period", 1801))),
    ("unknown select policy", dict(scale_up=("select", "Largest"))),
    ("unknown policy type", dict(scale_up=("type", "Replicas"))),
    ("empty policy list", dict(scale_up=("policies", ()))),
    ("negative target", dict(metrics=(("cpu_util_frac", -0.5),))),
]


def _build_config(changes):
    kwargs = {}
    for key, value in changes.items():
        if key == "metrics":
            kwargs[key] = tuple(MetricTarget(*m) for m in value)
        elif key in ("scale_up", "scale_down"):
            what, arg = value
            if what == "window":
                kwargs[key] = ScalingRules(stabilization_window_s=arg)
            elif what == "period":
                kwargs[key] = ScalingRules(policies=(ScalingPolicy("Pods", 1, arg),))
            elif what == "select":
                kwargs[key] = ScalingRules(select_policy=arg)
            elif what == "type":
                kwargs[key] = ScalingRules(policies=(ScalingPolicy(arg, 1, 15),))
            else:
                kwargs[key] = ScalingRules(policies=arg)
        else:
            kwargs[key] = value
    return TargetTrackingConfig(**kwargs)


@pytest.mark.parametrize("changes", [c[1] for c in CONFIG_ERRORS],
                         ids=[c[0] for c in CONFIG_ERRORS])
def test_impossible_configs_are_rejected(changes):
    with pytest.raises(ValueError):
        _build_config(changes)


class FakeClock:
    """A clock that only moves when the loop sleeps."""

    def __init__(self) -> None:
        self.now_s = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now_s += seconds


def test_control_loop_drives_target_tracking_on_a_fake_clock():
    """observe → decide → apply every 15 s; the fake cluster follows the decisions."""
    clock = FakeClock()
    config = TargetTrackingConfig(min_replicas=2, max_replicas=10)
    state = {"replicas": 2}
    demand_cores = 4.8  # total CPU demand; per-pod utilization = demand / replicas

    def observe(now_s):
        n = state["replicas"]
        return view(n, demand_cores / n)

    applied = []

    def apply(decision, now_s):
        applied.append((now_s, decision.desired_replicas, decision.reason))
        state["replicas"] = decision.desired_replicas

    loop = ControlLoop(TargetTracking(config), observe, apply, config.sync_period_s,
                       clock=clock, sleep=clock.sleep)
    history = loop.run(iterations=4)
    assert [step.now_s for step in history] == [0.0, 15.0, 30.0, 45.0]
    assert clock.sleeps == [15.0, 15.0, 15.0]
    # 2 pods at 2.4 (ratio 3) -> 6 (limit max(4, 6)); 6 at 0.8 -> 6; then steady
    assert applied == [
        (0.0, 6, "DesiredWithinRange"),
        (15.0, 6, "WithinTolerance"),
        (30.0, 6, "WithinTolerance"),
        (45.0, 6, "WithinTolerance"),
    ]


@settings(max_examples=60, deadline=None)
@given(
    bounds=st.tuples(st.integers(1, 6), st.integers(0, 10)),
    steps=st.lists(st.tuples(st.integers(0, 25), st.floats(0.0, 3.0), st.integers(0, 3)),
                   min_size=1, max_size=40),
)
def test_target_tracking_never_leaves_its_bounds(bounds, steps):
    low, extra = bounds
    policy = TargetTracking(TargetTrackingConfig(min_replicas=low, max_replicas=low + extra))
    for k, (replicas, load, booting) in enumerate(steps):
        decision = policy.decide(view(replicas, load, booting=min(booting, replicas)), 15.0 * k)
        assert low <= decision.desired_replicas <= low + extra
        assert decision.reason
