"""The [resilience] section: health checks, outlier ejection, breakers, retries, admission
control, slow start and fault injection.

Each sub-table is one production policy's frozen config dataclass (policies/resilience),
built by policy_table: its fields, types and defaults are the config's; here each gets its
bound and description, so an error names the exact field, and the config's own checks then
run on the whole table (rules between fields, such as max_ejection_time_s >=
base_ejection_time_s). Fields that only the simulator needs (probe_cost_s, update_interval_s)
live beside the policy's own. Rate limiters are registered policies (PolicyRef).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from policies.resilience import (
    CircuitBreakerConfig,
    HealthCheckConfig,
    OutlierDetectionConfig,
    RetryPolicyConfig,
    SlowStartConfig,
)
from simscale.limits import (
    MAX_ATTEMPTS,
    MAX_FACTOR,
    MAX_FAULTS,
    MAX_INSTANCES,
    MAX_KINDS,
    MAX_LIST,
    MAX_WINDOW_BUCKETS,
    Count,
    Factor,
    Percent,
    Period,
    PositiveSeconds,
    Rate,
    Seconds,
)
from simscale.sections.base import Maybe, PolicyRef, PolicyTable, Section, policy_table

Buckets = Annotated[int, Field(gt=0, le=MAX_WINDOW_BUCKETS)]
InstanceIndex = Annotated[int, Field(ge=0, le=MAX_INSTANCES)]


# ---------------------------------------------------------------- detection

HealthCheckSpec = policy_table(
    HealthCheckConfig,
    """Active health checks (HAProxy `inter`/`rise`/`fall`, Envoy health_checks).

    A probe is a tiny request: it takes a slot on the instance (queued behind requests when
    every slot is busy) and probe_cost_s CPU seconds, so an overloaded or hung instance fails
    its checks the way a real one does.""",
    {
        "interval_s": (Period, "time between probes of one instance, s"),
        "timeout_s": (PositiveSeconds, "a probe with no answer by then has failed, s"),
        "healthy_threshold": (
            Count, "passed probes in a row that make an unhealthy instance healthy (rise)"),
        "unhealthy_threshold": (
            Count, "failed probes in a row that make a healthy instance unhealthy (fall)"),
        "unhealthy_interval_s": (
            Period, 'probe interval while unhealthy, s ("none": interval_s)'),
        "start_healthy": (
            bool, "an instance that joins later counts as healthy before its first probe "
                  "(instances present at t = 0 always start healthy)"),
    },
    simulator={"probe_cost_s": (
        Seconds, 0.001, "CPU seconds one probe costs the instance (it also holds a slot)")},
)

OutlierDetectionSpec = policy_table(
    OutlierDetectionConfig,
    """Passive outlier ejection on consecutive failures (Envoy outlier_detection).""",
    {
        "consecutive_5xx": (
            Count, "failed attempts in a row (errors, timeouts, refused connections) that "
                   "eject an instance"),
        "interval_s": (
            PositiveSeconds, "each interval in service takes one off the ejection multiplier, s"),
        "base_ejection_time_s": (PositiveSeconds, "ejection time × times ejected in a row, s"),
        "max_ejection_time_s": (PositiveSeconds, "cap on the ejection time, s"),
        "max_ejection_percent": (
            Percent, "most instances ejected at once, percent of the cluster (one always may)"),
    },
)

CircuitBreakerSpec = policy_table(
    CircuitBreakerConfig,
    """A breaker per instance: closed → open → half-open (Hystrix/Finagle style).""",
    {
        "consecutive_failures": (
            Count, 'trip after this many failures in a row ("none": not on this rule)'),
        "error_rate_threshold": (
            Annotated[float, Field(gt=0, le=1)],
            'trip when failures / outcomes in the window reach this fraction ("none": not on '
            'this rule)'),
        "window_s": (PositiveSeconds, "sliding window of the error rate, s"),
        "window_buckets": (Buckets, "buckets the window is kept in"),
        "min_requests": (
            Count, "outcomes the window must hold before the error rate can trip it"),
        "open_duration_s": (
            PositiveSeconds,
            "how long an open breaker keeps the instance out before half-opening, s"),
        "half_open_probes": (
            Count, "requests let through while half-open; all must succeed to close"),
    },
)


# ---------------------------------------------------------------- failover


class _RetryTable(PolicyTable):
    """"none" as budget_ratio: no budget (the policy's unlimited reserve, no ratio)."""

    def config_values(self, values: dict[str, Any]) -> dict[str, Any]:
        if values["budget_ratio"] is None:
            values = dict(values, budget_ratio=0.0, min_retries_per_s=float("inf"))
        return values


RetrySpec = policy_table(
    RetryPolicyConfig,
    """Retries on another instance (Envoy retry policy) within a budget (Finagle RetryBudget).

    Retries are sent at once: the simulator does not model back-off (Envoy's default 25 ms
    base is small next to the timeouts it models).""",
    {
        "max_attempts": (Annotated[int, Field(gt=0, le=MAX_ATTEMPTS)],
                         "attempts per request, the first included"),
        "per_try_timeout_s": (
            PositiveSeconds,
            'an attempt with no answer by then fails and may be retried, s ("none")'),
        "overall_timeout_s": (
            PositiveSeconds, 'no retry starts this long after the request arrived, s ("none": '
                             'only timeouts.request_s bounds it)'),
        "budget_ratio": (
            Annotated[float, Field(ge=0, le=MAX_ATTEMPTS)] | None,
            'retries allowed per original request in the budget window ("none": no retry '
            'budget)'),
        "min_retries_per_s": (
            Rate, "retries per second always allowed on top of the ratio"),
        "budget_window_s": (PositiveSeconds, "window the budget counts over, s"),
        "budget_buckets": (Buckets, "buckets the budget window is kept in"),
        "retry_on": (
            list[Literal["error", "timeout"]],
            'failures worth a retry: "error" (an error, a crash, a refused connection) and '
            '"timeout" (per_try_timeout_s)'),
    },
    base=_RetryTable,
    hidden=("backoff_base_s", "backoff_max_s"),  # retries are sent at once
)


# ---------------------------------------------------------------- admission, slow start


class LimiterRef(PolicyRef):
    """A rate limiter from the registry; a request it refuses ends `rejected`."""

    family: ClassVar[str] = "limiter"
    policy: str = Field(description="a registered limiter: token_bucket, per_user_token_bucket")
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="the limiter's parameters (rate_per_s, burst, …)")
    name: str | None = Field(
        None, description='names the limiter in reasons ("RateLimited:<name>"); default: the '
                          'policy\'s own reason (RateLimited:global, RateLimited:per_user)')
    kinds: Annotated[list[str] | None, Maybe] = Field(
        None, max_length=MAX_KINDS,
        description="the request kinds it limits (a route each, for the API kinds); requests "
                    "of other kinds pass it without taking a token (none: every kind)")


