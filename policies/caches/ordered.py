"""A key store kept in one queue (an OrderedDict, oldest first): the shared body of LRU and FIFO.

The two differ only in what a hit does: LRU moves the key to the young end, FIFO leaves it.
Both evict from the old end. A put (insert or update) places the key at the young end.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from policies.caches.base import NO_EXPIRY, reject_put


class OrderedStore:
    """Keys in one queue, oldest first, with a size and an expiry each (subclasses add get).

    Sizes equal to 1 are not stored (the common case costs one dict write less); `_sizes`
    holds only the others, and a missing size means 1.
    """

    __slots__ = ("config", "capacity", "used", "_expiry", "_sizes")

    def __init__(self, config) -> None:
        self.config = config
        self.capacity = config.capacity
        self.used = 0
        self._expiry: OrderedDict[Hashable, float] = OrderedDict()  # key -> expiry_s, oldest first
        self._sizes: dict[Hashable, int | float] = {}               # key -> size, sizes != 1 only

    def peek(self, key: Hashable, now_s: float) -> bool:
        """True if `key` is stored and fresh at now_s; changes nothing."""
        expiry = self._expiry.get(key)
        return expiry is not None and expiry > now_s

    def put(self, key: Hashable, now_s: float, size: int | float = 1,
            ttl_s: float | None = None) -> list:
        if not 0 < size <= self.capacity:
            return reject_put(self, key, size)
        entries = self._expiry
        sizes = self._sizes
        used = self.used
        if key in entries:
            used -= sizes.pop(key, 1)
            entries.move_to_end(key)
        entries[key] = NO_EXPIRY if ttl_s is None else now_s + ttl_s
        if size != 1:
            sizes[key] = size
        used += size
        evicted = []
        if used > self.capacity:
            capacity = self.capacity
            popitem = entries.popitem
            while used > capacity:
                victim = popitem(last=False)[0]
                used -= sizes.pop(victim, 1)
                evicted.append(victim)
        self.used = used
        return evicted

    def delete(self, key: Hashable) -> bool:
        if self._expiry.pop(key, None) is None:
            return False
        self.used -= self._sizes.pop(key, 1)
        return True

    def clear(self) -> None:
        self._expiry.clear()
        self._sizes.clear()
        self.used = 0

    def _drop(self, key: Hashable) -> None:
        del self._expiry[key]
        self.used -= self._sizes.pop(key, 1)

    def __contains__(self, key: object) -> bool:
        return key in self._expiry

    def __len__(self) -> int:
        return len(self._expiry)

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(capacity={self.capacity}, used={self.used}, keys={len(self)})"
