"""Every fault the model injects: on instances (resilience.faults) and on cache shards
(cache.faults), each started and ended at its time.

Instance faults: crash and zone_loss use Cluster.crash / recover (overlapping ones count: an
instance comes back when the last fault that took it down ends); slow and errors set the
instance's slowdown / error_frac knobs (overlapping faults combine: factors multiply, error
fractions combine as independent chances); hang makes the instance accept requests and
never answer, and restarts it when the fault ends (its held requests fail, as when a
watchdog kills a hung process); latency_spike delays every response of the targeted
instances by extra_latency_s, holding the slot (set only on requests sent while a spike is
active, through the resilience component's on_send, so the hot path stays free otherwise);
drain removes an instance with connection draining (Cluster.drain). A fault naming an
instance that does not exist (an autoscaler may have started fewer) records
Fault:NoSuchInstance and does nothing.

Shard faults: shard_loss empties a shard and takes it off the ring (its keys remap: a miss
storm follows), and puts it back empty at recover_at_s; shard_join adds a new, empty shard
(simscale.model.cache.shards does the work).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Protocol

from policies.views import DRAINING, READY
from simscale.model.events import at
from simscale.model.instance import Instance
from simscale.model.request import Request
from simscale.model.seam import Cluster
from simscale.model.stages import Next
from simscale.sections.cache import ShardLoss


class InstanceFaults:
    """The instance faults of one run, scheduled by start() (see the module docstring)."""

    def __init__(self, cluster: Cluster, faults: list, refresh: Callable[[], None],
                 on_fault: Callable[[], None]) -> None:
        self.cluster = cluster
        self.faults = faults
        self.refresh = refresh          # the balancer's candidates changed
        self.on_fault = on_fault        # counts a fault that started
        self.spikes: dict[int, object] = {}   # latency spikes running, by fault number
        self._down: dict[int, int] = {}       # faults keeping an instance down
        self._hung: dict[int, int] = {}
        self._factors: dict[int, dict[int, float]] = {}
        self._fractions: dict[int, dict[int, float]] = {}
        self._zone_crashed: dict[int, list[Instance]] = {}
        self._started: set[int] = set()       # instance faults that found their instance
        self._respond_late_cb = self._respond_late  # kept once, so identity checks work

    def start(self) -> None:
        """Schedule every fault's start and end."""
        env = self.cluster.env
        for n, fault in enumerate(self.faults):
            at(env, fault.at_s, partial(self._begin, n, fault))
            end_s = getattr(fault, "end_s", None)  # a drain has no end
            if end_s is not None:
                at(env, end_s, partial(self._end, n, fault))

    # ------------------------------------------------------------ start and end

    def _begin(self, n: int, fault) -> None:
        self.on_fault()
        kind = fault.kind
        if kind == "zone_loss":
            self.cluster.event("fault", fault.target, "ZoneLoss:Started")
            hit = [i for i in self.cluster.instances
                   if i.zone == fault.target and i.running]
            # all of them die; those that were on their way out stay down
            self._zone_crashed[n] = [i for i in hit if i.state != DRAINING]
            for inst in hit:
                self._crash(inst)
            return
        if kind == "latency_spike":
            self.cluster.event("fault", spike_subject(fault), "LatencySpike:Started")
            self.spikes[n] = fault
            self.refresh()
            return
        inst = self._target(fault)
        if inst is None:
            return
        self._started.add(n)
        self.cluster.event("fault", inst.name, f"{_NAMES[kind]}:Started")
        if kind == "crash":
            self._crash(inst)
        elif kind == "slow":
            self._factors.setdefault(inst.instance_id, {})[n] = fault.factor
            self._set_slowdown(inst)
        elif kind == "errors":
            self._fractions.setdefault(inst.instance_id, {})[n] = fault.fraction
            self._set_error_frac(inst)
        elif kind == "hang":
            self._hung[inst.instance_id] = self._hung.get(inst.instance_id, 0) + 1
            inst.hung = True
        elif kind == "drain":
            self.cluster.drain(inst, fault.drain_timeout_s, reason="Removed")

    def _end(self, n: int, fault) -> None:
        kind = fault.kind
        if kind == "zone_loss":
            self.cluster.event("fault", fault.target, "ZoneLoss:Ended")
            for inst in self._zone_crashed.pop(n, []):
                self._uncrash(inst)
            return
        if kind == "latency_spike":
            self.cluster.event("fault", spike_subject(fault), "LatencySpike:Ended")
            self.spikes.pop(n, None)
            self.refresh()
            return
        if n not in self._started:
            return
        inst = self.cluster.instances[fault.target]
        self.cluster.event("fault", inst.name, f"{_NAMES[kind]}:Ended")
        if kind == "crash":
            self._uncrash(inst)
        elif kind == "slow":
            self._factors[inst.instance_id].pop(n, None)
            self._set_slowdown(inst)
        elif kind == "errors":
            self._fractions[inst.instance_id].pop(n, None)
            self._set_error_frac(inst)
        elif kind == "hang":
            self._unhang(inst)

    def _set_slowdown(self, inst: Instance) -> None:
        inst.slowdown = math.prod(self._factors[inst.instance_id].values())

    def _set_error_frac(self, inst: Instance) -> None:
        fractions = self._fractions[inst.instance_id].values()
        inst.error_frac = 1.0 - math.prod(1.0 - f for f in fractions)

    def _unhang(self, inst: Instance) -> None:
        iid = inst.instance_id
        self._hung[iid] -= 1
        if self._hung[iid] == 0:
            inst.hung = False
            if inst.state == READY:  # a watchdog restarts it: what it held fails
                self.cluster.crash(inst, "Restarted:Hung")
                if self._down.get(iid, 0) == 0:
                    self.cluster.recover(inst, "Restarted")

    def _target(self, fault) -> Instance | None:
        """The instance a fault names (None, with an event, when there is no such instance:
        an autoscaler may have started fewer than instances.count)."""
        if fault.target < len(self.cluster.instances):
            return self.cluster.instances[fault.target]
        self.cluster.event("fault", f"instance-{fault.target}", "Fault:NoSuchInstance")
        return None

    def _crash(self, inst: Instance) -> None:
        iid = inst.instance_id
        self._down[iid] = self._down.get(iid, 0) + 1
        if self._down[iid] == 1:
            self.cluster.crash(inst)

    def _uncrash(self, inst: Instance) -> None:
        iid = inst.instance_id
        self._down[iid] -= 1
        if self._down[iid] == 0:
            self.cluster.recover(inst)

    # ------------------------------------------------------------ latency spikes

    def extra_latency_s(self, instance: Instance) -> float:
        """The delay the running spikes add to a response of `instance`, s."""
        extra = 0.0
        for fault in self.spikes.values():
            target = fault.target
            if target is None or target == (instance.zone if isinstance(target, str)
                                            else instance.instance_id):
                extra += fault.extra_latency_s
        return extra

    def delay_response(self, req: Request) -> None:
        """While a spike runs: put the spike's delay in front of the request's stages (once
        per request, however many attempts)."""
        after = req.after_cpu
        if after is None:
            req.after_cpu = self._respond_late_cb
        elif after is not self._respond_late_cb and not (
                isinstance(after, partial) and after.func == self._then_late):
            req.after_cpu = partial(self._then_late, after)

    def _respond_late(self, instance: Instance, req: Request, now: float) -> None:
        """after_cpu during a latency spike: hold the slot for the extra delay, then answer."""
        extra = self.extra_latency_s(instance)
        if extra > 0.0:
            self.cluster.wait(instance, req, extra, self.cluster.respond)
        else:
            self.cluster.respond(instance, req, now)

    def _then_late(self, after: Next, instance: Instance, req: Request, now: float) -> None:
        """A latency spike in front of another component's after_cpu stage."""
        extra = self.extra_latency_s(instance)
        if extra > 0.0:
            self.cluster.wait(instance, req, extra, after)
        else:
            after(instance, req, now)


