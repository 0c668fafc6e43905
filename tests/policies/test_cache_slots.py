"""Redis Cluster placement: CRC16/XMODEM hash slots, hash tags, and resharding that moves slots."""

from __future__ import annotations

from collections import Counter

import pytest

from policies import registry
from policies.caches import SLOTS, SlotMap, key_hash_slot
from policies.caches.slots import crc16_xmodem, create_ranges, hash_key

# key -> slot as Redis answers CLUSTER KEYSLOT. The first three are the examples of the
# CLUSTER KEYSLOT reference page; every row was also checked against redis-server 7.0.
KEYSLOTS = [
    ("somekey", 11058),
    ("foo{hash_tag}", 2515),
    ("bar{hash_tag}", 2515),
    ("foo", 12182),
    ("bar", 5061),
    ("hello", 866),
    ("123456789", 12739),
    ("{user1000}.following", 3443),   # the specification's hash tag example
    ("{}abc", 5980),                  # an empty tag: the whole key is hashed
    ("a{}b{c}", 7353),                # the first '{' has an empty tag: the whole key
    ("{{x}}", 11068),                 # the tag runs from the first '{' to the first '}'
    ("user:{42}:x", 8000),
    ("", 0),
]


def test_crc16_is_the_xmodem_variant_of_the_specification():
    # Redis Cluster specification: CRC16("123456789") = 0x31C3 (XMODEM).
    assert crc16_xmodem(b"123456789") == 0x31C3
    assert crc16_xmodem(b"") == 0


@pytest.mark.parametrize(("key", "slot"), KEYSLOTS)
def test_key_hash_slot_matches_redis(key, slot):
    assert key_hash_slot(key) == slot
    assert key_hash_slot(key.encode()) == slot


@pytest.mark.parametrize(("key", "hashed"), [
    ("{user1000}.following", b"user1000"), ("foo{}{bar}", b"foo{}{bar}"),
    ("foo{{bar}}zap", b"{bar"), ("foo{bar}{zap}", b"bar"), ("nobraces", b"nobraces"),
    ("only{open", b"only{open"), ("}{x}", b"x"),
])
def test_hash_tags_follow_the_specification_examples(key, hashed):
    assert hash_key(key) == hashed


@pytest.mark.parametrize(("shards", "ranges"), [
    (1, [(0, 16383)]),
    (2, [(0, 8191), (8192, 16383)]),
    (3, [(0, 5460), (5461, 10922), (10923, 16383)]),   # what redis-cli --cluster create prints
    (6, [(0, 2730), (2731, 5460), (5461, 8191), (8192, 10922), (10923, 13652),
         (13653, 16383)]),
])
def test_create_assigns_the_ranges_redis_cli_assigns(shards, ranges):
    assert create_ranges(shards) == ranges
    names = [f"s{i}" for i in range(shards)]
    assert [(a, b) for a, b, _ in SlotMap(names).ranges()] == ranges


def _counts(slots: SlotMap) -> Counter:
    return Counter(slots.slot_owner(s) for s in range(SLOTS))


def test_a_joining_shard_takes_an_even_share_and_only_slots_move_to_it():
    slots = SlotMap(["a", "b", "c"])
    keys = [f"user:{i}" for i in range(5000)]
    before = {k: slots.shard_for(k) for k in keys}
    slots.add("d")
    after = {k: slots.shard_for(k) for k in keys}
    assert slots.last_moved == SLOTS // 4
    assert sorted(_counts(slots).values()) == [4096] * 4
    moved = [k for k in keys if before[k] != after[k]]
    assert moved and all(after[k] == "d" for k in moved)
    assert abs(len(moved) / len(keys) - 0.25) < 0.03


def test_a_leaving_shard_hands_its_slots_to_the_others_in_few_runs():
    slots = SlotMap(["a", "b", "c", "d"])
    keys = [f"session:{i}" for i in range(4000)]
    before = {k: slots.shard_for(k) for k in keys}
    slots.remove("b")
    counts = _counts(slots)
    assert None not in counts and sum(counts.values()) == SLOTS
    assert max(counts.values()) - min(counts.values()) <= 1
    assert slots.last_moved == 4096 and len(slots.ranges()) <= 6
    assert all(slots.shard_for(k) == before[k] for k in keys if before[k] != "b")
    slots.add("b")                      # it comes back empty and takes a share again
    assert sorted(_counts(slots).values()) == [4096] * 4


def test_shards_added_before_first_use_form_the_cluster_as_created():
    slots = SlotMap()
    for name in ("cache-0", "cache-1", "cache-2"):
        slots.add(name)
    assert [(a, b) for a, b, _ in slots.ranges()] == create_ranges(3)
    assert slots.shard_for("somekey") == "cache-2"      # slot 11058


def test_errors_and_the_registry():
    slots = registry.build("placement", "redis_cluster")
    with pytest.raises(LookupError):
        slots.shard_for("x")
    slots.add("a")
    with pytest.raises(ValueError):
        slots.add("a")
    with pytest.raises(ValueError):
        slots.remove("zz")
    with pytest.raises(ValueError):
        SlotMap(["a", "a"])
    ring = registry.build("placement", "ring")
    ring.add("a")
    assert ring.shard_for("x") == "a"
