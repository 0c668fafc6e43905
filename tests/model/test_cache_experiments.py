"""The cache experiments show what their headers promise: the 90 % configuration reaches
90 %, warming beats a cold join, single flight coalesces an expiry storm, a shorter TTL costs
hits and a longer one serves staler values, the eviction policies rank as documented, a lost
shard causes a miss storm, and the LLM response cache skips LLM calls."""

from __future__ import annotations

import numpy as np
import pytest

from simscale.spec import load_spec
from tests.conftest import ROOT

CACHE = ROOT / "experiments" / "cache"
POLICIES = ("lru", "lfu", "fifo", "s3fifo", "wtinylfu")
SHORT_TTL = [f"cache.ttl_s_by_type.{t}=10" for t in ("user", "session", "conversation")]
NO_RESPONSE_CACHE = "cache.llm_response_cache.enabled=false"

pytestmark = pytest.mark.shipped(
    *[(f"cache/{p.name}",) for p in sorted(CACHE.glob("*.toml"))],
    *[("cache/eviction_zipf.toml", f"cache.eviction.policy={p}") for p in POLICIES],
    ("cache/ttl_sweep.toml", *SHORT_TTL),
    ("cache/llm_response_cache.toml", NO_RESPONSE_CACHE),
)


def test_there_are_cache_experiments():
    names = {p.stem for p in CACHE.glob("*.toml")}
    assert {"hit_rate_90", "ttl_sweep", "eviction_zipf", "scale_out_cold", "scale_out_warm",
            "stampede_none", "stampede_single_flight", "shard_loss",
            "llm_response_cache", "quickstart_cache"} <= names


@pytest.mark.parametrize("name", sorted(p.stem for p in CACHE.glob("*.toml")))
def test_each_runs_with_the_cache_on(shipped, name):
    run = shipped(f"cache/{name}.toml")
    assert run.spec.cache.enabled
    assert run.summary["cache_reads"] > 0 and run.summary["cache_hit_rate"] is not None


def without(spec, *paths: str) -> dict:
    data = spec.model_dump()
    for path in ("name", "description", *paths):
        *parents, leaf = path.split(".")
        node = data
        for part in parents:
            node = node[part]
        node.pop(leaf)
    return data


@pytest.mark.parametrize("a, b, setting", [
    ("scale_out_cold", "scale_out_warm", "cache.warming.on_join"),
    ("stampede_none", "stampede_single_flight", "cache.stampede"),
])
def test_compared_pairs_differ_only_in_what_they_compare(a, b, setting):
    spec_a, spec_b = load_spec(CACHE / f"{a}.toml"), load_spec(CACHE / f"{b}.toml")
    assert spec_a != spec_b
    assert without(spec_a, setting) == without(spec_b, setting)


def test_the_shipped_configuration_reaches_a_90_percent_hit_rate(shipped):
    run = shipped("cache/hit_rate_90.toml")
    assert "90%+" in run.spec.description
    s = run.summary
    assert s["cache_hit_rate"] >= 0.9
    assert all(s[f"cache_hit_rate_{t}"] >= 0.9 for t in ("user", "session", "conversation"))


def test_the_quickstart_cache_hits_on_every_read(shipped):
    s = shipped("cache/quickstart_cache.toml").summary
    assert s["cache_hit_rate"] == 1.0 and s["db_queries"] == 0


def hit_rates(run, lo_s: float, hi_s: float) -> list[float]:
    return [r["cache_hit_rate"] for r in run.rows if lo_s <= r["t_s"] < hi_s]


def test_a_warmed_shard_joins_without_the_misses_of_a_cold_one(shipped):
    """A fifth shard joins at 60 s (120 s in the suite's runs): cold, the keys that move to
    it miss; warmed with the top keys it now owns, the hit rate does not dip."""
    cold, warm = shipped("cache/scale_out_cold.toml"), shipped("cache/scale_out_warm.toml")
    before = np.mean(hit_rates(cold, 0, 60))
    assert hit_rates(cold, 0, 60) == hit_rates(warm, 0, 60)  # the same run until the join
    assert hit_rates(cold, 60, 70)[0] < before - 0.05
    assert np.mean(hit_rates(warm, 60, 120)) == pytest.approx(before, abs=0.01)
    assert np.mean(hit_rates(warm, 60, 120)) > np.mean(hit_rates(cold, 60, 120)) + 0.03
    assert ("cache", "cache-4", "Warmed:15000") in [e[1:] for e in warm.events if e[0] == 60]
    assert cold.summary["db_queries"] > 1.3 * warm.summary["db_queries"]


