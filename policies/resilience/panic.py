"""Envoy's panic threshold: when too few hosts are healthy, balance across all of them.

Envoy ("Panic threshold"): if the percentage of available hosts drops below
`healthy_panic_threshold` (default 50 %), the load balancer disregards health and balances
among all hosts, so that host failures do not cascade onto the few survivors as load grows.
A threshold of 0 disables panic mode; then, with no healthy host, there is nothing to route to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from policies.views import InstanceView


@dataclass(frozen=True)
class PanicThresholdConfig:
    """healthy_panic_threshold_percent: below this healthy share, use every host (0..100)."""

    __pydantic_config__ = {"extra": "forbid"}
    healthy_panic_threshold_percent: float = 50.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.healthy_panic_threshold_percent <= 100.0:
            raise ValueError("healthy_panic_threshold_percent must be in [0, 100]")


def in_panic(healthy: int, total: int, threshold_percent: float = 50.0) -> bool:
    """Whether `healthy` of `total` hosts is below the panic threshold (never for 0 hosts)."""
    if total <= 0 or threshold_percent <= 0.0:
        return False
    return 100.0 * healthy < threshold_percent * total


class PanicFilter:
    """Chooses the candidate set a balancer sees: the healthy hosts, or all of them in panic.

    select(healthy, everyone) -> (candidates, reason) with reason "Panic:BelowThreshold"
    (everyone is returned) or "HealthyOnly". The answer is cached on the identity of both
    tuples, so it returns the same tuple object until the driver passes new ones, and a
    balancer's own identity cache keeps working.
    """

    def __init__(self, config: PanicThresholdConfig | None = None) -> None:
        self.config = config or PanicThresholdConfig()
        self._healthy: object = None
        self._everyone: object = None
        self._answer: tuple[Sequence[InstanceView], str] = ((), "HealthyOnly")

    def select(self, healthy: Sequence[InstanceView],
               everyone: Sequence[InstanceView]) -> tuple[Sequence[InstanceView], str]:
        if healthy is self._healthy and everyone is self._everyone:
            return self._answer
        self._healthy, self._everyone = healthy, everyone
        if in_panic(len(healthy), len(everyone), self.config.healthy_panic_threshold_percent):
            self._answer = (everyone, "Panic:BelowThreshold")
        else:
            self._answer = (healthy, "HealthyOnly")
        return self._answer
