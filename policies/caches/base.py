"""The contract every cache eviction policy meets, and the checks their configs share.

A cache store is a bounded set of keys: it holds no values, only each key's size and expiry.
A production wrapper keeps values in its own dict and drops the keys that `put` reports as
evicted; the simulator needs only hit or miss. See `policies.caches` for the full contract.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Protocol, runtime_checkable

# The expiry of an entry put without a TTL: it never expires.
NO_EXPIRY = math.inf


@runtime_checkable
class CacheStore(Protocol):
    """What every eviction policy offers (LRU, LFU, FIFO, S3-FIFO, W-TinyLFU).

    capacity and used are in the unit of `put`'s size: items when every size is 1 (the
    default), bytes when sizes are bytes. used never exceeds capacity.
    """

    capacity: int

    @property
    def used(self) -> int | float: ...

    def get(self, key: Hashable, now_s: float) -> bool: ...

    def peek(self, key: Hashable, now_s: float) -> bool: ...

    def put(self, key: Hashable, now_s: float, size: int | float = 1,
            ttl_s: float | None = None) -> list: ...

    def delete(self, key: Hashable) -> bool: ...

    def clear(self) -> None: ...

    def __contains__(self, key: object) -> bool: ...

    def __len__(self) -> int: ...


def check_capacity(capacity: object) -> None:
    """Raise ValueError unless capacity is an int > 0."""
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        raise ValueError(f"capacity must be an integer, got {capacity!r}")
    if capacity <= 0:
        raise ValueError(f"capacity must be > 0, got {capacity}")


def check_fraction(name: str, value: float, *, allow_zero: bool = False) -> None:
    """Raise ValueError unless 0 < value < 1 (or 0 <= value < 1 with allow_zero)."""
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value < 1):
        bound = "[0, 1)" if allow_zero else "(0, 1)"
        raise ValueError(f"{name} must be in {bound}, got {value!r}")


def bad_size(size: object) -> ValueError:
    """The error `put` raises for a size that is not > 0."""
    return ValueError(f"size must be > 0, got {size!r}")


def reject_put(store: CacheStore, key: Hashable, size: int | float) -> list:
    """What `put` does with a size outside (0, capacity].

    Raises ValueError for a size that is not > 0. A larger size than the capacity cannot be
    stored: the key's old entry (if any) is deleted and the key itself is returned as evicted.
    """
    if not size > 0:
        raise bad_size(size)
    store.delete(key)
    return [key]


# Where a RecordStore's per-key record keeps the expiry and the size: a record is a list
# [policy field, expiry_s, size, ...]; the first field and any after the size are the policy's.
RECORD_EXPIRY, RECORD_SIZE = 1, 2


class RecordStore:
    """The shared body of the stores that keep one record per key in a dict `_meta`.

    A subclass declares `_meta` in its slots, keeps records as RECORD_EXPIRY/RECORD_SIZE say,
    and defines `_remove(key, meta)`, which drops the key with its record `meta` from every
    structure it is in (and from `used`).
    """

    __slots__ = ()
    _meta: dict[Hashable, list]

    def _remove(self, key: Hashable, meta: list) -> None:
        raise NotImplementedError

    def peek(self, key: Hashable, now_s: float) -> bool:
        """True if `key` is stored and fresh at now_s; changes nothing."""
        meta = self._meta.get(key)
        return meta is not None and meta[RECORD_EXPIRY] > now_s

    def delete(self, key: Hashable) -> bool:
        meta = self._meta.get(key)
        if meta is None:
            return False
        self._remove(key, meta)
        return True

    def __contains__(self, key: object) -> bool:
        return key in self._meta

    def __len__(self) -> int:
        return len(self._meta)
