"""The service's own API traffic: its routes as request kinds, and the sources that call them.

The service's Phase 3 notes list the routes the deployment itself calls besides chat:
`GET /api/monitoring/dashboard` (polled by the monitoring dashboard),
`PUT /api/scaling/auto-scale/metrics` (each instance pushing its metrics to the autoscaler),
`POST /api/monitoring/load-test` (an operator starting a load test) and `GET /api/health`
(the balancer's probe). `API_ROUTES` gives each a request kind with a CPU cost; the costs
are simscale's assumptions (the notes give none), listed with what they follow.

Three sources send those kinds on top of `workload.arrivals`:

- `[workload.dashboard]`: `viewers` browsers with the dashboard open, each polling every
  `interval_s` (simscale.workload.arrivals.Periodic);
- `[workload.metrics_push]`: every ready instance pushing its metrics every `interval_s`, so
  their rate follows the fleet's size;
- `[workload.load_tests]`: load tests started at given times.

A source's kind is a kind of `workload.mix` (its cost profile then applies) or one of
`API_ROUTES` (the built-in profile, never drawn by the arrivals).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, model_validator

from simscale.limits import MAX_LIST, MAX_USERS, Period, PositiveSeconds, Seconds
from simscale.sections.base import Maybe, Section
from simscale.workload import arrivals as gen
from simscale.workload.distributions import Deterministic, Distribution, Lognormal


@dataclass(frozen=True)
class ApiRoute:
    """A route of the service as a request kind: its method and path, its CPU seconds per
    request on one core, and what that cost follows."""

    kind: str
    method: str
    path: str
    service: Distribution
    follows: str


API_ROUTES: dict[str, ApiRoute] = {r.kind: r for r in (
    ApiRoute("dashboard", "GET", "/api/monitoring/dashboard",
             Lognormal(mean_s=0.02, cv=0.5),
             "getDashboardData('1h') aggregates an hour of in-memory metric points for every "
             "widget: tens of milliseconds of Node.js CPU"),
    ApiRoute("metrics_push", "PUT", "/api/scaling/auto-scale/metrics",
             Lognormal(mean_s=0.002, cv=0.5),
             "autoScaler.updateMetrics appends one sample to an in-memory window: a small JSON "
             "body parsed and stored"),
    ApiRoute("load_test_start", "POST", "/api/monitoring/load-test",
             Lognormal(mean_s=0.01, cv=0.5),
             "validates a test configuration and starts a LoadTester: one request's worth of "
             "setup (the load it then generates is a workload of its own)"),
    ApiRoute("health", "GET", "/api/health", Deterministic(value_s=0.0005),
             "a health route answers from memory: half a millisecond, as the Phase 3 specs' "
             "`health` kind"),
)}


def route_kinds_text() -> str:
    return ", ".join(API_ROUTES)


class DashboardViewers(Section):
    """Browsers with the monitoring dashboard open, each polling every `interval_s` from a
    random phase (a setInterval timer: it fires whether or not the last poll came back)."""

    viewers: Annotated[int, Field(gt=0, le=MAX_USERS)] = Field(
        description="browsers with the dashboard open")
    interval_s: Period = Field(5.0, description="seconds between one viewer's polls")
    start_s: Seconds = Field(0.0, description="when they open it, s")
    end_s: Annotated[PositiveSeconds | None, Maybe] = Field(
        None, description="when they close it, s (none: never)")
    kind: str = Field("dashboard", description="the kind each poll is")

    @model_validator(mode="after")
    def _ends_after_start(self) -> DashboardViewers:
        if self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s:g}) must be after start_s ({self.start_s:g})")
        return self

    def process(self) -> gen.Periodic:
        """The polls as an arrival process."""
        return gen.Periodic(self.viewers, self.interval_s, self.start_s, self.end_s)


class MetricPushes(Section):
    """Every ready instance pushes its metrics to the autoscaler's route every `interval_s`
    (`autoScaler.updateMetrics`), through the load balancer like any request."""

    interval_s: Period = Field(10.0, description="seconds between one instance's pushes")
    kind: str = Field("metrics_push", description="the kind each push is")


class LoadTestStarts(Section):
    """Operators starting load tests at given times (only the start request is modelled)."""

    at_s: list[Seconds] = Field(max_length=MAX_LIST,
                                description="when each load test is started, s")
    kind: str = Field("load_test_start", description="the kind each start is")


SOURCE_FIELDS = ("dashboard", "metrics_push", "load_tests")
"""The WorkloadSpec fields that hold a source (each has a `kind`)."""
