"""ShardMap: consistent-hash placement of cache keys with a memo dropped on ring changes."""

from __future__ import annotations

import pytest

from policies.caches import ShardMap
from policies.hashing import HashRing

KEYS = [f"user:{i}" for i in range(3000)]


def test_shard_for_agrees_with_the_ring():
    shards = ShardMap(["s0", "s1", "s2"])
    ring = HashRing(["s0", "s1", "s2"])
    assert [shards.shard_for(k) for k in KEYS] == [ring.lookup(k) for k in KEYS]
    assert [shards.shard_for(k) for k in KEYS] == [ring.lookup(k) for k in KEYS]  # memoized


def test_memo_is_dropped_when_a_shard_joins_or_leaves():
    shards = ShardMap(["s0", "s1"])
    before = {k: shards.shard_for(k) for k in KEYS}
    shards.add("s2")
    after = {k: shards.shard_for(k) for k in KEYS}
    moved = [k for k in KEYS if before[k] != after[k]]
    assert moved and all(after[k] == "s2" for k in moved)
    assert shards.owned_by("s2", KEYS) == moved
    shards.remove("s2")
    assert {k: shards.shard_for(k) for k in KEYS} == before
    assert shards.shards == frozenset({"s0", "s1"}) and len(shards) == 2


def test_memo_is_bounded():
    shards = ShardMap(["a", "b"], memo_limit=10)
    for k in KEYS[:100]:
        shards.shard_for(k)
    assert len(shards._memo) <= 10


def test_errors():
    with pytest.raises(LookupError):
        ShardMap().shard_for("k")
    with pytest.raises(ValueError):
        ShardMap(["a"]).add("a")
    with pytest.raises(ValueError):
        ShardMap(["a"]).remove("b")
    with pytest.raises(ValueError):
        ShardMap(memo_limit=0)
