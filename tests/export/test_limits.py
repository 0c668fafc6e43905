"""Exported numbers stay within what each target accepts: a value outside is refused naming
the spec field and the target's limit; an accepted export passes the real validators
(hypothesis over extreme values, bounded by SIMSCALE_FUZZ_EXAMPLES)."""

from __future__ import annotations

import re

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from simscale.errors import InputError
from simscale.export.base import Losses
from simscale.export.kube_checks import check_kubernetes
from simscale.export.limits import (
    HAPROXY_TIME,
    KUBERNETES_SECONDS,
    NGINX_SECONDS,
    NGINX_TIME,
    proxy_time,
    whole_units,
)
from simscale.export.plan import plan_from_spec
from simscale.export.targets import export_plan, write_export
from simscale.export.validate import FAILED, validate_files
from simscale.spec import spec_from_dict
from tests.export.helpers import (
    export,
    loss_fields,
    make_spec,
    needs_haproxy,
    needs_nginx,
    needs_redis,
    spec_data,
)
from tests.fuzz.settings import fuzz

TT = {"enabled": True, "policy": "target_tracking"}


@pytest.mark.parametrize(("value_s", "limits", "written"), [
    (30.0, HAPROXY_TIME, "30s"),
    (1.5, HAPROXY_TIME, "1500ms"),
    (0.001, HAPROXY_TIME, "1ms"),
    (2147483.647, HAPROXY_TIME, "2147483647ms"),
    (1e15, NGINX_TIME, "1000000000000000s"),
    (1.5, NGINX_SECONDS, "2s"),
    (0.001, NGINX_SECONDS, "1s"),
])
def test_a_duration_is_written_in_the_targets_units(value_s, limits, written):
    assert proxy_time(value_s, "f", limits, Losses("t")) == written


@pytest.mark.parametrize(("value_s", "limits", "words"), [
    (2147483.648, HAPROXY_TIME, "exceeds the largest time HAProxy takes, 2147483647 ms"),
    (1e300, HAPROXY_TIME, "exceeds the largest time HAProxy takes"),
    (1e-9, HAPROXY_TIME, "is below the smallest time HAProxy takes, 1 ms"),
    (0.00049, NGINX_TIME, "is below the smallest time nginx takes, 1 ms"),
    (1e16, NGINX_TIME, "exceeds the largest time nginx takes, 9223372036854775807 ms"),
    (2.2e9, KUBERNETES_SECONDS, "exceeds the largest time Kubernetes takes, 2147483647 s"),
    (float("inf"), NGINX_TIME, "is not a positive duration"),
    (float("nan"), NGINX_TIME, "is not a positive duration"),
    (0.0, HAPROXY_TIME, "is not a positive duration"),
    (10**400, HAPROXY_TIME, "exceeds the largest time HAProxy takes"),
])
def test_a_duration_the_target_cannot_take_is_refused_naming_the_field(value_s, limits, words):
    with pytest.raises(InputError, match=r"^some\.field_s: ") as err:
        whole_units(value_s, "some.field_s", limits, Losses("t"))
    assert words in err.value.problems[0]


def test_rounding_a_duration_to_the_targets_unit_is_a_loss():
    losses = Losses("haproxy")
    assert whole_units(1.0004, "f_s", HAPROXY_TIME, losses) == 1000
    assert whole_units(0.7, "g_s", HAPROXY_TIME, losses) == 700  # 699.99… in binary
    assert [loss.feature for loss in losses.items] == ["f_s"]
    assert "whole milliseconds" in losses.items[0].message


