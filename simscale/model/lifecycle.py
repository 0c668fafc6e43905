"""The instances' lifecycle as the model runs it: create, ready, drain, crash, recover.

A mixin of simscale.model.core.Model (it shares the model's state: the instances, the
candidate tuple the balancer sees, events). Control loops (the autoscaler, faults, health
checks) change instances only through these methods, named in simscale.model.seam.Cluster.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from policies.views import BOOTING, DRAINING, FAILED, READY, TERMINATED, InstanceView
from simscale.model.instance import Instance
from simscale.model.memory import MemoryPlan
from simscale.model.request import PENDING, Request
from simscale.model.seam import Hooks
from simscale.spec import Spec


class InstanceLifecycle:
    """Creating instances and moving them through booting → ready → draining → terminated
    (or failed → recovered), keeping the balancer's candidates in step."""

    # the model's state this mixin reads and writes (set by Model.__init__)
    env: simpy.Environment
    spec: Spec
    hooks: Hooks
    memory: MemoryPlan
    instances: list[Instance]
    events: list[tuple[float, str, str, str]]
    candidates: tuple[InstanceView, ...]
    _candidate_instances: list[Instance]
    retry_or_fail: Callable[[Request, float, str, Instance | None], None]

    def add_instance(self, state: str = BOOTING, zone: str | None = None,
                     refresh: bool = True) -> Instance:
        """Create an instance in `state` (an autoscaler adds them BOOTING, then calls ready());
        refresh=False leaves the candidate tuple to the caller's refresh_candidates()."""
        spec = self.spec.instances
        iid = len(self.instances)
        if zone is None:
            zone = spec.zones[iid % len(spec.zones)] if spec.zones else ""
        instance = Instance(self, iid, spec.slots, spec.cores_effective, spec.queue_limit,
                            spec.latency_ewma_alpha, state=state, zone=zone,
                            memory=self.memory)
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
            if _its_attempt(req, instance):
                self.retry_or_fail(req, now, "DrainDeadline", instance)
        self.drained(instance)

    def crash(self, instance: Instance, reason: str = "Crashed",
              failure: str = "InstanceCrashed") -> None:
        """The instance dies at once (event `reason`): every request it held fails with
        reason `failure` (and may be retried)."""
        if instance.state in (TERMINATED, FAILED):
            return
        now = self.env._now
        held = instance.evacuate()
        instance.set_state(FAILED)
        self.event("instance", instance.name, reason)
        self.refresh_candidates()
        for req in held:
            if _its_attempt(req, instance):
                self.retry_or_fail(req, now, failure, instance)

    def recover(self, instance: Instance, reason: str = "Recovered") -> None:
        """A failed instance comes back (ready at once)."""
        if instance.state != FAILED:
            return
        instance.ended_s = None
        self.ready(instance, reason)

    def refresh_candidates(self) -> None:
        """Rebuild the candidate tuple a balancer sees (only when membership, health or weight
        changes: policies may cache what they derive from it, keyed on its identity)."""
        selector = self.hooks.candidate_selector
        if selector is not None:
            serving = selector(self.instances)
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

    def event_at(self, t_s: float, kind: str, subject: str, reason: str) -> None:
        """Append an event at t_s (an alert's transition, timed at its metrics row's end)."""
        self.events.append((t_s, kind, subject, reason))


def _its_attempt(req: Request, instance: Instance) -> bool:
    """Whether a request the instance held still waits on it: pending, not abandoned for an
    attempt elsewhere (a per-try timeout), and not a health probe (its own timer fails it)."""
    return req.status == PENDING and req.instance is instance and req.info.request_id >= 0
