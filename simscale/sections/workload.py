"""The [workload] section: where requests come from and what they cost."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveFloat

from simscale.distributions import Distribution, Exponential
from simscale.sections.base import Section


class PoissonArrivals(Section):
    """Open-loop Poisson arrivals at a constant rate."""

    kind: Literal["poisson"] = "poisson"
    rate_rps: PositiveFloat = Field(description="mean arrivals per second")


ArrivalSpec = Annotated[PoissonArrivals, Field(discriminator="kind")]


class WorkloadSpec(Section):
    """Where requests come from and what they cost."""

    arrivals: ArrivalSpec = Field(description="the arrival process")
    service: Distribution = Field(
        default_factory=lambda: Exponential(mean_s=0.05),
        description="CPU seconds of work per request on one core",
    )
    kind: str = Field("request", description="the request kind recorded for every arrival")


