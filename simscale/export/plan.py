"""The deployment a spec describes, as the export targets need it: one flat, read-only Plan.

`plan_from_spec` reads the spec's policies through their validated config dataclasses
(`PolicyRef.config`) and reads the optional sections defensively (a section or field that a
spec version does not have counts as "not configured"), so every target works from the same
facts. Instance i of the simulator (0-based) is the service's `instance-(i+1)`, listening on
port 3000 + i when run locally (the service's INSTANCE_n_URL convention).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simscale.errors import InputError
from simscale.export.base import app_name, image_ref, token

APP_PORT = 3000
HEALTH_PATH = "/api/health"
DEFAULT_IMAGE = "ai-chat:latest"
# The service's management routes (Phase 3 notes: scaling and monitoring APIs), which the
# edge (nginx, HAProxy) guards with a token check.
MANAGEMENT_ROUTES = ("/api/scaling/", "/api/monitoring/")
MANAGEMENT_AUTH = ("token", "none")


@dataclass(frozen=True)
class CachePlan:
    """The cache: eviction policy and its config, shards, and the room of one shard."""

    policy: str
    config: Any
    shards: int
    capacity_items: int | None
    capacity_bytes: int | None
    size_bytes_by_type: dict[str, int]
    placement: str = "ring"            # "ring" (consistent hash) or "redis_cluster"
    vnodes: int = 160


@dataclass(frozen=True)
class EdgePlan:
    """TLS and the management-route check at the load balancer (deployment parameters)."""

    tls_certificate: str = "/etc/ssl/simscale/tls.crt"
    tls_certificate_key: str = "/etc/ssl/simscale/tls.key"
    management_auth: str = "token"     # "token": a bearer token from a file; "none"


@dataclass(frozen=True)
class Plan:
    """Everything the targets export, read once from a spec."""

    name: str
    image: str
    port: int
    replicas: int                      # instances at t = 0
    cores: int
    memory_limit_mb: float
    request_timeout_s: float | None
    balancer_policy: str
    balancer: Any                      # the balancer's frozen config
    autoscaling_enabled: bool
    autoscaler_policy: str | None
    autoscaler: Any | None             # the autoscaler's frozen config
    drain_deadline_s: float | None
    scale_in_victims: str | None
    health_check: Any | None           # policies.resilience.HealthCheckConfig
    outlier: Any | None                # policies.resilience.OutlierDetectionConfig
    slow_start: Any | None             # policies.resilience.SlowStartConfig
    slow_start_field: str              # where the slow start came from in the spec
    retry: Any | None                  # policies.resilience.RetryPolicyConfig
    circuit_breaker: Any | None
    rate_limits: tuple[tuple[str, Any], ...]  # (limiter policy name, its config)
    cache: CachePlan | None
    app_version: str = "0"
    alert_rules: tuple = ()  # simscale.monitoring.alerts.AlertRule, as the run evaluates them
    metrics_interval_s: float = 10.0
    edge: EdgePlan = EdgePlan()
    dashboard: Any = None  # simscale.monitoring.dashboard.DashboardConfig (None: default)
    rate_limit_kinds: tuple[tuple[str, ...] | None, ...] = ()  # limiters' kinds (None: all)

    @property
    def performance_monitoring(self) -> bool:
        """ENABLE_PERFORMANCE_MONITORING: the alert rules watch the service's metrics."""
        return bool(self.alert_rules)

    @property
    def real_time_metrics(self) -> bool:
        """ENABLE_REAL_TIME_METRICS: live metrics feed an alert rule or the autoscaler."""
        return self.performance_monitoring or self.autoscaling_enabled

    def server_names(self) -> list[str]:
        """The service's instance names, instance-1 … instance-N."""
        return [f"instance-{i + 1}" for i in range(self.replicas)]

    @property
    def min_replicas(self) -> int:
        return self.autoscaler.min_replicas if self.autoscaler is not None else self.replicas

    @property
    def max_replicas(self) -> int:
        return self.autoscaler.max_replicas if self.autoscaler is not None else self.replicas


def _config(part: Any) -> Any:
    """A sub-table's policy config (its `.config`), or the part itself; None stays None."""
    if part is None:
        return None
    config = getattr(part, "config", None)
    return config if config is not None else part


