"""The cache's shards: bounded key stores, and which shard owns each key.

A key lives on the shard its placement gives it: a consistent-hash ring with virtual nodes
(policies.caches.ShardMap), or Redis Cluster's hash slots (policies.caches.SlotMap, where a
join or a loss moves slots); each shard is a bounded store from policies/caches (LRU, LFU,
FIFO, S3-FIFO, W-TinyLFU) with TTLs by data type. A lost shard leaves the ring (its keys
remap: a miss storm follows) and comes back empty; a joining shard takes its share of keys
(simscale.model.faults.ShardFaults schedules both; warming may preload the newcomer).

Speed: a request's keys and the indices of their shards come precomputed in one tuple per
session ("entry"), memoized; with keys drawn by the workload's key population
(simscale.workload.population) they are made for blocks of request ids at once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from policies import registry
from policies.caches import DATA_TYPES, TTLPolicy
from simscale.model.cache.stats import CacheStats
from simscale.model.seam import Cluster
from simscale.streams import stream
from simscale.workload.population import KeyPopulation

USER, SESSION, CONVERSATION, RESPONSE = range(4)
TYPE_INDEX = {name: i for i, name in enumerate(DATA_TYPES)}
assert DATA_TYPES == ("user", "session", "conversation", "response")

MEMO_LIMIT = 1 << 18
# request ids are mapped to users in blocks (vectorized); a few recent blocks are kept
BLOCK_BITS = 14
BLOCK_MASK = (1 << BLOCK_BITS) - 1
BLOCKS_KEPT = 8


class Shard:
    """One cache shard: its store (and the store's get, bound once), and when each stored
    key was filled (for stale reads)."""

    __slots__ = ("name", "store", "get", "filled_s", "up")

    def __init__(self, name: str, store) -> None:
        self.name = name
        self.store = store
        self.get = store.get
        self.filled_s: dict[str, float] = {}
        self.up = True


def never(key, now_s) -> bool:
    """The lookup of a key when no shard is up: a miss."""
    return False


class Shards:
    """The shards of one run and their placement. `gets[i]` is shard i's get (the last
    entry: a miss, for when no shard is up); `gets`, `blocks` and `memo` change in place, so
    the stage may hold them."""

    def __init__(self, cluster: Cluster, section, seed: int, population: KeyPopulation,
                 stats: CacheStats, stale_check: bool) -> None:
        self.cluster = cluster
        self.population = population
        self.stats = stats
        self.stale_check = stale_check
        self._policy = section.eviction.policy
        self._policy_config = section.eviction.config_with_capacity(section.capacity)
        sized = section.capacity_bytes is not None
        self._sizes = tuple(section.size_bytes_by_type.get(t, 1) if sized else 1
                            for t in DATA_TYPES)
        ttl = TTLPolicy(ttl_s_by_type=dict(section.ttl_s_by_type))
        self._ttls = tuple(ttl.ttl_s(t) for t in DATA_TYPES)
        self._rng_seed = stream(seed, "cache.shards")
        # with source "zipf", entries are drawn in blocks of request ids; with source
        # "workload" they come from the request's ids
        self.blocks: dict[int, list[tuple]] | None = (None if population.from_workload
                                                      else {})
        self.memo: dict = {}
        self.shard_map = registry.build("placement", section.placement,
                                        section.placement_config)
        self.shards: list[Shard] = []
        self._by_name: dict[str, Shard] = {}
        self._shard_for = self.shard_map.shard_for
        self._up = 0
        self.gets: list[Callable] = [never]
        self.on_join: Callable[[Shard, float], None] | None = None  # warm a newcomer
        initial = [self._new_shard(placed=False) for _ in range(section.shards)]
        self.shard_map.add_many(shard.name for shard in initial)  # one sort, not one per shard
        self._forget_placement()

    def _new_shard(self, placed: bool = True) -> Shard:
        """A new, empty shard, put on the ring unless `placed` is false (the caller then
        places it and forgets placements)."""
        index = len(self.shards)
        store = registry.build("cache", self._policy, self._policy_config,
                               np.random.default_rng(self._rng_seed.integers(1 << 63)))
        shard = Shard(f"cache-{index}", store)
        self.shards.append(shard)
        self._by_name[shard.name] = shard
        self._up += 1
        if placed:
            self.shard_map.add(shard.name)
            self._forget_placement()
        return shard

    def _forget_placement(self) -> None:
        """The shards changed: drop what remembers which shard holds what."""
        self.memo.clear()
        if self.blocks is not None:
            self.blocks.clear()
        self.gets[:] = [shard.get for shard in self.shards] + [never]

    # ------------------------------------------------------------ which shard

    def shard_of(self, key: str) -> Shard | None:
        """The shard that owns `key` now (None when every shard is down)."""
        if not self._up:
            return None
        return self._by_name[self._shard_for(key)]

    def index_of(self, key: str) -> int:
        """Index in `gets` of the shard owning `key` (the last entry: no shard is up)."""
        if not self._up:
            return len(self.shards)
        return int(self._shard_for(key)[6:])

    def get_of(self, key: str) -> Callable:
        """The get of the shard owning `key` (a miss when no shard is up)."""
        return self.gets[self.index_of(key)]

    def entry(self, uid: int, sid: int) -> tuple:
        """The keys a request of user `uid` in session `sid` may touch, and their shards:
        (user key, session key, conversation key, and their indices in `gets`), indexed by
        data type (key at [t], shard at [t + 3]). Memoized by session (by user and session
        when the workload gives the ids); only strings and ints, so the garbage collector
        stops tracking them."""
        memo = self.memo
        memo_key = sid if self.blocks is not None else (uid, sid)
        entry = memo.get(memo_key)
        if entry is None:
            if len(memo) >= MEMO_LIMIT:
                memo.clear()
            user, session, conversation = f"user:{uid}", f"session:{sid}", f"conversation:{sid}"
            index = self.index_of
            entry = memo[memo_key] = (user, session, conversation, index(user),
                                      index(session), index(conversation))
        return entry

    def entry_of(self, info) -> tuple:
        """The entry (see `entry`) of a request (a RequestInfo)."""
        if self.blocks is None:
            return self.entry(info[2], info[3])
        rid = info[0]
        block = self.blocks.get(rid >> BLOCK_BITS) or self.id_block(rid >> BLOCK_BITS)
        return block[rid & BLOCK_MASK]

    def id_block(self, b: int) -> list[tuple]:
        """The entries of request ids [b·2^14, (b+1)·2^14), drawn at once (keys.source =
        "zipf"); a few recent blocks are kept."""
        rids = np.arange(b << BLOCK_BITS, (b + 1) << BLOCK_BITS, dtype=np.uint64)
        users, sessions = self.population.users_sessions(rids)
        memo, entry = self.memo, self.entry
        block = [memo.get(s) or entry(u, s) for u, s in zip(users.tolist(), sessions.tolist())]
        blocks = self.blocks
        if len(blocks) >= BLOCKS_KEPT:
            del blocks[min(blocks)]
        blocks[b] = block
        return block

    # ------------------------------------------------------------ contents

    def fill(self, key: str, t: int, now: float, shard: Shard | None = None) -> None:
        """Store the value read (or written) at `now` on the key's shard (given, or found)."""
        if shard is None:
            shard = self.shard_of(key)
            if shard is None:
                return
        evicted = shard.store.put(key, now, self._sizes[t], self._ttls[t])
        if self.stale_check:
            filled = shard.filled_s
            filled[key] = now
            for victim in evicted:
                filled.pop(victim, None)
        stats = self.stats
        for victim in evicted:
            if victim != key:
                stats.evictions += 1
                stats.win_evictions += 1

    # ------------------------------------------------------------ losses and joins

    def lose(self, index: int) -> None:
        """A shard fails: its contents are gone and its keys remap to the others."""
        if index >= len(self.shards) or not self.shards[index].up:
            return
        shard = self.shards[index]
        shard.up = False
        self.shard_map.remove(shard.name)
        self._up -= 1
        self._forget_placement()
        shard.store.clear()
        shard.filled_s.clear()
        self.cluster.event("cache", shard.name, "ShardLost")

    def recover(self, index: int) -> None:
        """A lost shard rejoins the ring, empty (warmed when warming.on_join)."""
        if index >= len(self.shards) or self.shards[index].up:
            return
        shard = self.shards[index]
        shard.up = True
        self.shard_map.add(shard.name)
        self._up += 1
        self._forget_placement()
        self.cluster.event("cache", shard.name, "ShardRecovered")
        if self.on_join is not None:
            self.on_join(shard, self.cluster.now)

    def join(self) -> None:
        """A new, empty shard joins the ring (warmed when warming.on_join)."""
        shard = self._new_shard()
        self.cluster.event("cache", shard.name, "ShardJoined")
        if self.on_join is not None:
            self.on_join(shard, self.cluster.now)
