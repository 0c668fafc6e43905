"""An app instance: lifecycle, slots, a FIFO queue, and CPU cores shared by processor sharing.

A request holds one of `slots` while the instance serves it; beyond that it waits in a FIFO
queue (bounded by `queue_limit`, None = unbounded). Time on the instance is CPU work plus
waiting (cache, database, the LLM stream): waiting holds a slot but no CPU. CPU work runs on
`cores` cores. When slots <= cores no two CPU jobs ever compete, so each job simply finishes
`work` seconds after it starts (one reused event per job). Otherwise each of n CPU-active jobs
progresses at rate min(1, cores/n): processor sharing, tracked by virtual time, so the
instance keeps one pending wake-up however many jobs share its cores. That wake-up may come
early (a job that arrived since lowered the rate), never late; an early one looks again.
With slots = cores and exponential work, one instance is exactly an M/M/c FCFS queue.

Memory (simscale.model.memory): a request holds memory from submit to release. When every
request holds the same, submit compares the in-flight count with the plan's `check_at`;
otherwise it adds up what each holds (`held_mb`). Over the limit, submit takes nothing and
answers OOM_KILLED (the model kills the instance); over `max_memory_frac`, MEMORY_SHED.

Time integrals (utilization, memory, Little's law) use the identity
∫ busy(t) dt over [0, T] = Σ ends − Σ starts + busy(T)·T, so each start subtracts `now` and
each end adds it: O(1) per event, exact.
"""

from __future__ import annotations

import sys
from collections import deque
from heapq import heappop, heappush
from itertools import count
from typing import TYPE_CHECKING, Protocol

import simpy

from policies.views import BOOTING, DRAINING, FAILED, READY, TERMINATED, InstanceView
from simscale.model.events import EventPool

if TYPE_CHECKING:
    from simscale.model.memory import MemoryPlan

NEVER = sys.maxsize  # an in-flight count no instance reaches

# The simulator owns the views it hands out and refreshes them in place. Calling the slot
# descriptors' __set__ directly bypasses the frozen dataclass's __setattr__ (and is faster
# than object.__setattr__); policies still cannot assign to a view.
_set = object.__setattr__
_set_in_flight = InstanceView.in_flight.__set__
_set_queued = InstanceView.queued.__set__
_set_latency = InstanceView.latency_ewma_s.__set__

# Lifecycle states that are billed and may hold work.
_RUNNING = (BOOTING, READY, DRAINING)

INF = float("inf")

# What submit answers when it does not take a request (None: taken).
QUEUE_FULL = "QueueFull"
MEMORY_SHED = "MemoryShed"
OOM_KILLED = "OOMKilled"

# Relative tolerance when deciding which processor-sharing jobs have finished at a wake-up.
_VTIME_EPS = 1e-9


class Host(Protocol):
    """What an instance needs of the model that runs it (simscale.model.core.Model)."""

    env: simpy.Environment

    def cpu_done(self, instance: Instance, req, now: float) -> None:
        """The instance finished a request's CPU work."""
        ...

    def drained(self, instance: Instance) -> None:
        """A draining instance has no work left."""
        ...


