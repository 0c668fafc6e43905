"""Reused SimPy events for the model's own timers (CPU jobs, cache round trips), and `at`.

An event is pushed straight onto SimPy's queue, in SimPy's own heap-entry layout
(time, priority, id, event), with its value and one callback; the callback puts it back in
`free` when it fires. No process and, once the pool is warm, no allocation per timer.
Because a pooled event is always ok and has exactly one callback, Model.run_until fires it
without going through Environment.step() (see PooledEvent).

Events due long after most others (a user's think time, an LLM call) go to a second heap,
`later`: they are most of what is pending (about 2,000 of 2,200 entries in the Phase 3
after-system), so the short-lived events (CPU wake-ups, round trips, database operations)
sift through a heap of a few entries instead. Both heaps hold SimPy's own key (time,
priority, id), and run_until takes the smaller head each time, so events fire in exactly the
order one heap would give.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush
from weakref import WeakKeyDictionary

import simpy
from simpy.core import NORMAL

# the second heap of each environment, shared by all its pools (run_until reads it)
_LATER: WeakKeyDictionary[simpy.Environment, list] = WeakKeyDictionary()


class PooledEvent(simpy.Event):
    """An event owned by an EventPool: always ok, with exactly one callback.

    Environment.step() would pop it, set `now`, and call its callbacks; run_until does the
    same inline for this class, saving a call per CPU job and cache round trip.
    """


class EventPool:
    """Pooled events for one environment. A callback returns its event with free.append(ev)."""

    __slots__ = ("_env", "_heap", "_eid", "free", "later")

    def __init__(self, env: simpy.Environment) -> None:
        self._env = env
        self._heap = env._queue
        self._eid = env._eid
        self.free: list[simpy.Event] = []
        # the environment's second heap (module docstring), whichever pool pushes to it
        self.later: list[tuple] = _LATER.setdefault(env, [])

    def at(self, time_s: float, value, callbacks: list) -> simpy.Event:
        """Fire callbacks[0](event) at `time_s` with event._value = value. `callbacks` holds
        exactly one callback and may be shared by many events: nothing writes to it."""
        free = self.free
        if free:
            ev = free.pop()
        else:
            ev = PooledEvent(self._env)
            ev._ok = True
        ev._value = value
        ev.callbacks = callbacks
        heappush(self._heap, (time_s, NORMAL, next(self._eid), ev))
        return ev

    def at_later(self, time_s: float, value, callbacks: list) -> simpy.Event:
        """at() for an event due long after most others: kept in the second heap."""
        free = self.free
        if free:
            ev = free.pop()
        else:
            ev = PooledEvent(self._env)
            ev._ok = True
        ev._value = value
        ev.callbacks = callbacks
        heappush(self.later, (time_s, NORMAL, next(self._eid), ev))
        return ev


def at(env: simpy.Environment, t_s: float, fn: Callable[[], None]) -> None:
    """Call fn() at simulated time t_s (at once when it is past): one SimPy timeout."""
    now = env._now
    ev = env.timeout(t_s - now if t_s > now else 0.0)
    ev.callbacks.append(lambda _ev: fn())
