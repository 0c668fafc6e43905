"""Consistent hashing on the session or user id, optionally with bounded loads.

Requests with the same key go to the same instance while it stays a candidate, which is what
keeps a conversation's KV or prefix cache warm. The ring (policies.hashing.HashRing) places
`vnodes` points per instance, ketama style, so a membership change moves about 1/N of the
keys: nginx `hash $http_x_session_id consistent`, HAProxy `balance hdr(X-Session-Id)` with
`hash-type consistent`, Envoy RING_HASH with a header hash policy.

With `epsilon` set, the lookup is Mirrokni, Thorup and Zadimoghaddam's "Consistent Hashing
with Bounded Loads" (2018), as HAProxy's `hash-balance-factor` does it: a key goes to the first
instance clockwise from its hash whose in-flight count, with this request added, stays within
ceil((1 + epsilon) × (total in-flight + 1) / N). No instance then holds more than that when the
request is placed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from policies.hashing import HashRing
from policies.views import InstanceView, RequestInfo, Route

HASH_KEYS = ("session_id", "user_id")


@dataclass(frozen=True)
class ConsistentHashConfig:
    """key: the request field hashed ("session_id" or "user_id").
    vnodes: ring points per instance (ketama and nginx use 160).
    epsilon: bounded-load slack (>= 0; None: plain consistent hashing). HAProxy's
        hash-balance-factor 125 is epsilon 0.25."""

    __pydantic_config__ = {"extra": "forbid"}
    key: str = "session_id"
    vnodes: int = 160
    epsilon: float | None = None

    def __post_init__(self) -> None:
        if self.key not in HASH_KEYS:
            raise ValueError(f"key must be one of {', '.join(HASH_KEYS)}")
        if self.vnodes < 1:
            raise ValueError("vnodes must be >= 1")
        if self.epsilon is not None and not self.epsilon >= 0:
            raise ValueError("epsilon must be >= 0 (or None for no bound)")


class ConsistentHash:
    """Ring lookup of the request's key; with epsilon, the bounded-load walk.

    The ring is updated by difference when the candidate tuple changes (instances added or
    removed), never rebuilt per request. Reasons: "ConsistentHash" (the key's own instance),
    "ConsistentHash:Spilled" (its own instance was at the bound; the next one clockwise
    under the bound took it).
    """

    def __init__(self, config: ConsistentHashConfig | None = None) -> None:
        self.config = config or ConsistentHashConfig()
        self._by_user = self.config.key == "user_id"
        self.ring = HashRing(vnodes=self.config.vnodes)
        self._last: Sequence[InstanceView] | None = None
        self._index: dict[int, int] = {}

    def _rebuild(self, candidates: Sequence[InstanceView]) -> None:
        index = {c.instance_id: i for i, c in enumerate(candidates)}
        ring = self.ring
        present = ring.nodes
        for node in present:
            if node not in index:
                ring.remove(node)
        ring.add_many(i for i in index if i not in present)
        self._index = index
        self._last = candidates

    def _load_of(self, instance_id: int) -> int:
        return self._last[self._index[instance_id]].in_flight

    def choose(self, request: RequestInfo, candidates: Sequence[InstanceView],
               now_s: float) -> Route:
        if candidates is not self._last:
            self._rebuild(candidates)
        key = request.user_id if self._by_user else request.session_id
        index = self._index[self.ring.lookup(key)]
        epsilon = self.config.epsilon
        if epsilon is None:
            return index, "ConsistentHash"
        total = 0
        for c in candidates:
            total += c.in_flight
        bound = math.ceil((1.0 + epsilon) * (total + 1) / len(candidates))
        if candidates[index].in_flight + 1 <= bound:
            return index, "ConsistentHash"
        owner = self.ring.lookup_bounded(key, self._load_of, epsilon)
        return self._index[owner], "ConsistentHash:Spilled"
