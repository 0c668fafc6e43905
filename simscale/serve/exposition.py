"""Prometheus exposition at /metrics: API traffic, rate-limit refusals, runs and fleets.

Counters of API traffic are updated as requests end; the state of runs and fleets is read
when Prometheus scrapes (a custom collector), so nothing is counted twice. Each app has its
own registry.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

ALERT_LEVELS = {None: 0, "warning": 1, "critical": 2}


class ServeMetrics:
    """The registry and the counters the request path updates."""

    def __init__(self, services) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "simscale_serve_requests", "API requests by route, method and status",
            ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram(
            "simscale_serve_request_seconds", "API request handling time by route",
            ["route"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
        self.rate_limited = Counter(
            "simscale_serve_rate_limited", "requests refused by the per-client rate limit",
            ["route"], registry=self.registry)
        self.registry.register(StateCollector(services))


class StateCollector:
    """Runs by state, and per fleet: replicas, decisions by reason, alert states, samples."""

    def __init__(self, services) -> None:
        self.services = services

    def describe(self):
        return []

    def collect(self):
        runs = GaugeMetricFamily("simscale_serve_runs", "load tests of this server by state",
                                 labels=["state"])
        for state, count in self.services.pool.counts().items():
            runs.add_metric([state], count)
        yield runs
        current = GaugeMetricFamily("simscale_fleet_current_replicas",
                                    "replicas the fleet's last decision saw", labels=["fleet"])
        desired = GaugeMetricFamily("simscale_fleet_desired_replicas",
                                    "replicas the fleet's policy last asked for",
                                    labels=["fleet"])
        decisions = CounterMetricFamily("simscale_fleet_decisions",
                                        "autoscaler decisions by reason",
                                        labels=["fleet", "reason"])
        alerts = GaugeMetricFamily("simscale_fleet_alert_state",
                                   "alert rule state: 0 not firing, 1 warning, 2 critical",
                                   labels=["fleet", "rule"])
        samples = CounterMetricFamily("simscale_fleet_samples",
                                      "instance samples accepted", labels=["fleet"])
        up = GaugeMetricFamily("simscale_fleet_loop_up",
                               "1 while the fleet's control loop runs", labels=["fleet"])
        for name, fleet in self.services.fleets.items():
            with fleet.lock:
                if fleet.current is not None:
                    current.add_metric([name], fleet.current)
                if fleet.desired is not None:
                    desired.add_metric([name], fleet.desired)
                for reason, count in fleet.reasons.items():
                    decisions.add_metric([name, reason], count)
                firing = {a.rule: a.severity for a in fleet.dashboard.view(1).firing}
                for rule in fleet.dashboard.rules:
                    alerts.add_metric([name, rule.name], ALERT_LEVELS[firing.get(rule.name)])
                samples.add_metric([name], fleet.store.accepted["samples"])
            up.add_metric([name], 1 if fleet.state == "running" else 0)
        yield from (current, desired, decisions, alerts, samples, up)
