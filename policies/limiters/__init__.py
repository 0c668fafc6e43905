"""Admission control: rate limiters that accept or reject a request."""

from policies.limiters.token_bucket import (
    PerUserTokenBucket,
    PerUserTokenBucketConfig,
    TokenBucket,
    TokenBucketConfig,
)
from policies.registry import PolicyEntry, deterministic

ENTRIES = (
    PolicyEntry("token_bucket", "limiter", TokenBucketConfig, deterministic(TokenBucket),
                "one token bucket for all requests"),
    PolicyEntry("per_user_token_bucket", "limiter", PerUserTokenBucketConfig,
                deterministic(PerUserTokenBucket), "a token bucket per user_id"),
)

__all__ = [
    "ENTRIES",
    "PerUserTokenBucket",
    "PerUserTokenBucketConfig",
    "TokenBucket",
    "TokenBucketConfig",
]
