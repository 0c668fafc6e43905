"""The [workload.arrivals] table: where requests come from, a union tagged by `kind`.

- open loop, generated lazily by simscale.workload.arrivals: "poisson", "schedule"
  (piecewise-linear rate) and its presets "ramp_up", "step", "spike", "soak", "stairs" (the
  stress staircase), the diurnal "sinusoid" and "hourly", and the bursty "mmpp2" and
  "renewal";
- "trace": replay of a request trace file (simscale.workload.traces; read by
  simscale.workload.files);
- "recorded": replay of the arrival rate a fleet of `simscale serve` recorded;
- "users": closed-loop users who each wait for a response before thinking and sending again;
  "user_stairs": a stress staircase of them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from simscale.limits import (
    MAX_COUNT,
    MAX_LIST,
    MAX_RATE_SCALE,
    MAX_SCHEDULE_POINTS,
    MAX_STAIRS_STEPS,
    MAX_TIME_S,
    MAX_TRACE_SPEED,
    MAX_TURNS_MEAN,
    MAX_USERS,
    MIN_GAMMA_CV,
    Cv,
    PositiveRate,
    PositiveSeconds,
    Rate,
    Seconds,
    UnixTime,
)
from simscale.sections.base import Maybe, Section
from simscale.workload import arrivals as gen
from simscale.workload.distributions import (
    Distribution,
    Exponential,
)

# ---------------------------------------------------------------- open-loop arrivals


class OpenLoopArrivals(Section):
    """An open-loop process: `process()` builds its simscale.workload.arrivals generator."""

    def process(self) -> gen.ArrivalProcess:
        raise NotImplementedError

    @model_validator(mode="after")
    def _buildable(self) -> OpenLoopArrivals:
        try:
            self.process()
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        return self


class PoissonArrivals(OpenLoopArrivals):
    """Open-loop Poisson arrivals at a constant rate."""

    kind: Literal["poisson"] = "poisson"
    rate_rps: PositiveRate = Field(description="mean arrivals per second")

    def process(self) -> gen.ArrivalProcess:
        return gen.Poisson(self.rate_rps)


class ScheduleArrivals(OpenLoopArrivals):
    """Poisson arrivals whose rate follows straight lines between (t_s, rate_rps) points."""

    kind: Literal["schedule"] = "schedule"
    points: list[tuple[Seconds, Rate]] = Field(
        min_length=1, max_length=MAX_SCHEDULE_POINTS,
        description="[[t_s, rate_rps], ...]; equal times make a step; the last "
        "rate holds after the last point")
    period_s: Annotated[PositiveSeconds | None, Maybe] = Field(
        None, description="repeat the points every period_s seconds (none: no repeat)")

    def process(self) -> gen.ArrivalProcess:
        return gen.RateSchedule(self.points, self.period_s)


class RampUpArrivals(OpenLoopArrivals):
    """start_rps for delay_s, then a straight ramp to end_rps over ramp_s, then held."""

    kind: Literal["ramp_up"] = "ramp_up"
    start_rps: Rate = Field(0.0, description="rate before the ramp")
    end_rps: PositiveRate = Field(description="rate at the end of the ramp, then held")
    ramp_s: PositiveSeconds = Field(description="length of the ramp")
    delay_s: Seconds = Field(0.0, description="time at start_rps before the ramp")

    def process(self) -> gen.ArrivalProcess:
        return gen.RateSchedule(gen.ramp_up(self.start_rps, self.end_rps, self.ramp_s,
                                            self.delay_s))


class StepArrivals(OpenLoopArrivals):
    """base_rps until at_s, then step_rps (an instantaneous change)."""

    kind: Literal["step"] = "step"
    base_rps: Rate = Field(description="rate before the step")
    step_rps: Rate = Field(description="rate from at_s on")
    at_s: Seconds = Field(description="time of the step")

    def process(self) -> gen.ArrivalProcess:
        return gen.RateSchedule(gen.step(self.base_rps, self.step_rps, self.at_s))


class SpikeArrivals(OpenLoopArrivals):
    """base_rps, rising at at_s over rise_s to peak_rps, held hold_s, falling over fall_s."""

    kind: Literal["spike"] = "spike"
    base_rps: Rate = Field(description="rate outside the spike")
    peak_rps: Rate = Field(description="rate at the top of the spike")
    at_s: Seconds = Field(description="when the rise starts")
    rise_s: Seconds = Field(0.0, description="length of the rise (0: a step)")
    hold_s: Seconds = Field(60.0, description="time held at peak_rps")
    fall_s: Seconds = Field(0.0, description="length of the fall (0: a step)")

    def process(self) -> gen.ArrivalProcess:
        return gen.RateSchedule(gen.spike(self.base_rps, self.peak_rps, self.at_s,
                                          self.rise_s, self.hold_s, self.fall_s))


class SoakArrivals(OpenLoopArrivals):
    """A long run at rate_rps, reached by a straight ramp from 0 over ramp_s."""

    kind: Literal["soak"] = "soak"
    rate_rps: PositiveRate = Field(description="the sustained rate")
    ramp_s: PositiveSeconds = Field(60.0, description="length of the initial ramp from 0")

    def process(self) -> gen.ArrivalProcess:
        return gen.RateSchedule(gen.soak(self.rate_rps, self.ramp_s))


class StairsArrivals(OpenLoopArrivals):
    """A stress staircase: `steps` steps of step_s seconds, the rate of step k (from 0) being
    start_rps + k·step_rps; after the last step its rate holds.

    With slo_p95_s, the run reports the breaking point: each step's p95 latency (or time to
    first token) and error fraction are measured over the requests that arrived during it,
    and summary.json gets
    `stress_max_ok_rps` (the last step, counting from the first, that met the SLO before one
    broke it) and `stress_breaking_rps` (the first step that broke it).
    """

    kind: Literal["stairs"] = "stairs"
    start_rps: PositiveRate = Field(description="rate of the first step")
    step_rps: PositiveRate = Field(description="rate added at each step")
    step_s: PositiveSeconds = Field(description="length of one step")
    steps: Annotated[int, Field(gt=0, le=MAX_STAIRS_STEPS)] = Field(
        description="number of steps")
    slo_p95_s: Annotated[PositiveSeconds | None, Maybe] = Field(
        None, description="a step breaks the SLO when the p95 of slo_metric over its ok "
        "responses is above this (none: no breaking-point analysis)")
    slo_metric: Literal["latency", "ttft"] = Field(
        "latency", description="latency: end-to-end latency; ttft: time to first token (ok "
        "responses with an LLM call)")
    slo_error_frac: float = Field(
        0.01, ge=0, le=1, description="... or when more than this fraction of its requests "
        "do not end ok")

    def rates_rps(self) -> list[float]:
        return [self.start_rps + k * self.step_rps for k in range(self.steps)]

    def process(self) -> gen.ArrivalProcess:
        points: list[tuple[float, float]] = []
        for k, rate in enumerate(self.rates_rps()):
            points += [(k * self.step_s, rate), ((k + 1) * self.step_s, rate)]
        return gen.RateSchedule(points)


class SinusoidArrivals(OpenLoopArrivals):
    """Diurnal: rate = mean_rps + amplitude_rps·cos(2π(t − phase_s)/period_s)."""

    kind: Literal["sinusoid"] = "sinusoid"
    mean_rps: PositiveRate = Field(description="mean rate")
    amplitude_rps: Rate = Field(description="swing around the mean (<= mean_rps)")
    period_s: PositiveSeconds = Field(gen.DAY_S, description="length of one cycle")
    phase_s: float = Field(0.0, ge=-MAX_TIME_S, le=MAX_TIME_S, description="time of the peak")

    def process(self) -> gen.ArrivalProcess:
        return gen.Sinusoid(self.mean_rps, self.amplitude_rps, self.period_s, self.phase_s)


class HourlyArrivals(OpenLoopArrivals):
    """Diurnal from 24 hourly rates (index 0: 00:00–01:00), interpolated between hour middles
    and repeated daily."""

    kind: Literal["hourly"] = "hourly"
    rates_rps: list[Rate] = Field(
        min_length=24, max_length=24, description="24 rates, one per hour of the day")
    start_hour: float = Field(0.0, ge=0, lt=24, description="clock time at t = 0, hours")

    def process(self) -> gen.ArrivalProcess:
        return gen.hourly_profile(self.rates_rps, self.start_hour)


class MMPP2Arrivals(OpenLoopArrivals):
    """Bursty: a two-state Markov-modulated Poisson process (started in steady state)."""

    kind: Literal["mmpp2"] = "mmpp2"
    rate1_rps: Rate = Field(description="rate in state 1")
    rate2_rps: Rate = Field(description="rate in state 2")
    switch12_per_s: PositiveRate = Field(description="rate of leaving state 1, per second")
    switch21_per_s: PositiveRate = Field(description="rate of leaving state 2, per second")

    def process(self) -> gen.ArrivalProcess:
        return gen.MMPP2(self.rate1_rps, self.rate2_rps, self.switch12_per_s,
                         self.switch21_per_s)


class RenewalArrivals(OpenLoopArrivals):
    """Bursty (cv > 1) or regular (cv < 1): renewal arrivals with inter-arrival times of a
    given coefficient of variation (stationary)."""

    kind: Literal["renewal"] = "renewal"
    rate_rps: PositiveRate = Field(description="mean arrivals per second")
    cv: Cv = Field(description="inter-arrival standard deviation / mean")
    family: Literal["gamma", "lognormal"] = Field("gamma", description="inter-arrival family")

    @model_validator(mode="after")
    def _gamma_shape(self) -> RenewalArrivals:
        if self.family == "gamma" and 0 < self.cv < MIN_GAMMA_CV:
            raise ValueError(f"cv: a gamma's shape is 1/cv²: give 0 (evenly spaced) or at least "
                             f"{MIN_GAMMA_CV:g}")
        return self

    def process(self) -> gen.ArrivalProcess:
        return gen.Renewal(self.rate_rps, self.cv, self.family)


class RecordedArrivals(OpenLoopArrivals):
    """Replay a fleet's recorded arrival rate (simscale serve's FLEETS/<name> folder): Poisson
    arrivals at each recorded interval's arrivals_rps; simulated t = 0 is start_s."""

    kind: Literal["recorded"] = "recorded"
    path: str = Field(description="a fleet folder written by simscale serve (relative to the "
                      "spec)")
    start_s: Annotated[UnixTime | None, Maybe] = Field(
        None, description="Unix time replayed as t = 0 (none: the first recorded interval)")
    end_s: Annotated[UnixTime | None, Maybe] = Field(
        None, description="Unix time where the replay ends; the last rate holds after it "
        "(none: the last recorded interval)")
    rate_scale: float = Field(1.0, gt=0, le=MAX_RATE_SCALE,
                              description="multiplies every recorded rate")

    def process(self) -> gen.ArrivalProcess:
        from simscale.serve.recorded import rate_points

        return gen.RateSchedule(rate_points(self.path, self.start_s, self.end_s,
                                            self.rate_scale))


