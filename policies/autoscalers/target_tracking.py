"""Target tracking: the Kubernetes HorizontalPodAutoscaler (autoscaling/v2) algorithm.

The replica calculation (`calculate_replicas`) is a pure function; `TargetTracking` is the
control loop around it: several metrics (the maximum proposal wins), the replica bounds, and
the `behavior` stabilization and rate policies (policies/autoscalers/behavior.py).

Sources followed (behaviour, not code): the "Horizontal Pod Autoscaling" documentation
(kubernetes.io, "Algorithm details", "Support for multiple metrics", "Configurable scaling
behavior") and kubernetes/kubernetes pkg/controller/podautoscaler/replica_calculator.go
(GetResourceReplicas, calcPlainMetricReplicas, groupPods) and horizontal.go
(reconcileAutoscaler, computeReplicasForMetrics, normalizeDesiredReplicasWithBehaviors).
The controller's sync period is 15 s (--horizontal-pod-autoscaler-sync-period); the driver
reads `sync_period_s` from the config and calls `decide` that often.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from policies.autoscalers._common import (
    GONE_STATES,
    NO_METRICS,
    RESOURCE_METRICS,
    WITHIN_TOLERANCE,
    AutoscalerBase,
    check_bounds,
    check_metric,
    check_positive,
    check_range,
)
from policies.autoscalers.behavior import Behavior, ScalingRules
from policies.views import BOOTING, ClusterView, PodMetrics, ScaleDecision

# Reasons of the replica calculation.
ABOVE_TARGET = "AboveTarget"
BELOW_TARGET = "BelowTarget"
DIRECTION_REVERSED = "DirectionReversed"
# Reason when no metric could be computed (the controller's FailedComputeMetricsReplicas event).
FAILED_COMPUTE_METRICS_REPLICAS = "FailedComputeMetricsReplicas"


class PodSample(NamedTuple):
    """One pod as the replica calculation sees it.

    value: the pod's metric (None when the scrape is missing). ready: False for a pod that is
    set aside as not yet ready (pending, or — for CPU — not ready); its value is not used.
    """

    value: float | None
    ready: bool = True


def calculate_replicas(
    current_replicas: int,
    samples: Sequence[PodSample],
    target: float,
    tolerance: float = 0.1,
    *,
    missing_value_on_scale_down: float | None = None,
) -> tuple[int, str]:
    """Desired replicas for one per-pod metric averaged against `target`: (replicas, reason).

    Follows replica_calculator.go (GetResourceReplicas / calcPlainMetricReplicas) and the HPA
    documentation's algorithm details:

    1. usage_ratio = mean(values of ready pods with metrics) / target.
    2. With no missing and no rebalanced not-ready pods: if |1 - ratio| <= tolerance keep
       `current_replicas` ("WithinTolerance"), else ceil(ratio × ready pods with metrics).
    3. Otherwise recompute the mean more conservatively: missing pods count as
       `missing_value_on_scale_down` (default: exactly the target, i.e. 100 %) when ratio < 1
       and as 0 when ratio > 1; not-ready pods count as 0, but only when ratio > 1.
    4. If the new ratio is within tolerance keep the current count ("WithinTolerance"); if it
       reverses the direction of the change, or ceil(new ratio × pods counted) moves the other
       way, keep the current count ("DirectionReversed").
    5. Else the result is ceil(new ratio × pods counted) ("AboveTarget"/"BelowTarget").

    Returns (current_replicas, "NoMetrics") when no ready pod has a value (the controller's
    "did not receive metrics for targeted pods" error). Values are floats, so the controller's
    integer truncation of milli-units and of percent utilization is not reproduced.
    Raises ValueError for a non-positive target or a negative tolerance.
    """
    if not target > 0:
        raise ValueError(f"target must be > 0, got {target}")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    ready_values = [s.value for s in samples if s.ready and s.value is not None]
    missing = sum(1 for s in samples if s.ready and s.value is None)
    unready = sum(1 for s in samples if not s.ready)
    if not ready_values:
        return current_replicas, NO_METRICS

    def within(ratio: float) -> bool:
        return 1.0 - tolerance <= ratio <= 1.0 + tolerance

    total = float(sum(ready_values))
    count = len(ready_values)
    usage_ratio = total / count / target
    scale_up_with_unready = unready > 0 and usage_ratio > 1.0

    if not scale_up_with_unready and missing == 0:
        if within(usage_ratio):
            return current_replicas, WITHIN_TOLERANCE
        reason = ABOVE_TARGET if usage_ratio > 1.0 else BELOW_TARGET
        return math.ceil(usage_ratio * count), reason

    if missing > 0:
        if usage_ratio < 1.0:
            fallback = missing_value_on_scale_down
            total += missing * (target if fallback is None else fallback)
            count += missing
        elif usage_ratio > 1.0:
            count += missing  # each missing pod counts as 0
    if scale_up_with_unready:
        count += unready  # each not-ready pod counts as 0

    new_ratio = total / count / target
    if within(new_ratio):
        return current_replicas, WITHIN_TOLERANCE
    if (usage_ratio < 1.0 < new_ratio) or (usage_ratio > 1.0 > new_ratio):
        return current_replicas, DIRECTION_REVERSED
    new_replicas = math.ceil(new_ratio * count)
    if (new_ratio < 1.0 and new_replicas > current_replicas) or (
        new_ratio > 1.0 and new_replicas < current_replicas
    ):
        return current_replicas, DIRECTION_REVERSED
    return new_replicas, ABOVE_TARGET if new_ratio > 1.0 else BELOW_TARGET


def pod_samples(pods: Iterable[PodMetrics], metric: str) -> list[PodSample]:
    """The controller's pod grouping (groupPods) mapped onto the views.

    - draining, terminated or failed instances are dropped (the controller ignores pods with a
      deletion timestamp and discards failed pods);
    - booting instances are not yet ready (the controller's Pending pods);
    - a missing value makes the pod "missing";
    - for cpu_util_frac only, a pod whose `ready` flag is False is set aside as not yet ready
      (the controller applies its readiness rules to CPU only). The controller's finer rule —
      a pod that became ready late inside the CPU initialization period — needs readiness
      transition times the views do not carry, so every not-ready pod is set aside.
    """
    samples = []
    for pod in pods:
        if pod.state in GONE_STATES:
            continue
        if pod.state == BOOTING:
            samples.append(PodSample(None, ready=False))
            continue
        value = getattr(pod, metric)
        if value is None:
            samples.append(PodSample(None, ready=True))
        elif metric == "cpu_util_frac" and not pod.ready:
            samples.append(PodSample(None, ready=False))
        else:
            samples.append(PodSample(float(value), ready=True))
    return samples


def missing_value_on_scale_down(metric: str, target: float) -> float:
    """What a missing pod is assumed to use on a scale-down.

    Resource utilization metrics: 100 % of the request, or the target when it is above 100 %
    (GetResourceReplicas); plain per-pod metrics: exactly the target (calcPlainMetricReplicas).
    """
    return max(1.0, target) if metric in RESOURCE_METRICS else target


@dataclass(frozen=True)
class MetricTarget:
    """One metric: the per-instance average the autoscaler aims for.

    metric: one of cpu_util_frac, memory_frac, in_flight, request_rps, latency_s.
    target: the average per instance (a fraction of capacity for *_frac metrics, e.g. 0.8
    for 80 % CPU — the HPA's default metric when none is given).
    """

    __pydantic_config__ = {"extra": "forbid"}
    metric: str = "cpu_util_frac"
    target: float = 0.8

    def __post_init__(self) -> None:
        check_metric(self.metric)
        check_positive("target", self.target)


@dataclass(frozen=True)
class TargetTrackingConfig:
    """Kubernetes HPA settings.

    min_replicas / max_replicas: the HPA's minReplicas (>= 1) and maxReplicas.
    metrics: one or more MetricTarget; the largest proposal wins.
    tolerance: the ratio band around 1.0 inside which nothing changes (default 0.1).
    scale_up / scale_down: `behavior` rules; unset fields take the documented defaults
    (up: 0 s window, max(100 %, 4 pods) per 15 s; down: 300 s window, 100 % per 15 s).
    sync_period_s: how often the driver should call decide (the controller's 15 s).
    """

    __pydantic_config__ = {"extra": "forbid"}
    min_replicas: int = 2
    max_replicas: int = 10
    metrics: tuple[MetricTarget, ...] = (MetricTarget(),)
    tolerance: float = 0.1
    scale_up: ScalingRules = ScalingRules()
    scale_down: ScalingRules = ScalingRules()
    sync_period_s: float = 15.0

    def __post_init__(self) -> None:
        check_bounds(self.min_replicas, self.max_replicas)
        if len(self.metrics) == 0:
            raise ValueError("metrics must name at least one metric")
        for entry in self.metrics:
            if not isinstance(entry, MetricTarget):
                raise ValueError(f"metrics entries must be MetricTarget, got {entry!r}")
        check_range("tolerance", self.tolerance, 0.0, 0.99)
        check_range("sync_period_s", self.sync_period_s, 1.0, 1800.0)


class TargetTracking(AutoscalerBase):
    """The HPA control loop around `calculate_replicas`.

    Each decide, as reconcileAutoscaler does:

    1. the first call records the current count as a recommendation;
    2. a count above max (below min) goes straight to max (min): "TooManyReplicas"
       ("TooFewReplicas"), without stabilization or rate limits;
    3. each metric proposes a count; if every metric failed, or some failed and the best
       proposal is below the current count, nothing changes ("FailedComputeMetricsReplicas");
    4. the largest proposal is stabilized and rate-limited (behavior.Behavior.normalize).

    The reason is the binding limit ("ScaleUpLimit", "ScaleDownLimit", "TooManyReplicas",
    "TooFewReplicas"), else the stabilization ("ScaleUpStabilized", "ScaleDownStabilized"),
    else — when the count is unchanged — the calculation's reason ("WithinTolerance",
    "DirectionReversed", ...), else "DesiredWithinRange". A decision that changes the count
    is recorded as a scale event at `now_s` (the driver is expected to apply it).
    """

    def __init__(self, config: TargetTrackingConfig | None = None) -> None:
        self.config = config or TargetTrackingConfig()
        self.behavior = Behavior(self.config.scale_up, self.config.scale_down)

    @property
    def scaler_metric(self) -> str:
        """The first of its target metrics."""
        return self.config.metrics[0].metric if self.config.metrics else super().scaler_metric

    def _decide(
        self, cluster: ClusterView, now_s: float, min_replicas: int, max_replicas: int
    ) -> ScaleDecision:
        current = cluster.current_replicas
        self.behavior.seed(current, now_s)
        clamped = self.behavior.enforce_bounds(current, min_replicas, max_replicas, now_s)
        if clamped is not None:
            return clamped

        best: tuple[int, str] | None = None
        invalid = 0
        for entry in self.config.metrics:
            proposal = calculate_replicas(
                current,
                pod_samples(cluster.pods, entry.metric),
                entry.target,
                self.config.tolerance,
                missing_value_on_scale_down=missing_value_on_scale_down(entry.metric, entry.target),
            )
            if proposal[1] == NO_METRICS:
                invalid += 1
            elif best is None or proposal[0] > best[0]:
                best = proposal
        if best is None or (invalid > 0 and best[0] < current):
            return ScaleDecision(current, FAILED_COMPUTE_METRICS_REPLICAS)

        desired, metric_reason = best
        return self.behavior.normalized_decision(
            current, desired, metric_reason, min_replicas, max_replicas, now_s
        )


def build(config: TargetTrackingConfig, rng: np.random.Generator) -> TargetTracking:
    """Registry factory (the policy is deterministic; rng is unused)."""
    return TargetTracking(config)
