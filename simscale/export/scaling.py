"""Any autoscaling policy as Kubernetes can run it: an HPA, or a KEDA ScaledObject.

`scaler_for` turns the spec's autoscaler into a Scaler: replica bounds, metric targets and
HPA `behavior` rules, plus KEDA's extras (polling, cooldown, activation, cron windows). Only
target_tracking maps one to one onto an HPA and concurrency onto a ScaledObject; the other
policies are approximated and each approximation is a Loss naming what is lost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from simscale.errors import InputError
from simscale.export.base import Losses
from simscale.export.limits import INT32_MAX, MAX_PERIOD_S, MAX_WINDOW_S, at_most, finite, whole

HPA_TOLERANCE = 0.1          # the controller's --horizontal-pod-autoscaler-tolerance
HPA_SYNC_PERIOD_S = 15.0     # the controller's --horizontal-pod-autoscaler-sync-period
CRON_DAYS = {"Sun": 0, "Mon": 1, "Tue": 2, "Wed": 3, "Thu": 4, "Fri": 5, "Sat": 6}


@dataclass(frozen=True)
class Target:
    """One metric target: the per-instance average the scaler aims for."""

    metric: str
    target: float
    field: str = ""     # the spec field of the target ("": the policy's metrics.N)


@dataclass(frozen=True)
class Cron:
    """A KEDA cron trigger: at least `replicas` between start and end (cron expressions)."""

    name: str
    start: str
    end: str
    replicas: int


@dataclass
class Scaler:
    """An autoscaler as Kubernetes runs it. kind: "hpa" or "keda"."""

    kind: str
    min_replicas: int
    max_replicas: int
    targets: list[Target] = field(default_factory=list)
    scale_up: Any = None            # policies.autoscalers.ScalingRules
    scale_down: Any = None
    polling_s: int | None = None    # KEDA pollingInterval
    cooldown_s: int | None = None   # KEDA cooldownPeriod
    activation: float | None = None
    crons: list[Cron] = field(default_factory=list)
    where: str = "autoscaling"          # the spec path of the policy the numbers come from
    bounds_where: str = ""              # … of min/max replicas ("": where)

    def bounds_field(self, name: str) -> str:
        return f"{self.bounds_where or self.where}.params.{name}"


def scaler_for(policy: str, config: Any, losses: Losses,
               where: str = "autoscaling") -> Scaler | None:
    """The Scaler for an autoscaling policy (None: nothing to scale on)."""
    from policies.autoscalers import ScalingRules

    if policy == "target_tracking":
        _tolerance_and_sync(config, losses, where)
        return Scaler("hpa", config.min_replicas, config.max_replicas,
                      [Target(m.metric, m.target) for m in config.metrics],
                      config.scale_up, config.scale_down, where=where)
    if policy == "concurrency":
        _tolerance_and_sync(config, losses, where, sync=False)
        return Scaler("keda", config.min_replicas, config.max_replicas,
                      [Target("in_flight", config.target_in_flight_per_instance,
                              f"{where}.params.target_in_flight_per_instance")],
                      config.scale_up, config.scale_down,
                      polling_s=_whole(config.sync_period_s, losses,
                                       f"{where}.params.sync_period_s"),
                      cooldown_s=_whole(config.cooldown_period_s, losses,
                                        f"{where}.params.cooldown_period_s", low=0),
                      activation=config.activation_in_flight, where=where)
    if policy == "threshold":
        return _threshold(config, losses, where, ScalingRules)
    if policy == "step":
        return _step(config, losses, where, ScalingRules)
    if policy == "predictive":
        from policies.autoscalers import INNER_POLICIES, inner_config

        losses.lose(f"{where}.policy",
                    f"predictive: the forecast floor ({config.method}, boot_delay_s "
                    f"{config.boot_delay_s:g}, horizon_s {config.horizon_s:g}) cannot be "
                    "expressed by an HPA or KEDA; only the inner policy "
                    f"{config.inner_policy!r} is exported")
        inner = inner_config(INNER_POLICIES, config.inner_policy, config.inner_config)
        scaler = scaler_for(config.inner_policy, inner, losses, f"{where}.params.inner_config")
        if scaler is not None:
            scaler.bounds_where = where
            scaler.min_replicas = max(scaler.min_replicas, config.min_replicas)
            scaler.max_replicas = min(scaler.max_replicas, config.max_replicas)
            scaler.max_replicas = max(scaler.max_replicas, scaler.min_replicas)
        return scaler
    if policy == "scheduled":
        return _scheduled(config, losses, where)
    losses.lose(f"{where}.policy", f"autoscaler {policy!r} has no Kubernetes equivalent")
    return None


def _tolerance_and_sync(config: Any, losses: Losses, where: str, sync: bool = True) -> None:
    if abs(config.tolerance - HPA_TOLERANCE) > 1e-12:
        losses.lose(f"{where}.params.tolerance",
                    f"the HPA tolerance is the cluster-wide controller flag "
                    f"--horizontal-pod-autoscaler-tolerance (default {HPA_TOLERANCE:g}); the "
                    "per-HPA behavior tolerance field is alpha (HPAConfigurableTolerance)")
    if sync and abs(config.sync_period_s - HPA_SYNC_PERIOD_S) > 1e-12:
        losses.lose(f"{where}.params.sync_period_s",
                    "the HPA sync period is the cluster-wide controller flag "
                    f"--horizontal-pod-autoscaler-sync-period (default {HPA_SYNC_PERIOD_S:g} s)")


def _whole(value_s: float, losses: Losses, field_path: str, low: int = 1,
           high: int | None = None) -> int:
    """Whole seconds: clamped into [low, high] when `high` is given (an approximation),
    else refused beyond the int32 the Kubernetes field holds; rounding or clamping is a Loss."""
    if not finite(value_s):
        raise InputError(f"{field_path}: {value_s!r} is not a finite number of seconds")
    if high is None:
        at_most(value_s, field_path, INT32_MAX, "a Kubernetes int32 field (seconds)")
    seconds = max(low, round(min(value_s, high if high is not None else value_s)))
    if abs(seconds - value_s) > 1e-9:
        losses.lose(field_path, f"{value_s:g} s is written as {seconds} s (whole seconds"
                                + (f", {low}..{high}" if high is not None else "") + ")")
    return seconds


def _period(value_s: float, losses: Losses, field_path: str) -> int:
    return _whole(value_s, losses, field_path, 1, MAX_PERIOD_S)


def _window(value_s: float, losses: Losses, field_path: str) -> int:
    """A derived stabilization window: whole seconds, at most the API's 3600 (a Loss)."""
    if not value_s <= MAX_WINDOW_S:
        losses.lose(field_path, f"a {value_s:g} s window is written as the API's largest "
                                f"stabilization window, {MAX_WINDOW_S} s")
        return MAX_WINDOW_S
    return round(value_s)


