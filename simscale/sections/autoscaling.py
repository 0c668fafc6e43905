"""The [autoscaling] section: the autoscaler, the metrics it sees, the instance lifecycle.

The policy and its parameters work as in [balancer]: `policy` names a registered autoscaler
and `params` is checked against that policy's frozen config dataclass, which is also the one
source of truth for the replica bounds (`params.min_replicas`, `params.max_replicas`) and the
sync period (`params.sync_period_s`). The other fields describe the world around the policy:
how metrics are scraped, averaged and delayed before the autoscaler sees them, how long an
instance takes to boot and warm up, and how scale-in drains.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from simscale.limits import MAX_INSTANCES, MIN_PERIOD_S, Factor, Seconds
from simscale.sections.base import PolicyRef
from simscale.workload.distributions import Deterministic, Distribution

# Per-instance metric names (the fields of policies.views.PodMetrics a policy may target).
METRIC_NAMES = ("cpu_util_frac", "memory_frac", "in_flight", "request_rps", "latency_s")
VictimName = Literal["newest_first", "oldest_first", "least_loaded"]
ScalerMetric = Literal["auto", "cpu_util_frac", "memory_frac", "in_flight", "request_rps",
                       "latency_s"]

MAX_METRICS_WINDOW_S = 3600.0
MAX_METRICS_DELAY_S = 3600.0


class AutoscalingSpec(PolicyRef):
    """Autoscaling; off unless `enabled` (then the instance count stays instances.count)."""

    family: ClassVar[str] = "autoscaler"
    enabled: bool = Field(
        False, description="run the autoscaler (the service's AUTO_SCALING_ENABLED)")
    policy: str = Field(
        "target_tracking", description="a registered autoscaler (simscale policies)")
    scrape_interval_s: float = Field(
        15.0, ge=MIN_PERIOD_S, le=MAX_METRICS_WINDOW_S,
        description="seconds between metric scrapes")
    metrics_window_s: float = Field(
        60.0, gt=0, le=MAX_METRICS_WINDOW_S,
        description="rates and averages cover this many seconds of scrapes (>= one interval)")
    metrics_delay_s: float = Field(
        30.0, ge=0, le=MAX_METRICS_DELAY_S,
        description="seconds from a scrape until the autoscaler can see it (the lag)")
    boot_delay: Distribution = Field(
        default_factory=lambda: Deterministic(value_s=60.0),
        description="seconds from a scale-up request until the new instance is ready")
    warmup_s: Seconds = Field(
        0.0, description="seconds after boot during which CPU work runs slower")
    warmup_slowdown: Factor = Field(
        1.0, description="CPU work takes this many times longer during warm-up")
    drain_deadline_s: Seconds = Field(
        30.0, description="a draining instance ends its leftover requests after this long")
    scale_in_victims: VictimName = Field(
        "newest_first", description="which instances a scale-in removes first")
    scaler_metric: ScalerMetric = Field(
        "auto", description="the metric reported as metrics.parquet's scaler_metric "
        "(auto: the policy's own)")

    @model_validator(mode="after")
    def _fleet_bound(self) -> AutoscalingSpec:
        """The policy's replica bounds within the model's fleet limit (the policy itself
        bounds its sync period, 1 to 1800 s)."""
        for name in ("min_replicas", "max_replicas"):
            if getattr(self.config, name) > MAX_INSTANCES:
                raise ValueError(f"params.{name}: at most {MAX_INSTANCES:,} instances")
        return self

    @model_validator(mode="after")
    def _window_holds_two_scrapes(self) -> AutoscalingSpec:
        if self.metrics_window_s < self.scrape_interval_s:
            raise ValueError(
                f"metrics_window_s ({self.metrics_window_s}) must be at least "
                f"scrape_interval_s ({self.scrape_interval_s}): a rate needs two scrapes")
        return self

    @property
    def min_replicas(self) -> int:
        return self.config.min_replicas

    @property
    def max_replicas(self) -> int:
        return self.config.max_replicas

    @property
    def sync_period_s(self) -> float:
        return self.config.sync_period_s

    def initial_count(self, count: int) -> int:
        """Instances at t = 0: `count`, clamped into [min_replicas, max_replicas] when enabled."""
        if not self.enabled:
            return count
        return min(max(count, self.min_replicas), self.max_replicas)
