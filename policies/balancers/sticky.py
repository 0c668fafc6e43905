"""Sticky sessions: the service's selectInstance(sessionId), remembering where a session went.

The first request of a session is assigned by `assign` (least connections by default); later
requests go to the remembered instance while it is still a candidate. When it is not (it
failed its health checks, was ejected, is draining or gone) the request falls back to a fresh
assignment and the session re-sticks to the new instance, the way a load balancer rewrites a
persistence cookie (HAProxy `cookie ... insert` with `option redispatch`, nginx Plus `sticky`).
The session table is an LRU bounded by `max_sessions`, so memory stays flat however many
sessions a run creates.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from policies.views import InstanceView, RequestInfo, Route

STICKY_KEYS = ("session_id", "user_id")
ASSIGN_METHODS = ("least_connections", "round_robin", "random")


@dataclass(frozen=True)
class StickyConfig:
    """key: what a session is ("session_id" or "user_id").
    max_sessions: sessions remembered (least recently used are forgotten first).
    assign: how new and fallen-back sessions are placed: "least_connections",
        "round_robin" or "random"."""

    __pydantic_config__ = {"extra": "forbid"}
    key: str = "session_id"
    max_sessions: int = 100_000
    assign: str = "least_connections"

    def __post_init__(self) -> None:
        if self.key not in STICKY_KEYS:
            raise ValueError(f"key must be one of {', '.join(STICKY_KEYS)}")
        if self.max_sessions < 1:
            raise ValueError("max_sessions must be >= 1")
        if self.assign not in ASSIGN_METHODS:
            raise ValueError(f"assign must be one of {', '.join(ASSIGN_METHODS)}")


class Sticky:
    """Session → instance id, in a bounded LRU.

    Reasons: "Sticky" (the remembered instance), "StickyNew" (first request of a session, or
    one forgotten by the LRU), "StickyFallback" (the remembered instance is no longer among
    the candidates; the session now sticks to the new one).
    """

    _BATCH = 4096

    def __init__(self, config: StickyConfig | None = None,
                 rng: np.random.Generator | None = None) -> None:
        self.config = cfg = config or StickyConfig()
        if cfg.assign == "random" and rng is None:
            raise ValueError('assign "random" needs an rng')
        self._rng = rng
        self._uniforms: list[float] = []
        self._by_user = cfg.key == "user_id"
        self._assign_kind = ASSIGN_METHODS.index(cfg.assign)
        self.sessions: OrderedDict[int, int] = OrderedDict()
        self.evictions = 0
        self._last: Sequence[InstanceView] | None = None
        self._index: dict[int, int] = {}
        self._cursor = 0

    def end_session(self, key: int) -> None:
        """Forget a session that ended (optional: the LRU bounds memory anyway)."""
        self.sessions.pop(key, None)

    def _assign(self, candidates: Sequence[InstanceView]) -> int:
        n = len(candidates)
        kind = self._assign_kind
        if kind == 2:  # random
            if not self._uniforms:
                self._uniforms = self._rng.random(self._BATCH).tolist()
            return int(self._uniforms.pop() * n)
        start = self._cursor % n
        self._cursor = start + 1
        if kind == 1:  # round robin
            return start
        best = start
        best_load = candidates[start].in_flight
        for offset in range(1, n):
            i = start + offset
            if i >= n:
                i -= n
            load = candidates[i].in_flight
            if load < best_load:
                best, best_load = i, load
        return best

    def choose(self, request: RequestInfo, candidates: Sequence[InstanceView],
               now_s: float) -> Route:
        if candidates is not self._last:
            self._index = {c.instance_id: i for i, c in enumerate(candidates)}
            self._last = candidates
        key = request.user_id if self._by_user else request.session_id
        sessions = self.sessions
        remembered = sessions.get(key)
        if remembered is not None:
            index = self._index.get(remembered)
            if index is not None:
                sessions.move_to_end(key)
                return index, "Sticky"
            reason = "StickyFallback"
        else:
            reason = "StickyNew"
        index = self._assign(candidates)
        sessions[key] = candidates[index].instance_id
        if remembered is not None:
            sessions.move_to_end(key)
        elif len(sessions) > self.config.max_sessions:
            sessions.popitem(last=False)
            self.evictions += 1
        return index, reason
