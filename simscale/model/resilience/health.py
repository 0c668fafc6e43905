"""Active health checks (HAProxy `inter`/`rise`/`fall`, Envoy health_checks) as probes.

One probe per instance every interval, staggered across instances. A probe is a tiny
request: it takes a slot (it queues behind requests when all are busy) and probe_cost_s CPU
seconds, so an overloaded or hung instance fails its checks as a real one does; a crashed
instance refuses probes; a full queue answers 503; a latency spike delays the answer. Probes
never appear in requests.parquet. Probing stops when the arrival window closes. The verdict
of each probe goes to the instance's policies.resilience.HealthChecker; a change of health
is handed to the detection room (on_change), which acts on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from policies.resilience import HealthChecker
from policies.views import FAILED, READY, TERMINATED, RequestInfo
from simscale.errors import PolicyFailure
from simscale.model.faults import InstanceFaults
from simscale.model.instance import Instance
from simscale.model.request import PENDING, Request
from simscale.model.resilience.shared import PROBE_DONE, Counters, Member
from simscale.model.seam import Cluster


class HealthChecks:
    """The probe chains of one run; `spec` is the section's health_check."""

    def __init__(self, cluster: Cluster, spec, members: dict[int, Member], counters: Counters,
                 faults: InstanceFaults, on_change: Callable[[Member, float], None]) -> None:
        self.cluster = cluster
        self.env = cluster.env
        self.config = spec.config
        self.interval_s = self.config.interval_s
        self.probe_cost_s = spec.probe_cost_s
        self.members = members
        self.counters = counters
        self.faults = faults
        self.on_change = on_change
        self.stop_s = cluster.arrivals_end_s
        self._probe_done_cb = self._probe_done  # kept once: a probe's after_cpu

    def join(self, m: Member, offset_s: float, initial: bool) -> None:
        """Give a new member its checker (healthy at once when present at t = 0: the run
        starts steady) and start probing it after offset_s."""
        m.checker = HealthChecker(self.config)
        if initial:
            m.checker.healthy = True
        m.hc_ok = m.checker.healthy
        self.chain(m, offset_s)

    def chain(self, m: Member, delay_s: float) -> None:
        """Start a new chain of probes for m, the first after delay_s (older chains stop)."""
        m.token += 1
        token = m.token
        ev = self.env.timeout(delay_s)
        ev.callbacks.append(lambda _ev: self._tick(m, token))

    def left(self, m: Member, new_state: str, now: float) -> None:
        """m's instance left the ready state: its probe goes with it (a crash resets the
        connection: a failed probe)."""
        if m.probe is not None:
            m.probe.status = PROBE_DONE
            m.probe = None
            if new_state == FAILED:
                self._result(m, False, now, None)

    def stop(self) -> None:
        """The arrival window closed: abandon the probes in flight (no probe outlives the
        run, so none is ever mistaken for a request)."""
        for m in self.members.values():
            if m.probe is not None:
                m.probe.status = PROBE_DONE
                m.probe = None

    # ------------------------------------------------------------ one probe

    def _tick(self, m: Member, token: int) -> None:
        if token != m.token:
            return
        now = self.env._now
        if now >= self.stop_s:
            return
        inst = m.instance
        state = inst.state
        if state == TERMINATED:
            return
        if state == READY:
            if m.probe is None:  # HAProxy and Envoy never overlap checks of one server
                self._send(m, now)
        elif state == FAILED:
            self._result(m, False, now, None)  # connection refused
        ev = self.env.timeout(m.checker.next_interval_s)
        ev.callbacks.append(lambda _ev: self._tick(m, token))

    def _send(self, m: Member, now: float) -> None:
        inst = m.instance
        probe = Request(RequestInfo(-1, "health_check", -1, -1, 0, 0, now), self.probe_cost_s)
        probe.instance = inst
        probe.after_cpu = self._probe_done_cb
        self.counters.add("probes")
        if inst.submit(probe, now) is not None:  # a full queue (or memory) answers 503
            probe.status = PROBE_DONE
            self._result(m, False, now, None)
            return
        m.probe = probe
        m.probe_sent_s = now
        ev = self.env.timeout(self.config.timeout_s)
        ev.callbacks.append(lambda _ev: self._timeout(m, probe))

    def _probe_done(self, instance: Instance, probe: Request, now: float) -> None:
        """after_cpu of a probe: the instance computed the answer (a spike delays it)."""
        faults = self.faults
        extra = faults.extra_latency_s(instance) if faults.spikes else 0.0
        if extra > 0.0:
            self.cluster.wait(instance, probe, extra, self._answered)
        else:
            self._answered(instance, probe, now)

    def _answered(self, instance: Instance, probe: Request, now: float) -> None:
        instance.release(probe, now, None)
        probe.status = PROBE_DONE
        m = self.members[instance.instance_id]
        if m.probe is probe:
            m.probe = None
            self._result(m, True, now, now - m.probe_sent_s)

    def _timeout(self, m: Member, probe: Request) -> None:
        if probe.status != PENDING:
            return
        probe.status = PROBE_DONE  # the instance frees the slot when (if) it gets to it
        if m.probe is probe:
            m.probe = None
            self._result(m, False, self.env._now, math.inf)

    def _result(self, m: Member, ok: bool, now: float, latency_s: float | None) -> None:
        if not ok:
            self.counters.add("probes_failed")
        try:
            t = m.checker.record_probe(ok, now, latency_s)
        except Exception as exc:
            raise PolicyFailure("health_check", now, exc) from exc
        if t is None:
            return
        self.cluster.event("health", m.instance.name, t.reason)
        m.hc_ok = m.checker.healthy
        if not m.hc_ok:
            self.counters.add("health_marked_unhealthy")
        self.on_change(m, now)
