"""What a target cannot express is a warning naming the spec field and what is lost; the
same spec exported with --strict is an error (InputError, exit 2)."""

from __future__ import annotations

import pytest

from simscale.errors import InputError
from simscale.export.plan import plan_from_spec
from simscale.export.targets import export_plan
from tests.export.helpers import loss_fields, make_spec

TT = {"enabled": True, "policy": "target_tracking"}

# (spec sections, target, spec field the warning names, words in the message)
CASES = [
    ({"resilience": {"slow_start": {"window_s": 30}}}, "nginx", "resilience.slow_start",
     "NGINX Plus only"),
    ({"resilience": {"slow_start": {"window_s": 30}}}, "compose", "resilience.slow_start",
     "NGINX Plus only"),
    ({"resilience": {"slow_start": {"window_s": 30, "aggression": 3}}}, "haproxy",
     "resilience.slow_start.aggression", "linearly"),
    ({"autoscaling": {"enabled": True, "policy": "predictive"}}, "kubernetes",
     "autoscaling.policy", "forecast floor"),
    ({"balancer": {"policy": "least_response_time"}}, "nginx", "balancer", "least_time"),
    ({"balancer": {"policy": "least_response_time"}}, "haproxy", "balancer", "not latency"),
    ({"balancer": {"policy": "least_response_time"}}, "compose", "balancer", "least_time"),
    ({"balancer": {"policy": "sticky"}}, "nginx", "balancer", "NGINX Plus only"),
    ({"resilience": {"health_check": {}}}, "nginx", "resilience.health_check",
     "NGINX Plus only"),
    ({"resilience": {"retry": {"max_attempts": 3}}}, "nginx", "resilience.retry.budget_ratio",
     "no retry budget"),
    ({"resilience": {"circuit_breaker": {}}}, "haproxy", "resilience.circuit_breaker",
     "error-rate rule"),
    ({"resilience": {"rate_limit": [{"policy": "token_bucket"}]}}, "haproxy",
     "resilience.rate_limit.0", "not token buckets"),
    ({"timeouts": {"request_s": "none"}}, "nginx", "timeouts.request_s", "default 60 s"),
    ({"autoscaling": dict(TT, params={"tolerance": 0.05})}, "kubernetes",
     "autoscaling.params.tolerance", "cluster-wide"),
    ({"autoscaling": dict(TT, params={"sync_period_s": 30})}, "kubernetes",
     "autoscaling.params.sync_period_s", "cluster-wide"),
    ({"autoscaling": dict(TT, params={"metrics": [{"metric": "cpu_util_frac",
                                                   "target": 0.755}]})},
     "kubernetes", "autoscaling.params.metrics.0", "whole percent"),
    ({"autoscaling": dict(TT, scale_in_victims="least_loaded")}, "kubernetes",
     "autoscaling.scale_in_victims", "newest pods first"),
    ({"autoscaling": dict(TT, params={"min_replicas": 2, "max_replicas": 5})}, "compose",
     "autoscaling", "fixed set of containers"),
    ({"autoscaling": dict(TT, params={"min_replicas": 2, "max_replicas": 5})}, "env",
     "autoscaling.policy", "built-in auto-scaler"),
    ({"cache": {"eviction": {"policy": "fifo"}}}, "redis", "cache.eviction.policy",
     "no FIFO"),
    ({"cache": {"capacity_items": 100}}, "redis", "cache.capacity_items",
     "limits memory, not items"),
    ({"balancer": {"policy": "weighted_round_robin", "params": {"weights": {"7": 2}}}},
     "haproxy", "balancer.params.weights", "not in the exported fleet"),
]


@pytest.mark.parametrize(("sections", "target", "field", "words"), CASES,
                         ids=[f"{c[1]}-{c[2]}" for c in CASES])
def test_a_lost_feature_is_a_warning_and_an_error_with_strict(sections, target, field, words):
    plan = plan_from_spec(make_spec(**sections))
    exported = export_plan(plan, target)
    matching = [loss for loss in exported.losses if loss.feature == field]
    assert any(words in loss.message for loss in matching), matching
    assert str(matching[0]).startswith(f"{target}: {field}: ")
    with pytest.raises(InputError) as err:
        export_plan(plan, target, strict=True)
    assert f"{target}: {field}: " in "\n".join(err.value.problems)


@pytest.mark.parametrize("target", ["nginx", "haproxy", "kubernetes", "env", "compose"])
def test_the_plain_spec_loses_nothing(target):
    exported = export_plan(plan_from_spec(make_spec()), target, strict=True)
    assert loss_fields(exported) == set()


def test_an_exactly_expressible_hpa_loses_nothing():
    spec = make_spec(autoscaling=dict(TT, params={
        "min_replicas": 3, "max_replicas": 9,
        "metrics": [{"metric": "memory_frac", "target": 0.75},
                    {"metric": "request_rps", "target": 12.5}],
        "scale_up": {"select_policy": "Disabled"}}))
    assert export_plan(plan_from_spec(spec), "kubernetes", strict=True).losses == ()
