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
