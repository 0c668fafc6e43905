"""Detection: which instances the balancer may choose, from health checks, outlier ejection,
circuit breakers and panic mode.

What the balancer knows. With any detection mechanism configured (health checks, outlier
detection or breakers) the balancer learns of a crash only through them, as a proxy does: a
crashed instance stays in its host list, and an attempt sent there is refused at once
(reason ConnectionRefused; it counts as a failure, like Envoy's connect failures, which
outlier detection counts as 5xx by default). Without one, the balancer learns at once.

The candidate set, rebuilt on every change of membership, health, breaker state or weight:

  members  = ready instances (+ failed ones, when detection is configured)
  healthy  = members passing active health checks and not ejected by outlier detection
  pool     = healthy, or every member when healthy / members < panic threshold (Envoy's
             healthy_panic_threshold: an ejected host "will not be used during load balancing
             unless the load balancer is in a panic scenario")
  chosen   = pool without instances whose breaker is open (or half-open with its probes
             in flight): a client-side breaker fails fast even in panic

Attempt outcomes feed the breakers and outlier detection: an answer is a success; an error
(fault), a crash while serving, a refused connection, a per-try timeout, the drain deadline
and the request timeout are failures; a full queue (QueueFull, a local 503) is neither. A
host that active health checking finds healthy again is also returned from ejection (as
Envoy does). The detectors are the production ones in policies/resilience.
"""

from __future__ import annotations

import math
from functools import partial

from policies.resilience import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    CircuitBreaker,
    OutlierDetector,
    Transition,
    in_panic,
)
from policies.views import BOOTING, FAILED, READY, TERMINATED
from simscale.errors import PolicyFailure
from simscale.model.events import at
from simscale.model.faults import InstanceFaults
from simscale.model.instance import Instance
from simscale.model.request import Request
from simscale.model.resilience.health import HealthChecks
from simscale.model.resilience.shared import Counters, Member
from simscale.model.resilience.slow_start import SlowStart
from simscale.model.seam import Cluster