# Each case failed on the code before the limits: a traceback, or a file the tool rejects.
@pytest.mark.parametrize(("sections", "target", "words"), [
    ({"timeouts": {"request_s": 1e308}}, "nginx",
     "timeouts.request_s: 1e+308 s exceeds the largest time nginx takes"),
    ({"timeouts": {"request_s": 1e308}}, "haproxy",
     "timeouts.request_s: 1e+308 s exceeds the largest time HAProxy takes, 2147483647 ms"),
    ({"resilience": {"retry": {"max_attempts": 2, "per_try_timeout_s": 1e300}}}, "haproxy",
     "resilience.retry.per_try_timeout_s: 1e+300 s exceeds the largest time HAProxy takes"),
    ({"resilience": {"health_check": {"interval_s": 1e-9, "timeout_s": 1e-9}}}, "haproxy",
     "resilience.health_check.interval_s: 1e-09 s is below the smallest time HAProxy takes"),
    ({"resilience": {"health_check": {"interval_s": 1e-9, "timeout_s": 1e-9}}}, "compose",
     "resilience.health_check.interval_s: 1e-09 s is below the smallest time Docker Compose"),
    ({"resilience": {"health_check": {"interval_s": 1e308}}}, "kubernetes",
     "resilience.health_check.interval_s: 1e+308 s exceeds the largest time Kubernetes takes"),
    ({"resilience": {"health_check": {"healthy_threshold": 2**31}}}, "kubernetes",
     "resilience.health_check.healthy_threshold: 2147483648 is outside the range of a probe's "
     "successThreshold, 1..2147483647"),
    ({"resilience": {"health_check": {"unhealthy_threshold": 2**31}}}, "haproxy",
     "resilience.health_check.unhealthy_threshold: 2147483648 is outside the range of "
     "HAProxy's fall, 1..2147483647"),
    ({"resilience": {"outlier_detection": {"consecutive_5xx": 2**63}}}, "nginx",
     "resilience.outlier_detection.consecutive_5xx: 9223372036854775808 is outside the range "
     "of nginx max_fails"),
    ({"resilience": {"retry": {"max_attempts": 2**31 + 2}}}, "haproxy",
     "resilience.retry.max_attempts: 2147483649 is outside the range of HAProxy's retries"),
    ({"resilience": {"rate_limit": [{"policy": "token_bucket",
                                     "params": {"rate_per_s": 1e300}}]}}, "nginx",
     "resilience.rate_limit.0.params.rate_per_s: 1e+300 exceeds the largest value of nginx's "
     "limit_req rate"),
    ({"autoscaling": dict(TT, drain_deadline_s=1e300)}, "kubernetes",
     "autoscaling.drain_deadline_s: 1e+300 exceeds the largest value of "
     "terminationGracePeriodSeconds"),
    ({"autoscaling": dict(TT, params={"metrics": [{"metric": "cpu_util_frac",
                                                   "target": 1e300}]})}, "kubernetes",
     "autoscaling.params.metrics.0: 1e+300 exceeds the largest value of a utilization target"),
    ({"autoscaling": dict(TT, params={"metrics": [{"metric": "in_flight",
                                                   "target": 1e300}]})}, "kubernetes",
     "autoscaling.params.metrics.0: 1e+300 exceeds the largest value of a Kubernetes quantity"),
    ({"autoscaling": {"enabled": True, "policy": "concurrency",
                      "params": {"target_in_flight_per_instance": 1e300}}}, "kubernetes",
     "autoscaling.params.target_in_flight_per_instance: 1e+300 exceeds the largest value of "
     "KEDA's threshold"),
    ({"instances": {"count": 3, "slots": 4, "memory_limit_mb": 1e300}}, "kubernetes",
     "instances.memory_limit_mb: 1e+300 exceeds the largest value of a Kubernetes memory "
     "quantity (MiB), 8796093022207"),
    ({"instances": {"count": 3, "slots": 4, "cores": 2**62}}, "compose",
     "instances.cores: 4611686018427387904 exceeds the largest value of Docker's CPU limit"),
    ({"autoscaling": dict(TT, params={"scale_up": {"policies": [
        {"type": "Pods", "value": 2**31, "period_s": 15}]}})}, "kubernetes",
     "autoscaling.params.scale_up.policies.0.value: 2147483648 is outside the range of an HPA "
     "policy value"),
    ({"cache": {"capacity_items": "none", "capacity_bytes": 2**64}}, "redis",
     "cache.capacity_bytes: 18446744073709551616 exceeds the largest value of Redis's "
     "maxmemory"),
])
def test_a_number_the_target_cannot_take_is_refused_naming_the_field(sections, target, words):
    """Refused either by the spec's own bounds (simscale.limits) or by the target's limits
    at export: either way before anything is written, naming the field."""
    field = words.split(":")[0]
    try:
        spec = make_spec(**sections)
    except InputError as refused:  # the spec's bound is tighter than the target's
        assert any(field in line for line in refused.problems), \
            refused.problems
        return
    with pytest.raises(InputError) as err:
        export(spec, target)
    assert words in err.value.problems[0], err.value.problems


@needs_nginx
def test_a_sub_second_ejection_time_is_whole_seconds_for_nginx(tmp_path):
    spec = make_spec(resilience={"outlier_detection": {"base_ejection_time_s": 1.5,
                                                       "max_ejection_time_s": 1.5}})
    exported = export(spec, "nginx")
    assert "fail_timeout=2s" in exported.files["nginx.conf"]  # 1500ms: rejected by nginx
    assert "resilience.outlier_detection.base_ejection_time_s" in loss_fields(exported)
    write_export(exported, tmp_path)
    assert [r.status for r in validate_files("nginx", tmp_path, ["nginx.conf"])] == ["ok"]


@needs_nginx
def test_a_burst_of_one_writes_no_burst_for_nginx(tmp_path):
    spec = make_spec(resilience={"rate_limit": [{"policy": "token_bucket",
                                                 "params": {"rate_per_s": 5, "burst": 1}}]})
    exported = export(spec, "nginx")
    assert "limit_req zone=global0 nodelay;" in exported.files["nginx.conf"]  # burst=0: refused
    write_export(exported, tmp_path)
    assert [r.status for r in validate_files("nginx", tmp_path, ["nginx.conf"])] == ["ok"]


