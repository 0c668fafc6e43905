"""Shared pieces of the autoscalers: metric names, reasons, bounds checks, helpers, a base class.

Every autoscaler in this package offers two entry points:

- ``decide(cluster, now_s)`` — the contract from policies/views.py, using the config's own
  ``min_replicas``/``max_replicas``;
- ``decide_within(cluster, now_s, min_replicas, max_replicas)`` — the same decision inside
  bounds given by a caller. Wrappers (``scheduled``, ``predictive``) use it to move the bounds
  the way a scheduled action or a predictive floor moves an AWS scalable target's
  MinCapacity/MaxCapacity, while the inner policy keeps its own state.

``AutoscalerBase`` below provides both around a subclass's ``_decide``. No decision ever leaves
``[min_replicas, max_replicas]``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from policies.views import DRAINING, FAILED, TERMINATED, ClusterView, PodMetrics, ScaleDecision

# Per-instance metric names a config may name (fields of PodMetrics).
METRIC_NAMES = ("cpu_util_frac", "memory_frac", "in_flight", "request_rps", "latency_s")
# Metrics that are a utilization of a per-instance capacity (HPA "Resource" metrics with an
# averageUtilization target); the others are plain per-pod values (HPA "Pods" metrics).
RESOURCE_METRICS = ("cpu_util_frac", "memory_frac")

# Instance states that no longer count: the HPA ignores pods with a deletion timestamp and
# discards failed pods.
GONE_STATES = (DRAINING, TERMINATED, FAILED)

# Reasons shared by several policies. The Kubernetes names are the HPA controller's condition
# reasons (ScalingLimited / AbleToScale), kept verbatim so that events read the same.
TOO_FEW_REPLICAS = "TooFewReplicas"
TOO_MANY_REPLICAS = "TooManyReplicas"
DESIRED_WITHIN_RANGE = "DesiredWithinRange"
WITHIN_TOLERANCE = "WithinTolerance"
NO_METRICS = "NoMetrics"

# Upper bounds used by config validation.
MAX_WINDOW_S = 3600.0
MAX_REPLICAS_LIMIT = 100_000


class BoundedAutoscaler(Protocol):
    """An autoscaler that can also decide inside bounds given by a wrapper."""

    def decide(self, cluster: ClusterView, now_s: float) -> ScaleDecision: ...

    def decide_within(
        self, cluster: ClusterView, now_s: float, min_replicas: int, max_replicas: int
    ) -> ScaleDecision: ...


def check_bounds(min_replicas: int, max_replicas: int, *, allow_zero_min: bool = False) -> None:
    """Raise ValueError unless 0 (or 1) <= min_replicas <= max_replicas <= MAX_REPLICAS_LIMIT."""
    lowest = 0 if allow_zero_min else 1
    if isinstance(min_replicas, bool) or not isinstance(min_replicas, int):
        raise ValueError(f"min_replicas must be an integer, got {min_replicas!r}")
    if isinstance(max_replicas, bool) or not isinstance(max_replicas, int):
        raise ValueError(f"max_replicas must be an integer, got {max_replicas!r}")
    if min_replicas < lowest:
        raise ValueError(f"min_replicas must be >= {lowest}, got {min_replicas}")
    if max_replicas < max(min_replicas, 1):
        raise ValueError(
            f"max_replicas ({max_replicas}) must be >= min_replicas ({min_replicas}) and >= 1"
        )
    if max_replicas > MAX_REPLICAS_LIMIT:
        raise ValueError(f"max_replicas must be <= {MAX_REPLICAS_LIMIT}, got {max_replicas}")


def check_metric(name: str, field: str = "metric") -> None:
    """Raise ValueError unless `name` is one of METRIC_NAMES."""
    if name not in METRIC_NAMES:
        raise ValueError(f"{field}: unknown metric {name!r} (known: {', '.join(METRIC_NAMES)})")


def check_range(field: str, value: float, low: float, high: float = math.inf) -> None:
    """Raise ValueError unless low <= value <= high (and value is a finite number)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValueError(f"{field} must be a number, got {value!r}")
    if not low <= value <= high:
        if high == math.inf:
            raise ValueError(f"{field} must be >= {low}, got {value}")
        raise ValueError(f"{field} must be between {low} and {high}, got {value}")