class Detection:
    """The members of one run and what the balancer may choose among them."""

    def __init__(self, cluster: Cluster, section, counters: Counters,
                 faults: InstanceFaults) -> None:
        self.cluster = cluster
        self.env = cluster.env
        self.counters = counters
        self.configured = bool(section.health_check or section.outlier_detection
                               or section.circuit_breaker)
        self.outlier = (OutlierDetector(section.outlier_detection.config)
                        if section.outlier_detection else None)
        self.breaker_config = (section.circuit_breaker.config if section.circuit_breaker
                               else None)
        self.panic_percent = section.panic_threshold_percent
        self.members: dict[int, Member] = {}
        self.slow_start = SlowStart(self.env, section.slow_start, self.refresh)
        self.health = (HealthChecks(cluster, section.health_check, self.members, counters,
                                    faults, self.health_changed)
                       if section.health_check else None)
        self.panic = False
        self.n_members = 0
        self.n_healthy = 0
        self.half_open = False          # some breaker is half-open (after the last select)
        self.failed_in_pool = False     # a crashed instance may still be chosen
        self._selecting = False
        self._sweeps: set[float] = set()   # scheduled outlier-return wake-ups

    def refresh(self) -> None:
        """Rebuild the balancer's candidates (unless a rebuild is running already)."""
        if not self._selecting:
            self.cluster.refresh_candidates()

    def join(self, inst: Instance, offset_s: float = 0.0, initial: bool = False) -> Member:
        """Track a new instance (initial: present at t = 0, healthy at once)."""
        m = self.members[inst.instance_id] = Member(inst)
        if self.health is not None:
            self.health.join(m, offset_s, initial)
        if self.breaker_config is not None:
            m.breaker = CircuitBreaker(self.breaker_config, partial(self._breaker_moved, m))
        m.sync_view()
        return m

    # ------------------------------------------------------------ the candidates

    def select(self, instances: list[Instance]) -> list[Instance]:
        """The instances the balancer may choose (see the module docstring)."""
        self._selecting = True
        try:
            members = self.members
            for inst in instances:
                m = members.get(inst.instance_id)
                if m is None:
                    m = self.join(inst)
                if inst.state != m.state:
                    self._state_changed(m, inst.state)
            detect = self.configured
            everyone = [i for i in instances
                        if i.state == READY or (detect and i.state == FAILED)]
            healthy = [i for i in everyone if members[i.instance_id].available]
            self._set_panic(len(healthy) < len(everyone) and in_panic(
                len(healthy), len(everyone), self.panic_percent))
            pool = everyone if self.panic else healthy
            self.half_open = False
            if self.breaker_config is not None:
                pool = [i for i in pool if members[i.instance_id].admits]
                self.half_open = any(m.breaker.state == HALF_OPEN for m in members.values())
            self.n_members = len(everyone)
            self.n_healthy = len(healthy)
            self.failed_in_pool = detect and any(i.state == FAILED for i in pool)
            return pool
        finally:
            self._selecting = False

    def _set_panic(self, panic: bool) -> None:
        if panic != self.panic:
            self.panic = panic
            self.cluster.event("panic", "balancer", "Panic:BelowThreshold" if panic
                               else "HealthyOnly")

    def _state_changed(self, m: Member, new: str) -> None:
        old, m.state = m.state, new
        now = self.env._now
        if new != READY and self.health is not None:  # the instance left: its probe with it
            self.health.left(m, new, now)
        if new == READY and old in (BOOTING, FAILED):
            if self.health is not None:
                self.health.chain(m, 0.0)  # a host that becomes ready is probed at once
            self.slow_start.start(m, now)
        elif new != READY:
            self.slow_start.stop(m)
        if new == TERMINATED:
            m.token += 1  # no more probes
            if self.outlier is not None:
                self.outlier.forget(m.instance.instance_id)
                m.ejected = False

    def health_changed(self, m: Member, now: float) -> None:
        """Health checks changed m's verdict: healthy again returns it from ejection and
        ramps it up; either way the balancer learns."""
        inst = m.instance
        if m.hc_ok:
            if m.ejected and self.outlier is not None:
                e = self.outlier.uneject(inst.instance_id, now)
                if e is not None:
                    m.ejected = False
                    self.cluster.event("outlier", inst.name, e.reason)
            if inst.state == READY:
                self.slow_start.start(m, now)
        m.sync_view()
        self.refresh()

    # ------------------------------------------------------------ attempts

    def refuses(self, instance: Instance, req: Request, now: float) -> bool:
        """An attempt the balancer just sent: refused by a crashed instance or an open
        breaker (then retried or failed here: True); a half-open breaker counts its probes."""
        if instance.state == FAILED:
            self.cluster.retry_or_fail(req, now, "ConnectionRefused", instance)
            return True
        if self.breaker_config is not None:
            m = self.members[instance.instance_id]
            if m.breaker.state != CLOSED:
                if not m.breaker.allow(now):  # not expected: it left the candidates in time
                    req.instance = None  # refused here, not by the instance
                    self.cluster.retry_or_fail(req, now, "BreakerOpen", instance)
                    return True
                if m.breaker.state == HALF_OPEN:
                    m.probes_left -= 1
                    if m.probes_left <= 0:
                        self.refresh()
        return False

    def rejected(self, instance: Instance, now: float) -> None:
        """A full queue turned a request away: no failure of the instance, except to a
        half-open breaker (a probe it turned away must not leave it waiting for ever)."""
        if self.breaker_config is not None:
            m = self.members.get(instance.instance_id)
            if m is not None and m.breaker.state == HALF_OPEN:
                m.breaker.record(False, now)

    def record(self, instance: Instance, ok: bool, now: float) -> None:
        """One attempt's outcome into the instance's breaker and outlier detection."""
        m = self.members.get(instance.instance_id)
        if m is None:
            return
        if m.breaker is not None:
            try:
                m.breaker.record(ok, now)  # transitions arrive through _breaker_moved
            except Exception as exc:
                raise PolicyFailure("circuit_breaker", now, exc) from exc
        if self.outlier is not None:
            try:
                events = self.outlier.record(instance.instance_id, ok, now, self.n_members)
            except Exception as exc:
                raise PolicyFailure("outlier_detection", now, exc) from exc
            if events:
                self._outlier_events(events)

    # ------------------------------------------------------------ breakers and ejections

    def _breaker_moved(self, m: Member, t: Transition) -> None:
        self.cluster.event("breaker", m.instance.name, t.reason)
        if t.new_state == OPEN:
            self.counters.add("breaker_trips")
            m.probes_left = 0
            at(self.env, m.breaker.reopen_at_s, partial(self._breaker_poll, m))
        elif t.new_state == HALF_OPEN:
            m.probes_left = m.breaker.config.half_open_probes
        self.refresh()

    def _breaker_poll(self, m: Member) -> None:
        m.breaker.poll(self.env._now)  # open → half-open when its time is up

    def _outlier_events(self, events) -> None:
        for e in events:
            m = self.members.get(e.instance_id)
            if m is None:
                continue
            m.ejected = e.ejected
            self.cluster.event("outlier", m.instance.name, e.reason)
            if e.ejected:
                self.counters.add("ejections")
            m.sync_view()
        self._schedule_sweep()
        self.refresh()

    def _schedule_sweep(self) -> None:
        """Wake at the next return from ejection (the detector has no timer of its own)."""
        at_s = self.outlier.next_return_s
        if at_s < math.inf and at_s not in self._sweeps:
            self._sweeps.add(at_s)
            at(self.env, at_s, partial(self._outlier_sweep, at_s))

    def _outlier_sweep(self, at_s: float) -> None:
        self._sweeps.discard(at_s)
        events = self.outlier.sweep(self.env._now)
        if events:
            self._outlier_events(events)
        else:
            self._schedule_sweep()

    # ------------------------------------------------------------ outputs

    def counts(self) -> tuple[int, int, int, int]:
        """(healthy, ejected, breakers not closed, panic as 0 or 1), for the metrics row."""
        ejected = sum(1 for m in self.members.values() if m.ejected)
        breakers = sum(1 for m in self.members.values()
                       if m.breaker is not None and m.breaker.state != CLOSED)
        return self.n_healthy, ejected, breakers, int(self.panic)

