"""Predictive scaling: forecast the load, provision ahead of it, let a reactive policy do the rest.

Modelled on AWS EC2 Auto Scaling predictive scaling (user guide "Predictive scaling"): the
forecast only raises the minimum capacity ahead of time ("SchedulingBufferTime" launches
instances early by the boot delay), it never scales in by itself, and the mode is either
"ForecastAndScale" or "ForecastOnly" (compute and report the forecast, change nothing).

Each decide:

1. adds the observed `arrival_rps` to a bucketed history (policies/autoscalers/forecast.py);
2. forecasts the bucket means over [now + boot_delay_s, now + boot_delay_s + horizon_s] with
   Holt-Winters (additive, seasonality `season_s`, daily by default) or seasonal naive —
   Holt-Winters needs two seasons of history and falls back to seasonal naive after one;
   before that there is no forecast ("forecast=warming_up");
3. turns the largest forecast into a floor: ceil(forecast_rps / target_rps_per_instance),
   within the bounds;
4. runs the inner policy (default target_tracking) with the floor as its minimum in
   ForecastAndScale mode, or with the plain bounds in ForecastOnly mode. (A `scheduled` inner
   policy's active window replaces the bounds it names, the floor included.)

The reason is the inner policy's, followed by the forecast: ";forecast_rps=…;floor=…" (active)
or ";forecast_only;forecast_rps=…;would=…", where `would` is max(inner decision, floor): what
ForecastAndScale would have asked for, to the extent that the floor alone decides it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from policies.autoscalers import scheduled
from policies.autoscalers._common import (
    AutoscalerBase,
    check_bounds,
    check_choice,
    check_positive,
    check_range,
    clamp,
)
from policies.autoscalers._inner import LEAF_POLICIES, build_inner, inner_config
from policies.autoscalers.forecast import BucketedSeries, HoltWintersAdditive, SeasonalNaive
from policies.views import ClusterView, ScaleDecision

MODES = ("ForecastAndScale", "ForecastOnly")
METHODS = ("holt_winters", "seasonal_naive")
INNER_POLICIES = {
    **LEAF_POLICIES,
    "scheduled": (scheduled.ScheduledConfig, scheduled.build),
}


@dataclass(frozen=True)
class PredictiveConfig:
    """Predictive scaling settings.

    mode: "ForecastAndScale" or "ForecastOnly".
    method: "holt_winters" or "seasonal_naive".
    target_rps_per_instance: arrivals per second one instance should carry.
    boot_delay_s: how early capacity must be asked for (0..3600 s).
    horizon_s: how far past the boot delay the forecast looks (0..86 400 s).
    bucket_s: history resolution (1..3600 s); season_s: a whole number of buckets (>= 2).
    alpha, beta, gamma: Holt-Winters smoothing parameters in [0, 1].
    inner_policy / inner_config: the reactive policy and its config table.
    """

    __pydantic_config__ = {"extra": "forbid"}
    min_replicas: int = 2
    max_replicas: int = 10
    mode: str = "ForecastAndScale"
    method: str = "holt_winters"
    target_rps_per_instance: float = 10.0
    boot_delay_s: float = 120.0
    horizon_s: float = 300.0
    bucket_s: float = 300.0
    season_s: float = 86_400.0
    alpha: float = 0.3
    beta: float = 0.05
    gamma: float = 0.2
    inner_policy: str = "target_tracking"
    inner_config: dict[str, Any] | None = None
    sync_period_s: float = 15.0

    def __post_init__(self) -> None:
        check_bounds(self.min_replicas, self.max_replicas)
        check_choice("mode", self.mode, MODES)
        check_choice("method", self.method, METHODS)
        check_positive("target_rps_per_instance", self.target_rps_per_instance)
        check_range("boot_delay_s", self.boot_delay_s, 0.0, 3600.0)
        check_range("horizon_s", self.horizon_s, 0.0, 86_400.0)
        check_range("bucket_s", self.bucket_s, 1.0, 3600.0)
        check_range("season_s", self.season_s, 2 * self.bucket_s, 7 * 86_400.0)
        buckets = self.season_s / self.bucket_s
        if abs(buckets - round(buckets)) > 1e-9:
            raise ValueError(
                f"season_s ({self.season_s}) must be a whole number of buckets ({self.bucket_s} s)"
            )
        for name in ("alpha", "beta", "gamma"):
            check_range(name, getattr(self, name), 0.0, 1.0)
        check_range("sync_period_s", self.sync_period_s, 1.0, 1800.0)
        inner_config(INNER_POLICIES, self.inner_policy, self.inner_config)

    @property
    def season_len(self) -> int:
        return round(self.season_s / self.bucket_s)


class Predictive(AutoscalerBase):
    """History, forecaster and floor around an inner reactive policy."""

    def __init__(self, config: PredictiveConfig | None, rng: np.random.Generator) -> None:
        self.config = config or PredictiveConfig()
        cfg = self.config
        self.series = BucketedSeries(cfg.bucket_s)
        self.naive = SeasonalNaive(cfg.season_len)
        self.holt_winters = (
            HoltWintersAdditive(cfg.season_len, cfg.alpha, cfg.beta, cfg.gamma)
            if cfg.method == "holt_winters"
            else None
        )
        self.inner = build_inner(INNER_POLICIES, cfg.inner_policy, cfg.inner_config, rng)
        self.last_forecast_rps: float | None = None

    def observe(self, now_s: float, arrival_rps: float | None) -> None:
        """Feed one sample of the arrival rate into the history."""
        if arrival_rps is None:
            return
        for mean in self.series.add(now_s, float(arrival_rps)):
            self.naive.update(mean)
            if self.holt_winters is not None:
                self.holt_winters.update(mean)

    def forecast_rps(self, now_s: float) -> float | None:
        """The largest forecast bucket mean in the provisioning window, or None while warming up."""
        last = self.series.last_complete_index
        if last is None:
            return None
        if self.holt_winters is not None and self.holt_winters.ready:
            model = self.holt_winters
        elif self.naive.ready:
            model = self.naive
        else:
            return None
        start = now_s + self.config.boot_delay_s
        first = self.series.index(start)
        final = self.series.index(start + self.config.horizon_s)
        peak = max(model.forecast(j - last) for j in range(max(first, last + 1), final + 1))
        return max(0.0, peak)

    @property
    def scaler_metric(self) -> str:
        """Its inner policy's metric."""
        return self.inner.scaler_metric

    def _decide(
        self, cluster: ClusterView, now_s: float, min_replicas: int, max_replicas: int
    ) -> ScaleDecision:
        self.observe(now_s, cluster.arrival_rps)
        forecast = self.forecast_rps(now_s)
        self.last_forecast_rps = forecast
        if forecast is None:
            decision = self.inner.decide_within(cluster, now_s, min_replicas, max_replicas)
            reason = f"{decision.reason};forecast=warming_up"
            return ScaleDecision(decision.desired_replicas, reason)

        # The small epsilon keeps float noise (e.g. 20.000000001 / 10) from adding a replica.
        needed = math.ceil(forecast / self.config.target_rps_per_instance - 1e-9)
        floor = clamp(needed, min_replicas, max_replicas)
        if self.config.mode == "ForecastOnly":
            decision = self.inner.decide_within(cluster, now_s, min_replicas, max_replicas)
            would = max(decision.desired_replicas, floor)
            return ScaleDecision(
                decision.desired_replicas,
                f"{decision.reason};forecast_only;forecast_rps={forecast:.2f};would={would}",
            )
        decision = self.inner.decide_within(cluster, now_s, floor, max_replicas)
        return ScaleDecision(
            decision.desired_replicas,
            f"{decision.reason};forecast_rps={forecast:.2f};floor={floor}",
        )


def build(config: PredictiveConfig, rng: np.random.Generator) -> Predictive:
    """Registry factory; the inner policy gets the same generator."""
    return Predictive(config, rng)
