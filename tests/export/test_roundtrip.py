"""export → import → export is stable: the file a spec exports, imported back into a spec
fragment and exported again, comes out identical (hypothesis over generated policy configs)."""

from __future__ import annotations

import copy
import tomllib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simscale.export.fragment import fragment_toml
from simscale.export.import_kubernetes import import_hpa
from simscale.export.import_nginx import import_nginx
from simscale.export.yamlio import load_yaml_documents
from simscale.spec import spec_from_dict
from tests.export.helpers import export, spec_data

PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

seconds = st.one_of(st.integers(1, 600).map(float),
                    st.integers(1, 40).map(lambda n: n * 0.25))


@st.composite
def balancers(draw) -> dict:
    policy = draw(st.sampled_from([
        "round_robin", "weighted_round_robin", "least_connections", "random",
        "power_of_two_choices", "consistent_hash", "sticky", "least_response_time"]))
    params: dict = {}
    if policy == "weighted_round_robin":
        weights = draw(st.dictionaries(st.integers(0, 5), st.one_of(
            st.integers(1, 8), st.sampled_from([0.5, 1.5, 2.5, 0.25])), max_size=4))
        params["weights"] = {str(k): v for k, v in weights.items()}
        if draw(st.booleans()):
            params["slow_start"] = {"window_s": draw(seconds)}
    elif policy in ("power_of_two_choices",):
        params["choice_count"] = draw(st.integers(1, 4))
    elif policy == "least_response_time":
        params["choice_count"] = draw(st.integers(0, 3))
    elif policy == "consistent_hash":
        params["key"] = draw(st.sampled_from(["session_id", "user_id"]))
        params["vnodes"] = draw(st.sampled_from([160, 40]))
        if draw(st.booleans()):
            params["epsilon"] = draw(st.sampled_from([0.0, 0.1, 0.25, 1.0]))
    elif policy == "sticky":
        params["key"] = draw(st.sampled_from(["session_id", "user_id"]))
        params["assign"] = draw(st.sampled_from(["least_connections", "round_robin", "random"]))
    return {"policy": policy, "params": params}


@st.composite
def resilience(draw) -> dict:
    out: dict = {}
    if draw(st.booleans()):
        base = draw(seconds)
        out["outlier_detection"] = {"consecutive_5xx": draw(st.integers(1, 10)),
                                    "base_ejection_time_s": base,
                                    "max_ejection_time_s": base * draw(st.sampled_from([1, 10]))}
    if draw(st.booleans()):
        out["health_check"] = {"interval_s": draw(st.sampled_from([0.5, 1.0, 2.0, 0.7])),
                               "healthy_threshold": draw(st.integers(1, 5)),
                               "unhealthy_threshold": draw(st.integers(1, 5))}
    if draw(st.booleans()):
        out["circuit_breaker"] = {"consecutive_failures": draw(st.integers(1, 9)),
                                  "open_duration_s": draw(seconds)}
    if draw(st.booleans()):
        retry: dict = {"max_attempts": draw(st.integers(1, 4)),
                       "retry_on": draw(st.sampled_from([["error"], ["timeout"],
                                                         ["error", "timeout"]]))}
        if draw(st.booleans()):
            retry["per_try_timeout_s"] = draw(st.sampled_from([1.0, 2.5, 4.0]))
        if draw(st.booleans()):
            retry["overall_timeout_s"] = draw(st.sampled_from([5.0, 12.5]))
        out["retry"] = retry
    limits = []
    for policy in draw(st.lists(st.sampled_from(["token_bucket", "per_user_token_bucket"]),
                                max_size=2)):
        limits.append({"policy": policy, "params": {
            "rate_per_s": draw(st.sampled_from([0.5, 1.0, 2.5, 50.0, 1000.0, 7 / 60])),
            "burst": draw(st.sampled_from([1.0, 5.0, 200.0, 2.5]))}})
    if limits:
        out["rate_limit"] = limits
    return out


def _merge(base: dict, fragment: dict) -> dict:
    """The spec data with the fragment's sections in place of the base's."""
    data = copy.deepcopy(base)
    for section, value in fragment.items():
        if section == "instances":
            data["instances"] = {**data["instances"], **value}
        else:
            data[section] = value
    return data


