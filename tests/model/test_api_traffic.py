"""The service's own API traffic: dashboard polls, metric pushes, load-test starts, limiters
scoped to kinds, and the per-instance conversation-context cache."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.limiters import TokenBucket, TokenBucketConfig
from policies.views import RequestInfo
from simscale.errors import InputError
from simscale.model.resilience.admission import Admission
from simscale.model.resilience.shared import Counters
from simscale.sections.resilience import LimiterRef
from simscale.workload.sources import push_offsets_s
from tests.conftest import run_tables, small_spec

CHAT = {"arrivals": {"kind": "poisson", "rate_rps": 40.0},
        "service": {"kind": "exponential", "mean_s": 0.01}, "kind": "chat"}


def statuses_by_kind(req) -> Counter:
    return Counter(zip(req["kind"].to_pylist(), req["status"].to_pylist()))


# ---------------------------------------------------------------- dashboard viewers


def test_a_run_polls_n_over_k_and_conserves_every_request(tmp_run):
    spec = small_spec(duration_s=40.0, workload={
        **CHAT, "dashboard": {"viewers": 120, "interval_s": 3.0, "start_s": 10.0}})
    result, t = run_tables(spec, tmp_run)
    req, s = t["requests"], result.summary
    kinds = Counter(req["kind"].to_pylist())
    assert kinds["dashboard"] == s["dashboard_polls"] == 120 * 30 / 3
    arrival = req["arrival_s"].to_numpy()
    polls = np.array(req["kind"].to_pylist()) == "dashboard"
    assert arrival[polls].min() >= 10.0
    assert s["arrivals"] == req.num_rows == s["ok"] + s["error"] + s["timeout"] + s["rejected"]
    assert len(set(req["request_id"].to_pylist())) == req.num_rows


# ---------------------------------------------------------------- metric pushes


@pytest.mark.parametrize("count", [1, 3, 6])
def test_pushes_follow_the_fleet_size(tmp_run, count):
    spec = small_spec(duration_s=60.0, instances={"count": count, "slots": 4},
                      workload={**CHAT, "metrics_push": {"interval_s": 5.0}})
    result, t = run_tables(spec, tmp_run)
    assert result.summary["metrics_pushes"] == count * 60 / 5
    assert Counter(t["requests"]["kind"].to_pylist())["metrics_push"] == count * 12


def test_a_crashed_instance_stops_pushing_until_it_recovers(tmp_run):
    spec = small_spec(duration_s=60.0, instances={"count": 3, "slots": 4},
                      workload={**CHAT, "metrics_push": {"interval_s": 5.0}},
                      resilience={"faults": [{"kind": "crash", "target": 1, "at_s": 20.0,
                                              "recover_at_s": 40.0}]})
    _, t = run_tables(spec, tmp_run)
    req = t["requests"]
    pushes = req["arrival_s"].to_numpy()[np.array(req["kind"].to_pylist()) == "metrics_push"]
    per_period = np.bincount((pushes // 5).astype(int), minlength=12)
    assert list(per_period) == [3] * 4 + [2] * 4 + [3] * 4


def test_push_offsets_spread_over_the_period():
    offsets = push_offsets_s(np.arange(10), 10.0)
    assert np.all((offsets >= 0) & (offsets < 10.0))
    assert np.diff(np.sort(offsets)).min() > 0.3  # no two instances push together


def test_load_tests_start_at_their_times(tmp_run):
    spec = small_spec(duration_s=30.0, workload={
        **CHAT, "load_tests": {"at_s": [25.0, 5.0, 31.0]}})
    result, t = run_tables(spec, tmp_run)
    req = t["requests"]
    starts = req["arrival_s"].to_numpy()[np.array(req["kind"].to_pylist()) == "load_test_start"]
    assert list(starts) == [5.0, 25.0]  # 31 s is after the arrival window
    assert result.summary["load_test_starts"] == 2


# ---------------------------------------------------------------- limiters scoped to kinds


def test_a_limiter_scoped_to_a_kind_refuses_only_that_kind(tmp_run):
    """The dashboard bucket (10/s, burst 5) refuses polls beyond it; chat messages and
    pushes pass it without taking a token, so none is refused."""
    spec = small_spec(
        duration_s=30.0, instances={"count": 3, "slots": 8},
        workload={**CHAT, "dashboard": {"viewers": 100, "interval_s": 2.0},
                  "metrics_push": {"interval_s": 5.0}},
        resilience={"rate_limit": [{"policy": "token_bucket", "name": "dashboard",
                                    "kinds": ["dashboard"],
                                    "params": {"rate_per_s": 10.0, "burst": 5.0}}]})
    result, t = run_tables(spec, tmp_run)
    by = statuses_by_kind(t["requests"])
    assert by[("chat", "rejected")] == 0 and by[("metrics_push", "rejected")] == 0
    assert by[("chat", "ok")] > 1000
    admitted = by[("dashboard", "ok")]
    assert admitted + by[("dashboard", "rejected")] == 100 * 30 / 2
    assert 5 + 10 * 29 <= admitted <= 5 + 10 * 30  # burst + rate × t (the polls keep coming)
    assert result.summary["rate_limited"] == by[("dashboard", "rejected")]
    reasons = set(t["requests"].filter(
        t["requests"]["status"].to_numpy(zero_copy_only=False) == "rejected")["reason"]
        .to_pylist())
    assert reasons == {"RateLimited:dashboard"}


class _Events:
    """The one thing Admission asks of the cluster: recording an event."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, kind: str, subject: str, reason: str) -> None:
        self.events.append((kind, subject, reason))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["chat", "dashboard", "metrics_push"]),
                          st.floats(0.0, 0.5)), min_size=1, max_size=300),
       st.sets(st.sampled_from(["chat", "dashboard", "metrics_push"]), min_size=1))
