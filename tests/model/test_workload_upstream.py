"""The LLM upstream: the TTFT formula, provider limits (queue or fail), the stage contract."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pytest

from simscale.model import cache
from simscale.model.runner import run
from simscale.model.upstream import TokenBucket
from tests.conftest import run_tables, small_spec

# one deterministic LLM kind: 0.1 s CPU, 1000 prompt tokens, 100 output tokens
LLM_KIND = {"chat": {"llm": True, "service": {"kind": "deterministic", "value_s": 0.1},
                     "prompt_tokens": {"mean": 1000, "cv": 0},
                     "output_tokens": {"mean": 100, "cv": 0}}}
UPSTREAM = {"ttft_base_s": 0.5, "ttft_per_prompt_token_s": 0.001, "tpot_s": 0.01}
PROVIDER_S = 0.5 + 0.001 * 1000 + 0.01 * 100  # one call: first token 1.5 s, last 2.5 s


def llm_spec(rate_rps: float = 2.0, duration_s: float = 60.0, mix=LLM_KIND,
             timeout="none", **upstream):
    return small_spec(
        duration_s=duration_s,
        workload={"arrivals": {"kind": "poisson", "rate_rps": rate_rps}, "mix": mix},
        instances={"count": 1, "slots": 200, "cores": 200},
        timeouts={"request_s": timeout}, upstream={**UPSTREAM, **upstream})


def column(table, name):
    return table[name].to_numpy(zero_copy_only=False)


def test_ttft_formula_deterministic(tmp_run):
    """No queueing anywhere: ttft = CPU + base + per_token × prompt; latency adds the stream."""
    result, t = run_tables(llm_spec(), tmp_run)
    req = t["requests"]
    assert result.summary["ok"] == req.num_rows > 80
    assert np.allclose(column(req, "ttft_s"), 0.1 + 0.5 + 0.001 * 1000)
    assert np.allclose(column(req, "latency_s"), 0.1 + PROVIDER_S)
    assert set(column(req, "output_tokens")) == {100}
    s = result.summary
    assert s["ttft_p50_s"] == pytest.approx(1.6) and s["ttft_p99_s"] == pytest.approx(1.6)
    assert s["output_tokens_per_s"] == pytest.approx(100 * s["ok"] / 60.0)
    assert s["upstream_calls"] == s["ok"] and s["upstream_queued_calls"] == 0


def provider_intervals(req):
    """[start, end) of each ok call at the provider (deterministic, so end − PROVIDER_S)."""
    ok = req.filter(pc.equal(req["status"], "ok"))
    ends = np.sort(column(ok, "end_s"))
    return ends - PROVIDER_S, ends


def test_streams_limit_queue_serializes_calls(tmp_run):
    spec = llm_spec(rate_rps=0.3, duration_s=300.0, max_streams=1, on_limit="queue")
    result, t = run_tables(spec, tmp_run)
    starts, ends = provider_intervals(t["requests"])
    s = result.summary
    assert s["ok"] == s["arrivals"] and s["upstream_queued_calls"] > 10
    assert np.all(starts[1:] >= ends[:-1] - 1e-9)  # never two streams at once
    assert s["upstream_queue_wait_mean_s"] > 0
    ttft = column(t["requests"], "ttft_s")
    assert np.all(ttft >= 1.6 - 1e-9) and ttft.max() > 3  # waiting counts in the TTFT


def test_streams_limit_fail_fails_fast_with_a_reason(tmp_run):
    result, t = run_tables(llm_spec(rate_rps=1.0, max_streams=1, on_limit="fail"), tmp_run)
    req = t["requests"]
    starts, ends = provider_intervals(req)
    assert np.all(starts[1:] >= ends[:-1] - 1e-9)
    failed = req.filter(pc.equal(req["status"], "error"))
    assert failed.num_rows == result.summary["upstream_limited"] > 10
    assert set(failed["reason"].to_pylist()) == {"UpstreamConcurrencyLimited"}
    # failed at once, after their CPU work
    assert np.allclose(column(failed, "latency_s"), 0.1)


def test_requests_per_minute_bucket_bounds_starts_queue(tmp_run):
    result, t = run_tables(llm_spec(rate_rps=5.0, requests_per_minute=60.0), tmp_run)
    starts, _ = provider_intervals(t["requests"])
    assert result.summary["error"] == 0
    # a bucket of 60 refilled at 1/s: by time s at most 60 + s calls have started
    started = np.arange(1, len(starts) + 1)
    assert np.all(started <= 60 + starts + 1e-6)
    assert started[-1] > 60 + 0.8 * starts[-1]  # and it does not hold back more than that


def test_requests_per_minute_fail(tmp_run):
    result, t = run_tables(llm_spec(rate_rps=5.0, requests_per_minute=60.0, on_limit="fail"),
                           tmp_run)
    req = t["requests"]
    failed = req.filter(pc.equal(req["status"], "error"))
    assert set(failed["reason"].to_pylist()) == {"UpstreamRateLimited"}
    assert result.summary["ok"] <= 60 + 60 + 1


def test_tokens_per_minute_queue_and_oversized_calls(tmp_run):
    # 1100 tokens per call; 11000 per minute: 10 calls at once, then one per 6 s
    result, t = run_tables(llm_spec(rate_rps=2.0, tokens_per_minute=11_000.0), tmp_run)
    starts, _ = provider_intervals(t["requests"])
    started = np.arange(1, len(starts) + 1)
    assert np.all(started <= 10 + starts / 6.0 + 1e-6)
    s = run(llm_spec(rate_rps=2.0, duration_s=5.0, tokens_per_minute=1000.0), None).summary
    assert s["ok"] == 0 and s["error"] == s["upstream_limited"] == s["arrivals"]


def test_queue_limit_fails_with_queue_full(tmp_run):
    spec = llm_spec(rate_rps=5.0, max_streams=1, on_limit="queue", queue_limit=2)
    result, t = run_tables(spec, tmp_run)
    req = t["requests"]
    failed = req.filter(pc.equal(req["status"], "error"))
    assert set(failed["reason"].to_pylist()) == {"UpstreamQueueFull"}
    assert result.summary["arrivals"] == sum(result.summary[k] for k in
                                             ("ok", "error", "timeout", "rejected"))


def test_timed_out_requests_do_not_use_the_provider():
    s = run(llm_spec(rate_rps=2.0, max_streams=1, timeout=4.0), None).summary
    assert s["timeout"] > 50
    # each started call took 2.5 s of a single stream: at most 60/2.5 + drain
    assert s["upstream_calls"] <= (60 + 4) / PROVIDER_S + 1


def test_token_bucket():
    bucket = TokenBucket(60.0)
    assert bucket.allows(60, 0.0) and not bucket.allows(61, 0.0)
    bucket.take(60, 0.0)
    assert not bucket.allows(1, 0.5) and bucket.wait_s(1, 0.5) == pytest.approx(0.5)
    assert bucket.allows(10, 10.0) and not bucket.allows(11, 10.0)
    assert bucket.allows(60, 1000.0) and not bucket.allows(61, 1000.0)  # capped at a minute


class FakeDatastore:
    """A datastore honouring the stage contract: wait 0.2 s holding the slot, then go on."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.seen = []

    def access(self, instance, req, now, then):
        self.seen.append((req.data.name, req.data.reads, req.data.writes, req.data.db_queries,
                          req.info.user_id, req.info.session_id))
        self.cluster.wait(instance, req, 0.2, then)


