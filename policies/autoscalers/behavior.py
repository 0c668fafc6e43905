"""Kubernetes HPA `behavior`: stabilization windows and scale-up/scale-down rate policies.

Follows the autoscaling/v2 HorizontalPodAutoscalerBehavior API and the controller's
normalization in kubernetes/kubernetes pkg/controller/podautoscaler/horizontal.go
(stabilizeRecommendationWithBehaviors, convertDesiredReplicasWithBehaviorRate,
calculateScaleUpLimitWithScalingRules, calculateScaleDownLimitWithBehaviors,
getReplicasChangePerPeriod), and the "Configurable scaling behavior" section of the
Horizontal Pod Autoscaling documentation. The controller reads the wall clock; here every
function takes ``now_s`` instead.

Defaults (documented "default behavior"):

- scaleUp: no stabilization window; add at most max(100 % of the replicas, 4 pods) per 15 s
  (policies Percent 100/15 s and Pods 4/15 s, selectPolicy Max);
- scaleDown: 300 s stabilization window; remove up to 100 % of the replicas per 15 s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from policies.autoscalers._common import (
    DESIRED_WITHIN_RANGE,
    MAX_WINDOW_S,
    TOO_FEW_REPLICAS,
    TOO_MANY_REPLICAS,
    check_choice,
    out_of_bounds,
)
from policies.views import ScaleDecision

POLICY_TYPES = ("Pods", "Percent")
SELECT_POLICIES = ("Max", "Min", "Disabled")
MAX_POLICY_PERIOD_S = 1800

SCALE_UP_LIMIT = "ScaleUpLimit"
SCALE_DOWN_LIMIT = "ScaleDownLimit"
SCALE_UP_STABILIZED = "ScaleUpStabilized"
SCALE_DOWN_STABILIZED = "ScaleDownStabilized"


@dataclass(frozen=True)
class ScalingPolicy:
    """One HPAScalingPolicy.

    type: "Pods" (at most `value` replicas) or "Percent" (at most `value` percent of the
    replicas at the start of the period) may be added (scale-up rules) or removed (scale-down
    rules) within any window of `period_s` seconds (1..1800, as the API validates).
    """

    __pydantic_config__ = {"extra": "forbid"}
    type: str = "Percent"
    value: int = 100
    period_s: int = 15

    def __post_init__(self) -> None:
        check_choice("type", self.type, POLICY_TYPES)
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < 1:
            raise ValueError(f"value must be an integer >= 1, got {self.value!r}")
        if (
            isinstance(self.period_s, bool)
            or not isinstance(self.period_s, int)
            or not 1 <= self.period_s <= MAX_POLICY_PERIOD_S
        ):
            raise ValueError(
                f"period_s must be an integer between 1 and {MAX_POLICY_PERIOD_S}, "
                f"got {self.period_s!r}"
            )


@dataclass(frozen=True)
class ScalingRules:
    """HPAScalingRules for one direction.

    stabilization_window_s: 0..3600; None takes the direction's default (0 up, 300 down).
    select_policy: "Max" (the policy allowing the largest change), "Min" (the smallest) or
    "Disabled" (no scaling in this direction).
    policies: None takes the direction's default policies; otherwise at least one.
    """

    __pydantic_config__ = {"extra": "forbid"}
    stabilization_window_s: int | None = None
    select_policy: str = "Max"
    policies: tuple[ScalingPolicy, ...] | None = None

    def __post_init__(self) -> None:
        window = self.stabilization_window_s
        if window is not None and (
            isinstance(window, bool) or not isinstance(window, int) or not 0 <= window <= 3600
        ):
            raise ValueError(
                f"stabilization_window_s must be an integer between 0 and {int(MAX_WINDOW_S)}, "
                f"got {window!r}"
            )
        check_choice("select_policy", self.select_policy, SELECT_POLICIES)
        if self.policies is not None:
            if len(self.policies) == 0:
                raise ValueError("policies must hold at least one policy (or be omitted)")
            for policy in self.policies:
                if not isinstance(policy, ScalingPolicy):
                    raise ValueError(f"policies must be ScalingPolicy entries, got {policy!r}")


DEFAULT_SCALE_UP = ScalingRules(
    stabilization_window_s=0,
    select_policy="Max",
    policies=(ScalingPolicy("Percent", 100, 15), ScalingPolicy("Pods", 4, 15)),
)
DEFAULT_SCALE_DOWN = ScalingRules(
    stabilization_window_s=300,
    select_policy="Max",
    policies=(ScalingPolicy("Percent", 100, 15),),
)


def resolve_rules(rules: ScalingRules | None, default: ScalingRules) -> ScalingRules:
    """Fill the unset fields of `rules` from the direction's `default` (API defaulting)."""
    if rules is None:
        return default
    return ScalingRules(
        stabilization_window_s=(
            default.stabilization_window_s
            if rules.stabilization_window_s is None
            else rules.stabilization_window_s
        ),
        select_policy=rules.select_policy,
        policies=default.policies if rules.policies is None else rules.policies,
    )


