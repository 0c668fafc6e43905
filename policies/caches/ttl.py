"""Per-data-type time-to-live: how long a cached user, session, conversation or response lives.

The service reads through the cache with a data type (`distributedCache.get('user:123',
'user')`); the type picks the TTL given to `put`. Types not listed get the default.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

# The data types the chat service caches.
DATA_TYPES = ("user", "session", "conversation", "response")


def _check_ttl(name: str, ttl_s: float | None) -> None:
    if ttl_s is None:
        return
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, int | float) or not ttl_s > 0:
        raise ValueError(f"{name} must be a number > 0 or None, got {ttl_s!r}")


@dataclass(frozen=True)
class TTLPolicy:
    """TTLs by data type, in seconds; None means the entry never expires.

    default_ttl_s: the TTL of a type missing from ttl_s_by_type.
    ttl_s_by_type: data type -> TTL (or None to exempt a type from the default), e.g.
        {"user": 3600, "session": 1800, "conversation": 600, "response": 300}.
        Treat it as read-only.
    key_separator: what ends the type prefix in a key ("user:123" -> "user"), for
        ttl_s_for_key.
    """

    __pydantic_config__ = {"extra": "forbid"}
    default_ttl_s: float | None = None
    ttl_s_by_type: dict[str, float | None] = field(default_factory=dict)
    key_separator: str = ":"

    def __post_init__(self) -> None:
        _check_ttl("default_ttl_s", self.default_ttl_s)
        for data_type, ttl_s in self.ttl_s_by_type.items():
            if not isinstance(data_type, str) or not data_type:
                raise ValueError(f"ttl_s_by_type keys must be non-empty strings, got {data_type!r}")
            _check_ttl(f"ttl_s_by_type[{data_type!r}]", ttl_s)
        if not self.key_separator:
            raise ValueError("key_separator must not be empty")

    def ttl_s(self, data_type: str | None) -> float | None:
        """The TTL for one data type (the default when the type is None or not listed)."""
        return self.ttl_s_by_type.get(data_type, self.default_ttl_s)

    def ttl_s_for_key(self, key: Hashable) -> float | None:
        """The TTL for a key whose type is its prefix ("user:123" -> ttl_s("user"));
        a key without the separator gets the default."""
        data_type, sep, _ = str(key).partition(self.key_separator)
        return self.ttl_s(data_type if sep else None)


def data_type_of(key: Hashable, separator: str = ":") -> str | None:
    """The type prefix of a key ("session:9" -> "session"), None when it has none."""
    data_type, sep, _ = str(key).partition(separator)
    return data_type if sep else None
