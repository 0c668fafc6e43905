"""Model-based invariants for every registered eviction policy (hypothesis).

A plain dict models what the cache must hold: a put adds the key, the keys `put` reports as
evicted leave, a get of an expired key drops it, a delete removes it. After every operation
the store must agree with the model: same keys, used == the sum of their sizes, used <=
capacity; a get hits exactly when the key is in the model and fresh.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policies

CACHE_NAMES = policies.names("cache")

keys = st.integers(min_value=0, max_value=11)
ttls = st.one_of(st.none(), st.floats(min_value=0.5, max_value=20.0))
operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), keys, st.integers(min_value=1, max_value=5), ttls),
        st.tuples(st.just("get"), keys),
        st.tuples(st.just("delete"), keys),
        st.tuples(st.just("advance"), st.floats(min_value=0.0, max_value=6.0)),
    ),
    max_size=50,
)


def build(name, capacity):
    entry = policies.get("cache", name)
    return entry.factory(entry.config_type(capacity=capacity), np.random.default_rng(7))


def check_against_model(name, capacity, ops, sized):
    cache = build(name, capacity)
    model: dict = {}  # key -> (size, expiry_s)
    now = 0.0
    for op in ops:
        kind = op[0]
        if kind == "advance":
            now += op[1]
        elif kind == "put":
            _, key, size, ttl = op
            size = size if sized else 1
            before = set(model)
            evicted = cache.put(key, now, size=size, ttl_s=ttl)
            assert len(evicted) == len(set(evicted)), "a key is evicted once"
            assert set(evicted) <= before | {key}, "only stored keys are evicted"
            model[key] = (size, now + ttl if ttl is not None else float("inf"))
            for gone in evicted:
                del model[gone]
            if size > capacity:
                assert evicted == [key]
        elif kind == "get":
            key = op[1]
            fresh = key in model and now < model[key][1]
            assert cache.peek(key, now) == fresh
            assert cache.get(key, now) == fresh
            if key in model and not fresh:
                del model[key]  # expired entries are dropped by the get
        else:
            key = op[1]
            assert cache.delete(key) == (key in model)
            model.pop(key, None)
        assert cache.used <= capacity
        assert cache.used == sum(size for size, _ in model.values())
        assert len(cache) == len(model)
        for key in range(12):
            assert (key in cache) == (key in model)


@pytest.mark.parametrize("name", CACHE_NAMES)
@settings(max_examples=80, deadline=None)
@given(capacity=st.integers(min_value=1, max_value=16), sized=st.booleans(), ops=operations)
def test_store_agrees_with_model(name, capacity, sized, ops):
    """Unit sizes (capacity in items) and sizes 1..5 (capacity in bytes)."""
    check_against_model(name, capacity, ops, sized)


@pytest.mark.parametrize("name", CACHE_NAMES)
@settings(max_examples=40, deadline=None)
@given(capacity=st.integers(min_value=1, max_value=10), key=keys,
       ttl=st.floats(min_value=0.5, max_value=100.0),
       before=st.floats(min_value=0.0, max_value=0.99),
       after=st.floats(min_value=1.0, max_value=2.0))
def test_get_after_put_hits_until_the_ttl_passes(name, capacity, key, ttl, before, after):
    cache = build(name, capacity)
    assert cache.put(key, 10.0, ttl_s=ttl) == []
    assert cache.get(key, 10.0 + before * ttl)
    assert not cache.get(key, 10.0 + after * ttl)
    assert key not in cache and cache.used == 0


@pytest.mark.parametrize("name", CACHE_NAMES)
@settings(max_examples=40, deadline=None)
@given(capacity=st.integers(min_value=1, max_value=10),
       stored=st.lists(keys, min_size=1, max_size=20))
def test_delete_removes(name, capacity, stored):
    cache = build(name, capacity)
    for i, key in enumerate(stored):
        cache.put(key, float(i))
    target = stored[-1]
    assert target in cache  # the last key put is always stored at size 1
    assert cache.delete(target)
    assert target not in cache
    assert not cache.get(target, 100.0)
    assert not cache.delete(target)
