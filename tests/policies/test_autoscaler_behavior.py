"""HPA behavior: rate limits over past scale events, stabilization windows, defaults.

Cases mirror horizontal_test.go's tables (events and recommendations given as offsets from
now) and the documentation's behavior examples.
"""

from __future__ import annotations

import pytest

from policies.autoscalers.behavior import (
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    Behavior,
    Recommendation,
    ScaleEvent,
    ScalingPolicy,
    ScalingRules,
    limit_rate,
    replicas_changed_in_period,
    resolve_rules,
    scale_down_limit,
    scale_up_limit,
    stabilize,
)

NOW = 1000.0


def ev(ago_s, replicas):
    return ScaleEvent(NOW - ago_s, replicas)


def rec(ago_s, replicas):
    return Recommendation(NOW - ago_s, replicas)


@pytest.mark.parametrize("period_s, events, expected", [
    (60, [], 0),
    (60, [ev(30, 3)], 3),
    (60, [ev(30, 3), ev(45, 2), ev(70, 1)], 5),
    (60, [ev(60, 4)], 0),  # exactly one period old: outside
    (60, [ev(59.9, 4)], 4),
])
def test_replicas_changed_in_period(period_s, events, expected):
    assert replicas_changed_in_period(events, period_s, NOW) == expected


def rules(select="Max", *policies):
    return ScalingRules(stabilization_window_s=0, select_policy=select,
                        policies=tuple(ScalingPolicy(*p) for p in policies))


UP_CASES = [
    ("default: 100% beats 4 pods at 10", 10, [], [], DEFAULT_SCALE_UP, 20),
    ("default: 4 pods beat 100% at 2", 2, [], [], DEFAULT_SCALE_UP, 6),
    ("percent rounds up", 3, [], [], rules("Max", ("Percent", 10, 60)), 4),
    ("events in the period shrink the allowance", 8, [ev(30, 3)], [],
     rules("Max", ("Pods", 4, 60)), 9),
    ("events outside the period do not", 8, [ev(90, 3)], [], rules("Max", ("Pods", 4, 60)), 12),
    ("scale-downs in the period raise the start", 8, [], [ev(30, 2)],
     rules("Max", ("Pods", 4, 60)), 14),
    ("select Min", 10, [], [], rules("Min", ("Pods", 4, 60), ("Percent", 100, 60)), 14),
    ("Disabled returns current", 10, [], [], rules("Disabled", ("Pods", 4, 60)), 10),
    ("per-policy periods", 10, [ev(30, 4)], [],
     rules("Max", ("Pods", 1, 15), ("Pods", 6, 60)), 12),
]


@pytest.mark.parametrize("current, up, down, scaling, expected", [c[1:] for c in UP_CASES],
                         ids=[c[0] for c in UP_CASES])
def test_scale_up_limit(current, up, down, scaling, expected):
    assert scale_up_limit(current, up, down, scaling, NOW) == expected


DOWN_CASES = [
    ("default: 100% allows zero", 10, [], [], DEFAULT_SCALE_DOWN, 0),
    ("percent truncates (docs: 10% of 72 removes 8)", 72, [], [],
     rules("Max", ("Percent", 10, 60)), 64),
    ("docs: Max picks the larger change", 80, [], [],
     rules("Max", ("Pods", 4, 60), ("Percent", 10, 60)), 72),
    ("docs: under 40 the Pods policy removes more", 30, [], [],
     rules("Max", ("Pods", 4, 60), ("Percent", 10, 60)), 26),
    ("Min picks the smaller change", 80, [], [],
     rules("Min", ("Pods", 4, 60), ("Percent", 10, 60)), 76),
    ("removals in the period count", 72, [], [ev(30, 8)],
     rules("Max", ("Pods", 4, 60), ("Percent", 10, 60)), 72),
    ("Disabled returns current", 10, [], [], rules("Disabled", ("Pods", 4, 60)), 10),
    ("controller table: 50% of 8", 8, [], [], rules("Max", ("Percent", 50, 60)), 4),
]


@pytest.mark.parametrize("current, up, down, scaling, expected", [c[1:] for c in DOWN_CASES],
                         ids=[c[0] for c in DOWN_CASES])
def test_scale_down_limit(current, up, down, scaling, expected):
    assert scale_down_limit(current, up, down, scaling, NOW) == expected


STABILIZE_CASES = [
    ("scale up stabilized to the lowest recent", 5, 10, [rec(120, 8), rec(240, 7)], 300, 600,
     (7, "ScaleUpStabilized")),
    ("scale down stabilized to the highest recent", 8, 3, [rec(300, 5), rec(480, 4)], 300,
     600, (5, "ScaleDownStabilized")),
    ("no window: desired passes", 5, 10, [rec(10, 2)], 0, 0, (10, "ScaleUpStabilized")),
    ("recommendation exactly window-old is out", 5, 3, [rec(300, 9)], 0, 300,
     (3, "ScaleDownStabilized")),
    ("stabilization never crosses current", 5, 10, [rec(10, 2)], 60, 0,
     (5, "ScaleUpStabilized")),
]


