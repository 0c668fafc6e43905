"""The simulation model: arrivals → load balancer → instances → one record per arrival.

Speed is designed in: there is no SimPy process per request. Arrivals are known ahead in
sorted chunks, so run_until() merges them with SimPy's event queue instead of pushing each
into it; each CPU job is one reused event (or, under processor sharing, each instance keeps
one pending wake-up); timeouts are one timer over a deadline-ordered queue; metrics are one
periodic event. Control loops added later are ordinary long-lived SimPy processes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np
import simpy

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

        # arrivals: sorted chunks merged with the event queue by run_until()
        self.arrivals_end_s = spec.duration_s
        self._chunks = arrival_chunks(spec.workload, spec.seed, spec.duration_s)
        self._times: list[float] = []
        self._work: list[float] = []
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
        self._win_counts = [0, 0, 0, 0]
        self._win_latencies: list[float] = []
        self._win_start = 0.0
        n = len(self.instances)
        self._win_busy = [0.0] * n
        self._win_cpu = [0.0] * n
        self.busy_slot_s = 0.0
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

    def _load_chunk(self) -> None:
        chunk = next(self._chunks, None)
        if chunk is None:
            self._times, self._work, self._next_arrival_s = [], [], INF
            return
        self._times = chunk.times_s.tolist()
        self._work = chunk.work_s.tolist()
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
        self._win_arrivals += 1
        req = Request(_new_info(RequestInfo, (rid, self._kind, rid, rid, 0, 0, t)), work)
        self.dispatch(req, t)

    # ------------------------------------------------------------ routing

    def dispatch(self, req: Request, now: float) -> None:
        """Send a request through the balancer to an instance (or reject it)."""
        candidates = self.candidates
        if not candidates:
            self.finish(req, REJECTED, now, "NoHealthyInstance")
            return
        try:
            index, _reason = self.balancer.choose(req.info, candidates, now)
            instance = self._candidate_instances[index]
        except Exception as exc:
            raise PolicyFailure(self.balancer_name, now, exc) from exc
        req.attempts += 1
        req.instance = instance
        if not instance.submit(req, now):
            self.finish(req, REJECTED, now, "QueueFull")
            return
        if self._timeout_s is not None:
            self._deadlines.append(req)
            if not self._timer_armed:
                self._arm_timer(now + self._timeout_s, now)

    # ------------------------------------------------------------ completion

    def cpu_done(self, instance: Instance, req: Request, now: float) -> None:
        """An instance finished the request's CPU work: respond and free the slot."""
        if req.status == PENDING:
            latency = now - req.info.arrival_s
            # finish(req, OK, now, "") inlined: this is the hot path
            req.status = OK
            self._win_counts[OK] += 1
            self._win_latencies.append(latency)
            log = self.log
            log.rows.append((req.info, OK, now, req.start_s, instance.instance_id,
                             req.attempts, ""))  # log.add(req, OK, now, ""), inlined
            if len(log.rows) >= log.batch:
                log.flush_rows()
        else:
            latency = None  # it already timed out; the instance finished it for nobody
        instance.release(req, now, latency)

    def finish(self, req: Request, status: int, now: float, reason: str) -> None:
        """Give a request its one terminal status and record it."""
        req.status = status
        self._win_counts[status] += 1
        if status == OK:
            self._win_latencies.append(now - req.info.arrival_s)
        self.log.add(req, status, now, reason)

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

    def _on_metrics(self, _ev) -> None:
        self._emit_metrics(self.env._now)
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
            busy_area, cpu_area = inst.busy_area(now), inst.cpu_area(now)
            busy += busy_area - self._win_busy[k]
            cpu += cpu_area - self._win_cpu[k]
            self._win_busy[k], self._win_cpu[k] = busy_area, cpu_area
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
        while True:
            t_arrival = self._next_arrival_s
            if t_arrival < until:
                while heap and heap[0][0] <= t_arrival:
                    step()
                env._now = t_arrival
                arrive(t_arrival)
            else:
                while heap and heap[0][0] < until:
                    step()
                break
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