def test_datastore_stage_contract(monkeypatch, tmp_run):
    stores = []

    def attach(cluster, hooks, section, database, seed):
        hooks.datastore = FakeDatastore(cluster)
        stores.append(hooks.datastore)
        return hooks.datastore

    monkeypatch.setattr(cache, "attach", attach)
    mix = {**LLM_KIND, "history": {"reads": ["session", "conversation"], "db_queries": 2,
                                   "service": {"kind": "deterministic", "value_s": 0.01}},
           "health": {"service": {"kind": "deterministic", "value_s": 0.01}}}
    mix["chat"] = {**mix["chat"], "reads": ["user"], "writes": ["response"]}
    _, t = run_tables(llm_spec(rate_rps=6.0, duration_s=30.0, mix=mix), tmp_run)
    (store,) = stores
    req = t["requests"]
    kinds = np.array(req["kind"].to_pylist())
    lat, ttft = column(req, "latency_s"), column(req, "ttft_s")
    assert np.allclose(lat[kinds == "health"], 0.01)  # touches no data: no stage
    assert np.allclose(lat[kinds == "history"], 0.01 + 0.2)
    assert np.allclose(ttft[kinds == "chat"], 0.1 + 0.2 + 1.5)  # data stage, then the LLM
    assert np.allclose(lat[kinds == "chat"], 0.1 + 0.2 + PROVIDER_S)
    seen = {name: (reads, writes, q) for name, reads, writes, q, _, _ in store.seen}
    assert seen == {"chat": (("user",), ("response",), 0),
                    "history": (("session", "conversation"), (), 2)}
    assert len(store.seen) == np.count_nonzero(kinds != "health")


@pytest.mark.parametrize("timeout_s, retry", [
    ("none", False), (1.0, False), (2.0, False),   # one event per call
    ("none", True), (1.0, True), (2.0, True),      # a retry policy: the first token an event
])
def test_a_request_has_a_first_token_exactly_when_it_came_before_its_end(tmp_run, timeout_s,
                                                                         retry):
    """Every call's first token comes 1.6 s after arrival and its last at 2.6 s: a request
    that timed out, or whose instance crashed, after its first token keeps its ttft; one
    that ended before has none, however the call is timed."""
    resilience = {"faults": [{"kind": "crash", "target": 0, "at_s": 30.0, "duration_s": 5.0}]}
    if retry:
        resilience["retry"] = {"max_attempts": 2}
    spec = small_spec(
        duration_s=60.0, timeouts={"request_s": timeout_s}, upstream=UPSTREAM,
        workload={"arrivals": {"kind": "poisson", "rate_rps": 4.0}, "mix": LLM_KIND},
        instances={"count": 1, "slots": 400, "cores": 400}, resilience=resilience)
    _, t = run_tables(spec, tmp_run)
    req = t["requests"]
    req = req.filter(pc.not_equal(req["status"], "rejected"))  # while the instance was down
    ttft = column(req, "ttft_s")
    came = column(req, "arrival_s") + 1.6 < column(req, "end_s")
    assert np.array_equal(~np.isnan(ttft), came)
    assert np.allclose(ttft[came], 1.6)
    status = np.array(req["status"].to_pylist())
    crashed = status == "error"  # the only errors: calls the crash caught (retried or not)
    assert (crashed & ~came).any()  # the crash caught calls before their first token
    if timeout_s == 1.0:  # every call timed out before its first token
        assert not came.any() and (status == "timeout").sum() > 100
    else:  # and after it
        assert (crashed & came).any() and came.sum() > 100
    if timeout_s == 2.0:  # every call not crashed timed out while streaming
        assert (status[~crashed] == "timeout").all() and came[~crashed].all()
