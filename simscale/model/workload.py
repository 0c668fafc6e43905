"""The workload at run time: arrival chunks with per-request attributes, request kinds and
their cost profiles, and the stages a request goes through after its CPU work.

Arrivals. An open-loop or trace workload is a lazy sequence of `ArrivalChunk`s: numpy arrays
of arrival times and, per request, CPU work, kind code, user and session ids and token counts.
The model converts each chunk to lists once (`ArrivalChunk.lists`), so memory stays flat
however long the run. Closed-loop users (simscale.model.users) make their requests as they
go instead. Every quantity draws from its own named stream (simscale.streams), in arrival
order, so that a sample path does not depend on the policies of the run (common random
numbers):

  "arrivals"                          arrival times (open loop)
  "service"                           CPU work when there is no mix
  "workload.kinds"                    the kind of each arrival (a mix of several kinds)
  "workload.service.<kind>"           CPU work of each kind (a mix)
  "workload.tokens.<kind>.prompt"     prompt tokens of each kind (unless the trace gives them)
  "workload.tokens.<kind>.output"     output tokens of each kind (unless the trace gives them)
  "workload.trace"                    thinning of a trace's fractional rate_scale copy

A workload with one kind, no tokens and no trace (the default) produces chunks with times
and work only, and the model takes its fast path: such requests have `after_cpu = None`.

The stage contract (for the cache and database component, and the LLM upstream).
A request of a kind with reads, writes or db_queries carries its `KindProfile` in
`req.data`:

  req.data.name        the kind ("chat_message", ...)
  req.data.reads       data types it reads through the cache, a tuple drawn from
                       ("user", "session", "conversation", "response")
  req.data.writes      data types it writes
  req.data.db_queries  database queries a cache miss costs
  req.data.llm         whether it calls the LLM upstream after its data stages
  req.info.user_id, req.info.session_id   the ids the keys are made from

After the CPU work, `stage_chain` runs, in order: `model.datastore.access(instance, req, now,
then)` when `model.datastore` is not None and the kind touches data; the datastore performs
the kind's reads and writes (waits that hold the slot: model.wait / begin_wait / end_wait)
and then calls `then(instance, req, now)`, or model.attempt_failed(...) on a failure. Then
`model.upstream.call(instance, req, now, then)` for an `llm` kind (simscale.model.upstream),
and finally model.respond. A kind with no data and no LLM call skips all of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np

from simscale.errors import InputError
from simscale.limits import MAX_TOKENS
from simscale.sections.workload import (
    KindSpec,
    StairsArrivals,
    TokenCounts,
    TraceArrivals,
    UsersArrivals,
    UserStairsArrivals,
    WorkloadSpec,
    _OpenLoop,
)
from simscale.streams import stream
from simscale.workload import arrivals as gen

CHUNK = gen.CHUNK


@dataclass(frozen=True)
class KindProfile:
    """A request kind and what it costs besides CPU (see the stage contract above)."""

    name: str
    code: int
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    db_queries: int = 0
    llm: bool = False

    @property
    def touches_data(self) -> bool:
        return bool(self.reads or self.writes or self.db_queries)


@dataclass
class ArrivalChunk:
    """A run of consecutive arrivals: times (s, ascending), the CPU work of each (s), and,
    for a workload with kinds, ids or tokens, those per request (None: not given; the model
    then uses kind 0, the request id as user and session id, and 0 tokens)."""

    times_s: np.ndarray
    work_s: np.ndarray
    kind: np.ndarray | None = None
    user_id: np.ndarray | None = None
    session_id: np.ndarray | None = None
    prompt_tokens: np.ndarray | None = None
    output_tokens: np.ndarray | None = None

    def lists(self) -> tuple[list, list | None, list | None, list, list]:
        """(kind codes, user ids, session ids, prompt tokens, output tokens) as Python lists,
        converted once per chunk; ids are None when the chunk has none."""
        n = len(self.times_s)
        zeros = [0] * n

        def ints(column: np.ndarray | None) -> list | None:
            return None if column is None else column.tolist()

        return (ints(self.kind) or zeros, ints(self.user_id), ints(self.session_id),
                ints(self.prompt_tokens) or zeros, ints(self.output_tokens) or zeros)


def sample_tokens(spec, rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` token counts (int64, 0 to MAX_TOKENS) from a TokenCounts or a distribution
    (rounded; a heavy tail is clipped at MAX_TOKENS)."""
    if isinstance(spec, TokenCounts):
        counts = gen.token_counts(rng, n, spec.mean, spec.cv, spec.max)
        return np.minimum(counts, MAX_TOKENS, out=counts)
    values = np.nan_to_num(np.rint(spec.sample(rng, n)), nan=0.0)
    return np.clip(values, 0, MAX_TOKENS).astype(np.int64)


