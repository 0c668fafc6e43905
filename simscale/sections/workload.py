"""The [workload] section: where requests come from, which kinds they are, and what they cost.

`arrivals` is a union tagged by `kind` (simscale.sections.workload_arrivals, whose classes
are named here too).

`mix` names the request kinds and their cost profiles; without it every request is one kind
(`kind`) costing `service` CPU seconds and nothing else.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from simscale.limits import (
    MAX_COUNT,
    MAX_KINDS,
    MAX_LIST,
    MAX_TOKENS,
    MAX_WEIGHT,
    Cv,
    Tokens,
)
from simscale.sections.base import Maybe, Section
from simscale.sections.workload_arrivals import (
    ArrivalSpec,
    HourlyArrivals,
    MMPP2Arrivals,
    OpenLoopArrivals,
    PoissonArrivals,
    RampUpArrivals,
    RecordedArrivals,
    RenewalArrivals,
    ScheduleArrivals,
    SinusoidArrivals,
    SoakArrivals,
    SpikeArrivals,
    StairsArrivals,
    StepArrivals,
    TraceArrivals,
    UsersArrivals,
    UserStairsArrivals,
)
from simscale.sections.workload_sources import (
    API_ROUTES,
    SOURCE_FIELDS,
    DashboardViewers,
    LoadTestStarts,
    MetricPushes,
    route_kinds_text,
)
from simscale.workload.distributions import (
    Deterministic,
    Distribution,
    Empirical,
    Exponential,
    Gamma,
    Lognormal,
)

__all__ = ["DATA_TYPES", "ArrivalSpec", "DashboardViewers", "DataType", "HourlyArrivals",
           "KindSpec", "LoadTestStarts", "MMPP2Arrivals", "MetricPushes",
           "OpenLoopArrivals", "PoissonArrivals", "RampUpArrivals", "RecordedArrivals",
           "RenewalArrivals", "ScheduleArrivals", "SinusoidArrivals", "SoakArrivals",
           "SpikeArrivals", "StairsArrivals", "StepArrivals", "TokenCounts", "TokenSpec",
           "TraceArrivals", "UserStairsArrivals", "UsersArrivals", "WorkloadSpec"]

DataType = Literal["user", "session", "conversation", "response"]
DATA_TYPES: tuple[str, ...] = ("user", "session", "conversation", "response")


# ---------------------------------------------------------------- request kinds


class TokenCounts(Section):
    """Token counts: a lognormal of the given mean and cv, rounded and clipped to [1, max]
    (simscale.workload.samplers.token_counts); cv = 0 gives the mean every time."""

    kind: Literal["tokens"] = "tokens"
    mean: Tokens = Field(description="mean tokens")
    cv: Cv = Field(1.0, description="standard deviation / mean")
    max: Annotated[Annotated[int, Field(gt=0, le=MAX_TOKENS)] | None, Maybe] = Field(
        None, description=f"upper bound (none: {MAX_TOKENS:,}, the most of any request)")


def _token_tag(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "tokens"))
    return str(getattr(value, "kind", "tokens"))


TokenSpec = Annotated[
    Annotated[TokenCounts, Tag("tokens")] | Annotated[Exponential, Tag("exponential")]
    | Annotated[Deterministic, Tag("deterministic")] | Annotated[Lognormal, Tag("lognormal")]
    | Annotated[Gamma, Tag("gamma")] | Annotated[Empirical, Tag("empirical")],
    Discriminator(_token_tag),
]
"""Either TokenCounts ({mean, cv, max}, no kind needed) or any distribution (rounded)."""


class KindSpec(Section):
    """One request kind and its cost profile."""

    weight: float = Field(1.0, gt=0, le=MAX_WEIGHT, description="relative frequency in the mix")
    service: Distribution | None = Field(
        None, description="CPU seconds on one core (none: workload.service)")
    reads: list[DataType] = Field(
        default_factory=list, max_length=MAX_LIST,
        description="data types read through the cache")
    writes: list[DataType] = Field(
        default_factory=list, max_length=MAX_LIST,
        description="data types written (cache and database)")
    db_queries: Annotated[int, Field(ge=0, le=MAX_COUNT)] = Field(
        0, description="database queries a cache miss costs")
    llm: bool = Field(False, description="calls the LLM upstream ([upstream])")
    prompt_tokens: TokenSpec | None = Field(
        None, description="prompt tokens per request (none: 0, or the trace's)")
    output_tokens: TokenSpec | None = Field(
        None, description="output tokens per request (none: 0, or the trace's)")


class WorkloadSpec(Section):
    """Where requests come from and what they cost."""

    arrivals: ArrivalSpec = Field(description="the arrival process (tagged by kind)")
    service: Distribution = Field(
        default_factory=lambda: Exponential(mean_s=0.05),
        description="CPU seconds of work per request on one core",
    )
    kind: str = Field("request", description="the request kind recorded for every arrival "
                      "when there is no mix")
    mix: dict[str, KindSpec] = Field(
        default_factory=dict, max_length=MAX_KINDS,
        description="request kinds by name, with weights and costs "
        "(empty: every request is `kind`, costing `service`)")
    dashboard: DashboardViewers | None = Field(
        None, description="dashboard viewers polling GET /api/monitoring/dashboard (off "
                          "unless given)")
    metrics_push: MetricPushes | None = Field(
        None, description="every ready instance pushing PUT /api/scaling/auto-scale/metrics "
                          "(off unless given)")
    load_tests: LoadTestStarts | None = Field(
        None, description="load tests started with POST /api/monitoring/load-test (off unless "
                          "given)")

    @model_validator(mode="after")
    def _kinds_known(self) -> WorkloadSpec:
        names = set(self.mix) or {self.kind}
        arrivals = self.arrivals
        if isinstance(arrivals, UsersArrivals):
            unknown = [k for k in arrivals.opening if k not in names]
            if unknown:
                raise ValueError(f"arrivals.opening: unknown kind {unknown[0]!r} "
                                 f"(known: {', '.join(sorted(names))})")
        if isinstance(arrivals, TraceArrivals) and self.mix and arrivals.request_kind:
            if arrivals.request_kind not in self.mix:
                raise ValueError(f"arrivals.request_kind: {arrivals.request_kind!r} is not a "
                                 f"kind of the mix (known: {', '.join(sorted(names))})")
        if any(not n.strip() for n in self.mix):
            raise ValueError("mix: a kind name must not be empty")
        for field, source in self.sources():
            if source.kind not in names and source.kind not in API_ROUTES:
                raise ValueError(f"{field}.kind: unknown kind {source.kind!r} (a kind of "
                                 f"workload.mix or a route kind: {route_kinds_text()})")
        return self

    def sources(self) -> list[tuple[str, Any]]:
        """(field name, section) of each configured source of API traffic."""
        return [(f, getattr(self, f)) for f in SOURCE_FIELDS if getattr(self, f) is not None]

    def source_only_kinds(self) -> dict[str, KindSpec]:
        """The kinds only sources send (a route kind not in the mix), with their built-in
        profiles, in source order."""
        names = set(self.mix) or {self.kind}
        extra: dict[str, KindSpec] = {}
        for _field, source in self.sources():
            if source.kind not in names:
                extra[source.kind] = KindSpec(service=API_ROUTES[source.kind].service)
        return extra

    def kind_names(self) -> set[str]:
        """Every kind a request of this workload may be (a trace may add its own)."""
        return (set(self.mix) or {self.kind}) | set(self.source_only_kinds())

    def trace_kinds_problem(self, trace) -> str | None:
        """Why a trace's kind column does not fit the mix (None: it fits)."""
        if trace.kind is None or not self.mix:
            return None
        unknown = sorted(set(trace.kind.tolist()) - set(self.mix))
        if not unknown:
            return None
        return (f"{trace.source}: kind {unknown[0]!r} is not a kind of workload.mix "
                f"(known: {', '.join(self.mix)})")

    def check_files(self, source: str) -> None:
        """Read every file the workload names (trace, empirical distributions) now, so that a
        bad one fails before anything runs (simscale.workload.files.check_files); raises
        InputError naming the file and line."""
        from simscale.workload.files import check_files

        check_files(self, source)

    def empirical_files(self) -> list[tuple[str, Empirical]]:
        """(field path, distribution) of every empirical distribution the workload names."""
        found = []

        def visit(path: str, value: Any) -> None:
            if isinstance(value, Empirical):
                found.append((path, value))

        visit("workload.service", self.service)
        for name, spec in self.mix.items():
            for field in ("service", "prompt_tokens", "output_tokens"):
                visit(f"workload.mix.{name}.{field}", getattr(spec, field))
        if isinstance(self.arrivals, UsersArrivals):
            visit("workload.arrivals.think_s", self.arrivals.think_s)
            visit("workload.arrivals.session_gap_s", self.arrivals.session_gap_s)
        return found

