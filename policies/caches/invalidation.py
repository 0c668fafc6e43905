"""What a database write does to the cached copy of the key it wrote."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class WriteMode(StrEnum):
    """How the service keeps the cache coherent with the database on writes."""

    WRITE_INVALIDATE = "write_invalidate"  # delete the cached key; the next read refills it
    WRITE_THROUGH = "write_through"        # put the new value (insert or update) with its TTL
    TTL_ONLY = "ttl_only"                  # leave the cache alone; stale until the TTL expires


class WriteAction(StrEnum):
    """What to do to the cache after a write."""

    DELETE = "delete"   # cache.delete(key)
    UPDATE = "update"   # cache.put(key, now_s, size, ttl_s)
    NONE = "none"       # nothing


_ACTIONS = {
    WriteMode.WRITE_INVALIDATE: WriteAction.DELETE,
    WriteMode.WRITE_THROUGH: WriteAction.UPDATE,
    WriteMode.TTL_ONLY: WriteAction.NONE,
}


def write_action(mode: WriteMode | str) -> WriteAction:
    """The cache action for a write under `mode`; ValueError for an unknown mode."""
    return _ACTIONS[WriteMode(mode)]


@dataclass(frozen=True)
class InvalidationConfig:
    """mode: "write_invalidate", "write_through" or "ttl_only" (see WriteMode)."""

    __pydantic_config__ = {"extra": "forbid"}
    mode: str = "write_invalidate"

    def __post_init__(self) -> None:
        try:
            WriteMode(self.mode)
        except ValueError:
            modes = ", ".join(m.value for m in WriteMode)
            raise ValueError(f"mode must be one of {modes}; got {self.mode!r}") from None

    @property
    def action(self) -> WriteAction:
        """The cache action a write takes under this mode."""
        return write_action(self.mode)
