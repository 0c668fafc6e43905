"""Cache-stampede protection: who reads the database when many requests miss the same key.

With mode "single_flight" the first miss on a key leads a flight (it reads the database and
fills the cache); later misses on that key while the flight is open follow it (they wait for
the leader's result), as Go's singleflight and nginx's proxy_cache_lock do. With mode "none"
every miss reads the database itself; the first is still reported as the leader, so a driver
can count the duplicate reads that single flight would have saved.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

LEADER = "leader"            # read the database, fill the cache, then call end(key)
FOLLOWER = "follower"        # wait for the leader's result; do not call end
INDEPENDENT = "independent"  # read the database yourself; do not call end

COALESCE_MODES = ("none", "single_flight")


@dataclass(frozen=True)
class SingleFlightConfig:
    """mode: "single_flight" (coalesce concurrent misses on a key) or "none".

    leader_timeout_s: a flight open longer than this is presumed stuck: later misses go to
        the database themselves ("independent") instead of following it, as with nginx's
        proxy_cache_lock_timeout. None: followers always wait.
    """

    __pydantic_config__ = {"extra": "forbid"}
    mode: str = "single_flight"
    leader_timeout_s: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in COALESCE_MODES:
            raise ValueError(f"mode must be one of {COALESCE_MODES}, got {self.mode!r}")
        if self.leader_timeout_s is not None and not self.leader_timeout_s > 0:
            raise ValueError(f"leader_timeout_s must be > 0 or None, got {self.leader_timeout_s!r}")


class SingleFlight:
    """Open flights by key: when each started and how many misses joined it.

    begin(key, now_s) is called on a cache miss and returns the caller's role; the leader
    calls end(key) when its database read is over (success or failure), which closes the
    flight and returns how many misses joined it (followers, or independents in mode
    "none"). O(1) per call; state is one dict entry per open flight.
    """

    __slots__ = ("config", "_coalesce", "_timeout_s", "_flights")

    def __init__(self, config: SingleFlightConfig | None = None) -> None:
        self.config = config or SingleFlightConfig()
        self._coalesce = self.config.mode == "single_flight"
        self._timeout_s = self.config.leader_timeout_s
        self._flights: dict[Hashable, list] = {}  # key -> [started_s, joined]

    def begin(self, key: Hashable, now_s: float) -> str:
        """The role of a miss on `key` at now_s: "leader", "follower" or "independent"."""
        flight = self._flights.get(key)
        if flight is None:
            self._flights[key] = [now_s, 0]
            return LEADER
        flight[1] += 1
        if not self._coalesce:
            return INDEPENDENT
        if self._timeout_s is not None and now_s - flight[0] > self._timeout_s:
            return INDEPENDENT
        return FOLLOWER

    def end(self, key: Hashable) -> int:
        """Close the flight on `key`; the number of misses that joined it.

        Raises KeyError if no flight is open on `key` (end called twice, or by a non-leader).
        """
        try:
            return self._flights.pop(key)[1]
        except KeyError:
            raise KeyError(f"no open flight on {key!r}") from None

    def in_flight(self, key: Hashable) -> bool:
        """True while a leader is reading `key`."""
        return key in self._flights

    def __len__(self) -> int:
        """Open flights."""
        return len(self._flights)
