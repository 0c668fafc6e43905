"""Pooled events in two heaps: whichever heap an event is in, run_until fires events in the
order one heap would (time, then the order they were scheduled in)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simscale.model.core import Model
from simscale.outputs.recorder import RequestLog
from tests.conftest import small_spec

# (time in quarter seconds, so that many fall at equal times; which heap; a SimPy timeout?)
SCHEDULE = st.lists(st.tuples(st.integers(1, 40), st.booleans(), st.booleans()),
                    min_size=1, max_size=60)


@settings(max_examples=30, deadline=None)
@given(SCHEDULE)
def test_events_fire_in_time_then_scheduling_order_whichever_heap(schedule):
    model = Model(small_spec(duration_s=20.0, workload={
        "arrivals": {"kind": "poisson", "rate_rps": 1e-9},
        "service": {"kind": "exponential", "mean_s": 0.05}}), RequestLog(None, 10))
    fired = []
    timers = model.timers
    record = [lambda ev: (fired.append(ev._value), timers.free.append(ev))]
    for i, (quarters, later, simpy_event) in enumerate(schedule):
        t_s = quarters / 4
        if simpy_event:  # an ordinary SimPy event, fired through Environment.step()
            ev = model.env.timeout(t_s, i)
            ev.callbacks.append(lambda ev: fired.append(ev.value))
        elif later:
            timers.at_later(t_s, i, record)
        else:
            timers.at(t_s, i, record)
    model.run_until(11.0)
    assert fired == sorted(range(len(schedule)), key=lambda i: schedule[i][0])


def test_every_pool_of_an_environment_shares_its_second_heap():
    """A component's own pool (an instance's, the cache's) may push long waits too: they fire,
    because run_until reads the environment's one second heap, not the model pool's own."""
    from simscale.model.events import EventPool

    model = Model(small_spec(duration_s=20.0), RequestLog(None, 10))
    other = EventPool(model.env)
    assert other.later is model.timers.later
    assert EventPool(Model(small_spec(), RequestLog(None, 10)).env).later is not other.later
    fired = []
    other.at_later(3.0, "late", [lambda ev: fired.append((model.now, ev._value))])
    model.run_until(5.0)
    assert fired == [(3.0, "late")]
