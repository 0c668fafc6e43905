"""Threshold scaling: a high/low-water rule of thumb, with breach counts and cooldowns.

Scale up by `scale_up_step` when the fleet average of `metric` has been above
`scale_up_threshold` for `scale_up_periods` consecutive evaluations; scale down by
`scale_down_step` after `scale_down_periods` consecutive evaluations below
`scale_down_threshold`. The replica bounds are the service's (MIN_INSTANCES=2,
MAX_INSTANCES=10); CPU 70 % / 30 % and the cooldowns are simscale's assumptions (the service
gives no thresholds): the 300 s scale-down cooldown follows the Kubernetes HPA's default
downscale stabilization window (5 minutes); 60 s up is one metrics window.

Cooldowns: no scale-up within `scale_up_cooldown_s` of the last scale-up; no scale-down within
`scale_down_cooldown_s` of the last scaling action in either direction (so the fleet does not
shrink right after it grew). A breach counter keeps counting while a cooldown blocks it, so the
action fires as soon as the cooldown ends if the breach persists; it restarts after an action.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from policies.autoscalers._common import (
    MAX_WINDOW_S,
    NO_METRICS,
    TOO_FEW_REPLICAS,
    TOO_MANY_REPLICAS,
    AutoscalerBase,
    aggregate,
    check_bounds,
    check_metric,
    check_range,
    clamp,
    metric_values,
    out_of_bounds,
)
from policies.views import ClusterView, ScaleDecision

ABOVE_UPPER_THRESHOLD = "AboveUpperThreshold"
BELOW_LOWER_THRESHOLD = "BelowLowerThreshold"
UPPER_BREACH_PENDING = "UpperBreachPending"
LOWER_BREACH_PENDING = "LowerBreachPending"
SCALE_UP_COOLDOWN = "ScaleUpCooldown"
SCALE_DOWN_COOLDOWN = "ScaleDownCooldown"
WITHIN_THRESHOLDS = "WithinThresholds"


@dataclass(frozen=True)
class ThresholdConfig:
    """Threshold rule settings.

    metric: the per-instance metric averaged over live instances that report it.
    scale_up_threshold / scale_down_threshold: strict bounds (above / below), down < up.
    scale_up_periods / scale_down_periods: consecutive evaluations in breach before acting (N).
    scale_up_step / scale_down_step: instances added / removed per action (k).
    scale_up_cooldown_s / scale_down_cooldown_s: 0..3600 s.
    sync_period_s: how often the driver should call decide (one evaluation period).
    """

    __pydantic_config__ = {"extra": "forbid"}
    min_replicas: int = 2
    max_replicas: int = 10
    metric: str = "cpu_util_frac"
    scale_up_threshold: float = 0.70
    scale_down_threshold: float = 0.30
    scale_up_periods: int = 3
    scale_down_periods: int = 3
    scale_up_step: int = 1
    scale_down_step: int = 1
    scale_up_cooldown_s: float = 60.0
    scale_down_cooldown_s: float = 300.0
    sync_period_s: float = 30.0

    def __post_init__(self) -> None:
        check_bounds(self.min_replicas, self.max_replicas)
        check_metric(self.metric)
        check_range("scale_down_threshold", self.scale_down_threshold, 0.0)
        check_range("scale_up_threshold", self.scale_up_threshold, 0.0)
        if not self.scale_down_threshold < self.scale_up_threshold:
            raise ValueError(
                f"scale_down_threshold ({self.scale_down_threshold}) must be below "
                f"scale_up_threshold ({self.scale_up_threshold})"
            )
        for name in ("scale_up_periods", "scale_down_periods", "scale_up_step", "scale_down_step"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        check_range("scale_up_cooldown_s", self.scale_up_cooldown_s, 0.0, MAX_WINDOW_S)
        check_range("scale_down_cooldown_s", self.scale_down_cooldown_s, 0.0, MAX_WINDOW_S)
        check_range("sync_period_s", self.sync_period_s, 1.0, 1800.0)


class Threshold(AutoscalerBase):
    """Consecutive-breach counters and cooldown clocks around a pure comparison."""

    def __init__(self, config: ThresholdConfig | None = None) -> None:
        self.config = config or ThresholdConfig()
        self.above_count = 0
        self.below_count = 0
        self.last_scale_up_s: float | None = None
        self.last_scale_s: float | None = None

    @property
    def scaler_metric(self) -> str:
        """The metric it compares with its thresholds."""
        return self.config.metric

    def _decide(
        self, cluster: ClusterView, now_s: float, min_replicas: int, max_replicas: int
    ) -> ScaleDecision:
        cfg = self.config
        current = cluster.current_replicas
        clamped = out_of_bounds(current, min_replicas, max_replicas)
        if clamped is not None:
            return self._scaled(current, clamped.desired_replicas, clamped.reason, now_s)

        value = aggregate(metric_values(cluster.pods, cfg.metric))
        if value is None:
            return ScaleDecision(current, NO_METRICS)
        self.above_count = self.above_count + 1 if value > cfg.scale_up_threshold else 0
        self.below_count = self.below_count + 1 if value < cfg.scale_down_threshold else 0

        if self.above_count > 0:
            if self.above_count < cfg.scale_up_periods:
                return ScaleDecision(current, UPPER_BREACH_PENDING)
            if current >= max_replicas:
                return ScaleDecision(current, TOO_MANY_REPLICAS)
            if self._cooling(self.last_scale_up_s, cfg.scale_up_cooldown_s, now_s):
                return ScaleDecision(current, SCALE_UP_COOLDOWN)
            desired = clamp(current + cfg.scale_up_step, min_replicas, max_replicas)
            reason = TOO_MANY_REPLICAS if current + cfg.scale_up_step > max_replicas else (
                ABOVE_UPPER_THRESHOLD
            )
            return self._scaled(current, desired, reason, now_s)

        if self.below_count > 0:
            if self.below_count < cfg.scale_down_periods:
                return ScaleDecision(current, LOWER_BREACH_PENDING)
            if current <= min_replicas:
                return ScaleDecision(current, TOO_FEW_REPLICAS)
            if self._cooling(self.last_scale_s, cfg.scale_down_cooldown_s, now_s):
                return ScaleDecision(current, SCALE_DOWN_COOLDOWN)
            desired = clamp(current - cfg.scale_down_step, min_replicas, max_replicas)
            reason = TOO_FEW_REPLICAS if current - cfg.scale_down_step < min_replicas else (
                BELOW_LOWER_THRESHOLD
            )
            return self._scaled(current, desired, reason, now_s)

        return ScaleDecision(current, WITHIN_THRESHOLDS)

    @staticmethod
    def _cooling(since_s: float | None, cooldown_s: float, now_s: float) -> bool:
        return since_s is not None and now_s - since_s < cooldown_s

    def _scaled(self, current: int, desired: int, reason: str, now_s: float) -> ScaleDecision:
        if desired > current:
            self.last_scale_up_s = now_s
            self.above_count = 0
        elif desired < current:
            self.below_count = 0
        if desired != current:
            self.last_scale_s = now_s
        return ScaleDecision(desired, reason)


def build(config: ThresholdConfig, rng: np.random.Generator) -> Threshold:
    """Registry factory (the policy is deterministic; rng is unused)."""
    return Threshold(config)
