"""Smooth weighted round robin: nginx's sequence, exact shares, drains, slow start."""

from __future__ import annotations

import pytest

from policies.balancers import WeightedRoundRobin, WeightedRoundRobinConfig
from policies.resilience import SlowStartConfig
from policies.views import InstanceView, RequestInfo

REQ = RequestInfo(0)
_set = object.__setattr__


def views(*weights: float) -> tuple[InstanceView, ...]:
    return tuple(InstanceView(i, weight=w) for i, w in enumerate(weights))


def picks(balancer, candidates, count: int, now_s: float = 0.0) -> list[int]:
    return [balancer.choose(REQ, candidates, now_s)[0] for _ in range(count)]


def test_nginx_documented_sequence_for_5_1_1():
    # nginx commit "smooth weighted round-robin balancing": {5, 1, 1} -> a a b a c a a
    seq = picks(WeightedRoundRobin(), views(5, 1, 1), 14)
    assert "".join("abc"[i] for i in seq) == "aabacaa" * 2


def test_config_weights_override_view_weights():
    cfg = WeightedRoundRobinConfig(weights={0: 5})
    seq = picks(WeightedRoundRobin(cfg), views(1, 1, 1), 7)
    assert "".join("abc"[i] for i in seq) == "aabacaa"


@pytest.mark.parametrize("weights", [(1, 1, 1), (3, 2, 1), (5, 1, 1), (7, 3), (2, 2, 4, 8), (1,)])
def test_each_cycle_gives_exact_shares(weights):
    cycle = int(sum(weights))
    seq = picks(WeightedRoundRobin(), views(*weights), 10 * cycle)
    assert [seq.count(i) for i in range(len(weights))] == [10 * w for w in weights]


@pytest.mark.parametrize("weights", [(3, 2, 1), (5, 1, 1), (4, 4)])
def test_no_instance_runs_longer_than_its_share_allows(weights):
    # smoothness: an instance with weight w of total W never gets more than ceil(w/(W-w))+1
    # picks in a row (a plain "weight-many in a row" round robin would give w in a row)
    seq = picks(WeightedRoundRobin(), views(*weights), 50 * int(sum(weights)))
    total = sum(weights)
    for i, w in enumerate(weights):
        longest = run = 0
        for pick in seq:
            run = run + 1 if pick == i else 0
            longest = max(longest, run)
        assert longest <= -(-w // (total - w)) + 1


def test_zero_weight_drains_and_all_zero_falls_back_to_round_robin():
    seq = picks(WeightedRoundRobin(), views(1, 0, 1), 10)
    assert 1 not in seq
    balancer = WeightedRoundRobin()
    routes = [balancer.choose(REQ, views(0, 0, 0), 0.0) for _ in range(4)]
    assert routes == [(i, "WeightedRoundRobin:AllWeightsZero") for i in (0, 1, 2, 0)]


def test_state_follows_instance_ids_across_a_new_tuple():
    candidates = views(5, 1, 1)
    balancer = WeightedRoundRobin()
    first = picks(balancer, candidates, 3)
    rest = picks(balancer, tuple(candidates), 4)  # same members, new tuple object
    assert "".join("abc"[i] for i in first + rest) == "aabacaa"


def test_membership_change_keeps_proportions_of_the_rest():
    a, b, c = views(3, 2, 1)
    balancer = WeightedRoundRobin()
    picks(balancer, (a, b, c), 5)
    seq = picks(balancer, (a, c), 400)
    assert abs(seq.count(0) - 300) <= 1 and abs(seq.count(1) - 100) <= 1


def test_weight_changed_in_place_is_read_at_the_next_pick():
    candidates = views(1, 1)
    balancer = WeightedRoundRobin()
    picks(balancer, candidates, 2)
    _set(candidates[0], "weight", 3.0)
    seq = picks(balancer, candidates, 400)
    assert abs(seq.count(0) - 300) <= 1


@pytest.mark.parametrize(
    ("elapsed_s", "expected_share_of_new"),
    [
        (0.0, 0.1 / 1.1),    # floor: min_weight_percent 10 %
        (5.0, 0.5 / 1.5),    # halfway through a linear 10 s window
        (10.0, 0.5),         # out of slow start: equal weights
    ],
)
def test_slow_start_ramps_a_new_instance(elapsed_s, expected_share_of_new):
    old = InstanceView(0, ready_since_s=-1000.0)
    new = InstanceView(1, ready_since_s=100.0)
    cfg = WeightedRoundRobinConfig(slow_start=SlowStartConfig(window_s=10.0))
    seq = picks(WeightedRoundRobin(cfg), (old, new), 3000, now_s=100.0 + elapsed_s)
    assert seq.count(1) / len(seq) == pytest.approx(expected_share_of_new, abs=0.002)


def test_reason():
    assert WeightedRoundRobin().choose(REQ, views(1, 2), 0.0)[1] == "WeightedRoundRobin"


@pytest.mark.parametrize("weight", [0, -1, 0.0])
def test_configured_weights_must_be_positive(weight):
    with pytest.raises(ValueError, match="must be > 0"):
        WeightedRoundRobinConfig(weights={1: weight})