class Instance:
    """One instance. The model calls submit(); the instance calls host.cpu_done()."""

    def __init__(self, host: Host, instance_id: int, slots: int, cores: int,
                 queue_limit: int | None, ewma_alpha: float, state: str = READY,
                 zone: str = "", memory: MemoryPlan | None = None) -> None:
        self.host = host
        self.env: simpy.Environment = host.env
        self.instance_id = instance_id
        self.name = f"instance-{instance_id}"
        self.slots = slots
        self.cores = cores
        self.queue_limit = queue_limit
        self.ewma_alpha = ewma_alpha
        self.zone = zone
        now = self.env._now
        self.view = InstanceView(instance_id, state=state, slots=slots, zone=zone,
                                 ready_since_s=now)
        self.state = state
        self.created_s = now
        self.ended_s: float | None = None   # when it terminated or failed
        # billed time (booting, ready or draining): closed spells + the open one's start
        self._run_sum = 0.0
        self._run_since: float | None = now if state in _RUNNING else None
        self.busy = 0            # slots held
        self.in_flight = 0       # busy + queued
        self.queue: deque = deque()
        # requests holding a slot while they wait (no CPU), in the order they began: a dict
        # used as an ordered set, so a crash or the run's end goes through them in an order
        # that does not depend on where they sit in memory
        self.waiting: dict = {}
        self.latency_ewma_s = 0.0
        self._init_memory(memory)
        self.shared = slots > cores
        # fault knobs: CPU work takes `slowdown`× longer; a hung instance never computes
        self.slowdown = 1.0
        self.hung = False
        self.error_frac = 0.0
        # per-instance counters a metrics scraper reads
        self.responses = 0
        self.latency_sum_s = 0.0
        # running sums behind the integrals: see the module docstring
        self._busy_sum = 0.0
        self._flight_sum = 0.0
        self._cpu_sum = 0.0      # no-contention mode: Σ CPU ends − Σ CPU starts
        self.cpu_active = 0
        # processor-sharing mode state
        self._jobs: list = []    # heap of (finish_vtime, seq, request)
        self._seq = count()
        self._vtime = 0.0        # virtual time: CPU seconds each active job has received
        self._wake_token = 0     # the valid pending wake-up carries this value
        self._wake_at = INF      # when it fires (INF: none)
        self._wake_callbacks = [self._ps_on_wake]
        self._ps_cpu_area = 0.0
        self._ps_at = now        # when _vtime and _ps_cpu_area were brought up to date
        # CPU jobs are pooled events (simscale.model.events); crash handling scans the queue
        self._events = EventPool(self.env)
        self._free_events = self._events.free
        self._cpu_callbacks = [self._cpu_finished]
        self._heap = self.env._queue

    def _init_memory(self, memory: MemoryPlan | None) -> None:
        """Memory (submit checks it once more than check_at requests are on the instance)
        and the OOM restart state."""
        self.memory = memory
        self.mem_check_at = memory.check_at if memory is not None else NEVER
        self.mem_varied = memory is not None and not memory.uniform
        self.held_mb = 0.0       # what the requests on it hold (varied memory only)
        self._held_sum = 0.0
        # an OOM-killed container waiting out its restart back-off: its pod is still there
        # (billed, counted as a replica), not running (simscale.model.oom)
        self.restarting_since: float | None = None
        self._restart_sum = 0.0

    # ------------------------------------------------------------ integrals

    def busy_area(self, now: float) -> float:
        """Slot-seconds held over [0, now]."""
        return self._busy_sum + self.busy * now

    def in_flight_area(self, now: float) -> float:
        """Request-seconds spent on this instance (queued or served) over [0, now]."""
        return self._flight_sum + self.in_flight * now

    def held_area(self, now: float) -> float:
        """MB-seconds held by requests over [0, now] (varied memory only; else 0)."""
        return self._held_sum + self.held_mb * now

    def cpu_area(self, now: float) -> float:
        """Core-seconds of CPU used over [0, now]."""
        if self.shared:
            self._ps_advance(now)
            return self._ps_cpu_area
        return self._cpu_sum + self.cpu_active * now

    # ------------------------------------------------------------ lifecycle

    def set_state(self, state: str) -> None:
        """Change lifecycle state (the model refreshes the balancer's candidates)."""
        self.state = state
        _set(self.view, "state", state)
        if state == READY:
            _set(self.view, "ready_since_s", self.env._now)
        if state in (TERMINATED, FAILED):
            self.ended_s = self.env._now
        if state in _RUNNING:
            if self.restarting_since is not None:
                self.end_restart(self.env._now)
            if self._run_since is None:
                self._run_since = self.env._now
        elif self._run_since is not None:
            self._run_sum += self.env._now - self._run_since
            self._run_since = None

    @property
    def running_since_s(self) -> float | None:
        """When its current spell of booting, ready or draining began (None: not running)."""
        return self._run_since

    def running_s(self, now: float) -> float:
        """Seconds spent booting, ready or draining over [0, now] (what a cloud bills)."""
        since = self._run_since
        return self._run_sum + (now - since if since is not None else 0.0)

    def billed_s(self, now: float) -> float:
        """Seconds billed over [0, now]: running, and waiting out a restart back-off."""
        since = self.restarting_since
        return self.running_s(now) + self._restart_sum + (now - since if since is not None
                                                          else 0.0)

    def begin_restart(self, now: float) -> None:
        """The container was killed and waits to restart: the pod stays (billed, counted)."""
        if self.restarting_since is None:
            self.restarting_since = now

    def end_restart(self, now: float) -> None:
        """The wait is over (it restarted, or something else brought it back)."""
        if self.restarting_since is not None:
            self._restart_sum += now - self.restarting_since
            self.restarting_since = None

    def set_view(self, **fields) -> None:
        """Refresh fields of the balancer's view (health, weight)."""
        for name, value in fields.items():
            _set(self.view, name, value)

    @property
    def exists(self) -> bool:
        """Counted by an autoscaler: requested, booting, ready, or waiting out a restart
        back-off (not draining or gone)."""
        return self.state in (BOOTING, READY) or self.restarting_since is not None

    @property
    def running(self) -> bool:
        """Billed and holding work: booting, ready or draining."""
        return self.state in (BOOTING, READY, DRAINING)

    def evacuate(self) -> list:
        """Crash: drop everything at once and return the requests it held (any stage)."""
        now = self.env._now
        held = [*self.queue, *self.waiting]
        if self.shared:
            held += [job[2] for job in self._jobs]
            self._ps_advance(now)
            self._jobs.clear()
            self._wake_token += 1  # the pending wake-up becomes stale
            self._wake_at = INF
            self.cpu_active = 0
        else:
            for entry in self._heap:
                ev = entry[3]
                if self._is_cpu_job(ev):
                    held.append(ev._value)
                    ev.callbacks = [self._recycle]
            self._cpu_sum += self.cpu_active * now
            self.cpu_active = 0
        self._busy_sum += self.busy * now
        self._flight_sum += self.in_flight * now
        self._held_sum += self.held_mb * now
        self.held_mb = 0.0
        self.busy = self.in_flight = 0
        self.queue.clear()
        self.waiting.clear()
        self.set_view(in_flight=0, queued=0)
        return held

    def unfinished(self) -> list:
        """Requests still queued, waiting or computing (for the end of a run)."""
        if self.shared:
            computing = [job[2] for job in self._jobs]
        else:
            computing = [entry[3]._value for entry in self._heap if self._is_cpu_job(entry[3])]
        return [*self.queue, *self.waiting, *computing]

    # ------------------------------------------------------------ requests

    def submit(self, req, now: float) -> str | None:
        """Accept a request (serve now or queue it) and answer None; else why not:
        QUEUE_FULL, MEMORY_SHED, or OOM_KILLED (taking it would pass the memory limit: the
        caller kills the instance)."""
        self.in_flight += 1
        self._flight_sum -= now
        if self.busy < self.slots:
            if self.in_flight > self.mem_check_at:
                refused = self._memory_refusal(req, now)
                if refused is not None:
                    return refused
            _set_in_flight(self.view, self.in_flight)
            self.busy += 1
            self._busy_sum -= now
            req.start_s = now
            if self.shared or self.hung:
                if self.hung or self.slowdown != 1.0:
                    self.run_cpu(req, req.work_s, now)
                else:  # run_cpu(req, req.work_s, now), inlined
                    self._ps_add(req, req.work_s, now)
                return None
            # run_cpu(req, req.work_s, now), inlined: this is the hot path
            self.cpu_active += 1
            self._cpu_sum -= now
            self._events.at(now + req.work_s * self.slowdown, req, self._cpu_callbacks)
            return None
        limit = self.queue_limit
        if limit is not None and len(self.queue) >= limit:
            self.in_flight -= 1
            self._flight_sum += now
            return QUEUE_FULL
        if self.in_flight > self.mem_check_at:
            refused = self._memory_refusal(req, now)
            if refused is not None:
                return refused
        self.queue.append(req)
        view = self.view
        _set_in_flight(view, self.in_flight)
        _set_queued(view, len(self.queue))
        return None

    def _memory_refusal(self, req, now: float) -> str | None:
        """submit's memory check: None when `req` fits, else why not (it is then not held)."""
        refused = self._take_memory(req, now)
        if refused is not None:
            self.in_flight -= 1
            self._flight_sum += now
        return refused

    def _take_memory(self, req, now: float) -> str | None:
        """Whether `req` fits (None: it does, and holds its memory from now), else why not.
        A health probe (request id < 0) that does not fit is refused, not a killer."""
        plan = self.memory
        if self.mem_varied:
            need = plan.request_mb(req)
            total = plan.base_mb + self.held_mb + need
            shed = plan.shed_mb is not None and total > plan.shed_mb
            oom = total > plan.limit_mb
        else:
            shed = self.in_flight > plan.shed_at
            oom = self.in_flight > plan.oom_at
        if shed:
            return MEMORY_SHED
        if oom:
            return OOM_KILLED if req.info.request_id >= 0 else MEMORY_SHED
        if self.mem_varied:
            req.mem_mb = need
            self.held_mb += need
            self._held_sum -= need * now
        return None

    def _drop_memory(self, req, now: float) -> None:
        """`req` left the instance: what it held is free (varied memory)."""
        held = req.mem_mb
        self.held_mb -= held
        self._held_sum += held * now

    def _start(self, req, now: float) -> None:
        """A queued request takes the slot just freed."""
        self.busy += 1
        self._busy_sum -= now
        req.start_s = now
        self.run_cpu(req, req.work_s, now)

    def run_cpu(self, req, work_s: float, now: float) -> None:
        """Start `work_s` core-seconds of CPU work for `req`; host.cpu_done(self, req) follows."""
        if self.hung:
            self.waiting[req] = None  # accepted, never answered
            return
        work_s *= self.slowdown
        if self.shared:
            self._ps_add(req, work_s, now)
            return
        self.cpu_active += 1
        self._cpu_sum -= now
        self._events.at(now + work_s, req, self._cpu_callbacks)

    def _is_cpu_job(self, ev) -> bool:
        """Whether a queued event is one of this instance's pending CPU jobs."""
        return ev.callbacks is self._cpu_callbacks

    def _cpu_finished(self, ev) -> None:
        req = ev._value
        self._free_events.append(ev)
        now = self.env._now
        self.cpu_active -= 1
        self._cpu_sum += now
        self.host.cpu_done(self, req, now)

    def _recycle(self, ev) -> None:
        """A CPU job whose instance crashed: its event returns to the pool, nothing else."""
        self._free_events.append(ev)

    def release(self, req, now: float, latency_s: float | None) -> None:
        """The request left its slot: update the EWMA, start the next queued request."""
        self.busy -= 1
        self._busy_sum += now
        self.in_flight -= 1
        self._flight_sum += now
        if self.mem_varied:
            self._drop_memory(req, now)
        view = self.view
        if latency_s is not None:
            self.responses += 1
            self.latency_sum_s += latency_s
            a = self.ewma_alpha
            ewma = self.latency_ewma_s
            self.latency_ewma_s = latency_s if ewma == 0.0 else a * latency_s + (1.0 - a) * ewma
            _set_latency(view, self.latency_ewma_s)
        queue = self.queue
        while queue:
            nxt = queue.popleft()
            if nxt.status >= 0:  # it timed out while queued: the client is gone
                self.in_flight -= 1
                self._flight_sum += now
                if self.mem_varied:
                    self._drop_memory(nxt, now)
                continue
            _set_queued(view, len(queue))
            _set_in_flight(view, self.in_flight)
            self._start(nxt, now)
            return
        if view.queued:
            _set_queued(view, 0)
        _set_in_flight(view, self.in_flight)
        if self.in_flight == 0 and self.state == DRAINING:
            self.host.drained(self)

    # ------------------------------------------------------------ processor sharing

    def _ps_advance(self, now: float) -> None:
        """Bring virtual time and the CPU area up to `now`: each of n jobs got
        min(1, cores/n) of a core since the last update."""
        dt = now - self._ps_at
        if dt > 0.0:
            n = len(self._jobs)
            cores = self.cores
            if n > cores:
                self._vtime += dt * cores / n
                self._ps_cpu_area += cores * dt
            elif n:
                self._vtime += dt
                self._ps_cpu_area += n * dt
            self._ps_at = now

    def _ps_add(self, req, work_s: float, now: float) -> None:
        self._ps_advance(now)
        jobs = self._jobs
        n = len(jobs)
        cores = self.cores
        entry = (self._vtime + work_s, next(self._seq), req)
        heappush(jobs, entry)
        self.cpu_active = n + 1
        # The pending wake-up may be early, never late: a lower rate only delays every job,
        # and an early wake-up looks again. Only a new head that ends sooner needs a new one.
        if jobs[0] is entry:
            at = now + work_s * (1.0 if n < cores else (n + 1) / cores)
            if at < self._wake_at:
                self._ps_schedule_wake(now)

    def _ps_schedule_wake(self, now: float) -> None:
        """Schedule the wake-up for the head job's end (any earlier one becomes stale)."""
        self._wake_token += 1
        jobs = self._jobs
        if not jobs:
            self._wake_at = INF
            return
        n = len(jobs)
        delay = (jobs[0][0] - self._vtime) * (1.0 if n <= self.cores else n / self.cores)
        self._wake_at = at = now + delay if delay > 0.0 else now
        self._events.at(at, self._wake_token, self._wake_callbacks)

    def _ps_on_wake(self, ev) -> None:
        self._free_events.append(ev)
        if ev._value != self._wake_token:
            return  # superseded by a later schedule
        now = self.env._now
        self._ps_advance(now)
        jobs = self._jobs
        limit = self._vtime + _VTIME_EPS * (1.0 + abs(self._vtime))
        if not jobs or jobs[0][0] > limit:  # early: a job that came since slowed them all
            self.cpu_active = len(jobs)
            self._ps_schedule_wake(now)
            return
        done = heappop(jobs)[2]
        if jobs and jobs[0][0] <= limit:  # several end at once (rare)
            finished = [done]
            while jobs and jobs[0][0] <= limit:
                finished.append(heappop(jobs)[2])
            self.cpu_active = len(jobs)
            self._ps_schedule_wake(now)
            for req in finished:
                self.host.cpu_done(self, req, now)
            return
        self.cpu_active = len(jobs)
        self._ps_schedule_wake(now)
        self.host.cpu_done(self, done, now)
