"""Admission control: a request a rate limiter refuses ends `rejected`, naming the limiter."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pytest

from tests.conftest import run_tables, small_spec


def test_a_global_token_bucket_rejects_what_exceeds_its_rate(tmp_run):
    spec = small_spec(
        duration_s=60.0, workload={"arrivals": {"kind": "poisson", "rate_rps": 100.0},
                                   "service": {"kind": "exponential", "mean_s": 0.01}},
        resilience={"rate_limit": [{"policy": "token_bucket",
                                    "params": {"rate_per_s": 40.0, "burst": 20.0}}]})
    result, t = run_tables(spec, tmp_run)
    req = t["requests"]
    rejected = req.filter(pc.equal(req["status"], "rejected"))
    assert set(rejected["reason"].to_pylist()) == {"RateLimited:global"}
    assert rejected["instance_id"].null_count == rejected.num_rows  # never routed
    admitted = req.num_rows - rejected.num_rows
    # a token bucket admits at most burst + rate × t over any interval, and about that many
    # when requests keep coming
    assert admitted <= 20 + 40.0 * 60.0
    assert admitted == pytest.approx(20 + 40.0 * 60.0, rel=0.03)
    summary = result.summary
    assert summary["rate_limited"] == summary["rejected"] == rejected.num_rows
    rows = t["metrics"].to_pylist()
    assert sum(r["rate_limited"] for r in rows) == rejected.num_rows
    limiter = [e for e in t["events"].to_pylist() if e["kind"] == "limiter"]
    assert limiter[0]["subject"] == "token_bucket"
    assert limiter[0]["reason"] == "RateLimited:global" and limiter[0]["t_s"] < 1.0


def test_a_named_limiter_names_itself_and_limiters_apply_in_order(tmp_run):
    spec = small_spec(
        duration_s=30.0, workload={"arrivals": {"kind": "poisson", "rate_rps": 100.0},
                                   "service": {"kind": "exponential", "mean_s": 0.01}},
        resilience={"rate_limit": [
            {"policy": "token_bucket", "name": "edge", "params": {"rate_per_s": 80.0,
                                                                  "burst": 1.0}},
            {"policy": "token_bucket", "name": "api", "params": {"rate_per_s": 50.0,
                                                                 "burst": 1.0}}]})
    _, t = run_tables(spec, tmp_run)
    req = t["requests"]
    reasons = req.filter(pc.equal(req["status"], "rejected"))["reason"].to_pylist()
    assert set(reasons) == {"RateLimited:edge", "RateLimited:api"}
    ok = pc.sum(pc.equal(req["status"], "ok")).as_py()
    assert ok <= 1 + 50.0 * 30.0


def test_a_per_user_bucket_limits_each_user(tmp_run):
    spec = small_spec(
        duration_s=60.0,
        workload={"arrivals": {"kind": "users", "users": 5, "turns_mean": 1000.0,
                               "think_s": {"kind": "deterministic", "value_s": 0.1},
                               "session_gap_s": {"kind": "deterministic", "value_s": 0.0}},
                  "service": {"kind": "exponential", "mean_s": 0.01}},
        resilience={"rate_limit": [{"policy": "per_user_token_bucket",
                                    "params": {"rate_per_s": 2.0, "burst": 5.0}}]})
    _, t = run_tables(spec, tmp_run)
    req = t["requests"]
    ok = req.filter(pc.equal(req["status"], "ok"))
    rejected = req.filter(pc.equal(req["status"], "rejected"))
    assert set(rejected["reason"].to_pylist()) == {"RateLimited:per_user"}
    users, counts = np.unique(ok["user_id"].to_numpy(), return_counts=True)
    assert len(users) == 5
    assert counts.max() <= 5 + 2.0 * 60.0
    assert counts.min() >= 0.9 * 2.0 * 60.0