def _through_toml(fragment: dict) -> dict:
    """The fragment as `simscale import` prints it, read back (the TOML is part of the trip)."""
    return tomllib.loads(fragment_toml(fragment, "test"))


@PROPERTY
@given(balancer=balancers(), res=resilience(), count=st.integers(1, 6),
       request_s=st.sampled_from([30.0, 2.5, "none"]))
def test_nginx_export_import_export_is_stable(balancer, res, count, request_s):
    base = spec_data(balancer=balancer, resilience=res, timeouts={"request_s": request_s},
                     instances={"count": count, "slots": 4})
    first = export(spec_from_dict(base), "nginx").files["nginx.conf"]
    fragment, _warnings = import_nginx(first, "nginx.conf")
    base.pop("resilience")
    base.pop("timeouts")
    second = export(spec_from_dict(_merge(base, _through_toml(fragment))),
                    "nginx").files["nginx.conf"]
    assert second == first


rules = st.one_of(st.none(), st.builds(
    lambda window, select, policies: {
        k: v for k, v in (("stabilization_window_s", window), ("select_policy", select),
                          ("policies", policies)) if v is not None},
    st.one_of(st.none(), st.integers(0, 3600)),
    st.sampled_from(["Max", "Min", "Disabled"]),
    st.one_of(st.none(), st.lists(st.fixed_dictionaries({
        "type": st.sampled_from(["Pods", "Percent"]), "value": st.integers(1, 200),
        "period_s": st.integers(1, 1800)}), min_size=1, max_size=3)),
))
metric_targets = st.lists(st.one_of(
    st.builds(lambda m, t: {"metric": m, "target": t},
              st.sampled_from(["cpu_util_frac", "memory_frac"]),
              st.floats(0.01, 1.5, allow_nan=False)),
    st.builds(lambda m, t: {"metric": m, "target": t},
              st.sampled_from(["in_flight", "request_rps", "latency_s"]),
              st.one_of(st.integers(1, 500).map(float), st.floats(0.001, 100.0))),
), min_size=1, max_size=3)


@st.composite
def target_tracking(draw) -> dict:
    low = draw(st.integers(1, 6))
    params = {"min_replicas": low, "max_replicas": draw(st.integers(low, 40)),
              "metrics": draw(metric_targets)}
    for key in ("scale_up", "scale_down"):
        value = draw(rules)
        if value is not None:
            params[key] = value
    return {"enabled": True, "policy": "target_tracking", "params": params}


@PROPERTY
@given(autoscaling=st.one_of(
    target_tracking(),
    st.sampled_from([{"enabled": True, "policy": p} for p in ("threshold", "step",
                                                              "predictive")])))
def test_hpa_export_import_export_is_stable(autoscaling):
    base = spec_data(autoscaling=autoscaling)
    first = export(spec_from_dict(base), "kubernetes").files["hpa.yaml"]
    [doc] = load_yaml_documents(first, "hpa.yaml")
    fragment, _ = import_hpa(doc, "hpa.yaml")
    second = export(spec_from_dict(_merge(base, _through_toml(fragment))),
                    "kubernetes").files["hpa.yaml"]
    assert second == first


@PROPERTY
@given(low=st.integers(0, 3), span=st.integers(0, 30), target=st.floats(0.5, 64),
       activation=st.sampled_from([0.0, 1.0, 2.5]), cooldown=st.integers(0, 3600),
       polling=st.integers(1, 1800), down=rules)
def test_keda_export_import_export_is_stable(low, span, target, activation, cooldown,
                                             polling, down):
    params = {"min_replicas": low, "max_replicas": max(low, 1) + span,
              "target_in_flight_per_instance": target, "activation_in_flight": activation,
              "cooldown_period_s": cooldown, "sync_period_s": polling}
    if down is not None:
        params["scale_down"] = down
    base = spec_data(autoscaling={"enabled": True, "policy": "concurrency", "params": params})
    first = export(spec_from_dict(base), "kubernetes").files["scaledobject.yaml"]
    from simscale.export.import_kubernetes import import_scaled_object

    fragment, _ = import_scaled_object(load_yaml_documents(first, "so")[0], "so")
    second = export(spec_from_dict(_merge(base, _through_toml(fragment))),
                    "kubernetes").files["scaledobject.yaml"]
    assert second == first
