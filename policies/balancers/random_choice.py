"""Random: each request goes to a uniformly random candidate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from policies.views import InstanceView, RequestInfo, Route


@dataclass(frozen=True)
class RandomConfig:
    """Random choice has no parameters."""

    __pydantic_config__ = {"extra": "forbid"}


class RandomChoice:
    """Uniform choice with an injected generator; draws are taken in batches for speed."""

    _BATCH = 4096

    def __init__(self, config: RandomConfig | None, rng: np.random.Generator) -> None:
        self.config = config or RandomConfig()
        self._rng = rng
        self._uniforms: list[float] = []

    def choose(self, request: RequestInfo, candidates: Sequence[InstanceView],
               now_s: float) -> Route:
        if not self._uniforms:
            self._uniforms = self._rng.random(self._BATCH).tolist()
        return int(self._uniforms.pop() * len(candidates)), "Random"
