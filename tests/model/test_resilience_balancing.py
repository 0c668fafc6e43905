"""Balancing under load and under faults: P2C against random, least response time against
round robin under a gray failure, slow start ramps, panic mode."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pytest

from simscale.model import Model
from simscale.outputs.recorder import RequestLog
from tests.conftest import run_tables, small_spec


def test_power_of_two_choices_beats_random_on_the_same_sample_path(tmp_path):
    """At rho 0.9 on 8 single-slot instances, P2C's p99 is well below random's (Mitzenmacher:
    the maximum queue drops from log n / log log n to log log n); both see the same arrivals
    and the same work (common random numbers)."""
    base = dict(duration_s=150.0, seed=3,
                workload={"arrivals": {"kind": "poisson", "rate_rps": 144.0},
                          "service": {"kind": "exponential", "mean_s": 0.05}},
                instances={"count": 8, "slots": 1}, timeouts={"request_s": "none"})
    rnd, t_rnd = run_tables(small_spec(balancer={"policy": "random"}, **base), tmp_path / "r")
    p2c, t_p2c = run_tables(small_spec(balancer={"policy": "power_of_two_choices"}, **base),
                            tmp_path / "p")
    arrivals = [np.sort(t["requests"]["arrival_s"].to_numpy()) for t in (t_rnd, t_p2c)]
    assert np.array_equal(*arrivals)
    assert rnd.summary["ok"] == p2c.summary["ok"] == rnd.summary["arrivals"]
    assert p2c.summary["latency_p99_s"] < 0.5 * rnd.summary["latency_p99_s"]
    assert p2c.summary["latency_mean_s"] < rnd.summary["latency_mean_s"]


GRAY = {name: f"resilience/gray_failure_{name}.toml"
        for name in ("round_robin", "least_response_time")}


@pytest.mark.shipped(*[(rel,) for rel in GRAY.values()])
def test_least_response_time_routes_around_a_gray_failure(shipped):
    """One instance 6x slower from 60 s to 180 s (the suite runs to 120 s): round robin
    keeps feeding it (timeouts, a full queue); least response time (peak EWMA) gives it only
    what it can serve."""
    rr, lrt = (shipped(rel).summary for rel in GRAY.values())
    assert rr["arrivals"] == lrt["arrivals"]
    assert rr["timeout"] + rr["rejected"] > 100
    assert lrt["timeout"] + lrt["rejected"] + lrt["error"] == 0
    assert lrt["latency_p99_s"] < rr["latency_p99_s"] / 5


def _model(**changes) -> Model:
    return Model(small_spec(**changes), RequestLog(None, 1000))


def test_slow_start_ramps_a_recovered_instances_weight():
    model = _model(
        duration_s=60.0, balancer={"policy": "power_of_two_choices"},
        instances={"count": 2, "slots": 4},
        resilience={"slow_start": {"window_s": 10.0, "update_interval_s": 1.0},
                    "faults": [{"kind": "crash", "target": 1, "at_s": 10.0,
                                "recover_at_s": 20.0}]})
    view = model.instances[1].view
    weights = {}
    for t in (5.0, 20.5, 22.5, 25.5, 29.5, 30.5, 40.0):
        model.run_until(t)
        weights[t] = view.weight
    assert weights[5.0] == 1.0
    assert weights[20.5] == pytest.approx(0.1)      # Envoy's min_weight_percent floor
    assert weights[22.5] == pytest.approx(0.2)      # 2 s of 10: linear (aggression 1)
    assert weights[25.5] == pytest.approx(0.5)
    assert weights[29.5] == pytest.approx(0.9)
    assert weights[30.5] == weights[40.0] == 1.0
    # every weight change handed the balancer a new candidate tuple with the new weight
    assert [v.weight for v in model.candidates] == [1.0, 1.0]


def test_slow_start_sends_a_recovered_instance_less_at_first(tmp_run):
    spec = small_spec(
        duration_s=60.0, balancer={"policy": "power_of_two_choices"},
        workload={"arrivals": {"kind": "poisson", "rate_rps": 200.0},
                  "service": {"kind": "exponential", "mean_s": 0.01}},
        instances={"count": 2, "slots": 4},
        resilience={"slow_start": {"window_s": 20.0},
                    "faults": [{"kind": "crash", "target": 1, "at_s": 10.0,
                                "recover_at_s": 20.0}]})
    _, t = run_tables(spec, tmp_run)
    req = t["requests"]

    def share(lo, hi):
        window = req.filter(pc.and_(pc.greater_equal(req["arrival_s"], lo),
                                    pc.less(req["arrival_s"], hi)))
        return pc.mean(pc.equal(window["instance_id"], 1)).as_py()

    assert share(20.0, 23.0) < 0.2
    assert share(20.0, 23.0) < share(27.0, 30.0) < share(45.0, 60.0)
    assert share(45.0, 60.0) == pytest.approx(0.5, abs=0.05)


def _crash_three(threshold: float):
    return small_spec(
        duration_s=40.0, balancer={"policy": "round_robin"},
        instances={"count": 4, "slots": 4},
        resilience={"health_check": {"interval_s": 1.0, "unhealthy_threshold": 2},
                    "panic_threshold_percent": threshold,
                    "faults": [{"kind": "crash", "target": i, "at_s": 10.0}
                               for i in (0, 1, 2)]})


def test_panic_mode_balances_across_every_instance_when_too_few_are_healthy(tmp_path):
    result, t = run_tables(_crash_three(50.0), tmp_path / "panic")
    events = t["events"].to_pylist()
    panic = [e for e in events if e["kind"] == "panic"]
    assert [e["reason"] for e in panic] == ["Panic:BelowThreshold"]
    assert 10.0 < panic[0]["t_s"] <= 13.0
    req = t["requests"]
    late = req.filter(pc.greater(req["arrival_s"], panic[0]["t_s"]))
    # in panic, round robin still sends three quarters to the crashed ones: refused
    refused = pc.mean(pc.equal(late["reason"], "ConnectionRefused")).as_py()
    assert refused == pytest.approx(0.75, abs=0.03)
    assert t["metrics"]["panic"].to_pylist()[-1] == 1

    calm, t0 = run_tables(_crash_three(0.0), tmp_path / "off")
    assert not [e for e in t0["events"].to_pylist() if e["kind"] == "panic"]
    req0 = t0["requests"]
    late0 = req0.filter(pc.greater(req0["arrival_s"], 13.0))
    assert set(late0["instance_id"].to_pylist()) == {3}
    assert calm.summary["error"] < result.summary["error"] / 10


def test_a_new_instance_joins_after_its_first_probe_when_it_does_not_start_healthy():
    model = _model(instances={"count": 2, "slots": 2},
                   resilience={"health_check": {"interval_s": 1.0, "start_healthy": False}})
    model.run_until(5.0)
    inst = model.add_instance()  # booting: not a candidate
    assert inst.view not in model.candidates
    model.run_until(6.0)
    model.ready(inst)
    assert not inst.view.healthy and inst.view not in model.candidates
    model.run_until(6.01)  # a host that becomes ready is probed at once
    assert inst.view.healthy and inst.view in model.candidates
    assert ("health", inst.name, "Healthy:FirstCheck") in [e[1:] for e in model.events]
