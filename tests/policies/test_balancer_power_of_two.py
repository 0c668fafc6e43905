"""Power of two choices: the best of k uniform draws (checked against order statistics),
seeded picks, Envoy's weighted mode. tests/model/test_supermarket.py checks the whole
system against the mean-field law."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter
from scipy import stats

from policies import registry
from policies.balancers import PowerOfTwoChoices, PowerOfTwoConfig
from policies.views import InstanceView, RequestInfo

REQ = RequestInfo(0)


def pick_probabilities(loads, choice_count: int) -> np.ndarray:
    """P(candidate i is picked) when choice_count candidates are drawn uniformly with
    replacement and the least loaded wins, from order statistics alone: the winner's load is
    the minimum of the draws' loads, P(min = x) = P(load >= x)^k - P(load > x)^k, shared
    equally by the candidates carrying that load (draws are exchangeable)."""
    loads = np.asarray(loads)
    n = len(loads)
    out = np.empty(n)
    for i, x in enumerate(loads):
        at_least = np.count_nonzero(loads >= x) / n
        above = np.count_nonzero(loads > x) / n
        out[i] = (at_least**choice_count - above**choice_count) / np.count_nonzero(loads == x)
    return out


@pytest.mark.parametrize("choice_count", [1, 2, 3])
@pytest.mark.parametrize("loads", [(0, 0, 0, 0), (5, 1, 3, 0, 2), (2, 9), (4, 1, 1, 7, 4, 0)])
def test_picks_follow_the_best_of_k_uniform_draws(loads, choice_count):
    """The shares of 40,000 picks against the analytic law (chi-square, p > 0.001): a
    balancer that picked uniformly, the most loaded, or compared a different number of
    draws misses it by far."""
    candidates = tuple(InstanceView(i, in_flight=x) for i, x in enumerate(loads))
    balancer = PowerOfTwoChoices(PowerOfTwoConfig(choice_count=choice_count),
                                 np.random.default_rng(3))
    routes = [balancer.choose(REQ, candidates, 0.0) for _ in range(40_000)]
    counts = np.bincount([i for i, _ in routes], minlength=len(loads))
    expected = pick_probabilities(loads, choice_count) * len(routes)
    assert counts[expected == 0].sum() == 0
    used = expected > 0
    assert stats.chisquare(counts[used], expected[used]).pvalue > 1e-3, (counts, expected)
    assert {reason for _, reason in routes} == {"PowerOfChoices"}


def test_the_same_seed_gives_the_same_picks():
    candidates = tuple(InstanceView(i, in_flight=x) for i, x in enumerate((5, 1, 3, 0, 2)))

    def picks(seed: int) -> list[int]:
        balancer = PowerOfTwoChoices(PowerOfTwoConfig(), np.random.default_rng(seed))
        return [balancer.choose(REQ, candidates, 0.0)[0] for _ in range(5000)]

    assert picks(8) == picks(8) and picks(8) != picks(9)


@pytest.mark.parametrize(
    ("weights", "loads", "bias", "expected_counts"),
    [
        ((2, 1), (0, 0), 1.0, (200, 100)),
        # Envoy's example: weight 2 with 4 active requests counts as 2 / 5 = 0.4
        ((2, 1), (4, 0), 1.0, (200, 500)),
        # bias 0: plain weighted round robin whatever the load
        ((2, 1), (4, 0), 0.0, (200, 100)),
        # bias 2: 2 / 5^2 = 0.08 against 1
        ((2, 1), (4, 0), 2.0, (8, 100)),
    ],
)
def test_unequal_weights_use_load_adjusted_weighted_round_robin(weights, loads, bias,
                                                                expected_counts):
    candidates = tuple(InstanceView(i, weight=w, in_flight=x)
                       for i, (w, x) in enumerate(zip(weights, loads, strict=True)))
    balancer = PowerOfTwoChoices(PowerOfTwoConfig(active_request_bias=bias),
                                 np.random.default_rng(0))
    n = sum(expected_counts)
    routes = [balancer.choose(REQ, candidates, 0.0) for _ in range(n)]
    counts = tuple(sum(1 for i, _ in routes if i == k) for k in range(2))
    assert counts == pytest.approx(expected_counts, abs=1)
    assert {reason for _, reason in routes} == {"WeightedLeastRequest"}


def test_name_and_config_stay_compatible():
    entry = registry.get("balancer", "power_of_two_choices")
    assert entry.config_type is PowerOfTwoConfig
    assert TypeAdapter(PowerOfTwoConfig).validate_python({"choice_count": 3}) == PowerOfTwoConfig(3)
