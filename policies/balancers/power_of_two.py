"""Power of k choices: sample k candidates at random, keep the least loaded.

This is Envoy's LEAST_REQUEST with equal weights: `choice_count` hosts are drawn (default 2)
and the one with the fewest active requests wins (Mitzenmacher, "The Power of Two Choices in
Randomized Load Balancing", 2001). Draws are with replacement, as Envoy's are.

When the candidates' weights differ, Envoy's LEAST_REQUEST switches to a weighted round robin
whose weights are adjusted by load at pick time: weight / (active_requests + 1) ^
active_request_bias (bias 1.0 by default; 0 makes it plain weighted round robin). Envoy runs
that schedule on an EDF scheduler; here it runs on nginx's smooth weighted round robin, which
gives the same shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from policies.views import InstanceView, RequestInfo, Route


@dataclass(frozen=True)
class PowerOfTwoConfig:
    """choice_count: how many random candidates are compared (>= 1).
    active_request_bias: with unequal weights, how strongly active requests reduce a
        weight (Envoy's active_request_bias, >= 0, default 1.0)."""

    __pydantic_config__ = {"extra": "forbid"}
    choice_count: int = 2
    active_request_bias: float = 1.0

    def __post_init__(self) -> None:
        if self.choice_count < 1:
            raise ValueError("choice_count must be >= 1")
        if not self.active_request_bias >= 0:
            raise ValueError("active_request_bias must be >= 0")


class PowerOfTwoChoices:
    """Best of `choice_count` uniform draws by in_flight; ties keep the first draw.

    Whether the weights are equal is decided when the candidate tuple changes (weights are
    read from InstanceView.weight at that point; a driver that changes weights passes a new
    tuple). With unequal weights the pick is the load-adjusted weighted round robin above.
    Reasons: "PowerOfChoices", "WeightedLeastRequest".
    """

    _BATCH = 4096

    def __init__(self, config: PowerOfTwoConfig | None, rng: np.random.Generator) -> None:
        self.config = config or PowerOfTwoConfig()
        self._rng = rng
        self._choices = self.config.choice_count
        self._uniforms: list[float] = []
        self._last: Sequence[InstanceView] | None = None
        self._weighted = False
        self._current: list[float] = []

    def _rebuild(self, candidates: Sequence[InstanceView]) -> None:
        first = candidates[0].weight if candidates else 1.0
        self._weighted = any(c.weight != first for c in candidates)
        self._current = [0.0] * len(candidates)
        self._last = candidates

    def choose(self, request: RequestInfo, candidates: Sequence[InstanceView],
               now_s: float) -> Route:
        if candidates is not self._last:
            self._rebuild(candidates)
        if self._weighted:
            return self._weighted_pick(candidates)
        n = len(candidates)
        uniforms = self._uniforms
        choices = self._choices
        if len(uniforms) < choices:
            uniforms.extend(self._rng.random(self._BATCH).tolist())
        best = int(uniforms.pop() * n)
        if choices == 2:  # the default, without the loop: this runs for every request
            i = int(uniforms.pop() * n)
            if candidates[i].in_flight < candidates[best].in_flight:
                best = i
            return best, "PowerOfChoices"
        best_load = candidates[best].in_flight
        for _ in range(choices - 1):
            i = int(uniforms.pop() * n)
            load = candidates[i].in_flight
            if load < best_load:
                best, best_load = i, load
        return best, "PowerOfChoices"

    def _weighted_pick(self, candidates: Sequence[InstanceView]) -> Route:
        bias = self.config.active_request_bias
        current = self._current
        total = 0.0
        best = -1
        best_current = 0.0
        for i in range(len(candidates)):
            c = candidates[i]
            weight = c.weight
            if weight <= 0.0:
                continue
            if bias == 1.0:
                weight /= c.in_flight + 1
            elif bias != 0.0:
                weight /= (c.in_flight + 1) ** bias
            value = current[i] + weight
            current[i] = value
            total += weight
            if best < 0 or value > best_current:
                best, best_current = i, value
        if best < 0:  # every weight is 0: fall back to the least loaded
            best = min(range(len(candidates)), key=lambda i: candidates[i].in_flight)
            return best, "WeightedLeastRequest"
        current[best] = best_current - total
        return best, "WeightedLeastRequest"
