"""Whole runs with the cache: hit rates against analytic values, stale reads, stampedes,
shard loss, the database pool, warming after scale-out, conservation and outputs."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.compute as pc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.caches import zipf_popularity
from simscale.model.cache import Datastore
from simscale.model.runner import run
from tests.conftest import run_tables, small_spec

CHAT_MIX = {
    "chat_message": {"weight": 6, "reads": ["user", "session", "conversation"],
                     "writes": ["conversation"], "db_queries": 1},
    "load_history": {"weight": 2, "reads": ["session", "conversation"], "db_queries": 2},
    "user_profile": {"weight": 1, "reads": ["user"], "db_queries": 1},
    "health": {"weight": 1},
}
FAST_DB = {"query_time": {"kind": "deterministic", "value_s": 0.002},
           "write_time": {"kind": "deterministic", "value_s": 0.002}}


def chat_spec(cache: dict, database: dict | None = None, duration_s: float = 30.0,
              rate_rps: float = 200.0, mix: dict | None = None, **changes):
    return small_spec(
        duration_s=duration_s, seed=changes.pop("seed", 3),
        workload={"arrivals": {"kind": "poisson", "rate_rps": rate_rps},
                  "service": {"kind": "exponential", "mean_s": 0.002},
                  "mix": mix or CHAT_MIX},
        instances={"count": 2, "slots": 64, "cores": 4,
                   "memory_per_request_mb": 0.0},  # a storm's queues: not an OOM test
        cache=cache, database=database or FAST_DB, **changes)


def window_hit_rate(rows: list[dict], start_s: float, end_s: float) -> float:
    """Hit rate over the metrics windows in [start_s, end_s), weighted by reads."""
    reads = hits = 0.0
    for row in rows:
        if start_s <= row["t_s"] < end_s and row["cache_hit_rate"] is not None:
            n = row["cache_reads_rps"] * row["interval_s"]
            reads += n
            hits += n * row["cache_hit_rate"]
    return hits / reads


def window_mean(rows: list[dict], column: str, start_s: float, end_s: float) -> float:
    return float(np.mean([r[column] for r in rows if start_s <= r["t_s"] < end_s]))


def che_hit_ratio(popularity: np.ndarray, capacity: int) -> float:
    """LRU hit ratio under the independent reference model by Che's approximation (Che,
    Tung and Wang, IEEE JSAC 2002): the characteristic time T solves
    sum_i (1 - exp(-p_i T)) = C, and key i hits with probability 1 - exp(-p_i T)."""
    lo, hi = 0.0, 1.0
    while np.sum(1 - np.exp(-popularity * hi)) < capacity:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        if np.sum(1 - np.exp(-popularity * mid)) < capacity:
            lo = mid
        else:
            hi = mid
    return float(np.sum(popularity * (1 - np.exp(-popularity * lo))))


def test_lru_hit_rate_matches_ches_approximation():
    users, capacity, s = 1000, 100, 0.8
    spec = chat_spec(
        {"shards": 1, "capacity_items": capacity, "ttl_s_by_type": {"user": "none"},
         "keys": {"users": users, "zipf_s": s}},
        mix={"profile": {"reads": ["user"], "db_queries": 1}},
        database={"query_time": {"kind": "deterministic", "value_s": 1e-4}},
        duration_s=90.0, rate_rps=500.0, metrics={"interval_s": 5.0})
    rows = run(spec, None).metric_rows
    expected = che_hit_ratio(zipf_popularity(users, s), capacity)
    assert 0.3 < expected < 0.7
    assert math.isclose(window_hit_rate(rows, 15.0, 90.0), expected, abs_tol=0.015)


def test_with_room_for_every_key_and_no_ttl_every_read_hits_after_warm_up():
    spec = chat_spec({"capacity_items": 10_000, "keys": {"users": 20},
                      "ttl_s_by_type": {t: "none" for t in
                                        ("user", "session", "conversation")},
                      "invalidation": "write_through"}, metrics={"interval_s": 5.0})
    result = run(spec, None)
    s = result.summary
    assert window_hit_rate(result.metric_rows, 10.0, 30.0) == 1.0
    # only compulsory misses: one per key, plus the followers of its first load
    items = result.metric_rows[-1]["cache_items"]
    assert items == 20 + 2 * 2 * 20 and s["cache_evictions"] == 0
    assert s["cache_reads"] - s["cache_hits"] == items + s["cache_coalesced"]


def test_stale_reads_are_counted_only_under_ttl_only(monkeypatch):
    monkeypatch.setattr(Datastore, "verify_stale", True)  # check every hit, every mode
    stale = {}
    for mode in ("write_invalidate", "write_through", "ttl_only"):
        spec = chat_spec({"invalidation": mode, "keys": {"users": 300},
                          "ttl_s_by_type": {"conversation": 20.0}})
        stale[mode] = run(spec, None).summary["stale_reads"]
    assert stale["write_invalidate"] == 0 and stale["write_through"] == 0
    assert stale["ttl_only"] > 100


def storm_spec(stampede: str):
    """Every key is loaded at t = 0 with a 20 s TTL; reads of a few hot keys pile up on an
    expensive query when they all expire together."""
    return chat_spec(
        {"stampede": stampede, "invalidation": "write_through",
         "ttl_s_by_type": {"user": 20.0, "session": 20.0, "conversation": 20.0},
         "keys": {"users": 100, "zipf_s": 1.2, "sessions_per_user": 1},
         "warming": {"top_k": 300}},
        database={"pool_size": 5, "query_time": {"kind": "deterministic", "value_s": 0.1},
                  "write_time": {"kind": "deterministic", "value_s": 0.002}},
        duration_s=30.0, rate_rps=300.0, metrics={"interval_s": 1.0})


def test_single_flight_reduces_database_load_in_an_expiry_storm():
    none = run(storm_spec("none"), None)
    single = run(storm_spec("single_flight"), None)
    assert none.summary["cache_coalesced"] == 0 < single.summary["cache_coalesced"]
    assert single.summary["db_queries"] < 0.8 * none.summary["db_queries"]
    # before the storm nothing reads the database; during it the pool queues
    assert window_mean(none.metric_rows, "db_queries_rps", 5, 20) == 0
    assert max(r["db_queue"] for r in none.metric_rows if 20 <= r["t_s"] < 23) > 0
    assert (single.summary["db_wait_mean_s"] < none.summary["db_wait_mean_s"])
    # reads looked up after a long database wait count in the window of their lookup
    for row in none.metric_rows + single.metric_rows:
        for column in ("cache_hit_rate", "cache_hit_rate_user", "cache_hit_rate_session",
                       "cache_hit_rate_conversation"):
            assert row[column] is None or 0.0 <= row[column] <= 1.0


def test_a_shard_loss_causes_a_miss_storm_and_the_hit_rate_recovers():
    spec = chat_spec(
        {"capacity_items": 20_000, "invalidation": "write_through",
         "keys": {"users": 2000}, "warming": {"top_k": 10_000, "on_join": False},
         "faults": [{"kind": "shard_loss", "shard": 0, "at_s": 20, "recover_at_s": 40}]},
        duration_s=60.0, metrics={"interval_s": 5.0})
    result = run(spec, None)
    rows = result.metric_rows
    before = window_hit_rate(rows, 10, 20)
    storm = window_hit_rate(rows, 20, 25)
    later = window_hit_rate(rows, 35, 40)
    assert before > 0.95 and storm < before - 0.1 and later > storm + 0.05
    assert window_mean(rows, "db_queries_rps", 20, 25) > 3 * window_mean(
        rows, "db_queries_rps", 10, 20)
    # a gauge at the end of each interval
    assert [r["cache_shards_up"] for r in rows if r["t_s"] in (10, 25, 45)] == [4, 3, 4]
    # it comes back empty: its keys miss once more
    assert window_hit_rate(rows, 40, 45) < later
    reasons = [e[3] for e in result.events if e[1] == "cache"]
    assert "ShardLost" in reasons and "ShardRecovered" in reasons


def test_the_pool_never_exceeds_its_size_and_requests_wait():
    spec = chat_spec({"keys": {"users": 20_000}},
                     database={"pool_size": 2, "query_time": {"kind": "exponential",
                                                              "mean_s": 0.01}},
                     duration_s=20.0, rate_rps=100.0, metrics={"interval_s": 1.0})
    result = run(spec, None)
    s, rows = result.summary, result.metric_rows
    assert s["db_connections_peak"] == 2
    assert all(r["db_connections_in_use"] <= 2 + 1e-9 for r in rows)
    assert s["db_wait_mean_s"] > 0 and max(r["db_queue"] for r in rows) > 0
    assert s["arrivals"] == s["ok"] + s["error"] + s["timeout"] + s["rejected"]


def scale_out_spec(on_join: bool):
    return chat_spec(
        {"capacity_items": 5_000, "invalidation": "write_through",
         "keys": {"users": 3000, "zipf_s": 0.9},
         "warming": {"top_k": 5_000, "on_start": True, "on_join": on_join},
         "faults": [{"kind": "shard_join", "at_s": 15}]},
        duration_s=30.0, metrics={"interval_s": 5.0})


def test_warming_raises_the_hit_rate_after_scale_out():
    cold = run(scale_out_spec(False), None).metric_rows
    warm = run(scale_out_spec(True), None).metric_rows
    assert window_hit_rate(cold, 0, 15) == window_hit_rate(warm, 0, 15)
    assert window_hit_rate(warm, 15, 25) > window_hit_rate(cold, 15, 25) + 0.05
    assert window_hit_rate(cold, 15, 20) < window_hit_rate(cold, 10, 15) - 0.05


def test_outputs_carry_the_cache_and_database_columns(tmp_run):
    spec = chat_spec({"keys": {"users": 500}}, duration_s=10.0)
    result, tables = run_tables(spec, tmp_run)
    columns = set(tables["metrics"].column_names)
    assert {"cache_hit_rate", "cache_hit_rate_user", "cache_hit_rate_session",
            "cache_hit_rate_conversation", "cache_hit_rate_response", "cache_reads_rps",
            "cache_latency_mean_s", "cache_evictions", "cache_stale_reads", "cache_coalesced",
            "cache_items", "cache_shards_up", "db_queries_rps", "db_writes_rps",
            "db_connections_in_use", "db_query_p95_s", "db_slow_queries", "db_queue",
            "db_wait_mean_s"} <= columns
    s = result.summary
    for key in ("cache_hit_rate", "cache_hit_rate_user", "cache_reads", "cache_hits",
                "cache_latency_mean_s", "stale_reads", "cache_evictions", "cache_coalesced",
                "cache_warmed_keys", "response_cache_hits", "db_queries", "db_writes",
                "db_slow_queries", "db_query_p95_s", "db_wait_mean_s", "db_connections_peak"):
        assert key in s
    assert 0 < s["cache_hit_rate"] < 1 and s["cache_hit_rate_response"] is None
    reads = pc.sum(tables["metrics"]["cache_reads_rps"]).as_py() * 1.0
    assert reads > 0


def test_same_spec_same_results():
    spec = chat_spec({"keys": {"users": 500}, "eviction": {"policy": "wtinylfu"},
                      "faults": [{"kind": "shard_loss", "shard": 1, "at_s": 5}]},
                     duration_s=10.0)
    a, b = run(spec, None), run(spec, None)
    drop = {"wall_s"}
    assert {k: v for k, v in a.summary.items() if k not in drop} == {
        k: v for k, v in b.summary.items() if k not in drop}
    assert a.metric_rows == b.metric_rows


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rate=st.floats(20, 300), pool=st.integers(1, 6), query_s=st.floats(0.001, 0.2),
    timeout=st.one_of(st.none(), st.floats(0.05, 3.0)),
    stampede=st.sampled_from(["none", "single_flight"]),
    invalidation=st.sampled_from(["write_invalidate", "write_through", "ttl_only"]),
    policy=st.sampled_from(["lru", "lfu", "fifo", "s3fifo", "wtinylfu"]),
    loss_at=st.one_of(st.none(), st.floats(0, 8)), top_k=st.integers(0, 300),
    seed=st.integers(0, 2**32),
)
def test_conservation_holds_with_the_cache(rate, pool, query_s, timeout, stampede,
                                           invalidation, policy, loss_at, top_k, seed):
    faults = [] if loss_at is None else [
        {"kind": "shard_loss", "shard": 1, "at_s": loss_at, "recover_at_s": loss_at + 2}]
    spec = chat_spec(
        {"shards": 3, "capacity_items": 200, "stampede": stampede,
         "invalidation": invalidation, "eviction": {"policy": policy},
         "keys": {"users": 400}, "warming": {"top_k": top_k}, "faults": faults,
         "ttl_s_by_type": {"user": 3.0, "session": 2.0, "conversation": 1.0}},
        database={"pool_size": pool, "query_time": {"kind": "exponential", "mean_s": query_s}},
        duration_s=10.0, rate_rps=rate, timeouts={"request_s": timeout}, seed=seed)
    s = run(spec, None).summary
    assert s["arrivals"] == s["ok"] + s["error"] + s["timeout"] + s["rejected"]
    assert s["db_connections_peak"] <= pool
    assert 0.0 <= s["cache_hit_rate"] <= 1.0


def test_a_response_cache_hit_skips_the_llm_call(tmp_run):
    spec = small_spec(
        duration_s=30.0,
        workload={"arrivals": {"kind": "poisson", "rate_rps": 20.0},
                  "service": {"kind": "exponential", "mean_s": 0.002},
                  "mix": {"chat_message": {"reads": ["user", "response"], "llm": True,
                                           "prompt_tokens": {"mean": 200, "cv": 0.5},
                                           "output_tokens": {"mean": 50, "cv": 0.5}}}},
        instances={"count": 2, "slots": 64, "cores": 4},
        cache={"keys": {"users": 100},
               "llm_response_cache": {"enabled": True, "repeat_frac": 0.5, "prompts": 20}})
    result, tables = run_tables(spec, tmp_run)
    s = result.summary
    requests = tables["requests"]
    ok = pc.equal(requests["status"], "ok")
    no_llm = pc.and_(ok, pc.is_null(requests["ttft_s"]))
    assert s["response_cache_hits"] > 100
    assert pc.sum(pc.cast(no_llm, "int64")).as_py() == s["response_cache_hits"]
    # an answer from the cache is much faster than one streamed from the LLM
    cached = pc.filter(requests["latency_s"], no_llm)
    streamed = pc.filter(requests["latency_s"], pc.invert(pc.is_null(requests["ttft_s"])))
    assert pc.max(cached).as_py() < pc.min(streamed).as_py()
    assert 0.2 < s["cache_hit_rate_response"] < 0.5