SlowStartSpec = policy_table(
    SlowStartConfig,
    """Slow start (Envoy slow_start_config, HAProxy `slowstart`): a new, recovered or newly
    healthy instance's weight ramps up over the window.""",
    {
        "window_s": (PositiveSeconds, "ramp length, s"),
        "aggression": (Annotated[float, Field(gt=0, le=MAX_FACTOR)], "ramp shape (1: linear)"),
        "min_weight_percent": (Percent, "floor of the ramp, percent of the weight"),
    },
    simulator={"update_interval_s": (
        Period, 1.0, "how often ramping weights are refreshed for the balancer, s")},
)


# ---------------------------------------------------------------- faults


class _Fault(Section):
    at_s: Seconds = Field(description="when the fault starts, s")


class _LastingFault(_Fault):
    duration_s: Annotated[PositiveSeconds | None, Maybe] = Field(
        None, description="how long it lasts, s (none, and no recover_at_s: to the end)")
    recover_at_s: Annotated[PositiveSeconds | None, Maybe] = Field(
        None, description="when it ends, s (instead of duration_s)")

    @model_validator(mode="after")
    def _one_end(self) -> _LastingFault:
        if self.duration_s is not None and self.recover_at_s is not None:
            raise ValueError("give duration_s or recover_at_s, not both")
        if self.recover_at_s is not None and self.recover_at_s <= self.at_s:
            raise ValueError(f"recover_at_s ({self.recover_at_s}) must be after at_s "
                             f"({self.at_s})")
        return self

    @property
    def end_s(self) -> float | None:
        """When the fault ends (None: it lasts to the end of the run)."""
        if self.duration_s is not None:
            return self.at_s + self.duration_s
        return self.recover_at_s


_INSTANCE = "index of the instance (0-based, among instances.count)"


class CrashFault(_LastingFault):
    """The instance dies (its requests fail) and, at the end, comes back."""

    kind: Literal["crash"] = "crash"
    target: InstanceIndex = Field(description=_INSTANCE)


class SlowFault(_LastingFault):
    """Gray failure: the instance's CPU work takes `factor` times longer."""

    kind: Literal["slow"] = "slow"
    target: InstanceIndex = Field(description=_INSTANCE)
    factor: Factor = Field(description="how many times slower (>= 1)")