# ---------------------------------------------------------------- trace replay

class TraceArrivals(Section):
    """Replay a request trace file (formats: see simscale.workload.traces).

    A relative path is resolved against the spec file's folder. With speed 1, no window, no
    loop and rate_scale 1, the arrivals (times and token counts) are exactly the trace's.
    """

    kind: Literal["trace"] = "trace"
    path: str = Field(description="the trace file (relative to the spec file)")
    format: Literal["auto", "azure", "mooncake", "csv", "parquet"] = Field(
        "auto", description="file format (auto: from the extension and header)")
    speed: float = Field(1.0, gt=0, le=MAX_TRACE_SPEED,
                         description="simulated time = trace time / speed")
    window_s: tuple[Seconds, PositiveSeconds] | None = Field(
        None, description="[start_s, end_s]: replay only these trace seconds (none: all)")
    loop: bool = Field(False, description="start the window again when it ends")
    rate_scale: float = Field(
        1.0, gt=0, le=MAX_RATE_SCALE,
        description="superpose copies of the trace (2: twice the rate; 0.5: thinned)")
    lenient: bool = Field(False, description="skip and count bad rows instead of failing")
    request_kind: str | None = Field(
        None, description="the kind of every row of a trace without a kind column (none: "
        "drawn from the mix)")
    prefix_blocks: Annotated[int, Field(gt=0, le=MAX_COUNT)] = Field(
        2, description="Mooncake: leading 512-token blocks that identify a shared prefix")

    @model_validator(mode="after")
    def _window(self) -> TraceArrivals:
        if self.window_s is not None and self.window_s[1] <= self.window_s[0]:
            raise ValueError("window_s: end must be after start")
        return self

    def load(self):
        """The trace (simscale.workload.traces.Trace), read once per file version and cached
        (simscale.workload.files.load_trace). Raises InputError naming file:line and the
        problem."""
        from simscale.workload.files import load_trace

        return load_trace(self)


