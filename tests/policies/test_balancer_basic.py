"""Round robin, random and least connections: table-driven picks, shares and tie-breaking."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from policies import registry
from policies.balancers import LeastConnections, RandomChoice, RoundRobin
from policies.views import InstanceView, RequestInfo

REQ = RequestInfo(0)


def views(*loads: int) -> tuple[InstanceView, ...]:
    return tuple(InstanceView(i, in_flight=x) for i, x in enumerate(loads))


# ---------------------------------------------------------------- round robin


@pytest.mark.parametrize("sizes, expected", [
    ([3] * 7, [0, 1, 2, 0, 1, 2, 0]),
    ([1] * 3, [0, 0, 0]),
    # the candidate set shrinks and grows: the cursor keeps its place, wrapped to the size
    ([4, 4, 4, 2, 2, 4, 4], [0, 1, 2, 1, 0, 1, 2]),
    ([5, 5, 5, 5, 3, 3], [0, 1, 2, 3, 1, 2]),
])
def test_round_robin_takes_each_candidate_in_turn(sizes, expected):
    rr = RoundRobin()
    routes = [rr.choose(REQ, views(*[0] * n), 0.0) for n in sizes]
    assert [i for i, _ in routes] == expected
    assert {reason for _, reason in routes} == {"RoundRobin"}


def test_round_robin_ignores_load():
    rr = RoundRobin()
    assert [rr.choose(REQ, views(9, 0, 5), 0.0)[0] for _ in range(6)] == [0, 1, 2, 0, 1, 2]


# ---------------------------------------------------------------- random


@pytest.mark.parametrize("n", [2, 3, 7])
def test_random_is_uniform_and_serially_independent(n):
    """Shares: chi-square over the n candidates; pairs of consecutive picks: chi-square over
    the n² cells (a rotating or sticky chooser fails the second)."""
    balancer, candidates = RandomChoice(None, np.random.default_rng(21)), views(*[0] * n)
    picks = np.array([balancer.choose(REQ, candidates, 0.0)[0] for _ in range(20_000)])
    assert picks.min() == 0 and picks.max() == n - 1
    assert stats.chisquare(np.bincount(picks, minlength=n)).pvalue > 1e-3
    pairs = np.bincount(picks[:-1] * n + picks[1:], minlength=n * n)
    assert stats.chisquare(pairs).pvalue > 1e-3


def test_random_ignores_load_and_follows_its_generator():
    def picks(seed, loads):
        balancer = RandomChoice(None, np.random.default_rng(seed))
        return [balancer.choose(REQ, views(*loads), 0.0) for _ in range(500)]

    assert picks(4, (0, 0, 0, 0)) == picks(4, (50, 0, 9, 1))  # same draws whatever the load
    assert picks(4, (0, 0, 0, 0)) != picks(5, (0, 0, 0, 0))
    assert {reason for _, reason in picks(4, (1, 2))} == {"Random"}


# ---------------------------------------------------------------- least connections


@pytest.mark.parametrize("loads, expected", [
    ((3, 1, 2), [1, 1, 1, 1]),
    ((0, 5, 5, 5), [0, 0, 0, 0]),
    ((5, 5, 4), [2, 2, 2, 2]),
    # all tied: the scan starts one further each time, so ties go round robin
    ((0, 0, 0), [0, 1, 2, 0, 1, 2]),
    ((7, 7), [0, 1, 0, 1]),
])
def test_least_connections_picks_the_fewest_in_flight(loads, expected):
    lc = LeastConnections()
    routes = [lc.choose(REQ, views(*loads), 0.0) for _ in expected]
    assert [i for i, _ in routes] == expected
    assert {reason for _, reason in routes} == {"LeastConnections"}


@pytest.mark.parametrize("loads", [(2, 0, 0, 3), (0, 1, 0, 1, 0), (4, 4, 1, 1, 1, 1)])
def test_least_connections_never_starves_a_tied_candidate(loads):
    lc = LeastConnections()
    picks = {lc.choose(REQ, views(*loads), 0.0)[0] for _ in range(len(loads))}
    lowest = min(loads)
    assert picks == {i for i, x in enumerate(loads) if x == lowest}


@pytest.mark.parametrize("start", [(0, 0, 0, 0), (3, 0, 1, 0), (10, 2, 2, 7, 0)])
def test_least_connections_levels_the_load_when_each_pick_adds_one(start):
    """Driven as a balancer is, each pick adds a request: the loads fill from the bottom, so
    after enough picks they differ by at most one and the total is conserved."""
    lc = LeastConnections()
    loads = list(start)
    for _ in range(3 * sum(start) + 20):
        i, _ = lc.choose(REQ, views(*loads), 0.0)
        assert loads[i] == min(loads)
        loads[i] += 1
    assert max(loads) - min(loads) <= 1
    assert sum(loads) == sum(start) + 3 * sum(start) + 20


@pytest.mark.parametrize("name", ["round_robin", "random", "least_connections"])
def test_the_registry_builds_them_by_their_spec_names(name):
    balancer = registry.build("balancer", name, None, np.random.default_rng(0))
    assert type(balancer) is {"round_robin": RoundRobin, "random": RandomChoice,
                              "least_connections": LeastConnections}[name]
    assert balancer.choose(REQ, views(0, 0), 0.0)[0] in (0, 1)