def check_positive(field: str, value: float) -> None:
    """Raise ValueError unless value is a finite number > 0."""
    check_range(field, value, 0.0)
    if value <= 0 or math.isinf(value):
        raise ValueError(f"{field} must be > 0 and finite, got {value}")


def check_choice(field: str, value: str, choices: Sequence[str]) -> None:
    """Raise ValueError unless value is one of choices."""
    if value not in choices:
        raise ValueError(f"{field} must be one of {', '.join(choices)}; got {value!r}")


def clamp(value: int, low: int, high: int) -> int:
    """value limited to [low, high]."""
    return low if value < low else high if value > high else value


def check_call_bounds(min_replicas: int, max_replicas: int) -> None:
    """Raise ValueError when a wrapper passes impossible bounds to decide_within."""
    if min_replicas < 0 or max_replicas < min_replicas:
        raise ValueError(f"impossible bounds: min {min_replicas}, max {max_replicas}")


def live_pods(pods: Iterable[PodMetrics]) -> list[PodMetrics]:
    """Pods that still count: not draining, terminated or failed."""
    return [p for p in pods if p.state not in GONE_STATES]


def metric_values(pods: Iterable[PodMetrics], metric: str) -> list[float]:
    """The non-missing values of `metric` over live pods, in pod order."""
    values = []
    for pod in pods:
        if pod.state in GONE_STATES:
            continue
        value = getattr(pod, metric)
        if value is not None:
            values.append(float(value))
    return values


def aggregate(values: Sequence[float], how: str = "Average") -> float | None:
    """Average, Minimum or Maximum of values; None when there are none."""
    if not values:
        return None
    if how == "Average":
        return sum(values) / len(values)
    if how == "Minimum":
        return min(values)
    if how == "Maximum":
        return max(values)
    raise ValueError(f"unknown aggregation {how!r}")


def out_of_bounds(current: int, min_replicas: int, max_replicas: int) -> ScaleDecision | None:
    """The move straight to the bound for a count outside [min_replicas, max_replicas]
    ("TooManyReplicas" / "TooFewReplicas"); None when the count is within the bounds."""
    if current > max_replicas:
        return ScaleDecision(max_replicas, TOO_MANY_REPLICAS)
    if current < min_replicas:
        return ScaleDecision(min_replicas, TOO_FEW_REPLICAS)
    return None


def bounded(desired: int, min_replicas: int, max_replicas: int, reason: str) -> ScaleDecision:
    """Clamp `desired` into the bounds; the reason names the bound when it binds."""
    clamped = out_of_bounds(desired, min_replicas, max_replicas)
    return ScaleDecision(desired, reason) if clamped is None else clamped


class AutoscalerBase:
    """The two entry points of every autoscaler here, around the one method a subclass writes.

    A subclass sets ``self.config`` (its ``min_replicas``/``max_replicas`` are the bounds of
    ``decide``) and implements ``_decide(cluster, now_s, min_replicas, max_replicas)``, which
    is only called with possible bounds (0 <= min_replicas <= max_replicas).
    """

    config: Any

    @property
    def scaler_metric(self) -> str:
        """The per-instance metric the policy reacts to (policies.protocols.MetricScaler);
        a subclass that reacts to another one says so."""
        return "cpu_util_frac"

    def decide(self, cluster: ClusterView, now_s: float) -> ScaleDecision:
        """The decision within the config's own bounds."""
        cfg = self.config
        return self.decide_within(cluster, now_s, cfg.min_replicas, cfg.max_replicas)

    def decide_within(
        self, cluster: ClusterView, now_s: float, min_replicas: int, max_replicas: int
    ) -> ScaleDecision:
        """The decision within bounds given by a caller; ValueError for impossible bounds."""
        check_call_bounds(min_replicas, max_replicas)
        return self._decide(cluster, now_s, min_replicas, max_replicas)

    def _decide(
        self, cluster: ClusterView, now_s: float, min_replicas: int, max_replicas: int
    ) -> ScaleDecision:
        raise NotImplementedError
