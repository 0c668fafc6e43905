"""Token buckets: exactly burst + rate × t over an interval; per-user isolation and bounds."""

from __future__ import annotations

import numpy as np
import pytest

from policies.limiters import (
    PerUserTokenBucket,
    PerUserTokenBucketConfig,
    TokenBucket,
    TokenBucketConfig,
)
from policies.views import RequestInfo


def admitted(limiter, times, user=lambda k: 0) -> list[float]:
    return [t for k, t in enumerate(times)
            if limiter.allow(RequestInfo(k, user_id=user(k)), t)[0]]


@pytest.mark.parametrize(
    ("rate_per_s", "burst", "interval_s", "step_s"),
    [
        (10.0, 5.0, 3.0, 0.001),
        (2.5, 1.0, 4.0, 0.01),
        (100.0, 50.0, 1.0, 0.0001),
        (0.5, 3.0, 10.0, 0.05),
        (7.0, 7.0, 2.0, 0.003),
    ],
)
def test_saturated_bucket_admits_exactly_burst_plus_rate_times_t(rate_per_s, burst, interval_s,
                                                                  step_s):
    steps = round(interval_s / step_s)
    times = [k * step_s for k in range(steps + 1)]      # arrivals over [0, interval_s]
    limiter = TokenBucket(TokenBucketConfig(rate_per_s=rate_per_s, burst=burst))
    assert len(admitted(limiter, times)) == int(burst + rate_per_s * interval_s)


def test_no_window_admits_more_than_burst_plus_rate_times_length():
    rng = np.random.default_rng(4)
    times = np.sort(rng.uniform(0.0, 20.0, 3000)).tolist()
    limiter = TokenBucket(TokenBucketConfig(rate_per_s=20.0, burst=10.0))
    ok = admitted(limiter, times)
    for i in range(0, len(ok), 7):
        for j in range(i, len(ok), 13):
            assert j - i + 1 <= 10.0 + 20.0 * (ok[j] - ok[i]) + 1e-6


def test_idle_bucket_refills_to_burst_and_no_further():
    limiter = TokenBucket(TokenBucketConfig(rate_per_s=1.0, burst=3.0))
    first = admitted(limiter, [0.0] * 5)
    later = admitted(limiter, [100.0] * 5)
    assert len(first) == 3 and len(later) == 3


def test_reasons_name_the_limiter():
    limiter = TokenBucket(TokenBucketConfig(rate_per_s=1.0, burst=1.0))
    assert limiter.allow(RequestInfo(0), 0.0) == (True, "Admitted")
    assert limiter.allow(RequestInfo(1), 0.0) == (False, "RateLimited:global")
    per_user = PerUserTokenBucket(PerUserTokenBucketConfig(rate_per_s=1.0, burst=1.0))
    assert per_user.allow(RequestInfo(0, user_id=3), 0.0) == (True, "Admitted")
    assert per_user.allow(RequestInfo(1, user_id=3), 0.0) == (False, "RateLimited:per_user")


def test_users_do_not_share_buckets():
    limiter = PerUserTokenBucket(PerUserTokenBucketConfig(rate_per_s=1.0, burst=2.0))
    times = [0.0] * 10
    assert len(admitted(limiter, times, user=lambda k: 1)) == 2
    assert len(admitted(limiter, times, user=lambda k: 2)) == 2
    assert len(admitted(limiter, times, user=lambda k: k % 5)) == 2 * 3  # users 0, 3, 4 are new


def test_per_user_admits_burst_plus_rate_times_t_per_user():
    cfg = PerUserTokenBucketConfig(rate_per_s=4.0, burst=2.0)
    limiter = PerUserTokenBucket(cfg)
    times = [k * 0.001 for k in range(5001)]             # 5 s, users interleaved
    ok = admitted(limiter, times, user=lambda k: k % 3)
    expected = 0
    for u in range(3):
        mine = times[u::3]                                # each user's own interval
        expected += int(2.0 + 4.0 * (mine[-1] - mine[0]) + 1e-9)
    assert expected == 63 and len(ok) == expected


def test_dropping_idle_buckets_changes_no_decision():
    """Sparse traffic from many users: the bounded limiter decides exactly as an unbounded
    reference that never forgets a bucket."""
    cfg = PerUserTokenBucketConfig(rate_per_s=0.5, burst=2.0, max_users=100_000)
    bounded = PerUserTokenBucket(cfg)
    reference: dict[int, list[float]] = {}
    rng = np.random.default_rng(11)
    t = 0.0
    peak = 0
    for k in range(20_000):
        t += float(rng.exponential(0.01))
        user = int(rng.integers(0, 2000)) if k % 10 else int(rng.integers(0, 3))
        got = bounded.allow(RequestInfo(k, user_id=user), t)[0]
        tokens, last = reference.get(user, [2.0, t])
        tokens = min(2.0, tokens + (t - last) * 0.5)
        want = tokens >= 1.0 - 1e-9
        reference[user] = [tokens - 1.0 if want else tokens, t]
        assert got == want, k
        peak = max(peak, len(bounded.buckets))
    assert len(reference) > 1500
    assert peak < len(reference)            # idle full buckets were dropped along the way
    assert bounded.forced_evictions == 0


def test_max_users_is_a_hard_bound():
    limiter = PerUserTokenBucket(PerUserTokenBucketConfig(rate_per_s=0.001, burst=1.0, max_users=2))
    for user in range(5):
        limiter.allow(RequestInfo(user, user_id=user), 0.0)
    assert len(limiter.buckets) == 2 and limiter.forced_evictions == 3


@pytest.mark.parametrize(
    ("cfg_type", "kwargs"),
    [
        (TokenBucketConfig, {"rate_per_s": 0.0}),
        (TokenBucketConfig, {"burst": 0.5}),
        (PerUserTokenBucketConfig, {"rate_per_s": -1.0}),
        (PerUserTokenBucketConfig, {"burst": 0.0}),
        (PerUserTokenBucketConfig, {"max_users": 0}),
    ],
)
def test_impossible_configs_raise(cfg_type, kwargs):
    with pytest.raises(ValueError):
        cfg_type(**kwargs)
