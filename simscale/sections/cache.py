"""The [cache] and [database] sections: the distributed cache and the database behind it.

The cache is off unless a [cache] table is given (or `enabled = true`). Its eviction policy
is a registered policy of family "cache" (policies/caches), its parameters checked against
the policy's own frozen config; the per-shard capacity is set here, not in the parameters.
The database is used only through the cache: misses and writes drive its load.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from policies import registry
from policies.caches import DATA_TYPES, RingConfig, WarmingConfig
from simscale.limits import (
    MAX_CACHE_BYTES,
    MAX_CACHE_ITEMS,
    MAX_FAULTS,
    MAX_ITEM_BYTES,
    MAX_KEY_USERS,
    MAX_LIST,
    MAX_PROMPTS,
    MAX_RING_POINTS,
    MAX_SESSIONS_PER_USER,
    MAX_SHARDS,
    MAX_VNODES,
    MAX_WARM_KEYS,
    MAX_ZIPF_S,
    Count,
    Fraction,
    PositiveSeconds,
    Seconds,
)
from simscale.sections.base import (
    Maybe,
    OptInSection,
    PolicyRef,
    PolicyTable,
    Section,
    policy_table,
)
from simscale.workload.distributions import Distribution, Lognormal

ZipfS = Annotated[float, Field(ge=0, le=MAX_ZIPF_S)]
INVALIDATION_MODES = ("write_invalidate", "write_through", "ttl_only")
STAMPEDE_MODES = ("none", "single_flight")


def _check_types(value: dict | list, what: str) -> None:
    unknown = [t for t in value if t not in DATA_TYPES]
    if unknown:
        raise ValueError(f"unknown data type {unknown[0]!r} in {what} "
                         f"(known: {', '.join(DATA_TYPES)})")


class EvictionRef(PolicyRef):
    """The eviction policy of every shard: a registered cache policy and its parameters."""

    family: ClassVar[str] = "cache"
    policy: str = Field("lru", description="a registered cache policy: lru, lfu, fifo, s3fifo, "
                                           "wtinylfu (`simscale policies`)")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="the policy's parameters (e.g. small_frac for s3fifo); the capacity is "
                    "cache.capacity_items or cache.capacity_bytes")

    @field_validator("params")
    @classmethod
    def _no_capacity(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "capacity" in value:
            raise ValueError("capacity is set by cache.capacity_items or cache.capacity_bytes, "
                             "not here")
        return value

    def config_with_capacity(self, capacity: int) -> Any:
        """The policy's frozen config with the shard capacity filled in."""
        return dataclasses.replace(self.config, capacity=capacity)


class KeysSpec(Section):
    """Which keys a request touches.

    source = "zipf" draws each request's user here: rank r of `users` with probability
    proportional to r^-zipf_s, keyed on the request id (so the same request reads the same
    keys whatever the policies). Its session is one of the user's `sessions_per_user`,
    uniformly. source = "workload" uses the request's own user_id and session_id instead
    (for a workload that draws its own population)."""

    source: Literal["zipf", "workload"] = Field(
        "zipf", description='"zipf": draw users here; "workload": the request\'s user_id and '
                            'session_id')
    users: Annotated[int, Field(gt=0, le=MAX_KEY_USERS)] = Field(
        10_000, description="user population (source = \"zipf\")")
    zipf_s: ZipfS = Field(
        0.9, description="Zipf exponent of user popularity (0: uniform; larger: more skewed)")
    sessions_per_user: Annotated[int, Field(gt=0, le=MAX_SESSIONS_PER_USER)] = Field(
        2, description="sessions of one user; a request picks one uniformly")


class _WarmingTypes(PolicyTable):
    """The warmed data types are known ones."""

    @field_validator("types", check_fields=False)
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        _check_types(value, "warming.types")
        return value


WarmingSpec = policy_table(
    WarmingConfig,
    """Cache warming: preload the most popular keys (policies.caches.WarmingConfig).""",
    {
        "top_k": (Annotated[int, Field(ge=0, le=MAX_WARM_KEYS)], "keys to preload (0: start cold)"),
        "on_start": (bool, "warm every shard at t = 0"),
        "on_join": (bool, "warm a joining or recovering shard with the top keys it now owns"),
    },
    base=_WarmingTypes,
    simulator={"types": (
        Annotated[list[str], Field(max_length=MAX_LIST)],
        ["user", "session", "conversation"],
        "data types preloaded, interleaved by popularity rank")},
)


