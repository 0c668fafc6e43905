"""The cache with Redis Cluster placement: keys live on their hash slot's shard, and a join or a
loss moves slots (a miss storm only on the keys of the moved slots)."""

from __future__ import annotations

from policies.caches import SlotMap, key_hash_slot
from policies.caches.slots import create_ranges
from simscale.model import Model
from simscale.model.runner import run
from simscale.outputs.recorder import RequestLog
from tests.conftest import small_spec
from tests.model.test_cache_runs import chat_spec, window_hit_rate


def test_a_key_lives_on_the_shard_that_owns_its_slot():
    spec = small_spec(cache={"shards": 3, "placement": "redis_cluster"})
    datastore = Model(spec, RequestLog(None, 1000)).hooks.datastore
    assert isinstance(datastore.shards.shard_map, SlotMap)
    ranges = create_ranges(3)
    for key in ("user:1", "session:7", "conversation:7", "{user:1}:x", "somekey"):
        slot = key_hash_slot(key)
        index = next(i for i, (a, b) in enumerate(ranges) if a <= slot <= b)
        assert datastore.shards.shard_of(key).name == f"cache-{index}"


def test_a_join_moves_a_quarter_of_the_slots_and_only_their_keys_miss():
    cache = {"shards": 3, "placement": "redis_cluster", "capacity_items": 20_000,
             "invalidation": "write_through", "keys": {"users": 2000},
             "warming": {"top_k": 10_000, "on_join": False},
             "faults": [{"kind": "shard_join", "at_s": 20}]}
    spec = chat_spec(cache, duration_s=40.0, metrics={"interval_s": 5.0})
    result = run(spec, None)
    rows = result.metric_rows
    before, storm = window_hit_rate(rows, 10, 20), window_hit_rate(rows, 20, 25)
    assert before > 0.95
    # a quarter of the slots moved to the empty shard: about a quarter of the reads miss
    assert 0.55 < storm < 0.9
    assert [r["cache_shards_up"] for r in rows if r["t_s"] in (10, 25)] == [3, 4]
    assert run(spec, None).metric_rows == rows        # same spec, same tables
