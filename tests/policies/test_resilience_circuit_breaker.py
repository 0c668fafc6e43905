"""Circuit breaker on a fake clock: each case is a script of calls and the answers expected."""

from __future__ import annotations

import pytest

from policies.resilience import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    CircuitBreaker,
    CircuitBreakerConfig,
    Transition,
)

CONSECUTIVE = CircuitBreakerConfig(consecutive_failures=3, error_rate_threshold=None,
                                   open_duration_s=5.0, half_open_probes=2)
RATE = CircuitBreakerConfig(consecutive_failures=None, error_rate_threshold=0.5,
                            window_s=10.0, window_buckets=10, min_requests=4,
                            open_duration_s=5.0, half_open_probes=1)

# steps: ("ok"|"fail", t, expected reason or None) / ("allow", t, expected bool)
#        / ("poll", t, expected reason or None) / ("state", t, expected state)
CASES = {
    "consecutive failures trip, probes close": (CONSECUTIVE, [
        ("fail", 0.0, None), ("fail", 1.0, None), ("fail", 2.0, "Tripped:ConsecutiveFailures"),
        ("allow", 3.0, False), ("allow", 6.9, False),
        ("allow", 7.0, True), ("state", 7.0, HALF_OPEN), ("allow", 7.0, True),
        ("allow", 7.0, False),                      # both probes are out
        ("ok", 7.5, None), ("ok", 8.0, "Closed:ProbesSucceeded"),
        ("allow", 8.0, True), ("fail", 8.1, None),  # counting starts afresh
    ]),
    "a success in between resets the streak": (CONSECUTIVE, [
        ("fail", 0.0, None), ("fail", 0.1, None), ("ok", 0.2, None),
        ("fail", 0.3, None), ("fail", 0.4, None), ("state", 0.5, CLOSED),
    ]),
    "a failed probe reopens for a full open duration": (CONSECUTIVE, [
        ("fail", 0.0, None), ("fail", 0.0, None), ("fail", 0.0, "Tripped:ConsecutiveFailures"),
        ("allow", 5.0, True), ("fail", 5.5, "Reopened:ProbeFailed"),
        ("allow", 10.0, False), ("allow", 10.5, True),
    ]),
    "outcomes that land while open are ignored": (CONSECUTIVE, [
        ("fail", 0.0, None), ("fail", 0.0, None), ("fail", 0.0, "Tripped:ConsecutiveFailures"),
        ("ok", 1.0, None), ("fail", 1.0, None), ("ok", 1.0, None), ("state", 1.0, OPEN),
    ]),
    "poll half-opens on the timer": (CONSECUTIVE, [
        ("fail", 0.0, None), ("fail", 0.0, None), ("fail", 0.0, "Tripped:ConsecutiveFailures"),
        ("poll", 4.0, None), ("poll", 5.0, "HalfOpen:Timer"), ("poll", 6.0, None),
        ("state", 6.0, HALF_OPEN),
    ]),
    "error rate trips once the window holds min_requests": (RATE, [
        ("ok", 0.0, None), ("fail", 0.1, None), ("ok", 0.2, None),
        ("fail", 0.3, "Tripped:ErrorRate"),        # 2 of 4 = 50 %
    ]),
    "below min_requests the rate never trips": (RATE, [
        ("fail", 0.0, None), ("fail", 0.1, None), ("fail", 0.2, None), ("state", 0.3, CLOSED),
    ]),
    "below the threshold it stays closed": (RATE, [
        ("ok", 0.0, None), ("ok", 0.1, None), ("ok", 0.2, None), ("fail", 0.3, None),
        ("ok", 0.4, None), ("fail", 0.5, None), ("state", 0.5, CLOSED),  # 2 of 6
    ]),
    "failures older than the window no longer count": (RATE, [
        ("fail", 0.0, None), ("fail", 0.1, None), ("fail", 0.2, None),
        ("ok", 15.0, None), ("fail", 15.1, None),   # window holds 2 outcomes, not 5
        ("state", 15.1, CLOSED),
        ("ok", 15.2, None), ("fail", 15.3, "Tripped:ErrorRate"),
    ]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_breaker_script(name):
    config, steps = CASES[name]
    breaker = CircuitBreaker(config)
    for step, (action, t, expected) in enumerate(steps):
        if action in ("ok", "fail"):
            transition = breaker.record(action == "ok", t)
            got = None if transition is None else transition.reason
        elif action == "allow":
            got = breaker.allow(t)
        elif action == "poll":
            transition = breaker.poll(t)
            got = None if transition is None else transition.reason
        else:
            got = breaker.state
        assert got == expected, f"step {step}: {action}@{t}"


def test_every_transition_reaches_the_callback_in_order():
    seen: list[Transition] = []
    breaker = CircuitBreaker(CONSECUTIVE, on_transition=seen.append)
    for _ in range(3):
        breaker.record(False, 0.0)
    breaker.allow(5.0)           # the timer transition is only visible through the callback
    breaker.record(False, 5.0)
    breaker.allow(10.0)
    breaker.allow(10.0)
    breaker.record(True, 10.1)
    breaker.record(True, 10.2)
    assert seen == [
        Transition(CLOSED, OPEN, "Tripped:ConsecutiveFailures"),
        Transition(OPEN, HALF_OPEN, "HalfOpen:Timer"),
        Transition(HALF_OPEN, OPEN, "Reopened:ProbeFailed"),
        Transition(OPEN, HALF_OPEN, "HalfOpen:Timer"),
        Transition(HALF_OPEN, CLOSED, "Closed:ProbesSucceeded"),
    ]


def test_reopen_time_is_exposed_while_open():
    breaker = CircuitBreaker(CONSECUTIVE)
    assert breaker.reopen_at_s is None
    for _ in range(3):
        breaker.record(False, 2.0)
    assert breaker.reopen_at_s == 7.0
