"""Retries: how many attempts, within which deadlines, and a retry budget that caps the rate.

The budget is Finagle's RetryBudget (also tower's retry::Budget, Linkerd's retry budget):
each original request deposits into a budget whose deposits expire after `budget_window_s`
(Finagle's ttl, default 10 s); a retry is allowed while

    retries in the window + 1 <= budget_ratio × requests in the window
                                 + min_retries_per_s × budget_window_s

Finagle's defaults are a ratio of 0.2 (20 % of requests may be retried) on top of a reserve
of 10 retries per second. Under a persistent failure the budget caps retries at that share
instead of multiplying the load, which is the point of a budget.

Attempts and timeouts follow Envoy's route retry policy: `num_retries` defaults to 1 (so two
attempts), a per-try timeout bounds each attempt, and the route timeout bounds the request
including all its retries. Back-off is Envoy's fully jittered exponential one: retry N waits a
uniform draw from [0, (2^N - 1) × base), base 25 ms, capped at 10 × base by default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from policies.resilience.window import SlidingCounts

RETRIABLE_STATUSES = ("error", "timeout", "rejected")
_REQUESTS, _RETRIES = 0, 1


@dataclass(frozen=True)
class RetryPolicyConfig:
    """Attempts, timeouts, budget and back-off.

    max_attempts: attempts per request including the first (Envoy num_retries + 1).
    per_try_timeout_s: an attempt slower than this fails and may be retried (None: none).
    overall_timeout_s: no retry starts this long after the request began (None: the
        driver's own request timeout is the only bound).
    budget_ratio: retries allowed per original request in the window (Finagle
        percentCanRetry).
    min_retries_per_s: reserve of retries per second always allowed (Finagle
        minRetriesPerSec).
    budget_window_s, budget_buckets: the window deposits live in (Finagle ttl).
    backoff_base_s: Envoy base_interval. backoff_max_s: cap (None: 10 × base).
    retry_on: which terminal statuses are worth a retry ("error", "timeout", "rejected").
    """

    __pydantic_config__ = {"extra": "forbid"}
    max_attempts: int = 2
    per_try_timeout_s: float | None = None
    overall_timeout_s: float | None = None
    budget_ratio: float = 0.2
    min_retries_per_s: float = 10.0
    budget_window_s: float = 10.0
    budget_buckets: int = 10
    backoff_base_s: float = 0.025
    backoff_max_s: float | None = None
    retry_on: tuple[str, ...] = ("error", "timeout")

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.per_try_timeout_s is not None and self.per_try_timeout_s <= 0:
            raise ValueError("per_try_timeout_s must be > 0 (or None)")
        if self.overall_timeout_s is not None and self.overall_timeout_s <= 0:
            raise ValueError("overall_timeout_s must be > 0 (or None)")
        if (self.per_try_timeout_s is not None and self.overall_timeout_s is not None
                and self.per_try_timeout_s > self.overall_timeout_s):
            raise ValueError("per_try_timeout_s must not exceed overall_timeout_s")
        if self.budget_ratio < 0:
            raise ValueError("budget_ratio must be >= 0")
        if self.min_retries_per_s < 0:
            raise ValueError("min_retries_per_s must be >= 0")
        if self.budget_window_s <= 0:
            raise ValueError("budget_window_s must be > 0")
        if self.budget_buckets < 1:
            raise ValueError("budget_buckets must be >= 1")
        if self.backoff_base_s < 0:
            raise ValueError("backoff_base_s must be >= 0")
        if self.backoff_max_s is not None and self.backoff_max_s < self.backoff_base_s:
            raise ValueError("backoff_max_s must be >= backoff_base_s")
        unknown = [s for s in self.retry_on if s not in RETRIABLE_STATUSES]
        if unknown:
            raise ValueError(f"retry_on: unknown status {unknown[0]!r} "
                             f"(known: {', '.join(RETRIABLE_STATUSES)})")


def backoff_bound_s(retry_number: int, base_s: float, max_s: float) -> float:
    """Upper end of Envoy's jittered back-off range for retry N (1-based): (2^N - 1) × base."""
    if retry_number < 1:
        return 0.0
    if retry_number > 60:
        return max_s
    return min((2.0 ** retry_number - 1.0) * base_s, max_s)


class RetryPolicy:
    """Decides whether a failed attempt may be retried, and how long to back off first.

    record_request(now_s): call once per original request (retries do not deposit).
    can_retry(now_s, attempts_made=1, started_s=None) -> (bool, reason): a True answer
    spends one retry from the budget, so ask only when you would retry. Reasons: "Retry",
    "RetryDenied:MaxAttempts", "RetryDenied:OverallTimeout", "RetryDenied:Budget".
    retriable(status) -> bool: whether a terminal status is in retry_on.
    backoff_s(retry_number) -> seconds to wait before that retry (needs the rng).
    """

    _BATCH = 1024

    def __init__(self, config: RetryPolicyConfig | None = None,
                 rng: np.random.Generator | None = None) -> None:
        self.config = cfg = config or RetryPolicyConfig()
        self._rng = rng
        self._uniforms: list[float] = []
        self._window = SlidingCounts(cfg.budget_window_s, cfg.budget_buckets, 2)
        self._reserve = cfg.min_retries_per_s * cfg.budget_window_s
        self._backoff_max_s = (cfg.backoff_max_s if cfg.backoff_max_s is not None
                               else 10.0 * cfg.backoff_base_s)
        self._retry_on = frozenset(cfg.retry_on)

    def record_request(self, now_s: float) -> None:
        """Deposit one original request into the budget."""
        self._window.add(now_s, _REQUESTS)

    def budget_balance(self, now_s: float) -> float:
        """Retries the budget would still allow at now_s (may be fractional)."""
        window = self._window
        return (self.config.budget_ratio * window.total(now_s, _REQUESTS) + self._reserve
                - window.total(now_s, _RETRIES))

    def retriable(self, status: str) -> bool:
        return status in self._retry_on

    def can_retry(self, now_s: float, attempts_made: int = 1,
                  started_s: float | None = None) -> tuple[bool, str]:
        """Whether another attempt may start now; spends budget when it may."""
        cfg = self.config
        if attempts_made >= cfg.max_attempts:
            return False, "RetryDenied:MaxAttempts"
        if (cfg.overall_timeout_s is not None and started_s is not None
                and now_s - started_s >= cfg.overall_timeout_s):
            return False, "RetryDenied:OverallTimeout"
        if self.budget_balance(now_s) < 1.0 - 1e-9:
            return False, "RetryDenied:Budget"
        self._window.add(now_s, _RETRIES)
        return True, "Retry"

    def backoff_s(self, retry_number: int) -> float:
        """A jittered back-off for retry `retry_number` (1 = the first retry)."""
        bound = backoff_bound_s(retry_number, self.config.backoff_base_s, self._backoff_max_s)
        if bound <= 0.0:
            return 0.0
        if self._rng is None:
            raise ValueError("RetryPolicy needs an rng to draw back-offs")
        if not self._uniforms:
            self._uniforms = self._rng.random(self._BATCH).tolist()
        return self._uniforms.pop() * bound
