"""Step scaling: AWS Application Auto Scaling step scaling policies behind CloudWatch alarms.

Follows the Application Auto Scaling API reference (StepScalingPolicyConfiguration,
StepAdjustment) and the "Step scaling policies" user guide:

- An alarm compares the aggregated metric (Average, Minimum or Maximum over the instances)
  with its threshold once per evaluation period (one `decide` call); it is in ALARM when at
  least `datapoints_to_alarm` of the last `evaluation_periods` datapoints breach. While it is
  in ALARM its policy runs at every evaluation.
- Step adjustments are chosen by the breach size, metric - threshold. Above the threshold a
  step's lower bound is inclusive and its upper bound exclusive; below it the lower bound is
  exclusive and the upper inclusive (None = unbounded). Ranges must not overlap or leave gaps;
  at most one step has no lower bound and at most one no upper bound.
- Adjustment types: ChangeInCapacity (add the adjustment), ExactCapacity (set it),
  PercentChangeInCapacity (add that percent of the current capacity, rounded as the step
  scaling guide documents: values above 1 round down, values in (0, 1) become 1, values in
  (-1, 0) become -1, values below -1 round up toward zero; `min_adjustment_magnitude` then
  sets the smallest change).
- Cooldown (default 300 s): during a scale-out cooldown the capacity added by the initiating
  scale-out counts as part of the next one — the next target is computed from the capacity
  before that scale-out, and capacity only grows if the new target is larger. A scale-in
  cooldown blocks further scale-in; a scale-out during it proceeds at once and ends it.
- The result stays within the scalable target's min and max capacity.

When both alarms are in ALARM (overlapping thresholds), the scale-out policy runs.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from policies.autoscalers._common import (
    MAX_WINDOW_S,
    TOO_FEW_REPLICAS,
    TOO_MANY_REPLICAS,
    AutoscalerBase,
    aggregate,
    check_bounds,
    check_choice,
    check_metric,
    check_range,
    clamp,
    metric_values,
    out_of_bounds,
)
from policies.views import ClusterView, ScaleDecision

ADJUSTMENT_TYPES = ("ChangeInCapacity", "PercentChangeInCapacity", "ExactCapacity")
COMPARISONS = (
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
)
AGGREGATIONS = ("Average", "Minimum", "Maximum")

SCALE_OUT_STEP = "ScaleOutStep"
SCALE_IN_STEP = "ScaleInStep"
SCALE_OUT_COOLDOWN = "ScaleOutCooldown"
SCALE_IN_COOLDOWN = "ScaleInCooldown"
NO_STEP_MATCHED = "NoStepMatched"
ALARM_OK = "AlarmOK"
INSUFFICIENT_DATA = "InsufficientData"


@dataclass(frozen=True)
class StepAdjustment:
    """One step: the breach range [lower_bound, upper_bound) relative to the threshold.

    None means unbounded on that side (both cannot be None). scaling_adjustment: replicas
    (ChangeInCapacity), percent (PercentChangeInCapacity) or the capacity (ExactCapacity).
    """

    __pydantic_config__ = {"extra": "forbid"}
    lower_bound: float | None = None
    upper_bound: float | None = None
    scaling_adjustment: int = 1

    def __post_init__(self) -> None:
        if self.lower_bound is None and self.upper_bound is None:
            raise ValueError("a step adjustment needs a lower or an upper bound")
        if (
            self.lower_bound is not None
            and self.upper_bound is not None
            and not self.lower_bound < self.upper_bound
        ):
            raise ValueError(
                f"lower_bound ({self.lower_bound}) must be below upper_bound ({self.upper_bound})"
            )
        if isinstance(self.scaling_adjustment, bool) or not isinstance(
            self.scaling_adjustment, int
        ):
            raise ValueError(
                f"scaling_adjustment must be an integer, got {self.scaling_adjustment!r}"
            )

    def matches(self, breach: float, above: bool) -> bool:
        """Whether the breach falls in this step (bounds inclusive on the threshold's side)."""
        low = -math.inf if self.lower_bound is None else self.lower_bound
        high = math.inf if self.upper_bound is None else self.upper_bound
        if above:
            return low <= breach < high
        return low < breach <= high


@dataclass(frozen=True)
class StepScalingPolicy:
    """An alarm and the step scaling policy it triggers.

    threshold / comparison: the alarm (comparison is one of the CloudWatch operators
    GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold,
    LessThanOrEqualToThreshold).
    evaluation_periods / datapoints_to_alarm: "M out of N" (M defaults to N).
    step_adjustments: at least one StepAdjustment.
    adjustment_type: ChangeInCapacity, PercentChangeInCapacity or ExactCapacity.
    min_adjustment_magnitude: only with PercentChangeInCapacity (>= 1).
    cooldown_s: 0..3600 s (AWS default 300).
    """

    __pydantic_config__ = {"extra": "forbid"}
    threshold: float
    comparison: str
    step_adjustments: tuple[StepAdjustment, ...]
    adjustment_type: str = "ChangeInCapacity"
    evaluation_periods: int = 1
    datapoints_to_alarm: int | None = None
    min_adjustment_magnitude: int | None = None
    cooldown_s: float = 300.0

    def __post_init__(self) -> None:
        check_range("threshold", self.threshold, 0.0)
        if math.isinf(self.threshold):
            raise ValueError("threshold must be finite")
        check_choice("comparison", self.comparison, COMPARISONS)
        check_choice("adjustment_type", self.adjustment_type, ADJUSTMENT_TYPES)
        if isinstance(self.evaluation_periods, bool) or not isinstance(
            self.evaluation_periods, int
        ) or not 1 <= self.evaluation_periods <= 100:
            raise ValueError(
                f"evaluation_periods must be an integer between 1 and 100, "
                f"got {self.evaluation_periods!r}"
            )
        m = self.datapoints_to_alarm
        if m is not None and (
            isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= self.evaluation_periods
        ):
            raise ValueError(
                f"datapoints_to_alarm must be between 1 and evaluation_periods "
                f"({self.evaluation_periods}), got {m!r}"
            )
        mam = self.min_adjustment_magnitude
        if mam is not None:
            if self.adjustment_type != "PercentChangeInCapacity":
                raise ValueError(
                    "min_adjustment_magnitude is only valid with PercentChangeInCapacity"
                )
            if isinstance(mam, bool) or not isinstance(mam, int) or mam < 1:
                raise ValueError(f"min_adjustment_magnitude must be an integer >= 1, got {mam!r}")
        check_range("cooldown_s", self.cooldown_s, 0.0, MAX_WINDOW_S)
        check_steps(self.step_adjustments)
        for step in self.step_adjustments:
            if self.adjustment_type == "ExactCapacity" and step.scaling_adjustment < 0:
                raise ValueError("ExactCapacity adjustments must be >= 0")
            if self.adjustment_type == "PercentChangeInCapacity" and step.scaling_adjustment < -100:
                raise ValueError("PercentChangeInCapacity adjustments must be >= -100")

    @property
    def above(self) -> bool:
        """True for an alarm on high values (Greater...)."""
        return self.comparison.startswith("Greater")

    def breaches(self, value: float) -> bool:
        """Whether one datapoint breaches the threshold."""
        if self.comparison == "GreaterThanOrEqualToThreshold":
            return value >= self.threshold
        if self.comparison == "GreaterThanThreshold":
            return value > self.threshold
        if self.comparison == "LessThanThreshold":
            return value < self.threshold
        return value <= self.threshold

    def step_for(self, value: float) -> StepAdjustment | None:
        """The step whose range holds value - threshold, or None."""
        breach = value - self.threshold
        for step in self.step_adjustments:
            if step.matches(breach, self.above):
                return step
        return None


def check_steps(steps: tuple[StepAdjustment, ...]) -> None:
    """Raise ValueError unless the steps follow the StepAdjustment rules (no overlap, no gap)."""
    if len(steps) == 0:
        raise ValueError("step_adjustments must hold at least one step")
    for step in steps:
        if not isinstance(step, StepAdjustment):
            raise ValueError(f"step_adjustments entries must be StepAdjustment, got {step!r}")
    if sum(1 for s in steps if s.lower_bound is None) > 1:
        raise ValueError("at most one step adjustment may have no lower bound")
    if sum(1 for s in steps if s.upper_bound is None) > 1:
        raise ValueError("at most one step adjustment may have no upper bound")
    ordered = sorted(steps, key=lambda s: -math.inf if s.lower_bound is None else s.lower_bound)
    for prev, nxt in zip(ordered, ordered[1:], strict=False):
        if prev.upper_bound is None or prev.upper_bound != nxt.lower_bound:
            raise ValueError(
                f"step adjustment ranges must not overlap or leave a gap: "
                f"[{prev.lower_bound}, {prev.upper_bound}) then "
                f"[{nxt.lower_bound}, {nxt.upper_bound})"
            )
    if any(s.lower_bound is not None and s.lower_bound < 0 for s in steps) and not any(
        s.lower_bound is None for s in steps
    ):
        raise ValueError("a negative lower bound needs a step with no lower bound")
    if any(s.upper_bound is not None and s.upper_bound > 0 for s in steps) and not any(
        s.upper_bound is None for s in steps
    ):
        raise ValueError("a positive upper bound needs a step with no upper bound")


def round_percent_change(change: float) -> int:
    """Round a PercentChangeInCapacity result as the step scaling guide documents."""
    if change >= 1:
        return math.floor(change)
    if change > 0:
        return 1
    if change == 0:
        return 0
    if change > -1:
        return -1
    return math.ceil(change)


def adjusted_capacity(
    capacity: int, adjustment_type: str, adjustment: int, min_adjustment_magnitude: int | None
) -> int:
    """The new capacity one step adjustment asks for (before min/max)."""
    if adjustment_type == "ExactCapacity":
        return adjustment
    if adjustment_type == "ChangeInCapacity":
        return capacity + adjustment
    change = round_percent_change(capacity * adjustment / 100.0)
    if min_adjustment_magnitude is not None and 0 < abs(change) < min_adjustment_magnitude:
        change = min_adjustment_magnitude if change > 0 else -min_adjustment_magnitude
    return capacity + change


DEFAULT_SCALE_OUT = StepScalingPolicy(
    threshold=0.70,
    comparison="GreaterThanOrEqualToThreshold",
    step_adjustments=(
        StepAdjustment(lower_bound=0.0, upper_bound=0.15, scaling_adjustment=1),
        StepAdjustment(lower_bound=0.15, upper_bound=None, scaling_adjustment=2),
    ),
    evaluation_periods=3,
)
DEFAULT_SCALE_IN = StepScalingPolicy(
    threshold=0.30,
    comparison="LessThanOrEqualToThreshold",
    step_adjustments=(StepAdjustment(lower_bound=None, upper_bound=0.0, scaling_adjustment=-1),),
    evaluation_periods=3,
)


@dataclass(frozen=True)
class StepConfig:
    """Step scaling settings.

    metric / metric_aggregation: the alarm metric and how it is aggregated over instances
    (Average, Minimum, Maximum; the MetricAggregationType).
    scale_out / scale_in: the two alarm+policy pairs (either may be None, not both).
    sync_period_s: the alarm period (CloudWatch's standard 60 s).
    """

    __pydantic_config__ = {"extra": "forbid"}
    min_replicas: int = 2
    max_replicas: int = 10
    metric: str = "cpu_util_frac"
    metric_aggregation: str = "Average"
    scale_out: StepScalingPolicy | None = DEFAULT_SCALE_OUT
    scale_in: StepScalingPolicy | None = DEFAULT_SCALE_IN
    sync_period_s: float = 60.0

    def __post_init__(self) -> None:
        check_bounds(self.min_replicas, self.max_replicas)
        check_metric(self.metric)
        check_choice("metric_aggregation", self.metric_aggregation, AGGREGATIONS)
        if self.scale_out is None and self.scale_in is None:
            raise ValueError("at least one of scale_out and scale_in is needed")
        check_range("sync_period_s", self.sync_period_s, 1.0, 1800.0)


class _Alarm:
    """M-out-of-N evaluation of one alarm, and the cooldown clock of its policy."""

    def __init__(self, policy: StepScalingPolicy) -> None:
        self.policy = policy
        self.needed = policy.datapoints_to_alarm or policy.evaluation_periods
        self.datapoints: deque[bool] = deque(maxlen=policy.evaluation_periods)
        self.last_activity_s: float | None = None
        self.last_direction = 0  # +1 after a scale-out, -1 after a scale-in
        self.base_capacity = 0  # capacity before the scale-out that started the cooldown

    def observe(self, value: float) -> bool:
        self.datapoints.append(self.policy.breaches(value))
        return sum(self.datapoints) >= self.needed

    def cooling(self, direction: int, now_s: float) -> bool:
        return (
            self.last_direction == direction
            and self.last_activity_s is not None
            and now_s - self.last_activity_s < self.policy.cooldown_s
        )


class StepScaling(AutoscalerBase):
    """Alarm state, cooldown clocks and the step table of each policy."""

    def __init__(self, config: StepConfig | None = None) -> None:
        self.config = config or StepConfig()
        self.alarms = [_Alarm(p) for p in (self.config.scale_out, self.config.scale_in) if p]

    @property
    def scaler_metric(self) -> str:
        """The alarm metric."""
        return self.config.metric

    def _decide(
        self, cluster: ClusterView, now_s: float, min_replicas: int, max_replicas: int
    ) -> ScaleDecision:
        current = cluster.current_replicas
        clamped = out_of_bounds(current, min_replicas, max_replicas)
        if clamped is not None:
            return clamped
        value = aggregate(
            metric_values(cluster.pods, self.config.metric), self.config.metric_aggregation
        )
        if value is None:
            return ScaleDecision(current, INSUFFICIENT_DATA)
        firing = [alarm for alarm in self.alarms if alarm.observe(value)]
        if not firing:
            return ScaleDecision(current, ALARM_OK)
        return self._execute(firing[0], value, current, min_replicas, max_replicas, now_s)

    def _execute(
        self, alarm: _Alarm, value: float, current: int, low: int, high: int, now_s: float
    ) -> ScaleDecision:
        policy = alarm.policy
        step = policy.step_for(value)
        if step is None:
            return ScaleDecision(current, NO_STEP_MATCHED)

        def target_from(capacity: int) -> int:
            return adjusted_capacity(
                capacity, policy.adjustment_type, step.scaling_adjustment,
                policy.min_adjustment_magnitude,
            )

        target = target_from(current)
        if target > current:
            if alarm.cooling(+1, now_s):
                # Capacity added by the initiating scale-out counts toward this one.
                target = target_from(alarm.base_capacity)
                if target <= current:
                    return ScaleDecision(current, SCALE_OUT_COOLDOWN)
            else:
                alarm.base_capacity = current
            desired = clamp(target, low, high)
            if desired <= current:
                return ScaleDecision(current, TOO_MANY_REPLICAS)
            alarm.last_activity_s, alarm.last_direction = now_s, +1
            for other in self.alarms:
                if other.last_direction < 0:  # a scale-out ends scale-in cooldowns
                    other.last_activity_s, other.last_direction = None, 0
            return ScaleDecision(desired, TOO_MANY_REPLICAS if target > high else SCALE_OUT_STEP)
        if target < current:
            if alarm.cooling(-1, now_s):
                return ScaleDecision(current, SCALE_IN_COOLDOWN)
            desired = clamp(target, low, high)
            if desired >= current:
                return ScaleDecision(current, TOO_FEW_REPLICAS)
            alarm.last_activity_s, alarm.last_direction = now_s, -1
            return ScaleDecision(desired, TOO_FEW_REPLICAS if target < low else SCALE_IN_STEP)
        return ScaleDecision(current, SCALE_OUT_STEP if policy.above else SCALE_IN_STEP)


def build(config: StepConfig, rng: np.random.Generator) -> StepScaling:
    """Registry factory (the policy is deterministic; rng is unused)."""
    return StepScaling(config)
