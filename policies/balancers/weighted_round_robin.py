"""Smooth weighted round robin: shares in proportion to weight, spread evenly in time.

This is nginx's algorithm (ngx_http_upstream_round_robin.c, described in the commit
"Upstream: smooth weighted round-robin balancing"): on each pick every eligible peer's
current weight grows by its weight, the peer with the greatest current weight is chosen (the
first one on a tie), and the chosen peer's current weight drops by the sum of all the
weights. For weights {5, 1, 1} that gives a a b a c a a, never a burst of five a's in a
row.

Weights come from the config's per-instance map when it names the instance, else from
InstanceView.weight (read at every pick, so a driver may change it in place). A view weight
of 0 (set by the driver) takes the instance out of the rotation; configured weights must be
> 0, as nginx requires. With `slow_start`, an
instance's weight ramps up over the window after InstanceView.ready_since_s, by Envoy's
formula (see policies.resilience.slow_start).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from policies.resilience.slow_start import SlowStartConfig, slow_start_factor
from policies.views import InstanceView, RequestInfo, Route


@dataclass(frozen=True)
class WeightedRoundRobinConfig:
    """weights: instance id → weight (> 0), overriding InstanceView.weight for those ids.
    slow_start: ramp a newly ready instance's weight up (None: off)."""

    __pydantic_config__ = {"extra": "forbid"}
    weights: dict[int, float] = field(default_factory=dict)
    slow_start: SlowStartConfig | None = None

    def __post_init__(self) -> None:
        for instance_id, weight in self.weights.items():
            if not weight > 0:
                raise ValueError(f"weights[{instance_id}] must be > 0 (drain an instance "
                                 "instead of giving it weight 0)")


class WeightedRoundRobin:
    """nginx's smooth weighted round robin over the candidates.

    Current weights belong to instance ids, so they survive a change of the candidate tuple
    for the instances that stay. When every weight is 0 it falls back to plain round robin.
    Reasons: "WeightedRoundRobin", "WeightedRoundRobin:AllWeightsZero".
    """

    def __init__(self, config: WeightedRoundRobinConfig | None = None) -> None:
        self.config = config or WeightedRoundRobinConfig()
        self._last: Sequence[InstanceView] | None = None
        self._current: list[float] = []
        self._fixed: list[float | None] = []
        self._ids: list[int] = []
        self._cursor = 0

    def _rebuild(self, candidates: Sequence[InstanceView]) -> None:
        carried = dict(zip(self._ids, self._current, strict=True))
        fixed = self.config.weights
        self._ids = [c.instance_id for c in candidates]
        self._current = [carried.get(i, 0.0) for i in self._ids]
        self._fixed = [fixed.get(i) for i in self._ids]
        self._last = candidates

    def choose(self, request: RequestInfo, candidates: Sequence[InstanceView],
               now_s: float) -> Route:
        if candidates is not self._last:
            self._rebuild(candidates)
        current, fixed = self._current, self._fixed
        slow = self.config.slow_start
        total = 0.0
        best = -1
        best_current = 0.0
        for i in range(len(candidates)):
            weight = fixed[i]
            if weight is None:
                weight = candidates[i].weight
            if slow is not None and weight > 0.0:
                elapsed = now_s - candidates[i].ready_since_s
                if elapsed < slow.window_s:
                    weight *= slow_start_factor(elapsed, slow.window_s, slow.aggression,
                                                slow.min_weight_percent)
            if weight <= 0.0:
                continue
            c = current[i] + weight
            current[i] = c
            total += weight
            if best < 0 or c > best_current:
                best, best_current = i, c
        if best < 0:
            index = self._cursor % len(candidates)
            self._cursor = index + 1
            return index, "WeightedRoundRobin:AllWeightsZero"
        current[best] = best_current - total
        return best, "WeightedRoundRobin"
