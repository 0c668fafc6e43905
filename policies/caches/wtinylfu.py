"""W-TinyLFU: a small LRU window, a segmented-LRU main area, and a frequency-based admission filter.

Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission Policy", ACM
Transactions on Storage 13(4), 2017 (section 4, W-TinyLFU), as Caffeine popularized it. New
keys enter the window (an LRU of 1% of capacity). A key pushed out of the window is a
candidate for the main area, a segmented LRU (Karedla, Love and Wherry, 1994) whose
probation segment takes newcomers and whose protected segment (80% of main) takes keys read
again while on probation. When main is full the candidate is admitted only if the sketch
estimates it more frequent than main's victim (probation's least recent key); otherwise the
candidate is the one evicted.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from policies.caches.base import (
    NO_EXPIRY,
    RECORD_EXPIRY,
    RECORD_SIZE,
    RecordStore,
    check_capacity,
    check_fraction,
    reject_put,
)
from policies.caches.sketch import CountMinSketch, next_power_of_two


@dataclass(frozen=True)
class WTinyLFUConfig:
    """W-TinyLFU parameters (defaults are the paper's and Caffeine's).

    capacity: room in the unit of put's size (items with the default size 1, or bytes).
    window_frac: the window LRU's share of capacity (at least one unit).
    protected_frac: the protected segment's share of the main area.
    expected_items: how many keys the cache holds when full; it sizes the sketch (width =
        the next power of two) and its aging period. None: capacity, right when sizes are 1;
        set it when capacity is in bytes.
    counter_max: where a sketch counter saturates (15: four bits; at most 255).
    sample_factor: the sketch halves its counters every sample_factor x expected_items
        increments (TinyLFU's reset; W = 10 x cache size in the paper).
    """

    __pydantic_config__ = {"extra": "forbid"}
    capacity: int = 10_000
    window_frac: float = 0.01
    protected_frac: float = 0.8
    expected_items: int | None = None
    counter_max: int = 15
    sample_factor: int = 10

    def __post_init__(self) -> None:
        check_capacity(self.capacity)
        check_fraction("window_frac", self.window_frac)
        check_fraction("protected_frac", self.protected_frac, allow_zero=True)
        if self.expected_items is not None and self.expected_items < 1:
            raise ValueError(f"expected_items must be >= 1, got {self.expected_items!r}")
        if not 1 <= self.counter_max <= 255:
            raise ValueError(f"counter_max must be in [1, 255], got {self.counter_max!r}")
        if self.sample_factor < 1:
            raise ValueError(f"sample_factor must be >= 1, got {self.sample_factor!r}")


# Segments, and the per-key record: [segment, expiry_s, size].
WINDOW, PROBATION, PROTECTED = 0, 1, 2
SEGMENT_NAMES = ("window", "probation", "protected")
_SEGMENT, _EXPIRY, _SIZE = 0, RECORD_EXPIRY, RECORD_SIZE


class WTinyLFUCache(RecordStore):
    """W-TinyLFU over three OrderedDicts (least recent first) and a CountMinSketch.

    The sketch counts reads: every get, hit or miss, is one access (TinyLFU's access stream);
    a put does not count, since in cache-aside it follows the miss already counted, and a
    peek changes nothing, the sketch included. A hit moves the key to the young end of its
    segment, and a probation hit promotes it to protected (protected's overflow is demoted to
    probation's young end). A put of a stored key updates its size and TTL and reorders it as
    a hit would.

    Admission compares estimates strictly (candidate > victim), so ties keep the resident
    key. With sizes, a winning candidate evicts as many main keys as it needs room for.
    `put` may return the key just put: it was pushed out of the window and not admitted.

    The sketch's hash seed comes from the injected generator.
    """

    __slots__ = ("config", "capacity", "sketch", "window_cap", "main_cap", "protected_cap",
                 "_count_read",
                 "_window", "_probation", "_protected", "_meta",
                 "_window_used", "_probation_used", "_protected_used")

    def __init__(self, config: WTinyLFUConfig | None = None,
                 rng: np.random.Generator | None = None) -> None:
        self.config = config = config or WTinyLFUConfig()
        self.capacity = capacity = config.capacity
        self.window_cap = min(capacity, max(1, round(capacity * config.window_frac)))
        self.main_cap = capacity - self.window_cap
        self.protected_cap = round(self.main_cap * config.protected_frac)
        items = config.expected_items or capacity
        seed = int(rng.integers(0, 1 << 63)) if rng is not None else 0
        self.sketch = CountMinSketch(
            width=next_power_of_two(max(16, items)), counter_max=config.counter_max,
            sample_size=config.sample_factor * items, seed=seed,
            memo_limit=min(1 << 16, max(1 << 12, 4 * items)))
        self._count_read = self.sketch.increment
        self._window: OrderedDict[Hashable, None] = OrderedDict()
        self._probation: OrderedDict[Hashable, None] = OrderedDict()
        self._protected: OrderedDict[Hashable, None] = OrderedDict()
        self._meta: dict[Hashable, list] = {}
        self._window_used = 0
        self._probation_used = 0
        self._protected_used = 0

    @property
    def used(self) -> int | float:
        return self._window_used + self._probation_used + self._protected_used

    def get(self, key: Hashable, now_s: float) -> bool:
        self._count_read(key)
        meta = self._meta.get(key)
        if meta is None:
            return False
        if meta[_EXPIRY] <= now_s:
            self._remove(key, meta)
            return False
        segment = meta[_SEGMENT]
        if segment == WINDOW:
            self._window.move_to_end(key)
        elif segment == PROTECTED:
            self._protected.move_to_end(key)
        else:
            self._promote(key, meta)
        return True

    def put(self, key: Hashable, now_s: float, size: int | float = 1,
            ttl_s: float | None = None) -> list:
        if not 0 < size <= self.capacity:
            return reject_put(self, key, size)
        expiry = NO_EXPIRY if ttl_s is None else now_s + ttl_s
        meta = self._meta.get(key)
        evicted = []
        if meta is None:
            self._meta[key] = [WINDOW, expiry, size]
            self._window[key] = None
            self._window_used += size
            if self._window_used > self.window_cap:
                self._drain_window(evicted)
            return evicted
        meta[_EXPIRY] = expiry
        delta = size - meta[_SIZE]
        if delta:
            meta[_SIZE] = size
            segment = meta[_SEGMENT]
            if segment == WINDOW:
                self._window_used += delta
            elif segment == PROBATION:
                self._probation_used += delta
            else:
                self._protected_used += delta
        segment = meta[_SEGMENT]
        if segment == WINDOW:
            self._window.move_to_end(key)
        elif segment == PROTECTED:
            self._protected.move_to_end(key)
            self._demote_overflow()
        else:
            self._promote(key, meta)
        if delta > 0:
            self._shrink_main(evicted)
            if self._window_used > self.window_cap:
                self._drain_window(evicted)
        return evicted

    def clear(self) -> None:
        """Drop every key and every count (a restarted cache process)."""
        self._window.clear()
        self._probation.clear()
        self._protected.clear()
        self._meta.clear()
        self._window_used = self._probation_used = self._protected_used = 0
        self.sketch.clear()

    def segment(self, key: Hashable) -> str | None:
        """The segment holding a stored key ("window", "probation", "protected"), else None."""
        meta = self._meta.get(key)
        return None if meta is None else SEGMENT_NAMES[meta[_SEGMENT]]

    def __repr__(self) -> str:
        return (f"WTinyLFUCache(capacity={self.capacity}, window={self._window_used}, "
                f"probation={self._probation_used}, protected={self._protected_used})")

    # -- internals ---------------------------------------------------------------------------

    def _remove(self, key: Hashable, meta: list) -> None:
        del self._meta[key]
        segment = meta[_SEGMENT]
        if segment == WINDOW:
            del self._window[key]
            self._window_used -= meta[_SIZE]
        elif segment == PROBATION:
            del self._probation[key]
            self._probation_used -= meta[_SIZE]
        else:
            del self._protected[key]
            self._protected_used -= meta[_SIZE]

    def _promote(self, key: Hashable, meta: list) -> None:
        """A probation key read again moves to protected's young end."""
        size = meta[_SIZE]
        del self._probation[key]
        self._probation_used -= size
        self._protected[key] = None
        self._protected_used += size
        meta[_SEGMENT] = PROTECTED
        if self._protected_used > self.protected_cap:
            self._demote_overflow()

    def _demote_overflow(self) -> None:
        """Move protected's least recent keys to probation's young end until it fits."""
        protected = self._protected
        meta_of = self._meta
        while self._protected_used > self.protected_cap and protected:
            key = protected.popitem(last=False)[0]
            meta = meta_of[key]
            meta[_SEGMENT] = PROBATION
            self._protected_used -= meta[_SIZE]
            self._probation[key] = None
            self._probation_used += meta[_SIZE]

    def _main_victim(self) -> Hashable:
        """Main's next victim: probation's least recent key, else protected's."""
        if self._probation:
            return next(iter(self._probation))
        return next(iter(self._protected))

    def _evict_main_victim(self, evicted: list) -> None:
        victim = self._main_victim()
        self._remove(victim, self._meta[victim])
        evicted.append(victim)

    def _shrink_main(self, evicted: list) -> None:
        """Evict main victims while main holds more than its share (after a resize)."""
        while self._probation_used + self._protected_used > self.main_cap:
            self._evict_main_victim(evicted)

    def _drain_window(self, evicted: list) -> None:
        """Move the window's least recent keys out, each admitted to probation or evicted."""
        window = self._window
        meta_of = self._meta
        estimate = self.sketch.estimate
        main_cap = self.main_cap
        while self._window_used > self.window_cap:
            candidate = window.popitem(last=False)[0]
            meta = meta_of[candidate]
            size = meta[_SIZE]
            self._window_used -= size
            room = main_cap - self._probation_used - self._protected_used
            if size > room:
                if size > main_cap or estimate(candidate) <= estimate(self._main_victim()):
                    del meta_of[candidate]
                    evicted.append(candidate)
                    continue
                while self._probation_used + self._protected_used + size > main_cap:
                    self._evict_main_victim(evicted)
            meta[_SEGMENT] = PROBATION
            self._probation[candidate] = None
            self._probation_used += size
