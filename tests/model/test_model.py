"""The model's laws: conservation, determinism, common random numbers, timeouts, queues."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simscale.model.runner import run
from simscale.workload.chunks import arrival_chunks
from tests.conftest import run_tables, small_spec

STATUSES = ("ok", "error", "timeout", "rejected")


def status_counts(requests) -> dict[str, int]:
    values = requests["status"].to_pylist()
    return {s: values.count(s) for s in STATUSES}


def test_conservation_every_arrival_has_one_terminal_status(tmp_run):
    result, t = run_tables(small_spec(), tmp_run)
    summary = result.summary
    requests = t["requests"]
    assert requests.num_rows == summary["arrivals"] > 2000
    counts = status_counts(requests)
    assert sum(counts.values()) == requests.num_rows
    assert [summary[s] for s in STATUSES] == [counts[s] for s in STATUSES]
    ids = requests["request_id"].to_numpy()
    assert len(np.unique(ids)) == len(ids) and ids.min() == 0 and ids.max() == len(ids) - 1


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rate=st.floats(5, 400), mean=st.floats(0.005, 0.5), count=st.integers(1, 4),
    slots=st.integers(1, 6), cores=st.integers(1, 6),
    queue_limit=st.one_of(st.none(), st.integers(0, 20)),
    timeout=st.one_of(st.none(), st.floats(0.05, 5.0)),
    policy=st.sampled_from(["round_robin", "random", "least_connections", "power_of_two_choices"]),
    seed=st.integers(0, 2**32),
)
def test_conservation_holds_for_any_configuration(rate, mean, count, slots, cores, queue_limit,
                                                  timeout, policy, seed):
    spec = small_spec(
        duration_s=20.0, seed=seed,
        workload={"arrivals": {"kind": "poisson", "rate_rps": rate},
                  "service": {"kind": "gamma", "mean_s": mean, "cv": 2.0}},
        instances={"count": count, "slots": slots, "cores": cores, "queue_limit": queue_limit},
        balancer={"policy": policy}, timeouts={"request_s": timeout},
    )
    s = run(spec, None).summary
    assert s["arrivals"] == s["ok"] + s["error"] + s["timeout"] + s["rejected"]
    if queue_limit is None and "oom_kills" not in s:  # a killed fleet rejects: none left
        assert s["rejected"] == 0
    if timeout is None:
        assert s["timeout"] == 0 or s["simulated_s"] >= spec.duration_s + 60.0


def test_same_seed_same_tables(tmp_path):
    spec = small_spec(balancer={"policy": "power_of_two_choices"})
    _, a = run_tables(spec, tmp_path / "a")
    _, b = run_tables(spec, tmp_path / "b")
    for name in ("requests", "metrics", "events"):
        assert a[name].equals(b[name]), name
    _, c = run_tables(spec.model_copy(update={"seed": spec.seed + 1}), tmp_path / "c")
    assert not a["requests"].equals(c["requests"])


def test_switching_the_balancer_keeps_the_workload_sample_path(tmp_path):
    """Common random numbers: arrivals and their work do not depend on the policy."""
    _, rnd = run_tables(small_spec(balancer={"policy": "random"}), tmp_path / "r")
    _, p2c = run_tables(small_spec(balancer={"policy": "power_of_two_choices"}), tmp_path / "p")
    assert rnd["requests"]["arrival_s"].equals(p2c["requests"]["arrival_s"]) or np.array_equal(
        np.sort(rnd["requests"]["arrival_s"].to_numpy()),
        np.sort(p2c["requests"]["arrival_s"].to_numpy()))
    assert not rnd["requests"]["instance_id"].equals(p2c["requests"]["instance_id"])
    spec = small_spec()
    first = list(arrival_chunks(spec.workload, spec.seed, spec.duration_s))
    again = list(arrival_chunks(spec.workload, spec.seed, spec.duration_s))
    assert all(np.array_equal(x.times_s, y.times_s) and np.array_equal(x.work_s, y.work_s)
               for x, y in zip(first, again, strict=True))


def test_timeouts_end_exactly_at_the_deadline(tmp_run):
    spec = small_spec(
        workload={"arrivals": {"kind": "poisson", "rate_rps": 100.0},
                  "service": {"kind": "deterministic", "value_s": 0.5}},
        instances={"count": 1, "slots": 2}, timeouts={"request_s": 1.0},
    )
    result, t = run_tables(spec, tmp_run)
    req = t["requests"]
    timed_out = req.filter(pc.equal(req["status"], "timeout"))
    assert timed_out.num_rows > 1000
    end, arrival = timed_out["end_s"].to_numpy(), timed_out["arrival_s"].to_numpy()
    assert np.allclose(end - arrival, 1.0)
    assert timed_out["latency_s"].null_count == timed_out.num_rows
    assert set(timed_out["reason"].to_pylist()) <= {"RequestTimeout", "RunEnded"}
    ok = req.filter(pc.equal(req["status"], "ok"))
    assert pc.max(ok["latency_s"]).as_py() <= 1.0 + 1e-9  # nobody answered after the deadline


def test_full_queue_rejects_with_a_reason(tmp_run):
    spec = small_spec(
        workload={"arrivals": {"kind": "poisson", "rate_rps": 200.0},
                  "service": {"kind": "exponential", "mean_s": 0.05}},
        instances={"count": 1, "slots": 2, "queue_limit": 3},
    )
    _, t = run_tables(spec, tmp_run)
    req = t["requests"]
    rejected = req.filter(pc.equal(req["status"], "rejected"))
    assert rejected.num_rows > 100
    assert set(rejected["reason"].to_pylist()) == {"QueueFull"}
    assert rejected["latency_s"].null_count == rejected.num_rows
    assert pc.max(t["metrics"]["queued"]).as_py() <= 3


def test_processor_sharing_two_equal_jobs_finish_together():
    """Two 1-core-second jobs sharing one core both finish at t = 2 (PS), not 1 and 2 (FCFS)."""
    spec = small_spec(
        duration_s=0.0015,
        workload={"arrivals": {"kind": "poisson", "rate_rps": 1.0},
                  "service": {"kind": "deterministic", "value_s": 1.0}},
        instances={"count": 1, "slots": 4, "cores": 1}, timeouts={"request_s": "none"},
    )
    from simscale.model import Model
    from simscale.outputs.recorder import RequestLog

    log = RequestLog(None, 10)
    model = Model(spec, log)
    from policies.views import RequestInfo
    from simscale.model.request import Request

    for rid in (0, 1):
        model.dispatch(Request(RequestInfo(rid, arrival_s=0.0), 1.0), 0.0)
    model.run_until(1.99)
    assert model.instances[0].busy == 2
    model.run_until(2.01)
    assert model.instances[0].busy == 0
    log.flush()
    assert log.counts[0] == 2
    assert np.allclose(log.ok_latency.values(), [2.0, 2.0])


@pytest.mark.parametrize(("cores", "jobs", "ends"), [
    # a second job halves the first one's rate: its pending wake-up at t = 1 comes early
    (1, [(0.0, 1.0), (0.5, 1.0)], [1.5, 2.0]),
    # a short job arrives and ends first: it needs a wake-up sooner than the pending one
    (1, [(0.0, 3.0), (1.0, 0.5)], [3.5, 2.0]),
    # two cores, two jobs at full speed, then a third: all three share 2 cores and end together
    (2, [(0.0, 2.0), (0.0, 2.0), (1.0, 1.0)], [2.5, 2.5, 2.5]),
])
def test_processor_sharing_end_times(cores, jobs, ends):
    """Jobs (arrival_s, work_s) on one instance with `cores` cores end at the PS times."""
    from policies.views import RequestInfo
    from simscale.model import Model
    from simscale.model.request import Request
    from simscale.outputs.recorder import RequestLog

    spec = small_spec(
        duration_s=0.0015,
        workload={"arrivals": {"kind": "poisson", "rate_rps": 1.0},
                  "service": {"kind": "deterministic", "value_s": 1.0}},
        instances={"count": 1, "slots": 8, "cores": cores}, timeouts={"request_s": "none"},
    )
    model = Model(spec, RequestLog(None, 10))
    ended: dict[int, float] = {}
    model.hooks.end.append(lambda req, _status, now: ended.update({req.info.request_id: now}))
    for rid, (arrival_s, work_s) in enumerate(jobs, start=100):
        model.run_until(arrival_s)
        model.dispatch(Request(RequestInfo(rid, arrival_s=arrival_s), work_s), arrival_s)
    model.run_until(10.0)
    assert [ended[rid] for rid in range(100, 100 + len(jobs))] == pytest.approx(ends)


# Two kinds of request with fixed CPU work on one core, at rho = 1 rps × 0.6 s = 0.6.
TWO_SIZES = {"short": {"weight": 0.8, "service": {"kind": "deterministic", "value_s": 0.25}},
             "long": {"weight": 0.2, "service": {"kind": "deterministic", "value_s": 2.0}}}
RHO = 0.6


def response_by_size(tmp_path, slots: int) -> dict[str, float]:
    """Mean response time of each kind after a 500 s warm-up, one core, `slots` slots."""
    spec = small_spec(
        duration_s=20_000.0, seed=1,
        workload={"arrivals": {"kind": "poisson", "rate_rps": 1.0}, "mix": TWO_SIZES},
        instances={"count": 1, "slots": slots, "cores": 1}, timeouts={"request_s": "none"},
        metrics={"interval_s": 1000.0})
    _, t = run_tables(spec, tmp_path / f"slots{slots}")
    req = t["requests"]
    kind = np.array(req["kind"].to_pylist())
    latency = req["latency_s"].to_numpy()
    steady = req["arrival_s"].to_numpy() > 500.0
    return {k: float(latency[steady & (kind == k)].mean()) for k in TWO_SIZES}


def test_processor_sharing_response_is_proportional_to_the_work(tmp_path):
    """M/G/1-PS: a job of size x spends x / (1 − rho) in the system whatever the service
    distribution (Kleinrock 1976, insensitivity), so the long jobs take 8× the short ones. A
    FCFS queue gives every job the same wait, W + x with W = λE[S²]/(2(1 − rho)) (Pollaczek-
    Khinchine): a shared core run as FCFS fails both checks, and the FCFS run below (one slot)
    shows the contrast."""
    ps = response_by_size(tmp_path, slots=1000)
    assert ps["short"] == pytest.approx(0.25 / (1 - RHO), rel=0.06)
    assert ps["long"] == pytest.approx(2.0 / (1 - RHO), rel=0.06)
    assert ps["long"] / ps["short"] == pytest.approx(8.0, rel=0.06)


def test_one_slot_serves_first_come_first_served(tmp_path):
    fcfs = response_by_size(tmp_path, slots=1)
    second_moment = 0.8 * 0.25**2 + 0.2 * 2.0**2
    wait = 1.0 * second_moment / (2 * (1 - RHO))  # 1.0625 s
    assert fcfs["short"] == pytest.approx(wait + 0.25, rel=0.06)
    assert fcfs["long"] == pytest.approx(wait + 2.0, rel=0.06)
    assert fcfs["long"] - fcfs["short"] == pytest.approx(1.75, rel=0.06)


def test_metrics_rows_cover_the_run(tmp_run):
    result, t = run_tables(small_spec(), tmp_run)
    m = t["metrics"]
    starts = m["t_s"].to_numpy()
    assert starts[0] == 0.0 and np.all(np.diff(starts) > 0)
    assert np.isclose((starts + m["interval_s"].to_numpy())[-1], result.summary["simulated_s"])
    arrivals = (m["arrivals_rps"].to_numpy() * m["interval_s"].to_numpy()).sum()
    assert round(arrivals) == result.summary["arrivals"]
    util = m["utilization"].to_numpy()
    assert np.all((util >= 0) & (util <= 1 + 1e-9))


def test_a_crash_hands_back_waiting_requests_in_the_order_they_began_waiting():
    """The order does not depend on where the requests sit in memory (a set of requests
    iterates by address, so the same seed could end them in another order, and write other
    tables, after other work in the same process)."""
    from policies.views import RequestInfo
    from simscale.model import Model
    from simscale.model.request import Request
    from simscale.outputs.recorder import RequestLog

    spec = small_spec(instances={"count": 1, "slots": 64, "cores": 1})
    model = Model(spec, RequestLog(None, 10))
    instance = model.instances[0]
    reqs = [Request(RequestInfo(rid, arrival_s=0.0), 1.0) for rid in range(40)]
    order = sorted(reqs, key=id, reverse=True)  # against the grain of their addresses
    for req in order:
        model.begin_wait(instance, req)
    assert instance.unfinished() == order
    assert instance.evacuate() == order
