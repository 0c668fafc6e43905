"""Behaviour of each eviction policy, case by case: who is evicted, when, and why."""

from __future__ import annotations

import numpy as np
import pytest

import policies
from policies.caches import (
    LFUCache,
    LFUConfig,
    S3FIFOCache,
    S3FIFOConfig,
    WTinyLFUCache,
    WTinyLFUConfig,
)

CACHE_NAMES = policies.names("cache")


def build(name, capacity, **fields):
    entry = policies.get("cache", name)
    return entry.factory(entry.config_type(capacity=capacity, **fields), np.random.default_rng(3))


def play(cache, script):
    """Run "put k" / "get k" / "del k" steps at t = 0, 1, 2...; return the evicted keys."""
    evicted = []
    for now, step in enumerate(script.split(",")):
        op, key = step.split()
        if op == "put":
            evicted += cache.put(key, float(now))
        elif op == "get":
            cache.get(key, float(now))
        else:
            cache.delete(key)
    return evicted


# -- who goes: one table for the simple policies -----------------------------------------------

SCRIPTS = [
    # (policy, capacity, script, evicted, left)
    ("lru", 2, "put a,put b,get a,put c", ["b"], {"a", "c"}),
    ("lru", 2, "put a,put b,put a,put c", ["b"], {"a", "c"}),        # an update is an access
    ("lru", 3, "put a,put b,put c,get a,get b,put d,put e", ["c", "a"], {"b", "d", "e"}),
    ("fifo", 2, "put a,put b,get a,put c", ["a"], {"b", "c"}),       # hits change nothing
    ("fifo", 2, "put a,put b,put a,put c", ["b"], {"a", "c"}),       # a rewrite re-queues
    ("lfu", 2, "put a,put b,get a,put c", ["b"], {"a", "c"}),
    ("lfu", 2, "put a,put b,put c", ["a"], {"b", "c"}),              # equal counts: LRU goes
    ("lfu", 2, "put a,put b,get b,get a,put c,put d", ["b", "c"], {"a", "d"}),
    ("lfu", 1, "put a,get a,get a,put b", ["a"], {"b"}),             # the new key stays
    ("lfu", 3, "put a,get a,put b,get b,del a,del b,put c,put d,put e,put f", ["c"],
     {"d", "e", "f"}),                                                # emptied buckets
    ("lfu", 2, "put a,put a,put a,put b,put c", ["b"], {"a", "c"}),  # updates count
]


@pytest.mark.parametrize("name,capacity,script,evicted,left", SCRIPTS)
def test_eviction_order(name, capacity, script, evicted, left):
    cache = build(name, capacity)
    assert play(cache, script) == evicted
    assert {k for k in "abcdef" if k in cache} == left


def test_lfu_victim_search_skips_buckets_emptied_by_deletes():
    cache = LFUCache(LFUConfig(capacity=3))
    play(cache, "put a,get a,get a,put x,get x,del x")   # a: 3; x's bucket (2) is emptied
    assert cache.put("k", 10.0, size=3) == ["a"]         # k alone at 1: the next victim is a
    assert cache.count("k") == 1 and cache.used == 3


def test_lfu_counts_follow_hits_and_updates():
    cache = LFUCache(LFUConfig(capacity=4))
    play(cache, "put a,get a,get a,put b,put a,get c")
    assert (cache.count("a"), cache.count("b"), cache.count("c")) == (4, 1, 0)


# -- sizes, TTL, bad input: every policy ------------------------------------------------------


@pytest.mark.parametrize("name", CACHE_NAMES)
def test_capacity_counts_bytes_when_sizes_are_bytes(name):
    cache = build(name, 100)
    for i in range(10):
        cache.put(f"k{i}", float(i), size=30)
    assert len(cache) == 3 and cache.used == 90
    evicted = cache.put("small", 10.0, size=10)
    # It fits; only W-TinyLFU's admission filter may turn it away (a 1-byte window here).
    assert evicted == [] or (name == "wtinylfu" and evicted == ["small"])
    assert cache.used == (90 if evicted else 100)


