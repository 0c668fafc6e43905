"""The cache-side decisions: single flight, write invalidation, TTL by data type, warming."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

from policies.caches import (
    DATA_TYPES,
    FOLLOWER,
    INDEPENDENT,
    LEADER,
    InvalidationConfig,
    SingleFlight,
    SingleFlightConfig,
    TTLPolicy,
    WarmingConfig,
    WriteAction,
    WriteMode,
    data_type_of,
    top_k_by_count,
    top_k_by_rank,
    warm_hit_ratio,
    write_action,
    zipf_popularity,
)

# -- single flight ----------------------------------------------------------------------------


def run_flights(config, steps):
    """steps: ("begin", key, now_s) or ("end", key); returns each step's result."""
    flights = SingleFlight(config)
    return [flights.begin(s[1], s[2]) if s[0] == "begin" else flights.end(s[1]) for s in steps]


STAMPEDE = [("begin", "u:1", 0.0), ("begin", "u:1", 0.1), ("begin", "u:2", 0.1),
            ("begin", "u:1", 0.2), ("end", "u:1"), ("begin", "u:1", 0.3), ("end", "u:2"),
            ("end", "u:1")]


@pytest.mark.parametrize("config,expected", [
    (SingleFlightConfig("single_flight"),
     [LEADER, FOLLOWER, LEADER, FOLLOWER, 2, LEADER, 0, 0]),
    (SingleFlightConfig("none"),
     [LEADER, INDEPENDENT, LEADER, INDEPENDENT, 2, LEADER, 0, 0]),
    (SingleFlightConfig("single_flight", leader_timeout_s=0.15),   # u:1's leader is stuck
     [LEADER, FOLLOWER, LEADER, INDEPENDENT, 2, LEADER, 0, 0]),
])
def test_single_flight_roles(config, expected):
    assert run_flights(config, STAMPEDE) == expected


def test_single_flight_end_without_a_flight_is_an_error():
    flights = SingleFlight()
    flights.begin("k", 0.0)
    assert flights.in_flight("k") and len(flights) == 1
    assert flights.end("k") == 0
    assert not flights.in_flight("k") and len(flights) == 0
    with pytest.raises(KeyError, match="no open flight"):
        flights.end("k")


@pytest.mark.parametrize("fields", [{"mode": "coalesce"}, {"leader_timeout_s": 0.0},
                                    {"leader_timeout_s": -1.0}])
def test_single_flight_config_rejects_bad_values(fields):
    with pytest.raises(ValueError):
        SingleFlightConfig(**fields)


# -- invalidation -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode,action", [
    ("write_invalidate", WriteAction.DELETE),
    ("write_through", WriteAction.UPDATE),
    ("ttl_only", WriteAction.NONE),
    (WriteMode.WRITE_THROUGH, "update"),
])
def test_write_action(mode, action):
    assert write_action(mode) == action
    assert InvalidationConfig(str(mode)).action == action


def test_unknown_write_mode_is_rejected():
    with pytest.raises(ValueError):
        write_action("write_back")
    with pytest.raises(ValueError, match="write_invalidate"):
        InvalidationConfig("write_back")


# -- TTL by data type -------------------------------------------------------------------------

TTLS = TTLPolicy(default_ttl_s=60.0,
                 ttl_s_by_type={"user": 3600.0, "session": 1800.0, "response": None})


@pytest.mark.parametrize("data_type,ttl", [
    ("user", 3600.0), ("session", 1800.0), ("response", None), ("conversation", 60.0),
    (None, 60.0),
])
def test_ttl_by_data_type(data_type, ttl):
    assert TTLS.ttl_s(data_type) == ttl


@pytest.mark.parametrize("key,ttl", [
    ("user:123", 3600.0), ("session:abc:1", 1800.0), ("response:9", None), ("plain", 60.0),
    (42, 60.0),
])
def test_ttl_for_key_uses_its_type_prefix(key, ttl):
    assert TTLS.ttl_s_for_key(key) == ttl


def test_data_type_of():
    assert data_type_of("conversation:7") == "conversation"
    assert data_type_of("noprefix") is None
    assert set(DATA_TYPES) == {"user", "session", "conversation", "response"}


