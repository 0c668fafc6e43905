"""The consistent-hash ring: stable placement, ~1/N movement on a join, bounded loads."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.hashing import HashRing, hash64

KEYS = [f"conversation:{i}" for i in range(4000)]

node_sets = st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=12,
                     unique=True)


def test_hash64_is_stable_and_64_bit():
    assert hash64("user:1") == hash64("user:1") != hash64("user:2")
    assert 0 <= hash64("x") < 2 ** 64
    assert hash64(123) == hash64("123")                # keys hash by their string form


@settings(max_examples=15, deadline=None)
@given(nodes=node_sets, new=st.integers(min_value=10_001, max_value=20_000))
def test_a_joining_node_takes_about_one_share_and_only_from_others(nodes, new):
    ring = HashRing([f"shard-{n}" for n in nodes])
    before = [ring.lookup(k) for k in KEYS]
    ring.add(f"shard-{new}")
    after = [ring.lookup(k) for k in KEYS]
    moved = [a for b, a in zip(before, after, strict=True) if a != b]
    assert all(owner == f"shard-{new}" for owner in moved)   # keys move only to the new node
    share = len(moved) / len(KEYS)
    expected = 1 / (len(nodes) + 1)
    assert 0.5 * expected < share < 1.5 * expected            # 160 vnodes: within ~5 sigma


@settings(max_examples=15, deadline=None)
@given(nodes=node_sets.filter(lambda ns: len(ns) >= 2), data=st.data())
def test_a_leaving_node_moves_only_its_own_keys(nodes, data):
    ring = HashRing([f"shard-{n}" for n in nodes])
    gone = f"shard-{data.draw(st.sampled_from(nodes))}"
    before = [ring.lookup(k) for k in KEYS]
    ring.remove(gone)
    after = [ring.lookup(k) for k in KEYS]
    for b, a in zip(before, after, strict=True):
        assert a == b if b != gone else a != gone


def test_placement_does_not_depend_on_insertion_order():
    a = HashRing(["x", "y", "z"])
    b = HashRing(["z", "x", "y"])
    assert [a.lookup(k) for k in KEYS] == [b.lookup(k) for k in KEYS]


def test_shares_are_even_with_many_vnodes():
    ring = HashRing([f"n{i}" for i in range(4)], vnodes=160)
    counts = Counter(ring.lookup(k) for k in KEYS)
    assert max(counts.values()) / min(counts.values()) < 1.5


def test_walk_visits_every_node_once_starting_at_the_owner():
    ring = HashRing(["a", "b", "c", "d"])
    walk = list(ring.walk("key"))
    assert walk[0] == ring.lookup("key") and sorted(walk) == ["a", "b", "c", "d"]


@settings(max_examples=25, deadline=None)
@given(n_nodes=st.integers(min_value=1, max_value=6),
       epsilon=st.floats(min_value=0.0, max_value=1.0), n_keys=st.integers(1, 300))
def test_bounded_loads_never_exceed_the_bound(n_nodes, epsilon, n_keys):
    ring = HashRing([f"n{i}" for i in range(n_nodes)], vnodes=20)
    load: Counter = Counter()
    for i in range(n_keys):
        node = ring.lookup_bounded(f"k{i}", lambda n: load[n], epsilon)
        load[node] += 1
        assert load[node] <= math.ceil((1 + epsilon) * (i + 1) / n_nodes)


def test_errors():
    with pytest.raises(ValueError):
        HashRing(vnodes=0)
    with pytest.raises(LookupError):
        HashRing().lookup("k")
    ring = HashRing(["a"])
    with pytest.raises(ValueError):
        ring.add("a")
    with pytest.raises(ValueError):
        ring.remove("b")
    with pytest.raises(ValueError):
        ring.lookup_bounded("k", lambda n: 0, -0.1)
    assert list(HashRing().walk("k")) == []


@settings(max_examples=15, deadline=None)
@given(nodes=node_sets, vnodes=st.integers(min_value=1, max_value=40))
def test_a_ring_built_at_once_is_the_ring_built_node_by_node(nodes, vnodes):
    at_once = HashRing(nodes, vnodes=vnodes)
    one_by_one = HashRing(vnodes=vnodes)
    for node in nodes:
        one_by_one.add(node)
    assert at_once._points == one_by_one._points
    assert at_once._owners == one_by_one._owners
    grown = HashRing(nodes[:1], vnodes=vnodes)
    grown.add_many(nodes[1:])
    assert grown._owners == one_by_one._owners


def test_building_a_ring_sorts_once_not_once_per_node(monkeypatch):
    """The work of building N nodes × V points is linear in N·V (one sort), not N²·V (a sort
    of the whole ring per node added): counted as sort-key evaluations."""
    import policies.hashing as hashing

    calls = Counter()

    def counting_str(value: object) -> str:
        calls["str"] += 1
        return str(value)

    monkeypatch.setattr(hashing, "str", counting_str, raising=False)
    nodes, vnodes = 200, 10
    HashRing(range(nodes), vnodes=vnodes)
    # one str() per point for its hash, one per point for its sort key
    assert calls["str"] <= 2 * nodes * vnodes


def test_add_many_refuses_a_present_or_repeated_node():
    ring = HashRing(["a"])
    with pytest.raises(ValueError, match="already on the ring"):
        ring.add_many(["b", "a"])
    with pytest.raises(ValueError, match="already on the ring"):
        ring.add_many(["c", "c"])
    assert ring.nodes == frozenset({"a"})