@pytest.mark.parametrize("name", CACHE_NAMES)
def test_oversize_put_is_not_stored_and_drops_the_old_copy(name):
    cache = build(name, 10)
    cache.put("a", 0.0, size=4)
    assert cache.put("a", 1.0, size=11) == ["a"]
    assert "a" not in cache and cache.used == 0
    assert cache.put("b", 2.0, size=11) == ["b"]


@pytest.mark.parametrize("name", CACHE_NAMES)
@pytest.mark.parametrize("size", [0, -1, float("nan")])
def test_size_must_be_positive(name, size):
    with pytest.raises(ValueError, match="size"):
        build(name, 10).put("a", 0.0, size=size)


@pytest.mark.parametrize("name", CACHE_NAMES)
def test_ttl_is_lazy_and_exact(name):
    cache = build(name, 10)
    cache.put("a", 100.0, ttl_s=5.0)
    cache.put("b", 100.0)
    assert cache.get("a", 104.999)
    assert "a" in cache and len(cache) == 2          # nothing expires until read
    assert not cache.peek("a", 105.0)
    assert "a" in cache                               # peek changes nothing
    assert not cache.get("a", 105.0)                  # expiry = put time + ttl, exclusive
    assert "a" not in cache and cache.used == 1       # the expired read dropped it
    assert cache.get("b", 1e9)                        # no TTL: never expires


@pytest.mark.parametrize("name", CACHE_NAMES)
def test_put_renews_the_ttl(name):
    cache = build(name, 10)
    cache.put("a", 0.0, ttl_s=10.0)
    cache.put("a", 8.0, ttl_s=10.0)
    assert cache.get("a", 17.0)
    cache.put("a", 17.0)                              # ttl_s None removes the expiry
    assert cache.get("a", 1e6)


@pytest.mark.parametrize("name", CACHE_NAMES)
def test_clear_empties_the_store(name):
    cache = build(name, 10)
    for i in range(15):
        cache.put(i, float(i))
    cache.clear()
    assert len(cache) == 0 and cache.used == 0 and 3 not in cache
    assert cache.put(1, 20.0) == [] and cache.get(1, 21.0)


# -- scan resistance ---------------------------------------------------------------------------


def hot_hit_ratio(cache, rounds=40):
    """Each round reads 10 hot keys, then 15 never-repeated scan keys (cache-aside); the
    hit ratio of hot reads after the first 5 rounds."""
    hits = reads = 0
    now = 0.0
    for r in range(rounds):
        for key in [f"hot{i}" for i in range(10)] + [f"scan{r}.{i}" for i in range(15)]:
            now += 1
            hit = cache.get(key, now)
            if not hit:
                cache.put(key, now)
            if key.startswith("hot") and r >= 5:
                hits += hit
                reads += 1
    return hits / reads


@pytest.mark.parametrize("name", ["s3fifo", "wtinylfu"])
def test_scan_resistant_policies_keep_the_hot_set(name):
    assert hot_hit_ratio(build(name, 20)) == 1.0
    for plain in ("lru", "fifo"):                     # reuse distance 25 > 20: never a hit
        assert hot_hit_ratio(build(plain, 20)) == 0.0


# -- S3-FIFO ------------------------------------------------------------------------------------


def test_s3fifo_one_hit_wonders_leave_from_the_small_queue_into_the_ghost():
    cache = S3FIFOCache(S3FIFOConfig(capacity=10))
    for i in range(10):
        cache.put(i, float(i))
    assert cache.put(10, 10.0) == [0]                 # S holds >= 10%: evict from S
    assert cache.in_ghost(0) and cache.queue(1) == "small"
    cache.put(0, 11.0)                                # back from the ghost: straight to M
    assert cache.queue(0) == "main" and not cache.in_ghost(0)


