"""The load tests, workloads and trace replays show what their headers promise: the smoke
test ends clean, the ramp bends, the spike recovers, the soak holds steady, the stress test
finds its breaking point, the MMPP is bursty, closed-loop load follows the service's speed,
the diurnal profile is followed, and the replays carry their traces' documented shapes."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pytest
from scipy import stats

from simscale.model.runner import run
from tests.conftest import ROOT, small_spec

FOLDERS = ("load_tests", "traces", "workload")
SPECS = sorted(p for folder in FOLDERS for p in (ROOT / "experiments" / folder).glob("*.toml"))
SLOW_LLM = "upstream.tpot_s=0.1"  # five times the closed-loop spec's 20 ms per token

pytestmark = pytest.mark.shipped(*[(f"{p.parent.name}/{p.name}",) for p in SPECS],
                                 ("workload/closed_loop.toml", SLOW_LLM))


def test_the_load_tests_are_all_there():
    names = {p.stem for p in SPECS if p.parent.name == "load_tests"}
    assert names == {"smoke", "ramp", "spike", "soak", "stress", "network"}
    assert {p.stem for p in SPECS if p.parent.name == "traces"} == {
        "azure_conv", "azure_code", "mooncake_conversation"}


def whole_rows(run) -> list[dict]:
    """Metrics rows of full intervals inside the arrival window."""
    return [r for r in run.rows if r["t_s"] + r["interval_s"] <= run.spec.duration_s
            and r["interval_s"] == run.spec.metrics.interval_s]


def p95s(rows: list[dict], lo_s: float, hi_s: float) -> list[float]:
    return [r["latency_p95_s"] for r in rows if lo_s <= r["t_s"] < hi_s]


# ---------------------------------------------------------------- load tests


def test_smoke_ends_with_no_errors_through_every_kind_and_the_llm(shipped):
    run = shipped("load_tests/smoke.toml")
    s = run.summary
    assert s["ok"] == s["arrivals"] > 1000
    kinds = set(run.table("requests")["kind"].to_pylist())
    assert kinds == set(run.spec.workload.mix)
    assert s["ttft_p50_s"] > 0 and s["upstream_calls"] > 0


def test_the_ramp_climbs_linearly_and_latency_bends_near_the_top(shipped):
    """5 → 130 rps over 600 s: each row's arrivals follow the line (Poisson, 4 sd); latency
    is flat on the way up and bends at the top (the LLM streams fill the slots), where the
    first requests are rejected."""
    run = shipped("load_tests/ramp.toml")
    rows = whole_rows(run)
    for r in rows:
        mid = r["t_s"] + r["interval_s"] / 2
        expected = (5 + 125 * min(mid, 600.0) / 600) * r["interval_s"]
        assert abs(r["arrivals_rps"] * r["interval_s"] - expected) < 4 * np.sqrt(expected) + 2
    low, top = np.median(p95s(rows, 0, 300)), np.median(p95s(rows, 700, 900))
    assert top > 2 * low
    req = run.table("requests")
    rejected = req.filter(pc.equal(req["status"], "rejected"))["arrival_s"].to_numpy()
    assert len(rejected) > 100 and rejected.min() > 400.0  # beyond ~90 rps only


def test_the_spike_hurts_while_it_lasts_and_the_service_recovers(shipped):
    """40 rps, then 200 rps from 250 s to 310 s (10 s ramps either side)."""
    run = shipped("load_tests/spike.toml")
    rows = whole_rows(run)
    base = np.median(p95s(rows, 60, 230))
    assert max(p95s(rows, 240, 330)) > 2 * base
    assert np.median(p95s(rows, 400, 600)) < 1.3 * base  # back to normal within 90 s
    req = run.table("requests")
    rejected = req.filter(pc.equal(req["status"], "rejected"))["arrival_s"].to_numpy()
    assert len(rejected) > 100 and 240.0 <= rejected.min() and rejected.max() <= 330.0


def test_the_soak_holds_steady(shipped):
    """60 rps after a 5-minute ramp: no drift in latency or in the work in progress."""
    run = shipped("load_tests/soak.toml")
    rows = [r for r in whole_rows(run) if r["t_s"] >= 300.0]
    half = len(rows) // 2
    first, second = rows[:half], rows[half:]
    assert np.median([r["latency_p95_s"] for r in second]) == pytest.approx(
        np.median([r["latency_p95_s"] for r in first]), rel=0.15)
    assert np.mean([r["in_flight"] for r in second]) == pytest.approx(
        np.mean([r["in_flight"] for r in first]), rel=0.15)
    assert run.summary["ok"] == run.summary["arrivals"]
    assert np.mean([r["arrivals_rps"] for r in rows]) == pytest.approx(60.0, rel=0.03)


def test_stress_finds_the_step_where_the_ttft_slo_breaks(shipped):
    """Stairs of +20 rps a minute; each step held while the p95 time to first token of its
    arrivals stays <= 2 s with <= 1 % failing. Recomputed here from requests.parquet."""
    run = shipped("load_tests/stress.toml")
    s = run.summary
    req = run.table("requests")
    arrival = req["arrival_s"].to_numpy()
    ttft = req["ttft_s"].to_numpy(zero_copy_only=False)
    ok = (req["status"].to_numpy(zero_copy_only=False) == "ok")

    def step(k: int) -> tuple[float, float]:
        """p95 time to first token and failed fraction of the arrivals of step k."""
        mine = (arrival >= 60.0 * k) & (arrival < 60.0 * (k + 1))
        return float(np.quantile(ttft[mine & ok & ~np.isnan(ttft)], 0.95)), 1 - ok[mine].mean()

    held = next(k for k in range(12) if step(k)[0] > 2.0 or step(k)[1] > 0.01)
    assert s["stress_steps_held"] == held >= 2
    assert s["stress_breaking_rps"] == 20.0 * (held + 1)
    assert s["stress_max_ok_rps"] == 20.0 * held
    assert s["stress_breaking_p95_s"] == pytest.approx(step(held)[0], rel=1e-9)
    assert s["stress_breaking_p95_s"] > 2.0


def test_stress_reports_the_breaking_point():
    """One M/D/1 server of capacity 100 rps offered 20, 40, ... rps a step: the p95 stays
    far below 0.1 s up to 60 rps (rho 0.6) and is far above it at 120 rps (overload)."""
    arrivals = {"kind": "stairs", "start_rps": 20.0, "step_rps": 20.0, "step_s": 30.0,
                "steps": 6, "slo_p95_s": 0.1}
    spec = small_spec(duration_s=180.0, workload={
        "arrivals": arrivals, "service": {"kind": "deterministic", "value_s": 0.01}},
        instances={"count": 1, "slots": 1}, timeouts={"request_s": 5.0})
    s = run(spec, None).summary
    assert s["stress_breaking_rps"] in (80.0, 100.0, 120.0)
    assert s["stress_max_ok_rps"] == s["stress_breaking_rps"] - 20.0
    assert s["stress_steps_held"] == s["stress_max_ok_rps"] / 20.0
    assert s["stress_breaking_p95_s"] > 0.1


def test_stress_with_no_break_reports_the_top_step():
    arrivals = {"kind": "stairs", "start_rps": 5.0, "step_rps": 5.0, "step_s": 20.0,
                "steps": 3, "slo_p95_s": 1.0}
    spec = small_spec(duration_s=60.0, workload={"arrivals": arrivals})
    s = run(spec, None).summary
    assert s["stress_breaking_rps"] is None and s["stress_max_ok_rps"] == 15.0
    assert s["stress_steps_held"] == 3


# ---------------------------------------------------------------- workloads


def test_bursty_arrivals_burst_to_300_rps_around_a_102_rps_mean(shipped):
    """MMPP(2): 80 rps, bursts of ~10 s at 300 rps about every 90 s. The count is within 3
    sd of 102 rps (the MMPP's own variance over 900 s: bursts are few), one-second counts
    sit at the two rates, and 10-second counts are far more dispersed than Poisson."""
    run = shipped("workload/bursty.toml")
    process = run.spec.workload.arrivals.process()
    horizon_s = run.spec.duration_s
    assert process.mean_rate_rps == pytest.approx(102.0, rel=0.01)
    arrivals = run.summary["arrivals"]
    assert abs(arrivals - 102.0 * horizon_s) < 3 * np.sqrt(process.count_variance(horizon_s))
    times = run.table("requests")["arrival_s"].to_numpy()
    per_second = np.bincount(times.astype(int), minlength=int(horizon_s))
    burst = per_second > 190
    assert 10 <= burst.sum() <= 300
    assert np.median(per_second[burst]) == pytest.approx(300, rel=0.1)
    assert np.median(per_second[~burst]) == pytest.approx(80, rel=0.1)
    per_10s = np.bincount((times // 10).astype(int), minlength=int(horizon_s / 10))
    assert per_10s.var() / per_10s.mean() > 20


def test_closed_loop_users_ramp_in_and_their_load_follows_the_service_speed(shipped):
    """400 users join over 2 minutes, each session opens with load_history and
    user_profile, then about six chat turns. A slower LLM (5× the time per token) makes
    every turn longer, so the same users send fewer requests."""
    run = shipped("workload/closed_loop.toml")
    slow = shipped("workload/closed_loop.toml", SLOW_LLM)
    s = run.summary
    assert s["users"] == 400
    at_ramp_end = next(r for r in run.rows if r["t_s"] + r["interval_s"] >= 120.0)
    assert at_ramp_end["users_started"] == 400
    kinds = run.table("requests")["kind"].to_pylist()
    sessions = s["user_sessions"]
    assert kinds.count("load_history") >= sessions and kinds.count("user_profile") >= sessions
    assert 4.0 <= kinds.count("chat_message") / sessions <= 7.0
    assert slow.summary["latency_p50_s"] > 2 * s["latency_p50_s"]
    assert slow.summary["arrivals"] < 0.9 * s["arrivals"]


def test_the_diurnal_profile_is_followed_hour_by_hour(shipped):
    """Rates at hour middles, interpolated linearly (wrapping midnight): counts per
    half hour of the first four hours against that integral (chi-square, p > 0.001)."""
    run = shipped("workload/diurnal.toml")
    rates = run.spec.workload.arrivals.rates_rps
    hours = np.arange(-1, 25) + 0.5
    anchors = [rates[int(h) % 24] for h in np.floor(hours)]
    grid = np.arange(0.0, run.spec.duration_s + 1.0, 1.0)
    rate = np.interp(grid / 3600.0, hours, anchors)
    edges = np.arange(0.0, run.spec.duration_s + 1.0, 1800.0)
    expected = [np.trapezoid(rate[int(a):int(b) + 1], dx=1.0)
                for a, b in zip(edges[:-1], edges[1:], strict=True)]
    times = run.table("requests")["arrival_s"].to_numpy()
    counts = np.histogram(times, edges)[0]
    stat = float(np.sum((counts - expected) ** 2 / expected))
    assert stats.chi2.sf(stat, len(counts)) > 1e-3, (counts, expected)
    assert counts[0] > 2 * counts[-1]  # from 6 rps at midnight down to 3 rps at 03:00


# ---------------------------------------------------------------- trace replays


@pytest.mark.parametrize("name, requests, minutes, prompt_median, output_median, burst", [
    ("azure_conv", 19_366, 58, None, None, None),
    ("azure_code", 8_819, 57, 1_469, 13, 67),
    ("mooncake_conversation", 12_031, 59, 6_909, None, None),
])
def test_each_replay_has_its_traces_documented_shape(shipped, name, requests, minutes,
                                                     prompt_median, output_median, burst):
    run = shipped(f"traces/{name}.toml")
    req = run.table("requests")
    assert run.summary["arrivals"] == requests == run.summary["trace_rows"]
    assert run.summary["trace_skipped_rows"] == 0
    arrival = req["arrival_s"].to_numpy()
    assert round(arrival.max() / 60) == minutes
    if prompt_median is not None:
        assert np.median(req["prompt_tokens"].to_numpy()) == prompt_median
    if output_median is not None:
        assert np.median(req["output_tokens"].to_numpy()) == output_median
    if burst is not None:
        assert np.bincount(arrival.astype(int)).max() == burst


def test_code_completion_is_burstier_than_conversation(shipped):
    def peak(name: str) -> int:
        arrival = shipped(f"traces/{name}.toml").table("requests")["arrival_s"].to_numpy()
        return int(np.bincount(arrival.astype(int)).max())

    assert peak("azure_code") > peak("azure_conv")


def test_mooncake_prefix_ids_become_sessions_that_repeat(shipped):
    """The trace has no session column: its prefix id is the session, so a conversation's
    turns share one session id."""
    sessions = shipped("traces/mooncake_conversation.toml").table("requests")["session_id"]
    distinct = len(set(sessions.to_pylist()))
    assert 1 < distinct < 0.9 * len(sessions)
