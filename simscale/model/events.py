"""Reused SimPy events for the model's own timers (CPU jobs, cache round trips).

An event is pushed straight onto SimPy's queue, in SimPy's own heap-entry layout
(time, priority, id, event), with its value and callbacks; its callback puts it back in
`free` when it fires. No process and, once the pool is warm, no allocation per timer.
"""

from __future__ import annotations

from heapq import heappush

import simpy
from simpy.core import NORMAL


class EventPool:
    """Pooled events for one environment. A callback returns its event with free.append(ev)."""

    __slots__ = ("_env", "_heap", "_eid", "free")

    def __init__(self, env: simpy.Environment) -> None:
        self._env = env
        self._heap = env._queue
        self._eid = env._eid
        self.free: list[simpy.Event] = []

    def at(self, time_s: float, value, callbacks: list) -> simpy.Event:
        """Fire callbacks(event) at `time_s` with event._value = value. `callbacks` may be a
        list shared by many events: SimPy only reads it."""
        free = self.free
        if free:
            ev = free.pop()
        else:
            ev = simpy.Event(self._env)
            ev._ok = True
        ev._value = value
        ev.callbacks = callbacks
        heappush(self._heap, (time_s, NORMAL, next(self._eid), ev))
        return ev
