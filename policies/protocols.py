"""What a driver (the simulator, or a production control loop) may ask of a policy.

The families' contracts, as Protocols: a driver calls a policy only through these, never by
looking into its config. A capability only some policies have is a Protocol of its own,
checked with isinstance (they are runtime_checkable), with an attribute saying whether the
policy, as configured, uses it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Protocol, runtime_checkable

from policies.caches.base import CacheStore
from policies.views import ClusterView, InstanceView, RequestInfo, Route, ScaleDecision

__all__ = ["Autoscaler", "Balancer", "CacheStore", "Limiter", "MetricScaler", "Placement",
           "ResponseObserver"]


@runtime_checkable
class Balancer(Protocol):
    """A load balancer: picks one of the candidates for a request."""

    def choose(self, request: RequestInfo, candidates: Sequence[InstanceView],
               now_s: float) -> Route:
        """(index into candidates, reason)."""
        ...


@runtime_checkable
class ResponseObserver(Protocol):
    """A balancer that learns from response times (Finagle's Peak EWMA): while
    `learns_from_responses` is true the driver reports each response with on_response."""

    learns_from_responses: bool

    def on_response(self, instance_id: int, latency_s: float, ok: bool, now_s: float) -> None:
        ...


@runtime_checkable
class Autoscaler(Protocol):
    """An autoscaler: the replica count it wants for the cluster as seen, and why."""

    def decide(self, cluster: ClusterView, now_s: float) -> ScaleDecision: ...


@runtime_checkable
class MetricScaler(Protocol):
    """An autoscaler that reacts to one per-instance metric (a PodMetrics field name, e.g.
    "cpu_util_frac"); a driver reports that metric beside its decisions."""

    @property
    def scaler_metric(self) -> str: ...


@runtime_checkable
class Limiter(Protocol):
    """An admission limiter: (allowed, reason) for one arrival."""

    def allow(self, request: RequestInfo, now_s: float) -> tuple[bool, str]: ...


@runtime_checkable
class Placement(Protocol):
    """Which cache shard owns a key (a hash ring, Redis Cluster's slots)."""

    def shard_for(self, key: Hashable) -> Hashable: ...

    def add(self, shard: Hashable) -> None: ...

    def add_many(self, shards: Iterable[Hashable]) -> None: ...

    def remove(self, shard: Hashable) -> None: ...
