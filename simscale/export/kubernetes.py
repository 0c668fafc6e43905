"""The kubernetes target: a Deployment, a Service, a PodDisruptionBudget and an autoscaling/v2
HorizontalPodAutoscaler (or a KEDA ScaledObject for concurrency and scheduled policies), as
YAML; with a cache, Redis beside them (simscale.export.kube_cache) and the app wired to it.

Field names follow the Kubernetes API reference (apps/v1 Deployment, v1 Service,
autoscaling/v2 HorizontalPodAutoscaler with `behavior`) and KEDA's ScaledObject specification
(keda.sh/v1alpha1: pollingInterval, cooldownPeriod, minReplicaCount, maxReplicaCount,
advanced.horizontalPodAutoscalerConfig.behavior, cpu / memory / prometheus / cron triggers).
Per-pod custom metrics are named as Prometheus series (see POD_METRICS); an HPA reads them
through a custom-metrics adapter (for example prometheus-adapter).
"""

from __future__ import annotations

from typing import Any

from simscale.export import kube_cache
from simscale.export.base import Losses, ceil_seconds
from simscale.export.env import monitoring_env
from simscale.export.limits import (
    INT32_MAX,
    INT64_MAX,
    KUBERNETES_SECONDS,
    at_most,
    whole,
    whole_units,
)
from simscale.export.plan import HEALTH_PATH, Plan
from simscale.export.quantity import format_quantity
from simscale.export.scaling import Scaler, scaler_for, utilization_percent
from simscale.export.yamlio import dump_yaml

RESOURCE_METRICS = {"cpu_util_frac": "cpu", "memory_frac": "memory"}
# simscale per-instance metric → the per-pod Prometheus series an HPA or KEDA reads.
POD_METRICS = {
    "in_flight": "http_requests_in_flight",
    "request_rps": "http_requests_per_second",
    "latency_s": "http_request_duration_seconds",
}
PROMETHEUS_ADDRESS = "http://prometheus.monitoring.svc:9090"
KEDA_API = "keda.sh/v1alpha1"
# A resource quantity is at most 2^63 - 1 (in its base unit); KEDA reads a threshold into an
# int64 count of thousandths.
MAX_QUANTITY = INT64_MAX
MAX_KEDA_THRESHOLD = INT64_MAX / 1000


def render(plan: Plan, losses: Losses) -> dict[str, str]:
    """{"deployment.yaml", "service.yaml", "pdb.yaml", and "hpa.yaml" or "scaledobject.yaml";
    with a cache also "redis.yaml" and "redis-secret.yaml" (simscale.export.kube_cache)}."""
    objects = manifests(plan, losses)
    names = {"Deployment": "deployment.yaml", "Service": "service.yaml",
             "HorizontalPodAutoscaler": "hpa.yaml", "ScaledObject": "scaledobject.yaml",
             "PodDisruptionBudget": "pdb.yaml"}
    files = {names[obj["kind"]]: dump_yaml(obj) for obj in objects}
    files.update(kube_cache.render(plan.name, plan, losses))
    return files


def manifests(plan: Plan, losses: Losses) -> list[dict]:
    """The objects, in apply order: Deployment, Service, then the autoscaler (if any)."""
    scaler = None
    if plan.autoscaler is not None:
        scaler = scaler_for(plan.autoscaler_policy, plan.autoscaler, losses)
    objects = [deployment(plan, losses, scaler), service(plan), disruption_budget(plan)]
    if scaler is not None and scaler.kind == "hpa":
        objects.append(hpa(plan.name, scaler, losses))
    elif scaler is not None:
        objects.append(scaled_object(plan.name, scaler, losses))
    return objects


def _labels(name: str) -> dict[str, str]:
    return {"app": name}


def memory_quantity(megabytes: float, field_path: str = "instances.memory_limit_mb") -> str:
    """Memory in Mi (the simulator's MB taken as MiB), rounded up to a whole Mi; InputError
    beyond the largest quantity (2^63 - 1 bytes)."""
    at_most(megabytes, field_path, MAX_QUANTITY >> 20, "a Kubernetes memory quantity (MiB)")
    return f"{ceil_seconds(megabytes)}Mi"


