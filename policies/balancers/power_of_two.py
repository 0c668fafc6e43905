"""Power of k choices: sample k candidates at random, keep the least loaded.

This is Envoy's LEAST_REQUEST with equal weights: `choice_count` hosts are drawn (default 2)
and the one with the fewest active requests wins (Mitzenmacher, "The Power of Two Choices in
Randomized Load Balancing", 2001). Draws are with replacement, as Envoy's are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from policies.views import InstanceView, RequestInfo, Route


@dataclass(frozen=True)
class PowerOfTwoConfig:
    """choice_count: how many random candidates are compared (>= 1)."""

    __pydantic_config__ = {"extra": "forbid"}
    choice_count: int = 2

    def __post_init__(self) -> None:
        if self.choice_count < 1:
            raise ValueError("choice_count must be >= 1")


class PowerOfTwoChoices:
    """Best of `choice_count` uniform draws by in_flight; ties keep the first draw."""

    _BATCH = 4096

    def __init__(self, config: PowerOfTwoConfig | None, rng: np.random.Generator) -> None:
        self.config = config or PowerOfTwoConfig()
        self._rng = rng
        self._uniforms: list[float] = []

    def choose(self, request: RequestInfo, candidates: Sequence[InstanceView], now_s: float) -> Route:
        n = len(candidates)
        uniforms = self._uniforms
        if len(uniforms) < self.config.choice_count:
            uniforms.extend(self._rng.random(self._BATCH).tolist())
        best = int(uniforms.pop() * n)
        best_load = candidates[best].in_flight
        for _ in range(self.config.choice_count - 1):
            i = int(uniforms.pop() * n)
            load = candidates[i].in_flight
            if load < best_load:
                best, best_load = i, load
        return best, "PowerOfChoices"
