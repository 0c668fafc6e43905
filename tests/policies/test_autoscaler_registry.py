"""Every registered autoscaler: names, configs at the pydantic edge, bounds under random load."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from policies import registry
from policies.autoscalers._config import config_from_mapping
from policies.autoscalers.target_tracking import TargetTrackingConfig
from policies.views import BOOTING, READY, ClusterView, PodMetrics

NAMES = ["concurrency", "predictive", "scheduled", "step", "target_tracking", "threshold"]


def test_every_autoscaler_is_registered():
    assert registry.names("autoscaler") == NAMES
    for name in NAMES:
        entry = registry.get("autoscaler", name)
        assert entry.family == "autoscaler" and entry.summary


@pytest.mark.parametrize("name", NAMES)
def test_configs_validate_at_the_pydantic_edge(name):
    config_type = registry.get("autoscaler", name).config_type
    adapter = TypeAdapter(config_type)
    assert adapter.validate_python({}) == config_type()
    with pytest.raises(ValidationError):
        adapter.validate_python({"no_such_field": 1})
    with pytest.raises(ValidationError):
        adapter.validate_python({"min_replicas": 5, "max_replicas": 3})


@pytest.mark.parametrize("name, data, check", [
    ("target_tracking",
     {"metrics": [{"metric": "in_flight", "target": 6}],
      "scale_down": {"policies": [{"type": "Pods", "value": 2, "period_s": 60}]}},
     lambda c: c.metrics[0].target == 6.0 and c.scale_down.policies[0].value == 2),
    ("step",
     {"scale_in": None, "scale_out": {"threshold": 0.6, "comparison": "GreaterThanThreshold",
                                      "step_adjustments": [{"lower_bound": 0.0,
                                                            "scaling_adjustment": 2}]}},
     lambda c: c.scale_in is None and c.scale_out.step_adjustments[0].scaling_adjustment == 2),
    ("scheduled",
     {"windows": [{"name": "peak", "days": ["Mon"], "min_replicas": 4}],
      "inner_policy": "threshold", "inner_config": {"scale_up_step": 2}},
     lambda c: c.windows[0].days == ("Mon",) and c.inner_config == {"scale_up_step": 2}),
])
def test_nested_tables_become_nested_dataclasses(name, data, check):
    config = TypeAdapter(registry.get("autoscaler", name).config_type).validate_python(data)
    assert check(config)


@pytest.mark.parametrize("name, data", [
    ("target_tracking", {"metrics": [{"metric": "cpu_util_frac", "target": 0.5, "x": 1}]}),
    ("target_tracking", {"scale_up": {"policies": [{"type": "Pods", "value": 1,
                                                   "period_s": 1801}]}}),
    ("target_tracking", {"metrics": [{"metric": "gpu_util", "target": 0.5}]}),
    ("step", {"scale_out": {"threshold": 0.6, "comparison": "GreaterThanThreshold",
                            "step_adjustments": [{"lower_bound": 0.0, "upper_bound": 0.1}]}}),
    ("scheduled", {"windows": [{"start": "25:00"}]}),
    ("predictive", {"inner_config": {"metrics": [{"metric": "nope", "target": 1}]}}),
])
def test_nested_errors_are_caught_at_the_edge(name, data):
    with pytest.raises(ValidationError):
        TypeAdapter(registry.get("autoscaler", name).config_type).validate_python(data)


@pytest.mark.parametrize("data, message", [
    ({"bogus": 1}, r"TargetTrackingConfig\.bogus: unknown field"),
    ({"metrics": {"metric": "in_flight"}}, r"TargetTrackingConfig\.metrics: expected a list"),
    ({"metrics": [{"target": "high"}]}, r"metrics\[0\]\.target: expected a number"),
    ({"min_replicas": 2.5}, r"min_replicas: expected an integer"),
    ({"min_replicas": True}, r"min_replicas: expected an integer"),
    ({"scale_up": {"select_policy": "Most"}}, r"select_policy must be one of"),
])
def test_inner_config_tables_report_the_field_path(data, message):
    with pytest.raises(ValueError, match=message):
        config_from_mapping(TargetTrackingConfig, data)


@pytest.mark.parametrize("name", NAMES)
def test_every_autoscaler_has_both_entry_points(name):
    policy = registry.build("autoscaler", name, None, np.random.default_rng(0))
    assert callable(policy.decide) and callable(policy.decide_within)
    config = registry.get("autoscaler", name).config_type()
    assert 1.0 <= config.sync_period_s <= 1800.0
    assert {"min_replicas", "max_replicas"} <= {f.name for f in dataclasses.fields(config)}


cluster_steps = st.lists(
    st.tuples(
        st.integers(0, 14),                      # replicas
        st.integers(0, 3),                       # booting among them
        st.floats(0.0, 2.0),                     # cpu per ready instance
        st.one_of(st.none(), st.floats(0.0, 400.0)),  # arrival rate
        st.floats(1.0, 400.0),                   # seconds until the next decision
    ),
    min_size=1, max_size=30,
)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None)
@given(steps=cluster_steps)
def test_every_autoscaler_stays_in_bounds_under_random_load(name, steps):
    entry = registry.get("autoscaler", name)
    config = entry.config_type()
    policy = entry.factory(config, np.random.default_rng(1))
    now_s = 0.0
    for replicas, booting, cpu, rps, gap_s in steps:
        booting = min(booting, replicas)
        pods = tuple(
            PodMetrics(i, state=BOOTING, ready=False) if i < booting else
            PodMetrics(i, state=READY, cpu_util_frac=cpu, memory_frac=0.4, in_flight=8 * cpu,
                       request_rps=20 * cpu, latency_s=0.1 + cpu)
            for i in range(replicas)
        )
        view = ClusterView(replicas, replicas - booting, pods, arrival_rps=rps,
                           in_flight_total=8 * cpu * (replicas - booting))
        decision = policy.decide(view, now_s)
        assert config.min_replicas <= decision.desired_replicas <= config.max_replicas
        assert isinstance(decision.desired_replicas, int)
        assert isinstance(decision.reason, str) and decision.reason
        now_s += gap_s