def deployment(plan: Plan, losses: Losses, scaler: Scaler | None) -> dict:
    """The app's Deployment: replicas, resources (the HPA's utilization base), probe, env."""
    replicas = plan.replicas
    if scaler is not None:
        replicas = min(max(replicas, max(scaler.min_replicas, 1)), scaler.max_replicas)
    replicas = whole(replicas, "instances.count", 0, INT32_MAX, "a Deployment's replicas")
    cpu = whole(plan.cores, "instances.cores", 1, MAX_QUANTITY // 1000,
                "a Kubernetes CPU quantity (cores)")
    memory = memory_quantity(plan.memory_limit_mb)
    container: dict[str, Any] = {
        "name": "app",
        "image": plan.image,
        "ports": [{"name": "http", "containerPort": plan.port}],
        "env": [
            {"name": "INSTANCE_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "PORT", "value": str(plan.port)},
            # Kubernetes scales the pods; the service's own auto-scaler stays off.
            {"name": "AUTO_SCALING_ENABLED", "value": "false"},
            *({"name": k, "value": v} for k, v in monitoring_env(plan).items()),
        ],
        "resources": {"requests": {"cpu": str(cpu), "memory": memory},
                      "limits": {"cpu": str(cpu), "memory": memory}},
    }
    if plan.cache is not None:
        container["env"] += kube_cache.app_env(plan.name, plan)
    check = plan.health_check
    if check is not None:
        container["readinessProbe"] = readiness_probe(check, losses)
        if check.unhealthy_interval_s is not None:
            losses.lose("resilience.health_check.unhealthy_interval_s",
                        "a readiness probe keeps one period whatever the pod's state")
    pod: dict[str, Any] = {"containers": [container]}
    if plan.drain_deadline_s is not None:
        at_most(plan.drain_deadline_s, "autoscaling.drain_deadline_s", INT64_MAX,
                "terminationGracePeriodSeconds (int64)")
        pod["terminationGracePeriodSeconds"] = ceil_seconds(plan.drain_deadline_s)
    if plan.scale_in_victims not in (None, "newest_first"):
        losses.lose("autoscaling.scale_in_victims",
                    f"{plan.scale_in_victims}: a ReplicaSet removes the newest pods first "
                    "(pod-deletion-cost annotations would have to be kept up to date)")
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": plan.name, "labels": _labels(plan.name)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": _labels(plan.name)},
            "template": {"metadata": {"labels": _labels(plan.name)}, "spec": pod},
        },
    }


def disruption_budget(plan: Plan) -> dict:
    """At most one app pod down at a time for voluntary disruptions (node drains)."""
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": plan.name, "labels": _labels(plan.name)},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": _labels(plan.name)}}}


def readiness_probe(check: Any, losses: Losses) -> dict:
    """An HTTP readinessProbe on the health path: whole seconds (rounded up, a Loss) and
    thresholds, each within the int32 the API holds."""
    where = "resilience.health_check"
    return {
        "httpGet": {"path": HEALTH_PATH, "port": "http"},
        "periodSeconds": whole_units(check.interval_s, f"{where}.interval_s",
                                     KUBERNETES_SECONDS, losses),
        "timeoutSeconds": whole_units(check.timeout_s, f"{where}.timeout_s",
                                      KUBERNETES_SECONDS, losses),
        "successThreshold": whole(check.healthy_threshold, f"{where}.healthy_threshold", 1,
                                  INT32_MAX, "a probe's successThreshold"),
        "failureThreshold": whole(check.unhealthy_threshold, f"{where}.unhealthy_threshold",
                                  1, INT32_MAX, "a probe's failureThreshold"),
    }


