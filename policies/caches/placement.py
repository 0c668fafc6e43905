"""Which cache shard owns a key: a consistent-hash ring with a lookup memo.

Placement is policies.hashing.HashRing (Karger et al., 1997): adding one shard to N moves
about 1/(N+1) of the keys, all of them to the new shard. ShardMap adds what the hot path
needs, a memo of key -> shard that is dropped whenever the ring changes, and the questions a
join or leave raises (which keys move).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from policies.hashing import HashRing


@dataclass(frozen=True)
class RingConfig:
    """vnodes: points per shard on the ring (more points, more even shares)."""

    __pydantic_config__ = {"extra": "forbid"}
    vnodes: int = 160

    def __post_init__(self) -> None:
        if isinstance(self.vnodes, bool) or not isinstance(self.vnodes, int) or self.vnodes < 1:
            raise ValueError("vnodes must be a whole number >= 1")


def ring_placement(config: RingConfig, rng=None) -> ShardMap:
    """The registry's factory of the "ring" placement: an empty ShardMap."""
    return ShardMap(vnodes=config.vnodes)


class ShardMap:
    """Keys to shards through a HashRing; lookups are memoized until the ring changes.

    memo_limit bounds the memo (it is emptied when full), so memory stays flat however many
    distinct keys pass through.
    """

    __slots__ = ("ring", "_memo", "_memo_limit")

    def __init__(self, shards: Iterable[Hashable] = (), vnodes: int = 160,
                 memo_limit: int = 1 << 18) -> None:
        if memo_limit < 1:
            raise ValueError("memo_limit must be >= 1")
        self.ring = HashRing(shards, vnodes=vnodes)
        self._memo: dict[Hashable, Hashable] = {}
        self._memo_limit = memo_limit

    @property
    def shards(self) -> frozenset:
        return self.ring.nodes

    def __len__(self) -> int:
        return len(self.ring)

    def shard_for(self, key: Hashable) -> Hashable:
        """The shard that owns `key`; LookupError when there are no shards."""
        shard = self._memo.get(key)
        if shard is None:
            shard = self.ring.lookup(key)
            memo = self._memo
            if len(memo) >= self._memo_limit:
                memo.clear()
            memo[key] = shard
        return shard

    def add(self, shard: Hashable) -> None:
        """Put a shard on the ring (ValueError if present)."""
        self.ring.add(shard)
        self._memo.clear()

    def add_many(self, shards: Iterable[Hashable]) -> None:
        """Put several shards on the ring at once (one sort; ValueError if one is present)."""
        self.ring.add_many(shards)
        self._memo.clear()

    def remove(self, shard: Hashable) -> None:
        """Take a shard off the ring (ValueError if absent)."""
        self.ring.remove(shard)
        self._memo.clear()

    def owned_by(self, shard: Hashable, keys: Iterable[Hashable]) -> list:
        """The keys among `keys` that `shard` owns, in their given order (e.g. to warm a
        joining shard, or to count what a leaving one takes away)."""
        return [key for key in keys if self.shard_for(key) == shard]
