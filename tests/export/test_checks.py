"""simscale's own checks catch what the real validators let through."""

from __future__ import annotations

import copy

import pytest

from simscale.errors import InputError
from simscale.export import checks, kube_checks
from simscale.export.targets import get_target

HPA = {
    "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "chat"},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "chat"},
        "minReplicas": 2, "maxReplicas": 10,
        "metrics": [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
        "behavior": {"scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                                 "policies": [{"type": "Pods", "value": 4,
                                               "periodSeconds": 15}]}},
    },
}


def _with(path: str, value):
    obj = copy.deepcopy(HPA)
    node = obj
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[last] = value
    return obj


def test_a_valid_hpa_has_no_problems():
    assert kube_checks.check_hpa(HPA) == []


@pytest.mark.parametrize(("path", "value", "words"), [
    ("spec.minReplicas", 11, "minReplicas (11) must not exceed maxReplicas (10)"),
    ("spec.minReplicas", 0, "spec.minReplicas: 0 must be a whole number >= 1"),
    ("spec.behavior.scaleUp.stabilizationWindowSeconds", 3601, "0..3600"),
    ("spec.behavior.scaleUp.policies.0.periodSeconds", 1801, "1..1800"),
    ("spec.behavior.scaleUp.policies.0.periodSeconds", 0, "1..1800"),
    ("spec.behavior.scaleUp.policies.0.value", 0, "value: 0"),
    ("spec.behavior.scaleUp.selectPolicy", "Maximum", "selectPolicy"),
    ("spec.metrics", [], "at least one metric"),
])
def test_hpa_rules_the_schema_misses(path, value, words):
    problems = kube_checks.check_hpa(_with(path, value))
    assert any(words in p for p in problems), problems


def test_kubernetes_validate_accepts_what_our_checks_reject():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    bad = _with("spec.minReplicas", 11)
    kubernetes_validate.validate(bad, "1.33.0", strict=True)  # the schema has no min <= max
    assert kube_checks.check_hpa(bad)


def test_scaled_object_checks():
    obj = {"spec": {"scaleTargetRef": {"name": "chat"}, "minReplicaCount": 5,
                    "maxReplicaCount": 3, "triggers": [{"type": "cron",
                                                        "metadata": {"desiredReplicas": 4}}]}}
    problems = kube_checks.check_scaled_object(obj)
    assert any("must not exceed" in p for p in problems)
    assert any("metadata: must map names to strings" in p for p in problems)
    bare = {"spec": {"scaleTargetRef": {"name": "x"}}}
    assert any("triggers: at least one" in p for p in kube_checks.check_scaled_object(bare))


NGINX = """events {{}}
http {{
    upstream app {{
        {body}
    }}
    server {{ location / {{ proxy_pass http://app; }} }}
}}
"""


@pytest.mark.parametrize(("body", "words"), [
    ("least_conn; random; server 127.0.0.1:3000;", "more than one balancing method"),
    ("hash $http_x_session_id consistent; server a:1; server b:1 backup;", "backup"),
    ("server a:1 slow_start=30s;", "NGINX Plus only"),
    ("server a:1 weight=0;", "weight must be >= 1"),
    ("least_time header; server a:1;", "NGINX Plus only"),
])
def test_nginx_checks(body, words):
    problems = checks.check_nginx(NGINX.format(body=body))
    assert any(words in p for p in problems), problems


def test_nginx_upstream_must_be_used():
    text = NGINX.format(body="server a:1;").replace("proxy_pass http://app;", "return 200;")
    assert any("not used by any proxy_pass" in p for p in checks.check_nginx(text))


HAPROXY = """defaults
    mode http
frontend fe
    bind :80
    default_backend app
backend app
{body}
"""


@pytest.mark.parametrize(("body", "ok"), [
    ("    balance static-rr\n    default-server slowstart 30s\n    server a 1.2.3.4:1", False),
    ("    balance hdr(X-Session-Id)\n    default-server slowstart 30s\n    server a 1.2.3.4:1",
     False),
    ("    balance hdr(X-Session-Id)\n    hash-type consistent\n    default-server slowstart 30s"
     "\n    server a 1.2.3.4:1", True),
    ("    balance roundrobin\n    default-server slowstart 30s\n    server a 1.2.3.4:1", True),
    ("    balance roundrobin\n    server a 1.2.3.4:1 weight 300", False),
    ("    balance hdr(X-User-Id)\n    hash-type consistent\n    hash-balance-factor 100\n"
     "    server a 1.2.3.4:1", False),
])
def test_haproxy_checks(body, ok):
    assert (checks.check_haproxy(HAPROXY.format(body=body)) == []) == ok


def test_haproxy_needs_a_frontend():
    text = "backend app\n    server a 1.2.3.4:1\n"
    assert any("no frontend" in p for p in checks.check_haproxy(text))


def test_env_checks():
    good = ("AUTO_SCALING_ENABLED=true\nMIN_INSTANCES=2\nMAX_INSTANCES=4\n"
            "INSTANCE_1_URL=http://localhost:3000\nINSTANCE_ID=instance-1\n")
    assert checks.check_env({"a.env": good}) == []
    bad = good.replace("MIN_INSTANCES=2", "MIN_INSTANCES=5").replace("INSTANCE_1_", "INSTANCE_2_")
    problems = checks.check_env({"a.env": bad, "b.env": bad})
    assert len(problems) == 5


def test_compose_checks():
    files = {"docker-compose.yml": (
        "services:\n  nginx:\n    image: nginx\n    depends_on: [app-9]\n"
        "    volumes: ['./missing.conf:/etc/x']\n    ports: [8080]\n"), "nginx.conf": ""}
    problems = checks.check_compose(files)
    assert any("no service 'app-9'" in p for p in problems)
    assert any("missing.conf is not among the exported files" in p for p in problems)
    assert any("must be a quoted string" in p for p in problems)
    assert any("redis" in p for p in problems)


def test_redis_checks():
    assert checks.check_redis("maxmemory 100\nmaxmemory-policy allkeys-lru\n") == []
    assert len(checks.check_redis("maxmemory 0\nmaxmemory-policy lru\n")) == 2


def test_an_unknown_target_lists_the_known_ones():
    with pytest.raises(InputError) as err:
        get_target("envoy")
    assert err.value.problems == [
        "--target: unknown target 'envoy' (known: compose, env, grafana, haproxy, kubernetes, "
        "nginx, prometheus, redis)"]
