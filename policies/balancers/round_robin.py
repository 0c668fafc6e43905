"""Round robin: each request goes to the next candidate in turn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from policies.views import InstanceView, RequestInfo, Route


@dataclass(frozen=True)
class RoundRobinConfig:
    """Round robin has no parameters."""

    __pydantic_config__ = {"extra": "forbid"}


class RoundRobin:
    """Cycles through the candidates; a changed candidate set keeps the cursor position."""

    def __init__(self, config: RoundRobinConfig | None = None) -> None:
        self.config = config or RoundRobinConfig()
        self._cursor = 0

    def choose(self, request: RequestInfo, candidates: Sequence[InstanceView],
               now_s: float) -> Route:
        index = self._cursor % len(candidates)
        self._cursor = index + 1
        return index, "RoundRobin"
