"""The cache stage request by request: latencies, single flight, the pool, invalidation,
timeouts and crashes while waiting, shard loss, warming and key draws.

Requests are built by hand and sent through the model (admit → slot → CPU → the cache
stage); each test asserts a log of (request, time) pairs, as SimPy's own tests do.
"""

from __future__ import annotations

import numpy as np
import pytest

from policies.caches import zipf_popularity
from policies.views import RequestInfo
from simscale.model import Model, Request
from simscale.model.request import ERROR, OK, TIMEOUT
from simscale.outputs.recorder import RequestLog
from simscale.workload.kinds import KindProfile
from tests.conftest import small_spec

RTT = 0.001      # network round trip to a shard; shard time 0
QUERY = 0.010    # every read query
WRITE = 0.005    # every write
QUIET = {"arrivals": {"kind": "poisson", "rate_rps": 1e-6}}  # no arrivals of its own

WARMED_TYPES = ("user", "session", "conversation")  # warming's default types


def direct_model(timeout_s: float | None = 30.0, pool_size: int = 10, query_s: float = QUERY,
                 **cache) -> Model:
    settings = {"keys": {"source": "workload"}, "network_latency_s": RTT,
                "hit_latency_s": 0.0, **cache}
    spec = small_spec(workload=QUIET, instances={"count": 1, "slots": 64},
                      timeouts={"request_s": timeout_s}, cache=settings,
                      database={"pool_size": pool_size,
                                "query_time": {"kind": "deterministic", "value_s": query_s},
                                "write_time": {"kind": "deterministic", "value_s": WRITE}})
    return Model(spec, RequestLog(None, 1000))


