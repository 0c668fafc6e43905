"""Memory as a limit: OOM kills with the crash-loop back-off, shedding before the limit, and
memory_frac recomputed from requests.parquet."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from simscale.cli import app
from simscale.model.memory import NEVER, fits, restart_backoff_s
from tests.conftest import run_tables, small_spec

# One instance serving one request a second; 10 arrive each second, so its queue grows until
# a request would take it past 150 MB (100 MB idle + 10 MB a request: the sixth).
FLOOD = {"arrivals": {"kind": "poisson", "rate_rps": 10.0},
         "service": {"kind": "deterministic", "value_s": 1.0}}
SMALL = {"count": 1, "slots": 1, "memory_base_mb": 100.0, "memory_per_request_mb": 10.0,
         "memory_limit_mb": 150.0}


def _instance_events(events, name="instance-0"):
    return [(r["t_s"], r["reason"]) for r in events.to_pylist() if r["subject"] == name
            and r["kind"] == "instance"]


def test_an_instance_past_its_limit_is_killed_and_restarts_after_a_doubling_back_off(tmp_run):
    spec = small_spec(duration_s=120.0, workload=FLOOD, instances=SMALL,
                      timeouts={"request_s": "none"})
    result, t = run_tables(spec, tmp_run)
    events = [e for e in _instance_events(t["events"]) if e[1] != "Started"]
    kills = [ts for ts, why in events if why == "OOMKilled"]
    backoffs = [why for _, why in events if why.startswith("BackOff:")]
    restarts = [ts for ts, why in events if why == "Restarted"]
    assert len(kills) >= 3
    # 10 s, doubling: 10 + 20 + 40 + 80 s of waiting fit in 120 s with the kills between
    assert backoffs == [f"BackOff:{10 * 2 ** i}s" for i in range(len(kills))]
    for i, restart in enumerate(restarts):
        assert restart == pytest.approx(kills[i] + 10 * 2 ** i, abs=1e-9)
        assert i + 1 >= len(kills) or kills[i + 1] > restart  # killed again only once back
    assert len(restarts) in (len(kills), len(kills) - 1)
    assert result.summary["oom_kills"] == len(kills)
    assert result.summary["oom_restarts"] == len(restarts)
    # the pod holds its node through the back-offs: billed from start to end
    assert result.summary["instance_hours"] * 3600.0 == pytest.approx(
        result.summary["simulated_s"], rel=1e-12)

    req = t["requests"].to_pydict()
    statuses = list(zip(req["status"], req["reason"]))
    # conservation: every arrival has exactly one terminal status, and they add up
    assert len(statuses) == result.summary["arrivals"] == len(set(req["request_id"]))
    counts = {s: sum(1 for st, _ in statuses if st == s) for s in ("ok", "error", "timeout",
                                                                  "rejected")}
    assert sum(counts.values()) == len(statuses)
    assert {counts[s] for s in counts} and all(result.summary[s] == counts[s] for s in counts)
    oom = [i for i, (st, why) in enumerate(statuses) if why == "OOMKilled"]
    # what the instance held fails with it: the request that tipped it and the five it held
    assert len(oom) == 6 * len(kills) and all(statuses[i][0] == "error" for i in oom)
    ends = np.array(req["end_s"])[oom]
    assert set(np.round(ends, 9)) == set(np.round(kills, 9))
    down = [why for st, why in statuses if st == "rejected"]
    assert down and set(down) == {"NoHealthyInstance"}  # the balancer has no instance
    memory = t["metrics"].column("memory_frac").to_numpy()
    assert memory.max() <= 1.0 and memory.max() > 0.9


def test_shedding_before_the_limit_keeps_the_instance_alive(tmp_run):
    spec = small_spec(duration_s=60.0, workload=FLOOD,
                      instances={**SMALL, "max_memory_frac": 0.9},
                      timeouts={"request_s": "none"})
    result, t = run_tables(spec, tmp_run)
    assert [why for _, why in _instance_events(t["events"])] == ["Started"]
    assert "oom_kills" not in result.summary
    req = t["requests"].to_pydict()
    reasons = {why for st, why in zip(req["status"], req["reason"]) if st != "ok"}
    assert reasons == {"MemoryShed"}
    # 0.9 × 150 MB leaves room for three requests beside the 100 MB: memory at most 130 MB
    memory = t["metrics"].column("memory_frac").to_numpy()
    assert memory.max() <= 130.0 / 150.0 + 1e-12
    assert memory[2:-2].mean() > 0.95 * 130.0 / 150.0  # nearly always full once it starts


def test_memory_by_kind_and_tokens_is_what_the_requests_held(tmp_run):
    """memory_frac of each row against the requests' own spans (one instance, no timeouts:
    each request holds its memory from arrival to end)."""
    mix = {"small": {"weight": 1.0, "service": {"kind": "exponential", "mean_s": 0.05}},
           "big": {"weight": 1.0, "service": {"kind": "exponential", "mean_s": 0.2},
                   "prompt_tokens": {"mean": 2000, "cv": 1.0},
                   "output_tokens": {"mean": 300, "cv": 0.5}}}
    instances = {"count": 1, "slots": 4, "memory_base_mb": 200.0,
                 "memory_per_request_mb": 5.0, "memory_mb_by_kind": {"big": 20.0},
                 "memory_per_token_bytes": 4096.0, "memory_limit_mb": 4096.0}
    spec = small_spec(duration_s=30.0, workload={
        "arrivals": {"kind": "poisson", "rate_rps": 12.0}, "mix": mix},
        instances=instances, timeouts={"request_s": "none"})
    _, t = run_tables(spec, tmp_run)
    req = t["requests"].to_pydict()
    assert set(req["status"]) == {"ok"}
    held = np.where(np.array(req["kind"]) == "big", 20.0, 5.0) + (
        np.array(req["prompt_tokens"]) + np.array(req["output_tokens"])) * 4096.0 / 2**20
    start, end = np.array(req["arrival_s"]), np.array(req["end_s"])
    for row in t["metrics"].to_pylist():
        t0, t1 = row["t_s"], row["t_s"] + row["interval_s"]
        overlap = np.clip(np.minimum(end, t1) - np.maximum(start, t0), 0.0, None)
        expected = (200.0 + (held * overlap).sum() / (t1 - t0)) / 4096.0
        assert row["memory_frac"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("previous_s, ran_s, expected", [
    (None, 0.0, 10.0),      # the first kill
    (10.0, 5.0, 20.0),      # doubling
    (40.0, 599.0, 80.0),
    (160.0, 1.0, 300.0),    # capped at five minutes
    (300.0, 1.0, 300.0),
    (300.0, 600.0, 10.0),   # ten minutes of running: back to the start
])
def test_the_back_off_follows_kubernetes_crash_loop(previous_s, ran_s, expected):
    assert restart_backoff_s(previous_s, ran_s, 10.0, 300.0, 600.0) == expected


@pytest.mark.parametrize("base, per, ceiling, expected", [
    (100.0, 10.0, 150.0, 5), (100.0, 10.0, 149.9, 4), (0.0, 0.25, 1.0, 4), (0.0, 0.1, 0.3, 2),
    (512.0, 8.0, 2048.0, 192), (100.0, 0.0, 150.0, NEVER), (150.0, 10.0, 150.0, 0),
    # more than an instance can hold: no count to check (1e-300 MB once looped forever, as
    # 512 + 1e-300 × n stays 2048.0 in floating point)
    (512.0, 1e-300, 2048.0, NEVER), (512.0, 1e-6, 2048.0, NEVER),
])
def test_how_many_requests_fit(base, per, ceiling, expected):
    n = fits(base, per, ceiling)
    assert n == expected
    if n != NEVER:
        assert base + per * n <= ceiling < base + per * (n + 1)


SPIKE = "experiments/load_tests/spike.toml"
BAD = [
    ("instances.memory_base_mb=4096", "instances.memory_base_mb: 4096 MB is above"),
    ("instances.max_memory_frac=0.2", "instances.max_memory_frac: 0.2 × memory_limit_mb"),
    ("instances.max_memory_frac=1.5", "instances.max_memory_frac: Input should be less"),
    ("instances.restart_backoff_max_s=5", "instances.restart_backoff_max_s: 5 s is below"),
    ("instances.restart_backoff_s=0", "instances.restart_backoff_s: Input should be greater"),
    ("instances.memory_mb_by_kind.chat=1", "instances.memory_mb_by_kind.chat: no request kind"),
    ("instances.memory_per_token_bytes=1e9", "instances.memory_per_token_bytes: Input should"),
    ("network.nic_bandwidth_bps=0", "network.nic_bandwidth_bps: Input should be greater"),
    ("network.nic_bandwidth_bps=1e13", "network.nic_bandwidth_bps: Input should be less"),
    ("network.request_bytes=-1", "network.request_bytes: Input should be greater"),
    ("network.response_bytes_by_kind.nope=5", "network.response_bytes_by_kind.nope: no request"),
]


@pytest.mark.parametrize("override, expected", BAD, ids=[b[0] for b in BAD])
def test_bad_memory_and_network_values_exit_2_naming_the_field(tmp_path, override, expected):
    res = CliRunner().invoke(app, ["run", SPIKE, "--out", str(tmp_path / "out"), "--quiet",
                                   "--set", override])
    assert res.exit_code == 2, res.output
    assert expected in res.output, res.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("again_at_s, second", [(800.0, "BackOff:10s"), (300.0, "BackOff:20s")])
def test_ten_minutes_of_running_reset_the_back_off(tmp_run, again_at_s, second):
    """Two floods: the first kills the instance in its first second (it restarts 10 s
    later); the second kills it again. After 790 s of running the back-off starts over at
    10 s; after 290 s it doubles."""
    rate = [[0.0, 10.0], [3.0, 10.0], [3.0, 0.0], [again_at_s, 0.0], [again_at_s, 10.0]]
    spec = small_spec(duration_s=again_at_s + 5.0,
                      workload={**FLOOD, "arrivals": {"kind": "schedule", "points": rate}},
                      instances=SMALL, timeouts={"request_s": "none"})
    _, t = run_tables(spec, tmp_run)
    events = _instance_events(t["events"])
    backoffs = [(ts, why) for ts, why in events if why.startswith("BackOff:")]
    restarts = [ts for ts, why in events if why == "Restarted"]
    assert [why for _, why in backoffs[:2]] == ["BackOff:10s", second]
    assert backoffs[0][0] < 3.0 and restarts[0] == pytest.approx(backoffs[0][0] + 10.0)
    assert backoffs[1][0] >= again_at_s


def test_the_autoscaler_counts_a_pod_waiting_to_restart(tmp_run):
    """As the HPA counts a crash-looping pod among the Deployment's replicas: with one
    replica wanted and its container in back-off, nothing is added."""
    spec = small_spec(duration_s=60.0, workload=FLOOD, instances=SMALL,
                      timeouts={"request_s": "none"},
                      autoscaling={"enabled": True, "policy": "threshold",
                                   "params": {"min_replicas": 1, "max_replicas": 3,
                                              "scale_up_threshold": 0.99,
                                              "sync_period_s": 5.0},
                                   "scrape_interval_s": 5.0})
    result, t = run_tables(spec, tmp_run)
    assert result.summary["oom_kills"] >= 2
    assert result.summary["instances_added"] == 0
    assert {r["subject"] for r in t["events"].to_pylist() if r["kind"] == "instance"} == {
        "instance-0"}