def test_kubernetes_integers_are_checked_against_their_width():
    deployment = ("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: 2147483648\n"
                  "  template:\n    spec:\n      terminationGracePeriodSeconds: 9\n")
    assert check_kubernetes({"deployment.yaml": deployment}) == [
        "deployment.yaml: spec.replicas: 2147483648 does not fit the field's int32"]


# ---------------------------------------------------------------- property: real validators

SPEC_FIELD = re.compile(r"(timeouts|resilience|balancer|autoscaling|instances|cache)\.[^:]*: ")

# Mostly ordinary values, so that an example usually reaches the real tool; now and then
# one at or beyond a target's limit.
ordinary = st.floats(1e-3, 1e6)
durations = st.one_of(
    st.sampled_from([1e-9, 4e-4, 5e-4, 1e-3, 0.0015, 0.7, 1.5, 30.0, 2147483.647, 2147483.648,
                     2.2e9, 9.2e15, 9.3e15, 1e300]),
    ordinary, ordinary, ordinary)
counts = st.one_of(st.sampled_from([1, 2, 2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**63, 10**30]),
                   st.integers(1, 100), st.integers(1, 100), st.integers(1, 100))


@st.composite
def extreme_sections(draw) -> dict:
    """Spec sections whose exported numbers sit at and beyond the targets' limits."""
    resilience: dict = {}
    if draw(st.booleans()):
        interval = draw(durations)
        resilience["health_check"] = {
            "interval_s": interval, "timeout_s": min(interval, draw(durations)),
            "healthy_threshold": draw(counts), "unhealthy_threshold": draw(counts)}
    if draw(st.booleans()):
        base = draw(durations)
        resilience["outlier_detection"] = {"consecutive_5xx": draw(counts),
                                           "base_ejection_time_s": base,
                                           "max_ejection_time_s": base}
    if draw(st.booleans()):
        resilience["retry"] = {"max_attempts": draw(counts),
                               "per_try_timeout_s": draw(durations)}
    if draw(st.booleans()):
        resilience["rate_limit"] = [{"policy": "token_bucket", "params": {
            "rate_per_s": draw(durations), "burst": float(draw(counts))}}]
    if draw(st.booleans()):
        resilience["slow_start"] = {"window_s": draw(durations)}
    sections: dict = {"timeouts": {"request_s": draw(durations)}}
    if resilience:
        sections["resilience"] = resilience
    if draw(st.booleans()):
        sections["autoscaling"] = dict(TT, drain_deadline_s=draw(durations), params={
            "max_replicas": draw(counts),
            "metrics": [{"metric": "cpu_util_frac", "target": draw(durations)},
                        {"metric": "in_flight", "target": draw(durations)}]})
    return sections


def _export_or_refusal(target: str, sections: dict):
    """The export, or None when the spec or the target refused (a refusal must name a spec
    field: the render's own limits, never a check on the written file)."""
    try:
        spec = spec_from_dict(spec_data(**sections))
    except InputError:
        event("refused by the spec")
        return None
    try:
        exported = export_plan(plan_from_spec(spec), target)
    except InputError as err:
        assert SPEC_FIELD.match(err.problems[0]), err.problems
        event(f"refused by the export: {err.problems[0].split(':')[0]}")
        return None
    event("exported and validated")
    return exported


def _accepted_by_the_real_tool(target: str, sections: dict, folder) -> None:
    exported = _export_or_refusal(target, sections)
    if exported is None:
        return
    write_export(exported, folder)
    results = validate_files(target, folder, list(exported.files))
    failed = [str(r) for r in results if r.status == FAILED]
    assert not failed, "\n".join(failed)


PROPERTY = fuzz(15, example_s=10)  # SIMSCALE_FUZZ_EXAMPLES, else 15 (tests/fuzz/settings.py)


@needs_nginx
@PROPERTY
@given(extreme_sections())
def test_every_accepted_nginx_export_passes_nginx_t(tmp_path_factory, sections):
    _accepted_by_the_real_tool("nginx", sections, tmp_path_factory.mktemp("nginx"))


@needs_haproxy
@PROPERTY
@given(extreme_sections())
def test_every_accepted_haproxy_export_passes_haproxy_c(tmp_path_factory, sections):
    _accepted_by_the_real_tool("haproxy", sections, tmp_path_factory.mktemp("haproxy"))


@PROPERTY
@given(extreme_sections())
def test_every_accepted_kubernetes_export_passes_kubernetes_validate(tmp_path_factory,
                                                                      sections):
    _accepted_by_the_real_tool("kubernetes", sections, tmp_path_factory.mktemp("k8s"))


@needs_redis
@fuzz(3, example_s=10)
@given(st.one_of(st.integers(1, 2**64 + 1), st.sampled_from([2**63 - 1, 2**64 - 1, 2**64])))
def test_every_accepted_redis_export_is_read_back_by_redis_server(tmp_path_factory, size):
    cache = {"capacity_items": "none", "capacity_bytes": size}
    _accepted_by_the_real_tool("redis", {"cache": cache}, tmp_path_factory.mktemp("redis"))

