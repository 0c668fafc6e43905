"""Least connections: the candidate with the fewest in-flight requests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from policies.views import InstanceView, RequestInfo, Route


@dataclass(frozen=True)
class LeastConnectionsConfig:
    """Least connections has no parameters."""

    __pydantic_config__ = {"extra": "forbid"}


class LeastConnections:
    """Full scan for the lowest in_flight; ties go round robin, as nginx's least_conn does."""

    def __init__(self, config: LeastConnectionsConfig | None = None) -> None:
        self.config = config or LeastConnectionsConfig()
        self._start = 0

    def choose(self, request: RequestInfo, candidates: Sequence[InstanceView],
               now_s: float) -> Route:
        n = len(candidates)
        start = self._start % n
        self._start = start + 1
        best = start
        best_load = candidates[start].in_flight
        for offset in range(1, n):
            i = (start + offset) % n
            load = candidates[i].in_flight
            if load < best_load:
                best, best_load = i, load
        return best, "LeastConnections"