@pytest.mark.parametrize("current, desired, recs, up_s, down_s, expected",
                         [c[1:] for c in STABILIZE_CASES], ids=[c[0] for c in STABILIZE_CASES])
def test_stabilize(current, desired, recs, up_s, down_s, expected):
    assert stabilize(current, desired, recs, up_s, down_s, NOW) == expected


LIMIT_CASES = [
    ("within range", 2, 4, 1, 10, (4, "DesiredWithinRange")),
    ("at min", 2, 1, 2, 10, (2, "TooFewReplicas")),
    ("at max", 10, 12, 1, 10, (10, "TooManyReplicas")),
    ("controller: scale up with behavior", 5, 15, 1, 10, (10, "TooManyReplicas")),
    ("rate binds before max", 2, 9, 1, 10, (6, "ScaleUpLimit")),
    ("100% per period allows going to zero", 10, 0, 0, 10, (0, "DesiredWithinRange")),
    ("unchanged", 5, 5, 1, 10, (5, "DesiredWithinRange")),
]


@pytest.mark.parametrize("current, desired, low, high, expected", [c[1:] for c in LIMIT_CASES],
                         ids=[c[0] for c in LIMIT_CASES])
def test_limit_rate_with_default_rules(current, desired, low, high, expected):
    up = ScalingRules(policies=(ScalingPolicy("Percent", 200, 60),)) if current == 5 else None
    scale_up = resolve_rules(up, DEFAULT_SCALE_UP)
    assert limit_rate(current, desired, low, high, [], [], scale_up, DEFAULT_SCALE_DOWN,
                      NOW) == expected


def test_limit_never_reverses_direction_while_events_are_in_the_period():
    # 10 replicas, 6 were added 10 s ago with at most 4 per 60 s: the limit (8) is below 10
    scale_up = rules("Max", ("Pods", 4, 60))
    assert limit_rate(10, 14, 1, 20, [ev(10, 6)], [], scale_up, DEFAULT_SCALE_DOWN,
                      NOW) == (10, "ScaleUpLimit")


def test_controller_scale_down_with_behavior_table():
    behavior = Behavior(rules("Max", ("Percent", 200, 60)),
                        ScalingRules(stabilization_window_s=300,
                                     policies=(ScalingPolicy("Percent", 50, 60),)))
    assert behavior.normalize(8, 2, 1, 10, NOW) == (4, "ScaleDownLimit")
    assert behavior.down_events == [ScaleEvent(NOW, 4)]


def test_resolve_rules_fills_direction_defaults():
    partial = ScalingRules(select_policy="Min")
    up = resolve_rules(partial, DEFAULT_SCALE_UP)
    down = resolve_rules(partial, DEFAULT_SCALE_DOWN)
    assert (up.stabilization_window_s, up.select_policy, up.policies) == (
        0, "Min", DEFAULT_SCALE_UP.policies)
    assert (down.stabilization_window_s, down.policies) == (300, DEFAULT_SCALE_DOWN.policies)
    assert resolve_rules(None, DEFAULT_SCALE_DOWN) is DEFAULT_SCALE_DOWN


def test_documented_defaults():
    assert DEFAULT_SCALE_UP == ScalingRules(0, "Max", (ScalingPolicy("Percent", 100, 15),
                                                       ScalingPolicy("Pods", 4, 15)))
    assert DEFAULT_SCALE_DOWN == ScalingRules(300, "Max", (ScalingPolicy("Percent", 100, 15),))


def test_behavior_keeps_only_what_its_windows_and_periods_need():
    behavior = Behavior(None, None)  # up: 15 s periods, down: 300 s window
    for k in range(100):
        now_s = 15.0 * k
        behavior.stabilize(5, 5, now_s)
        behavior.record_scale(5, 6, now_s)
    assert len(behavior.recommendations) <= 21
    assert len(behavior.up_events) <= 2


@pytest.mark.parametrize("make", [
    lambda: ScalingPolicy("Pods", 0, 15),
    lambda: ScalingPolicy("Pods", 1, 0),
    lambda: ScalingPolicy("Pods", 1, 1801),
    lambda: ScalingPolicy("Nodes", 1, 15),
    lambda: ScalingRules(stabilization_window_s=-1),
    lambda: ScalingRules(stabilization_window_s=3601),
    lambda: ScalingRules(select_policy="max"),
    lambda: ScalingRules(policies=()),
])
def test_impossible_rules_are_rejected(make):
    with pytest.raises(ValueError):
        make()