def test_a_scoped_limiter_decides_as_a_bucket_that_sees_only_its_kinds(arrivals, scope):
    """Oracle: the scoped limiter admits exactly what a bare token bucket fed only the
    in-scope requests admits, and admits every other request without taking a token."""
    ref = LimiterRef(policy="token_bucket", kinds=sorted(scope),
                     params={"rate_per_s": 4.0, "burst": 3.0})
    admission = Admission(_Events(), [ref], 0, Counters())
    bare = TokenBucket(TokenBucketConfig(rate_per_s=4.0, burst=3.0))
    now = 0.0
    for rid, (kind, gap_s) in enumerate(arrivals):
        now += gap_s
        info = RequestInfo(rid, kind, rid, rid, 0, 0, now)
        reason = admission.admit(info, now)
        if kind in scope:
            assert (reason is None) == bare.allow(info, now)[0]
        else:
            assert reason is None
    refused = admission.counters.totals["rate_limited"]
    assert refused <= sum(1 for kind, _ in arrivals if kind in scope)


def test_the_same_limiter_without_a_scope_refuses_every_kind(tmp_run):
    spec = small_spec(
        duration_s=30.0, instances={"count": 3, "slots": 8},
        workload={**CHAT, "dashboard": {"viewers": 100, "interval_s": 2.0}},
        resilience={"rate_limit": [{"policy": "token_bucket",
                                    "params": {"rate_per_s": 10.0, "burst": 5.0}}]})
    _, t = run_tables(spec, tmp_run)
    by = statuses_by_kind(t["requests"])
    assert by[("chat", "rejected")] > 0 and by[("dashboard", "rejected")] > 0


# ---------------------------------------------------------------- the context cache

USERS = {"arrivals": {"kind": "users", "users": 30, "turns_mean": 5.0,
                      "think_s": {"kind": "exponential", "mean_s": 1.0},
                      "session_gap_s": {"kind": "exponential", "mean_s": 2.0}},
         "mix": {"chat": {"service": {"kind": "exponential", "mean_s": 0.01},
                          "prompt_tokens": {"mean": 500.0}}}}


def test_on_one_instance_only_each_sessions_first_turn_misses(tmp_run):
    spec = small_spec(duration_s=60.0, instances={"count": 1, "slots": 8}, workload=USERS,
                      context_cache={"capacity_sessions": 100000, "kinds": ["chat"]})
    result, t = run_tables(spec, tmp_run)
    s = result.summary
    sessions = len(set(t["requests"]["session_id"].to_pylist()))
    assert s["context_misses"] == sessions
    assert s["context_hits"] + s["context_misses"] == s["arrivals"]
    rows = t["metrics"].to_pylist()
    assert sum(r["context_lookups"] for r in rows) == s["arrivals"]


def test_a_cache_of_one_session_per_instance_misses_whenever_sessions_interleave(tmp_run):
    spec = small_spec(duration_s=60.0, instances={"count": 1, "slots": 8}, workload=USERS,
                      context_cache={"capacity_sessions": 1, "kinds": ["chat"]})
    result, t = run_tables(spec, tmp_run)
    sessions = t["requests"]["session_id"].to_pylist()
    # with one entry, a turn hits only when the request before it (in arrival order, which
    # is routing order here) was of its own session
    order = np.argsort(t["requests"]["arrival_s"].to_numpy(), kind="stable")
    ordered = [sessions[i] for i in order]
    hits = sum(1 for a, b in zip(ordered, ordered[1:]) if a == b)
    assert result.summary["context_hits"] == hits


