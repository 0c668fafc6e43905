"""Scale-in victim selection: not-ready first, then newest, oldest or least loaded."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.autoscalers import VICTIM_SELECTORS
from policies.autoscalers.victims import (
    Victim,
    VictimConfig,
    VictimPolicy,
    get_selector,
    least_loaded,
    newest_first,
    oldest_first,
)
from policies.views import BOOTING, DRAINING, FAILED, READY, InstanceView

FLEET = (
    InstanceView(1, READY, in_flight=5, ready_since_s=10.0),
    InstanceView(2, READY, in_flight=0, ready_since_s=50.0),
    InstanceView(3, READY, in_flight=2, ready_since_s=30.0),
    InstanceView(4, BOOTING, in_flight=0, ready_since_s=0.0),
    InstanceView(5, READY, in_flight=1, ready_since_s=40.0, healthy=False),
    InstanceView(6, DRAINING, in_flight=0, ready_since_s=5.0),
    InstanceView(7, FAILED, in_flight=0, ready_since_s=1.0),
)

CASES = [
    ("newest first", newest_first, 4, True,
     [(5, "NotReady"), (4, "NotReady"), (2, "Newest"), (3, "Newest")]),
    ("oldest first", oldest_first, 4, True,
     [(5, "NotReady"), (4, "NotReady"), (1, "Oldest"), (3, "Oldest")]),
    ("least loaded", least_loaded, 4, True,
     [(5, "NotReady"), (4, "NotReady"), (2, "LeastLoaded"), (3, "LeastLoaded")]),
    ("one victim takes a not-ready instance", oldest_first, 1, True, [(5, "NotReady")]),
    ("without preference: newest", newest_first, 2, False, [(2, "Newest"), (5, "Newest")]),
    ("without preference: oldest", oldest_first, 2, False, [(4, "Oldest"), (1, "Oldest")]),
    ("without preference: least loaded", least_loaded, 3, False,
     [(2, "LeastLoaded"), (4, "LeastLoaded"), (5, "LeastLoaded")]),
    ("more than available", newest_first, 10, True,
     [(5, "NotReady"), (4, "NotReady"), (2, "Newest"), (3, "Newest"), (1, "Newest")]),
    ("none", least_loaded, 0, True, []),
]


@pytest.mark.parametrize("select, count, prefer, expected", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_victim_order(select, count, prefer, expected):
    assert select(FLEET, count, prefer) == tuple(Victim(*v) for v in expected)


def test_ties_break_by_instance_id_newest_first():
    same = tuple(InstanceView(i, READY, in_flight=1, ready_since_s=7.0) for i in (3, 9, 5))
    assert [v.instance_id for v in newest_first(same, 3)] == [9, 5, 3]
    assert [v.instance_id for v in oldest_first(same, 3)] == [3, 5, 9]
    assert [v.instance_id for v in least_loaded(same, 3)] == [9, 5, 3]


def test_selectors_are_named_for_specs():
    assert set(VICTIM_SELECTORS) == {"newest_first", "oldest_first", "least_loaded"}
    assert get_selector("oldest_first") is oldest_first
    with pytest.raises(KeyError, match="known: least_loaded, newest_first, oldest_first"):
        get_selector("random")
    policy = VictimPolicy("least_loaded", VictimConfig(prefer_not_ready=False))
    assert policy.select(FLEET, 1) == (Victim(2, "LeastLoaded"),)


def test_negative_count_is_rejected():
    with pytest.raises(ValueError):
        newest_first(FLEET, -1)


@settings(max_examples=100, deadline=None)
@given(
    fleet=st.lists(st.builds(
        InstanceView, st.integers(0, 1000), st.sampled_from([READY, BOOTING, DRAINING, FAILED]),
        in_flight=st.integers(0, 20), ready_since_s=st.floats(0.0, 1e4),
        healthy=st.booleans()), max_size=20, unique_by=lambda i: i.instance_id),
    count=st.integers(0, 25),
    name=st.sampled_from(sorted(VICTIM_SELECTORS)),
    prefer=st.booleans(),
)
def test_victims_are_distinct_live_instances(fleet, count, name, prefer):
    victims = get_selector(name)(fleet, count, prefer)
    live = {i.instance_id for i in fleet if i.state in (READY, BOOTING)}
    ids = [v.instance_id for v in victims]
    assert len(ids) == len(set(ids)) == min(count, len(live))
    assert set(ids) <= live