class ScaleEvent(NamedTuple):
    """A past change of the replica count: when, and by how many replicas (always > 0)."""

    time_s: float
    replicas: int


class Recommendation(NamedTuple):
    """A past unstabilized recommendation: when, and how many replicas."""

    time_s: float
    replicas: int


def replicas_changed_in_period(events: Sequence[ScaleEvent], period_s: float, now_s: float) -> int:
    """Replicas added (or removed) by events strictly newer than now_s - period_s."""
    cutoff = now_s - period_s
    return sum(event.replicas for event in events if event.time_s > cutoff)


def replicas_at_period_start(
    current: int,
    up_events: Sequence[ScaleEvent],
    down_events: Sequence[ScaleEvent],
    period_s: float,
    now_s: float,
) -> int:
    """The replica count period_s seconds ago, reconstructed from the events since then."""
    added = replicas_changed_in_period(up_events, period_s, now_s)
    removed = replicas_changed_in_period(down_events, period_s, now_s)
    return current - added + removed


def scale_up_limit(
    current: int,
    up_events: Sequence[ScaleEvent],
    down_events: Sequence[ScaleEvent],
    rules: ScalingRules,
    now_s: float,
) -> int:
    """The highest replica count the scale-up policies allow now.

    For each policy the replica count at the start of its period is reconstructed from the
    events inside the period; a Pods policy allows that count + value, a Percent policy
    ceil(count × (1 + value/100)). selectPolicy Max takes the highest proposal, Min the
    lowest; Disabled returns `current`.
    """
    if rules.select_policy == "Disabled":
        return current
    policies = rules.policies or DEFAULT_SCALE_UP.policies or ()
    proposals = []
    for policy in policies:
        period_start = replicas_at_period_start(
            current, up_events, down_events, policy.period_s, now_s
        )
        if policy.type == "Pods":
            proposals.append(period_start + policy.value)
        else:
            # Rounded up so that a small percentage still allows adding a replica.
            proposals.append(math.ceil(float(period_start) * (1 + float(policy.value) / 100)))
    return min(proposals) if rules.select_policy == "Min" else max(proposals)


def scale_down_limit(
    current: int,
    up_events: Sequence[ScaleEvent],
    down_events: Sequence[ScaleEvent],
    rules: ScalingRules,
    now_s: float,
) -> int:
    """The lowest replica count the scale-down policies allow now.

    A Pods policy allows period_start - value, a Percent policy
    int(period_start × (1 - value/100)) (truncated, as the controller's integer conversion
    does). selectPolicy Max (the largest change) takes the lowest proposal, Min the highest;
    Disabled returns `current`.
    """
    if rules.select_policy == "Disabled":
        return current
    policies = rules.policies or DEFAULT_SCALE_DOWN.policies or ()
    proposals = []
    for policy in policies:
        period_start = replicas_at_period_start(
            current, up_events, down_events, policy.period_s, now_s
        )
        if policy.type == "Pods":
            proposals.append(period_start - policy.value)
        else:
            proposals.append(int(float(period_start) * (1 - float(policy.value) / 100)))
    return max(proposals) if rules.select_policy == "Min" else min(proposals)


