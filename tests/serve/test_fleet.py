"""Fleets: the registry's autoscaler in a ControlLoop on a stepped clock, fed over HTTP.

The scripted series are those of the policy's own table-driven tests
(tests/policies/test_autoscaler_target_tracking.py): each step, `replicas` instances push
the step's load, the clock moves one sync period, and the fleet decides. The fleet must reach
the same desired replicas with the same reasons as the policy driven directly.
"""

from __future__ import annotations

import sys

import pytest

from policies.autoscalers.behavior import ScalingRules
from policies.autoscalers.target_tracking import TargetTracking, TargetTrackingConfig
from simscale.serve.hooks import Command
from tests.policies.autoscaler_helpers import decision_log
from tests.policies.test_autoscaler_target_tracking import view
from tests.serve.clock import SteppedClock, wait_until
from tests.serve.conftest import AUTH, TOKEN, fleet_spec, wait_for

PERIOD_S = 15.0


def drive_fleet(running, clock, loads, start, fleet="web"):
    """Push each step's samples just before its decision time; [(t, replicas, reason)]."""
    client, replicas, log = running.client, start, []
    for k, load in enumerate(loads):
        t = k * PERIOD_S
        clock.wait_for_sleeper()  # the loop waits for step k's time
        clock.set(t - 1.0)  # the samples of step k, stamped inside the scrape window at t
        samples = [{"instance": f"pod-{i}", "cpu_util_frac": load} for i in range(replicas)]
        r = client.put(f"/api/scaling/auto-scale/metrics?fleet={fleet}", headers=AUTH,
                       json={"samples": samples})
        assert r.status_code == 202 and r.json()["accepted"] == replicas
        clock.set(t)
        status = wait_for(client, f"/api/scaling/auto-scale?fleet={fleet}",
                          lambda s, k=k: len(s["decisions"]) > k, 10.0, headers=AUTH)
        decision = status["decisions"][k]
        assert decision["current_replicas"] == replicas
        replicas = decision["desired_replicas"]
        log.append((decision["t_s"], replicas, decision["reason"]))
    return log


CASES = [
    # (name, config, loads, start, the table test's replicas)
    ("scale up: max of 100% or 4 pods per 15 s", dict(min_replicas=2, max_replicas=40),
     [4.0] * 5, 2, [6, 12, 24, 40, 40]),
    ("a spike inside the down window holds the high recommendation",
     dict(min_replicas=1, max_replicas=10, scale_down={"stabilization_window_s": 60}),
     [0.8] * 5 + [1.6] + [0.4] * 6, 4, [4, 4, 4, 4, 4, 8, 8, 8, 8, 4, 4, 4]),
    ("scale down waits for the 300 s window", dict(min_replicas=2, max_replicas=10),
     [0.2] * 22, 8, [8] * 20 + [2, 2]),
]


