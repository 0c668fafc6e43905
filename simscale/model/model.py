"""The simulation model: arrivals → load balancer → instances → one record per arrival.

Speed is designed in: no SimPy process per request. Arrivals are one re-armed event, each
instance keeps one pending completion event (processor sharing by virtual time), timeouts
are one timer over a deadline-ordered queue, and metrics are sampled by one periodic event.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np
import simpy
from simpy.core import NORMAL

from policies import registry
from policies.views import READY, RequestInfo
from simscale.errors import PolicyFailure
from simscale.model.instance import Instance
from simscale.model.request import ERROR, OK, PENDING, REJECTED, TIMEOUT, Request
from simscale.model.workload import arrival_chunks
from simscale.recorder import RequestLog
from simscale.spec import Spec
from simscale.streams import stream

INF = float("inf")


class Model:
    """One simulated system built from a spec. Drive it with run_until(); read its tables."""

    def __init__(self, spec: Spec, request_log: RequestLog) -> None:
        self.spec = spec
        self.env = simpy.Environment()
        self.log = request_log
        self.events: list[tuple[float, str, str, str]] = []
        self.metric_rows: list[dict] = []
        self.metric_listeners: list[Callable[[dict], None]] = []
        self.failure: PolicyFailure | None = None

        inst = spec.instances
        self.instances = [
            Instance(self, i, inst.slots, inst.cores_effective, inst.queue_limit,
                     inst.latency_ewma_alpha)
            for i in range(inst.count)
        ]
        self._refresh_candidates()

        bal = spec.balancer
        self.balancer_name = bal.policy
        self.balancer = registry.build("balancer", bal.policy, bal.config,
                                       stream(spec.seed, f"balancer.{bal.policy}"))

        # arrivals: one event object, re-armed for each arrival
        self.arrivals_end_s = spec.duration_s
        self._chunks = arrival_chunks(spec.workload, spec.seed, spec.duration_s)
        self._times: list[float] = []
        self._work: list[float] = []
        self._pos = 0
        self._next_id = 0
        self._kind = spec.workload.kind
        self._arrival_ev = simpy.Event(self.env)
        self._arrival_ev._ok = True
        self._arrival_ev._value = None
        self._timeout_s = spec.timeouts.request_s
        self._arm_next_arrival(0.0)

        # timeouts: deadlines are in arrival order (one timeout for all), so one timer suffices
        self._deadlines: deque[Request] = deque()
        self._timer_armed_for = INF

        # metrics window accumulators
        self.interval_s = spec.metrics.interval_s
        self._win_arrivals = 0
        self._win_counts = [0, 0, 0, 0]
        self._win_latencies: list[float] = []
        self._win_start = 0.0
        self._win_busy = [0.0] * len(self.instances)
        self._win_cpu = [0.0] * len(self.instances)
        self.busy_slot_s = 0.0  # run totals behind the summary's utilization
        self.slot_s = 0.0
        ev = self.env.timeout(self.interval_s)
        ev.callbacks.append(self._on_metrics)

    # ------------------------------------------------------------ membership

    def _refresh_candidates(self) -> None:
        """Rebuild the candidate tuple a balancer sees (only when membership or health changes)."""
        serving = [i for i in self.instances if i.state == READY and i.view.healthy]
        self.candidates = tuple(i.view for i in serving)
        self._candidate_instances = serving

    def event(self, kind: str, subject: str, reason: str) -> None:
        """Append an event (decision, state change, fault, alert) at the current time."""
        self.events.append((self.env._now, kind, subject, reason))

    # ------------------------------------------------------------ arrivals

    def _arm_next_arrival(self, now: float) -> None:
        if self._pos >= len(self._times):
            chunk = next(self._chunks, None)
            if chunk is None:
                return
            self._times = chunk.times_s.tolist()
            self._work = chunk.work_s.tolist()
            self._pos = 0
        ev = self._arrival_ev
        ev.callbacks = [self._on_arrival]
        delay = self._times[self._pos] - now
        self.env.schedule(ev, NORMAL, delay if delay > 0.0 else 0.0)

    def _on_arrival(self, _ev) -> None:
        pos = self._pos
        t = self._times[pos]
        work = self._work[pos]
        self._pos = pos + 1
        rid = self._next_id
        self._next_id = rid + 1
        info = RequestInfo(rid, self._kind, rid, rid, 0, 0, t)
        timeout = self._timeout_s
        req = Request(info, work, t + timeout if timeout is not None else INF)
        self._win_arrivals += 1
        self.dispatch(req, t)
        self._arm_next_arrival(t)

    # ------------------------------------------------------------ routing

    def dispatch(self, req: Request, now: float) -> None:
        """Send a request through the balancer to an instance (or reject it)."""
        candidates = self.candidates
        if not candidates:
            req.reason = "NoHealthyInstance"
            self.finish(req, REJECTED, now)
            return
        try:
            index, _reason = self.balancer.choose(req.info, candidates, now)
            instance = self._candidate_instances[index]
        except Exception as exc:
            raise PolicyFailure(self.balancer_name, now, exc) from exc
        req.attempts += 1
        req.instance = instance
        if not instance.submit(req):
            req.reason = "QueueFull"
            self.finish(req, REJECTED, now)
            return
        if req.deadline_s < INF:
            self._deadlines.append(req)
            if self._timer_armed_for == INF:
                self._arm_timer(req.deadline_s, now)

    # ------------------------------------------------------------ completion

    def cpu_done(self, instance: Instance, req: Request, now: float) -> None:
        """An instance finished the request's CPU work: respond and free the slot."""
        if req.status == PENDING:
            latency = now - req.arrival_s
            self.finish(req, OK, now)
        else:
            latency = None  # it already timed out; the instance finished it for nobody
        instance.release(req, now, latency)

    def finish(self, req: Request, status: int, now: float) -> None:
        """Give a request its one terminal status and record it."""
        req.status = status
        req.end_s = now
        self._win_counts[status] += 1
        if status == OK:
            self._win_latencies.append(now - req.arrival_s)
        self.log.add(req)

    # ------------------------------------------------------------ timeouts

    def _arm_timer(self, at_s: float, now: float) -> None:
        self._timer_armed_for = at_s
        ev = self.env.timeout(at_s - now if at_s > now else 0.0)
        ev.callbacks.append(self._on_timer)

    def _on_timer(self, _ev) -> None:
        now = self.env._now
        self._timer_armed_for = INF
        deadlines = self._deadlines
        while deadlines:
            req = deadlines[0]
            if req.status != PENDING:
                deadlines.popleft()
                continue
            if req.deadline_s > now:
                self._arm_timer(req.deadline_s, now)
                return
            deadlines.popleft()
            req.reason = "RequestTimeout"
            self.finish(req, TIMEOUT, req.deadline_s)

    # ------------------------------------------------------------ metrics

    def _on_metrics(self, _ev) -> None:
        now = self.env._now
        self._emit_metrics(now)
        ev = self.env.timeout(self.interval_s)
        ev.callbacks.append(self._on_metrics)

    def _emit_metrics(self, now: float) -> None:
        span = now - self._win_start
        if span <= 0:
            return
        busy = cpu = 0.0
        slots = cores = 0
        in_flight = queued = ready = 0
        for k, inst in enumerate(self.instances):
            inst.account(now)
            busy += inst.busy_area - self._win_busy[k]
            cpu += inst.cpu_area - self._win_cpu[k]
            self._win_busy[k] = inst.busy_area
            self._win_cpu[k] = inst.cpu_area
            in_flight += inst.in_flight
            queued += len(inst.queue)
            if inst.state == READY:
                ready += 1
                slots += inst.slots
                cores += inst.cores
        counts = self._win_counts
        ended = sum(counts)
        lat = np.asarray(self._win_latencies)
        p50, p95, p99 = (np.quantile(lat, [0.5, 0.95, 0.99]).tolist() if len(lat)
                         else (None, None, None))
        row = {
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
            "utilization": busy / (slots * span) if slots else 0.0,
            "cpu_util_frac": cpu / (cores * span) if cores else 0.0,
            "in_flight": in_flight,
            "queued": queued,
        }
        self.busy_slot_s += busy
        self.slot_s += slots * span
        self.metric_rows.append(row)
        for listener in self.metric_listeners:
            listener(row)
        self._win_start = now
        self._win_arrivals = 0
        self._win_counts = [0, 0, 0, 0]
        self._win_latencies = []

    # ------------------------------------------------------------ driving

    @property
    def now(self) -> float:
        return self.env._now

    @property
    def arrivals(self) -> int:
        return self._next_id

    def run_until(self, t_s: float) -> None:
        """Advance simulated time to t_s (raises PolicyFailure if a policy raised)."""
        if t_s > self.env._now:
            self.env.run(until=t_s)

    def close_out(self, drain_s: float) -> None:
        """After the arrival window: drain in-flight work, then end every leftover request.

        Requests still unfinished `drain_s` after the last arrival end as timeout with reason
        RunEnded, so every arrival has exactly one terminal status.
        """
        end = self.arrivals_end_s + drain_s
        step = self.interval_s
        while self.env._now < end and self.open_requests():
            self.env.run(until=min(end, self.env._now + step))
        now = self.env._now
        for inst in self.instances:
            for req in [*inst.queue, *(j[2] for j in inst._jobs)]:
                if req.status == PENDING:
                    req.reason = "RunEnded"
                    self.finish(req, TIMEOUT, now)
        if now > self._win_start:
            self._emit_metrics(now)

    def open_requests(self) -> int:
        return sum(inst.in_flight for inst in self.instances)
