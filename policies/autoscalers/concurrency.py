"""Concurrency scaling, KEDA style: desired = ceil(total in-flight / target per instance).

KEDA turns a ScaledObject trigger into an HPA External metric with an AverageValue target;
the HPA then computes ceil(total / target) unless total / (target × current) is within the
tolerance (replica_calculator.go GetExternalPerPodMetricReplicas), and applies its `behavior`
(policies/autoscalers/behavior.py). KEDA itself handles 0 <-> 1 (ScaledObject specification,
keda.sh): with minReplicaCount 0 the target is activated (scaled to max(1, min)) when the
metric exceeds the activation threshold, and scaled to zero once no trigger has been active
for `cooldownPeriod` (default 300 s). KEDA polls every `pollingInterval` (default 30 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from policies.autoscalers._common import (
    GONE_STATES,
    MAX_WINDOW_S,
    NO_METRICS,
    TOO_MANY_REPLICAS,
    WITHIN_TOLERANCE,
    AutoscalerBase,
    check_bounds,
    check_positive,
    check_range,
)
from policies.autoscalers.behavior import Behavior, ScalingRules
from policies.views import ClusterView, ScaleDecision

ACTIVATED = "Activated"
SCALED_TO_ZERO = "ScaledToZero"
INACTIVE = "Inactive"
ABOVE_TARGET = "AboveTarget"
BELOW_TARGET = "BelowTarget"


def concurrency_replicas(
    current_replicas: int, total_in_flight: float, target_per_instance: float, tolerance: float
) -> tuple[int, str]:
    """(replicas, reason) for an AverageValue target on a total (the HPA's external metric rule).

    With current_replicas > 0: keep the count when total / (target × current) is within the
    tolerance ("WithinTolerance"), else ceil(total / target). With 0 replicas: ceil(total /
    target) (the HPA's scale-from-zero branch). Raises ValueError for a non-positive target.
    """
    if not target_per_instance > 0:
        raise ValueError(f"target_per_instance must be > 0, got {target_per_instance}")
    wanted = math.ceil(total_in_flight / target_per_instance)
    if current_replicas > 0:
        ratio = total_in_flight / (target_per_instance * current_replicas)
        if 1.0 - tolerance <= ratio <= 1.0 + tolerance:
            return current_replicas, WITHIN_TOLERANCE
        return wanted, ABOVE_TARGET if ratio > 1.0 else BELOW_TARGET
    return wanted, ABOVE_TARGET if wanted > 0 else WITHIN_TOLERANCE


def total_in_flight(cluster: ClusterView) -> float | None:
    """cluster.in_flight_total, else the sum over live instances that report in_flight."""
    if cluster.in_flight_total is not None:
        return float(cluster.in_flight_total)
    values = [
        p.in_flight for p in cluster.pods if p.state not in GONE_STATES and p.in_flight is not None
    ]
    return float(sum(values)) if values else None


@dataclass(frozen=True)
class ConcurrencyConfig:
    """KEDA-style concurrency settings.

    min_replicas may be 0 (scale to zero, KEDA's minReplicaCount default); the service's
    default is 2. target_in_flight_per_instance: the trigger's target value per replica.
    activation_in_flight: KEDA's activation threshold (active when total > it).
    cooldown_period_s: idle time before scaling to zero (only when min_replicas is 0).
    tolerance, scale_up, scale_down: the HPA settings KEDA passes through (defaults as HPA).
    sync_period_s: KEDA's pollingInterval.
    """

    __pydantic_config__ = {"extra": "forbid"}
    min_replicas: int = 2
    max_replicas: int = 10
    target_in_flight_per_instance: float = 8.0
    activation_in_flight: float = 0.0
    cooldown_period_s: float = 300.0
    tolerance: float = 0.1
    scale_up: ScalingRules = ScalingRules()
    scale_down: ScalingRules = ScalingRules()
    sync_period_s: float = 30.0

    def __post_init__(self) -> None:
        check_bounds(self.min_replicas, self.max_replicas, allow_zero_min=True)
        check_positive("target_in_flight_per_instance", self.target_in_flight_per_instance)
        check_range("activation_in_flight", self.activation_in_flight, 0.0)
        check_range("cooldown_period_s", self.cooldown_period_s, 0.0, MAX_WINDOW_S)
        check_range("tolerance", self.tolerance, 0.0, 0.99)
        check_range("sync_period_s", self.sync_period_s, 1.0, 1800.0)


class Concurrency(AutoscalerBase):
    """KEDA's activation and scale-to-zero around the HPA rule and behavior."""

    def __init__(self, config: ConcurrencyConfig | None = None) -> None:
        self.config = config or ConcurrencyConfig()
        self.behavior = Behavior(self.config.scale_up, self.config.scale_down)
        self.last_active_s: float | None = None

    @property
    def scaler_metric(self) -> str:
        """Requests in flight, per instance."""
        return "in_flight"

    def _decide(
        self, cluster: ClusterView, now_s: float, min_replicas: int, max_replicas: int
    ) -> ScaleDecision:
        cfg = self.config
        current = cluster.current_replicas
        total = total_in_flight(cluster)
        if self.last_active_s is None:
            self.last_active_s = now_s  # KEDA counts the cooldown from its first look
        active = total is not None and total > cfg.activation_in_flight
        if active:
            self.last_active_s = now_s

        if max_replicas == 0:  # a wrapper closed the target down
            return ScaleDecision(0, TOO_MANY_REPLICAS if current > 0 else INACTIVE)
        if min_replicas == 0:
            if current == 0:
                if active:
                    desired = 1
                    self.behavior.record_scale(0, desired, now_s)
                    return ScaleDecision(desired, ACTIVATED)
                return ScaleDecision(0, INACTIVE)
            if not active and now_s - self.last_active_s >= cfg.cooldown_period_s:
                self.behavior.record_scale(current, 0, now_s)
                return ScaleDecision(0, SCALED_TO_ZERO)

        hpa_min = max(1, min_replicas)  # KEDA's HPA keeps at least one replica
        self.behavior.seed(current, now_s)
        clamped = self.behavior.enforce_bounds(current, hpa_min, max_replicas, now_s)
        if clamped is not None:
            return clamped
        if total is None:
            return ScaleDecision(current, NO_METRICS)

        desired, metric_reason = concurrency_replicas(
            current, total, cfg.target_in_flight_per_instance, cfg.tolerance
        )
        return self.behavior.normalized_decision(
            current, desired, metric_reason, hpa_min, max_replicas, now_s
        )


def build(config: ConcurrencyConfig, rng: np.random.Generator) -> Concurrency:
    """Registry factory (the policy is deterministic; rng is unused)."""
    return Concurrency(config)
