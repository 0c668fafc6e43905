"""S3-FIFO: a small probationary FIFO, a main FIFO with lazy reinsertion, and a ghost queue.

Yang, Zhang, Qiu, Yue and Vinayak, "FIFO queues are all you need for cache eviction",
SOSP 2023 (Algorithm 1). New keys enter the small queue S (10% of capacity); at S's old end a
key read at least `move_to_main_threshold` times since insertion moves to the main queue M,
any other key is evicted and remembered in the ghost queue G. A key put again while in G goes
straight into M. At M's old end a key with a non-zero count is reinserted with its count
less one; a key with count 0 is evicted. Counts saturate at `max_freq` (3: two bits).
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
    check_fraction,
    reject_put,
)


@dataclass(frozen=True)
class S3FIFOConfig:
    """S3-FIFO parameters (defaults are the paper's).

    capacity: room in the unit of put's size (items with the default size 1, or bytes).
    small_frac: the small queue's share of capacity; S is evicted from while it holds at
        least this share.
    ghost_frac: the ghost queue's size as a share of capacity, counted in the same unit
        (0.9: as many entries as the main queue holds); 0 disables the ghost.
    move_to_main_threshold: reads needed in S to move to M at eviction time (2: "freq > 1").
    max_freq: the cap on a key's read count (3 fits in two bits).
    """

    __pydantic_config__ = {"extra": "forbid"}
    capacity: int = 10_000
    small_frac: float = 0.1
    ghost_frac: float = 0.9
    move_to_main_threshold: int = 2
    max_freq: int = 3

    def __post_init__(self) -> None:
        check_capacity(self.capacity)
        check_fraction("small_frac", self.small_frac)
        if not 0 <= self.ghost_frac <= 1:
            raise ValueError(f"ghost_frac must be in [0, 1], got {self.ghost_frac!r}")
        if self.max_freq < 1:
            raise ValueError(f"max_freq must be >= 1, got {self.max_freq!r}")
        if not 1 <= self.move_to_main_threshold <= self.max_freq:
            raise ValueError("move_to_main_threshold must be in [1, max_freq], "
                             f"got {self.move_to_main_threshold!r}")


# Per-key record: [freq, expiry_s, size, in_main].
_FREQ, _EXPIRY, _SIZE, _IN_MAIN = 0, RECORD_EXPIRY, RECORD_SIZE, 3


class S3FIFOCache(RecordStore):
    """S3-FIFO over three OrderedDicts (old end first); O(1) amortized per operation.

    Readings of the pseudo-code where it is silent: "the cache is full" means the new key
    does not fit (used + size > capacity); "M is full" means M holds more than its share
    (capacity minus the small share); a key's count is reset to 0 when it moves to M (the
    paper clears access bits on the move); a key that expires or is deleted leaves without
    entering the ghost; the ghost holds keys (with their sizes), never content. When the queue
    the rule picks is empty, the other one is evicted from.

    A read of a stored key (a hit) and a put of a stored key both count as a read; a put of a
    stored key updates its size and TTL in place.
    """

    __slots__ = ("config", "capacity", "_small", "_main", "_ghost", "_meta",
                 "_small_used", "_main_used", "_ghost_used",
                 "_small_share", "_main_share", "_ghost_cap", "_threshold", "_max_freq")

    def __init__(self, config: S3FIFOConfig | None = None) -> None:
        self.config = config = config or S3FIFOConfig()
        self.capacity = config.capacity
        self._small_share = config.small_frac * config.capacity
        self._main_share = config.capacity - self._small_share
        self._ghost_cap = config.ghost_frac * config.capacity
        self._threshold = config.move_to_main_threshold
        self._max_freq = config.max_freq
        self._small: OrderedDict[Hashable, None] = OrderedDict()
        self._main: OrderedDict[Hashable, None] = OrderedDict()
        self._ghost: OrderedDict[Hashable, int | float] = OrderedDict()  # key -> size
        self._meta: dict[Hashable, list] = {}
        self._small_used = 0
        self._main_used = 0
        self._ghost_used = 0

    @property
    def used(self) -> int | float:
        return self._small_used + self._main_used

    def get(self, key: Hashable, now_s: float) -> bool:
        meta = self._meta.get(key)
        if meta is None:
            return False
        if meta[_EXPIRY] <= now_s:
            self._remove(key, meta)
            return False
        if meta[_FREQ] < self._max_freq:
            meta[_FREQ] += 1
        return True

    def put(self, key: Hashable, now_s: float, size: int | float = 1,
            ttl_s: float | None = None) -> list:
        if not 0 < size <= self.capacity:
            return reject_put(self, key, size)
        expiry = NO_EXPIRY if ttl_s is None else now_s + ttl_s
        meta = self._meta.get(key)
        evicted = []
        if meta is not None:
            if meta[_FREQ] < self._max_freq:
                meta[_FREQ] += 1
            meta[_EXPIRY] = expiry
            delta = size - meta[_SIZE]
            if delta:
                meta[_SIZE] = size
                if meta[_IN_MAIN]:
                    self._main_used += delta
                else:
                    self._small_used += delta
                while self._small_used + self._main_used > self.capacity:
                    self._evict(evicted)
            return evicted
        capacity = self.capacity
        while self._small_used + self._main_used + size > capacity:
            self._evict(evicted)
        ghost_size = self._ghost.pop(key, None)
        if ghost_size is not None:
            self._ghost_used -= ghost_size
            self._main[key] = None
            self._main_used += size
            self._meta[key] = [0, expiry, size, True]
        else:
            self._small[key] = None
            self._small_used += size
            self._meta[key] = [0, expiry, size, False]
        return evicted

    def clear(self) -> None:
        self._small.clear()
        self._main.clear()
        self._ghost.clear()
        self._meta.clear()
        self._small_used = self._main_used = self._ghost_used = 0

    def queue(self, key: Hashable) -> str | None:
        """The queue holding a stored key ("small" or "main"), else None."""
        meta = self._meta.get(key)
        return None if meta is None else ("main" if meta[_IN_MAIN] else "small")

    def in_ghost(self, key: Hashable) -> bool:
        """True if `key` was evicted from S recently enough to be remembered."""
        return key in self._ghost

    def __repr__(self) -> str:
        return (f"S3FIFOCache(capacity={self.capacity}, small={self._small_used}, "
                f"main={self._main_used}, ghost={len(self._ghost)})")

    # -- internals ---------------------------------------------------------------------------

    def _remove(self, key: Hashable, meta: list) -> None:
        del self._meta[key]
        if meta[_IN_MAIN]:
            del self._main[key]
            self._main_used -= meta[_SIZE]
        else:
            del self._small[key]
            self._small_used -= meta[_SIZE]

    def _evict(self, evicted: list) -> None:
        """EVICT(): from S while S holds its share, else from M (falling back when empty)."""
        if (self._small_used >= self._small_share and self._small) or not self._main:
            self._evict_small(evicted)
        else:
            self._evict_main(evicted)

    def _evict_small(self, evicted: list) -> None:
        """EVICTS(): move read keys to M until one unread key leaves S for the ghost."""
        small = self._small
        meta_of = self._meta
        while small:
            key = small.popitem(last=False)[0]
            meta = meta_of[key]
            size = meta[_SIZE]
            self._small_used -= size
            if meta[_FREQ] >= self._threshold:
                meta[_FREQ] = 0
                meta[_IN_MAIN] = True
                self._main[key] = None
                self._main_used += size
                if self._main_used > self._main_share:
                    self._evict_main(evicted)
            else:
                del meta_of[key]
                evicted.append(key)
                self._remember(key, size)
                return

    def _evict_main(self, evicted: list) -> None:
        """EVICTM(): reinsert keys with a count (count - 1) until a count-0 key is evicted."""
        main = self._main
        meta_of = self._meta
        while main:
            key = main.popitem(last=False)[0]
            meta = meta_of[key]
            if meta[_FREQ] > 0:
                meta[_FREQ] -= 1
                main[key] = None
            else:
                del meta_of[key]
                self._main_used -= meta[_SIZE]
                evicted.append(key)
                return

    def _remember(self, key: Hashable, size: int | float) -> None:
        if self._ghost_cap <= 0:
            return
        ghost = self._ghost
        ghost[key] = size
        self._ghost_used += size
        while self._ghost_used > self._ghost_cap:
            self._ghost_used -= ghost.popitem(last=False)[1]
