"""Every target from a table of specs, checked by the real tools (nginx -t, haproxy -c,
kubernetes-validate --strict, redis-server CONFIG GET) and by what the files say."""

from __future__ import annotations

import re

import pytest

from simscale import __version__
from simscale.export.env import parse_dotenv
from simscale.export.yamlio import load_yaml_documents
from tests.export.helpers import (
    export,
    export_and_validate,
    loss_fields,
    make_spec,
    needs_haproxy,
    needs_nginx,
    needs_redis,
    ran,
)

# (balancer, params, nginx upstream lines, haproxy backend lines, nginx losses, haproxy losses)
BALANCERS = [
    ("round_robin", {}, ["server 127.0.0.1:3000 max_fails=0;"], ["balance roundrobin"],
     set(), set()),
    ("weighted_round_robin", {"weights": {0: 3, 1: 1.5}},
     ["server 127.0.0.1:3000 weight=6 max_fails=0;", "server 127.0.0.1:3001 weight=3",
      "server 127.0.0.1:3002 weight=2"],
     ["balance roundrobin", "server instance-1 127.0.0.1:3000 weight 6"], set(), set()),
    ("weighted_round_robin", {"weights": {2: 4}, "slow_start": {"window_s": 20}},
     ["server 127.0.0.1:3002 weight=4 max_fails=0;"],
     ["slowstart 20s", "server instance-3 127.0.0.1:3002 weight 4"],
     {"balancer.params.slow_start"}, set()),
    ("least_connections", {}, ["least_conn;"], ["balance leastconn"], set(), set()),
    ("power_of_two_choices", {}, ["random two least_conn;"], ["balance random(2)"],
     set(), set()),
    ("power_of_two_choices", {"choice_count": 3}, ["random two least_conn;"],
     ["balance random(3)"], {"balancer.params.choice_count"}, set()),
    ("random", {}, ["random;"], ["balance random(1)"], set(), set()),
    ("consistent_hash", {"key": "user_id", "epsilon": 0.25},
     ["hash $http_x_user_id consistent;"],
     ["balance hdr(X-User-Id)", "hash-type consistent", "hash-balance-factor 125"],
     {"balancer.params.epsilon"}, set()),
    ("sticky", {"assign": "round_robin", "max_sessions": 5000},
     ["hash $http_x_session_id consistent;"],
     ["balance roundrobin", "stick-table type string len 128 size 5000",
      "stick on hdr(X-Session-Id)"], {"balancer"}, set()),
    ("least_response_time", {"mode": "peak_ewma", "choice_count": 2},
     ["random two least_conn;"], ["balance random(2)"], {"balancer"}, {"balancer"}),
]
IDS = [f"{b[0]}-{i}" for i, b in enumerate(BALANCERS)]


@needs_nginx
@pytest.mark.parametrize(("policy", "params", "lines", "_h", "lost", "_hl"), BALANCERS, ids=IDS)
def test_nginx_upstream_per_balancer(policy, params, lines, _h, lost, _hl, tmp_path):
    spec = make_spec(balancer={"policy": policy, "params": params})
    exported, results = export_and_validate(spec, "nginx", tmp_path)
    assert ran(results, "nginx -t")
    text = exported.files["nginx.conf"]
    for line in lines:
        assert line in text
    assert loss_fields(exported) == lost


@needs_haproxy
@pytest.mark.parametrize(("policy", "params", "_n", "lines", "_nl", "lost"), BALANCERS, ids=IDS)
def test_haproxy_backend_per_balancer(policy, params, _n, lines, _nl, lost, tmp_path):
    spec = make_spec(balancer={"policy": policy, "params": params})
    exported, results = export_and_validate(spec, "haproxy", tmp_path)
    assert ran(results, "haproxy -c")
    text = exported.files["haproxy.cfg"]
    for line in lines:
        assert line in text
    assert loss_fields(exported) == lost


@needs_nginx
@pytest.mark.parametrize(("policy", "params"), [(b[0], b[1]) for b in BALANCERS], ids=IDS)
def test_compose_per_balancer(policy, params, tmp_path):
    spec = make_spec(balancer={"policy": policy, "params": params})
    exported, results = export_and_validate(spec, "compose", tmp_path)
    assert ran(results, "nginx -t") and ran(results, "compose structure")
    doc = load_yaml_documents(exported.files["docker-compose.yml"], "compose")[0]
    assert {"nginx", "app-1", "app-2", "app-3", "redis"} <= set(doc["services"])
    assert doc["services"]["app-2"]["environment"]["INSTANCE_ID"] == "instance-2"
    assert "server app-3:3000" in exported.files["nginx.conf"]


