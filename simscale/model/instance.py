"""An app instance: slots, a FIFO queue, and CPU cores shared by processor sharing.

A request holds one of `slots` while the instance serves it; beyond that it waits in a FIFO
queue (bounded by `queue_limit`, None = unbounded). CPU work runs on `cores` cores: with n
CPU-active requests each progresses at rate min(1, cores/n). That is tracked by virtual
time, so the instance keeps one pending completion event however many requests share it.
With slots = cores and exponential work, one instance is exactly an M/M/c FCFS queue.
"""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush

from policies.views import READY, InstanceView

_set = object.__setattr__  # the simulator owns the views it hands out and refreshes them in place

# Relative tolerance when deciding which jobs have finished at a wake-up.
_VTIME_EPS = 1e-9


class Instance:
    """One instance. The model calls submit(); the instance calls model.instance_done()."""

    def __init__(self, model, instance_id: int, slots: int, cores: int,
                 queue_limit: int | None, ewma_alpha: float) -> None:
        self.model = model
        self.env = model.env
        self.instance_id = instance_id
        self.slots = slots
        self.cores = cores
        self.queue_limit = queue_limit
        self.ewma_alpha = ewma_alpha
        self.view = InstanceView(instance_id, state=READY, slots=slots)
        self.state = READY
        self.busy = 0            # slots held
        self.in_flight = 0       # busy + queued
        self.queue: deque = deque()
        self.latency_ewma_s = 0.0
        # processor sharing by virtual time: each CPU job finishes when vtime reaches its tag
        self._jobs: list = []    # heap of (finish_vtime, seq, request)
        self._seq = 0
        self._vtime = 0.0
        self._vtime_at = 0.0
        self._wake_token = 0
        # time integrals for utilization: slot-seconds held, CPU core-seconds used
        self.busy_area = 0.0
        self.cpu_area = 0.0
        self._area_at = 0.0

    # ------------------------------------------------------------ accounting

    def account(self, now: float) -> None:
        """Bring the busy and CPU integrals up to `now`."""
        dt = now - self._area_at
        if dt > 0.0:
            self.busy_area += self.busy * dt
            n = len(self._jobs)
            self.cpu_area += (n if n < self.cores else self.cores) * dt
            self._area_at = now

    # ------------------------------------------------------------ requests

    def submit(self, req) -> bool:
        """Accept a request (serve now or queue it); False when the queue is full."""
        if self.busy < self.slots:
            self.in_flight += 1
            _set(self.view, "in_flight", self.in_flight)
            self._start(req, self.env._now)
            return True
        limit = self.queue_limit
        if limit is not None and len(self.queue) >= limit:
            return False
        self.queue.append(req)
        self.in_flight += 1
        view = self.view
        _set(view, "in_flight", self.in_flight)
        _set(view, "queued", len(self.queue))
        return True

    def _start(self, req, now: float) -> None:
        self.account(now)
        self.busy += 1
        req.start_s = now
        self.run_cpu(req, req.work_s, now)

    def run_cpu(self, req, work_s: float, now: float) -> None:
        """Start `work_s` core-seconds of CPU work for `req`; cpu_done(req) follows."""
        self.account(now)
        jobs = self._jobs
        n = len(jobs)
        cores = self.cores
        if n:
            self._vtime += (now - self._vtime_at) * (1.0 if n <= cores else cores / n)
        self._vtime_at = now
        self._seq += 1
        entry = (self._vtime + work_s, self._seq, req)
        heappush(jobs, entry)
        # The pending wake-up stays right unless this job is the new head or the rate dropped.
        if jobs[0] is entry or n >= cores:
            self._schedule_wake(now)

    def _schedule_wake(self, now: float) -> None:
        jobs = self._jobs
        if not jobs:
            return
        n = len(jobs)
        rate = 1.0 if n <= self.cores else self.cores / n
        self._wake_token += 1
        delay = (jobs[0][0] - self._vtime) / rate
        ev = self.env.timeout(delay if delay > 0.0 else 0.0, self._wake_token)
        ev.callbacks.append(self._on_wake)

    def _on_wake(self, ev) -> None:
        if ev._value != self._wake_token:
            return  # superseded by a later schedule
        now = self.env._now
        self.account(now)
        jobs = self._jobs
        n = len(jobs)
        self._vtime += (now - self._vtime_at) * (1.0 if n <= self.cores else self.cores / n)
        self._vtime_at = now
        limit = self._vtime + _VTIME_EPS * (1.0 + abs(self._vtime))
        finished = []
        while jobs and jobs[0][0] <= limit:
            finished.append(heappop(jobs)[2])
        self._schedule_wake(now)
        for req in finished:
            self.model.cpu_done(self, req, now)

    def release(self, req, now: float, latency_s: float | None) -> None:
        """The request left its slot: update EWMA, start the next queued request."""
        self.account(now)
        self.busy -= 1
        self.in_flight -= 1
        view = self.view
        if latency_s is not None:
            a = self.ewma_alpha
            self.latency_ewma_s = latency_s if self.latency_ewma_s == 0.0 else (
                a * latency_s + (1.0 - a) * self.latency_ewma_s)
            _set(view, "latency_ewma_s", self.latency_ewma_s)
        queue = self.queue
        while queue:
            nxt = queue.popleft()
            if nxt.status >= 0:  # it timed out while queued: the client is gone
                self.in_flight -= 1
                continue
            _set(view, "queued", len(queue))
            _set(view, "in_flight", self.in_flight)
            self._start(nxt, now)
            return
        _set(view, "queued", 0)
        _set(view, "in_flight", self.in_flight)
