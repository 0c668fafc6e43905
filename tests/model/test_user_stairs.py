"""A stress staircase of closed-loop users: who starts when, and where the SLO breaks,
checked against the bottleneck bounds of operational analysis."""

from __future__ import annotations

import pytest

from simscale.errors import InputError
from simscale.model.runner import run
from simscale.sections.workload import UserStairsArrivals
from simscale.spec import spec_from_dict

SERVICE_S = 0.01  # one core: at most 100 responses per second
THINK_S = 1.0


def stairs(**fields) -> dict:
    return {"kind": "user_stairs", "users": 60, "step_users": 20, "step_s": 40, "steps": 6,
            "ramp_s": 5, "settle_s": 10, "turns_mean": 1,
            "think_s": {"kind": "exponential", "mean_s": THINK_S},
            "session_gap_s": {"kind": "exponential", "mean_s": THINK_S},
            "slo_p95_s": 0.15, "slo_metric": "latency", **fields}


def spec(**fields):
    return spec_from_dict({
        "name": "user_stairs", "duration_s": 240, "seed": 2,
        "workload": {"arrivals": stairs(**fields),
                     "service": {"kind": "deterministic", "value_s": SERVICE_S}},
        "instances": {"count": 1, "slots": 200, "cores": 1},
        "timeouts": {"request_s": 60}})


def test_each_steps_users_join_over_its_first_ramp_s():
    arrivals = UserStairsArrivals.model_validate(stairs())
    assert arrivals.levels() == [60, 80, 100, 120, 140, 160]
    assert arrivals.total_users == 160
    assert [arrivals.start_s(u) for u in (0, 30, 59)] == pytest.approx([0, 2.5, 59 / 12])
    # user 60 is the first of step 1 (t = 40 s); user 79 its last, 19/20 of ramp_s later
    assert [arrivals.start_s(u) for u in (60, 79, 80)] == pytest.approx([40, 44.75, 80])


def test_the_slo_breaks_where_the_bottleneck_saturates():
    """One core at 10 ms a request with 1 s of thinking saturates at N* = (S + Z) / S = 101
    users; beyond it the mean response time is at least N·S − Z (Denning and Buzen, "The
    operational analysis of queueing network models", 1978): 0.2 s at 120 users, above the
    0.15-s SLO. Below it the p95 stays under the SLO up to 80 users."""
    summary = run(spec(), None).summary
    assert summary["users"] == 160
    assert summary["stress_max_ok_users"] in (80, 100)
    assert summary["stress_breaking_users"] in (100, 120)
    assert summary["stress_steps_held"] == (summary["stress_max_ok_users"] - 60) // 20 + 1
    assert summary["stress_breaking_p95_s"] > 0.15
    # the throughput of the last step held: N / (Z + R) with R within the SLO, at most 1 / S
    held = summary["stress_max_ok_users"]
    assert held / (THINK_S + 0.15) <= summary["stress_max_ok_throughput_rps"] <= 1 / SERVICE_S


def test_a_staircase_that_never_breaks_reports_its_top_step():
    summary = run(spec(slo_p95_s=60, users=10, step_users=10, steps=3), None).summary
    assert (summary["stress_max_ok_users"], summary["stress_breaking_users"]) == (30, None)
    assert summary["stress_steps_held"] == 3


@pytest.mark.parametrize("fields, message", [
    ({"ramp_s": 50}, "ramp_s (50) must not exceed step_s (40)"),
    ({"settle_s": 40}, "settle_s (40) must be below step_s (40)"),
    ({"steps": 50_000}, "less than or equal to 10000"),
    ({"slo_metric": "p95"}, "'api_and_ttft', 'latency' or 'ttft'"),
])
def test_bad_staircases_are_input_errors(fields, message):
    with pytest.raises(InputError, match="workload.arrivals") as info:
        spec(**fields)
    assert message in str(info.value)