# ---------------------------------------------------------------- closed-loop users


class UsersArrivals(Section):
    """Closed-loop users: `users` users, each running chat sessions one after another.

    A session is `opening` (kinds sent back to back, e.g. load_history) followed by a
    geometric number of turns of mean `turns_mean`, each of a kind drawn from the mix. A user
    sends one request, waits for its end (response, error, rejection or timeout), thinks for
    `think_s`, and sends the next; between sessions it waits `session_gap_s`. User i starts at
    i·ramp_s/users. No user sends after duration_s.
    """

    kind: Literal["users"] = "users"
    users: Annotated[int, Field(gt=0, le=MAX_USERS)] = Field(description="concurrent users")
    ramp_s: Seconds = Field(0.0, description="users start spread evenly over this")
    turns_mean: float = Field(6.0, ge=1, le=MAX_TURNS_MEAN,
                              description="mean turns per session (geometric, >= 1)")
    think_s: Distribution = Field(
        default_factory=lambda: Exponential(mean_s=10.0),
        description="seconds a user thinks between a response and its next turn")
    session_gap_s: Distribution = Field(
        default_factory=lambda: Exponential(mean_s=60.0),
        description="seconds between the end of a session and the user's next session")
    opening: list[str] = Field(
        default_factory=list, max_length=MAX_LIST,
        description="kinds each session starts with, sent back to back")

    @property
    def total_users(self) -> int:
        """Users started over the whole run."""
        return self.users

    def start_s(self, uid: int) -> float:
        """When user `uid` (from 0) sends its first request."""
        return uid * self.ramp_s / self.users