class ResponseCacheSpec(Section):
    """An exact-match LLM response cache: data type "response", keyed on a prompt hash.

    A hit skips the LLM call. A prompt repeats (is one of `prompts` common prompts, drawn by
    Zipf popularity) with probability repeat_frac; otherwise it is unique and always misses."""

    enabled: bool = Field(False, description="look up each LLM request's prompt hash first")
    repeat_frac: Fraction = Field(0.2, description="share of prompts that repeat a common prompt")
    prompts: Annotated[int, Field(gt=0, le=MAX_PROMPTS)] = Field(
        1_000, description="common prompts")
    zipf_s: ZipfS = Field(1.0, description="Zipf exponent of common-prompt popularity")


class ShardLoss(Section):
    """A shard fails at at_s: its contents are lost and its keys remap to the other shards.
    At recover_at_s it rejoins the ring, empty (warmed when warming.on_join)."""

    kind: Literal["shard_loss"] = "shard_loss"
    shard: Annotated[int, Field(ge=0, le=MAX_SHARDS)] = Field(
        description="index of the shard (0-based)")
    at_s: Seconds = Field(description="when it fails, s")
    recover_at_s: Annotated[PositiveSeconds | None, Maybe] = Field(
        None, description='when it comes back, s ("none": never)')

    @model_validator(mode="after")
    def _order(self) -> ShardLoss:
        if self.recover_at_s is not None and self.recover_at_s <= self.at_s:
            raise ValueError("recover_at_s must be after at_s")
        return self


class ShardJoin(Section):
    """A new, empty shard joins the ring at at_s (scale-out); its share of keys moves to it."""

    kind: Literal["shard_join"] = "shard_join"
    at_s: Seconds = Field(description="when it joins, s")


CacheFault = Annotated[ShardLoss | ShardJoin, Field(discriminator="kind")]