def service(plan: Plan) -> dict:
    """A ClusterIP Service on port 80 in front of the pods' http port."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": plan.name, "labels": _labels(plan.name)},
        "spec": {
            "selector": _labels(plan.name),
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }


def behavior(rules: Any, field_path: str = "autoscaling.params.scale_up") -> dict | None:
    """One direction of HPA `behavior` (None: every field left to the API's defaults).
    ScalingRules holds windows to 0..3600 s and periods to 1..1800 s; a policy value beyond
    int32 is an InputError naming `field_path`."""
    from policies.autoscalers import ScalingRules

    if rules is None or rules == ScalingRules():
        return None
    out: dict[str, Any] = {}
    if rules.stabilization_window_s is not None:
        out["stabilizationWindowSeconds"] = int(rules.stabilization_window_s)
    out["selectPolicy"] = rules.select_policy
    if rules.policies is not None:
        out["policies"] = [{"type": p.type,
                            "value": whole(p.value, f"{field_path}.policies.{n}.value", 1,
                                           INT32_MAX, "an HPA policy value"),
                            "periodSeconds": int(p.period_s)}
                           for n, p in enumerate(rules.policies)]
    return out


def _behavior(scaler: Scaler) -> dict | None:
    out = {}
    up = behavior(scaler.scale_up, f"{scaler.where}.params.scale_up")
    down = behavior(scaler.scale_down, f"{scaler.where}.params.scale_down")
    if up is not None:
        out["scaleUp"] = up
    if down is not None:
        out["scaleDown"] = down
    return out or None


def _average_value(target: float, losses: Losses, field_path: str) -> str:
    at_most(target, field_path, MAX_QUANTITY, "a Kubernetes quantity")
    text, exact = format_quantity(target)
    if text == "0":  # below half a nano: the smallest positive quantity
        text, exact = "1n", False
    if not exact:
        losses.lose(field_path, f"target {target!r} is rounded to {text}")
    return text


def hpa_metric(metric: str, target: float, losses: Losses, field_path: str) -> dict:
    """One autoscaling/v2 MetricSpec."""
    if metric in RESOURCE_METRICS:
        return {"type": "Resource", "resource": {
            "name": RESOURCE_METRICS[metric],
            "target": {"type": "Utilization",
                       "averageUtilization": utilization_percent(target, losses, field_path)}}}
    return {"type": "Pods", "pods": {
        "metric": {"name": POD_METRICS[metric]},
        "target": {"type": "AverageValue",
                   "averageValue": _average_value(target, losses, field_path)}}}


def _replica_bounds(scaler: Scaler, low: int) -> tuple[int, int]:
    """(min, max) replicas, each checked against the int32 the API holds."""
    return (whole(scaler.min_replicas, scaler.bounds_field("min_replicas"), low, INT32_MAX,
                  "a replica count"),
            whole(scaler.max_replicas, scaler.bounds_field("max_replicas"), 1, INT32_MAX,
                  "a replica count"))


def hpa(name: str, scaler: Scaler, losses: Losses) -> dict:
    """The autoscaling/v2 HorizontalPodAutoscaler."""
    min_replicas, max_replicas = _replica_bounds(scaler, 0)
    if min_replicas < 1:
        losses.lose("autoscaling.params.min_replicas",
                    "an HPA cannot scale to zero (HPAScaleToZero is alpha); minReplicas is 1")
        min_replicas = 1
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "minReplicas": min_replicas,
        "maxReplicas": max_replicas,
        "metrics": [hpa_metric(t.metric, t.target, losses,
                               t.field or f"{scaler.where}.params.metrics.{n}")
                    for n, t in enumerate(scaler.targets)],
    }
    rules = _behavior(scaler)
    if rules is not None:
        spec["behavior"] = rules
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "labels": _labels(name)},
        "spec": spec,
    }


def keda_trigger(name: str, metric: str, target: float, losses: Losses, field_path: str,
                 activation: float | None = None,
                 activation_field: str = "autoscaling.params.activation_in_flight") -> dict:
    """A KEDA trigger for one metric target: cpu / memory, else a Prometheus query."""
    if metric in RESOURCE_METRICS:
        return {"type": RESOURCE_METRICS[metric], "metricType": "Utilization",
                "metadata": {"value": str(utilization_percent(target, losses, field_path))}}
    series = POD_METRICS[metric]
    selector = f'{{app="{name}"}}'
    if metric == "latency_s":  # an average per pod: Value of the mean keeps the HPA's ratio
        query, metric_type = f"avg({series}{selector})", "Value"
    else:                      # a per-pod amount: AverageValue of the sum
        query, metric_type = f"sum({series}{selector})", "AverageValue"
    at_most(target, field_path, MAX_KEDA_THRESHOLD, "KEDA's threshold (int64 thousandths)")
    metadata = {"serverAddress": PROMETHEUS_ADDRESS, "query": query,
                "threshold": _plain(target)}
    if activation is not None:
        at_most(activation, activation_field, MAX_KEDA_THRESHOLD,
                "KEDA's activationThreshold (int64 thousandths)")
        metadata["activationThreshold"] = _plain(activation)
    return {"type": "prometheus", "metricType": metric_type, "metadata": metadata}


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def scaled_object(name: str, scaler: Scaler, losses: Losses) -> dict:
    """The KEDA ScaledObject (it creates and owns the HPA)."""
    min_replicas, max_replicas = _replica_bounds(scaler, 0)
    triggers = [keda_trigger(name, t.metric, t.target, losses,
                             t.field or f"{scaler.where}.params.metrics.{n}", scaler.activation,
                             f"{scaler.where}.params.activation_in_flight")
                for n, t in enumerate(scaler.targets)]
    for cron in scaler.crons:
        triggers.append({"type": "cron", "name": cron.name, "metadata": {
            "timezone": "Etc/UTC", "start": cron.start, "end": cron.end,
            "desiredReplicas": str(cron.replicas)}})
    spec: dict[str, Any] = {"scaleTargetRef": {"name": name}}
    if scaler.polling_s is not None:
        spec["pollingInterval"] = scaler.polling_s
    if scaler.cooldown_s is not None:
        spec["cooldownPeriod"] = scaler.cooldown_s
    spec["minReplicaCount"] = min_replicas
    spec["maxReplicaCount"] = max_replicas
    rules = _behavior(scaler)
    if rules is not None:
        spec["advanced"] = {"horizontalPodAutoscalerConfig": {"behavior": rules}}
    spec["triggers"] = triggers
    return {
        "apiVersion": KEDA_API,
        "kind": "ScaledObject",
        "metadata": {"name": name, "labels": _labels(name)},
        "spec": spec,
    }
