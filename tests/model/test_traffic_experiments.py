"""What the API-traffic, affinity and circuit-breaker experiments promise, with their shipped
seeds at the suite's horizons (tests/shipped.py): a dashboard stampede slows chat unless its
route is limited; sticky sessions and bounded-load consistent hashing find a conversation's
context on its instance more often than least connections; a breaker cuts the errors of a
gray failure."""

from __future__ import annotations

import numpy as np
import pytest

STAMPEDE = "api/dashboard_stampede.toml"
LIMITED = "api/dashboard_stampede_limited.toml"
AFFINITY = {name: f"affinity/sessions_{name}.toml"
            for name in ("least_connections", "sticky", "consistent_hash")}
NO_BREAKER = "resilience/gray_errors_no_breaker.toml"
BREAKER = "resilience/gray_errors_breaker.toml"


def chat_ttft_p95_s(run, t0_s: float, t1_s: float) -> float:
    """p95 time to first token of the chat messages that arrived in [t0_s, t1_s), ended ok."""
    req = run.table("requests")
    kind = np.array(req["kind"].to_pylist())
    ok = np.array(req["status"].to_pylist()) == "ok"
    arrival = req["arrival_s"].to_numpy()
    chosen = (kind == "chat_message") & ok & (arrival >= t0_s) & (arrival < t1_s)
    return float(np.quantile(req["ttft_s"].to_numpy()[chosen], 0.95))


@pytest.mark.shipped((STAMPEDE,), (LIMITED,))
def test_a_dashboard_stampede_slows_chat_unless_the_dashboard_route_is_limited(shipped):
    free, limited = shipped(STAMPEDE), shipped(LIMITED)
    end = free.spec.duration_s
    before = chat_ttft_p95_s(free, 0.0, 60.0)
    assert before == chat_ttft_p95_s(limited, 0.0, 60.0)  # same arrivals, same draws
    assert chat_ttft_p95_s(free, 60.0, end) > 5 * before
    assert chat_ttft_p95_s(limited, 60.0, end) < 1.2 * before
    # the limit refuses polls only: every chat message and push is answered
    req = limited.table("requests")
    refused = set(np.array(req["kind"].to_pylist())[
        np.array(req["status"].to_pylist()) == "rejected"])
    assert refused == {"dashboard"}
    assert limited.summary["dashboard_polls"] == free.summary["dashboard_polls"] == \
        2000 / 5 * (end - 60.0)


@pytest.mark.shipped(*[(rel,) for rel in AFFINITY.values()])
def test_session_affinity_raises_the_context_hit_rate_over_least_connections(shipped):
    rate = {name: shipped(rel).summary["context_hit_rate"] for name, rel in AFFINITY.items()}
    assert rate["sticky"] > rate["least_connections"] + 0.2, rate
    assert rate["consistent_hash"] > rate["least_connections"] + 0.2, rate
    # a session's first turn always misses: one in turns_mean (8) at the least
    assert max(rate.values()) < 1 - 1 / 8 + 0.01, rate
    users = {name: shipped(rel).summary["user_sessions"] for name, rel in AFFINITY.items()}
    assert len(set(users.values())) <= 2  # the same users, give or take the timing


@pytest.mark.shipped((NO_BREAKER,), (BREAKER,))
def test_a_circuit_breaker_cuts_the_errors_of_a_gray_failure(shipped):
    plain, breaker = shipped(NO_BREAKER), shipped(BREAKER)
    assert plain.summary["breaker_trips"] == 0 and breaker.summary["breaker_trips"] >= 3
    assert plain.summary["error"] > 1000
    assert breaker.summary["error"] < plain.summary["error"] / 10
    trips = [e for e in breaker.events if e[1] == "breaker" and e[3].startswith("Tripped")]
    assert {e[2] for e in trips} == {"instance-2"} and min(e[0] for e in trips) >= 60.0