_NAMES = {"crash": "Crash", "slow": "Slow", "errors": "Errors", "hang": "Hang",
          "drain": "Drain"}


def spike_subject(fault) -> str:
    """What a latency spike's events are about: an instance, a zone, or all."""
    if fault.target is None:
        return "all"
    return fault.target if isinstance(fault.target, str) else f"instance-{fault.target}"


class Shards(Protocol):
    """What shard faults act on (simscale.model.cache.shards.Shards)."""

    def lose(self, index: int) -> None: ...

    def recover(self, index: int) -> None: ...

    def join(self) -> None: ...


class ShardFaults:
    """The cache shard faults of one run: losses (and their recoveries) and joins."""

    def __init__(self, cluster: Cluster, faults: list, shards: Shards) -> None:
        self.cluster = cluster
        self.faults = faults
        self.shards = shards

    def start(self) -> None:
        """Schedule every shard fault (and recovery)."""
        env = self.cluster.env
        shards = self.shards
        for fault in self.faults:
            if fault.kind == "shard_join":
                at(env, fault.at_s, shards.join)
            else:
                at(env, fault.at_s, partial(shards.lose, fault.shard))
            if isinstance(fault, ShardLoss) and fault.recover_at_s is not None:
                at(env, fault.recover_at_s, partial(shards.recover, fault.shard))
