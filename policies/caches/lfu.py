"""LFU: evict the least frequently used key; among equal counts, the least recently used.

O(1) per operation with the frequency-list structure of Shah, Mitra and Matani, "An O(1)
algorithm for implementing the LFU cache eviction scheme" (2010): keys sit in buckets, one
per access count, and the buckets form a linked list in ascending count order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from policies.caches.base import (
    NO_EXPIRY,
    RECORD_EXPIRY,
    RECORD_SIZE,
    RecordStore,
    check_capacity,
    reject_put,
)


@dataclass(frozen=True)
class LFUConfig:
    """capacity: room in the unit of put's size (items with the default size 1, or bytes)."""

    __pydantic_config__ = {"extra": "forbid"}
    capacity: int = 10_000

    def __post_init__(self) -> None:
        check_capacity(self.capacity)


class _Bucket:
    """The keys with one access count, in the order they reached it (oldest first)."""

    __slots__ = ("count", "keys", "prev", "next")

    def __init__(self, count: int, prev: _Bucket | None, next_: _Bucket | None) -> None:
        self.count = count
        self.keys: OrderedDict[Hashable, None] = OrderedDict()
        self.prev = prev
        self.next = next_


# Per-key record: [bucket, expiry_s, size].
_BUCKET, _EXPIRY, _SIZE = 0, RECORD_EXPIRY, RECORD_SIZE


class LFUCache(RecordStore):
    """In-cache LFU: a key's count starts at 1 when it is inserted and grows by 1 per hit or
    update; counts are forgotten when a key leaves the cache (no aging).

    Tie-break: among keys with the lowest count, the one that reached that count first goes,
    which is the least recently used of them (a key reaches its count at its latest access).
    The key being put is never its own victim.
    """

    __slots__ = ("config", "capacity", "used", "_meta", "_root")

    def __init__(self, config: LFUConfig | None = None) -> None:
        self.config = config or LFUConfig()
        self.capacity = self.config.capacity
        self.used = 0
        self._meta: dict[Hashable, list] = {}
        # Sentinel before the lowest-count bucket; buckets follow in ascending count.
        self._root = _Bucket(0, None, None)

    def get(self, key: Hashable, now_s: float) -> bool:
        meta = self._meta.get(key)
        if meta is None:
            return False
        if meta[_EXPIRY] <= now_s:
            self._remove(key, meta)
            return False
        self._bump(key, meta)
        return True

    def put(self, key: Hashable, now_s: float, size: int | float = 1,
            ttl_s: float | None = None) -> list:
        if not 0 < size <= self.capacity:
            return reject_put(self, key, size)
        expiry = NO_EXPIRY if ttl_s is None else now_s + ttl_s
        meta = self._meta.get(key)
        if meta is None:
            root = self._root
            first = root.next
            if first is None or first.count != 1:
                first = _Bucket(1, root, first)
                if root.next is not None:
                    root.next.prev = first
                root.next = first
            first.keys[key] = None
            self._meta[key] = [first, expiry, size]
            self.used += size
        else:
            self.used += size - meta[_SIZE]
            meta[_EXPIRY] = expiry
            meta[_SIZE] = size
            self._bump(key, meta)
        if self.used <= self.capacity:
            return []
        return self._evict_for(key)

    def clear(self) -> None:
        self._meta.clear()
        self._root.next = None
        self.used = 0

    def count(self, key: Hashable) -> int:
        """The access count of a stored key (0 if absent)."""
        meta = self._meta.get(key)
        return 0 if meta is None else meta[_BUCKET].count

    def __repr__(self) -> str:
        return f"LFUCache(capacity={self.capacity}, used={self.used}, keys={len(self)})"

    # -- internals ---------------------------------------------------------------------------

    def _bump(self, key: Hashable, meta: list) -> None:
        """Move `key` from its bucket to the young end of the next count's bucket."""
        bucket = meta[_BUCKET]
        count = bucket.count + 1
        nxt = bucket.next
        if nxt is None or nxt.count != count:
            nxt = _Bucket(count, bucket, nxt)
            if bucket.next is not None:
                bucket.next.prev = nxt
            bucket.next = nxt
        del bucket.keys[key]
        nxt.keys[key] = None
        meta[_BUCKET] = nxt
        if not bucket.keys:
            self._unlink(bucket)

    def _remove(self, key: Hashable, meta: list) -> None:
        bucket = meta[_BUCKET]
        del bucket.keys[key]
        if not bucket.keys:
            self._unlink(bucket)
        del self._meta[key]
        self.used -= meta[_SIZE]

    @staticmethod
    def _unlink(bucket: _Bucket) -> None:
        bucket.prev.next = bucket.next
        if bucket.next is not None:
            bucket.next.prev = bucket.prev

    def _evict_for(self, keep: Hashable) -> list:
        """Evict lowest-count, oldest keys until used <= capacity, never `keep`.

        `keep` is always the young end of its bucket, so it is a bucket's first key only when
        it is alone there; then the victim comes from the next bucket.
        """
        evicted = []
        root = self._root
        capacity = self.capacity
        meta_of = self._meta
        while self.used > capacity:
            bucket = root.next
            victim = next(iter(bucket.keys))
            if victim == keep:
                bucket = bucket.next
                victim = next(iter(bucket.keys))
            self._remove(victim, meta_of[victim])
            evicted.append(victim)
        return evicted