def _threshold(config: Any, losses: Losses, where: str, ScalingRules: type) -> Scaler:
    from policies.autoscalers import ScalingPolicy

    losses.lose(f"{where}.policy",
                "threshold: an HPA scales proportionally toward one target; exported as target "
                f"tracking at scale_up_threshold ({config.scale_up_threshold:g}); the lower "
                f"threshold ({config.scale_down_threshold:g}) is lost (the HPA scales down "
                "below target × (1 − tolerance))")
    sync = config.sync_period_s
    up_window = _window(config.scale_up_periods * sync, losses, f"{where}.params.scale_up_periods")
    down_window = _window(max(config.scale_down_periods * sync, config.scale_down_cooldown_s),
                          losses, f"{where}.params.scale_down_periods")
    for name in ("scale_up_step", "scale_down_step"):
        whole(getattr(config, name), f"{where}.params.{name}", 1, INT32_MAX,
              "an HPA policy value (int32)")
    up = ScalingRules(stabilization_window_s=up_window, select_policy="Max", policies=(
        ScalingPolicy("Pods", config.scale_up_step,
                      _period(max(config.scale_up_cooldown_s, 1.0), losses,
                              f"{where}.params.scale_up_cooldown_s")),))
    down = ScalingRules(stabilization_window_s=down_window, select_policy="Max", policies=(
        ScalingPolicy("Pods", config.scale_down_step,
                      _period(max(config.scale_down_cooldown_s, 1.0), losses,
                              f"{where}.params.scale_down_cooldown_s")),))
    return Scaler("hpa", config.min_replicas, config.max_replicas,
                  [Target(config.metric, config.scale_up_threshold,
                          f"{where}.params.scale_up_threshold")], up, down, where=where)