class _KindCosts:
    """How one kind's per-request values are drawn."""

    def __init__(self, spec: KindSpec, default_service) -> None:
        self.service = spec.service if spec.service is not None else default_service
        self.prompt = spec.prompt_tokens
        self.output = spec.output_tokens


class Workload:
    """The [workload] section made runnable: kind profiles and arrival chunks."""

    def __init__(self, spec: WorkloadSpec, seed: int, horizon_s: float) -> None:
        self.spec = spec
        self.seed = seed
        self.horizon_s = horizon_s
        arrivals = spec.arrivals
        self.trace = arrivals.load() if isinstance(arrivals, TraceArrivals) else None
        if self.trace is not None:
            self._check_replay(arrivals)
        self.closed_loop = isinstance(arrivals, UsersArrivals)
        self.stairs = (arrivals if isinstance(arrivals, StairsArrivals | UserStairsArrivals)
                       else None)
        kinds = dict(spec.mix) or {spec.kind: KindSpec()}
        trace_kinds: list[str] = []
        if self.trace is not None and self.trace.kind is not None:
            trace_kinds = sorted(set(self.trace.kind.tolist()))
            problem = spec.trace_kinds_problem(self.trace)
            if problem:
                raise InputError(problem)
            if not spec.mix:
                kinds.update({k: KindSpec() for k in trace_kinds if k not in kinds})
        self.profiles = [
            KindProfile(name, code, tuple(k.reads), tuple(k.writes), k.db_queries, k.llm)
            for code, (name, k) in enumerate(kinds.items())
        ]
        self.codes = {p.name: p.code for p in self.profiles}
        self._costs = [_KindCosts(k, spec.service) for k in kinds.values()]
        weights = np.array([k.weight for k in kinds.values()], dtype=np.float64)
        self.weights = weights / weights.sum()
        self._cum = np.cumsum(self.weights)
        self._cum[-1] = 1.0
        has_tokens = any(c.prompt is not None or c.output is not None for c in self._costs)
        # rich: chunks carry kinds, ids or tokens (the model's _arrive_rich)
        self.rich = bool(spec.mix) or self.trace is not None or has_tokens
        self._trace_codes = None
        if trace_kinds:
            codes = self.codes
            kind = self.trace.kind  # no list of every row (a trace may hold 20M)
            self._trace_codes = np.fromiter((codes[k] for k in kind), np.int64, len(kind))

    def _check_replay(self, spec: TraceArrivals) -> None:
        """Refuse a replay that is invalid or would be unbounded over the horizon (a lap with
        no length, too many laps, copies or arrivals per simulated second), naming the field."""
        from simscale.workload.traces import replay_problems

        start, end = spec.window_s if spec.window_s is not None else (0.0, None)
        problems = replay_problems(self.trace, self.horizon_s, speed=spec.speed, start_s=start,
                                   end_s=end, loop=spec.loop, rate_scale=spec.rate_scale)
        if problems:
            raise InputError([f"workload.arrivals.{field}: {problem} (trace {self.trace.source})"
                              for field, problem in problems])

    # ------------------------------------------------------------ per-request draws

    def draw_kinds(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` kind codes (int16) drawn by weight (all 0 when there is one kind): code k when
        a uniform u falls in [cum_{k-1}, cum_k), counted as Σ_j [u >= cum_j] (inversion)."""
        codes = np.zeros(n, dtype=np.int16)
        if len(self.profiles) > 1:
            u = rng.random(n)
            for edge in self._cum[:-1]:
                codes += u >= edge
        return codes

    def draw_costs(self, codes: np.ndarray, rngs: Callable[[int, str], np.random.Generator],
                   prompt: np.ndarray | None = None, output: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(work_s, prompt_tokens, output_tokens) for requests of kinds `codes`.

        rngs(code, what) gives the generator for one kind and quantity ("service", "prompt",
        "output"); token columns given (from a trace) are kept as they are.
        """
        n = len(codes)
        work = np.empty(n)
        need_prompt = prompt is None
        need_output = output is None
        if need_prompt:
            prompt = np.zeros(n, dtype=np.int64)
        if need_output:
            output = np.zeros(n, dtype=np.int64)
        single = len(self.profiles) == 1
        for code, costs in enumerate(self._costs):
            mask = slice(None) if single else np.flatnonzero(codes == code)
            count = n if single else len(mask)
            if not count:
                continue
            work[mask] = costs.service.sample(rngs(code, "service"), count)
            if need_prompt and costs.prompt is not None:
                prompt[mask] = sample_tokens(costs.prompt, rngs(code, "prompt"), count)
            if need_output and costs.output is not None:
                output[mask] = sample_tokens(costs.output, rngs(code, "output"), count)
        return work, prompt, output

    # ------------------------------------------------------------ open loop and traces

    def chunks(self) -> Iterator[ArrivalChunk]:
        """The arrivals on [0, horizon_s), chunk by chunk (none for closed-loop users)."""
        arrivals = self.spec.arrivals
        if self.closed_loop:
            return iter(())
        if self.trace is not None:
            return self._trace_chunks(arrivals)
        if not isinstance(arrivals, _OpenLoop):  # pragma: no cover - the union is closed
            raise TypeError(f"unsupported arrivals {arrivals!r}")
        times = arrivals.process().times(stream(self.seed, "arrivals"), self.horizon_s)
        return self._open_chunks(times)

    def _stream_table(self) -> Callable[[int, str], np.random.Generator]:
        """Named streams per kind and quantity, made on first use."""
        table: dict[tuple[int, str], np.random.Generator] = {}
        no_mix = not self.spec.mix

        def rng(code: int, what: str) -> np.random.Generator:
            key = (code, what)
            if key not in table:
                name = self.profiles[code].name
                if what == "service":
                    label = "service" if no_mix and code == 0 else f"workload.service.{name}"
                else:
                    label = f"workload.tokens.{name}.{what}"
                table[key] = stream(self.seed, label)
            return table[key]

        return rng

    def _open_chunks(self, times_iter: Iterator[np.ndarray]) -> Iterator[ArrivalChunk]:
        rngs = self._stream_table()
        if not self.rich:
            service, rng = self.spec.service, rngs(0, "service")
            for times in times_iter:
                yield ArrivalChunk(times, service.sample(rng, len(times)))
            return
        kinds_rng = stream(self.seed, "workload.kinds")
        for times in times_iter:
            codes = self.draw_kinds(kinds_rng, len(times))
            work, prompt, output = self.draw_costs(codes, rngs)
            yield ArrivalChunk(times, work, codes, None, None, prompt, output)

    def _trace_chunks(self, spec: TraceArrivals) -> Iterator[ArrivalChunk]:
        from simscale.workload.traces import replay

        start, end = spec.window_s if spec.window_s is not None else (0.0, None)
        rngs = self._stream_table()
        kinds_rng = stream(self.seed, "workload.kinds")
        for part in replay(self.trace, self.horizon_s, speed=spec.speed, start_s=start,
                           end_s=end, loop=spec.loop, rate_scale=spec.rate_scale,
                           rng=stream(self.seed, "workload.trace")):
            if self._trace_codes is not None:
                codes = self._trace_codes[part.row]
            else:
                codes = self.draw_kinds(kinds_rng, len(part))
            work, prompt, output = self.draw_costs(codes, rngs, part.prompt_tokens,
                                                   part.output_tokens)
            sessions = part.session_id if part.session_id is not None else part.prefix_id
            yield ArrivalChunk(part.arrival_s, work, codes, part.user_id, sessions, prompt,
                               output)


def arrival_chunks(workload: WorkloadSpec, seed: int, horizon_s: float) -> Iterator[ArrivalChunk]:
    """The workload's arrivals on [0, horizon_s) as chunks, drawn from named streams."""
    return Workload(workload, seed, horizon_s).chunks()


# ---------------------------------------------------------------- stages after CPU work


def stage_chain(model, profile: KindProfile) -> Callable | None:
    """The `after_cpu` of requests of kind `profile`: data stages (when the model has a
    datastore), then the LLM call (for an llm kind), then respond; None when there is
    nothing between the CPU work and the response."""
    respond = model.respond
    datastore = model.datastore if profile.touches_data else None
    upstream = model.upstream if profile.llm else None
    # partial() rather than a closure: one Python frame fewer per request
    after_data = partial(upstream.call, then=respond) if upstream is not None else respond
    if datastore is None:
        return after_data if upstream is not None else None
    return partial(datastore.access, then=after_data)


# ---------------------------------------------------------------- the component


class WorkloadComponent:
    """What the workload adds to the model besides arrivals: closed-loop users, the LLM
    upstream, the stress breaking-point analysis and trace counters."""

    def __init__(self, model, spec: WorkloadSpec, upstream_spec) -> None:
        from simscale.model.upstream import Upstream
        from simscale.model.users import Users

        workload: Workload = model.workload
        self.parts: list = []
        if any(p.llm for p in workload.profiles):
            model.upstream = Upstream(model, upstream_spec)
            self.parts.append(model.upstream)
        if workload.closed_loop:
            self.parts.append(Users(model, spec.arrivals, workload))
        if workload.stairs is not None:
            self.parts.append(StressProbe(model, workload.stairs))
        if workload.trace is not None:
            trace = workload.trace

            def trace_totals(summary: dict) -> None:
                summary["trace_rows"] = len(trace)
                summary["trace_skipped_rows"] = trace.skipped_rows

            model.summary_hooks.append(trace_totals)


def attach(model, spec: WorkloadSpec, upstream_spec) -> WorkloadComponent | None:
    """Hook the workload's parts into the model (None when it has none)."""
    component = WorkloadComponent(model, spec, upstream_spec)
    has_trace = model.workload.trace is not None
    return component if component.parts or has_trace else None


# ---------------------------------------------------------------- stress breaking point


class StressProbe:
    """Per-step SLO check of a staircase (of rates, or of closed-loop users), reported as the
    breaking point.

    Each request counts for the step in which it arrived (the load it was offered under),
    unless it arrived in the step's first settle_s seconds. A step's p95 is over its ok
    responses: their latency, their time to first token (`ttft`: those that streamed an
    answer), or both (`api_and_ttft`: the p95 latency of those that streamed none and the
    p95 time to first token of those that did, the larger counting); its error fraction is
    (error + timeout + rejected) / arrivals. A step holds when its p95 is at most slo_p95_s
    and its error fraction at most slo_error_frac. summary.json, with U the unit (rps for a
    rate staircase, users for a user staircase): stress_steps_held (steps that held before
    the first one broke), stress_max_ok_<U> (the level of the last of those; null when the
    first broke), stress_breaking_<U> (the first that broke; null when none did),
    stress_breaking_p95_s (its p95) and stress_max_ok_throughput_rps (ok responses per
    judged second in the last step that held).
    """

    def __init__(self, model, spec) -> None:
        self.spec = spec
        self.horizon_s = model.arrivals_end_s
        self.unit = "users" if isinstance(spec, UserStairsArrivals) else "rps"
        self.levels = spec.levels() if self.unit == "users" else spec.rates_rps()
        self.settle_s = getattr(spec, "settle_s", 0.0)
        self.metric = spec.slo_metric
        steps = len(self.levels)
        self.api: list[list[float]] = [[] for _ in range(steps)]
        self.first: list[list[float]] = [[] for _ in range(steps)]
        self.arrived = [0] * steps
        self.bad = [0] * steps
        model.end_hooks.append(self._on_end)
        model.summary_hooks.append(self._summary)

    def _on_end(self, req, status: int, now: float) -> None:
        arrival = req.info.arrival_s
        step = min(int(arrival // self.spec.step_s), len(self.levels) - 1)
        if arrival - step * self.spec.step_s < self.settle_s:
            return
        self.arrived[step] += 1
        if status != 0:
            self.bad[step] += 1
        elif self.metric == "latency":
            self.api[step].append(now - arrival)
        elif req.ttft_s >= 0:
            self.first[step].append(req.ttft_s)
        elif self.metric == "api_and_ttft":
            self.api[step].append(now - arrival)

    def steps(self) -> list[dict]:
        """One row per step offered during the run: its level, arrivals and ok responses
        judged, p95 of the SLO metric, error fraction, judged seconds."""
        rows = []
        step_s = self.spec.step_s
        for k, level in enumerate(self.levels):
            if k * step_s >= self.horizon_s:
                break
            n = self.arrived[k]
            p95s = [float(np.quantile(v, 0.95)) for v in (self.api[k], self.first[k]) if v]
            end = (k + 1) * step_s if k < len(self.levels) - 1 else self.horizon_s
            rows.append({"level": level, "arrivals": n, "p95_s": max(p95s) if p95s else None,
                         "ok": len(self.api[k]) + len(self.first[k]),
                         "error_frac": self.bad[k] / n if n else 0.0,
                         "judged_s": max(0.0, min(end, self.horizon_s) - k * step_s
                                         - self.settle_s)})
        return rows

    def _summary(self, summary: dict) -> None:
        slo = self.spec.slo_p95_s
        if slo is None:
            return
        held, max_ok, breaking, breaking_p95, throughput = 0, None, None, None, None
        for row in self.steps():
            p95 = row["p95_s"]
            good = p95 is not None and p95 <= slo and row["error_frac"] <= self.spec.slo_error_frac
            if not good:
                breaking, breaking_p95 = row["level"], p95
                break
            held += 1
            max_ok = row["level"]
            throughput = row["ok"] / row["judged_s"] if row["judged_s"] > 0 else None
        summary["stress_steps_held"] = held
        summary[f"stress_max_ok_{self.unit}"] = max_ok
        summary[f"stress_breaking_{self.unit}"] = breaking
        summary["stress_breaking_p95_s"] = breaking_p95
        summary["stress_max_ok_throughput_rps"] = throughput