class CacheSpec(OptInSection):
    """The sharded cache in front of the database; off unless configured."""

    enabled: bool = Field(False, description="on when a [cache] table is given, unless false")
    shards: Annotated[int, Field(gt=0, le=MAX_SHARDS)] = Field(
        4, description="cache shards at t = 0")
    placement: str = Field(
        "ring", description='which shard owns a key: "ring" (consistent hash with vnodes) or '
                            '"redis_cluster" (CRC16 hash slots; a join or loss moves slots)')
    vnodes: Annotated[int, Field(gt=0, le=MAX_VNODES)] = Field(
        160, description="virtual nodes per shard on the hash ring (shards × vnodes at most "
        f"{MAX_RING_POINTS:,})")
    capacity_items: Annotated[Annotated[int, Field(gt=0, le=MAX_CACHE_ITEMS)] | None,
                              Maybe] = Field(
        10_000, description="room per shard in items (unless capacity_bytes is set; × shards "
        f"at most {MAX_CACHE_ITEMS:,})")
    capacity_bytes: Annotated[Annotated[int, Field(gt=0, le=MAX_CACHE_BYTES)] | None,
                              Maybe] = Field(
        None, description="room per shard in bytes; items then weigh size_bytes_by_type")
    eviction: EvictionRef = Field(default_factory=EvictionRef,
                                  description="eviction policy of every shard")
    ttl_s_by_type: dict[str, Annotated[PositiveSeconds | None, Maybe]] = Field(
        default_factory=lambda: {"user": 3600.0, "session": 1800.0, "conversation": 600.0,
                                 "response": 300.0},
        description='time to live by data type, s ("none" or a type left out: no expiry)')
    size_bytes_by_type: dict[str, Annotated[int, Field(gt=0, le=MAX_ITEM_BYTES)]] = Field(
        default_factory=lambda: {"user": 1024, "session": 512, "conversation": 16384,
                                 "response": 4096},
        description="size of one cached item by data type, bytes (with capacity_bytes)")
    invalidation: Literal["write_invalidate", "write_through", "ttl_only"] = Field(
        "write_invalidate",
        description="what a write does to the cached key: delete it, update it, or nothing "
                    "(stale until its TTL)")
    stampede: Literal["none", "single_flight"] = Field(
        "single_flight",
        description="concurrent misses on one key: each reads the database, or one does and "
                    "the rest wait for it")
    single_flight_timeout_s: Annotated[PositiveSeconds | None, Maybe] = Field(
        None, description='a flight open longer than this no longer takes followers, s '
                          '("none": never)')
    network_latency_s: Seconds = Field(
        0.0005, description="round trip from an instance to a shard, s")
    hit_latency_s: Seconds = Field(
        0.0001, description="time a shard takes to answer a lookup or a write, s")
    keys: KeysSpec = Field(default_factory=KeysSpec, description="which keys requests touch")
    warming: WarmingSpec = Field(default_factory=WarmingSpec, description="cache warming")
    llm_response_cache: ResponseCacheSpec = Field(
        default_factory=ResponseCacheSpec, description="exact-match LLM response cache")
    faults: list[CacheFault] = Field(
        default_factory=list, max_length=MAX_FAULTS,
        description="shard losses and joins ([[cache.faults]])")

    @field_validator("placement")
    @classmethod
    def _known_placement(cls, value: str) -> str:
        known = registry.names("placement")
        if value not in known:
            raise ValueError(f"unknown placement {value!r} (known: {', '.join(known)})")
        return value

    @property
    def placement_config(self) -> Any:
        """The placement policy's frozen config (the ring takes `vnodes`)."""
        if self.placement == "ring":
            return RingConfig(vnodes=self.vnodes)
        return registry.get("placement", self.placement).config_type()

    @field_validator("ttl_s_by_type", "size_bytes_by_type")
    @classmethod
    def _known_types(cls, value: dict) -> dict:
        _check_types(value, "the table")
        return value

    @model_validator(mode="after")
    def _check(self) -> CacheSpec:
        if (self.capacity_items is None) == (self.capacity_bytes is None):
            raise ValueError("set exactly one of capacity_items and capacity_bytes "
                             '(write "none" for the other)')
        capacity = self.capacity_items or self.capacity_bytes
        try:
            self.eviction.config_with_capacity(capacity)
        except ValueError as exc:
            raise ValueError(f"eviction: {exc}") from None
        total = self.shards + sum(isinstance(f, ShardJoin) for f in self.faults)
        for fault in self.faults:
            if isinstance(fault, ShardLoss) and fault.shard >= total:
                raise ValueError(f"faults: shard {fault.shard} does not exist")
        self._check_size(total)
        return self

    def _check_size(self, shards: int) -> None:
        """Shards (joins included), ring points and the items all shards hold, bounded."""
        if shards > MAX_SHARDS:
            raise ValueError(f"faults: shards and joins make {shards} shards; at most "
                             f"{MAX_SHARDS}")
        if shards * self.vnodes > MAX_RING_POINTS:
            raise ValueError(f"vnodes: {shards} shards × {self.vnodes} vnodes make "
                             f"{shards * self.vnodes:,} ring points; at most "
                             f"{MAX_RING_POINTS:,}")
        items, field = self.capacity_items, "capacity_items"
        if self.eviction.policy == "wtinylfu":  # its sketch is sized up front
            expected = self.eviction.config.expected_items
            if expected is not None:
                items, field = expected, "eviction.params.expected_items"
            elif self.capacity_bytes is not None:
                items, field = self.capacity_bytes, "capacity_bytes"
        if items is not None and items * shards > MAX_CACHE_ITEMS:
            sketch = (" (wtinylfu sizes its sketch by eviction.params.expected_items, else by "
                      "the capacity: set expected_items)" if field == "capacity_bytes" else "")
            raise ValueError(f"{field}: {items:,} items × {shards} shards is more than "
                             f"{MAX_CACHE_ITEMS:,} cached items in all{sketch}")

    @property
    def capacity(self) -> int:
        """Room per shard, in items or bytes."""
        return self.capacity_items or self.capacity_bytes


class DatabaseSpec(Section):
    """The database: a connection pool of fixed size and query times from distributions."""

    pool_size: Count = Field(
        20, description="connections; a query waits (FIFO) when all are in use")
    query_time: Distribution = Field(
        default_factory=lambda: Lognormal(mean_s=0.005, cv=1.0),
        description="time one read query holds its connection, s")
    write_time: Distribution = Field(
        default_factory=lambda: Lognormal(mean_s=0.008, cv=1.0),
        description="time one write holds its connection, s")
    slow_query_s: PositiveSeconds = Field(
        0.1, description="a query or write that takes at least this long is slow, s")
