"""The size of a run as a whole: simulated events estimated from a spec, against one cap.

Each field has its own bound (simscale.limits), but bounds multiply: a rate that is fine
for a minute is not fine for a month, and a probe interval that is fine for four instances
is not for ten thousand. `estimate(spec)` adds up the work a run will do, as terms that name
the fields they come from:

- requests: the peak arrival rate × duration_s (open loop); the window's rows × rate_scale ×
  laps (a trace); users × duration_s / the shortest turn (closed loop); each weighted by the
  stages a request of the mix goes through and multiplied by its retries; the requests the
  API sources send (dashboard polls, metric pushes);
- control loops, each round visiting every instance of the largest fleet: metrics rows,
  health probes, scrapes and autoscaler syncs, slow-start updates; the switches of a
  bursty arrival process; and the keys cache warming looks at.

Loops run until the drain ends (duration_s + timeouts.request_s, or 60 s). The estimate is
an upper bound in spirit, not an exact count; `budget_problem` refuses a spec whose total
is above MAX_EVENTS_PER_RUN, naming the largest terms' fields.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from simscale.limits import MAX_EVENTS_PER_RUN
from simscale.sections import workload as w

LAP_EVENTS = 10  # a lap of a looped trace costs about as much as ten requests (measured)


class Term(NamedTuple):
    """One part of a run's work: what it is, the field most to blame, the fields it comes
    from (as a formula), how many events."""

    what: str
    field: str
    formula: str
    events: float


def horizon_s(spec: Any) -> float:
    """Simulated time a run's control loops can last: the arrivals, then the drain."""
    timeout_s = spec.timeouts.request_s
    return spec.duration_s + (timeout_s if timeout_s is not None else 60.0)


def estimate(spec: Any) -> list[Term]:
    """The terms of a validated spec's work (events), largest first."""
    terms = [*request_terms(spec), *loop_terms(spec), *cache_terms(spec)]
    return sorted(terms, key=lambda t: -t.events)


def budget_problem(spec: Any) -> tuple[str, str] | None:
    """(the field most to blame, why the spec is too big to run), or None when its work fits
    MAX_EVENTS_PER_RUN."""
    try:
        terms = estimate(spec)
    except ValueError as exc:  # a looped trace window without a length
        field, _, why = str(exc).partition(": ")
        return field, why
    total = sum(t.events for t in terms)
    if total <= MAX_EVENTS_PER_RUN:
        return None
    top = [t for t in terms if t.events >= 0.1 * terms[0].events][:3]
    parts = "; ".join(f"{t.formula} makes {t.events:.3g} {t.what}" for t in top)
    return top[0].field, (
        f"the run would simulate about {total:.3g} events, more than the "
        f"{MAX_EVENTS_PER_RUN:.0e} a run may ({parts}); lower one of them or split the run")


# ---------------------------------------------------------------- requests


def request_terms(spec: Any) -> list[Term]:
    """Requests (arrivals × the stages they go through × attempts) and arrival-side work."""
    arrivals = spec.workload.arrivals
    count, field, formula, extra = arrival_count(spec.workload, spec.duration_s)
    stages = stages_per_request(spec)
    attempts = attempts_per_request(spec, count)
    if stages > 1:
        formula += f" × the mix's stages ({stages:.3g} a request on average{heaviest_kind(spec)})"
    if attempts > 1:
        formula += " × resilience.retry.max_attempts"
    terms = [Term("request events", field, formula, count * stages * attempts)]
    if isinstance(arrivals, w.MMPP2Arrivals):
        switches = (arrivals.switch12_per_s + arrivals.switch21_per_s) * spec.duration_s
        terms.append(Term("state switches", "workload.arrivals.switch12_per_s",
                          "(workload.arrivals.switch12_per_s + switch21_per_s) × duration_s",
                          switches))
    return terms + extra + source_terms(spec)


def source_terms(spec: Any) -> list[Term]:
    """Requests the API sources send: dashboard polls, metric pushes (one per instance of
    the largest fleet each interval), load-test starts."""
    wl, terms = spec.workload, []
    if wl.dashboard is not None:
        polls = wl.dashboard.process().expected_count(0.0, spec.duration_s)
        terms.append(Term("dashboard polls", "workload.dashboard.viewers",
                          "workload.dashboard.viewers × duration_s / interval_s", polls))
    if wl.metrics_push is not None:
        pushes = largest_fleet(spec) * spec.duration_s / wl.metrics_push.interval_s
        terms.append(Term("metric pushes", "workload.metrics_push.interval_s",
                          "instances × duration_s / workload.metrics_push.interval_s", pushes))
    return terms


