"""FIFO: evict the key written longest ago, whatever its hits."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from policies.caches.base import check_capacity
from policies.caches.ordered import OrderedStore


@dataclass(frozen=True)
class FIFOConfig:
    """capacity: room in the unit of put's size (items with the default size 1, or bytes)."""

    __pydantic_config__ = {"extra": "forbid"}
    capacity: int = 10_000

    def __post_init__(self) -> None:
        check_capacity(self.capacity)


class FIFOCache(OrderedStore):
    """First in, first out, ordered by write time.

    A hit changes nothing. A put of a present key is a new write: the key moves to the young
    end of the queue with its new size and TTL. O(1) per operation.
    """

    __slots__ = ()

    def __init__(self, config: FIFOConfig | None = None) -> None:
        super().__init__(config or FIFOConfig())

    def get(self, key: Hashable, now_s: float) -> bool:
        expiry = self._expiry.get(key)
        if expiry is None:
            return False
        if expiry <= now_s:
            self._drop(key)
            return False
        return True
