"""Alert rules: thresholds, `for` durations, severities, missing data, totals, spec section."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from simscale.monitoring.alerts import (
    CRITICAL,
    DEFAULT_RULES,
    RESOLVED,
    WARNING,
    AlertEvaluator,
    AlertRule,
    AlertTransition,
    Scope,
    evaluate,
    rules_from_spec,
)
from simscale.sections.alerts import AlertsSpec

LATENCY = AlertRule("HighResponseTime", "api_latency_p95_s", warning=2.0, critical=5.0,
                    for_s=0.0)


def rows(metric: str, values, interval_s: float = 10.0) -> list[dict]:
    """One row per value, back to back, each interval_s long."""
    return [{"t_s": i * interval_s, "interval_s": interval_s, metric: v}
            for i, v in enumerate(values)]


def log(transitions: list[AlertTransition]) -> list[tuple]:
    return [(t.t_s, t.rule, t.severity, t.reason) for t in transitions]


def test_defaults_are_the_services_rules():
    table = {r.name: (r.metric, r.warning, r.critical) for r in DEFAULT_RULES}
    assert table == {
        "HighResponseTime": ("api_latency_p95_s", 2.0, 5.0),
        "HighTimeToFirstToken": ("ttft_p95_s", 2.0, 5.0),
        "HighErrorRate": ("error_rate", 0.05, 0.10),
        "HighCPU": ("cpu_util_frac", 0.80, 0.90),
        "HighMemory": ("memory_frac", 0.85, 0.95),
    }


def test_firing_escalating_and_resolving_log():
    transitions, _ = evaluate([LATENCY], rows("api_latency_p95_s", [1.0, 3.0, 5.3, 4.0, 1.0]))
    assert log(transitions) == [
        (20.0, "HighResponseTime", WARNING, "Firing:warning api_latency_p95_s=3>2"),
        (30.0, "HighResponseTime", CRITICAL, "Firing:critical api_latency_p95_s=5.3>5"),
        (40.0, "HighResponseTime", WARNING, "Firing:warning api_latency_p95_s=4>2"),
        (50.0, "HighResponseTime", RESOLVED, "Resolved"),
    ]


@pytest.mark.parametrize(("for_s", "values", "fires_at"), [
    (0.0, [3, 3, 3, 3], 10.0),        # the first breaching row fires at its end
    (20.0, [3, 3, 3, 3], 20.0),       # breach began at t=0; held 20 s at the end of row 2
    (30.0, [3, 3, 1, 3, 3, 3], 60.0),  # the dip at t=20 restarts the clock (from t=30)
    (60.0, [3, 3, 3, 3, 3], None),     # never held for a minute
])
def test_for_duration(for_s, values, fires_at):
    rule = AlertRule("R", "m", warning=2.0, for_s=for_s)
    transitions, _ = evaluate([rule], rows("m", values))
    fired = [t.t_s for t in transitions if t.severity == WARNING]
    assert fired == ([] if fires_at is None else [fires_at])


def test_critical_needs_its_own_for_duration():
    rule = AlertRule("R", "m", warning=2.0, critical=5.0, for_s=20.0)
    transitions, _ = evaluate([rule], rows("m", [3, 6, 6, 6]))
    assert [(t.t_s, t.severity) for t in transitions] == [(20.0, WARNING), (30.0, CRITICAL)]


@pytest.mark.parametrize(("comparison", "value", "fires"), [
    (">", 2.0, False), (">=", 2.0, True), ("<", 2.0, False), ("<=", 2.0, True),
    (">", 2.1, True), ("<", 1.9, True),
])
def test_comparisons(comparison, value, fires):
    rule = AlertRule("R", "m", warning=2.0, comparison=comparison)
    transitions, _ = evaluate([rule], rows("m", [value]))
    assert bool(transitions) is fires


def test_floor_rule_with_lower_critical():
    rule = AlertRule("LowHitRate", "cache_hit_frac", warning=0.8, critical=0.5, comparison="<")
    transitions, _ = evaluate([rule], rows("cache_hit_frac", [0.9, 0.7, 0.4]))
    assert [(t.t_s, t.severity) for t in transitions] == [(20.0, WARNING), (30.0, CRITICAL)]
    assert transitions[-1].reason == "Firing:critical cache_hit_frac=0.4<0.5"


def test_absent_metric_makes_rule_inactive():
    evaluator = AlertEvaluator(DEFAULT_RULES)
    for row in rows("api_latency_p95_s", [9.0] * 10):
        evaluator.observe(row)
    assert {a.rule for a in evaluator.firing()} == {"HighResponseTime"}
    assert evaluator.firing_s()["HighMemory"] == 0.0
    assert evaluator.firing_s()["HighTimeToFirstToken"] == 0.0  # no ttft_p95_s: inactive


@pytest.mark.parametrize("missing", [None, math.nan])
def test_no_data_keeps_state(missing):
    rule = AlertRule("R", "m", warning=2.0)
    transitions, evaluator = evaluate([rule], rows("m", [3.0, missing, missing, 1.0]))
    assert [(t.t_s, t.severity) for t in transitions] == [(10.0, WARNING), (40.0, RESOLVED)]
    assert evaluator.firing_s()["R"] == pytest.approx(30.0)


def test_totals_count_firing_escalations_and_seconds():
    rule = AlertRule("R", "m", warning=2.0, critical=5.0)
    evaluator = AlertEvaluator([rule])
    for row in rows("m", [3, 6, 3, 6, 1, 3]):
        evaluator.observe(row)
    # none→warning, warning→critical, warning→critical again, none→warning: 4 fired
    assert evaluator.fired == 4
    assert evaluator.fired_by_severity == {WARNING: 2, CRITICAL: 2}
    # firing from t=10 to the resolve at t=50 (40 s), then from t=60 to the last row's end
    assert evaluator.firing_s() == {"R": pytest.approx(40.0)}
    assert evaluator.firing_s(end_s=70.0) == {"R": pytest.approx(50.0)}
    summary = evaluator.summary(end_s=70.0)
    assert summary["fired"] == 4
    assert summary["worst_severity"] == {"R": CRITICAL}
    assert summary["firing_at_end"] == ["R"]
    assert summary["firing_s"] == {"R": pytest.approx(50.0)}


def test_worst_severity_names_only_rules_that_fired():
    rules = [AlertRule("W", "w", warning=1.0, critical=5.0),
             AlertRule("C", "c", warning=1.0, critical=5.0),
             AlertRule("Quiet", "q", warning=1.0)]
    rows_ = [{"t_s": 10.0 * i, "interval_s": 10.0, "w": w, "c": c, "q": 0.0}
             for i, (w, c) in enumerate([(2, 6), (0, 2), (0, 0)])]
    _, evaluator = evaluate(rules, rows_)
    assert evaluator.worst_severity() == {"W": WARNING, "C": CRITICAL}


def test_firing_lists_critical_first():
    rules = [AlertRule("A", "a", warning=1.0, critical=2.0), AlertRule("B", "b", warning=1.0,
                                                                       critical=2.0)]
    evaluator = AlertEvaluator(rules)
    evaluator.observe({"t_s": 0.0, "interval_s": 10.0, "a": 1.5, "b": 2.5})
    firing = evaluator.firing()
    assert [(a.rule, a.severity) for a in firing] == [("B", CRITICAL), ("A", WARNING)]
    assert firing[0].message == "b=2.5>2"
    assert firing[0].since_s == 10.0


def test_transition_as_event():
    t = AlertTransition(30.0, "HighCPU", CRITICAL, "Firing:critical cpu_util_frac=0.95>0.9")
    assert t.as_event() == ("alert", "HighCPU", "Firing:critical cpu_util_frac=0.95>0.9")


def test_duplicate_rule_names_rejected():
    with pytest.raises(ValueError):
        AlertEvaluator([LATENCY, LATENCY])


# ---------------------------------------------------------------- the [alerts] section


def test_spec_defaults():
    spec = AlertsSpec()
    assert spec.enabled and spec.use_defaults and spec.rules == ()
    assert rules_from_spec(spec) == DEFAULT_RULES
    assert rules_from_spec(None) == DEFAULT_RULES


def test_spec_user_rules_add_to_and_replace_defaults():
    spec = AlertsSpec.model_validate({"rules": [
        {"name": "HighCPU", "metric": "cpu_util_frac", "warning": 0.5, "for_s": 0},
        {"name": "Queueing", "metric": "queued", "critical": 100},
    ]})
    rules = {r.name: r for r in rules_from_spec(spec)}
    assert set(rules) == {"HighResponseTime", "HighTimeToFirstToken", "HighErrorRate",
                          "HighMemory", "HighCPU", "Queueing"}
    assert rules["HighCPU"].warning == 0.5 and rules["HighCPU"].critical is None
    assert rules["Queueing"].comparison == ">"


def test_spec_without_defaults_or_disabled():
    only = AlertsSpec(use_defaults=False, rules=[{"name": "X", "metric": "m", "warning": 1}])
    assert [r.name for r in rules_from_spec(only)] == ["X"]
    assert rules_from_spec(AlertsSpec(enabled=False)) == ()


@pytest.mark.parametrize(("data", "message"), [
    ({"rules": [{"name": "X", "metric": "m"}]}, "warning or a critical"),
    ({"rules": [{"name": "X", "metric": "m", "warning": 5, "critical": 2}]}, "must not be below"),
    ({"rules": [{"name": "X", "metric": "m", "warning": 2, "critical": 5, "comparison": "<"}]},
     "must not be above"),
    ({"rules": [{"name": "X", "metric": "m", "warning": 1, "for_s": -1}]}, "greater than or equal"),
    ({"rules": [{"name": "X", "metric": "m", "warning": 1, "comparison": "=="}]}, "'>'"),
    ({"rules": [{"name": "X", "metric": "m", "warning": 1, "severity": "page"}]}, "Extra inputs"),
    ({"rules": [{"name": "X", "metric": "m", "warning": 1},
                {"name": "X", "metric": "n", "warning": 1}]}, "two rules are named"),
    ({"enable": True}, "Extra inputs"),
    ({"rules": [{"name": "X", "warning": 1}]}, "give a metric, or a latency scope"),
    ({"rules": [{"name": "X", "metric": "m", "kinds": ["chat"], "warning": 1}]},
     "give a metric, or a latency scope"),
    ({"rules": [{"name": "X", "metric": "m", "percentile": 99, "warning": 1}]},
     "percentile applies to a latency scope"),
    ({"rules": [{"name": "X", "kinds": [], "warning": 1}]}, "name at least one request kind"),
    ({"rules": [{"name": "X", "latency": "ttfb", "warning": 1}]}, "'response', 'latency'"),
    ({"rules": [{"name": "X", "latency": "ttft", "percentile": 100, "warning": 1}]},
     "less than 100"),
    ({"rules": [{"name": "X", "metric": "m", "warning": 1, "for_s": 1e9}]},
     "less than or equal to 31536000"),
    ({"rules": [{"name": "X", "metric": "m", "warning": "inf"}]}, "finite number"),
])
def test_spec_rejects(data, message):
    with pytest.raises(ValidationError) as info:
        AlertsSpec.model_validate(data)
    assert message in str(info.value)


def test_spec_is_frozen():
    spec = AlertsSpec()
    with pytest.raises(ValidationError):
        spec.enabled = False


# ---------------------------------------------------------------- latency scopes


@pytest.mark.parametrize(("rule", "column"), [
    ({"kinds": ["chat_message"]}, "response_p95_s[chat_message]"),
    ({"kinds": ["a", "b"], "latency": "latency", "percentile": 99}, "latency_p99_s[a,b]"),
    ({"latency": "ttft"}, "ttft_p95_s"),                    # the model's own column
    ({"latency": "response", "percentile": 99.9}, "response_p99.9_s"),
])
def test_a_scoped_rule_watches_its_scopes_column(rule, column):
    spec = AlertsSpec.model_validate({"rules": [{"name": "X", "warning": 1, **rule}]})
    (built,) = [r for r in rules_from_spec(spec) if r.name == "X"]
    assert built.metric == column
    assert built.scope is not None and built.scope.column == column


@pytest.mark.parametrize(("latency", "streamed", "plain"), [
    ("response", 0.4, 2.0),   # time to first token of a streamed answer, else latency
    ("latency", 3.0, 2.0),    # end to end, streamed or not
    ("ttft", 0.4, None),      # streamed answers only
])
def test_what_a_response_contributes_to_a_scope(latency, streamed, plain):
    scope = Scope(latency=latency)
    assert scope.value(3.0, 0.4) == streamed    # a chat: 3 s in all, first token at 0.4 s
    assert scope.value(2.0, -1.0) == plain      # an API response of 2 s


def test_scoped_kinds_must_be_kinds_of_the_workload():
    spec = AlertsSpec.model_validate({"rules": [{"name": "X", "kinds": ["chat"],
                                                 "warning": 1}]})
    spec.check_kinds({"chat", "history"})
    spec.check_kinds(None)  # a trace's kinds: known only when read
    with pytest.raises(ValueError, match=r"alerts.rules.0.kinds: no request kind 'chat' in "
                                         r"the workload \(kinds: history\)"):
        spec.check_kinds({"history"})
