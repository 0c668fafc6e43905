"""Retry policy: attempts, overall timeout, Finagle's retry budget, Envoy's back-off."""

from __future__ import annotations

import numpy as np
import pytest

from policies.resilience import RetryPolicy, RetryPolicyConfig, backoff_bound_s


def test_max_attempts_and_overall_timeout():
    policy = RetryPolicy(RetryPolicyConfig(max_attempts=3, overall_timeout_s=5.0))
    assert policy.can_retry(0.0, attempts_made=1, started_s=0.0) == (True, "Retry")
    assert policy.can_retry(0.0, attempts_made=2, started_s=0.0) == (True, "Retry")
    assert policy.can_retry(0.0, attempts_made=3, started_s=0.0) == (
        False, "RetryDenied:MaxAttempts")
    assert policy.can_retry(4.9, attempts_made=1, started_s=0.0) == (True, "Retry")
    assert policy.can_retry(5.0, attempts_made=1, started_s=0.0) == (
        False, "RetryDenied:OverallTimeout")


@pytest.mark.parametrize(
    ("requests", "ratio", "min_per_s", "allowed"),
    [
        (100, 0.2, 0.0, 20),     # 20 % of requests
        (0, 0.2, 1.0, 10),       # no traffic: the reserve, 1 per second over 10 s
        (100, 0.2, 1.0, 30),     # both
        (7, 0.5, 0.0, 3),        # fractions round down: 3.5 -> 3
        (100, 0.0, 0.0, 0),
    ],
)
def test_budget_allows_ratio_of_requests_plus_reserve(requests, ratio, min_per_s, allowed):
    policy = RetryPolicy(RetryPolicyConfig(max_attempts=100, budget_ratio=ratio,
                                           min_retries_per_s=min_per_s, budget_window_s=10.0))
    for _ in range(requests):
        policy.record_request(0.0)
    answers = [policy.can_retry(0.0) for _ in range(allowed + 5)]
    assert answers[:allowed] == [(True, "Retry")] * allowed
    assert answers[allowed:] == [(False, "RetryDenied:Budget")] * 5


def test_deposits_expire_after_the_window():
    policy = RetryPolicy(RetryPolicyConfig(budget_ratio=0.5, min_retries_per_s=0.0,
                                           budget_window_s=10.0, budget_buckets=10))
    for _ in range(10):
        policy.record_request(0.0)
    assert policy.budget_balance(9.9) == 5.0
    assert policy.budget_balance(10.0) == 0.0


def test_budget_caps_a_retry_storm():
    """Every request fails for a minute at 100 rps and asks for a retry: the retries admitted
    over each window stay within 20 % of requests plus the reserve."""
    cfg = RetryPolicyConfig(max_attempts=5)
    policy = RetryPolicy(cfg)
    admitted_at = []
    for k in range(6000):
        t = k * 0.01
        policy.record_request(t)
        if policy.can_retry(t)[0]:
            admitted_at.append(t)
    last_window = [t for t in admitted_at if t >= 50.0]
    assert len(last_window) <= 0.2 * 1000 + 10.0 * 10.0 + 1
    assert len(admitted_at) / 6000 < 0.4


@pytest.mark.parametrize(
    ("retry_number", "bound_s"),
    [(0, 0.0), (1, 0.025), (2, 0.075), (3, 0.175), (4, 0.25), (10, 0.25)],
)
def test_envoy_backoff_bounds(retry_number, bound_s):
    assert backoff_bound_s(retry_number, 0.025, 0.25) == pytest.approx(bound_s)


def test_backoff_draws_fall_in_range():
    policy = RetryPolicy(RetryPolicyConfig(), np.random.default_rng(0))
    for n in (1, 2, 3, 4, 5):
        draws = [policy.backoff_s(n) for _ in range(300)]
        bound = backoff_bound_s(n, 0.025, 0.25)
        assert all(0.0 <= d < bound for d in draws)
        assert max(draws) > 0.8 * bound


def test_backoff_needs_an_rng():
    with pytest.raises(ValueError):
        RetryPolicy().backoff_s(1)


@pytest.mark.parametrize(("status", "retriable"),
                         [("error", True), ("timeout", True), ("rejected", False), ("ok", False)])
def test_retriable_statuses(status, retriable):
    assert RetryPolicy().retriable(status) is retriable
