"""Consistent hashing: affinity, ~1/N movement on membership change, bounded loads."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.balancers import ConsistentHash, ConsistentHashConfig
from policies.hashing import HashRing
from policies.views import InstanceView, RequestInfo

_set = object.__setattr__


def views(n: int, first_id: int = 0) -> tuple[InstanceView, ...]:
    return tuple(InstanceView(first_id + i) for i in range(n))


def owners(balancer, candidates, keys) -> dict[int, int]:
    """key -> instance id."""
    return {k: candidates[balancer.choose(RequestInfo(0, session_id=k), candidates, 0.0)[0]]
            .instance_id for k in keys}


def test_same_key_same_instance_and_every_instance_gets_keys():
    candidates = views(8)
    balancer = ConsistentHash()
    first = owners(balancer, candidates, range(4000))
    again = owners(balancer, candidates, range(4000))
    assert first == again
    shares = [sum(1 for v in first.values() if v == i) / 4000 for i in range(8)]
    assert min(shares) > 0.125 * 0.6 and max(shares) < 0.125 * 1.4


@pytest.mark.parametrize(("key", "field"), [("session_id", "session_id"), ("user_id", "user_id")])
def test_hashes_the_configured_field(key, field):
    candidates = views(6)
    balancer = ConsistentHash(ConsistentHashConfig(key=key))
    other = "user_id" if field == "session_id" else "session_id"
    picked = {balancer.choose(RequestInfo(0, **{field: 42, other: o}), candidates, 0.0)[0]
              for o in range(50)}
    assert len(picked) == 1


@pytest.mark.parametrize("n", [5, 10, 20])
def test_removing_one_of_n_moves_about_one_nth_and_only_its_keys(n):
    keys = range(20_000)
    candidates = views(n)
    balancer = ConsistentHash()
    before = owners(balancer, candidates, keys)
    gone = candidates[n // 2].instance_id
    after = owners(balancer, tuple(c for c in candidates if c.instance_id != gone), keys)
    moved = [k for k in keys if before[k] != after[k]]
    assert all(before[k] == gone for k in moved)
    assert len(moved) == sum(1 for k in keys if before[k] == gone)
    assert len(moved) / len(keys) == pytest.approx(1 / n, rel=0.35)


@pytest.mark.parametrize("n", [5, 10, 20])
def test_adding_one_moves_about_one_nth_and_only_to_the_new_one(n):
    keys = range(20_000)
    candidates = views(n)
    balancer = ConsistentHash()
    before = owners(balancer, candidates, keys)
    grown = candidates + (InstanceView(1000),)
    after = owners(balancer, grown, keys)
    moved = [k for k in keys if before[k] != after[k]]
    assert all(after[k] == 1000 for k in moved)
    assert len(moved) / len(keys) == pytest.approx(1 / (n + 1), rel=0.35)


def test_ring_tracks_membership_without_a_full_rebuild():
    balancer = ConsistentHash(ConsistentHashConfig(vnodes=10))
    balancer.choose(RequestInfo(0), views(3), 0.0)
    assert balancer.ring.nodes == {0, 1, 2}
    balancer.choose(RequestInfo(0), views(3, first_id=1), 0.0)
    assert balancer.ring.nodes == {1, 2, 3}


def test_spills_past_an_instance_at_the_bound():
    candidates = views(4)
    balancer = ConsistentHash(ConsistentHashConfig(epsilon=0.0))
    home, reason = balancer.choose(RequestInfo(0, session_id=7), candidates, 0.0)
    assert reason == "ConsistentHash"
    _set(candidates[home], "in_flight", 1)  # bound with 1 in flight and 1 arriving: ceil(2/4) = 1
    index, reason = balancer.choose(RequestInfo(0, session_id=7), candidates, 0.0)
    assert index != home and reason == "ConsistentHash:Spilled"
    ring = HashRing([c.instance_id for c in candidates], vnodes=160)
    assert candidates[index].instance_id == ring.lookup_bounded(
        7, lambda i: candidates[i].in_flight, 0.0)


def bound(loads, epsilon) -> int:
    return math.ceil((1 + epsilon) * (sum(loads) + 1) / len(loads))


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 8),
    epsilon=st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0]),
    ops=st.lists(st.tuples(st.booleans(), st.integers(0, 10_000)), min_size=1, max_size=150),
)
def test_bounded_load_never_exceeds_its_bound(n, epsilon, ops):
    """Arrivals (True, key) and departures (False, pick) in any order: every placement keeps
    the chosen instance within ceil((1 + eps) × (total + 1) / n), counting the new request."""
    candidates = views(n)
    balancer = ConsistentHash(ConsistentHashConfig(epsilon=epsilon, vnodes=20))
    placed: list[int] = []
    for arrive, key in ops:
        if arrive or not placed:
            loads = [c.in_flight for c in candidates]
            limit = bound(loads, epsilon)
            index, _ = balancer.choose(RequestInfo(0, session_id=key), candidates, 0.0)
            assert loads[index] + 1 <= limit
            _set(candidates[index], "in_flight", loads[index] + 1)
            placed.append(index)
        else:
            index = placed.pop(key % len(placed))
            _set(candidates[index], "in_flight", candidates[index].in_flight - 1)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 8), epsilon=st.sampled_from([0.0, 0.25, 1.0]),
       keys=st.lists(st.integers(0, 10**9), min_size=1, max_size=200))
def test_with_arrivals_only_no_instance_ever_exceeds_the_bound(n, epsilon, keys):
    candidates = views(n)
    balancer = ConsistentHash(ConsistentHashConfig(epsilon=epsilon, vnodes=20))
    for key in keys:
        index, _ = balancer.choose(RequestInfo(0, session_id=key), candidates, 0.0)
        _set(candidates[index], "in_flight", candidates[index].in_flight + 1)
        loads = [c.in_flight for c in candidates]
        assert max(loads) <= math.ceil((1 + epsilon) * sum(loads) / n)


@settings(max_examples=100, deadline=None)
@given(loads=st.lists(st.integers(0, 20), min_size=1, max_size=8),
       epsilon=st.sampled_from([0.0, 0.1, 0.5]), key=st.integers(0, 10**6))
def test_agrees_with_the_rings_bounded_lookup(loads, epsilon, key):
    candidates = tuple(InstanceView(i, in_flight=x) for i, x in enumerate(loads))
    balancer = ConsistentHash(ConsistentHashConfig(epsilon=epsilon, vnodes=20))
    index, _ = balancer.choose(RequestInfo(0, session_id=key), candidates, 0.0)
    ring = HashRing(range(len(loads)), vnodes=20)
    assert index == ring.lookup_bounded(key, lambda i: loads[i], epsilon)
