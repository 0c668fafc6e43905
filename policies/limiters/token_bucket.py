"""Token-bucket admission control, global or per user.

A bucket holds at most `burst` tokens, refills at `rate_per_s`, and starts full; a request
is admitted when a whole token is there and takes it. Over any interval of length t the
bucket therefore admits at most burst + rate_per_s × t requests, and exactly that many when
requests keep coming. It is Envoy's local_ratelimit token bucket (max_tokens = burst) with a
continuous refill instead of tokens_per_fill every fill_interval.

Token counts are compared with a tolerance of 1e-9 tokens so that refills summed in floating
point (for example 10 × 0.1 s at 10 per second) still make a whole token.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from policies.views import RequestInfo

_EPS = 1e-9


def _check(rate_per_s: float, burst: float) -> None:
    if not rate_per_s > 0:
        raise ValueError("rate_per_s must be > 0")
    if not burst >= 1:
        raise ValueError("burst must be >= 1 (a bucket must hold a whole token)")


@dataclass(frozen=True)
class TokenBucketConfig:
    """rate_per_s: sustained admissions per second (> 0). burst: bucket size (>= 1)."""

    __pydantic_config__ = {"extra": "forbid"}
    rate_per_s: float = 100.0
    burst: float = 200.0

    def __post_init__(self) -> None:
        _check(self.rate_per_s, self.burst)


class TokenBucket:
    """One bucket shared by every request.

    allow(request, now_s) -> (admitted, reason): reasons "Admitted" and "RateLimited:global".
    """

    def __init__(self, config: TokenBucketConfig | None = None) -> None:
        self.config = config or TokenBucketConfig()
        self.tokens = float(self.config.burst)
        self._last_s: float | None = None

    def allow(self, request: RequestInfo, now_s: float) -> tuple[bool, str]:
        cfg = self.config
        last = self._last_s
        tokens = self.tokens
        if last is not None and now_s > last:
            tokens = tokens + (now_s - last) * cfg.rate_per_s
            if tokens > cfg.burst:
                tokens = cfg.burst
        if last is None or now_s > last:
            self._last_s = now_s
        if tokens + _EPS >= 1.0:
            self.tokens = tokens - 1.0
            return True, "Admitted"
        self.tokens = tokens
        return False, "RateLimited:global"


@dataclass(frozen=True)
class PerUserTokenBucketConfig:
    """rate_per_s, burst: each user's bucket. max_users: buckets kept at most; idle full
    buckets are dropped first (a full bucket is the same as a new one)."""

    __pydantic_config__ = {"extra": "forbid"}
    rate_per_s: float = 1.0
    burst: float = 5.0
    max_users: int = 100_000

    def __post_init__(self) -> None:
        _check(self.rate_per_s, self.burst)
        if self.max_users < 1:
            raise ValueError("max_users must be >= 1")


class PerUserTokenBucket:
    """A bucket per user_id, created full on a user's first request.

    Buckets idle for at least burst / rate_per_s seconds are full again, so dropping them
    changes no decision; they are dropped on a sweep every refill time. When more than
    max_users users are active at once, the least recently seen bucket is dropped even if it
    is not full (counted in forced_evictions; that user then starts over with a full bucket).
    allow(request, now_s) -> (admitted, reason): reasons "Admitted" and "RateLimited:per_user".
    """

    def __init__(self, config: PerUserTokenBucketConfig | None = None) -> None:
        self.config = cfg = config or PerUserTokenBucketConfig()
        self.buckets: OrderedDict[int, list[float]] = OrderedDict()  # user → [tokens, last_s]
        self.forced_evictions = 0
        self._refill_s = cfg.burst / cfg.rate_per_s
        self._next_sweep_s = -float("inf")

    def allow(self, request: RequestInfo, now_s: float) -> tuple[bool, str]:
        cfg = self.config
        if now_s >= self._next_sweep_s:
            self.sweep(now_s)
        buckets = self.buckets
        user = request.user_id
        bucket = buckets.get(user)
        if bucket is None:
            if len(buckets) >= cfg.max_users:
                buckets.popitem(last=False)
                self.forced_evictions += 1
            bucket = buckets[user] = [float(cfg.burst), now_s]
        else:
            buckets.move_to_end(user)
            elapsed = now_s - bucket[1]
            if elapsed > 0:
                tokens = bucket[0] + elapsed * cfg.rate_per_s
                bucket[0] = tokens if tokens < cfg.burst else cfg.burst
                bucket[1] = now_s
        if bucket[0] + _EPS >= 1.0:
            bucket[0] -= 1.0
            return True, "Admitted"
        return False, "RateLimited:per_user"

    def sweep(self, now_s: float) -> int:
        """Drop the buckets idle long enough to be full again; return how many."""
        buckets = self.buckets
        horizon = now_s - self._refill_s
        dropped = 0
        while buckets:
            user, bucket = next(iter(buckets.items()))
            if bucket[1] > horizon:
                break
            del buckets[user]
            dropped += 1
        self._next_sweep_s = now_s + max(self._refill_s, 1.0)
        return dropped