def stabilize(
    current: int,
    desired: int,
    recommendations: Sequence[Recommendation],
    up_window_s: float,
    down_window_s: float,
    now_s: float,
) -> tuple[int, str]:
    """The stabilized recommendation and its reason (pure; the caller records `desired`).

    Scale-up is limited to the lowest recommendation newer than the up window, scale-down to
    the highest one newer than the down window; both sets include `desired` itself. The
    reason is "ScaleUpStabilized" when desired >= current, else "ScaleDownStabilized" (it only
    matters when the result differs from `desired`).
    """
    up_cutoff = now_s - up_window_s
    down_cutoff = now_s - down_window_s
    up_recommendation = desired
    down_recommendation = desired
    for rec in recommendations:
        if rec.time_s > up_cutoff:
            up_recommendation = min(up_recommendation, rec.replicas)
        if rec.time_s > down_cutoff:
            down_recommendation = max(down_recommendation, rec.replicas)
    stabilized = min(max(current, up_recommendation), down_recommendation)
    reason = SCALE_UP_STABILIZED if desired >= current else SCALE_DOWN_STABILIZED
    return stabilized, reason


def limit_rate(
    current: int,
    desired: int,
    min_replicas: int,
    max_replicas: int,
    up_events: Sequence[ScaleEvent],
    down_events: Sequence[ScaleEvent],
    scale_up: ScalingRules,
    scale_down: ScalingRules,
    now_s: float,
) -> tuple[int, str]:
    """Apply the rate policies and the replica bounds in the direction of the change.

    Returns (replicas, reason): "ScaleUpLimit"/"ScaleDownLimit" when a rate policy binds,
    "TooManyReplicas"/"TooFewReplicas" when a bound binds, else "DesiredWithinRange".
    A limit that would move against the change (events still in the period) is clamped to
    `current`, so a limited step never reverses direction.
    """
    if desired > current:
        limit = max(scale_up_limit(current, up_events, down_events, scale_up, now_s), current)
        if max_replicas > limit:
            allowed, reason = limit, SCALE_UP_LIMIT
        else:
            allowed, reason = max_replicas, TOO_MANY_REPLICAS
        if desired > allowed:
            return allowed, reason
    elif desired < current:
        limit = min(scale_down_limit(current, up_events, down_events, scale_down, now_s), current)
        if min_replicas < limit:
            allowed, reason = limit, SCALE_DOWN_LIMIT
        else:
            allowed, reason = min_replicas, TOO_FEW_REPLICAS
        if desired < allowed:
            return allowed, reason
    return desired, DESIRED_WITHIN_RANGE