def test_s3fifo_main_reinserts_keys_with_a_count():
    cache = S3FIFOCache(S3FIFOConfig(capacity=10))
    for i in range(9):                                # read twice while in S
        cache.put(i, 0.0)
        cache.get(i, 0.0)
        cache.get(i, 0.0)
    cache.put("x", 1.0)
    assert cache.put("y", 2.0) == ["x"]               # 0..8 move to M, unread x leaves
    assert all(cache.queue(i) == "main" for i in range(9)) and cache.in_ghost("x")
    cache.get(0, 3.0)
    cache.get(1, 3.0)
    assert cache.put("a", 4.0) == ["y"]
    cache.get("a", 4.0)
    cache.get("a", 4.0)
    # "a" moves to M, M is over its share: 0 and 1 are reinserted (count - 1), 2 goes.
    assert cache.put("b", 5.0) == [2]
    assert cache.queue("a") == "main" and cache.queue(0) == "main" and cache.queue(1) == "main"


# -- W-TinyLFU ---------------------------------------------------------------------------------


def test_wtinylfu_sizes_its_segments():
    cache = WTinyLFUCache(WTinyLFUConfig(capacity=1000))
    assert (cache.window_cap, cache.main_cap, cache.protected_cap) == (10, 990, 792)
    tiny = WTinyLFUCache(WTinyLFUConfig(capacity=1))
    assert (tiny.window_cap, tiny.main_cap) == (1, 0)


def warm_wtinylfu():
    """capacity 10: window 1, probation 2, protected 7; keys 0..8 read 5 times each."""
    cache = WTinyLFUCache(WTinyLFUConfig(capacity=10), np.random.default_rng(5))
    for i in range(10):
        cache.get(i, 0.0)
        cache.put(i, 0.0)
    for _ in range(4):
        for i in range(9):
            cache.get(i, 1.0)
    return cache


def test_wtinylfu_promotes_probation_hits_and_demotes_protected_overflow():
    cache = warm_wtinylfu()
    assert cache.segment(9) == "window"
    segments = [cache.segment(i) for i in range(9)]
    assert segments.count("protected") == 7 and segments.count("probation") == 2


def test_wtinylfu_rejects_a_candidate_rarer_than_the_victim():
    cache = warm_wtinylfu()
    cache.get("new", 2.0)                             # read once, then filled
    assert cache.put("new", 2.0) == [9]               # 9 (read once) loses to a 5-read victim
    cache.get("newer", 3.0)
    assert cache.put("newer", 3.0) == ["new"]
    assert all(i in cache for i in range(9))


def test_wtinylfu_admits_a_candidate_more_frequent_than_the_victim():
    cache = warm_wtinylfu()
    for _ in range(8):
        cache.get("popular", 2.0)
    cache.put("popular", 2.0)                         # candidate 9 is rejected
    cache.get("next", 3.0)
    evicted = cache.put("next", 3.0)                  # "popular" (8 reads) beats a 5-read victim
    assert "popular" in cache and cache.segment("popular") == "probation"
    assert len(evicted) == 1 and evicted[0] in range(9)


def test_wtinylfu_sketch_seed_comes_from_the_generator():
    a = WTinyLFUCache(WTinyLFUConfig(capacity=100), np.random.default_rng(1))
    b = WTinyLFUCache(WTinyLFUConfig(capacity=100), np.random.default_rng(1))
    c = WTinyLFUCache(WTinyLFUConfig(capacity=100), np.random.default_rng(2))
    keys = [f"user:{i}" for i in range(50)]
    assert [a.sketch.indexes(k) for k in keys] == [b.sketch.indexes(k) for k in keys]
    assert [a.sketch.indexes(k) for k in keys] != [c.sketch.indexes(k) for k in keys]


def test_wtinylfu_update_reorders_like_a_hit_without_counting():
    cache = warm_wtinylfu()
    before = cache.sketch.estimate(9)
    cache.put(9, 5.0)
    assert cache.sketch.estimate(9) == before
    probation = next(i for i in range(9) if cache.segment(i) == "probation")
    cache.put(probation, 5.0)
    assert cache.segment(probation) == "protected"