@pytest.mark.parametrize("fields", [
    {"default_ttl_s": 0}, {"default_ttl_s": -5.0}, {"default_ttl_s": True},
    {"ttl_s_by_type": {"user": 0.0}}, {"ttl_s_by_type": {"": 5.0}},
    {"ttl_s_by_type": {"user": "5"}}, {"key_separator": ""},
])
def test_ttl_policy_rejects_bad_values(fields):
    with pytest.raises(ValueError):
        TTLPolicy(**fields)


def test_default_ttl_policy_never_expires():
    assert TTLPolicy().ttl_s("user") is None


# -- warming ----------------------------------------------------------------------------------


def test_top_k_by_count_orders_by_count_and_keeps_ties_in_order():
    counts = {"a": 3, "b": 9, "c": 3, "d": 1, "e": 9}
    assert top_k_by_count(counts, 3) == ["b", "e", "a"]
    assert top_k_by_count(counts, 10) == ["b", "e", "a", "c", "d"]
    assert top_k_by_count(counts, 0) == []
    assert top_k_by_count(counts, 2, keep=lambda k: k in "acd") == ["a", "c"]


def test_top_k_by_rank_takes_the_most_popular_first():
    assert top_k_by_rank(range(1000), 4) == [0, 1, 2, 3]
    assert top_k_by_rank(range(1000), 3, keep=lambda k: k % 2) == [1, 3, 5]
    assert top_k_by_rank(iter(["x"]), 5) == ["x"]


@pytest.mark.parametrize("call", [
    lambda: top_k_by_count({}, -1), lambda: top_k_by_rank([], -1),
    lambda: zipf_popularity(0, 1.0), lambda: zipf_popularity(5, -0.5),
    lambda: WarmingConfig(top_k=-1),
])
def test_warming_rejects_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


def test_zipf_popularity_and_warm_hit_ratio():
    p = zipf_popularity(4, 1.0)
    assert np.allclose(p, np.array([1, 1 / 2, 1 / 3, 1 / 4]) / (25 / 12))
    assert warm_hit_ratio(p, 1) == pytest.approx(12 / 25)
    assert warm_hit_ratio(p[::-1], 2) == pytest.approx(18 / 25)   # order does not matter
    assert warm_hit_ratio(p, 0) == 0.0 and warm_hit_ratio(p, 9) == pytest.approx(1.0)


def test_warming_by_observed_counts_preloads_the_keys_that_then_hit():
    from policies.caches import LRUCache, LRUConfig

    rng = np.random.default_rng(4)
    p = zipf_popularity(500, 1.0)
    observed = rng.choice(500, size=20_000, p=p).tolist()
    counts: dict = {}
    for key in observed:
        counts[key] = counts.get(key, 0) + 1
    cache = LRUCache(LRUConfig(capacity=50))
    for key in reversed(top_k_by_count(counts, 50)):   # most popular put last: most recent
        cache.put(key, 0.0)
    upcoming = rng.choice(500, size=5_000, p=p).tolist()
    hit_ratio = sum(cache.peek(k, 1.0) for k in upcoming) / len(upcoming)
    assert hit_ratio == pytest.approx(warm_hit_ratio(p, 50), abs=0.03)


# -- the configs validate at the edge ---------------------------------------------------------


@pytest.mark.parametrize("config_type,good,bad", [
    (TTLPolicy, {"default_ttl_s": 60, "ttl_s_by_type": {"user": 3600, "response": None}},
     {"ttl_s_by_type": {"user": -1}}),
    (SingleFlightConfig, {"mode": "none", "leader_timeout_s": 2.5}, {"mode": "bogus"}),
    (InvalidationConfig, {"mode": "ttl_only"}, {"mode": "write_back"}),
    (WarmingConfig, {"top_k": 100, "on_join": False}, {"top_k": -1}),
])
def test_decision_configs_validate_with_pydantic(config_type, good, bad):
    adapter = pydantic.TypeAdapter(config_type)
    config = adapter.validate_python(good)
    assert all(getattr(config, k) == v for k, v in good.items())
    with pytest.raises(pydantic.ValidationError):
        adapter.validate_python(bad)
    with pytest.raises(pydantic.ValidationError):
        adapter.validate_python({**good, "unknown_field": 1})