RESILIENCE = {
    "health_check": {"interval_s": 1.5, "timeout_s": 0.5, "healthy_threshold": 2,
                     "unhealthy_threshold": 4, "unhealthy_interval_s": 5},
    "outlier_detection": {"consecutive_5xx": 7, "base_ejection_time_s": 20},
    "slow_start": {"window_s": 45},
    "retry": {"max_attempts": 3, "budget_ratio": "none", "per_try_timeout_s": 4},
}


@needs_haproxy
def test_haproxy_health_checks_slow_start_and_retries(tmp_path):
    spec = make_spec(resilience=RESILIENCE, balancer={"policy": "least_connections"})
    exported, _ = export_and_validate(spec, "haproxy", tmp_path)
    text = exported.files["haproxy.cfg"]
    assert ("default-server check inter 1500ms rise 2 fall 4 downinter 5s observe layer7 "
            "error-limit 7 on-error mark-down slowstart 45s") in text
    assert "timeout check 500ms" in text and "timeout server 4s" in text
    assert "retries 2" in text and "option redispatch 1" in text
    assert "http-check send meth GET uri /api/health" in text
    # the outlier detector's growing ejection time and percent cap are not in HAProxy
    assert loss_fields(exported) == {"resilience.outlier_detection.max_ejection_time_s",
                                     "resilience.outlier_detection.max_ejection_percent",
                                     "resilience.outlier_detection"}


@needs_nginx
def test_nginx_passive_health_retries_and_rate_limits(tmp_path):
    resilience = dict(RESILIENCE, rate_limit=[
        {"policy": "token_bucket", "params": {"rate_per_s": 50, "burst": 100}},
        {"policy": "per_user_token_bucket", "params": {"rate_per_s": 0.5, "burst": 5}}])
    spec = make_spec(resilience=resilience)
    exported, _ = export_and_validate(spec, "nginx", tmp_path)
    text = exported.files["nginx.conf"]
    assert "server 127.0.0.1:3000 max_fails=7 fail_timeout=20s;" in text
    assert "proxy_next_upstream_tries 3;" in text and "proxy_read_timeout 4s;" in text
    assert "limit_req_zone $server_name zone=global0:10m rate=50r/s;" in text
    assert "limit_req_zone $http_x_user_id zone=per_user1:10m rate=30r/m;" in text
    assert "limit_req zone=per_user1 burst=4 nodelay;" in text
    assert {"resilience.health_check", "resilience.slow_start"} <= loss_fields(exported)



def test_a_limiter_scoped_to_kinds_is_a_loss_not_a_limit_on_every_route():
    """nginx limits by location, not by kind: exporting a dashboard-only limit as a global
    limit_req would refuse chat; it is left out, with a loss naming its kinds."""
    spec = make_spec(workload={"arrivals": {"kind": "poisson", "rate_rps": 10},
                               "kind": "chat", "dashboard": {"viewers": 10}},
                     resilience={"rate_limit": [
                         {"policy": "token_bucket", "kinds": ["dashboard"],
                          "params": {"rate_per_s": 5, "burst": 10}},
                         {"policy": "token_bucket", "params": {"rate_per_s": 50, "burst": 100}}]})
    exported = export(spec, "nginx")
    text = exported.files["nginx.conf"]
    assert "zone=global0" not in text and "limit_req_zone $server_name zone=global1" in text
    assert "resilience.rate_limit.0.kinds" in loss_fields(exported)


AUTOSCALERS = [
    ("target_tracking", {"min_replicas": 2, "max_replicas": 12,
                         "metrics": [{"metric": "cpu_util_frac", "target": 0.6},
                                     {"metric": "latency_s", "target": 0.25}],
                         "scale_down": {"stabilization_window_s": 600, "select_policy": "Min",
                                        "policies": [{"type": "Percent", "value": 10,
                                                      "period_s": 60}]}},
     "HorizontalPodAutoscaler", set()),
    ("concurrency", {"min_replicas": 0, "max_replicas": 20,
                     "target_in_flight_per_instance": 6, "activation_in_flight": 2},
     "ScaledObject", set()),
    ("threshold", {}, "HorizontalPodAutoscaler", {"autoscaling.policy"}),
    ("step", {}, "HorizontalPodAutoscaler", {"autoscaling.policy"}),
    ("predictive", {}, "HorizontalPodAutoscaler", {"autoscaling.policy"}),
    ("scheduled", {"inner_policy": "target_tracking",
                   "windows": [{"name": "business", "start": "08:00", "end": "20:00",
                                "min_replicas": 6}]},
     "ScaledObject", set()),
]