def arrival_count(workload: Any, duration_s: float) -> tuple[float, str, str, list[Term]]:
    """(expected arrivals at most, the field most to blame, the formula, other terms)."""
    arrivals = workload.arrivals
    if isinstance(arrivals, w.TraceArrivals):
        return trace_count(arrivals, duration_s)
    if isinstance(arrivals, w.UsersArrivals):
        turn_s = arrivals.think_s.mean() + shortest_service_s(workload)
        count = math.inf if turn_s <= 0 else arrivals.total_users * duration_s / turn_s
        return (count, "workload.arrivals.users",
                "workload.arrivals.users × duration_s / (think_s + service)", [])
    field, rate_rps = peak_rate(arrivals)
    field = f"workload.arrivals.{field}"
    return rate_rps * duration_s, field, f"{field} × duration_s", []


def peak_rate(arrivals: Any) -> tuple[str, float]:
    """(the field that sets it, the highest arrival rate of an open-loop process)."""
    a = arrivals
    if isinstance(a, w.ScheduleArrivals):
        return "points", max(rate for _, rate in a.points)
    if isinstance(a, w.RampUpArrivals):
        return "end_rps", max(a.start_rps, a.end_rps)
    if isinstance(a, w.StepArrivals | w.SpikeArrivals):
        high = a.step_rps if isinstance(a, w.StepArrivals) else a.peak_rps
        return ("step_rps" if isinstance(a, w.StepArrivals) else "peak_rps"), max(a.base_rps,
                                                                                   high)
    if isinstance(a, w.StairsArrivals):
        return "step_rps", max(a.rates_rps())
    if isinstance(a, w.SinusoidArrivals):
        return "mean_rps", a.mean_rps + a.amplitude_rps
    if isinstance(a, w.HourlyArrivals):
        return "rates_rps", max(a.rates_rps)
    if isinstance(a, w.RecordedArrivals):
        from simscale.serve.recorded import rate_points

        points = rate_points(a.path, a.start_s, a.end_s, a.rate_scale)
        return "rate_scale", max((rate for _, rate in points), default=0.0)
    if isinstance(a, w.MMPP2Arrivals):
        return "rate1_rps", max(a.rate1_rps, a.rate2_rps)
    return "rate_rps", a.rate_rps  # poisson, soak, renewal


def trace_count(arrivals: Any, duration_s: float) -> tuple[float, str, str, list[Term]]:
    """Arrivals of a trace replay: the window's rows × rate_scale, per lap when looped."""
    import numpy as np

    from simscale.workload.traces import replay_period_s, replay_problems

    trace = arrivals.load()
    start_s, end_s = arrivals.window_s if arrivals.window_s is not None else (0.0, None)
    times = trace.arrival_s
    lo = int(np.searchsorted(times, start_s, side="left"))
    hi = len(times) if end_s is None else int(np.searchsorted(times, end_s, side="left"))
    rows = max(hi - lo, 0)
    field = "workload.arrivals.rate_scale"
    formula = "the trace's rows × workload.arrivals.rate_scale"
    problems = replay_problems(trace, duration_s, speed=arrivals.speed, start_s=start_s,
                               end_s=end_s, loop=arrivals.loop, rate_scale=arrivals.rate_scale)
    if problems:  # the replay's own limits (a lap with no length, too many laps or copies)
        raise ValueError("; ".join(f"workload.arrivals.{name}: {problem}"
                                   for name, problem in problems))
    if arrivals.loop and rows:
        period_s = replay_period_s(trace, start_s, end_s)
    if not arrivals.loop or rows == 0:
        return rows * arrivals.rate_scale, field, formula, []
    laps = duration_s * arrivals.speed / period_s
    laps = math.ceil(laps) if math.isfinite(laps) else math.inf
    blame = "workload.arrivals.speed" if arrivals.speed > 1 else "workload.arrivals.window_s"
    lap_term = Term("events of replay laps", blame,
                    "duration_s × workload.arrivals.speed / the window's length",
                    LAP_EVENTS * laps)
    return (rows * arrivals.rate_scale * laps, blame,
            formula + " × laps (duration_s × speed / the window's length)", [lap_term])


def shortest_service_s(workload: Any) -> float:
    """The smallest mean CPU time among the request kinds (what a turn takes at least)."""
    means = [workload.service.mean()]
    means += [k.service.mean() for k in workload.mix.values() if k.service is not None]
    return min(means)