class ErrorsFault(_LastingFault):
    """Gray failure: the instance answers a fraction of requests with an error."""

    kind: Literal["errors"] = "errors"
    target: InstanceIndex = Field(description=_INSTANCE)
    fraction: float = Field(gt=0, le=1, description="share of requests that fail")


class HangFault(_LastingFault):
    """The instance accepts requests and never answers; at the end it is restarted."""

    kind: Literal["hang"] = "hang"
    target: InstanceIndex = Field(description=_INSTANCE)


class ZoneLossFault(_LastingFault):
    """Every instance in a zone crashes; at the end they come back."""

    kind: Literal["zone_loss"] = "zone_loss"
    target: str = Field(description="a zone name from instances.zones")


class LatencySpikeFault(_LastingFault):
    """Network trouble: every response is delayed by extra_latency_s (the slot stays held)."""

    kind: Literal["latency_spike"] = "latency_spike"
    extra_latency_s: PositiveSeconds = Field(description="delay added to each response, s")
    target: InstanceIndex | str | None = Field(
        None, description="an instance index, a zone name, or none: every instance")


class DrainFault(_Fault):
    """A planned removal: the instance gets no new requests and terminates once its requests
    finish (connection draining), or at drain_timeout_s."""

    kind: Literal["drain"] = "drain"
    target: InstanceIndex = Field(description=_INSTANCE)
    drain_timeout_s: PositiveSeconds = Field(
        30.0, description="requests still there after this long fail (and may be retried), s")


FaultSpec = Annotated[
    CrashFault | SlowFault | ErrorsFault | HangFault | ZoneLossFault | LatencySpikeFault
    | DrainFault,
    Field(discriminator="kind"),
]


# ---------------------------------------------------------------- the section


class ResilienceSpec(Section):
    """Resilience mechanisms; every part is off unless configured."""

    health_check: HealthCheckSpec | None = Field(
        None, description="active health checks (off unless given)")
    outlier_detection: OutlierDetectionSpec | None = Field(
        None, description="passive outlier ejection (off unless given)")
    circuit_breaker: CircuitBreakerSpec | None = Field(
        None, description="a circuit breaker per instance (off unless given)")
    retry: RetrySpec | None = Field(None, description="retries (off unless given)")
    rate_limit: list[LimiterRef] = Field(
        default_factory=list, max_length=MAX_LIST,
        description="admission rate limiters, checked in order")
    slow_start: SlowStartSpec | None = Field(
        None, description="weight ramp for new, recovered or newly healthy instances")
    panic_threshold_percent: float = Field(
        50.0, ge=0, le=100,
        description="below this share of healthy instances the balancer uses all of them "
                    "(Envoy healthy_panic_threshold; 0: never)")
    faults: list[FaultSpec] = Field(default_factory=list, max_length=MAX_FAULTS,
                                    description="faults and planned removals to inject")

    @property
    def configured(self) -> bool:
        """Whether any part is on (panic_threshold_percent alone changes nothing)."""
        return any((self.health_check, self.outlier_detection, self.circuit_breaker,
                    self.retry, self.rate_limit, self.slow_start, self.faults))

    def check_kinds(self, known: set[str] | None) -> None:
        """Every limiter's kinds are kinds of the workload (`known`; None: not known before
        the run, a trace's); raise ValueError('resilience.rate_limit.N.kinds: ...')."""
        for n, ref in enumerate(self.rate_limit):
            where = f"resilience.rate_limit.{n}.kinds"
            if ref.kinds is not None and not ref.kinds:
                raise ValueError(f"{where}: give at least one kind (none: every kind)")
            unknown = [k for k in ref.kinds or () if known is not None and k not in known]
            if unknown:
                raise ValueError(f"{where}: unknown kind {unknown[0]!r} (known: "
                                 f"{', '.join(sorted(known))})")

    def check_targets(self, count: int, zones: list[str]) -> None:
        """Every fault names an instance among the first `count` or a zone in `zones`;
        raise ValueError('resilience.faults.N.target: ...') otherwise."""
        for n, fault in enumerate(self.faults):
            target = getattr(fault, "target", None)
            where = f"resilience.faults.{n}.target"
            if isinstance(target, int) and target >= count:
                raise ValueError(f"{where}: no instance {target} (instances.count is {count}, "
                                 f"so indices run 0..{count - 1})")
            if isinstance(target, str) and target not in zones:
                known = ", ".join(zones) if zones else "none: set instances.zones"
                raise ValueError(f"{where}: no zone {target!r} (zones: {known})")