def plan_from_spec(spec: Any, name: str | None = None, image: str | None = None,
                   edge: EdgePlan | None = None, dashboard: Any = None) -> Plan:
    """The Plan of a validated Spec. `name` overrides the service name (default: the spec's
    name made DNS-safe); `image` the container image; `edge` the TLS certificate paths and
    the management-route check; `dashboard` the dashboard config (grafana). Raises
    InputError for an unsafe name, image, version or path, naming the field."""
    from simscale import __version__
    from simscale.monitoring.alerts import rules_from_spec

    instances = spec.instances
    timeouts = getattr(spec, "timeouts", None)
    return Plan(
        name=app_name(spec.name, name),
        image=image_ref(image if image is not None else DEFAULT_IMAGE),
        port=APP_PORT,
        cores=instances.cores_effective,
        memory_limit_mb=instances.memory_limit_mb,
        request_timeout_s=getattr(timeouts, "request_s", None),
        balancer_policy=spec.balancer.policy,
        balancer=spec.balancer.config,
        **_scaling(spec),
        **_resilience(spec),
        cache=_cache_plan(getattr(spec, "cache", None)),
        app_version=token(getattr(spec, "app_version", None) or __version__, "app_version"),
        alert_rules=tuple(rules_from_spec(getattr(spec, "alerts", None))),
        metrics_interval_s=spec.metrics.interval_s,
        edge=_edge(edge or EdgePlan()),
        dashboard=dashboard,
    )


def _scaling(spec: Any) -> dict[str, Any]:
    """The Plan's replica count and autoscaling fields."""
    instances = spec.instances
    autoscaling = getattr(spec, "autoscaling", None)
    enabled = bool(getattr(autoscaling, "enabled", False))
    autoscaler = _config(autoscaling) if enabled else None
    replicas = instances.count
    if enabled and hasattr(autoscaling, "initial_count"):
        replicas = autoscaling.initial_count(instances.count)
    elif autoscaler is not None:
        replicas = min(max(replicas, autoscaler.min_replicas), autoscaler.max_replicas)
    return {
        "replicas": max(1, replicas),
        "autoscaling_enabled": enabled,
        "autoscaler_policy": getattr(autoscaling, "policy", None) if enabled else None,
        "autoscaler": autoscaler,
        "drain_deadline_s": getattr(autoscaling, "drain_deadline_s", None) if enabled else None,
        "scale_in_victims": getattr(autoscaling, "scale_in_victims", None) if enabled else None,
    }


def _resilience(spec: Any) -> dict[str, Any]:
    """The Plan's resilience fields: each sub-table's policy config, the limiters, and slow
    start (the section's, else the balancer's own)."""
    resilience = getattr(spec, "resilience", None)
    balancer = spec.balancer.config
    slow_start = _config(getattr(resilience, "slow_start", None))
    slow_start_field = "resilience.slow_start"
    if slow_start is None and getattr(balancer, "slow_start", None) is not None:
        slow_start, slow_start_field = balancer.slow_start, "balancer.params.slow_start"
    return {
        "health_check": _config(getattr(resilience, "health_check", None)),
        "outlier": _config(getattr(resilience, "outlier_detection", None)),
        "slow_start": slow_start,
        "slow_start_field": slow_start_field,
        "retry": _config(getattr(resilience, "retry", None)),
        "circuit_breaker": _config(getattr(resilience, "circuit_breaker", None)),
        "rate_limits": tuple((ref.policy, ref.config)
                             for ref in (getattr(resilience, "rate_limit", None) or ())),
        "rate_limit_kinds": tuple(None if ref.kinds is None else tuple(ref.kinds)
                                  for ref in (getattr(resilience, "rate_limit", None) or ())),
    }


def _edge(edge: EdgePlan) -> EdgePlan:
    for field, path in (("--tls-cert", edge.tls_certificate),
                        ("--tls-key", edge.tls_certificate_key)):
        if not path.startswith("/"):
            raise InputError(f"{field}: {path!r} must be an absolute path (where the load "
                             "balancer finds the file)")
        token(path, field)
    if edge.management_auth not in MANAGEMENT_AUTH:
        raise InputError(f"--management-auth: {edge.management_auth!r} is not one of "
                         f"{', '.join(MANAGEMENT_AUTH)}")
    return edge


def _cache_plan(cache: Any) -> CachePlan | None:
    if cache is None or not getattr(cache, "enabled", False):
        return None
    eviction = getattr(cache, "eviction", None)
    if eviction is None:
        return None
    return CachePlan(
        policy=eviction.policy,
        config=eviction.config,
        shards=getattr(cache, "shards", 1),
        capacity_items=getattr(cache, "capacity_items", None),
        capacity_bytes=getattr(cache, "capacity_bytes", None),
        size_bytes_by_type=dict(getattr(cache, "size_bytes_by_type", {}) or {}),
        placement=getattr(cache, "placement", "ring"),
        vnodes=getattr(cache, "vnodes", 160),
    )