def stages_per_request(spec: Any) -> float:
    """Events of one request on average over the mix: its CPU work, plus cache lookups and
    database queries (with a cache), plus its LLM call, plus the end of its transfer (with a
    network bandwidth)."""
    network = 1.0 if spec.network.bandwidth_bps is not None else 0.0
    mix = spec.workload.mix
    if not mix:
        return 1.0 + network
    cache_on = spec.cache.enabled
    total = weight = 0.0
    for kind in mix.values():
        events = 1.0 + network + (1.0 if kind.llm else 0.0)
        if cache_on:
            touches = len(kind.reads) + len(kind.writes)
            events += touches + len(kind.reads) * kind.db_queries
        total += kind.weight * events
        weight += kind.weight
    return total / weight


def heaviest_kind(spec: Any) -> str:
    """Which kind of the mix goes through the most stages, said as `; most: FIELD: N` (empty
    without a mix of several stages): the field a user lowers when the stages are too many."""
    mix = spec.workload.mix
    if not mix or not spec.cache.enabled:
        return ""
    name, kind = max(mix.items(), key=lambda item: len(item[1].reads) * item[1].db_queries
                     + len(item[1].reads) + len(item[1].writes))
    touches = len(kind.reads) + len(kind.writes) + len(kind.reads) * kind.db_queries
    return (f"; most: workload.mix.{name}: {touches:.3g} cache and database stages from its "
            f"reads, writes and db_queries")


def attempts_per_request(spec: Any, arrivals: float) -> float:
    """Attempts per arrival at most: retries up to max_attempts, within the budget."""
    retry = spec.resilience.retry
    if retry is None or retry.max_attempts == 1 or arrivals <= 0 or math.isinf(arrivals):
        return 1.0
    retries = (retry.max_attempts - 1) * arrivals
    if retry.budget_ratio is not None:
        budget = retry.budget_ratio * arrivals + retry.min_retries_per_s * spec.duration_s
        retries = min(retries, budget)
    return 1.0 + retries / arrivals


# ---------------------------------------------------------------- control loops


def largest_fleet(spec: Any) -> int:
    """The most instances the run can have at once."""
    if spec.autoscaling.enabled:
        return max(spec.autoscaling.max_replicas, spec.instances.count)
    return spec.instances.count


def loop_terms(spec: Any) -> list[Term]:
    """Rounds of each control loop × the instances each round visits."""
    fleet = largest_fleet(spec)
    run_s = horizon_s(spec)
    fleet_field = ("autoscaling.params.max_replicas" if spec.autoscaling.enabled
                   else "instances.count")
    terms = [Term("instance visits by metrics rows", "metrics.interval_s",
                  f"{fleet_field} × duration_s / metrics.interval_s",
                  fleet * run_s / spec.metrics.interval_s)]
    res = spec.resilience
    if res.health_check is not None:
        hc = res.health_check
        interval_s = min(hc.interval_s, hc.unhealthy_interval_s or hc.interval_s)
        terms.append(Term("health probes", "resilience.health_check.interval_s",
                          f"{fleet_field} × duration_s / resilience.health_check.interval_s",
                          fleet * run_s / interval_s))
    if res.slow_start is not None:
        terms.append(Term("slow-start updates", "resilience.slow_start.update_interval_s",
                          f"{fleet_field} × duration_s / resilience.slow_start.update_interval_s",
                          fleet * run_s / res.slow_start.update_interval_s))
    if spec.autoscaling.enabled:
        auto = spec.autoscaling
        terms.append(Term("instance visits by scrapes", "autoscaling.scrape_interval_s",
                          f"{fleet_field} × duration_s / autoscaling.scrape_interval_s",
                          fleet * run_s / auto.scrape_interval_s))
        terms.append(Term("instance visits by autoscaler syncs",
                          "autoscaling.params.sync_period_s",
                          f"{fleet_field} × duration_s / autoscaling.params.sync_period_s",
                          fleet * run_s / auto.sync_period_s))
    return terms


def cache_terms(spec: Any) -> list[Term]:
    """Cache warming: each warming finds a shard's top_k keys among all shards' (about
    shards × top_k keys looked at), at start for every shard and at each join or recovery."""
    cache = spec.cache
    warming = cache.warming
    if not cache.enabled or not warming.top_k:
        return []
    from simscale.sections.cache import ShardJoin, ShardLoss

    joins = sum(isinstance(f, ShardJoin) or (isinstance(f, ShardLoss)
                                             and f.recover_at_s is not None)
                for f in cache.faults)
    shards = cache.shards + sum(isinstance(f, ShardJoin) for f in cache.faults)
    warmings = (1 if warming.on_start else 0) + (joins if warming.on_join else 0)
    return [Term("keys looked at by cache warming", "cache.warming.top_k",
                 "cache.warming.top_k × cache.shards × (start + joins and recoveries)",
                 warming.top_k * shards * warmings)]