def test_a_miss_costs_cpu_and_a_free_miss_changes_nothing(tmp_path):
    """With no cost per token the cache only counts: the requests table equals a run
    without it. With a cost, misses add CPU work and so latency."""
    base = small_spec(duration_s=40.0, instances={"count": 2, "slots": 8}, workload=USERS)
    free = small_spec(duration_s=40.0, instances={"count": 2, "slots": 8}, workload=USERS,
                      context_cache={"miss_cpu_per_prompt_token_s": 0.0, "kinds": ["chat"]})
    dear = small_spec(duration_s=40.0, instances={"count": 2, "slots": 8}, workload=USERS,
                      context_cache={"miss_cpu_per_prompt_token_s": 1e-4, "kinds": ["chat"]})
    _, t0 = run_tables(base, tmp_path / "base")
    _, t1 = run_tables(free, tmp_path / "free")
    r2, _ = run_tables(dear, tmp_path / "dear")
    assert t0["requests"].equals(t1["requests"])
    assert r2.summary["latency_mean_s"] > 1.5 * _latency_mean(t0)


def _latency_mean(tables) -> float:
    return float(np.mean(tables["requests"]["latency_s"].to_numpy()))


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("changes, message", [
    ({"workload": {**CHAT, "dashboard": {"viewers": 0}}},
     "workload.dashboard.viewers: Input should be greater than 0"),
    ({"workload": {**CHAT, "dashboard": {"viewers": 10, "start_s": 30.0, "end_s": 20.0}}},
     "workload.dashboard: end_s (20) must be after start_s (30)"),
    ({"workload": {**CHAT, "dashboard": {"viewers": 10, "kind": "nope"}}},
     "workload.dashboard.kind: unknown kind 'nope'"),
    ({"workload": {**CHAT, "metrics_push": {"interval_s": 0.0}}},
     "workload.metrics_push.interval_s: Input should be greater than or equal to 0.001"),
    ({"workload": {**CHAT, "load_tests": {"at_s": [-1.0]}}},
     "workload.load_tests.at_s.0: Input should be greater than or equal to 0"),
    ({"workload": {**CHAT, "dashboard": {"viewers": 100000, "interval_s": 0.001}},
      "duration_s": 1e5}, "workload.dashboard.viewers: the run would simulate about"),
    ({"workload": CHAT, "resilience": {"rate_limit": [
        {"policy": "token_bucket", "kinds": ["dashboard"]}]}},
     "resilience.rate_limit.0.kinds: unknown kind 'dashboard' (known: chat)"),
    ({"workload": CHAT, "resilience": {"rate_limit": [{"policy": "token_bucket",
                                                       "kinds": []}]}},
     "resilience.rate_limit.0.kinds: give at least one kind"),
    ({"workload": CHAT, "context_cache": {"kinds": ["x"]}},
     "context_cache.kinds: unknown kind 'x'"),
    ({"workload": CHAT, "context_cache": {"capacity_sessions": 0}},
     "context_cache.capacity_sessions: Input should be greater than 0"),
    ({"workload": CHAT, "context_cache": {"miss_cpu_per_prompt_token_s": 1.0}},
     "context_cache.miss_cpu_per_prompt_token_s: Input should be less than or equal to 0.01"),
])
def test_bad_values_name_their_field(changes, message):
    with pytest.raises(InputError) as err:
        small_spec(**changes)
    assert message in str(err.value)


def test_a_route_kind_may_be_limited_by_name_before_a_source_sends_it():
    spec = small_spec(workload={**CHAT, "dashboard": {"viewers": 3}}, resilience={
        "rate_limit": [{"policy": "token_bucket", "kinds": ["dashboard"]}]})
    assert spec.workload.kind_names() == {"chat", "dashboard"}


def test_a_bad_kind_scope_exits_2_naming_the_field(tmp_path):
    from typer.testing import CliRunner

    from simscale.cli import app

    path = tmp_path / "bad.toml"
    path.write_text('name = "bad"\nduration_s = 10\n[workload]\n'
                    'arrivals = { kind = "poisson", rate_rps = 5 }\n'
                    '[instances]\ncount = 1\nslots = 1\n'
                    '[[resilience.rate_limit]]\npolicy = "token_bucket"\nkinds = ["chat"]\n')
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "resilience.rate_limit.0.kinds: unknown kind 'chat' (known: request)" in \
        result.output
    assert not (tmp_path / "out").exists()
