"""The [cache] and [database] sections: on when given, fields checked, policies by registry."""

from __future__ import annotations

import pytest

from simscale.errors import InputError
from simscale.sections.cache import CacheSpec, ShardJoin, ShardLoss
from tests.conftest import small_spec


def problems(**changes) -> str:
    with pytest.raises(InputError) as info:
        small_spec(**changes)
    return str(info.value)


def test_the_cache_is_off_by_default_and_on_when_its_table_sets_a_field():
    assert not small_spec().cache.enabled
    assert small_spec(cache={"shards": 2}).cache.enabled
    assert not small_spec(cache={"shards": 2, "enabled": False}).cache.enabled


def test_a_dumped_spec_round_trips_with_the_cache_state():
    for cache in ({"shards": 3}, {"shards": 3, "enabled": False}):
        spec = small_spec(cache=cache)
        again = small_spec(cache=spec.cache.model_dump())
        assert again.cache == spec.cache


def test_defaults():
    cache = CacheSpec(enabled=True)
    assert (cache.shards, cache.vnodes, cache.capacity_items, cache.capacity_bytes) == (
        4, 160, 10_000, None)
    assert cache.eviction.policy == "lru" and cache.capacity == 10_000
    assert cache.invalidation == "write_invalidate" and cache.stampede == "single_flight"
    assert cache.ttl_s_by_type["user"] == 3600.0


@pytest.mark.parametrize("cache, message", [
    ({"shardz": 2}, "cache.shardz: unknown field"),
    ({"eviction": {"policy": "mru"}}, "cache.eviction.policy: unknown cache policy 'mru'"),
    ({"eviction": {"policy": "s3fifo", "params": {"small_frac": 2.0}}},
     "cache.eviction.params"),
    ({"eviction": {"policy": "lru", "params": {"capacity": 5}}},
     "cache.eviction.params: capacity is set by cache.capacity_items"),
    ({"capacity_bytes": 1_000_000}, "set exactly one of capacity_items and capacity_bytes"),
    ({"invalidation": "write_behind"}, "cache.invalidation"),
    ({"stampede": "lock"}, "cache.stampede"),
    ({"ttl_s_by_type": {"profile": 10}}, "unknown data type 'profile'"),
    ({"ttl_s_by_type": {"user": -1}}, "cache.ttl_s_by_type.user"),
    ({"faults": [{"kind": "shard_loss", "shard": 9, "at_s": 1}]}, "shard 9 does not exist"),
    ({"faults": [{"kind": "shard_loss", "shard": 0, "at_s": 5, "recover_at_s": 2}]},
     "recover_at_s must be after at_s"),
    ({"faults": [{"kind": "shard_melt", "at_s": 5}]}, "cache.faults.0"),
])
def test_bad_fields_are_named(cache, message):
    assert message in problems(cache=cache)


def test_database_fields_are_checked():
    assert "database.pool_size" in problems(database={"pool_size": 0})
    assert "database.pools: unknown field" in problems(database={"pools": 2})
    spec = small_spec(database={"pool_size": 3, "query_time": {"kind": "deterministic",
                                                                 "value_s": 0.01}})
    assert spec.database.pool_size == 3 and spec.database.query_time.mean() == 0.01


def test_ttl_none_means_no_expiry_and_capacity_in_bytes():
    spec = small_spec(cache={"ttl_s_by_type": {"user": "none"}, "capacity_items": "none",
                             "capacity_bytes": 65536})
    assert spec.cache.ttl_s_by_type == {"user": None}
    assert spec.cache.capacity == 65536


def test_eviction_params_reach_the_policy_config():
    spec = small_spec(cache={"capacity_items": 500, "eviction": {
        "policy": "s3fifo", "params": {"small_frac": 0.2}}})
    config = spec.cache.eviction.config_with_capacity(spec.cache.capacity)
    assert (config.capacity, config.small_frac) == (500, 0.2)


def test_faults_are_a_tagged_list_and_joined_shards_may_be_lost():
    spec = small_spec(cache={"shards": 2, "faults": [
        {"kind": "shard_join", "at_s": 10},
        {"kind": "shard_loss", "shard": 2, "at_s": 20, "recover_at_s": "none"}]})
    join, loss = spec.cache.faults
    assert isinstance(join, ShardJoin) and isinstance(loss, ShardLoss)
    assert loss.recover_at_s is None
