"""The model core: arrivals → admission → load balancer → instances → one record each.

Speed is designed in: there is no SimPy process per request. Arrivals are known ahead in
sorted chunks, so run_until() merges them with SimPy's event queue instead of pushing each
into it; each CPU job is one reused event (or, under processor sharing, each instance keeps
one pending wake-up), and run_until fires these pooled events itself rather than through
Environment.step(); timeouts are one timer over a deadline-ordered queue; metrics are one
periodic event (docs/performance.md has the measurements). Control loops (autoscaler,
health checks, faults) are components: ordinary long-lived SimPy processes that change
instances through the lifecycle methods (simscale.model.lifecycle).

A request's life: arrive → admission checks → balancer picks an instance → slot (or queue)
→ CPU work → `after_cpu` stages (cache, database, LLM upstream; simscale.model.stages) →
respond. A failed attempt may be retried on another instance; every arrival ends in exactly
one terminal status. Components see the model only as a Cluster and plug in through Hooks
(simscale.model.seam); the metrics rows come from simscale.model.window.
"""

from __future__ import annotations

from collections import deque
from heapq import heappop
from math import nextafter

import simpy

from policies import registry
from policies.protocols import Balancer
from policies.views import READY, RequestInfo
from simscale.errors import PolicyFailure
from simscale.model.components import attach_all
from simscale.model.events import EventPool, PooledEvent
from simscale.model.instance import OOM_KILLED, Instance
from simscale.model.lifecycle import InstanceLifecycle
from simscale.model.memory import MemoryPlan
from simscale.model.request import ERROR, OK, PENDING, REJECTED, TIMEOUT, Request
from simscale.model.seam import Hooks
from simscale.model.stages import Next, stage_chain
from simscale.model.window import MetricsWindow
from simscale.outputs.recorder import RequestLog
from simscale.spec import Spec
from simscale.streams import stream
from simscale.workload.chunks import Workload

INF = float("inf")
_new_info = tuple.__new__  # RequestInfo is a NamedTuple; this skips its Python-level __new__


