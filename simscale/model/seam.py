"""The typed seam between the model core and its components.

A component (resilience, cache, autoscaling, upstream, users, alerting, …) is built by
simscale.model.components with a `Cluster` (what it may read and do: the instances, their
lifecycle, the path of a request, events, the clock) and the run's `Hooks` (where it plugs
in). It never receives the model itself: everything it may touch is named here.

Hooks are of two sorts. Lists any component may add to, called in the order added:
admission checks, end hooks, metric sources, summary hooks, routed hooks (the balancer's
choice, before the attempt is sent). Slots exactly one component
fills: `retry`, `candidate_selector`, `on_send` (the resilience component), `on_oom` (the
OOM killer, simscale.model.memory), `datastore` (the cache), `upstream` (the LLM provider)
and `network` (bytes on the wire, simscale.model.network); the core reads a slot on every use, so a
component may set or clear it while the run goes (on_send is set only while it is needed,
to keep the hot path free).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import simpy

from policies.views import BOOTING, RequestInfo
from simscale.model.events import EventPool
from simscale.model.instance import Instance
from simscale.model.memory import MemoryPlan
from simscale.model.request import Request
from simscale.model.stages import DataStage, LlmStage, NetworkStage, Next
from simscale.outputs.columns import ColumnGroup

AdmissionCheck = Callable[[RequestInfo, float], str | None]
"""check(info, now_s): a reason to reject the arrival, or None to let it in."""

EndHook = Callable[[Request, int, float], None]
"""hook(req, status, now_s): a request reached its terminal status."""

SummaryHook = Callable[[dict], None]
"""hook(summary): add this component's totals to summary.json."""

RetryHook = Callable[[Request, float, str], bool]
"""retry(req, now_s, reason): the attempt on req.instance failed; True to send it again."""

CandidateSelector = Callable[[list[Instance]], list[Instance]]
"""select(instances): the instances a balancer may choose from (default: ready, healthy)."""

RoutedHook = Callable[[Instance, Request, float], None]
"""routed(instance, req, now_s): the balancer chose `instance` for this attempt (before it is
sent); the hook may add to req.work_s."""

OomHook = Callable[[Instance, Request, float], None]
"""on_oom(instance, req, now_s): taking req would pass the instance's memory limit."""

SendHook = Callable[[Instance, Request, float], bool]
"""on_send(instance, req, now_s): called once the balancer chose; True when it dealt with the
attempt itself (refused it, say), False to let the instance take it."""


class MetricSource(Protocol):
    """A component that adds columns to every metrics row.

    `columns` are its declared columns (simscale.outputs.columns); metric_values returns
    their values for the window [now_s − span_s, now_s), in that order. `row` holds the
    columns written before it (the core's and earlier components'), read-only.
    """

    columns: ColumnGroup

    def metric_values(self, row: Mapping[str, object], now_s: float,
                      span_s: float) -> Sequence[object]: ...


@dataclass(slots=True)
class Hooks:
    """Where components plug into one run of the model (see the module docstring)."""

    admission: list[AdmissionCheck] = field(default_factory=list)
    end: list[EndHook] = field(default_factory=list)
    metrics: list[MetricSource] = field(default_factory=list)
    summary: list[SummaryHook] = field(default_factory=list)
    routed: list[RoutedHook] = field(default_factory=list)
    retry: RetryHook | None = None
    candidate_selector: CandidateSelector | None = None
    on_send: SendHook | None = None
    on_oom: OomHook | None = None
    network: NetworkStage | None = None
    datastore: DataStage | None = None
    upstream: LlmStage | None = None


class Cluster(Protocol):
    """What a component may read and do of the running model."""

    env: simpy.Environment
    timers: EventPool               # pooled events for components' own timers
    instances: list[Instance]       # every instance ever created, by instance_id
    arrivals_end_s: float           # the end of the arrival window
    memory: MemoryPlan              # what requests hold on an instance, and its limits
    balancer_name: str

    @property
    def now(self) -> float:
        """The simulated time, s."""
        ...

    @property
    def arrivals(self) -> int:
        """Arrivals so far (what the load balancer counted)."""
        ...

    @property
    def ok_responses(self) -> int:
        """Requests that ended ok (as recorded; complete once the run is over)."""
        ...

    def event(self, kind: str, subject: str, reason: str) -> None:
        """Record an event (events.parquet) at the current time."""
        ...

    def event_at(self, t_s: float, kind: str, subject: str, reason: str) -> None:
        """Record an event at t_s."""
        ...

    # instance lifecycle

    def add_instance(self, state: str = BOOTING, zone: str | None = None,
                     refresh: bool = True) -> Instance:
        """Create an instance in `state`."""
        ...

    def ready(self, instance: Instance, reason: str = "BootCompleted") -> None:
        """A booting (or recovered) instance starts taking traffic."""
        ...

    def drain(self, instance: Instance, deadline_s: float, reason: str = "ScaleIn") -> None:
        """Stop sending it traffic; it terminates once empty, or at `deadline_s` from now."""
        ...

    def crash(self, instance: Instance, reason: str = "Crashed",
              failure: str = "InstanceCrashed") -> None:
        """The instance dies at once (event `reason`): every request it held fails with
        reason `failure` (and may be retried)."""
        ...

    def recover(self, instance: Instance, reason: str = "Recovered") -> None:
        """A failed instance comes back (ready at once)."""
        ...

    def refresh_candidates(self) -> None:
        """Rebuild the candidates a balancer sees (membership, health or weight changed)."""
        ...

    # a request's path

    def respond(self, instance: Instance, req: Request, now: float) -> None:
        """The instance answers the request (the last stage)."""
        ...

    def attempt_failed(self, instance: Instance, req: Request, now: float,
                       reason: str) -> None:
        """This attempt failed on `instance`: free its slot, then retry or end as error."""
        ...

    def retry_or_fail(self, req: Request, now: float, reason: str,
                      instance: Instance | None) -> None:
        """Retry on another instance when the retry hook allows it, else end as error."""
        ...

    def abandon(self, req: Request, now: float, reason: str) -> None:
        """The client gives up on the current attempt (the instance works on for nobody)."""
        ...

    def begin_wait(self, instance: Instance, req: Request) -> None:
        """The request holds its slot while it waits on something outside the instance."""
        ...

    def end_wait(self, instance: Instance, req: Request, now: float) -> bool:
        """The wait is over: True when the request should go on."""
        ...

    def wait(self, instance: Instance, req: Request, delay_s: float, then: Next) -> None:
        """Hold the slot for `delay_s` seconds, then call then(instance, req, now)."""
        ...
