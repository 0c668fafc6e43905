"""Every registered cache policy keeps the family's contract (a conformance check)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pydantic
import pytest

import policies
from policies.caches import ENTRIES, CacheStore

CACHE_NAMES = policies.names("cache")


def test_the_family_registers_the_five_policies():
    assert CACHE_NAMES == ["fifo", "lfu", "lru", "s3fifo", "wtinylfu"]
    assert all(entry.family in ("cache", "placement") and entry.summary for entry in ENTRIES)
    assert [e.name for e in ENTRIES if e.family == "placement"] == ["ring", "redis_cluster"]


@pytest.mark.parametrize("name", CACHE_NAMES)
def test_default_config_builds_a_store(name):
    store = policies.build("cache", name, rng=np.random.default_rng(0))
    entry = policies.get("cache", name)
    assert isinstance(store, CacheStore)
    assert store.capacity == entry.config_type().capacity > 0
    assert store.used == 0 and len(store) == 0
    assert store.put("k", 0.0) == [] and store.get("k", 1.0) and "k" in store


@pytest.mark.parametrize("name", CACHE_NAMES)
def test_config_is_a_frozen_dataclass_validated_at_the_edge(name):
    config_type = policies.get("cache", name).config_type
    assert dataclasses.is_dataclass(config_type)
    assert config_type.__pydantic_config__ == {"extra": "forbid"}
    config = config_type(capacity=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.capacity = 6
    adapter = pydantic.TypeAdapter(config_type)
    assert adapter.validate_python({"capacity": 7}).capacity == 7
    with pytest.raises(pydantic.ValidationError):
        adapter.validate_python({"capacity": 7, "capacty": 8})
    with pytest.raises(pydantic.ValidationError):
        adapter.validate_python({"capacity": 0})


@pytest.mark.parametrize("name", CACHE_NAMES)
@pytest.mark.parametrize("capacity", [0, -3, 2.5, True, "10"])
def test_bad_capacity_raises(name, capacity):
    with pytest.raises(ValueError, match="capacity"):
        policies.get("cache", name).config_type(capacity=capacity)


@pytest.mark.parametrize("config_type,fields", [
    ("s3fifo", {"small_frac": 0.0}), ("s3fifo", {"small_frac": 1.0}),
    ("s3fifo", {"ghost_frac": -0.1}), ("s3fifo", {"max_freq": 0}),
    ("s3fifo", {"move_to_main_threshold": 4}), ("s3fifo", {"move_to_main_threshold": 0}),
    ("wtinylfu", {"window_frac": 0.0}), ("wtinylfu", {"window_frac": 1.0}),
    ("wtinylfu", {"protected_frac": 1.0}), ("wtinylfu", {"expected_items": 0}),
    ("wtinylfu", {"counter_max": 0}), ("wtinylfu", {"counter_max": 256}),
    ("wtinylfu", {"sample_factor": 0}),
])
def test_bad_policy_parameters_raise(config_type, fields):
    with pytest.raises(ValueError):
        policies.get("cache", config_type).config_type(**fields)


@pytest.mark.parametrize("name", CACHE_NAMES)
def test_same_seed_same_decisions(name):
    entry = policies.get("cache", name)
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 300, size=3000).tolist()

    def hits(seed):
        store = entry.factory(entry.config_type(capacity=30), np.random.default_rng(seed))
        out = []
        for now, key in enumerate(keys):
            hit = store.get(f"k:{key}", float(now))
            out.append(hit)
            if not hit:
                store.put(f"k:{key}", float(now))
        return out

    assert hits(5) == hits(5)
