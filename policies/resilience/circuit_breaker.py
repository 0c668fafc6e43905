"""A per-instance circuit breaker: closed → open → half-open → closed, on a given clock.

The state machine is the classic one (Nygard, "Release It!"; Fowler's CircuitBreaker): while
closed, every outcome is recorded; the breaker trips to open on `consecutive_failures`
failures in a row (as Finagle's failure accrual and Envoy's outlier `consecutive_5xx` count)
or when the error rate over a sliding window reaches `error_rate_threshold` once at least
`min_requests` outcomes are in the window (as Hystrix does: 50 % over a 10 s window of 10
buckets, once 20 requests were seen). Open rejects everything for `open_duration_s`; then the
breaker lets `half_open_probes` requests through. One failed probe reopens it; when all the
probes succeed it closes.

Envoy's own "circuit breaking" is a different mechanism (limits on connections, pending and
active requests); this breaker is the error-driven kind a client library keeps per upstream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from policies.resilience.states import CLOSED, HALF_OPEN, OPEN, Transition
from policies.resilience.window import SlidingCounts

_TOTAL, _FAILED = 0, 1


@dataclass(frozen=True)
class CircuitBreakerConfig:
    """When a breaker trips, how long it stays open, and how it probes its way back.

    consecutive_failures: trip after this many failures in a row (None: never on this rule).
    error_rate_threshold: trip when failures / outcomes in the window reaches this fraction
        (0 < x <= 1; None: never on this rule).
    window_s, window_buckets: the sliding window the error rate is measured over.
    min_requests: outcomes the window must hold before the error rate can trip the breaker.
    open_duration_s: how long an open breaker rejects before it half-opens.
    half_open_probes: requests let through while half-open; all must succeed to close.
    """

    __pydantic_config__ = {"extra": "forbid"}
    consecutive_failures: int | None = 5
    error_rate_threshold: float | None = 0.5
    window_s: float = 10.0
    window_buckets: int = 10
    min_requests: int = 20
    open_duration_s: float = 5.0
    half_open_probes: int = 1

    def __post_init__(self) -> None:
        if self.consecutive_failures is None and self.error_rate_threshold is None:
            raise ValueError("set consecutive_failures or error_rate_threshold (or both)")
        if self.consecutive_failures is not None and self.consecutive_failures < 1:
            raise ValueError("consecutive_failures must be >= 1 (or None to disable)")
        if self.error_rate_threshold is not None and not 0.0 < self.error_rate_threshold <= 1.0:
            raise ValueError("error_rate_threshold must be in (0, 1] (or None to disable)")
        if self.window_s <= 0:
            raise ValueError("window_s must be > 0")
        if self.window_buckets < 1:
            raise ValueError("window_buckets must be >= 1")
        if self.min_requests < 1:
            raise ValueError("min_requests must be >= 1")
        if self.open_duration_s <= 0:
            raise ValueError("open_duration_s must be > 0")
        if self.half_open_probes < 1:
            raise ValueError("half_open_probes must be >= 1")


class CircuitBreaker:
    """One instance's breaker. Call allow() before sending, record() with every outcome.

    allow(now_s) -> bool: closed admits; open rejects until open_duration_s has passed, then
    half-opens; half-open admits up to `half_open_probes` requests and then rejects until
    their outcomes are in.
    record(ok, now_s) -> Transition | None: the state change this outcome caused. Outcomes
    that arrive while open (requests sent before it tripped) are ignored; while half-open,
    every outcome counts as a probe result.
    poll(now_s) -> Transition | None: run the open timer without admitting anything.

    The open → half-open change is found by allow() or poll(); allow() only returns a bool,
    so every transition is also passed to `on_transition` when one is given.

    Reasons: "Tripped:ConsecutiveFailures", "Tripped:ErrorRate", "HalfOpen:Timer",
    "Closed:ProbesSucceeded", "Reopened:ProbeFailed".
    """

    def __init__(self, config: CircuitBreakerConfig | None = None,
                 on_transition: Callable[[Transition], None] | None = None) -> None:
        self.config = config or CircuitBreakerConfig()
        self.on_transition = on_transition
        self.state = CLOSED
        self.opened_s = 0.0
        self._consecutive = 0
        self._window = SlidingCounts(self.config.window_s, self.config.window_buckets, 2)
        self._probes_sent = 0
        self._probes_ok = 0

    @property
    def reopen_at_s(self) -> float | None:
        """When an open breaker will half-open (None unless open)."""
        return self.opened_s + self.config.open_duration_s if self.state == OPEN else None

    def allow(self, now_s: float) -> bool:
        """Whether a request may go to this instance now (a half-open admit uses a probe)."""
        state = self.state
        if state == CLOSED:
            return True
        if state == OPEN:
            if now_s < self.opened_s + self.config.open_duration_s:
                return False
            self._move(HALF_OPEN, "HalfOpen:Timer")
        if self._probes_sent < self.config.half_open_probes:
            self._probes_sent += 1
            return True
        return False

    def poll(self, now_s: float) -> Transition | None:
        """Half-open an open breaker whose open duration has passed."""
        if self.state == OPEN and now_s >= self.opened_s + self.config.open_duration_s:
            return self._move(HALF_OPEN, "HalfOpen:Timer")
        return None

    def record(self, ok: bool, now_s: float) -> Transition | None:
        """Record one outcome (a timeout is a failure); return the transition it caused."""
        state = self.state
        if state == CLOSED:
            cfg = self.config
            window = self._window
            window.add(now_s, _TOTAL)
            if ok:
                self._consecutive = 0
                return None
            window.add(now_s, _FAILED)
            self._consecutive += 1
            limit = cfg.consecutive_failures
            if limit is not None and self._consecutive >= limit:
                return self._trip(now_s, "Tripped:ConsecutiveFailures")
            if cfg.error_rate_threshold is not None:
                total = window.total(now_s, _TOTAL)
                if total >= cfg.min_requests and (
                        window.total(now_s, _FAILED) >= cfg.error_rate_threshold * total):
                    return self._trip(now_s, "Tripped:ErrorRate")
            return None
        if state == HALF_OPEN:
            if not ok:
                return self._trip(now_s, "Reopened:ProbeFailed")
            self._probes_ok += 1
            if self._probes_ok >= self.config.half_open_probes:
                self._consecutive = 0
                self._window.clear()
                return self._move(CLOSED, "Closed:ProbesSucceeded")
        return None

    def _trip(self, now_s: float, reason: str) -> Transition:
        self.opened_s = now_s
        return self._move(OPEN, reason)

    def _move(self, new_state: str, reason: str) -> Transition:
        transition = Transition(self.state, new_state, reason)
        self.state = new_state
        self._probes_sent = 0
        self._probes_ok = 0
        if new_state == OPEN:
            self._consecutive = 0
            self._window.clear()
        if self.on_transition is not None:
            self.on_transition(transition)
        return transition
