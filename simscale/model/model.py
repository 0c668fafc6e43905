"""The simulation model: arrivals → admission → load balancer → instances → one record each.

Speed is designed in: there is no SimPy process per request. Arrivals are known ahead in
sorted chunks, so run_until() merges them with SimPy's event queue instead of pushing each
into it; each CPU job is one reused event (or, under processor sharing, each instance keeps
one pending wake-up), and run_until fires these pooled events itself rather than through
Environment.step(); timeouts are one timer over a deadline-ordered queue; metrics are one
periodic event (docs/performance.md has the measurements). Control loops (autoscaler,
health checks, faults) are components: ordinary long-lived SimPy processes that change
instances through the lifecycle methods below.

A request's life: arrive → admission checks → balancer picks an instance → slot (or queue)
→ CPU work → `after_cpu` stages (cache, database, LLM upstream; each a wait that holds the
slot) → respond. A failed attempt may be retried on another instance; every arrival ends in
exactly one terminal status.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from heapq import heappop
from math import nextafter

import numpy as np
import simpy
from simpy.core import URGENT

from policies import registry
from policies.views import BOOTING, DRAINING, FAILED, READY, TERMINATED, RequestInfo
from simscale.errors import PolicyFailure
from simscale.model.events import PooledEvent
from simscale.model.instance import Instance
from simscale.model.request import ERROR, OK, PENDING, REJECTED, TIMEOUT, Request
from simscale.model.scopes import ResponseScopes, linear_quantiles
from simscale.model.stages import stage_chain
from simscale.outputs.recorder import RequestLog
from simscale.spec import Spec
from simscale.streams import stream
from simscale.workload.chunks import Workload

INF = float("inf")
_new_info = tuple.__new__  # RequestInfo is a NamedTuple; this skips its Python-level __new__


class Model:
    """One simulated system built from a spec. Drive it with run_until(); read its tables."""

    def __init__(self, spec: Spec, request_log: RequestLog) -> None:
        self.spec = spec
        self.env = simpy.Environment()
        self.log = request_log
        self.events: list[tuple[float, str, str, str]] = []
        self.metric_rows: list[dict] = []
        self.metric_listeners: list[Callable[[dict], None]] = []
        # extension points for components (autoscaler, cache, resilience, workload, alerts)
        self.admission: list[Callable[[RequestInfo, float], str | None]] = []
        self.end_hooks: list[Callable[[Request, int, float], None]] = []
        self.metric_hooks: list[Callable[[dict, float, float], None]] = []
        self.summary_hooks: list[Callable[[dict], None]] = []
        self.retry: Callable[[Request, float, str], bool] | None = None
        # which instances a balancer may choose from (health checks, breakers, panic mode);
        # default: ready and healthy
        self.candidate_selector: Callable[[list[Instance]], list[Instance]] | None = None
        # a component may take over sending an attempt once the balancer has chosen (a crash
        # the balancer has not noticed refuses it; per-try timers, network delay, half-open
        # breakers): on_send(instance, req, now) returns True when it dealt with the attempt.
        # None keeps the hot path free; the resilience component sets it only while needed.
        self.on_send: Callable[[Instance, Request, float], bool] | None = None

        inst = spec.instances
        self.instances: list[Instance] = []
        for _ in range(spec.autoscaling.initial_count(inst.count)):
            self.add_instance(READY, refresh=False)
        self.refresh_candidates()  # once for the initial fleet, not once per instance

        bal = spec.balancer
        self.balancer_name = bal.policy
        self.balancer = registry.build("balancer", bal.policy, bal.config,
                                       stream(spec.seed, f"balancer.{bal.policy}"))
        self._error_rng = stream(spec.seed, "faults.errors")

        # stages after CPU work (simscale.model.stages: the stage contract): the cache
        # component sets `datastore`, simscale.model.components sets `upstream` (the LLM)
        self.datastore = None
        self.upstream = None

        # arrivals: sorted chunks merged with the event queue by run_until()
        self.arrivals_end_s = spec.duration_s
        self.workload = Workload(spec.workload, spec.seed, spec.duration_s)
        self.kinds = self.workload.profiles
        self.kind_stages: list = [None] * len(self.kinds)  # after_cpu per kind code
        self._chunks = self.workload.chunks()
        self._times: list[float] = []
        self._work: list[float] = []
        self._rich = self.workload.rich
        if self._rich:  # kinds, ids or tokens per request
            self._arrive = self._arrive_rich
        self._pos = 0
        self._next_arrival_s = INF
        self._next_id = 0
        self._kind = spec.workload.kind
        self._load_chunk()

        # timeouts: one timeout for all, so deadlines come in arrival order and one timer suffices
        self._timeout_s = spec.timeouts.request_s
        self._deadlines: deque[Request] = deque()
        self._timer_armed = False

        # metrics: window accumulators and run totals
        self.interval_s = spec.metrics.interval_s
        self._win_arrivals = 0
        self._win_counts = [0, 0, 0, 0]  # by status; ok is len(_win_latencies)
        self._win_latencies: list[float] = []
        # with LLM kinds, each ok response's time to first token beside its latency (-1:
        # streamed none), so a window splits into API and streamed responses
        self.scopes = ResponseScopes(any(p.llm for p in self.kinds))
        self._streamed = self.scopes.streamed
        self._win_ttfts: list[float] = []
        self.summary_hooks.append(lambda out: out.update(self.scopes.summary(self.log.ok_latency)))
        self._win_start = 0.0
        self._win_marks: dict[int, tuple[float, float, float]] = {}
        self.busy_slot_s = 0.0
        self.slot_s = 0.0
        self._arm_metrics()

        from simscale.model.components import attach_all

        self.components = attach_all(self)
        self.kind_stages = [stage_chain(self.respond, self.datastore, self.upstream, kind)
                            for kind in self.kinds]

    # ------------------------------------------------------------ instances

    def add_instance(self, state: str = BOOTING, zone: str | None = None,
                     refresh: bool = True) -> Instance:
        """Create an instance in `state` (an autoscaler adds them BOOTING, then calls ready());
        refresh=False leaves the candidate tuple to the caller's refresh_candidates()."""
        spec = self.spec.instances
        iid = len(self.instances)
        if zone is None:
            zone = spec.zones[iid % len(spec.zones)] if spec.zones else ""
        instance = Instance(self, iid, spec.slots, spec.cores_effective, spec.queue_limit,
                            spec.latency_ewma_alpha, state=state, zone=zone)
        self.instances.append(instance)
        self.event("instance", instance.name, "Created" if state == BOOTING else "Started")
        if refresh:
            self.refresh_candidates()
        return instance

    def ready(self, instance: Instance, reason: str = "BootCompleted") -> None:
        """A booting (or recovered) instance starts taking traffic."""
        instance.set_state(READY)
        self.event("instance", instance.name, reason)
        self.refresh_candidates()

    def drain(self, instance: Instance, deadline_s: float, reason: str = "ScaleIn") -> None:
        """Stop sending it traffic; it terminates once empty, or at `deadline_s` from now."""
        if instance.state not in (READY, BOOTING):
            return
        was_booting = instance.state == BOOTING
        instance.set_state(DRAINING)
        self.event("instance", instance.name, f"Draining:{reason}")
        self.refresh_candidates()
        if instance.in_flight == 0 or was_booting:
            self.drained(instance)
            return
        ev = self.env.timeout(deadline_s)
        ev.callbacks.append(lambda _ev: self._drain_deadline(instance))

    def drained(self, instance: Instance) -> None:
        """A draining instance has no work left (or its deadline passed): it terminates."""
        if instance.state != DRAINING:
            return
        instance.set_state(TERMINATED)
        self.event("instance", instance.name, "Terminated")

    def _drain_deadline(self, instance: Instance) -> None:
        if instance.state != DRAINING:
            return
        now = self.env._now
        for req in instance.evacuate():
            if req.status == PENDING:
                self.retry_or_fail(req, now, "DrainDeadline", instance)
        self.drained(instance)

    def crash(self, instance: Instance, reason: str = "Crashed") -> None:
        """The instance dies at once: every request it held fails (and may be retried)."""
        if instance.state in (TERMINATED, FAILED):
            return
        now = self.env._now
        held = instance.evacuate()
        instance.set_state(FAILED)
        self.event("instance", instance.name, reason)
        self.refresh_candidates()
        for req in held:
            if req.status == PENDING:
                self.retry_or_fail(req, now, "InstanceCrashed", instance)

    def recover(self, instance: Instance, reason: str = "Recovered") -> None:
        """A failed instance comes back (ready at once)."""
        if instance.state != FAILED:
            return
        instance.ended_s = None
        self.ready(instance, reason)

    def refresh_candidates(self) -> None:
        """Rebuild the candidate tuple a balancer sees (only when membership, health or weight
        changes: policies may cache what they derive from it, keyed on its identity)."""
        if self.candidate_selector is not None:
            serving = self.candidate_selector(self.instances)
        else:
            serving = [i for i in self.instances if i.state == READY and i.view.healthy]
        self.candidates = tuple(i.view for i in serving)
        self._candidate_instances = serving

    def by_name(self, name: str) -> Instance:
        for instance in self.instances:
            if instance.name == name:
                return instance
        raise KeyError(name)

    def event(self, kind: str, subject: str, reason: str) -> None:
        """Append an event (decision, state change, fault, alert) at the current time."""
        self.events.append((self.env._now, kind, subject, reason))

    # ------------------------------------------------------------ arrivals

    def _load_chunk(self) -> None:
        chunk = next(self._chunks, None)
        if chunk is None:
            self._times, self._work, self._next_arrival_s = [], [], INF
            return
        self._times = chunk.times_s.tolist()
        self._work = chunk.work_s.tolist()
        if self._rich:
            self._codes, self._users, self._sessions, self._prompt, self._output = chunk.lists()
        self._pos = 0
        self._next_arrival_s = self._times[0]

    def _arrive(self, t: float) -> None:
        pos = self._pos
        work = self._work[pos]
        pos += 1
        self._pos = pos
        if pos < len(self._times):
            self._next_arrival_s = self._times[pos]
        else:
            self._load_chunk()
        rid = self._next_id
        self._next_id = rid + 1
        req = Request(_new_info(RequestInfo, (rid, self._kind, rid, rid, 0, 0, t)), work)
        if self.admission or self._timeout_s is not None:
            self.admit(req, t)
        else:  # admit(req, t) with no checks to run and no deadline to track
            self._win_arrivals += 1
            self.dispatch(req, t)

    def _arrive_rich(self, t: float) -> None:
        """_arrive for a workload whose requests have kinds, ids or tokens."""
        pos = self._pos
        work = self._work[pos]
        code = self._codes[pos]
        rid = self._next_id
        self._next_id = rid + 1
        user = rid if self._users is None else self._users[pos]
        session = rid if self._sessions is None else self._sessions[pos]
        info = (rid, self.kinds[code].name, user, session, self._prompt[pos], self._output[pos], t)
        pos += 1
        self._pos = pos
        if pos < len(self._times):
            self._next_arrival_s = self._times[pos]
        else:
            self._load_chunk()
        req = Request(_new_info(RequestInfo, info), work)
        req.data = self.kinds[code]
        req.after_cpu = self.kind_stages[code]
        self.admit(req, t)

    def new_request_id(self) -> int:
        """An id for a request made outside the arrival stream (closed-loop users)."""
        rid = self._next_id
        self._next_id = rid + 1
        return rid

    def send(self, info: RequestInfo, work_s: float, kind_code: int) -> None:
        """A request made outside the arrival stream (closed-loop users): admit it now."""
        req = Request(info, work_s)
        req.data = self.kinds[kind_code]
        req.after_cpu = self.kind_stages[kind_code]
        self.admit(req, self.env._now)

    def admit(self, req: Request, now: float) -> None:
        """A new arrival: count it, run admission checks, dispatch it."""
        self._win_arrivals += 1
        for check in self.admission:
            reason = check(req.info, now)
            if reason:
                self.finish(req, REJECTED, now, reason)
                return
        self.dispatch(req, now)
        if self._timeout_s is not None and req.status == PENDING:
            self._deadlines.append(req)
            if not self._timer_armed:
                self._arm_timer(now + self._timeout_s, now)

    # ------------------------------------------------------------ routing

    def dispatch(self, req: Request, now: float) -> None:
        """Send a request through the balancer to an instance (or reject it)."""
        candidates = self.candidates
        pool = self._candidate_instances
        if req.tried is not None:  # a retry: prefer instances not tried yet
            fresh = [i for i in pool if i not in req.tried]
            if fresh:
                pool = fresh
                candidates = tuple(i.view for i in fresh)
        if not candidates:
            self.finish(req, REJECTED if req.attempts == 0 else ERROR, now, "NoHealthyInstance")
            return
        try:
            index, _reason = self.balancer.choose(req.info, candidates, now)
            instance = pool[index]
        except Exception as exc:
            raise PolicyFailure(self.balancer_name, now, exc) from exc
        req.attempts += 1
        req.instance = instance
        if self.on_send is not None and self.on_send(instance, req, now):
            return
        if not instance.submit(req, now):
            self.finish(req, REJECTED, now, "QueueFull")

    # ------------------------------------------------------------ completion

    def cpu_done(self, instance: Instance, req: Request, now: float) -> None:
        """An instance finished the request's CPU work: go on to its next stage or respond."""
        if req.status != PENDING or req.instance is not instance:
            # it timed out, or its client gave up on this attempt: the work was for nobody
            instance.release(req, now, None)
        elif req.after_cpu is not None:
            req.after_cpu(instance, req, now)
        else:
            self.respond(instance, req, now)

    def respond(self, instance: Instance, req: Request, now: float) -> None:
        """The instance answers the request (or, under a failing-fraction fault, errors)."""
        if req.status != PENDING or req.instance is not instance:
            instance.release(req, now, None)
            return
        if instance.error_frac and self._error_rng.random() < instance.error_frac:
            self.attempt_failed(instance, req, now, "InstanceError")
            return
        info = req.info
        latency = now - info.arrival_s
        if self.end_hooks:
            self.finish(req, OK, now, "")
        else:
            # finish(req, OK, now, "") and RequestLog.add inlined: this is the hot path
            req.status = OK
            self._win_latencies.append(latency)  # ok requests are counted by their latencies
            if self._streamed:
                self._win_ttfts.append(req.ttft_s)
            log = self.log
            rows = log.rows
            rows.append(info + (OK, now, req.start_s, instance.instance_id, req.attempts, "",
                                req.ttft_s))
            if len(rows) >= log.batch:
                log.flush_rows()
        instance.release(req, now, latency)

    def attempt_failed(self, instance: Instance, req: Request, now: float, reason: str) -> None:
        """This attempt failed on `instance`: free its slot, then retry or end as error."""
        instance.release(req, now, None)
        self.retry_or_fail(req, now, reason, instance)

    def retry_or_fail(self, req: Request, now: float, reason: str,
                      instance: Instance | None) -> None:
        """Retry on another instance when the retry policy allows it, else end as error."""
        if self.retry is not None and self.retry(req, now, reason):
            if req.tried is None:
                req.tried = set()
            if instance is not None:
                req.tried.add(instance)
            self.event("retry", instance.name if instance is not None else "", reason)
            self.dispatch(req, now)
            return
        self.finish(req, ERROR, now, reason)

    def abandon(self, req: Request, now: float, reason: str) -> None:
        """The client gives up on the current attempt (a per-try timeout). The instance keeps
        working on it for nobody and frees the slot when done; the request is retried or
        ends as error."""
        instance = req.instance
        req.instance = None
        self.retry_or_fail(req, now, reason, instance)

    def finish(self, req: Request, status: int, now: float, reason: str) -> None:
        """Give a request its one terminal status and record it."""
        req.status = status
        if status == OK:
            self._win_latencies.append(now - req.info.arrival_s)
            if self._streamed:
                self._win_ttfts.append(req.ttft_s)
        else:
            self._win_counts[status] += 1
        self.log.add(req, status, now, reason)
        for hook in self.end_hooks:
            hook(req, status, now)

    # ------------------------------------------------------------ waits

    def begin_wait(self, instance: Instance, req: Request) -> None:
        """The request holds its slot while it waits on something outside the instance."""
        instance.waiting.add(req)

    def end_wait(self, instance: Instance, req: Request, now: float) -> bool:
        """The wait is over. True when the request should go on; False when the instance
        crashed meanwhile (nothing to do) or the request already timed out (slot released)."""
        if req not in instance.waiting:
            return False
        instance.waiting.discard(req)
        if req.status != PENDING or req.instance is not instance:
            instance.release(req, now, None)
            return False
        return True

    def wait(self, instance: Instance, req: Request, delay_s: float,
             then: Callable[[Instance, Request, float], None]) -> None:
        """Hold the slot for `delay_s` seconds, then call then(instance, req, now)."""
        self.begin_wait(instance, req)
        ev = self.env.timeout(delay_s)
        ev.callbacks.append(lambda _ev: self.end_wait(instance, req, self.env._now)
                            and then(instance, req, self.env._now))

    # ------------------------------------------------------------ timeouts

    def _arm_timer(self, at_s: float, now: float) -> None:
        self._timer_armed = True
        ev = self.env.timeout(at_s - now if at_s > now else 0.0)
        ev.callbacks.append(self._on_timer)

    def _on_timer(self, _ev) -> None:
        now = self.env._now
        self._timer_armed = False
        deadlines = self._deadlines
        timeout = self._timeout_s
        while deadlines:
            req = deadlines[0]
            if req.status != PENDING:
                deadlines.popleft()
                continue
            deadline = req.info.arrival_s + timeout
            if deadline > now:
                self._arm_timer(deadline, now)
                return
            deadlines.popleft()
            self.finish(req, TIMEOUT, deadline, "RequestTimeout")

    # ------------------------------------------------------------ metrics

    def _arm_metrics(self) -> None:
        """The next metrics tick, one interval on. It is URGENT, so it fires before anything
        else due at the same instant: a row covers [t_s, t_s + interval_s), and a request
        that ends (or arrives) exactly on a boundary counts in the next row."""
        ev = simpy.Event(self.env)
        ev._ok = True
        ev._value = None
        ev.callbacks.append(self._on_metrics)
        self.env.schedule(ev, URGENT, self.interval_s)

    def _on_metrics(self, _ev) -> None:
        self._emit_metrics(self.env._now)
        self._arm_metrics()

    def _emit_metrics(self, now: float) -> None:
        span = now - self._win_start
        if span <= 0:
            return
        spec = self.spec.instances
        busy = cpu = flight = 0.0
        slots = cores = 0
        in_flight = queued = 0
        states = {BOOTING: 0, READY: 0, DRAINING: 0, FAILED: 0}
        marks = self._win_marks
        for inst in self.instances:
            if inst.ended_s is not None and inst.ended_s < self._win_start:
                continue  # gone before this window
            areas = (inst.busy_area(now), inst.cpu_area(now), inst.in_flight_area(now))
            last = marks.get(inst.instance_id, (0.0, 0.0, 0.0))
            busy += areas[0] - last[0]
            cpu += areas[1] - last[1]
            flight += areas[2] - last[2]
            marks[inst.instance_id] = areas
            in_flight += inst.in_flight
            queued += len(inst.queue)
            if inst.state in states:
                states[inst.state] += 1
            if inst.state == READY:
                slots += inst.slots
                cores += inst.cores
        ready = states[READY]
        counts = self._win_counts
        counts[OK] = len(self._win_latencies)
        ended = sum(counts)
        lat = np.asarray(self._win_latencies)
        p50, p95, p99 = linear_quantiles(lat, (0.5, 0.95, 0.99)) if len(lat) else (None,) * 3
        mean_flight = flight / (ready * span) if ready else 0.0
        row = {  # in the order simscale.outputs.columns.CORE declares
            "t_s": self._win_start,
            "interval_s": span,
            "instances_ready": ready,
            "arrivals_rps": self._win_arrivals / span,
            "throughput_rps": counts[OK] / span,
            "latency_p50_s": p50,
            "latency_p95_s": p95,
            "latency_p99_s": p99,
            "error_rate": (ended - counts[OK]) / ended if ended else 0.0,
            "errors": counts[ERROR],
            "timeouts": counts[TIMEOUT],
            "rejected": counts[REJECTED],
            "utilization": min(1.0, busy / (slots * span)) if slots else 0.0,
            "cpu_util_frac": min(1.0, cpu / (cores * span)) if cores else 0.0,
            "in_flight": in_flight,
            "queued": queued,
            "instances_booting": states[BOOTING],
            "instances_draining": states[DRAINING],
            "instances_failed": states[FAILED],
            **self.scopes.columns(lat, self._win_ttfts, p95),
            "memory_frac": (spec.memory_base_mb + spec.memory_per_request_mb * mean_flight)
            / spec.memory_limit_mb if ready else 0.0,
        }
        for hook in self.metric_hooks:
            hook(row, now, span)
        self.busy_slot_s += busy
        self.slot_s += slots * span
        self.metric_rows.append(row)
        for listener in self.metric_listeners:
            listener(row)
        self._win_start = now
        self._win_arrivals = 0
        self._win_counts = [0, 0, 0, 0]
        self._win_latencies = []
        self._win_ttfts = []

    # ------------------------------------------------------------ driving

    @property
    def now(self) -> float:
        return self.env._now

    @property
    def arrivals(self) -> int:
        return self._next_id

    def in_system_area(self) -> float:
        """Request-seconds spent in the system so far (∫ number in system dt, for Little's law)."""
        return sum(inst.in_flight_area(self.env._now) for inst in self.instances)

    def run_until(self, until: float) -> None:
        """Advance simulated time to `until`, merging arrivals with SimPy's event queue.

        Events and arrivals strictly before `until` are processed; at equal times, queued
        events (completions, timers, control loops) go before the arrival.
        """
        env = self.env
        heap = env._queue
        step = env.step
        arrive = self._arrive
        before_until = nextafter(until, -INF)  # "strictly before until" as t <= before_until
        while True:
            t_arrival = self._next_arrival_s
            arriving = t_arrival < until
            limit = t_arrival if arriving else before_until
            while heap:
                t, _, _, ev = heap[0]
                if t > limit:
                    break
                if ev.__class__ is PooledEvent:  # what step() would do, without the call
                    heappop(heap)
                    env._now = t
                    ev.callbacks[0](ev)
                else:
                    step()
            if not arriving:
                break
            env._now = t_arrival
            arrive(t_arrival)
        if until > env._now:
            env._now = until

    def close_out(self, drain_s: float) -> None:
        """After the arrival window: drain in-flight work, then end every leftover request.

        Requests still unfinished `drain_s` after the last arrival end as timeout with reason
        RunEnded, so every arrival has exactly one terminal status.
        """
        end = self.arrivals_end_s + drain_s
        while self.env._now < end and self.open_requests():
            self.run_until(min(end, self.env._now + self.interval_s))
        now = self.env._now
        for inst in self.instances:
            for req in inst.unfinished():
                if req.status == PENDING:
                    self.finish(req, TIMEOUT, now, "RunEnded")
        if now > self._win_start:
            self._emit_metrics(now)

    def open_requests(self) -> int:
        return sum(inst.in_flight for inst in self.instances)
