"""Closed-loop users: conservation, one request in flight per user, think times, ramps, ids."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from simscale.model.runner import run
from simscale.workload.users import SESSION_STRIDE
from tests.conftest import run_tables, small_spec

MIX = {
    "history": {"weight": 1.0, "service": {"kind": "exponential", "mean_s": 0.05}},
    "chat": {"weight": 3.0, "llm": True, "service": {"kind": "exponential", "mean_s": 0.02},
             "prompt_tokens": {"mean": 500, "cv": 1.0}, "output_tokens": {"mean": 40}},
}


def users_spec(users=40, ramp_s=20.0, think=2.0, gap=5.0, duration_s=120.0,
               timeout=30.0, instances=None, **fields):
    arrivals = {"kind": "users", "users": users, "ramp_s": ramp_s, "turns_mean": 4,
                "think_s": {"kind": "deterministic", "value_s": think},
                "session_gap_s": {"kind": "deterministic", "value_s": gap},
                "opening": ["history"]}
    return small_spec(duration_s=duration_s,
                      workload={"arrivals": arrivals, "mix": MIX},
                      instances=instances or {"count": 2, "slots": 4},
                      timeouts={"request_s": timeout},
                      upstream={"ttft_base_s": 0.2, "tpot_s": 0.01}, **fields)


def per_user(req) -> dict[int, list[dict]]:
    rows = defaultdict(list)
    for r in req.to_pylist():
        rows[r["user_id"]].append(r)
    return {u: sorted(rs, key=lambda r: r["arrival_s"]) for u, rs in rows.items()}


@pytest.fixture(scope="module")
def busy_run(tmp_path_factory):
    """Few slots and a short timeout, so that some requests are rejected or time out."""
    spec = users_spec(timeout=1.0, instances={"count": 1, "slots": 2, "queue_limit": 3})
    return spec, *run_tables(spec, tmp_path_factory.mktemp("users") / "run")


def test_conservation_with_closed_loop_users(busy_run):
    spec, result, t = busy_run
    s = result.summary
    assert s["arrivals"] == t["requests"].num_rows > 500
    assert s["arrivals"] == s["ok"] + s["error"] + s["timeout"] + s["rejected"]
    statuses = set(t["requests"]["status"].to_pylist())
    assert {"ok", "timeout", "rejected"} <= statuses  # every kind of end reached
    assert s["users"] == 40 and s["user_sessions"] >= 40


def test_a_user_never_has_two_requests_in_flight(busy_run):
    _, _, t = busy_run
    for rows in per_user(t["requests"]).values():
        for prev, nxt in zip(rows, rows[1:]):
            assert nxt["arrival_s"] >= prev["end_s"] - 1e-9


def test_think_times_and_session_gaps_are_respected(busy_run):
    """After any end (ok, rejected, timeout) the next request follows exactly the think time
    within a session and the session gap between sessions; sessions open with `opening`."""
    spec, _, t = busy_run
    for user, rows in per_user(t["requests"]).items():
        for prev, nxt in zip(rows, rows[1:]):
            gap = nxt["arrival_s"] - prev["end_s"]
            if nxt["session_id"] == prev["session_id"]:
                assert gap == pytest.approx(2.0)
            else:
                assert gap == pytest.approx(5.0)
                assert nxt["session_id"] == prev["session_id"] + 1
                assert nxt["kind"] == "history"
        assert rows[0]["session_id"] == user * SESSION_STRIDE and rows[0]["kind"] == "history"
        assert rows[-1]["arrival_s"] < spec.duration_s


def test_users_start_spread_over_the_ramp(busy_run):
    _, _, t = busy_run
    firsts = {u: rows[0]["arrival_s"] for u, rows in per_user(t["requests"]).items()}
    assert sorted(firsts) == list(range(40))
    assert np.allclose([firsts[u] for u in range(40)], np.arange(40) * 20.0 / 40)


def test_ramp_shows_in_the_metrics(busy_run):
    _, _, t = busy_run
    m = t["metrics"]
    started = m["users_started"].to_pylist()
    assert 10 <= started[0] <= 11 and started[4] == 40
    assert all(a <= b for a, b in zip(started, started[1:]))
    assert max(m["users_waiting"].to_pylist()) <= 40


def test_each_user_sees_the_same_sessions_under_another_policy(tmp_path):
    """Per-user streams: kinds and token counts of a user's requests, in order, do not depend
    on the balancer (only their timing does)."""
    _, a = run_tables(users_spec(balancer={"policy": "round_robin"}), tmp_path / "a")
    _, b = run_tables(users_spec(balancer={"policy": "least_connections"}), tmp_path / "b")
    ua, ub = per_user(a["requests"]), per_user(b["requests"])
    assert set(ua) == set(ub)
    for user in ua:
        seq_a = [(r["kind"], r["session_id"], r["prompt_tokens"]) for r in ua[user]]
        seq_b = [(r["kind"], r["session_id"], r["prompt_tokens"]) for r in ub[user]]
        n = min(len(seq_a), len(seq_b))
        assert n > 3 and seq_a[:n] == seq_b[:n]


def test_throughput_follows_think_time_littles_law():
    """With ample capacity a user cycles in think + response time: N users send about
    N / (think + response) requests per second (the interactive response-time law)."""
    spec = users_spec(users=50, ramp_s=0.0, think=1.0, gap=1.0, duration_s=200.0,
                      instances={"count": 2, "slots": 64, "cores": 64})
    s = run(spec, None).summary
    mean_response = s["latency_mean_s"]
    expected = 50 / (1.0 + mean_response)
    assert s["arrivals"] / 200.0 == pytest.approx(expected, rel=0.05)