class Model(InstanceLifecycle, MetricsWindow):
    """One simulated system built from a spec. Drive it with run_until(); read its tables.

    It is the Cluster its components see (simscale.model.seam), with `hooks` their plugs.
    """

    def __init__(self, spec: Spec, request_log: RequestLog) -> None:
        self.spec = spec
        self.env = simpy.Environment()
        self.timers = EventPool(self.env)  # pooled events for components' own timers
        self._waited_callbacks = [self._waited]
        self.log = request_log
        self.events: list[tuple[float, str, str, str]] = []
        self.hooks = Hooks()
        # the hook lists the hot path reads, bound once (components append to them)
        self._admission = self.hooks.admission
        self._end_hooks = self.hooks.end
        self._routed = self.hooks.routed

        self._init_arrivals(spec)
        self.memory = MemoryPlan(spec.instances, [p.name for p in self.kinds])
        self.instances: list[Instance] = []
        for _ in range(spec.autoscaling.initial_count(spec.instances.count)):
            self.add_instance(READY, refresh=False)
        self.refresh_candidates()  # once for the initial fleet, not once per instance

        bal = spec.balancer
        self.balancer_name = bal.policy
        self.balancer: Balancer = registry.build("balancer", bal.policy, bal.config,
                                                 stream(spec.seed, f"balancer.{bal.policy}"))
        self._error_rng = stream(spec.seed, "faults.errors")

        # timeouts: one timeout for all, so deadlines come in arrival order and one timer suffices
        self._timeout_s = spec.timeouts.request_s
        self._deadlines: deque[Request] = deque()
        self._timer_armed = False

        self._init_window(any(p.llm for p in self.kinds))
        self.hooks.summary.append(
            lambda out: out.update(self.scopes.summary(self.log.ok_latency)))
        self._arm_metrics()

        self.components = attach_all(self, self.hooks, spec, self.workload, self.balancer, self)
        hooks = self.hooks
        self.kind_stages = [stage_chain(self.respond, hooks.datastore, hooks.upstream, kind,
                                        hooks.network) for kind in self.kinds]

    def _init_arrivals(self, spec: Spec) -> None:
        """Arrivals: sorted chunks merged with the event queue by run_until()."""
        self.arrivals_end_s = spec.duration_s
        self.workload = Workload(spec.workload, spec.seed, spec.duration_s)
        self.kinds = self.workload.profiles
        self.kind_stages: list[Next | None] = [None] * len(self.kinds)  # after_cpu by code
        self._chunks = self.workload.chunks()
        self._times: list[float] = []
        self._work: list[float] = []
        # the network stage needs every request's kind and tokens
        self._rich = self.workload.rich or spec.network.enabled
        if self._rich:  # kinds, ids or tokens per request
            self._arrive = self._arrive_rich
        self._pos = 0
        self._next_arrival_s = INF
        self._next_id = 0
        self._kind = spec.workload.kind
        self._load_chunk()

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
        if self._admission or self._timeout_s is not None:
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
        for check in self._admission:
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
        if self._routed:
            for routed in self._routed:
                routed(instance, req, now)
        on_send = self.hooks.on_send
        if on_send is not None and on_send(instance, req, now):
            return
        refused = instance.submit(req, now)
        if refused is not None:
            if refused is OOM_KILLED:  # taking it would pass the memory limit
                self.hooks.on_oom(instance, req, now)
            else:
                self.finish(req, REJECTED, now, refused)

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
        if self._end_hooks:
            for hook in self._end_hooks:
                hook(req, OK, now)
        instance.release(req, now, latency)

    def attempt_failed(self, instance: Instance, req: Request, now: float, reason: str) -> None:
        """This attempt failed on `instance`: free its slot, then retry or end as error."""
        instance.release(req, now, None)
        self.retry_or_fail(req, now, reason, instance)

    def retry_or_fail(self, req: Request, now: float, reason: str,
                      instance: Instance | None) -> None:
        """Retry on another instance when the retry policy allows it, else end as error."""
        retry = self.hooks.retry
        if retry is not None and retry(req, now, reason):
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
        if req.ttft_s >= 0.0 and req.info.arrival_s + req.ttft_s > self.env._now:
            req.ttft_s = -1.0  # its LLM call's first token, set ahead, had not come yet
        req.status = status
        if status == OK:
            self._win_latencies.append(now - req.info.arrival_s)
            if self._streamed:
                self._win_ttfts.append(req.ttft_s)
        else:
            self._win_counts[status] += 1
        self.log.add(req, status, now, reason)
        for hook in self._end_hooks:
            hook(req, status, now)

    # ------------------------------------------------------------ waits

    def begin_wait(self, instance: Instance, req: Request) -> None:
        """The request holds its slot while it waits on something outside the instance."""
        instance.waiting[req] = None

    def end_wait(self, instance: Instance, req: Request, now: float) -> bool:
        """The wait is over. True when the request should go on; False when the instance
        crashed meanwhile (nothing to do) or the request already timed out (slot released)."""
        if req not in instance.waiting:
            return False
        del instance.waiting[req]
        if req.status != PENDING or req.instance is not instance:
            instance.release(req, now, None)
            return False
        return True

    def wait(self, instance: Instance, req: Request, delay_s: float,
             then: Next) -> None:
        """Hold the slot for `delay_s` seconds, then call then(instance, req, now)."""
        self.begin_wait(instance, req)
        self.timers.at(self.env._now + delay_s, (instance, req, then), self._waited_callbacks)

    def _waited(self, ev) -> None:
        instance, req, then = ev._value
        ev._value = None
        self.timers.free.append(ev)
        now = self.env._now
        if self.end_wait(instance, req, now):
            then(instance, req, now)

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

    # ------------------------------------------------------------ driving

    @property
    def now(self) -> float:
        return self.env._now

    @property
    def arrivals(self) -> int:
        return self._next_id

    @property
    def ok_responses(self) -> int:
        return self.log.counts[OK]

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
        later = self.timers.later  # pooled events only (simscale.model.events)
        step = env.step
        arrive = self._arrive
        before_until = nextafter(until, -INF)  # "strictly before until" as t <= before_until
        while True:
            t_arrival = self._next_arrival_s
            arriving = t_arrival < until
            limit = t_arrival if arriving else before_until
            while True:  # the smaller head of the two heaps, by SimPy's key
                if heap:
                    top = heap[0]
                    if later and later[0] < top:
                        top = later[0]
                        src = later
                    else:
                        src = heap
                elif later:
                    top = later[0]
                    src = later
                else:
                    break
                t = top[0]
                if t > limit:
                    break
                ev = top[3]
                if ev.__class__ is PooledEvent:  # what step() would do, without the call
                    heappop(src)
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
            self.emit_metrics(now)

    def open_requests(self) -> int:
        return sum(inst.in_flight for inst in self.instances)
