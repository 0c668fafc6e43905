"""The cache stage: a request's reads through the cache and writes to the database.

A request's cache stage (Datastore.access, the DataStage of simscale.model.stages) reads its
kind's data types through the cache and writes its kind's writes to the database:

- Keys come from the request's user and session ("user:<id>", "session:<id>",
  "conversation:<session id>") and, for the LLM response cache, its prompt
  ("response:<id>"), as the key population gives them (simscale.workload.population); each
  lives on the shard its placement gives it (simscale.model.cache.shards).
- Reads are looked up in order, as the service awaits each. A miss reads the database (a
  pool connection, query times: simscale.model.database) and fills the cache before the
  next read is looked up; under single flight a miss on a key another request is already
  loading waits for that load instead (Go's singleflight; nginx proxy_cache_lock). Writes
  go to the database, then delete, update or leave the cached key (write-invalidate,
  write-through, TTL-only).
- The round trips (network + shard time) of a stage's lookups, fills and invalidations
  are summed and waited once, at its end: a request whose reads all hit costs one event,
  and a database operation starts up to a few round trips (about a millisecond) early.
- A fill stores the value the query read when it completed, atomically, so only TTL-only
  invalidation ever serves a value older than the last write (a stale read); the
  read-fill/invalidate race that leases fix (Nishtala et al., "Scaling Memcache at
  Facebook", NSDI 2013) is not modelled.
- A hit on the LLM response cache skips the LLM call: the request responds after its cache
  stage. A miss is filled when the request ends ok (its response is then known).

The request holds its slot throughout (Cluster.begin_wait / end_wait); a request that times
out, is abandoned or whose instance crashes stops at its next step, and a database wait it
no longer needs is given away (a flight's read still runs while followers wait for it).

Speed: a request whose reads all hit costs its lookups and one pooled event pushed straight
onto SimPy's queue, with no per-key objects: its keys and their shards come precomputed
(Shards.entry), reads are counted per request kind and only misses per read
(simscale.model.cache.stats). Everything else (misses, writes, response reads, stale
checks) takes the general path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from policies.caches import (
    DATA_TYPES,
    FOLLOWER,
    LEADER,
    SingleFlight,
    SingleFlightConfig,
    WriteAction,
    write_action,
)
from simscale.model.cache.shards import BLOCK_BITS, BLOCK_MASK, RESPONSE, TYPE_INDEX, Shards
from simscale.model.cache.stats import CacheStats
from simscale.model.database import Database
from simscale.model.events import EventPool
from simscale.model.request import OK, PENDING
from simscale.model.seam import Cluster
from simscale.outputs.columns import CACHE
from simscale.workload.population import KeyPopulation

# a visit's pending operations: a miss to load, a read still to look up, a write
_MISS, _READ, _WRITE = 0, 1, 2


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
        self.reads = tuple(TYPE_INDEX[t] for t in reads
                           if responses or TYPE_INDEX[t] != RESPONSE)
        self.writes = tuple(TYPE_INDEX[t] for t in writes if TYPE_INDEX[t] != RESPONSE)
        self.queries_per_miss = max(1, int(queries_per_miss))
        self.empty = not (self.reads or self.writes)
        self.general = self.empty or extra or RESPONSE in self.reads
        self.per_type = [self.reads.count(t) for t in range(len(DATA_TYPES))]
        self.delay_s = rtt_s * len(self.reads)
        self.visits = 0


class Visit:
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


class Datastore:
    """The cache in front of the database: the run's data stage. See the module docstring."""

    __slots__ = ("_action", "_blocks", "_counts", "_entry_of", "_events", "_extra",
                 "_flights", "_free_events", "_gets", "_hits_done_callbacks", "_id_block",
                 "_resume_callbacks",
                 "_index_of", "_last_data", "_last_profile", "_last_write", "_pending_fill",
                 "_profiles", "_prompt_key", "_responses", "_rtt_s", "_shards", "_stale_check",
                 "_waiters", "_win_misses", "_win_reads_adjust", "cluster", "db", "env",
                 "shards", "stats")

    columns = CACHE

    # Check every hit for staleness, whatever the invalidation mode (tests; see
    # simscale.model.cache.component).
    verify_stale = False

    def __init__(self, cluster: Cluster, section, db: Database, shards: Shards,
                 population: KeyPopulation, stats: CacheStats, stale_check: bool,
                 counts: Counter | None) -> None:
        self.cluster = cluster
        self.env = cluster.env
        self._events = EventPool(cluster.env)
        self._free_events = self._events.free
        # SimPy swaps an event's callback list out before calling it and never changes it,
        # so every pooled hit event can share one list
        self._hits_done_callbacks = [self._hits_done]
        self._resume_callbacks = [self._resume]
        self.db = db
        self.shards = self._shards = shards
        self.stats = stats
        self._action = write_action(section.invalidation)
        self._stale_check = stale_check
        self._flights = SingleFlight(SingleFlightConfig(section.stampede,
                                                        section.single_flight_timeout_s))
        self._waiters: dict[str, list[Visit]] = {}
        self._last_write: dict[str, float] = {}   # key -> when its latest write committed
        self._rtt_s = section.network_latency_s + section.hit_latency_s
        self._responses = section.llm_response_cache.enabled
        self._pending_fill: dict = {}
        self._counts = counts                 # reads by key, for warming (or None)
        # what the hot path uses of the other rooms, bound once (they change in place)
        self._blocks = shards.blocks
        self._gets = shards.gets
        self._id_block = shards.id_block
        self._entry_of = shards.entry_of
        self._index_of = shards.index_of
        self._prompt_key = population.prompt_key
        self._win_misses = stats.win_misses
        self._win_reads_adjust = stats.win_reads_adjust
        self._profiles = stats.profiles
        self._last_data: object = None        # a one-entry cache in front of _profiles
        self._last_profile = Profile((), (), 1, False, 0.0)
        # per-read work only some runs need: stale checks, popularity counts for warming
        self._extra = stale_check or counts is not None

    # ------------------------------------------------------------ profiles

    def profile_of(self, data) -> Profile:
        """The compiled profile of a request's `req.data` (a KindProfile of the workload:
        reads, writes, db_queries; see simscale.workload.kinds)."""
        entry = self._profiles.get(id(data))
        if entry is None:
            if data is None:
                profile = Profile((), (), 1, False, 0.0)
            else:
                profile = Profile(data.reads, data.writes, data.db_queries,
                                  self._responses, self._rtt_s, self._extra)
            entry = self._profiles[id(data)] = (data, profile)
        self._last_data = data
        self._last_profile = entry[1]
        return entry[1]


    # ------------------------------------------------------------ the stage

    def access(self, instance, req, now: float,
               then: Callable[[object, object, float], None],
               on_response_hit: Callable[[object, object, float], None] | None = None) -> None:
        """The request's cache stage: read its profile's types through the cache, write its
        writes, then call then(instance, req, t), holding the slot throughout.

        A hit on the LLM response cache calls on_response_hit instead of `then` (default:
        Cluster.respond, so the LLM call is skipped). A request with nothing to read or write
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
            e = self._entry_of(req.info)
        else:
            rid = req.info[0]
            block = blocks.get(rid >> BLOCK_BITS) or self._id_block(rid >> BLOCK_BITS)
            e = block[rid & BLOCK_MASK]
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
        instance.waiting[req] = None  # Cluster.begin_wait, inlined
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
        e = self._entry_of(info)
        ops = None
        for i, t in enumerate(prof.reads):
            key = e[t] if t != RESPONSE else self._prompt_key(info[0])
            at = e[t + 3] if t != RESPONSE else self._index_of(key)
            if self._gets[at](key, now):
                then = self._hit_extra(key, t, then, on_response_hit)
                continue
            self._win_misses[t] += 1
            if self._miss_extra(req, key, t):
                continue
            ops = [(_MISS, key, t)]
            ops += [(_READ, e[r] if r != RESPONSE else self._prompt_key(info[0]), r)
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
                self._after(delay, (instance, req, then), self._hits_done_callbacks)
            else:
                then(instance, req, now)
            return
        ops = (ops or []) + writes
        self._visit(instance, req, then, on_response_hit, ops, delay, prof.queries_per_miss,
                    now)

    def _visit(self, instance, req, then, on_response_hit, ops: list, delay_s: float,
               queries: int, now: float) -> None:
        """Start the slow part of a stage: database reads, later lookups, writes."""
        visit = Visit(instance, req, then, on_response_hit, ops, delay_s, queries)
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
            self.stats.response_hits += 1
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

    def _read(self, v: Visit, key: str, t: int, now: float) -> bool:
        """A visit's later read, looked up at its turn; True when nothing is left to load."""
        self._win_reads_adjust[t] += 1
        if self._shards.get_of(key)(key, now):
            v.then = self._hit_extra(key, t, v.then, v.on_response_hit)
            return True
        self._win_misses[t] += 1
        return self._miss_extra(v.req, key, t)

    def _after(self, delay_s: float, value, callbacks: list[Callable]) -> None:
        """callbacks[0](event) in delay_s seconds, with event._value = value (a pooled
        event; the one-callback lists are made once and shared)."""
        self._events.at(self.env._now + delay_s, value, callbacks)

    def _hits_done(self, ev) -> None:
        """The round trips of a request whose reads all hit are over: it goes on."""
        instance, req, then = ev._value
        self._free_events.append(ev)
        now = self.env._now
        # Cluster.end_wait(instance, req, now), inlined: this is the hot path
        waiting = instance.waiting
        if req not in waiting:
            return  # its instance crashed meanwhile
        del waiting[req]
        if req.status != PENDING or req.instance is not instance:
            instance.release(req, now, None)  # it timed out or was abandoned meanwhile
            return
        then(instance, req, now)

    def _check_stale(self, key: str) -> None:
        """A hit on a value filled before the key's last write is a stale read."""
        written = self._last_write.get(key)
        if written is not None:
            shard = self._shards.shard_of(key)
            if written > shard.filled_s.get(key, -1.0):
                self.stats.stale_reads += 1
                self.stats.win_stale += 1

    def _step(self, v: Visit, now: float) -> None:
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
                self._after(delay, v, self._resume_callbacks)
            elif self.cluster.end_wait(v.instance, v.req, now):
                v.then(v.instance, v.req, now)
            return
        kind, key, t = ops[v.pos]
        v.pos += 1
        if kind == _MISS:
            v.miss_s = now
            role = self._flights.begin(key, now)
            if role == FOLLOWER:
                stats = self.stats
                stats.coalesced += 1
                stats.win_coalesced += 1
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

    def _still_needed(self, v: Visit, key: str, now: float) -> bool:
        """A flight's read gets its connection: it runs while its leader still waits or
        followers do; otherwise the flight closes without reading."""
        if self._alive(v, now) or self._waiters.get(key):
            return True
        self._flights.end(key)
        return False

    def _alive(self, v: Visit, now: float) -> bool:
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

    def _loaded(self, v: Visit, key: str, t: int, leader: bool, now: float) -> None:
        """A miss's database read is over: fill the cache, release the flight's followers."""
        self._shards.fill(key, t, now)
        rtt = self._rtt_s
        if leader:
            self._flights.end(key)
            waiters = self._waiters.pop(key, None)
            if waiters:
                for w in waiters:
                    self.stats.win_miss_latency_s += now - w.miss_s
                    if self._alive(w, now):
                        self._step(w, now)
        self.stats.win_miss_latency_s += now - v.miss_s + rtt
        v.delay_s += rtt  # the fill's round trip
        if self._alive(v, now):
            self._step(v, now)

    def _written(self, v: Visit, key: str, t: int, now: float) -> None:
        """A write committed: apply the invalidation mode to the cached key."""
        if self._stale_check:
            self._last_write[key] = now
        action = self._action
        if action is not WriteAction.NONE:
            if action is WriteAction.DELETE:
                shard = self._shards.shard_of(key)
                if shard is not None and shard.store.delete(key):
                    shard.filled_s.pop(key, None)
            else:
                self._shards.fill(key, t, now)
            v.delay_s += self._rtt_s
        if self._alive(v, now):
            self._step(v, now)

    def on_end(self, req, status: int, now: float) -> None:
        """A request ended: an ok response whose prompt missed the response cache fills it."""
        key = self._pending_fill.pop(req, None)
        if key is not None and status == OK:
            self._shards.fill(key, RESPONSE, now)

    # ------------------------------------------------------------ outputs

    def metric_values(self, row: dict, now: float, span: float) -> tuple:
        """The window's cache columns (simscale.outputs.columns.CACHE)."""
        return self.stats.window_values(span, self.shards.shards)

    def summary(self, extra: dict) -> None:
        """The cache's and the database's totals into summary.json."""
        self.stats.summary(extra)
