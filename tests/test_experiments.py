"""Every spec in experiments/ is also a test: it runs (once per session, the same run the tests
of its effect read) and every arrival ends in exactly one status. The effects themselves are
checked beside their topics: tests/model/test_{autoscaling,cache,resilience,workload}_
experiments.py, tests/sweep/test_experiments.py; the quickstart, the export examples and the
Phase 3 systems here (and every export example's export in tests/export/test_targets.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.shipped import HORIZONS, spec_files

# their effect is checked by tests/test_validation.py, which runs them itself
CHECKED_ELSEWHERE = {"validation/mm1.toml", "validation/mm8.toml"}
SPECS = spec_files()


def test_there_are_experiments():
    assert {"quickstart.toml", "validation/mm8.toml", "validation/mm1.toml"} <= set(SPECS)


def test_every_spec_has_a_horizon_or_is_checked_elsewhere():
    """A new spec needs a HORIZONS entry (tests/shipped.py) and a test of its effect."""
    assert set(SPECS) == set(HORIZONS) | CHECKED_ELSEWHERE


@pytest.mark.parametrize("rel", [pytest.param(rel, marks=pytest.mark.shipped((rel,)))
                                 for rel in SPECS])
def test_every_spec_runs_and_conserves_its_requests(shipped, rel):
    run = shipped(rel)
    s = run.summary
    assert s["complete"], s.get("failure")
    assert s["arrivals"] > 0
    assert s["arrivals"] == s["ok"] + s["error"] + s["timeout"] + s["rejected"]
    statuses = run.table("requests")["status"].to_numpy(zero_copy_only=False)
    assert len(statuses) == s["arrivals"]
    assert [int(np.count_nonzero(statuses == k)) for k in ("ok", "error", "timeout", "rejected")
            ] == [s["ok"], s["error"], s["timeout"], s["rejected"]]


@pytest.mark.shipped(("quickstart.toml",))
def test_the_quickstart_runs_at_70_percent_cpu(shipped):
    """4 instances × 2 cores, 140 rps × 0.04 s of CPU: ρ = 0.7, nothing lost."""
    run = shipped("quickstart.toml")
    whole = [r for r in run.rows if r["interval_s"] == run.spec.metrics.interval_s
             and r["t_s"] < run.spec.duration_s]
    assert np.mean([r["cpu_util_frac"] for r in whole]) == pytest.approx(0.7, abs=0.04)
    assert run.summary["ok"] == run.summary["arrivals"]
    assert run.summary["throughput_rps"] == pytest.approx(140.0, rel=0.03)


@pytest.mark.shipped(("export/affinity_hpa.toml",))
def test_the_affinity_example_spreads_sessions_evenly_over_the_hash_ring(shipped):
    """Consistent hash on the session id (each arrival is a session of its own here): the
    ring gives each of the three instances about a third. What the example is for, its
    export, is checked in tests/export."""
    run = shipped("export/affinity_hpa.toml")
    assert run.summary["scale_ups"] == run.summary["scale_downs"] == 0
    instances = run.table("requests")["instance_id"].to_numpy()
    shares = np.bincount(instances, minlength=3) / len(instances)
    assert len(shares) == 3 and np.all(np.abs(shares - 1 / 3) < 0.1), shares


def test_the_cache_example_exports_two_lfu_shards_of_64_mib_behind_least_connections():
    """The header of experiments/export/cache_lfu.toml, as the redis, compose and nginx
    exports write it (its run has no cache reads: the example is for the export)."""
    from simscale.export.plan import plan_from_spec
    from simscale.export.targets import export_plan
    from simscale.export.yamlio import load_yaml_documents
    from simscale.spec import load_spec
    from tests.shipped import EXPERIMENTS

    plan = plan_from_spec(load_spec(EXPERIMENTS / "export" / "cache_lfu.toml"))
    redis = export_plan(plan, "redis").files["redis.conf"].splitlines()
    assert "maxmemory 67108864" in redis and "maxmemory-policy allkeys-lfu" in redis
    compose = export_plan(plan, "compose").files
    services = load_yaml_documents(compose["docker-compose.yml"], "compose")[0]["services"]
    assert sorted(n for n in services if n.startswith("redis")) == ["redis-1", "redis-2"]
    assert "least_conn;" in compose["nginx.conf"]


@pytest.mark.shipped(("export/cluster_cache.toml",))
def test_the_cluster_example_exports_three_cluster_nodes_and_a_fourth_takes_a_quarter(shipped):
    """The header of experiments/export/cluster_cache.toml: three LRU nodes of 32 MiB placed
    by hash slot; the fourth shard joins at 120 s and takes a quarter of the 16384 slots."""
    from policies.caches.slots import SlotMap
    from simscale.export.plan import plan_from_spec
    from simscale.export.targets import export_plan

    run = shipped("export/cluster_cache.toml")
    assert [e[:4] for e in run.events if e[1] == "cache"] == [
        (120.0, "cache", "cache-3", "ShardJoined")]
    assert [r["cache_shards_up"] for r in run.rows if r["t_s"] in (110.0, 120.0)] == [3, 4]
    files = export_plan(plan_from_spec(run.spec), "redis").files
    conf = files["redis.conf"].splitlines()
    assert {"cluster-enabled yes", "maxmemory 33554432", "maxmemory-policy allkeys-lru"} <= \
        set(conf)
    assert "--cluster create" in files["cluster-create.sh"]
    slots = SlotMap(["cache-0", "cache-1", "cache-2"])
    slots.slot_owner(0)  # the cluster as created
    slots.add("cache-3")
    assert slots.last_moved == 16384 // 4


PHASE3 = {"before": ("phase3/before.toml", 800, 1), "after": ("phase3/after.toml", 5000, 2)}


@pytest.mark.shipped(*[(rel,) for rel, _, _ in PHASE3.values()])
@pytest.mark.parametrize("system", PHASE3)
def test_phase3_users_join_over_15_minutes_and_send_a_request_every_5_seconds(shipped,
                                                                             system):
    rel, users, instances = PHASE3[system]
    run = shipped(rel)
    rows = [r for r in run.rows if r["t_s"] + r["interval_s"] <= run.spec.duration_s]
    assert rows[0]["instances_ready"] == instances
    for r in rows[-3:]:
        started = r["users_started"]
        assert started == pytest.approx(users * (r["t_s"] + r["interval_s"]) / 900, rel=0.05)
        # the header's arithmetic: a user sends a request every P ≈ 5.3 s
        assert r["arrivals_rps"] * 5.3 / started == pytest.approx(1.0, rel=0.2)


@pytest.mark.shipped(*[(rel,) for rel, _, _ in PHASE3.values()])
def test_phase3_before_reads_the_database_every_time_after_hits_the_cache(shipped):
    before = shipped("phase3/before.toml").summary
    after = shipped("phase3/after.toml").summary
    assert before["cache_hit_rate"] == 0.0
    assert before["db_queries"] >= before["cache_reads"]
    assert after["cache_hit_rate"] >= 0.9
