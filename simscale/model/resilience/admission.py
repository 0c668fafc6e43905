"""Admission: rate limiters in front of the balancer (policies/limiters), in spec order.

An arrival the first refusing limiter turns away ends `rejected` with its reason
(`RateLimited:<name>` for a named limiter, the policy's own otherwise). A limiter scoped to
`kinds` sees only requests of those kinds: the others pass it without taking a token, as a
limit on one route (nginx `limit_req` in one `location`) leaves the other routes alone. A
limiter's first refusal records a `limiter` event; a window in which it refused nothing
clears it (RateLimit:Cleared).
"""

from __future__ import annotations

from policies import registry
from policies.views import RequestInfo
from simscale.errors import PolicyFailure
from simscale.model.resilience.shared import Counters
from simscale.model.seam import Cluster
from simscale.streams import stream


class Limiter:
    """A rate limiter and its bookkeeping (for limiter events and counts)."""

    __slots__ = ("label", "name", "policy_name", "policy", "limiting", "window", "kinds")

    def __init__(self, label: str, name: str | None, policy_name: str, policy,
                 kinds: frozenset[str] | None = None) -> None:
        self.kinds = kinds  # None: every kind
        self.label = label
        self.name = name
        self.policy_name = policy_name
        self.policy = policy
        self.limiting = False
        self.window = 0


class Admission:
    """The limiters of one run; `refs` are the section's rate_limit entries."""

    def __init__(self, cluster: Cluster, refs: list, seed: int, counters: Counters) -> None:
        self.cluster = cluster
        self.counters = counters
        self.limiters: list[Limiter] = []
        for n, ref in enumerate(refs):
            policy = registry.build("limiter", ref.policy, ref.config,
                                    stream(seed, f"resilience.limiter.{n}"))
            kinds = frozenset(ref.kinds) if ref.kinds is not None else None
            self.limiters.append(Limiter(ref.name or ref.policy, ref.name, ref.policy, policy,
                                         kinds))

    def admit(self, info: RequestInfo, now: float) -> str | None:
        """Admission hook: the first limiter that refuses names the reason."""
        for lim in self.limiters:
            if lim.kinds is not None and info.kind not in lim.kinds:
                continue
            try:
                allowed, reason = lim.policy.allow(info, now)
            except Exception as exc:
                raise PolicyFailure(lim.policy_name, now, exc) from exc
            if not allowed:
                reason = f"RateLimited:{lim.name}" if lim.name else reason
                lim.window += 1
                self.counters.add("rate_limited")
                if not lim.limiting:
                    lim.limiting = True
                    self.cluster.event("limiter", lim.label, reason)
                return reason
        return None

    def end_window(self) -> None:
        """A metrics window closed: a limiter that refused nothing in it has cleared."""
        for lim in self.limiters:
            if lim.limiting and lim.window == 0:
                lim.limiting = False
                self.cluster.event("limiter", lim.label, "RateLimit:Cleared")
            lim.window = 0
