"""The OOM killer: an instance that a request would take past its memory limit is killed, and
restarted after the crash-loop back-off (simscale.model.memory has the model and the maths).
"""

from __future__ import annotations

from policies.views import DRAINING, FAILED
from simscale.model.events import at
from simscale.model.memory import restart_backoff_s
from simscale.model.seam import Cluster, Hooks
from simscale.spec import InstancesSpec


class _Restarts:
    """One instance's crash-loop state."""

    __slots__ = ("backoff_s", "started_s", "token")

    def __init__(self, started_s: float) -> None:
        self.backoff_s: float | None = None
        self.started_s = started_s
        self.token = 0


class OomKiller:
    """Kills an instance that a request would take past its memory limit, and restarts it
    after the back-off (the Hooks' `on_oom`). A draining instance is not restarted: it was
    leaving, and stays failed."""

    def __init__(self, cluster: Cluster, hooks: Hooks, spec: InstancesSpec) -> None:
        self.cluster = cluster
        self.spec = spec
        self._state: dict[int, _Restarts] = {}
        self.kills = 0
        self.restarts = 0
        hooks.on_oom = self.kill
        hooks.summary.append(self.summary)

    def kill(self, instance, req, now: float) -> None:
        """`req` would take `instance` past its limit: kill it; both fail (or are retried)."""
        leaving = instance.state == DRAINING
        self.kills += 1
        cluster = self.cluster
        cluster.crash(instance, "OOMKilled", "OOMKilled")
        cluster.retry_or_fail(req, now, "OOMKilled", instance)
        if leaving:
            return
        instance.begin_restart(now)
        state = self._state.get(instance.instance_id)
        if state is None:
            state = self._state[instance.instance_id] = _Restarts(instance.created_s)
        spec = self.spec
        state.backoff_s = restart_backoff_s(state.backoff_s, now - state.started_s,
                                            spec.restart_backoff_s, spec.restart_backoff_max_s,
                                            spec.restart_backoff_reset_s)
        state.token += 1
        cluster.event("instance", instance.name, f"BackOff:{state.backoff_s:g}s")
        token = state.token
        at(cluster.env, now + state.backoff_s, lambda: self._restart(instance, state, token))

    def _restart(self, instance, state: _Restarts, token: int) -> None:
        if state.token != token or instance.state != FAILED:
            return  # killed again since, or brought back by something else (a fault's end)
        state.started_s = self.cluster.now
        self.restarts += 1
        self.cluster.recover(instance, "Restarted")

    def summary(self, out: dict) -> None:
        """oom_kills and restarts, present when an instance was killed."""
        if self.kills:
            out["oom_kills"] = self.kills
            out["oom_restarts"] = self.restarts