def _step(config: Any, losses: Losses, where: str, ScalingRules: type) -> Scaler:
    from policies.autoscalers import ScalingPolicy

    alarm = config.scale_out or config.scale_in
    losses.lose(f"{where}.policy",
                "step: an HPA has no alarms or step adjustments; exported as target tracking "
                f"at the {'scale-out' if config.scale_out else 'scale-in'} alarm threshold "
                f"({alarm.threshold:g}), with the largest step as the rate limit")
    if config.metric_aggregation != "Average":
        losses.lose(f"{where}.params.metric_aggregation",
                    f"an HPA averages over pods; {config.metric_aggregation} is lost")

    def rules(policy: Any, field_name: str) -> Any:
        if policy is None:
            return ScalingRules(select_policy="Disabled")
        largest = max(abs(s.scaling_adjustment) for s in policy.step_adjustments) or 1
        whole(largest, f"{where}.params.{field_name}.step_adjustments", 1, INT32_MAX,
              "an HPA policy value (int32)")
        kind = {"ChangeInCapacity": "Pods", "PercentChangeInCapacity": "Percent"}.get(
            policy.adjustment_type)
        if kind is None:
            losses.lose(f"{where}.params.{field_name}.adjustment_type",
                        "ExactCapacity has no HPA equivalent; exported as a Pods rate limit")
            kind = "Pods"
        window = _window(policy.evaluation_periods * config.sync_period_s, losses,
                         f"{where}.params.{field_name}.evaluation_periods")
        period = _period(max(policy.cooldown_s, 1.0), losses,
                         f"{where}.params.{field_name}.cooldown_s")
        return ScalingRules(stabilization_window_s=window, select_policy="Max",
                            policies=(ScalingPolicy(kind, largest, period),))

    return Scaler("hpa", config.min_replicas, config.max_replicas,
                  [Target(config.metric, max(alarm.threshold, 1e-3), f"{where}.params."
                          f"{'scale_out' if config.scale_out else 'scale_in'}.threshold")],
                  rules(config.scale_out, "scale_out"), rules(config.scale_in, "scale_in"),
                  where=where)


def _cron(days: tuple[str, ...], minutes: int) -> str:
    """A cron expression at `minutes` after midnight on `days` (24:00 is the next midnight)."""
    shift = minutes // (24 * 60)
    minutes %= 24 * 60
    numbers = sorted({(CRON_DAYS[d] + shift) % 7 for d in days})
    return f"{minutes % 60} {minutes // 60} * * {','.join(str(n) for n in numbers)}"


def _scheduled(config: Any, losses: Losses, where: str) -> Scaler | None:
    from policies.autoscalers import LEAF_POLICIES, inner_config
    from policies.autoscalers.scheduled import parse_clock

    scaler: Scaler | None = None
    if config.inner_policy is not None:
        inner = inner_config(LEAF_POLICIES, config.inner_policy, config.inner_config)
        scaler = scaler_for(config.inner_policy, inner, losses, f"{where}.params.inner_config")
    if scaler is None:
        scaler = Scaler("keda", config.min_replicas, config.max_replicas, where=where)
    scaler.kind = "keda"
    scaler.bounds_where = where
    scaler.min_replicas, scaler.max_replicas = config.min_replicas, config.max_replicas
    if scaler.polling_s is None:
        scaler.polling_s = _whole(config.sync_period_s, losses, f"{where}.params.sync_period_s")
    for n, window in enumerate(config.windows):
        field_path = f"{where}.params.windows.{n}"
        if window.max_replicas is not None and window.max_replicas != config.max_replicas:
            losses.lose(f"{field_path}.max_replicas",
                        "a KEDA cron trigger raises the floor only; the window's max_replicas "
                        f"({window.max_replicas}) is lost (maxReplicaCount stays "
                        f"{config.max_replicas})")
        if window.min_replicas is None or window.min_replicas <= config.min_replicas:
            continue
        start = parse_clock(window.start, "start")
        end = parse_clock(window.end, "end", allow_24=True)
        if end <= start:
            end += 24 * 60
        scaler.crons.append(Cron(window.name or f"window-{n + 1}", _cron(window.days, start),
                                 _cron(window.days, end),
                                 min(window.min_replicas, config.max_replicas)))
    if not scaler.targets and not scaler.crons:
        return None
    return scaler


def utilization_percent(target: float, losses: Losses, field_path: str) -> int:
    """A utilization fraction as the HPA's whole percent (at least 1); rounding is a Loss.
    InputError beyond the int32 the field holds."""
    at_most(target, field_path, INT32_MAX / 100, "a utilization target (int32 percent / 100)")
    percent = max(1, round(target * 100))
    if not math.isclose(percent, target * 100, abs_tol=1e-9):
        losses.lose(field_path, f"target {target:g} is written as {percent} % (whole percent)")
    return percent
