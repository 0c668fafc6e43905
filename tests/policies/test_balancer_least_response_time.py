"""Least response time: latency × (in_flight + 1), Finagle's no-history rule, peak EWMA."""

from __future__ import annotations

import math

import numpy as np
import pytest

from policies.balancers import LeastResponseTime, LeastResponseTimeConfig
from policies.balancers.least_response_time import PENALTY
from policies.views import InstanceView, RequestInfo

REQ = RequestInfo(0)


def views(*latency_and_load: tuple[float, int]) -> tuple[InstanceView, ...]:
    return tuple(InstanceView(i, latency_ewma_s=lat, in_flight=load)
                 for i, (lat, load) in enumerate(latency_and_load))


@pytest.mark.parametrize(
    ("candidates", "default_latency_s", "expected"),
    [
        # scores 0.6, 0.4, 1.05
        (((0.1, 5), (0.2, 1), (0.05, 20)), 0.0, 1),
        # slow but idle beats fast but busy: 1.0 × 1 < 0.1 × 11
        (((0.1, 10), (1.0, 0)), 0.0, 1),
        # no latency yet and idle: score 0, tried first
        (((0.1, 0), (0.0, 0)), 0.0, 1),
        # no latency yet and busy: Finagle's penalty
        (((0.0, 3), (5.0, 7)), 0.0, 1),
        # a default estimate replaces the penalty: 0.05 × 2 < 0.2 × 1
        (((0.2, 0), (0.0, 1)), 0.05, 1),
        (((0.05, 0), (0.0, 1)), 0.05, 0),
    ],
)
def test_full_scan_picks_lowest_score(candidates, default_latency_s, expected):
    cfg = LeastResponseTimeConfig(default_latency_s=default_latency_s)
    assert LeastResponseTime(cfg).choose(REQ, views(*candidates), 0.0) == (
        expected, "LeastResponseTime")


def test_ties_rotate():
    balancer = LeastResponseTime()
    candidates = views((0.1, 1), (0.1, 1), (0.1, 1))
    assert [balancer.choose(REQ, candidates, 0.0)[0] for _ in range(6)] == [0, 1, 2, 0, 1, 2]


def test_peak_ewma_reacts_to_a_spike_at_once_and_recovers_with_decay():
    cfg = LeastResponseTimeConfig(mode="peak_ewma", decay_s=10.0)
    balancer = LeastResponseTime(cfg)
    a, b = views((0.0, 0), (0.0, 0))
    log = []
    balancer.on_response(0, 0.1, True, 0.0)
    balancer.on_response(1, 0.1, True, 0.0)
    balancer.on_response(1, 2.0, True, 1.0)            # spike: the estimate jumps to 2.0
    log.append(balancer.latency_estimate_s(b, 1.0))
    log.append(balancer.choose(REQ, (a, b), 1.0))
    balancer.on_response(1, 0.1, True, 31.0)           # fast again, 30 s later
    log.append(balancer.latency_estimate_s(b, 31.0))
    w = math.exp(-30.0 / 10.0)
    assert log[0] == 2.0
    assert log[1] == (0, "PeakEwma")
    assert log[2] == pytest.approx(2.0 * w + 0.1 * (1 - w))


def test_peak_ewma_estimate_decays_towards_zero_between_observations():
    balancer = LeastResponseTime(LeastResponseTimeConfig(mode="peak_ewma", decay_s=10.0))
    balancer.on_response(0, 1.0, True, 0.0)
    view = InstanceView(0)
    assert [balancer.latency_estimate_s(view, t) for t in (0.0, 10.0, 20.0)] == pytest.approx(
        [1.0, math.exp(-1.0), math.exp(-2.0)])


def test_peak_ewma_ignores_the_views_latency():
    balancer = LeastResponseTime(LeastResponseTimeConfig(mode="peak_ewma"))
    balancer.on_response(0, 0.5, True, 0.0)
    balancer.on_response(1, 0.1, True, 0.0)
    # the views claim the opposite; the balancer trusts its own observations
    candidates = views((0.1, 0), (0.5, 0))
    assert balancer.choose(REQ, candidates, 0.0)[0] == 1


def test_best_of_two_draws_picks_the_slow_one_only_when_drawn_twice():
    cfg = LeastResponseTimeConfig(choice_count=2)
    balancer = LeastResponseTime(cfg, np.random.default_rng(7))
    candidates = views((0.1, 0), (1.0, 0))
    seq = [balancer.choose(REQ, candidates, 0.0)[0] for _ in range(4000)]
    # P(slow) = P(both draws hit it) = 1/4
    assert seq.count(1) / len(seq) == pytest.approx(0.25, abs=0.03)


def test_penalty_exceeds_any_real_score():
    assert PENALTY > 3600.0 * 1_000_000


def test_choice_count_needs_an_rng():
    with pytest.raises(ValueError):
        LeastResponseTime(LeastResponseTimeConfig(choice_count=2))
