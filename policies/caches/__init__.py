"""Cache eviction policies and the cache-side decisions of the distributed cache.

Eviction policies (registered as family "cache": lru, lfu, fifo, s3fifo, wtinylfu) are
bounded key stores. They hold keys with a size and an expiry each, never values: the
simulator needs only hit or miss, and a production wrapper keeps values in its own dict and
drops the keys `put` reports as evicted. Every store offers:

    get(key, now_s) -> bool
        True on a hit, which updates the policy's state (recency, count...). False on a miss;
        an entry whose expiry has passed (now_s >= put time + ttl_s) is a miss and is dropped.
        TTL is checked here, lazily: an expired entry holds its room until a get drops it or
        eviction reaches it.
    put(key, now_s, size=1, ttl_s=None) -> list
        Insert or update `key`; ttl_s None means no expiry. Returns the keys evicted to make
        room, in eviction order (a fresh list, empty when nothing left). The key just put is
        in that list only when it was not stored: its size exceeds capacity (any policy), or
        W-TinyLFU's admission filter turned it away. Raises ValueError if size <= 0.
        Updating a stored key counts as an access (LRU recency, LFU and S3-FIFO counts,
        W-TinyLFU segment order; its sketch counts reads only); FIFO re-queues it as a new
        write.
    delete(key) -> bool
        Invalidate: True if the key was stored.
    peek(key, now_s) -> bool
        Stored and fresh, without touching any state.
    clear()
        Drop everything (a restarted cache process).
    key in store, len(store)
        Stored keys, expired-but-not-yet-dropped ones included (membership has no clock).
    capacity, used
        In the unit of `size`: leave size at 1 and both count items; pass byte sizes and both
        count bytes. used <= capacity after every call.

Every operation is O(1) amortized (S3-FIFO's reinsertions, W-TinyLFU's sketch halving),
plus one step per key evicted; none reads a clock: time is the now_s the caller gives.
Stores are not thread-safe; a production wrapper serializes calls per shard.

Alongside the stores: TTLPolicy (TTL by data type), SingleFlight (stampede protection),
write_action (what a write does to the cache), top_k_* (warming) and ShardMap (consistent-
hash placement over policies.hashing.HashRing) and SlotMap (Redis Cluster's hash slots); the
two placements are registered as family "placement" (ring, redis_cluster). A read through
the cache, for one shard:

    store = shards_store[shard_map.shard_for(key)]
    if store.get(key, now_s):
        return hit
    role = flights.begin(key, now_s)      # "leader" | "follower" | "independent"
    if role == "follower":
        wait for the leader's result
    else:
        read the database
        store.put(key, now_s, size, ttl_policy.ttl_s(data_type))
        if role == "leader":
            flights.end(key)              # how many misses joined the flight

and a write: write_action(mode) says whether to store.delete(key), store.put(...) or nothing.
"""

from policies.caches.base import NO_EXPIRY, CacheStore
from policies.caches.fifo import FIFOCache, FIFOConfig
from policies.caches.invalidation import InvalidationConfig, WriteAction, WriteMode, write_action
from policies.caches.lfu import LFUCache, LFUConfig
from policies.caches.lru import LRUCache, LRUConfig
from policies.caches.placement import RingConfig, ShardMap, ring_placement
from policies.caches.s3fifo import S3FIFOCache, S3FIFOConfig
from policies.caches.sketch import CountMinSketch
from policies.caches.slots import SLOTS, RedisClusterConfig, SlotMap, key_hash_slot
from policies.caches.stampede import (
    FOLLOWER,
    INDEPENDENT,
    LEADER,
    SingleFlight,
    SingleFlightConfig,
)
from policies.caches.ttl import DATA_TYPES, TTLPolicy, data_type_of
from policies.caches.warming import (
    WarmingConfig,
    top_k_by_count,
    top_k_by_rank,
    warm_hit_ratio,
    zipf_popularity,
)
from policies.caches.wtinylfu import WTinyLFUCache, WTinyLFUConfig
from policies.registry import PolicyEntry, deterministic

ENTRIES = (
    PolicyEntry("lru", "cache", LRUConfig, deterministic(LRUCache),
                "evict the least recently used key"),
    PolicyEntry("lfu", "cache", LFUConfig, deterministic(LFUCache),
                "evict the least frequently used key (LRU among equal counts)"),
    PolicyEntry("fifo", "cache", FIFOConfig, deterministic(FIFOCache),
                "evict the key written longest ago"),
    PolicyEntry("s3fifo", "cache", S3FIFOConfig, deterministic(S3FIFOCache),
                "small, main and ghost FIFO queues (Yang et al., SOSP 2023)"),
    PolicyEntry("wtinylfu", "cache", WTinyLFUConfig, WTinyLFUCache,
                "LRU window, SLRU main, count-min sketch admission (Einziger et al., 2017)"),
    PolicyEntry("ring", "placement", RingConfig, deterministic(ring_placement),
                "consistent-hash ring with virtual nodes (Karger et al., 1997)"),
    PolicyEntry("redis_cluster", "placement", RedisClusterConfig,
                deterministic(lambda config: SlotMap(config=config)),
                "Redis Cluster hash slots: CRC16(key or hash tag) mod 16384, slots resharded"),
)

__all__ = [
    "DATA_TYPES",
    "ENTRIES",
    "FOLLOWER",
    "INDEPENDENT",
    "LEADER",
    "NO_EXPIRY",
    "CacheStore",
    "CountMinSketch",
    "FIFOCache",
    "FIFOConfig",
    "InvalidationConfig",
    "LFUCache",
    "LFUConfig",
    "LRUCache",
    "LRUConfig",
    "RedisClusterConfig",
    "RingConfig",
    "S3FIFOCache",
    "S3FIFOConfig",
    "ShardMap",
    "SlotMap",
    "SLOTS",
    "SingleFlight",
    "SingleFlightConfig",
    "TTLPolicy",
    "WTinyLFUCache",
    "WTinyLFUConfig",
    "WarmingConfig",
    "WriteAction",
    "WriteMode",
    "data_type_of",
    "key_hash_slot",
    "top_k_by_count",
    "top_k_by_rank",
    "warm_hit_ratio",
    "write_action",
    "zipf_popularity",
]
