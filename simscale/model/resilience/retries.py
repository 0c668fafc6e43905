"""Retries (Envoy retry policy, Finagle retry budget) and per-try timeouts.

A failed attempt is retried on an instance not tried yet, while the policy allows
(attempts, overall timeout, budget); retries go out at once (no back-off). Each original
request feeds the budget as it is admitted. A per-try timeout abandons the attempt (the
instance goes on working for nobody, as a server does when its client hangs up): it counts
as a failure of the instance and ends as `error` with reason PerTryTimeout when it is not
retried. The policy is the production one, policies.resilience.RetryPolicy.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from policies.resilience import RetryPolicy
from policies.views import RequestInfo
from simscale.errors import PolicyFailure
from simscale.model.instance import Instance
from simscale.model.request import PENDING, Request
from simscale.model.resilience.shared import Counters
from simscale.model.seam import Cluster
from simscale.streams import stream

_EPS_S = 1e-9
BUDGET_DENIED = "RetryDenied:Budget"


class Retries:
    """The retry policy of one run and its per-try timers; `spec` is the section's retry."""

    def __init__(self, cluster: Cluster, spec, seed: int, counters: Counters,
                 record: Callable[[Instance, bool, float], None]) -> None:
        self.cluster = cluster
        self.env = cluster.env
        self.policy = RetryPolicy(spec.config, stream(seed, "resilience.retry"))
        self.per_try_s = spec.per_try_timeout_s
        self.counters = counters
        self.record = record                 # an attempt's outcome, to detection
        self._tries: deque = deque()         # (deadline_s, request, attempt) in deadline order
        self._armed = False
        self._budget_denying = False
        self._budget_denied_win = 0

    def deposit(self, info: RequestInfo, now: float) -> None:
        """Admission hook (after the limiters): each original request feeds the budget."""
        self.policy.record_request(now)
        return None

    def allows(self, req: Request, now: float, reason: str) -> bool:
        """May the failed attempt be sent again? Counts the retries and the denials."""
        policy = self.policy
        try:
            if not policy.retriable("timeout" if reason == "PerTryTimeout" else "error"):
                return False
            allowed, why = policy.can_retry(now, req.attempts, req.info.arrival_s)
        except Exception as exc:
            raise PolicyFailure("retry", now, exc) from exc
        if not allowed:
            self.counters.add("retries_denied")
            if why == BUDGET_DENIED:
                self.counters.add("retries_denied_budget")
                self._budget_denied_win += 1
                if not self._budget_denying:
                    self._budget_denying = True
                    self.cluster.event("retry", "budget", why)
            return False
        self.counters.add("retries")
        return True

    def end_window(self) -> None:
        """A metrics window closed: a budget that denied nothing in it is restored."""
        if self._budget_denying and self._budget_denied_win == 0:
            self._budget_denying = False
            self.cluster.event("retry", "budget", "RetryBudget:Restored")
        self._budget_denied_win = 0

    # ------------------------------------------------------------ per-try timeouts

    def arm(self, req: Request, now: float) -> None:
        """An attempt just went out: it has per_try_s to answer."""
        self._tries.append((now + self.per_try_s, req, req.attempts))
        if not self._armed:
            self._arm(now + self.per_try_s, now)

    def _arm(self, at_s: float, now: float) -> None:
        self._armed = True
        ev = self.env.timeout(at_s - now if at_s > now else 0.0)
        ev.callbacks.append(self._on_timer)

    def _on_timer(self, _ev) -> None:
        # _armed stays True while expired attempts are handled: their retries append
        # deadlines (later ones) without arming timers of their own
        now = self.env._now
        tries = self._tries
        while tries:
            deadline, req, attempt = tries[0]
            if deadline > now + _EPS_S:
                break
            tries.popleft()
            instance = req.instance
            if req.status == PENDING and req.attempts == attempt and instance is not None:
                self.record(instance, False, now)
                self.cluster.abandon(req, now, "PerTryTimeout")
        self._armed = False
        if tries:
            self._arm(tries[0][0], now)
