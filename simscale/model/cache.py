"""The distributed cache of the model: sharded key stores in front of the database.

A request's cache stage (Datastore.access) reads its profile's data types through the cache
and writes its profile's writes to the database:

- Keys come from the request's user and session ("user:<id>", "session:<id>",
  "conversation:<session id>") and, for the LLM response cache, a prompt hash
  ("response:<id>"). Users are drawn here by Zipf popularity (keys.source = "zipf"), keyed
  on the request id so the same request reads the same keys whatever the policies, or taken
  from the request (keys.source = "workload").
- A key lives on the shard its placement gives it: a consistent-hash ring with virtual
  nodes (policies.caches.ShardMap), or Redis Cluster's hash slots (policies.caches.SlotMap,
  where a join or a loss moves slots); each shard is a bounded store from policies/caches (LRU, LFU,
  FIFO, S3-FIFO, W-TinyLFU) with TTLs by data type.
- Reads are looked up in order, as the service awaits each. A miss reads the database (a
  pool connection, query times) and fills the cache before the next read is looked up;
  under single flight a miss on a key another request is already loading waits for that
  load instead (Go's singleflight; nginx proxy_cache_lock). Writes go to the database,
  then delete, update or leave the cached key (write-invalidate, write-through, TTL-only).
- The round trips (network + shard time) of a stage's lookups, fills and invalidations
  are summed and waited once, at its end: a request whose reads all hit costs one event,
  and a database operation starts up to a few round trips (about a millisecond) early.
- A fill stores the value the query read when it completed, atomically, so only TTL-only
  invalidation ever serves a value older than the last write (a stale read); the
  read-fill/invalidate race that leases fix (Nishtala et al., "Scaling Memcache at
  Facebook", NSDI 2013) is not modelled.
- A hit on the LLM response cache skips the LLM call: the request responds after its cache
  stage. A miss is filled when the request ends ok (its response is then known).

The request holds its slot throughout (model.begin_wait/end_wait); a request that times
out, is abandoned or whose instance crashes stops at its next step, and a database wait it
no longer needs is given away (a flight's read still runs while followers wait for it).

Speed: a request whose reads all hit costs its lookups and one pooled event pushed straight
onto SimPy's queue, with no per-key objects: its keys and their shards come precomputed in
one tuple per session (drawn for blocks of request ids at once), reads are counted per
request kind and only misses per read. Everything else (misses, writes, response reads,
stale checks) takes the general path. Shard faults remove a shard from the ring (its keys remap, a
miss storm follows) and put it back empty; a joining shard takes its share of keys. Warming
preloads the most popular keys (policies.caches.top_k_by_rank) at start and on a join,
out of band (from a snapshot, not through the pool).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator

import numpy as np

from policies import registry
from policies.caches import (
    DATA_TYPES,
    FOLLOWER,
    LEADER,
    SingleFlight,
    SingleFlightConfig,
    TTLPolicy,
    WriteAction,
    top_k_by_count,
    top_k_by_rank,
    write_action,
    zipf_popularity,
)
from simscale.model.database import Database
from simscale.model.events import EventPool
from simscale.model.request import OK, PENDING
from simscale.model.seam import Cluster, Hooks
from simscale.outputs.columns import CACHE
from simscale.streams import stream

USER, SESSION, CONVERSATION, RESPONSE = range(4)
_TYPE_INDEX = {name: i for i, name in enumerate(DATA_TYPES)}
assert DATA_TYPES == ("user", "session", "conversation", "response")

# a visit's pending operations: a miss to load, a read still to look up, a write
_MISS, _READ, _WRITE = 0, 1, 2
_M64 = (1 << 64) - 1
_UNIT = 2.0 ** -53
_MEMO_LIMIT = 1 << 18
# request ids are mapped to users in blocks (vectorized); a few recent blocks are kept
_BLOCK_BITS = 14
_BLOCK_MASK = (1 << _BLOCK_BITS) - 1
_BLOCKS_KEPT = 8


def mix64(x: int) -> int:
    """SplitMix64's output function (Steele, Lea and Flood, "Fast splittable pseudorandom
    number generators", OOPSLA 2014): a bijection of 64-bit integers whose outputs pass
    BigCrush for consecutive inputs, so mix64(salt ^ request_id) is a random draw keyed on
    the request id."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def mix64_array(x: np.ndarray) -> np.ndarray:
    """mix64 over a uint64 array (numpy's uint64 arithmetic wraps modulo 2**64)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class Profile:
    """A request kind's cache profile, compiled: the data type indices it reads and writes,
    the database queries a miss costs, the round trips of its lookups, and how many
    requests of the kind passed through the cache in the current metrics window (reads by
    type are counted per profile, misses per read, so a hit costs no counter).

    general: the kind needs the general path of Datastore.access (response reads, per-read
    extras, or nothing to do); otherwise the fast path serves it.
    """

    __slots__ = ("reads", "writes", "queries_per_miss", "empty", "general", "per_type",
                 "delay_s", "visits")

    def __init__(self, reads, writes, queries_per_miss: int, responses: bool,
                 rtt_s: float, extra: bool = False) -> None:
        self.reads = tuple(_TYPE_INDEX[t] for t in reads
                           if responses or _TYPE_INDEX[t] != RESPONSE)
        self.writes = tuple(_TYPE_INDEX[t] for t in writes if _TYPE_INDEX[t] != RESPONSE)
        self.queries_per_miss = max(1, int(queries_per_miss))
        self.empty = not (self.reads or self.writes)
        self.general = self.empty or extra or RESPONSE in self.reads
        self.per_type = [self.reads.count(t) for t in range(len(DATA_TYPES))]
        self.delay_s = rtt_s * len(self.reads)
        self.visits = 0


class _Shard:
    """One cache shard: its store (and the store's get, bound once), and when each stored
    key was filled (for stale reads)."""

    __slots__ = ("name", "store", "get", "filled_s", "up")

    def __init__(self, name: str, store) -> None:
        self.name = name
        self.store = store
        self.get = store.get
        self.filled_s: dict[str, float] = {}
        self.up = True


class _Visit:
    """One request's pass through the cache stage, past its lookups."""

    __slots__ = ("instance", "req", "then", "on_response_hit", "attempts", "ops", "pos",
                 "delay_s", "miss_s", "queries")

    def __init__(self, instance, req, then, on_response_hit, ops: list, delay_s: float,
                 queries: int) -> None:
        self.instance = instance
        self.req = req
        self.then = then
        self.on_response_hit = on_response_hit
        self.attempts = req.attempts
        self.ops = ops
        self.pos = 0
        self.delay_s = delay_s
        self.miss_s = 0.0
        self.queries = queries


def _never(key, now_s) -> bool:
    """The lookup of a key when no shard is up: a miss."""
    return False


class Datastore:
    """The cache cluster and the database; model.datastore. See the module docstring."""

    __slots__ = ("_action", "_blocks", "_by_name", "_counts", "_events", "_extra", "_flights",
                 "_free_events", "_from_workload", "_gets", "_hits_done_callbacks",
                 "_last_data", "_last_profile", "_last_write", "_memo", "_pending_fill",
                 "_policy", "_policy_config", "_profiles", "_prompt_cdf", "_prompt_rank_salt",
                 "_prompt_salt", "_repeat_frac", "_responses", "_rng_seed", "_rtt_s",
                 "_shard_for", "_shards_up", "_sized", "_sizes", "_spu", "_stale_check",
                 "_ttls", "_user_cdf", "_user_salt", "_users", "_waiters", "_win_coalesced",
                 "_win_evictions", "_win_miss_latency_s", "_win_misses", "_win_reads_adjust",
                 "_win_stale", "coalesced", "db", "env", "evictions", "latency_sum_s", "misses",
                 "cluster", "reads", "response_hits", "section", "shard_map", "shards",
                 "stale_reads", "warmed")

    # Check every hit for staleness, whatever the invalidation mode (tests: only TTL-only
    # can serve stale values in this model, so runs check only under it).
    verify_stale = False

    columns = CACHE

    def __init__(self, cluster: Cluster, section, database, seed: int) -> None:
        self.cluster = cluster
        self.env = cluster.env
        self._events = EventPool(cluster.env)
        self._free_events = self._events.free
        # SimPy swaps an event's callback list out before calling it and never changes it,
        # so every pooled hit event can share one list
        self._hits_done_callbacks = [self._hits_done]
        self.section = section
        self.db = Database(cluster.env, database, seed)
        self._policy = section.eviction.policy
        self._policy_config = section.eviction.config_with_capacity(section.capacity)
        self._sized = section.capacity_bytes is not None
        self._sizes = tuple(section.size_bytes_by_type.get(t, 1) if self._sized else 1
                            for t in DATA_TYPES)
        ttl = TTLPolicy(ttl_s_by_type=dict(section.ttl_s_by_type))
        self._ttls = tuple(ttl.ttl_s(t) for t in DATA_TYPES)
        self._action = write_action(section.invalidation)
        self._stale_check = section.invalidation == "ttl_only" or self.verify_stale
        self._flights = SingleFlight(SingleFlightConfig(section.stampede,
                                                        section.single_flight_timeout_s))
        self._waiters: dict[str, list[_Visit]] = {}
        self._last_write: dict[str, float] = {}   # key -> when its latest write committed
        self._rtt_s = section.network_latency_s + section.hit_latency_s
        self._rng_seed = stream(seed, "cache.shards")

        # keys: with source "zipf", each request's entry (see _entry) is drawn in blocks of
        # request ids; with source "workload" it comes from the request's ids
        keys = section.keys
        salts = stream(seed, "cache.keys").integers(0, 1 << 63, 3).tolist()
        self._user_salt, self._prompt_salt, self._prompt_rank_salt = salts
        self._from_workload = keys.source == "workload"
        self._spu = keys.sessions_per_user
        self._users = keys.users
        self._user_cdf = np.cumsum(zipf_popularity(keys.users, keys.zipf_s))
        self._blocks: dict[int, list[tuple]] | None = None if self._from_workload else {}
        self._memo: dict = {}

        # placement: the ring names shards; _gets[i] is shard i's get (the last: a miss)
        self.shard_map = registry.build("placement", section.placement,
                                        section.placement_config)
        self.shards: list[_Shard] = []
        self._by_name: dict[str, _Shard] = {}
        self._shard_for = self.shard_map.shard_for
        self._shards_up = 0
        self._gets: list[Callable] = [_never]
        initial = [self._new_shard(placed=False) for _ in range(section.shards)]
        self.shard_map.add_many(shard.name for shard in initial)  # one sort, not one per shard
        self._forget_placement()
        rc = section.llm_response_cache
        self._responses = rc.enabled
        self._repeat_frac = rc.repeat_frac
        self._prompt_cdf = np.cumsum(zipf_popularity(rc.prompts, rc.zipf_s)).tolist()
        self._pending_fill: dict = {}
        warming = section.warming
        self._counts: Counter | None = None
        if self._from_workload and warming.top_k and warming.on_join:
            self._counts = Counter()
        self._profiles: dict[int, tuple[object, Profile]] = {}
        self._last_data: object = None        # a one-entry cache in front of _profiles
        self._last_profile = Profile((), (), 1, False, 0.0)
        # per-read work only some runs need: stale checks, popularity counts for warming
        self._extra = self._stale_check or self._counts is not None

        # statistics by data type: run totals are folded in from each window
        self.reads = [0, 0, 0, 0]
        self.misses = [0, 0, 0, 0]
        self._win_misses = [0, 0, 0, 0]
        self._win_reads_adjust = [0, 0, 0, 0]
        self.latency_sum_s = 0.0
        self._win_miss_latency_s = 0.0   # what misses add to the lookups' round trips
        self.stale_reads = self._win_stale = 0
        self.evictions = self._win_evictions = 0
        self.coalesced = self._win_coalesced = 0
        self.warmed = 0
        self.response_hits = 0

        if warming.top_k and warming.on_start:
            self._warm_all(0.0)
        for fault in section.faults:
            self._schedule(fault.at_s, self._fault_action(fault))
            if getattr(fault, "recover_at_s", None) is not None:
                self._schedule(fault.recover_at_s, lambda f=fault: self._recover(f.shard))

    # ------------------------------------------------------------ shards

    def _new_shard(self, placed: bool = True) -> _Shard:
        """A new, empty shard, put on the ring unless `placed` is false (the caller then
        places it and forgets placements)."""
        index = len(self.shards)
        store = registry.build("cache", self._policy, self._policy_config,
                               np.random.default_rng(self._rng_seed.integers(1 << 63)))
        shard = _Shard(f"cache-{index}", store)
        self.shards.append(shard)
        self._by_name[shard.name] = shard
        self._shards_up += 1
        if placed:
            self.shard_map.add(shard.name)
            self._forget_placement()
        return shard

    def shard_of(self, key: str) -> _Shard | None:
        """The shard that owns `key` now (None when every shard is down)."""
        if not self._shards_up:
            return None
        return self._by_name[self._shard_for(key)]

    def _get_of(self, key: str) -> Callable:
        """The get of the shard owning `key` (a miss when no shard is up)."""
        return self._gets[self._index_of(key)]

    def _index_of(self, key: str) -> int:
        """Index in _gets of the shard owning `key` (the last entry: no shard is up)."""
        if not self._shards_up:
            return len(self.shards)
        return int(self._shard_for(key)[6:])

    def _entry(self, uid: int, sid: int) -> tuple:
        """The keys a request of user `uid` in session `sid` may touch, and their shards:
        (user key, session key, conversation key, and their indices in _gets), indexed by
        data type (key at [t], shard at [t + 3]). Memoized by session (by user and session
        when the workload gives the ids); only strings and ints, so the garbage collector
        stops tracking them."""
        memo = self._memo
        memo_key = sid if self._blocks is not None else (uid, sid)
        entry = memo.get(memo_key)
        if entry is None:
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            user, session, conversation = f"user:{uid}", f"session:{sid}", f"conversation:{sid}"
            index = self._index_of
            entry = memo[memo_key] = (user, session, conversation, index(user),
                                      index(session), index(conversation))
        return entry

    def _forget_placement(self) -> None:
        """The shards changed: drop what remembers which shard holds what."""
        self._memo.clear()
        if self._blocks is not None:
            self._blocks.clear()
        self._gets = [shard.get for shard in self.shards] + [_never]

    def _schedule(self, at_s: float, action: Callable[[], None]) -> None:
        ev = self.env.timeout(max(0.0, at_s - self.env._now))
        ev.callbacks.append(lambda _ev: action())

    def _fault_action(self, fault) -> Callable[[], None]:
        if fault.kind == "shard_join":
            return self._join
        return lambda: self._lose(fault.shard)

    def _lose(self, index: int) -> None:
        """A shard fails: its contents are gone and its keys remap to the others."""
        if index >= len(self.shards) or not self.shards[index].up:
            return
        shard = self.shards[index]
        shard.up = False
        self.shard_map.remove(shard.name)
        self._shards_up -= 1
        self._forget_placement()
        shard.store.clear()
        shard.filled_s.clear()
        self.cluster.event("cache", shard.name, "ShardLost")

    def _recover(self, index: int) -> None:
        """A lost shard rejoins the ring, empty (warmed when warming.on_join)."""
        if index >= len(self.shards) or self.shards[index].up:
            return
        shard = self.shards[index]
        shard.up = True
        self.shard_map.add(shard.name)
        self._shards_up += 1
        self._forget_placement()
        self.cluster.event("cache", shard.name, "ShardRecovered")
        if self.section.warming.top_k and self.section.warming.on_join:
            self._warm(shard, self.env._now)

    def _join(self) -> None:
        """A new, empty shard joins the ring (warmed when warming.on_join)."""
        shard = self._new_shard()
        self.cluster.event("cache", shard.name, "ShardJoined")
        if self.section.warming.top_k and self.section.warming.on_join:
            self._warm(shard, self.env._now)

    # ------------------------------------------------------------ warming

    def keys_by_rank(self) -> Iterator[str]:
        """Keys of the warmed types, most popular user first (Zipf rank order); a user's
        sessions follow the user."""
        types = self.section.warming.types
        spu = self._spu
        prompts = len(self._prompt_cdf)
        for rank in range(self._users):
            for t in types:
                if t == "user":
                    yield f"user:{rank}"
                elif t == "response":
                    if rank < prompts:
                        yield f"response:{rank}"
                else:
                    for j in range(spu):
                        yield f"{t}:{rank * spu + j}"

    def _warm_all(self, now: float) -> None:
        """Preload every shard with the top-K keys it owns, in one pass over the keys by
        popularity (the same keys _warm would pick shard by shard)."""
        k = self.section.warming.top_k
        if self._from_workload:
            for shard in self.shards:
                self._warm(shard, now)
            return
        chosen: dict[str, list[str]] = {shard.name: [] for shard in self.shards}
        open_shards = len(chosen)
        shard_for = self._shard_for
        for key in self.keys_by_rank():
            keys = chosen[shard_for(key)]
            if len(keys) < k:
                keys.append(key)
                if len(keys) == k:
                    open_shards -= 1
                    if not open_shards:
                        break
        for shard in self.shards:
            self._preload(shard, chosen[shard.name], now)

    def _preload(self, shard: _Shard, keys: list[str], now: float) -> None:
        for key in reversed(keys):
            self._fill(key, _TYPE_INDEX[key.partition(":")[0]], now, shard)
        self.warmed += len(keys)
        self.cluster.event("cache", shard.name, f"Warmed:{len(keys)}")

    def _warm(self, shard: _Shard, now: float) -> None:
        """Preload the top-K keys `shard` owns, least popular first, so that recency- and
        insertion-ordered policies keep the most popular when K exceeds the room."""
        k = self.section.warming.top_k

        def owns(key: str) -> bool:
            return self.shard_of(key) is shard

        if self._from_workload:
            keys = top_k_by_count(self._counts, k, keep=owns) if self._counts else []
        else:
            keys = top_k_by_rank(self.keys_by_rank(), k, keep=owns)
        self._preload(shard, keys, now)

    # ------------------------------------------------------------ profiles and keys

    def profile_of(self, data) -> Profile:
        """The compiled profile of a request's `req.data` (a KindProfile of the workload:
        reads, writes, db_queries; see simscale.workload.kinds)."""
        entry = self._profiles.get(id(data))
        if entry is None:
            if data is None:
                profile = Profile((), (), 1, False, 0.0)
            else:
                profile = Profile(data.reads, data.writes, getattr(data, "db_queries", 1),
                                  self._responses, self._rtt_s, self._extra)
            entry = self._profiles[id(data)] = (data, profile)
        self._last_data = data
        self._last_profile = entry[1]
        return entry[1]

    def ids_of(self, info) -> tuple[int, int]:
        """(user id, session id) of a request."""
        if self._blocks is None:
            return info[2], info[3]
        rid = info[0]
        h = mix64_array(np.array([rid], dtype=np.uint64) ^ np.uint64(self._user_salt))
        user, session = self._users_of(h)
        return int(user[0]), int(session[0])

    def entry_of(self, info) -> tuple:
        """The request's keys and their shards (see _entry)."""
        if self._blocks is None:
            return self._entry(info[2], info[3])
        rid = info[0]
        block = self._blocks.get(rid >> _BLOCK_BITS) or self._id_block(rid >> _BLOCK_BITS)
        return block[rid & _BLOCK_MASK]

    def _users_of(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Users and sessions from keyed hashes: user rank r with probability ∝ r^-zipf_s
        (inverse CDF of the hash as a uniform), a session uniformly among the user's."""
        u = (h >> np.uint64(11)).astype(np.float64) * _UNIT
        users = np.minimum(np.searchsorted(self._user_cdf, u, side="right"), self._users - 1)
        spu = self._spu
        return users, users * spu + (h & np.uint64(0xFFFFFFFF)).astype(np.int64) % spu

    def _id_block(self, b: int) -> list[tuple]:
        """The entries of request ids [b·2^14, (b+1)·2^14), drawn at once (keys.source =
        "zipf"); a few recent blocks are kept."""
        rids = np.arange(b << _BLOCK_BITS, (b + 1) << _BLOCK_BITS, dtype=np.uint64)
        users, sessions = self._users_of(mix64_array(rids ^ np.uint64(self._user_salt)))
        memo, entry = self._memo, self._entry
        block = [memo.get(s) or entry(u, s) for u, s in zip(users.tolist(), sessions.tolist())]
        blocks = self._blocks
        if len(blocks) >= _BLOCKS_KEPT:
            del blocks[min(blocks)]
        blocks[b] = block
        return block

    def prompt_key(self, info) -> str:
        """The response-cache key of a request's prompt: a common prompt with probability
        repeat_frac (Zipf rank), else unique to the request."""
        rid = info[0]
        h = mix64(self._prompt_salt ^ rid)
        if (h >> 11) * _UNIT < self._repeat_frac:
            u = (mix64(self._prompt_rank_salt ^ rid) >> 11) * _UNIT
            rank = min(bisect_right(self._prompt_cdf, u), len(self._prompt_cdf) - 1)
            return f"response:{rank}"
        return f"response:u{rid}"

    # ------------------------------------------------------------ the stage

    def access(self, instance, req, now: float,
               then: Callable[[object, object, float], None],
               on_response_hit: Callable[[object, object, float], None] | None = None) -> None:
        """The request's cache stage: read its profile's types through the cache, write its
        writes, then call then(instance, req, t), holding the slot throughout.

        A hit on the LLM response cache calls on_response_hit instead of `then` (default:
        model.respond, so the LLM call is skipped). A request with nothing to read or write
        goes on at once.
        """
        data = req.data
        prof = self._last_profile if data is self._last_data else self.profile_of(data)
        if prof.general:
            self._access_general(instance, req, now, then, on_response_hit, prof)
            return
        prof.visits += 1
        blocks = self._blocks
        if blocks is None:
            e = self.entry_of(req.info)
        else:
            rid = req.info[0]
            block = blocks.get(rid >> _BLOCK_BITS) or self._id_block(rid >> _BLOCK_BITS)
            e = block[rid & _BLOCK_MASK]
        gets = self._gets
        reads = prof.reads
        for t in reads:
            if gets[e[t + 3]](e[t], now):
                continue
            # the first miss loads from the database; the later reads are looked up in turn
            self._win_misses[t] += 1
            i = reads.index(t)  # a repeated type hit or missed with its first occurrence
            ops = [(_MISS, e[t], t)]
            ops += [(_READ, e[r], r) for r in reads[i + 1:]]
            self._defer(reads[i + 1:])
            ops += [(_WRITE, e[w], w) for w in prof.writes]
            self._visit(instance, req, then, on_response_hit, ops, self._rtt_s * (i + 1),
                        prof.queries_per_miss, now)
            return
        if prof.writes:
            self._visit(instance, req, then, on_response_hit,
                        [(_WRITE, e[w], w) for w in prof.writes], prof.delay_s,
                        prof.queries_per_miss, now)
            return
        # every read hit: one wait for all the round trips
        if not prof.delay_s:
            then(instance, req, now)
            return
        instance.waiting.add(req)  # model.begin_wait, inlined
        self._events.at(now + prof.delay_s, (instance, req, then), self._hits_done_callbacks)

    def _access_general(self, instance, req, now: float, then, on_response_hit,
                        prof: Profile) -> None:
        """access() for the kinds the fast path does not serve: response-cache reads,
        per-read extras (stale checks, popularity counts), nothing to do."""
        if prof.empty:
            then(instance, req, now)
            return
        prof.visits += 1
        info = req.info
        e = self.entry_of(info)
        ops = None
        for i, t in enumerate(prof.reads):
            key = e[t] if t != RESPONSE else self.prompt_key(info)
            at = e[t + 3] if t != RESPONSE else self._index_of(key)
            if self._gets[at](key, now):
                then = self._hit_extra(key, t, then, on_response_hit)
                continue
            self._win_misses[t] += 1
            if self._miss_extra(req, key, t):
                continue
            ops = [(_MISS, key, t)]
            ops += [(_READ, e[r] if r != RESPONSE else self.prompt_key(info), r)
                    for r in prof.reads[i + 1:]]
            self._defer(prof.reads[i + 1:])
            delay = self._rtt_s * (i + 1)
            break
        else:
            delay = prof.delay_s
        writes = [(_WRITE, e[w], w) for w in prof.writes]
        if ops is None and not writes:
            if delay > 0.0:
                self.cluster.begin_wait(instance, req)
                self._after(delay, (instance, req, then), self._hits_done)
            else:
                then(instance, req, now)
            return
        ops = (ops or []) + writes
        self._visit(instance, req, then, on_response_hit, ops, delay, prof.queries_per_miss,
                    now)

    def _visit(self, instance, req, then, on_response_hit, ops: list, delay_s: float,
               queries: int, now: float) -> None:
        """Start the slow part of a stage: database reads, later lookups, writes."""
        visit = _Visit(instance, req, then, on_response_hit, ops, delay_s, queries)
        self.cluster.begin_wait(instance, req)
        self._step(visit, now)

    def _hit_extra(self, key: str, t: int, then, on_response_hit):
        """What a hit needs besides counting: popularity counts (warming by observed reads),
        the stale check, and for the response cache the stage's next step."""
        if self._counts is not None:
            self._counts[key] += 1
        if self._stale_check:
            self._check_stale(key)
        if t == RESPONSE:
            self.response_hits += 1
            return on_response_hit or self.cluster.respond
        return then

    def _miss_extra(self, req, key: str, t: int) -> bool:
        """What a miss needs besides counting; True when there is nothing to load (a
        response is filled when its request ends)."""
        if self._counts is not None:
            self._counts[key] += 1
        if t == RESPONSE:
            self._pending_fill[req] = key
            return True
        return False

    def _defer(self, types) -> None:
        """Reads counted with their request's profile that will be looked up later: they
        count in the window where they are looked up (if ever), as their misses do."""
        adjust = self._win_reads_adjust
        for t in types:
            adjust[t] -= 1

    def _read(self, v: _Visit, key: str, t: int, now: float) -> bool:
        """A visit's later read, looked up at its turn; True when nothing is left to load."""
        self._win_reads_adjust[t] += 1
        if self._get_of(key)(key, now):
            v.then = self._hit_extra(key, t, v.then, v.on_response_hit)
            return True
        self._win_misses[t] += 1
        return self._miss_extra(v.req, key, t)

    def _after(self, delay_s: float, value, callback: Callable) -> None:
        """callback(event) in delay_s seconds, with event._value = value (a pooled event)."""
        self._events.at(self.env._now + delay_s, value, [callback])

    def _hits_done(self, ev) -> None:
        """The round trips of a request whose reads all hit are over: it goes on."""
        instance, req, then = ev._value
        self._free_events.append(ev)
        now = self.env._now
        # model.end_wait(instance, req, now), inlined: this is the hot path
        waiting = instance.waiting
        if req not in waiting:
            return  # its instance crashed meanwhile
        waiting.discard(req)
        if req.status != PENDING or req.instance is not instance:
            instance.release(req, now, None)  # it timed out or was abandoned meanwhile
            return
        then(instance, req, now)

    def _check_stale(self, key: str) -> None:
        """A hit on a value filled before the key's last write is a stale read."""
        written = self._last_write.get(key)
        if written is not None:
            shard = self.shard_of(key)
            if written > shard.filled_s.get(key, -1.0):
                self.stale_reads += 1
                self._win_stale += 1

    def _step(self, v: _Visit, now: float) -> None:
        """Advance a visit: look up its next reads, run its next database operation, or
        wait out its round trips (summed over the whole stage, waited once at the end)."""
        ops = v.ops
        rtt = self._rtt_s
        while v.pos < len(ops) and ops[v.pos][0] == _READ:
            _, key, t = ops[v.pos]
            v.delay_s += rtt
            if self._read(v, key, t, now):
                v.pos += 1
            else:
                ops[v.pos] = (_MISS, key, t)
                break
        if v.pos == len(ops):
            if v.delay_s > 0.0:
                delay = v.delay_s
                v.delay_s = 0.0
                self._after(delay, v, self._resume)
            elif self.cluster.end_wait(v.instance, v.req, now):
                v.then(v.instance, v.req, now)
            return
        kind, key, t = ops[v.pos]
        v.pos += 1
        if kind == _MISS:
            v.miss_s = now
            role = self._flights.begin(key, now)
            if role == FOLLOWER:
                self.coalesced += 1
                self._win_coalesced += 1
                waiters = self._waiters.get(key)
                if waiters is None:
                    self._waiters[key] = [v]
                else:
                    waiters.append(v)
                return
            leader = role == LEADER
            self.db.submit(v.queries, False,
                           lambda done_s: self._loaded(v, key, t, leader, done_s),
                           (lambda at_s: self._still_needed(v, key, at_s)) if leader
                           else (lambda at_s: self._alive(v, at_s)), now)
        else:
            self.db.submit(1, True, lambda done_s: self._written(v, key, t, done_s),
                           lambda at_s: self._alive(v, at_s), now)

    def _resume(self, ev) -> None:
        v = ev._value
        ev._value = None
        self._free_events.append(ev)
        now = self.env._now
        if self._alive(v, now):
            self._step(v, now)

    def _still_needed(self, v: _Visit, key: str, now: float) -> bool:
        """A flight's read gets its connection: it runs while its leader still waits or
        followers do; otherwise the flight closes without reading."""
        if self._alive(v, now) or self._waiters.get(key):
            return True
        self._flights.end(key)
        return False

    def _alive(self, v: _Visit, now: float) -> bool:
        """True when the visit's request still waits on this attempt; otherwise give back
        the slot it held (timed out, abandoned) and stop. After a crash there is nothing
        to give back: the instance dropped it."""
        req = v.req
        instance = v.instance
        if req.attempts == v.attempts:
            if req.status == PENDING and req.instance is instance and req in instance.waiting:
                return True
            self.cluster.end_wait(instance, req, now)
        elif req.instance is not instance:
            self.cluster.end_wait(instance, req, now)
        return False

    def _fill(self, key: str, t: int, now: float, shard: _Shard | None = None) -> None:
        """Store the value read (or written) at `now` on the key's shard (given, or found)."""
        if shard is None:
            shard = self.shard_of(key)
            if shard is None:
                return
        evicted = shard.store.put(key, now, self._sizes[t], self._ttls[t])
        if self._stale_check:
            filled = shard.filled_s
            filled[key] = now
            for victim in evicted:
                filled.pop(victim, None)
        for victim in evicted:
            if victim != key:
                self.evictions += 1
                self._win_evictions += 1

    def _loaded(self, v: _Visit, key: str, t: int, leader: bool, now: float) -> None:
        """A miss's database read is over: fill the cache, release the flight's followers."""
        self._fill(key, t, now)
        rtt = self._rtt_s
        if leader:
            self._flights.end(key)
            waiters = self._waiters.pop(key, None)
            if waiters:
                for w in waiters:
                    self._win_miss_latency_s += now - w.miss_s
                    if self._alive(w, now):
                        self._step(w, now)
        self._win_miss_latency_s += now - v.miss_s + rtt
        v.delay_s += rtt  # the fill's round trip
        if self._alive(v, now):
            self._step(v, now)

    def _written(self, v: _Visit, key: str, t: int, now: float) -> None:
        """A write committed: apply the invalidation mode to the cached key."""
        if self._stale_check:
            self._last_write[key] = now
        action = self._action
        if action is not WriteAction.NONE:
            if action is WriteAction.DELETE:
                shard = self.shard_of(key)
                if shard is not None and shard.store.delete(key):
                    shard.filled_s.pop(key, None)
            else:
                self._fill(key, t, now)
            v.delay_s += self._rtt_s
        if self._alive(v, now):
            self._step(v, now)

    def _on_end(self, req, status: int, now: float) -> None:
        """A request ended: an ok response whose prompt missed the response cache fills it."""
        key = self._pending_fill.pop(req, None)
        if key is not None and status == OK:
            self._fill(key, RESPONSE, now)

    # ------------------------------------------------------------ outputs

    def _window(self) -> tuple[list[int], float]:
        """Reads by type in the open window and their lookups' round trips, from the
        profiles' visit counts (less the reads deferred to a later lookup, plus those made)."""
        reads = list(self._win_reads_adjust)
        latency = self._win_miss_latency_s
        for _data, prof in self._profiles.values():
            visits = prof.visits
            if visits:
                latency += visits * prof.delay_s
                for t, n in enumerate(prof.per_type):
                    reads[t] += visits * n
        return reads, latency

    def totals(self) -> tuple[list[int], list[int], float]:
        """Run totals of reads and hits by type, and of read latency, s (open window
        included)."""
        win_reads, win_latency = self._window()
        reads = [a + b for a, b in zip(self.reads, win_reads)]
        misses = [a + b for a, b in zip(self.misses, self._win_misses)]
        return reads, [r - m for r, m in zip(reads, misses)], self.latency_sum_s + win_latency

    def metric_values(self, row: dict, now: float, span: float) -> tuple:
        """The window's cache columns (simscale.outputs.columns.CACHE); folds the window into
        the run totals and starts the next."""
        reads, latency = self._window()
        misses = self._win_misses
        total = sum(reads)
        values = (
            (total - sum(misses)) / total if total else None,
            *((reads[i] - misses[i]) / reads[i] if reads[i] else None
              for i in range(len(DATA_TYPES))),
            total / span,
            latency / total if total else None,
            self._win_evictions,
            self._win_stale,
            self._win_coalesced,
            sum(len(s.store) for s in self.shards if s.up),
            sum(1 for s in self.shards if s.up),
        )
        self.reads = [a + b for a, b in zip(self.reads, reads)]
        self.misses = [a + b for a, b in zip(self.misses, misses)]
        self.latency_sum_s += latency
        for _data, prof in self._profiles.values():
            prof.visits = 0
        self._win_misses = [0, 0, 0, 0]
        self._win_reads_adjust = [0, 0, 0, 0]
        self._win_miss_latency_s = 0.0
        self._win_evictions = self._win_stale = self._win_coalesced = 0
        return values

    def _on_summary(self, extra: dict) -> None:
        reads, hits, latency_sum_s = self.totals()
        n = sum(reads)
        extra["cache_hit_rate"] = sum(hits) / n if n else None
        for i, name in enumerate(DATA_TYPES):
            extra[f"cache_hit_rate_{name}"] = hits[i] / reads[i] if reads[i] else None
        extra["cache_reads"] = n
        extra["cache_hits"] = sum(hits)
        extra["cache_latency_mean_s"] = latency_sum_s / n if n else None
        extra["stale_reads"] = self.stale_reads
        extra["cache_evictions"] = self.evictions
        extra["cache_coalesced"] = self.coalesced
        extra["cache_warmed_keys"] = self.warmed
        extra["response_cache_hits"] = self.response_hits
        extra.update(self.db.totals())


def attach(cluster: Cluster, hooks: Hooks, section, database, seed: int) -> Datastore | None:
    """Build the cache and database from their spec sections as the run's data stage
    (hooks.datastore; None when the cache is off). Requests reach it through their stage
    chain (simscale.model.stages)."""
    if not section.enabled:
        return None
    datastore = Datastore(cluster, section, database, seed)
    hooks.datastore = datastore
    hooks.metrics.append(datastore)
    hooks.metrics.append(datastore.db)
    hooks.summary.append(datastore._on_summary)
    if datastore._responses:
        hooks.end.append(datastore._on_end)
    return datastore
