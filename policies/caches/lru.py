"""LRU: evict the least recently used key."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from policies.caches.base import check_capacity
from policies.caches.ordered import OrderedStore


@dataclass(frozen=True)
class LRUConfig:
    """capacity: room in the unit of put's size (items with the default size 1, or bytes)."""

    __pydantic_config__ = {"extra": "forbid"}
    capacity: int = 10_000

    def __post_init__(self) -> None:
        check_capacity(self.capacity)


class LRUCache(OrderedStore):
    """Least recently used (the textbook policy; memcached's and Redis' allkeys-lru target).

    A hit or an update makes the key the most recent; eviction takes the least recent.
    O(1) per operation: one OrderedDict in recency order.
    """

    __slots__ = ()

    def __init__(self, config: LRUConfig | None = None) -> None:
        super().__init__(config or LRUConfig())

    def get(self, key: Hashable, now_s: float) -> bool:
        entries = self._expiry
        expiry = entries.get(key)
        if expiry is None:
            return False
        if expiry <= now_s:
            self._drop(key)
            return False
        entries.move_to_end(key)
        return True