class Client:
    """Sends requests of given profiles and logs (request id, when the cache stage ended)."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.log: list[tuple[int, float]] = []
        self.profiles: dict = {}
        self.sent: list[Request] = []

    def send(self, reads=(), writes=(), user: int = 1, session: int = 1,
             queries: int = 1) -> Request:
        key = (tuple(reads), tuple(writes), queries)
        if key not in self.profiles:
            self.profiles[key] = KindProfile("chat", 0, *key[:2], db_queries=queries)
        model = self.model
        rid = model.new_request_id()
        req = Request(RequestInfo(rid, "chat", user, session, 0, 0, model.now), 0.0)
        req.data = self.profiles[key]
        datastore = model.hooks.datastore

        def then(instance, r, now):
            self.log.append((r.info.request_id, round(now, 9)))
            model.respond(instance, r, now)

        req.after_cpu = lambda instance, r, now: datastore.access(instance, r, now, then)
        model.admit(req, model.now)
        self.sent.append(req)
        return req

    def at(self, t: float) -> None:
        self.model.run_until(t)


def test_the_cache_component_is_absent_when_off():
    spec = small_spec()
    model = Model(spec, RequestLog(None, 1000))
    assert model.hooks.datastore is None


def test_a_miss_costs_lookup_query_and_fill_and_then_the_key_hits():
    client = Client(direct_model())
    client.send(reads=["user"])          # miss: lookup, query, fill
    client.at(1.0)
    client.send(reads=["user"])          # hit: lookup only
    client.at(2.0)
    assert client.log == [(0, 2 * RTT + QUERY), (1, 1.0 + RTT)]
    totals = client.model.hooks.datastore.stats.totals()
    assert totals[0][0] == 2 and totals[1][0] == 1


def test_the_round_trips_of_all_hits_are_one_wait():
    client = Client(direct_model())
    client.send(reads=["user", "session", "conversation"])
    client.at(1.0)
    client.send(reads=["user", "session", "conversation"])
    client.at(2.0)
    # first: three misses, one after the other; then three hits
    assert client.log == [(0, round(3 * (2 * RTT + QUERY), 9)), (1, round(1.0 + 3 * RTT, 9))]


def test_later_reads_are_looked_up_after_the_miss_before_them():
    client = Client(direct_model())
    client.send(reads=["session"])
    client.at(1.0)
    client.send(reads=["user", "session"])  # user misses; session is looked up after it
    client.at(2.0)
    assert client.log[1] == (1, round(1.0 + 3 * RTT + QUERY, 9))


def test_single_flight_coalesces_concurrent_misses_on_one_key():
    client = Client(direct_model(stampede="single_flight"))
    for _ in range(3):
        client.send(reads=["user"])
    client.at(1.0)
    datastore = client.model.hooks.datastore
    assert datastore.db.queries == 1 and datastore.stats.coalesced == 2
    # followers get the leader's value when it arrives; only the leader fills
    assert sorted(client.log) == [(0, 2 * RTT + QUERY), (1, RTT + QUERY), (2, RTT + QUERY)]


def test_without_coalescing_every_concurrent_miss_reads_the_database():
    client = Client(direct_model(stampede="none"))
    for _ in range(3):
        client.send(reads=["user"])
    client.at(1.0)
    assert client.model.hooks.datastore.db.queries == 3
    assert client.model.hooks.datastore.stats.coalesced == 0


def test_the_pool_bounds_connections_and_requests_wait_in_order():
    client = Client(direct_model(pool_size=2))
    for user in range(5):
        client.send(reads=["user"], user=user)
    client.at(1.0)
    db = client.model.hooks.datastore.db
    assert db.peak_in_use == 2 and db.queries == 5
    ends = [round(2 * RTT + k * QUERY, 9) for k in (1, 1, 2, 2, 3)]
    assert client.log == list(enumerate(ends))
    assert db.totals()["db_wait_mean_s"] == pytest.approx((0 + 0 + 0.01 + 0.01 + 0.02) / 5)


def test_a_write_goes_to_the_database_then_invalidates():
    client = Client(direct_model())
    client.send(writes=["conversation"])
    client.at(1.0)
    assert client.log == [(0, WRITE + RTT)]
    assert client.model.hooks.datastore.db.writes == 1


@pytest.mark.parametrize("mode, third_read_hits, stale", [
    ("write_invalidate", False, 0),
    ("write_through", True, 0),
    ("ttl_only", True, 1),
])
def test_invalidation_modes(mode, third_read_hits, stale):
    client = Client(direct_model(invalidation=mode))
    client.send(reads=["conversation"])          # miss, filled
    client.at(1.0)
    client.send(writes=["conversation"])         # a chat turn appends
    client.at(2.0)
    client.send(reads=["conversation"])
    client.at(3.0)
    datastore = client.model.hooks.datastore
    reads, hits, _ = datastore.stats.totals()
    assert hits[2] == (1 if third_read_hits else 0)
    assert datastore.stats.stale_reads == stale


def test_a_value_expires_after_its_ttl():
    client = Client(direct_model(ttl_s_by_type={"user": 5.0}))
    for t in (0.0, 1.0, 10.0):
        client.at(t)
        client.send(reads=["user"])
    client.at(11.0)
    reads, hits, _ = client.model.hooks.datastore.stats.totals()
    assert (reads[0], hits[0]) == (3, 1)


def test_a_request_that_times_out_waiting_gives_its_turn_away():
    model = direct_model(timeout_s=0.5, pool_size=1, query_s=1.0)
    client = Client(model)
    client.send(reads=["user"], user=1)
    client.send(reads=["user"], user=2)      # waits for the only connection
    client.at(5.0)
    db = model.hooks.datastore.db
    assert client.log == []                  # both timed out before their data came
    assert [r.status for r in client.sent] == [TIMEOUT, TIMEOUT]
    assert db.queries == 1 and db.skipped == 1
    assert model.instances[0].busy == 0 and not model.instances[0].waiting
    # the first read still filled the cache: its query was running when its client left
    assert model.hooks.datastore.shards.shard_of("user:1").store.peek("user:1", 5.0)
    assert not model.hooks.datastore.shards.shard_of("user:2").store.peek("user:2", 5.0)
    assert len(model.hooks.datastore._flights) == 0


def test_a_flight_whose_leader_left_still_reads_for_its_followers():
    model = direct_model(timeout_s=2.5, pool_size=1, query_s=1.0)
    client = Client(model)
    client.send(reads=["user"], user=1, queries=3)   # holds the connection for 3 s
    client.send(reads=["user"], user=2)              # leads the flight on user:2, waits
    client.at(2.0)
    follower = client.send(reads=["user"], user=2)   # follows it
    client.at(10.0)
    assert client.sent[1].status == TIMEOUT          # the leader left at 2.5 s
    assert client.log == [(follower.info.request_id, round(4.0 + RTT, 9))]
    assert model.hooks.datastore.db.queries == 4 and model.hooks.datastore.stats.coalesced == 1


def test_a_crash_during_a_database_wait_ends_the_request_once():
    model = direct_model(pool_size=1, query_s=1.0)
    client = Client(model)
    client.send(reads=["user"], user=1)
    client.send(reads=["user"], user=2)
    client.at(0.5)
    model.crash(model.instances[0])
    client.at(5.0)
    assert [r.status for r in client.sent] == [ERROR, ERROR]
    assert client.log == []
    assert model.instances[0].busy == 0 and model.instances[0].in_flight == 0
    assert model.hooks.datastore.db.in_use == 0


def test_a_shard_loss_remaps_its_keys_and_it_comes_back_empty():
    model = direct_model(shards=4, keys={"source": "zipf", "users": 200},
                         warming={"top_k": 1000, "on_join": False})
    datastore = model.hooks.datastore
    shards = datastore.shards
    lost = shards.shards[1]
    key = next(k for k in shards.population.keys_by_rank(WARMED_TYPES)
               if shards.shard_of(k) is lost)
    assert lost.store.peek(key, 0.0) and len(lost.store) > 0
    datastore.shards.lose(1)
    assert datastore.shards.shard_of(key) is not lost and len(lost.store) == 0
    assert not datastore.shards.shard_of(key).store.peek(key, 0.0)
    datastore.shards.recover(1)
    assert datastore.shards.shard_of(key) is lost and len(lost.store) == 0
    reasons = [e[3] for e in model.events if e[1] == "cache"]
    assert reasons[-2:] == ["ShardLost", "ShardRecovered"]


def test_a_joining_shard_is_warmed_with_the_top_keys_it_owns():
    model = direct_model(shards=2, capacity_items=100_000,
                         keys={"source": "zipf", "users": 300, "sessions_per_user": 1},
                         warming={"top_k": 50, "on_start": False, "on_join": True})
    datastore = model.hooks.datastore
    assert datastore.stats.warmed == 0
    datastore.shards.join()
    shards = datastore.shards
    joined = shards.shards[-1]
    owned = [k for k in shards.population.keys_by_rank(WARMED_TYPES)
             if shards.shard_of(k) is joined]
    assert len(joined.store) == 50 and all(joined.store.peek(k, 0.0) for k in owned[:50])
    assert not any(joined.store.peek(k, 0.0) for k in owned[50:])


def test_warming_at_start_fills_each_shard_with_its_top_keys():
    model = direct_model(shards=3, keys={"source": "zipf", "users": 1000},
                         warming={"top_k": 40})
    datastore = model.hooks.datastore
    assert [len(s.store) for s in datastore.shards.shards] == [40, 40, 40]
    assert datastore.shards.shard_of("user:0").store.peek("user:0", 0.0)


def test_users_follow_zipf_popularity_whatever_the_policy():
    def ids(policy: str) -> list:
        model = direct_model(eviction={"policy": policy},
                             keys={"source": "zipf", "users": 50, "zipf_s": 1.0,
                                   "sessions_per_user": 3})
        population = model.hooks.datastore.shards.population
        return [population.ids_of(RequestInfo(rid)) for rid in range(40_000)]

    lru, fifo = ids("lru"), ids("fifo")
    assert lru == fifo                         # common random numbers: keyed on request ids
    users = np.array([u for u, _ in lru])
    freq = np.bincount(users, minlength=50) / len(users)
    assert np.abs(freq - zipf_popularity(50, 1.0)).max() < 0.01
    sessions = np.array([s for _, s in lru])
    assert np.all(sessions // 3 == users)


def test_entries_by_request_id_match_ids_of():
    model = direct_model(keys={"source": "zipf", "users": 500})
    datastore = model.hooks.datastore
    for rid in (0, 1, 16383, 16384, 99_999):
        info = RequestInfo(rid)
        user, session = datastore.shards.population.ids_of(info)
        assert datastore.shards.entry_of(info)[:3] == (f"user:{user}", f"session:{session}",
                                                 f"conversation:{session}")


def test_nothing_to_read_or_write_goes_on_at_once():
    client = Client(direct_model())
    req = client.send()
    client.at(1.0)
    assert client.log == [(0, 0.0)] and req.status == OK
