"""Read-only data that crosses the seam between a driver (simulator or production) and policies.

Policies receive these views and return decisions; they never see a mutable instance, an
event loop or a clock. Views are frozen: a policy cannot change them. The driver that owns
a view may refresh its fields between calls (the simulator does so in place, so that a view
is built once per instance rather than once per request).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class RequestInfo(NamedTuple):
    """What a balancer or limiter may know about one request (immutable; built once per arrival)."""

    request_id: int
    kind: str = "request"
    user_id: int = 0
    session_id: int = 0
    prompt_tokens: int = 0
    output_tokens: int = 0
    arrival_s: float = 0.0


# Instance lifecycle states, as the driver reports them.
BOOTING = "booting"
READY = "ready"
DRAINING = "draining"
TERMINATED = "terminated"
FAILED = "failed"
INSTANCE_STATES = (BOOTING, READY, DRAINING, TERMINATED, FAILED)


@dataclass(frozen=True, slots=True)
class InstanceView:
    """One instance as a load balancer sees it.

    in_flight counts every request sent to the instance that has not finished, queued ones
    included (Envoy's "active requests"). latency_ewma_s is an exponentially weighted moving
    average of recent response times (0.0 before the first response).
    """

    instance_id: int
    state: str = READY
    in_flight: int = 0
    queued: int = 0
    slots: int = 1
    latency_ewma_s: float = 0.0
    healthy: bool = True
    weight: float = 1.0
    zone: str = ""
    ready_since_s: float = 0.0


@dataclass(frozen=True, slots=True)
class PodMetrics:
    """One instance's metrics as production scrapes them: averaged over a window, delivered late.

    A value is None when the scrape is missing (the pod was not ready, or its window is empty).
    """

    instance_id: int
    state: str = READY
    ready: bool = True
    cpu_util_frac: float | None = None
    memory_frac: float | None = None
    in_flight: float | None = None
    request_rps: float | None = None
    latency_s: float | None = None
    started_s: float = 0.0


@dataclass(frozen=True, slots=True)
class ClusterView:
    """The cluster as an autoscaler sees it at one sync.

    current_replicas counts every instance that exists and is not draining or gone (booting
    ones included), as the HPA's scale subresource does. pods holds the latest scraped metrics;
    metrics_age_s says how old they are.
    """

    current_replicas: int
    ready_replicas: int
    pods: tuple[PodMetrics, ...] = ()
    arrival_rps: float | None = None
    in_flight_total: float | None = None
    metrics_age_s: float = 0.0
    extra: tuple[tuple[str, float], ...] = field(default=())


class ScaleDecision(NamedTuple):
    """An autoscaler's answer: the replica count it wants and why."""

    desired_replicas: int
    reason: str


# A balancer's answer: (index into the candidates it was given, reason).
Route = tuple[int, str]