class UserStairsArrivals(UsersArrivals):
    """A stress staircase of closed-loop users: step k (from 0) has users + k·step_users
    users, each step's new users joining evenly over its first ramp_s seconds; after the
    last step the count holds. With slo_p95_s the run reports the breaking point in users:
    each step is judged on the requests that arrived in it after its first settle_s seconds
    (simscale.model.stress.StressProbe)."""

    kind: Literal["user_stairs"] = "user_stairs"
    step_users: Annotated[int, Field(gt=0, le=MAX_USERS)] = Field(
        description="users added at each step")
    step_s: PositiveSeconds = Field(description="length of one step, s")
    steps: Annotated[int, Field(gt=0, le=MAX_STAIRS_STEPS)] = Field(
        description="number of steps")
    settle_s: Seconds = Field(
        0.0, description="seconds at the start of each step left out of its judgement")
    slo_p95_s: Annotated[PositiveSeconds | None, Maybe] = Field(
        None, description="a step breaks the SLO when the p95 of slo_metric is above this "
        "(none: no breaking-point analysis)")
    slo_metric: Literal["api_and_ttft", "latency", "ttft"] = Field(
        "api_and_ttft", description="api_and_ttft: the p95 latency of API responses and the "
        "p95 time to first token of streamed answers, each; latency: end to end; ttft")
    slo_error_frac: float = Field(
        0.01, ge=0, le=1, description="... or when more than this fraction of its requests "
        "do not end ok")

    @model_validator(mode="after")
    def _fits_a_step(self) -> UserStairsArrivals:
        if self.total_users > MAX_USERS:
            raise ValueError(f"step_users: users + (steps − 1) × step_users = "
                             f"{self.total_users:,} users; at most {MAX_USERS:,}")
        if self.ramp_s > self.step_s:
            raise ValueError(f"ramp_s ({self.ramp_s:g}) must not exceed step_s "
                             f"({self.step_s:g}): a step's users join within it")
        if self.settle_s >= self.step_s:
            raise ValueError(f"settle_s ({self.settle_s:g}) must be below step_s "
                             f"({self.step_s:g})")
        return self

    def levels(self) -> list[int]:
        """The user count of each step."""
        return [self.users + k * self.step_users for k in range(self.steps)]

    @property
    def total_users(self) -> int:
        return self.users + (self.steps - 1) * self.step_users

    def start_s(self, uid: int) -> float:
        if uid < self.users:
            return uid * self.ramp_s / self.users
        step, index = divmod(uid - self.users, self.step_users)
        return (step + 1) * self.step_s + index * self.ramp_s / self.step_users


ArrivalSpec = Annotated[
    PoissonArrivals | ScheduleArrivals | RampUpArrivals | StepArrivals | SpikeArrivals
    | SoakArrivals | StairsArrivals | SinusoidArrivals | HourlyArrivals | MMPP2Arrivals
    | RenewalArrivals | RecordedArrivals | TraceArrivals | UsersArrivals | UserStairsArrivals,
    Field(discriminator="kind"),
]