class Behavior:
    """Window state for one scale target: past recommendations and past scale events.

    ``normalize`` is the controller's normalizeDesiredReplicasWithBehaviors: stabilize, then
    limit the rate, then record the event when the count changes. Call ``seed`` once with the
    replica count first observed (the controller's recordInitialRecommendation), so that a
    fresh autoscaler does not scale down before its down window has passed.
    """

    def __init__(self, scale_up: ScalingRules | None, scale_down: ScalingRules | None) -> None:
        self.scale_up = resolve_rules(scale_up, DEFAULT_SCALE_UP)
        self.scale_down = resolve_rules(scale_down, DEFAULT_SCALE_DOWN)
        self.recommendations: list[Recommendation] = []
        self.up_events: list[ScaleEvent] = []
        self.down_events: list[ScaleEvent] = []
        self._seeded = False
        self._longest_up = max(p.period_s for p in self.scale_up.policies or ())
        self._longest_down = max(p.period_s for p in self.scale_down.policies or ())

    @property
    def up_window_s(self) -> float:
        return float(self.scale_up.stabilization_window_s or 0)

    @property
    def down_window_s(self) -> float:
        return float(self.scale_down.stabilization_window_s or 0)

    def seed(self, current: int, now_s: float) -> None:
        """Record the first observed count as a recommendation (only the first call counts)."""
        if not self._seeded:
            self._seeded = True
            self.recommendations.append(Recommendation(now_s, current))

    def stabilize(self, current: int, desired: int, now_s: float) -> tuple[int, str]:
        """Stabilized recommendation; records `desired`, drops recommendations too old to matter."""
        result = stabilize(
            current, desired, self.recommendations, self.up_window_s, self.down_window_s, now_s
        )
        oldest_useful = now_s - max(self.up_window_s, self.down_window_s)
        self.recommendations = [r for r in self.recommendations if r.time_s > oldest_useful]
        self.recommendations.append(Recommendation(now_s, desired))
        return result

    def limit(
        self, current: int, desired: int, min_replicas: int, max_replicas: int, now_s: float
    ) -> tuple[int, str]:
        """Rate policies and bounds, from the recorded events."""
        return limit_rate(
            current, desired, min_replicas, max_replicas, self.up_events, self.down_events,
            self.scale_up, self.scale_down, now_s,
        )

    def record_scale(self, previous: int, new: int, now_s: float) -> None:
        """Remember a change of the replica count (the controller's storeScaleEvent)."""
        if new > previous:
            cutoff = now_s - self._longest_up
            self.up_events = [e for e in self.up_events if e.time_s > cutoff]
            self.up_events.append(ScaleEvent(now_s, new - previous))
        elif new < previous:
            cutoff = now_s - self._longest_down
            self.down_events = [e for e in self.down_events if e.time_s > cutoff]
            self.down_events.append(ScaleEvent(now_s, previous - new))

    def normalize(
        self, current: int, desired: int, min_replicas: int, max_replicas: int, now_s: float
    ) -> tuple[int, str | None]:
        """Stabilize, limit, record; returns (replicas, reason or None when nothing bound).

        The reason is the rate/bound reason when the limit changed the stabilized value, else
        the stabilization reason when stabilization changed `desired`, else None.
        """
        stabilized, stabilization_reason = self.stabilize(current, desired, now_s)
        final, limit_reason = self.limit(current, stabilized, min_replicas, max_replicas, now_s)
        if final != current:
            self.record_scale(current, final, now_s)
        if final != stabilized:
            return final, limit_reason
        if stabilized != desired:
            return final, stabilization_reason
        return final, None

    def enforce_bounds(
        self, current: int, min_replicas: int, max_replicas: int, now_s: float
    ) -> ScaleDecision | None:
        """A count outside the bounds goes straight to the bound ("TooManyReplicas" /
        "TooFewReplicas"), recorded as a scale event, without stabilization or rate limits;
        None when the count is within the bounds."""
        decision = out_of_bounds(current, min_replicas, max_replicas)
        if decision is not None:
            self.record_scale(current, decision.desired_replicas, now_s)
        return decision

    def normalized_decision(
        self,
        current: int,
        desired: int,
        metric_reason: str,
        min_replicas: int,
        max_replicas: int,
        now_s: float,
    ) -> ScaleDecision:
        """``normalize`` as a decision: the reason is the binding limit's or stabilization's,
        else `metric_reason` when the count is unchanged, else "DesiredWithinRange"."""
        final, limit_reason = self.normalize(current, desired, min_replicas, max_replicas, now_s)
        if limit_reason is not None:
            return ScaleDecision(final, limit_reason)
        if final == current:
            return ScaleDecision(final, metric_reason)
        return ScaleDecision(final, DESIRED_WITHIN_RANGE)