@pytest.mark.parametrize("params, loads, start, table", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_fleet_decides_as_the_policy_tables(serve, params, loads, start, table):
    clock = SteppedClock(-PERIOD_S)  # the first decision, one period in, is at t = 0
    running = serve(clock=clock, fleets=[fleet_spec(params=params)], token=TOKEN)
    fleet_log = drive_fleet(running, clock, loads, start)

    config = dict(params)
    if "scale_down" in config:
        config["scale_down"] = ScalingRules(**config["scale_down"])
    direct = decision_log(TargetTracking(TargetTrackingConfig(**config)), view, loads, start,
                          PERIOD_S)
    assert fleet_log == direct
    assert [r for _, r, _ in fleet_log] == table


def test_decisions_are_recorded_and_counted(serve):
    clock = SteppedClock(-PERIOD_S)
    running = serve(clock=clock, fleets=[fleet_spec()], token=TOKEN)
    drive_fleet(running, clock, [4.0] * 3, 2)
    status = running.client.get("/api/scaling/auto-scale", headers=AUTH).json()
    assert status["decisions_by_reason"] == {"ScaleUpLimit": 3}
    assert status["mode"] == "shadow" and {d["applied"] for d in status["decisions"]} == {
        "shadow"}
    assert (status["current_replicas"], status["desired_replicas"]) == (12, 24)
    exposition = running.client.get("/metrics").text
    assert 'simscale_fleet_desired_replicas{fleet="web"} 24.0' in exposition
    assert 'simscale_fleet_decisions_total{fleet="web",reason="ScaleUpLimit"} 3.0' in exposition
    assert 'simscale_fleet_samples_total{fleet="web"} 20.0' in exposition  # 2 + 6 + 12


def test_config_update_is_validated_by_the_policy_config(serve):
    running = serve(fleets=[fleet_spec()], token=TOKEN)
    client = running.client
    bad = client.post("/api/scaling/auto-scale", headers=AUTH,
                      json={"params": {"min_replicas": 5, "max_replicas": 2}})
    assert bad.status_code == 422
    assert [d["loc"][:2] for d in bad.json()["detail"]] == [["body", "params"]]
    unknown = client.post("/api/scaling/auto-scale", headers=AUTH,
                          json={"policy": "threshold", "params": {"bogus": 1}})
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["field"] == "params.bogus"
    nopolicy = client.post("/api/scaling/auto-scale", headers=AUTH, json={"policy": "nope"})
    assert nopolicy.status_code == 422 and nopolicy.json()["detail"][0]["field"] == "policy"

    ok = client.post("/api/scaling/auto-scale", headers=AUTH,
                     json={"policy": "concurrency",
                           "params": {"target_in_flight_per_instance": 8}})
    assert ok.status_code == 200
    assert ok.json()["policy"] == "concurrency"
    assert ok.json()["config"]["target_in_flight_per_instance"] == 8
    status = client.get("/api/scaling/auto-scale", headers=AUTH).json()
    assert status["policy"] == "concurrency"


def test_alert_rules_fire_on_cluster_samples(serve):
    clock = SteppedClock(0.0)
    alerts = {"use_defaults": False, "rules": [
        {"name": "SlowP95", "metric": "latency_p95_s", "warning": 1.0, "critical": 2.0}]}
    running = serve(clock=clock, fleets=[fleet_spec(alerts=alerts)], token=TOKEN)
    client = running.client
    for t, p95 in [(5.0, 0.5), (20.0, 1.5), (35.0, 2.5), (50.0, 0.4)]:
        clock.set(t)
        r = client.post("/api/monitoring/dashboard", headers=AUTH,
                        json={"metrics": {"latency_p95_s": p95, "error_rate": 0.0}})
        assert r.status_code == 202
    clock.set(60.0)
    board = client.get("/api/monitoring/dashboard?fleet=web&window=all").json()
    # the scrapes at 15, 30, 45 and 60 each cover the 15 s before them
    severities = [(t["rule"], t["severity"]) for t in board["transitions"]]
    assert severities == [("SlowP95", "warning"), ("SlowP95", "critical"),
                          ("SlowP95", "resolved")]
    assert board["firing"] == []
    assert board["aggregates"]["latency_p95_s"]["max"] == 2.5
    assert [t["t_s"] for t in board["transitions"]] == [30.0, 45.0, 60.0]


def test_firing_alert_is_exposed(serve):
    clock = SteppedClock(0.0)
    running = serve(clock=clock, fleets=[fleet_spec()], token=TOKEN)
    client = running.client
    for t in (5.0, 20.0, 35.0, 50.0, 65.0, 80.0):
        clock.set(t)
        client.post("/api/monitoring/dashboard", headers=AUTH,
                    json={"metrics": {"error_rate": 0.2}})
    clock.set(90.0)
    board = client.get("/api/monitoring/dashboard").json()  # the only fleet
    assert [(a["rule"], a["severity"]) for a in board["firing"]] == [
        ("HighErrorRate", "critical")]
    assert 'simscale_fleet_alert_state{fleet="web",rule="HighErrorRate"} 2.0' in \
        client.get("/metrics").text


def test_command_hook_runs_without_a_shell(serve, tmp_path):
    out = tmp_path / "scaled.txt"
    script = "import sys; open(sys.argv[1], 'a').write(' '.join(sys.argv[2:]) + '\\n')"
    hook = Command(f"{sys.executable} -c \"{script}\" {out} {{fleet}} {{replicas}} "
                   f"'{{current}};rm -rf /'")
    clock = SteppedClock(-PERIOD_S)
    running = serve(clock=clock, fleets=[fleet_spec()], token=TOKEN, hook=hook)
    drive_fleet(running, clock, [4.0, 4.0], 2)
    assert out.read_text().splitlines() == ["web 6 2;rm -rf /", "web 12 6;rm -rf /"]
    status = running.client.get("/api/scaling/auto-scale", headers=AUTH).json()
    assert [d["applied"] for d in status["decisions"]] == ["applied", "applied"]


def test_a_raising_policy_stops_the_loop_and_health_says_so(serve, monkeypatch):
    clock = SteppedClock(-PERIOD_S)
    running = serve(clock=clock, fleets=[fleet_spec()], token=TOKEN)
    fleet = running.services.fleets["web"]

    def broken(view, now_s):
        raise RuntimeError("boom")

    monkeypatch.setattr(fleet.policy, "decide", broken)
    clock.wait_for_sleeper()
    clock.set(0.0)
    health = wait_for(running.client, "/api/health", lambda h: h["status"] != "ok", 10.0)
    assert health["fleets"]["web"]["state"] == "failed"
    assert "RuntimeError: boom" in health["fleets"]["web"]["error"]
    assert running.client.get("/api/health").status_code == 503


def test_unknown_fleet_and_no_fleet(serve):
    running = serve(fleets=[fleet_spec("a"), fleet_spec("b")], token=TOKEN)
    client = running.client
    assert client.get("/api/scaling/auto-scale?fleet=zzz", headers=AUTH).status_code == 404
    both = client.get("/api/scaling/auto-scale", headers=AUTH).json()
    assert [f["fleet"] for f in both["fleets"]] == ["a", "b"]
    push = {"samples": [{"instance": "x", "cpu_util_frac": 0.5}]}
    assert client.put("/api/scaling/auto-scale/metrics", headers=AUTH,
                      json=push).status_code == 422
    bare = serve(root=running.services.settings.spec_root / "bare", token=TOKEN)
    assert bare.client.get("/api/scaling/auto-scale?fleet=a",
                           headers=AUTH).status_code == 404


def test_a_reopened_fleet_has_its_last_decisions_and_recent_samples(tmp_path):
    from simscale.serve.fleet import Fleet

    clock = SteppedClock(-PERIOD_S)
    fleet = Fleet(fleet_spec(), tmp_path, clock=clock, sleep=clock.sleep)
    fleet.start()
    for k in range(3):
        clock.wait_for_sleeper()
        clock.set(k * PERIOD_S - 1.0)
        fleet.add_samples([{"instance": f"pod-{i}", "cpu_util_frac": 4.0} for i in range(2)])
        clock.set(k * PERIOD_S)
        wait_until(lambda k=k: len(fleet.decisions) > k, what="a decision")
    fleet._stop.set()
    clock.close()
    fleet.stop()
    before = list(fleet.decisions)

    clock = SteppedClock(2 * PERIOD_S + 5.0)  # restarted 5 s after the last decision
    again = Fleet(fleet_spec(), tmp_path, clock=clock, sleep=clock.sleep)
    assert list(again.decisions) == before and again.desired == before[-1]["desired_replicas"]
    assert sorted(again.scraper.tracks) == ["pod-0", "pod-1"]  # the window's samples are back
    assert again.scraper.view(clock()).current_replicas == 2
