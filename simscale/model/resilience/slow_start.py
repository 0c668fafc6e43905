"""Slow start (Envoy slow_start_config, HAProxy `slowstart`): a ramped weight for newcomers.

An instance that becomes ready (new or recovered) or healthy again gets InstanceView.weight
ramped up over the window (policies.resilience.slow_start_weight), refreshed every
update_interval_s (each refresh hands the balancer a new candidate tuple, so it is
throttled); weighted balancers (weighted_round_robin, power_of_two_choices) honour it.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from policies.resilience import slow_start_weight
from simscale.model.events import at
from simscale.model.resilience.shared import Member


class SlowStart:
    """The ramps in progress; `spec` is the section's slow_start (None: no ramps)."""

    def __init__(self, env: simpy.Environment, spec, refresh: Callable[[], None]) -> None:
        self.env = env
        self.spec = spec
        self.refresh = refresh
        self._ramping: dict[int, Member] = {}
        self._armed = False

    def start(self, m: Member, now: float) -> None:
        """Start (or restart) m's ramp at the lowest weight."""
        spec = self.spec
        if spec is None:
            return
        m.ramp_start_s = now
        self._ramping[m.instance.instance_id] = m
        m.instance.set_view(weight=slow_start_weight(
            m.base_weight, 0.0, spec.window_s, spec.aggression, spec.min_weight_percent))
        if not self._armed:
            self._armed = True
            at(self.env, now + spec.update_interval_s, self._tick)
        self.refresh()

    def stop(self, m: Member) -> None:
        """m left the ready state: back to its full weight, no more ramp."""
        if self._ramping.pop(m.instance.instance_id, None) is not None:
            m.ramp_start_s = None
            m.instance.set_view(weight=m.base_weight)

    def _tick(self) -> None:
        """Refresh ramping weights (throttled to update_interval_s)."""
        spec = self.spec
        now = self.env._now
        for iid, m in list(self._ramping.items()):
            elapsed = now - m.ramp_start_s
            if elapsed >= spec.window_s:
                del self._ramping[iid]
                m.ramp_start_s = None
                m.instance.set_view(weight=m.base_weight)
            else:
                m.instance.set_view(weight=slow_start_weight(
                    m.base_weight, elapsed, spec.window_s, spec.aggression,
                    spec.min_weight_percent))
        self.refresh()
        if self._ramping:
            at(self.env, now + spec.update_interval_s, self._tick)
        else:
            self._armed = False