def test_a_lost_shard_causes_a_miss_storm_and_a_second_one_when_it_returns_empty(shipped):
    run = shipped("cache/shard_loss.toml")
    events = [e[1:] for e in run.events if e[1] == "cache"]
    assert ("cache", "cache-1", "ShardLost") in events
    assert ("cache", "cache-1", "ShardRecovered") in events
    by_t = {r["t_s"]: r for r in run.rows}
    calm = np.mean(hit_rates(run, 0, 60))
    calm_db = np.mean([r["db_queries_rps"] for r in run.rows if r["t_s"] < 60])
    for storm_s in (60.0, 120.0):  # the loss, then the cold return
        assert by_t[storm_s]["cache_hit_rate"] < calm - 0.08
        assert by_t[storm_s]["db_queries_rps"] > 2.5 * calm_db
    assert by_t[110.0]["cache_hit_rate"] > by_t[60.0]["cache_hit_rate"] + 0.03  # refilling


def test_single_flight_coalesces_the_expiry_storm(shipped):
    """Every key expires at 60 s: without coalescing each concurrent miss reads the database
    itself, so there are more queries and they wait longer for the pool."""
    none = shipped("cache/stampede_none.toml")
    single = shipped("cache/stampede_single_flight.toml")
    assert none.summary["cache_coalesced"] == 0 < 100 < single.summary["cache_coalesced"]
    assert none.summary["db_queries"] > single.summary["db_queries"] + 100

    def storm_wait(run) -> float:
        return np.mean([r["db_wait_mean_s"] for r in run.rows if 60.0 <= r["t_s"] < 65.0])

    assert storm_wait(none) > 1.5 * storm_wait(single)
    for run in (none, single):  # all warm before the storm
        assert sum(r["db_queries_rps"] for r in run.rows if r["t_s"] < 60.0) == 0
    assert none.summary["rejected"] > 2 * single.summary["rejected"]


def test_a_shorter_ttl_costs_hits_and_reads_a_longer_one_serves_staler_values(shipped):
    ttl_60 = shipped("cache/ttl_sweep.toml").summary
    ttl_10 = shipped("cache/ttl_sweep.toml", *SHORT_TTL).summary
    assert ttl_60["cache_hit_rate"] > ttl_10["cache_hit_rate"] + 0.1
    assert ttl_10["db_queries"] > 1.3 * ttl_60["db_queries"]
    assert ttl_60["stale_reads"] > 1.2 * ttl_10["stale_reads"]


def test_eviction_policies_rank_as_documented(shipped):
    """S3-FIFO and W-TinyLFU ahead of LFU, then LRU, then FIFO (the header's expectation)."""
    hit = {p: shipped("cache/eviction_zipf.toml", f"cache.eviction.policy={p}")
           .summary["cache_hit_rate"] for p in POLICIES}
    assert abs(hit["s3fifo"] - hit["wtinylfu"]) < 0.02
    assert min(hit["s3fifo"], hit["wtinylfu"]) > hit["lfu"] + 0.005
    assert hit["lfu"] > hit["lru"] + 0.005 and hit["lru"] > hit["fifo"] + 0.01
    assert shipped("cache/eviction_zipf.toml").summary == shipped(
        "cache/eviction_zipf.toml", "cache.eviction.policy=lru").summary


def test_the_response_cache_skips_the_llm_call_on_a_repeated_prompt(shipped):
    on = shipped("cache/llm_response_cache.toml").summary
    off = shipped("cache/llm_response_cache.toml", NO_RESPONSE_CACHE).summary
    assert on["arrivals"] == off["arrivals"]
    assert off["response_cache_hits"] == 0 and on["response_cache_hits"] > 200
    # 30 % of prompts repeat one of 500; most repeats hit once the cache has them
    assert 0.1 < on["cache_hit_rate_response"] < 0.3
    assert off["upstream_calls"] - on["upstream_calls"] == on["response_cache_hits"]
    assert on["latency_p95_s"] < off["latency_p95_s"]
