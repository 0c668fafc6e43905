"""Capacity planning: parsing, the SLO check, bisection to the boundary, stress-to-break."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simscale.errors import InputError
from simscale.monitoring.slo import Slo, parse_slo
from simscale.sweep.capacity import Evaluator, Vary, parse_vary, plan
from tests.sweep.helpers import QUICKSTART

SHORT = ["duration_s=20"]


@pytest.mark.parametrize("text, slo", [
    ("latency_p95_s<=1.0", Slo("latency_p95_s", "<=", 1.0)),
    (" latency_p99_s < 2e-1 ", Slo("latency_p99_s", "<", 0.2)),
    ("throughput_rps>=100", Slo("throughput_rps", ">=", 100.0)),
])
def test_parse_slo(text, slo):
    assert parse_slo(text) == slo


@pytest.mark.parametrize("text", ["latency_p95_s", "latency_p95_s=<1", "<=1", "p95<=fast"])
def test_bad_slos_are_input_errors(text):
    with pytest.raises(InputError, match="--slo"):
        parse_slo(text)


@pytest.mark.parametrize("text, vary", [
    ("instances.count=2:12", Vary("instances.count", 2, 12, True)),
    ("instances.latency_ewma_alpha=0.1:0.9", Vary("instances.latency_ewma_alpha", 0.1, 0.9,
                                                  False)),
    ("workload.arrivals.rate_rps=50.0:400", Vary("workload.arrivals.rate_rps", 50, 400, False)),
])
def test_parse_vary(text, vary):
    assert parse_vary(text) == vary


@pytest.mark.parametrize("text", ["instances.count", "instances.count=5:2", "x=1:b", "=1:2"])
def test_bad_ranges_are_input_errors(text):
    with pytest.raises(InputError, match="--vary"):
        parse_vary(text)


@pytest.mark.parametrize("slo, bound, holds", [
    (Slo("m", "<=", 1.0), 1.0, True), (Slo("m", "<", 1.0), 1.0, False),
    (Slo("m", ">=", 1.0), 1.0, True), (Slo("m", ">", 1.0), 0.9, False),
    (Slo("m", "<=", 1.0), math.nan, False),
])
def test_slo_holds_on_the_bound(slo, bound, holds):
    assert slo.holds(bound) is holds


def test_a_point_meets_the_slo_only_when_its_confidence_bound_does():
    ev = Evaluator(QUICKSTART, SHORT, None, "instances.count", True,
                   [Slo("latency_p95_s", "<=", 1.0)], "cost", 3, 0.95, None)
    records = [{"status": "ok", "replication": r, "summary": {"latency_p95_s": x},
                "derived": {"instance_hours": 1.0}} for r, x in enumerate([0.8, 0.9, 1.0])]
    point = ev.judge(4, records)
    (_, mean, bound, holds), = point.checks
    assert mean == pytest.approx(0.9) and bound > 1.0  # the mean meets it, the bound does not
    assert not point.feasible
    assert ev.objective == "instance_hours"  # 'cost' without cost_usd in the runs
    failing = [*records[:2], {"status": "error", "replication": 2, "error": "boom",
                              "summary": {}, "derived": {}}]
    assert "did not complete" in ev.judge(5, failing).problem


def test_bisection_finds_the_fewest_instances_that_meet_the_slo():
    seen = []
    result = plan(QUICKSTART, [parse_slo("latency_p95_s<=0.3")],
                  parse_vary("instances.count=2:9"), replications=3, overrides=SHORT,
                  workers=2, on_point=seen.append)
    best = result.best
    assert best is not None and best.feasible
    by_value = {p.value: p for p in result.points}
    assert not by_value[best.value - 1].feasible  # its neighbour below was tried and failed
    assert all(p.feasible == (p.value >= best.value) for p in result.points)  # monotone here
    assert len(seen) == len(result.points) < 8  # fewer points than a full grid
    assert result.objective in ("cost_usd", "instance_hours")  # 'cost'
    assert "cheapest instances.count" in result.message


def test_grid_search_agrees_with_bisection():
    slo = [parse_slo("latency_p95_s<=0.3")]
    grid = plan(QUICKSTART, slo, parse_vary("instances.count=2:6"), method="grid", points=5,
                replications=3, overrides=SHORT, workers=2)
    bisect = plan(QUICKSTART, slo, parse_vary("instances.count=2:6"), replications=3,
                  overrides=SHORT, workers=2)
    assert [p.value for p in grid.points] == [2, 3, 4, 5, 6]
    assert grid.best.value == bisect.best.value


def test_stress_finds_the_highest_rate_at_which_the_slo_holds():
    result = plan(QUICKSTART, [parse_slo("latency_p95_s<=0.5")], None, stress=True,
                  replications=3, overrides=SHORT, workers=2)
    best = result.best
    assert best is not None and best.feasible
    above = [p for p in result.points if p.value > best.value]
    assert above and not any(p.feasible for p in above)
    assert min(p.value for p in above) - best.value <= 0.011 * best.value
    assert result.path == "workload.arrivals.rate_rps"
    assert best.value > 140  # the quickstart's own rate meets this SLO


def test_an_slo_that_never_holds_has_no_answer():
    result = plan(QUICKSTART, [parse_slo("latency_p95_s<=0.0001")],
                  parse_vary("instances.count=3:4"), replications=2, overrides=SHORT, workers=2)
    assert result.best is None
    assert "no setting in the range" in result.message


def test_bad_plan_input_fails_before_anything_runs():
    slo = [parse_slo("latency_p95_s<=1")]
    with pytest.raises(InputError, match="instances.cuont: unknown field"):
        plan(QUICKSTART, slo, parse_vary("instances.cuont=1:4"), overrides=SHORT)
    with pytest.raises(InputError, match="greater than 0"):
        plan(QUICKSTART, slo, parse_vary("instances.count=0:4"), overrides=SHORT)
    with pytest.raises(InputError, match="--vary PATH=LOW:HIGH is required"):
        plan(QUICKSTART, slo, None, overrides=SHORT)
    with pytest.raises(InputError, match="at least 2"):
        plan(QUICKSTART, slo, parse_vary("instances.count=1:4"), replications=1)


def test_a_metric_the_runs_do_not_report_is_an_input_error():
    with pytest.raises(InputError, match="no metric 'latency_p95' in the run summary"):
        plan(QUICKSTART, [parse_slo("latency_p95<=1")], parse_vary("instances.count=3:4"),
             replications=2, overrides=SHORT, workers=1)


def test_the_seed_option_is_replication_zero_and_the_base_value_is_read_from_the_spec():
    ev = Evaluator(QUICKSTART, SHORT, 11, "instances.count", True,
                   [Slo("latency_p95_s", "<=", 1.0)], "cost", 2, 0.95, None)
    assert ev.seed0 == 11
    assert np.isclose(ev.base_value(), 4)