@pytest.mark.parametrize(("policy", "params", "kind", "lost"), AUTOSCALERS,
                         ids=[a[0] for a in AUTOSCALERS])
def test_kubernetes_per_autoscaler(policy, params, kind, lost, tmp_path):
    pytest.importorskip("kubernetes_validate")
    spec = make_spec(autoscaling={"enabled": True, "policy": policy, "params": params},
                     resilience={"health_check": {"interval_s": 5, "timeout_s": 2}})
    exported, results = export_and_validate(spec, "kubernetes", tmp_path)
    assert ran(results, "kubernetes-validate")
    docs = {d["kind"]: d for text in exported.files.values()
            for d in load_yaml_documents(text, "k8s")}
    assert set(docs) == {"Deployment", "Service", "PodDisruptionBudget", kind}
    probe = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert (probe["periodSeconds"], probe["timeoutSeconds"]) == (5, 2)
    assert loss_fields(exported) == lost


def test_hpa_maps_metrics_bounds_and_behavior():
    spec = make_spec(autoscaling={"enabled": True, "policy": "target_tracking",
                                  "params": AUTOSCALERS[0][1]})
    hpa = load_yaml_documents(export(spec, "kubernetes").files["hpa.yaml"], "hpa")[0]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 12)
    assert hpa["metrics"][0]["resource"] == {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}
    assert hpa["metrics"][1]["pods"] == {
        "metric": {"name": "http_request_duration_seconds"},
        "target": {"type": "AverageValue", "averageValue": "250m"}}
    assert hpa["behavior"] == {"scaleDown": {
        "stabilizationWindowSeconds": 600, "selectPolicy": "Min",
        "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}]}}


def test_keda_scaled_object_for_concurrency():
    spec = make_spec(autoscaling={"enabled": True, "policy": "concurrency",
                                  "params": AUTOSCALERS[1][1]})
    obj = load_yaml_documents(export(spec, "kubernetes").files["scaledobject.yaml"],
                              "keda")[0]["spec"]
    assert (obj["minReplicaCount"], obj["maxReplicaCount"]) == (0, 20)
    assert (obj["pollingInterval"], obj["cooldownPeriod"]) == (30, 300)
    trigger = obj["triggers"][0]
    assert trigger["type"] == "prometheus" and trigger["metricType"] == "AverageValue"
    assert trigger["metadata"]["query"] == 'sum(http_requests_in_flight{app="chat"})'
    assert (trigger["metadata"]["threshold"], trigger["metadata"]["activationThreshold"]) == (
        "6", "2")


def test_scheduled_windows_become_cron_triggers():
    params = {"windows": [{"name": "nights", "days": ["Fri", "Sat"], "start": "22:00",
                           "end": "02:30", "min_replicas": 4, "max_replicas": 8}]}
    spec = make_spec(autoscaling={"enabled": True, "policy": "scheduled", "params": params})
    exported = export(spec, "kubernetes")
    obj = load_yaml_documents(exported.files["scaledobject.yaml"], "keda")[0]["spec"]
    assert obj["triggers"] == [{"type": "cron", "name": "nights", "metadata": {
        "timezone": "Etc/UTC", "start": "0 22 * * 5,6", "end": "30 2 * * 0,6",
        "desiredReplicas": "4"}}]
    assert loss_fields(exported) == {"autoscaling.params.windows.0.max_replicas"}


@needs_redis
@pytest.mark.parametrize(("eviction", "redis_policy", "lost"), [
    ("lru", "allkeys-lru", False), ("lfu", "allkeys-lfu", False),
    ("fifo", "allkeys-lru", True), ("s3fifo", "allkeys-lfu", True),
    ("wtinylfu", "allkeys-lfu", True),
])
def test_redis_eviction_read_back_from_a_real_server(eviction, redis_policy, lost, tmp_path):
    params = {"expected_items": 100_000} if eviction == "wtinylfu" else {}  # sizes its sketch
    spec = make_spec(cache={"capacity_items": "none", "capacity_bytes": 32 * 2**20,
                            "eviction": {"policy": eviction, "params": params}})
    exported, results = export_and_validate(spec, "redis", tmp_path)
    [result] = [r for r in results if r.tool.startswith("redis-server")]
    assert result.status == "ok"
    assert f"maxmemory={32 * 2**20}" in result.detail
    assert f"maxmemory-policy={redis_policy}" in result.detail
    assert ("cache.eviction.policy" in loss_fields(exported)) == lost


def test_redis_items_capacity_becomes_bytes_with_a_warning():
    spec = make_spec(cache={"capacity_items": 1000, "shards": 2,
                            "size_bytes_by_type": {"user": 1000, "session": 3000}})
    exported = export(spec, "redis")
    assert "maxmemory 2000000\n" in exported.files["redis.conf"]
    assert "2 shard(s)" in exported.files["redis.conf"]
    assert loss_fields(exported) == {"cache.capacity_items"}


@needs_redis
@needs_nginx
def test_compose_with_cache_shards_and_health_checks(tmp_path):
    spec = make_spec(cache={"shards": 3, "capacity_items": "none", "capacity_bytes": 2**20},
                     resilience={"health_check": {"interval_s": 3}},
                     autoscaling={"enabled": True, "policy": "threshold"})
    exported, results = export_and_validate(spec, "compose", tmp_path)
    assert ran(results, "redis-server")
    doc = load_yaml_documents(exported.files["docker-compose.yml"], "compose")[0]
    services = doc["services"]
    assert {"redis-1", "redis-2", "redis-3"} <= set(services)
    assert services["app-1"]["depends_on"] == {
        name: {"condition": "service_healthy"} for name in ("redis-1", "redis-2", "redis-3")}
    assert services["app-1"]["healthcheck"]["interval"] == "3s"
    assert services["app-3"]["environment"]["AUTO_SCALING_ENABLED"] == "true"
    assert "autoscaling" in loss_fields(exported)


def test_env_files_per_instance():
    spec = make_spec(autoscaling={"enabled": True, "policy": "threshold",
                                  "params": {"min_replicas": 3, "max_replicas": 8}})
    exported = export(spec, "env")
    assert sorted(exported.files) == ["instance-1.env", "instance-2.env", "instance-3.env"]
    env, problems = parse_dotenv(exported.files["instance-2.env"])
    assert problems == []
    assert env == {
        "AUTO_SCALING_ENABLED": "true", "MIN_INSTANCES": "3", "MAX_INSTANCES": "8",
        "INSTANCE_1_URL": "http://localhost:3000", "INSTANCE_2_URL": "http://localhost:3001",
        "INSTANCE_3_URL": "http://localhost:3002", "APP_VERSION": __version__,
        "ENABLE_PERFORMANCE_MONITORING": "true",
        "ENABLE_REAL_TIME_METRICS": "true", "INSTANCE_ID": "instance-2"}
    assert exported.losses == ()


def test_env_names_what_the_service_cannot_read():
    spec = make_spec(autoscaling={"enabled": True, "policy": "threshold",
                                  "params": {"scale_up_threshold": 0.8}})
    [loss] = export(spec, "env").losses
    assert loss.feature == "autoscaling.params" and "scale_up_threshold=0.8" in loss.message
    spec = make_spec(autoscaling={"enabled": True, "policy": "target_tracking"})
    assert loss_fields(export(spec, "env")) == {"autoscaling.policy"}
    env, _ = parse_dotenv(export(make_spec(), "env").files["instance-1.env"])
    assert (env["AUTO_SCALING_ENABLED"], env["MIN_INSTANCES"], env["MAX_INSTANCES"]) == (
        "false", "3", "3")


@pytest.mark.parametrize("path", sorted(
    p for p in __import__("tests.export.helpers", fromlist=["EXAMPLES"]).EXAMPLES.glob("*.toml")),
    ids=lambda p: p.name)
def test_example_specs_export_to_every_target_they_cover(path, tmp_path):
    from simscale.export.targets import TARGETS
    from simscale.spec import load_spec

    spec = load_spec(path)
    for target in TARGETS:
        if target == "redis" and not spec.cache.enabled:
            continue
        exported = export(spec, target)
        assert exported.files, target
        for text in exported.files.values():
            assert not re.search(r"[\r\0]", text)
